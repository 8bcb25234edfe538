"""A MySQL dump from a production server whose hosting limits sessions, read by a slow reader.

Hostings end sessions that look forgotten: MariaDB's ``idle_transaction_timeout`` and
``idle_readonly_transaction_timeout`` (a session idle inside a transaction), ``wait_timeout``,
``net_write_timeout`` (the client not reading what the server sends), ``max_statement_time``. The dump's
reader waits on its output (a compressor, the laptop's download) and its connection sits idle in its
snapshot's transaction meanwhile, between two pages of a table, or stops reading in the middle of a
streamed one. Such a limit ended the dump's connection after that long, and the dump failed with
"(2006) MySQL server has gone away", naming no setting; every session synco opens now lifts them, as
it lifts the others (``tests/test_mysql_local_settings.py``). The server is a private one: its global
settings are changed for the test.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator

import pytest
from private_servers import mariadb, mariadb_admin, mariadb_globals

from synco_core.engines.mysql.dump import dump
from synco_core.values import DatabaseConfig, DumpOptions

pytestmark = pytest.mark.mysql

#: Limits a hosting may set, each to one second: the reader below pauses for longer.
LIMITS = {
    "idle_transaction_timeout": "1",
    "idle_readonly_transaction_timeout": "1",
    "idle_write_transaction_timeout": "1",
    "wait_timeout": "1",
    "net_write_timeout": "1",
    "max_statement_time": "1",
}

#: Rows of each table: enough that the one read by key is shared by two connections (dump.SHARED_ROWS).
ROWS = 30000


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseConfig]:
    with mariadb(tmp_path_factory.mktemp("production")) as server:
        mariadb_admin(server, "CREATE DATABASE app",
                      # Read in pages by its key, between which the connection is idle.
                      "CREATE TABLE app.paged (id INT PRIMARY KEY, v VARCHAR(100) NOT NULL)",
                      f"INSERT INTO app.paged SELECT seq, REPEAT('p', 80) FROM app.seq_1_to_{ROWS}",
                      # Streamed in one SELECT, which the server writes as the reader takes it.
                      "CREATE TABLE app.streamed (v VARCHAR(100) NOT NULL)",
                      f"INSERT INTO app.streamed SELECT REPEAT('s', 80) FROM app.seq_1_to_{ROWS}")
        yield server.replace(name="app")


class SlowReader(io.RawIOBase):
    """An output that stops taking bytes for a while once in each table, as a busy pipe does."""

    def __init__(self, pauses: tuple[bytes, ...]) -> None:
        self.data = bytearray()
        self.pending = list(pauses)

    def writable(self) -> bool:
        return True

    def write(self, chunk: bytes) -> int:  # type: ignore[override]
        self.data += chunk
        # Once well into each table's rows: the dump's connection waits on this output meanwhile.
        if self.pending and self.data.count(self.pending[0]) > ROWS // 3:
            self.pending.pop(0)
            threading.Event().wait(2.5)
        return len(chunk)


def dump_read_slowly(production: DatabaseConfig, limits: dict[str, str]) -> str | None:
    """What went wrong with a slowly read dump under ``limits`` (the server's globals), None if nothing."""
    out = SlowReader((b"'" + b"p" * 80 + b"'", b"'" + b"s" * 80 + b"'"))
    try:
        with mariadb_globals(production, **limits):
            result = dump(production, out, DumpOptions())
    except Exception as exc:  # any failure is the finding, named by the caller
        return f"{type(exc).__name__}: {exc}"
    if out.pending:
        return "the reader did not pause in each table"
    rows = {name: table.rows for name, table in result.tables.items()}
    return None if rows == {"paged": ROWS, "streamed": ROWS} else f"rows {rows}"


def test_a_dump_read_slowly_outlasts_the_servers_session_limits(production: DatabaseConfig) -> None:
    # All the limits at once: each one left in force ends the connection in the reader's pauses whatever the
    # others are, so one dump (its pauses are the cost) checks them all. Only when it fails is each limit run
    # alone, to name the ones not lifted.
    failure = dump_read_slowly(production, LIMITS)
    if failure is None:
        return
    alone = {limit: dump_read_slowly(production, {limit: value}) for limit, value in sorted(LIMITS.items())}
    named = {limit: why for limit, why in alone.items() if why is not None}
    pytest.fail(f"a slowly read dump failed under the limits ({failure}); alone: {named or 'none failed'}")
