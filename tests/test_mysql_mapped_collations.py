"""A MySQL 8 dump whose tables or columns use a ``*_0900_*`` collation MariaDB lacks loads whole into MariaDB.

MariaDB's load maps such a collation to the nearest one it has (with a warning) rather than refusing the dump
before the download. The one chosen must tell apart every two values the source's did: a unique key that
held on MySQL 8 otherwise refuses a row half-way through the load. It did for every sensitivity: MySQL 8's
collations are NO PAD ('a' and 'a ' differ), the ones chosen were not, and ``as_ci`` and ``as_cs_ks`` went to
``utf8mb4_unicode_520_ci``, which ignores accents and case ('Duplicate entry' at the second row).
"""

from __future__ import annotations

import io

import pytest
from test_mysql_support import query

from synco_core.dburl import parse_database_url
from synco_core.engines.mysql.install import install
from synco_core.values import InstallOptions

pytestmark = pytest.mark.mysql

#: Per sensitivity, values its collation tells apart (each pair would be one under a laxer collation).
DISTINCT = {
    "ai_ci": ["a", "a "],
    "as_ci": ["e", "é", "e "],
    "as_cs": ["a", "A", "á", "a "],
    "as_cs_ks": ["a", "A", "あ", "ア", "a "],
    "bin": ["a", "a "],
}


def mysql8_dump(sensitivity: str, values: list[str], on_column: bool) -> bytes:
    collation = f"utf8mb4_0900_{sensitivity}"
    column = f" COLLATE {collation}" if on_column else ""
    table = "utf8mb4_0900_ai_ci" if on_column else collation
    rows = ",".join(f"({n},'{value}')" for n, value in enumerate(values, 1))
    return (f"/*!50503 SET NAMES utf8mb4 */;\n"
            f"CREATE TABLE `t` (`id` int NOT NULL, `name` varchar(20){column} NOT NULL, PRIMARY KEY (`id`), "
            f"UNIQUE KEY `name` (`name`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={table};\n"
            f"INSERT INTO `t` VALUES {rows};\n").encode()


@pytest.mark.parametrize("on_column", [False, True], ids=["table", "column"])
@pytest.mark.parametrize("sensitivity", sorted(DISTINCT))
def test_a_unique_key_of_mysql_8_holds_under_the_collation_it_is_mapped_to(
        mysql_url: str, sensitivity: str, on_column: bool) -> None:
    target = parse_database_url(mysql_url)
    values = DISTINCT[sensitivity]
    result = install(target, io.BytesIO(mysql8_dump(sensitivity, values, on_column)), InstallOptions(yes=True))
    assert result.rows == len(values)
    assert sorted(row[0] for row in query(target.name, "SELECT name FROM t")) == sorted(values)
