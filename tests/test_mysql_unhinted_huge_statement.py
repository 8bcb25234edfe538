"""A huge statement without a size hint (a dump synco did not write) is not held whole by the MySQL loader.

synco's own dumps put ``-- synco-size: N`` before each INSERT, and a hinted statement of 4 MiB or more is sent
as it is read from the dump. A dump written by anyone else has no hints: mariadb-dump's extended INSERT of
hundreds of MB (a large ``--net-buffer-length``), or one row with a 500 MB blob. The splitter held such a
statement whole while it looked for its end, then joined it (twice its size), and the loader sent it from
there. It now goes to a sealed temporary file once it passes 4 MiB, and is sent from there as a hinted one is.

Measured as the peak resident size (``ru_maxrss``) of the ``synco db load`` child: a 200 MB statement into a
private MariaDB whose ``max_allowed_packet`` lets it through (the shared server's is 16 MB, and is never
changed by a test).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pymysql
import pytest
from click.testing import CliRunner
from private_servers import mariadb

from synco_core.engines.mysql import load
from synco_core.testing import cli
from synco_core.testing.services import mysql_admin_connection, require_tool

#: The statement's value: 200 MB (held whole, 300 MB took 1.2 GB: 800 MB here, five times the bound checked).
SIZE = 200 * 1000 * 1000
DATABASE = "synco_test_h_leftovers_unhinted"
#: Runs ``synco db load`` in a child and prints the child's peak resident size (KiB) on the last line.
PEAK = """
import resource, subprocess, sys
done = subprocess.run([sys.executable, "-m", "synco_core", *sys.argv[1:]], capture_output=True, text=True)
sys.stdout.write(done.stdout + done.stderr)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _dump(path: Path) -> None:
    """A dump as mariadb-dump writes one: no size hints, the row's value in one INSERT."""
    with path.open("wb") as out:
        out.write(b"/*!40101 SET NAMES binary */;\n-- a comment\nCREATE TABLE `blobs` (`id` int PRIMARY KEY, "
                  b"`data` longblob);\n")
        out.write(b"INSERT INTO `blobs` VALUES (1,'")
        piece = b"0123456789abcdef" * 65536
        for _ in range(SIZE // len(piece)):
            out.write(piece)
        out.write(b"x" * (SIZE % len(piece)))
        out.write(b"'),\n(2,'tail') ;  \n")


def test_a_200_mb_statement_without_a_size_hint_loads_in_bounded_memory(tmp_path: Path) -> None:
    require_tool("mariadbd", "mariadb-server", "mysqld")
    dump = tmp_path / "dump.sql"
    _dump(dump)
    with mariadb(tmp_path / "server", ["--max-allowed-packet=1G"]) as server:
        url = f"mysql://root@127.0.0.1:{server.port}/{DATABASE}"
        done = subprocess.run([sys.executable, "-c", PEAK, "db", "load", url, str(dump), "--yes"],
                              capture_output=True, text=True, timeout=900)
        *said, last = done.stdout.strip().splitlines()
        status, peak_kib = (int(value) for value in last.split())
        assert status == 0, "\n".join(said)
        connection = pymysql.connect(host="127.0.0.1", port=server.port, user="root", database=DATABASE,
                                     ssl_disabled=True)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT id, LENGTH(data) FROM blobs ORDER BY id")
                rows = cursor.fetchall()
        finally:
            connection.close()
    assert list(rows) == [(1, SIZE), (2, 4)]
    print(f"peak resident size of synco db load: {peak_kib / 1024:.0f} MiB")
    # The interpreter, the driver and a few read chunks; a statement held whole was its size or more.
    assert peak_kib < 150 * 1024, f"peak {peak_kib / 1024:.0f} MiB"


def test_one_that_must_be_held_whole_is_refused_past_the_bound(
    tmp_path: Path, mysql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a plain INSERT (the gate reads an INSERT ... SELECT whole): held whole up to ``HELD_LIMIT``, refused
    in one line past it (the bound made small here), with the target as it was."""
    monkeypatch.setattr(load, "HELD_LIMIT", 5 << 20)
    dump = tmp_path / "dump.sql"
    dump.write_bytes(b"CREATE TABLE `t` (`v` longtext);\nINSERT INTO `t` SELECT '" + b"v" * (6 << 20) + b"';\n")
    result = CliRunner().invoke(cli, ["db", "load", mysql_url, str(dump), "--yes"])
    assert result.exit_code == 1, result.output
    said = result.output.strip()
    assert "\n" not in said and "without a size hint" in said and "5 MiB" in said, said
    assert "vvvv" not in said
    with mysql_admin_connection(mysql_url.rsplit("/", 1)[1]) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW TABLES")
        assert cursor.fetchall() == ()
