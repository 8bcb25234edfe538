"""The databases beside a long MySQL target (hashed names, see ``swap.derived_name``) on a server that folds
database names (``lower_case_table_names=1``, Windows' default, and 2, macOS').

There ``LongShop...`` and ``longshop...`` are one database, but the hash in the names of its scratch copy, kept
copy and transit database was taken of the name as written: an install through one spelling kept the previous
content under a name a rollback through the other never looked for ("nothing to roll back"), and two spellings
kept two copies of one database, the older one put back by a rollback. A private MariaDB configured so (the
shared server may not be changed).
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from private_servers import mariadb, mariadb_admin

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import install_with_engine, rollback_with_engine
from synco_core.engines.mysql import swap
from synco_core.values import DatabaseConfig, InstallOptions

#: Long enough that every name beside it is hashed (64 characters at most), mixed case.
TARGET = "synco_test_names_edge_LongShop_" + "Ab" * 15


def _script(value: str) -> bytes:
    return f"CREATE TABLE t (v VARCHAR(40));\nINSERT INTO t VALUES ('{value}');\n".encode()


@pytest.fixture(scope="module")
def folding(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseConfig]:
    with mariadb(tmp_path_factory.mktemp("folding"), ["--lower-case-table-names=1"]) as server:
        yield server


def _database(server: DatabaseConfig, name: str) -> DatabaseConfig:
    return parse_database_url(f"mysql://root@{server.host}:{server.port}/{name}")


def _value(server: DatabaseConfig) -> str:
    return str(mariadb_admin(server, f"SELECT v FROM `{TARGET.lower()}`.t")[0][0])


def _databases(server: DatabaseConfig) -> set[str]:
    return {str(row[0]) for row in mariadb_admin(server, "SHOW DATABASES") if "synco_test_names_edge" in str(row[0])}


def test_the_names_beside_a_long_target_are_hashed_and_distinct() -> None:
    for spelling in (TARGET, TARGET.lower(), TARGET.upper()):
        names = swap.Names.of(spelling)
        beside = [name.lower() for name in names.beside()]
        assert all(len(name) <= 64 for name in beside)
        assert len({*beside, spelling.lower()}) == 4, "no name beside the target is the target or another"


@pytest.mark.parametrize(("first", "second", "back"), [
    (TARGET, TARGET.lower(), TARGET),
    (TARGET.lower(), TARGET.upper(), TARGET),
    (TARGET.upper(), TARGET, TARGET.lower()),
])
def test_any_spelling_rolls_back_what_another_spelling_installed(folding: DatabaseConfig, first: str, second: str,
                                                                 back: str) -> None:
    mariadb_admin(folding, *(f"DROP DATABASE IF EXISTS `{name}`" for name in _databases(folding)))
    install_with_engine(_database(folding, first), io.BytesIO(_script("one")), InstallOptions(yes=True, format="sql"))
    install_with_engine(_database(folding, second), io.BytesIO(_script("two")), InstallOptions(yes=True, format="sql"))
    assert _value(folding) == "two"
    # One kept copy of the one database, whichever spelling made it.
    assert len(_databases(folding)) == 2, _databases(folding)
    rollback_with_engine(_database(folding, back), InstallOptions(yes=True))
    assert _value(folding) == "one"
    install_with_engine(_database(folding, back), io.BytesIO(_script("three")), InstallOptions(yes=True, format="sql"))
    rollback_with_engine(_database(folding, first), InstallOptions(yes=True))
    assert _value(folding) == "one"
    assert len(_databases(folding)) == 2, _databases(folding)


def test_a_copy_kept_under_the_older_name_is_still_rolled_back(folding: DatabaseConfig,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A kept copy an older synco named after the spelling's own hash stays the one a rollback puts back."""
    mariadb_admin(folding, *(f"DROP DATABASE IF EXISTS `{name}`" for name in _databases(folding)))
    with monkeypatch.context() as older:
        older.setattr(swap.Names, "on_server", staticmethod(
            lambda conn, target, where="the server": swap.Names.of(target, where)))
        for value in ("one", "two"):
            install_with_engine(_database(folding, TARGET), io.BytesIO(_script(value)),
                                InstallOptions(yes=True, format="sql"))
    assert swap.Names.of(TARGET).backup.lower() in _databases(folding)
    rollback_with_engine(_database(folding, TARGET), InstallOptions(yes=True))
    assert _value(folding) == "one"
    assert len(_databases(folding)) == 2, _databases(folding)
