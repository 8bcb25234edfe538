"""``serve`` shows its long work in a terminal, as receive does: the dump's tables, rows and bytes, with the
time left from the server's row estimates, and the packing of private files. Nothing of it without one.

A real ``synco serve`` on a pseudo-terminal (and then through a pipe) against the real MariaDB.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from test_receive_support import PtyProcess

from synco_core import dumpprogress
from synco_core.testing.services import mysql_admin_connection, mysql_url_for

SYNCO = [sys.executable, "-m", "synco_core"]
ROWS = 3000


def make_project(root: Path, database: str) -> Path:
    conn = mysql_admin_connection(database)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(200))")
        cur.execute("CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(200))")
        for table in ("orders", "customers"):
            cur.executemany(f"INSERT INTO {table} VALUES (%s, %s)", [(n, f"row {n} " + "x" * 150) for n in range(ROWS)])
        cur.execute("ANALYZE TABLE orders, customers")
        cur.fetchall()
    conn.close()
    (root / "public").mkdir(parents=True)
    (root / "private").mkdir()
    (root / "private" / "report.csv").write_text("a,b\n" * 1000)
    (root / ".synco.yml").write_text(f"serve:\n  database: {mysql_url_for(database)}\n  web_root: public\n"
                                     "  file_sets:\n    - name: private\n      path: private\n")
    return root


@pytest.mark.mysql
def test_serve_shows_dump_progress_in_a_terminal_only(tmp_path: Path,
                                                     mysql_database_factory: Callable[[], str]) -> None:
    project = make_project(tmp_path / "app", mysql_database_factory())
    process = PtyProcess([*SYNCO, "serve", "--keep", "--id", "progress-tty"], project)
    assert process.wait() == 0, process.output
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", process.output)
    # The dump's bar: the table it is on of those with rows, the rows against the estimate, the bytes.
    assert "dumping mysql" in shown, shown
    assert re.search(r"table 2/2 (orders|customers)\s+" + f"{2 * ROWS:,}" + r" rows\s+\d", shown), shown
    assert "packing private" in shown
    piped = subprocess.run([*SYNCO, "serve", "--keep", "--id", "progress-pipe"], cwd=project, capture_output=True,
                           text=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert "dumping mysql" not in piped.stderr and "rows" not in piped.stderr
    assert "\x1b[" not in piped.stderr + piped.stdout


def test_engines_reports_reach_only_a_listener() -> None:
    class Listener:
        def __init__(self) -> None:
            self.events: list[tuple[str, object]] = []

        def table(self, name: str) -> None:
            self.events.append(("table", name))

        def rows(self, count: int) -> None:
            self.events.append(("rows", count))

    dumpprogress.table_started("nobody listens")
    dumpprogress.rows_written(5)
    listener = Listener()
    with dumpprogress.listening(listener):
        dumpprogress.table_started("t")
        dumpprogress.rows_written(3)
        dumpprogress.rows_written(0)
    dumpprogress.rows_written(7)
    assert listener.events == [("table", "t"), ("rows", 3)]
