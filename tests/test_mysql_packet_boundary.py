"""A dump's longest statement against the laptop's ``max_allowed_packet``, at the boundary: the check before a
download (``check_dump_requirements``), the loader's own check and the server agree, byte for byte.

The statement travels in one packet after a command byte, and the server refuses a packet of
``max_allowed_packet`` bytes or more: a statement of ``packet - 2`` bytes loads, one of ``packet - 1`` does not.
Both checks took ``packet - 1`` for the last that fits, so such a dump passed the check before the download
and failed half-way through its load ('Got a packet bigger than max_allowed_packet'), and the value the
refusal named for a statement of ``k MiB - 1`` bytes (``k`` MiB) did not take it either. Each size is dumped
for real (the size the dump records is the statement it writes) and loaded into a private MariaDB: a row in
an ordinary INSERT (1 MiB packet), a row whose value is over 4 MB (written in pieces, 8 MiB) and one of
16 MB or more (read off the connection as it comes, 24 MiB).
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Iterator

import pymysql
import pytest
from private_servers import mariadb, mariadb_globals

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.engines.mysql.requirements import missing
from synco_core.errors import SyncoError
from synco_core.testing.services import mysql_admin_connection, mysql_url_for
from synco_core.values import DatabaseConfig, DumpOptions, DumpResult, InstallOptions

pytestmark = pytest.mark.mysql

MIB = 1 << 20
#: The bytes of the one-row INSERT around its values
#: (``INSERT INTO `t` (`id`,`a`,`b`) VALUES (1,_binary'...',_binary'...')``).
AROUND = len("INSERT INTO `t` (`id`,`a`,`b`) VALUES (1,_binary'',_binary'')")
#: The shared server takes values up to 16 MB (its packet): longer rows are made of two columns.
HALF_LIMIT = 15 * MIB


@pytest.fixture(scope="module")
def laptop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseConfig]:
    with mariadb(tmp_path_factory.mktemp("laptop"), ["--max-allowed-packet=1G"]) as server:
        yield server


def dump_of_one_row(source: str, size: int) -> tuple[DumpResult, bytes]:
    """A table of one row whose INSERT is ``size`` bytes, dumped."""
    value = size - AROUND
    first = min(value, HALF_LIMIT)
    conn = mysql_admin_connection(source)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE t (id INT PRIMARY KEY, a LONGBLOB, b LONGBLOB)")
            cur.execute(f"INSERT INTO t VALUES (1, REPEAT('x', {first}), '')")
            if value > first:
                cur.execute(f"UPDATE t SET b = REPEAT('y', {value - first})")
        conn.commit()
    finally:
        conn.close()
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(mysql_url_for(source)), out, DumpOptions())
    return result, out.getvalue()


def load(laptop: DatabaseConfig, name: str, result: DumpResult, dump: bytes) -> None:
    install_with_engine(dataclasses.replace(laptop, name=name), io.BytesIO(dump),
                        InstallOptions(format=result.format, yes=True, manifest=result.tables))


@pytest.mark.parametrize("packet", [MIB, 8 * MIB, 24 * MIB])
@pytest.mark.parametrize("below", [3, 2, 1, 0])
def test_the_check_before_the_download_and_the_load_agree_with_the_server(
        laptop: DatabaseConfig, mysql_database_factory: Callable[[], str], packet: int, below: int) -> None:
    result, dump = dump_of_one_row(mysql_database_factory(), packet - below)
    requires = result.requirements
    assert requires is not None and requires.max_statement_bytes == packet - below
    target = f"synco_test_h_left_{packet // MIB}_{below}"
    with mariadb_globals(laptop, max_allowed_packet=str(packet)):
        conn = pymysql.connect(ssl_disabled=True, host=laptop.host, port=laptop.port, user="root")
        try:
            lacking = missing(conn, requires)
        finally:
            conn.close()
        if below >= 2:
            assert lacking == []
            load(laptop, target, result, dump)
            return
        assert len(lacking) == 1 and lacking[0].startswith(f"max_allowed_packet {packet} is too small"), lacking
        with pytest.raises(SyncoError) as refused:
            load(laptop, target, result, dump)
    line = str(refused.value)
    assert "max_allowed_packet" in line and "\n" not in line, line
    # The value both name takes it.
    wanted = lacking[0].split("SET GLOBAL max_allowed_packet=")[1].split(",")[0]
    assert f"SET GLOBAL max_allowed_packet={wanted}," in line
    with mariadb_globals(laptop, max_allowed_packet=wanted):
        load(laptop, target, result, dump)
