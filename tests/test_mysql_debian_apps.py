"""A real application's MySQL schema from Debian's packages (tests/data/ulogd2, see its SOURCE.md), loaded as the
application's documentation says (the mariadb client), then through ``synco db dump`` and ``synco db load``; and
the script itself through ``synco db load``. Both copies hold what the client made of it: tables, views, and
the routines' bodies, whose comment lines the loader once replaced by a space the client does not write."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_mysql_support import load_with_client, mariadb_dump, query, snapshot

from synco_core.cli.main import cli
from synco_core.testing.services import mysql_url_for

pytestmark = pytest.mark.mysql

ULOGD2 = Path(__file__).parent / "data" / "ulogd2" / "mysql-ulogd2-flat.sql"
#: Rows through ulogd2's own function and views: a connection tracked by INSERT_CT, a packet and its NuFW user
#: (its PACKET_ADD_NUFW procedure writes a column the table lacks).
ROWS = (
    b"SELECT INSERT_CT(2, UNHEX('00000000000000000000FFFFC0000201'), UNHEX('00000000000000000000FFFFC6336401'), "
    b"6, 40000, 443, 1200, 9, NULL, NULL, 6, 443, 40000, 5100, 7, NULL, NULL, 0, 1700000000, 1, 1700000060, 2);\n"
    b"INSERT INTO ulog2 (oob_family, ip_saddr_bin, ip_daddr_bin, ip_protocol, oob_prefix) "
    b"VALUES (10, UNHEX('20010DB8000000000000000000000001'), UNHEX('00000000000000000000FFFF7F000001'), 17, 'lan');\n"
    b"INSERT INTO nufw VALUES (1, 'ann', 1000, 'Linux', '/usr/bin/ssh');\n"
)


def schema(database: str) -> str:
    text = mariadb_dump(database, "--no-data", "--routines", "--triggers", "--events", "--skip-dump-date")
    return text.decode().replace(database, "DB")


def load(database: str, path: Path) -> None:
    result = CliRunner().invoke(cli, ["db", "load", mysql_url_for(database), str(path), "--yes"])
    assert result.exit_code == 0, result.output


def test_ulogd2_round_trips_and_loads_as_the_client_loads_it(
    mysql_database_factory: Callable[[], str], tmp_path: Path
) -> None:
    source, copy, direct = mysql_database_factory(), mysql_database_factory(), mysql_database_factory()
    script = ULOGD2.read_bytes() + ROWS
    load_with_client(source, script)
    dumped = CliRunner().invoke(cli, ["db", "dump", mysql_url_for(source), "-o", str(tmp_path / "dump.sql")])
    assert dumped.exit_code == 0, dumped.output
    load(copy, tmp_path / "dump.sql")
    (tmp_path / "ulogd2.sql").write_bytes(script)
    load(direct, tmp_path / "ulogd2.sql")
    assert schema(copy) == schema(source)
    assert schema(direct) == schema(source)
    assert snapshot(copy) == snapshot(source)
    assert snapshot(direct) == snapshot(source)
    addresses = "SELECT BIN_TO_IPV6(ip_saddr_bin), BIN_TO_IPV6(ip_daddr_bin) FROM ulog2 ORDER BY _id"
    assert (
        query(direct, addresses)
        == query(source, addresses)
        == [("2001:0db8:0000:0000:0000:0000:0000:0001", "::ffff:127.0.0.1")]
    )
