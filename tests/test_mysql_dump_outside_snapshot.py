"""MariaDB dump of tables outside the snapshot (MyISAM, Aria, MEMORY) while the application writes to them.

Such an engine has no transactions: ``START TRANSACTION WITH CONSISTENT SNAPSHOT`` does not hold its rows,
and every statement reads them as they are when it runs. A table read in pages by ranges of its key (as
an InnoDB table is) used to see a write landing between two pages by half: one ``UPDATE`` moving an
amount from the first row to the last, atomic for any one statement, was in the dump as the last row's
gain without the first row's loss. Read in one statement, as mariadb-dump --single-transaction reads it,
the table is dumped as it was at one moment: before such a write or after it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from test_mysql_support import dump_bytes, query

from synco_core.engines.mysql import tablerows
from synco_core.testing.services import mysql_admin_connection

pytestmark = pytest.mark.mysql

ROWS = 30_000  # several pages of ~1 MB
MOVE = "UPDATE accounts SET balance = IF(id = 1, balance - 50, balance + 50) WHERE id IN (1, {last})"


def _held_back(database: str, statement: str) -> bool:
    """Whether a session is waiting to run ``statement`` (a table lock the dump holds)."""
    return bool(query(database, "SELECT 1 FROM information_schema.PROCESSLIST WHERE INFO = %s AND STATE LIKE "
                                "'%%lock%%'", (statement,)))


@pytest.mark.parametrize("engine", ["MyISAM", "Aria", "MEMORY"])
def test_a_table_outside_the_snapshot_is_dumped_as_it_was_at_one_moment(
        engine: str, mysql_database_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    source = mysql_database_factory()
    statement = MOVE.format(last=ROWS)
    conn = mysql_admin_connection(source)
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL, pad CHAR(100) NOT NULL) "
                    f"ENGINE={engine}")
        cur.execute(f"INSERT INTO accounts SELECT seq, 100, 'x' FROM seq_1_to_{ROWS}")
        cur.execute("CREATE TABLE ledger (id INT PRIMARY KEY) ENGINE=InnoDB")
    conn.close()
    writers: list[threading.Thread] = []

    def write_once() -> None:
        """The application's write, landing while the table is being read (once)."""
        if writers:
            return
        writer = threading.Thread(target=query, args=(source, statement))
        writers.append(writer)
        writer.start()
        # Either it ran (nothing held it back) or it waits for the dump's read of the table to end.
        while writer.is_alive() and not _held_back(source, statement):
            writer.join(0.01)

    # Read by pages, it lands between the first page and the next (the reader's own thread); read in one
    # statement, while that statement's rows are being written out.
    next_span = tablerows._next_span

    def between_pages(*args: Any) -> int:
        write_once()
        return next_span(*args)

    monkeypatch.setattr(tablerows, "_next_span", between_pages)
    read_rows = tablerows.read_rows

    def while_reading(conn: Any, writer: Any, out: Any, read: tablerows.TableRead, key: list[Any],
                      **kwargs: Any) -> None:
        if read.table == "accounts" and not key:
            threading.Thread(target=write_once).start()
        read_rows(conn, writer, out, read, key, **kwargs)

    monkeypatch.setattr(tablerows, "read_rows", while_reading)
    with caplog.at_level(logging.WARNING):
        data, result = dump_bytes(source)
    for writer in writers:
        writer.join()
    assert writers and query(source, "SELECT SUM(balance) FROM accounts") == [(ROWS * 100,)]
    balances = [int(b) for b in re.findall(rb"\(\d+,(\d+),'x'\)", data)]
    assert len(balances) == result.tables["accounts"].rows == ROWS
    # Before the move (100 and 100) or after it (50 and 150): the total is the same.
    assert sum(balances) == ROWS * 100
    warnings = [r.getMessage() for r in caplog.records if "not transactional" in r.getMessage()]
    assert len(warnings) == 1 and f"table `accounts` of {source!r} is not transactional ({engine})" in warnings[0]
    assert "ledger" not in warnings[0]
