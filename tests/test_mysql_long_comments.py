"""Long comments in a script are never held whole by the MySQL loader.

The splitter held a comment in its read buffer until it found the comment's end: a 50 MB ``/* ... */`` or ``--``
line (a hand-made script, a tool that comments out data) took its size in memory, several times over while the
buffer grew, and was scanned again at every read. A dropped comment is now dropped as it is read, and one that
belongs to the statement (``/*! ... */``, a synco dump's CREATE) goes to the spool as a long statement does
(tests/test_mysql_splitter.py checks the splitter's buffer for each kind).

Measured as the peak resident size (``ru_maxrss``) of the ``synco db load`` child, as in
tests/test_mysql_unhinted_huge_statement.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from test_mysql_unhinted_huge_statement import PEAK

from synco_core.testing.services import mysql_admin_connection

#: Each comment's body: 50 MB.
SIZE = 50_000_000


def test_three_50_mb_comments_load_in_flat_memory(tmp_path: Path, mysql_url: str) -> None:
    dump = tmp_path / "script.sql"
    piece = b"0123456789abcdef*/-" * 4096
    with dump.open("wb") as out:

        def body() -> None:
            for _ in range(SIZE // len(piece)):
                out.write(piece.replace(b"*/", b"*."))

        out.write(b"CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10));\n/* ")
        body()
        out.write(b" */\nINSERT INTO t VALUES (1, /* ")
        body()
        out.write(b" */ 'x') -- ")
        body()
        out.write(b"\n;\nINSERT INTO t VALUES (2, 'y');\n")
    done = subprocess.run([sys.executable, "-c", PEAK, "db", "load", mysql_url, str(dump), "--yes"],
                          capture_output=True, text=True, timeout=600)
    *said, last = done.stdout.strip().splitlines()
    status, peak_kib = (int(value) for value in last.split())
    assert status == 0, "\n".join(said)
    with mysql_admin_connection(mysql_url.rsplit("/", 1)[1]) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT id, v FROM t ORDER BY id")
        assert cursor.fetchall() == ((1, "x"), (2, "y"))
    print(f"peak resident size of synco db load: {peak_kib / 1024:.0f} MiB")
    # The interpreter, the driver and a few reads; a comment held whole took 185 MB.
    assert peak_kib < 100 * 1024, f"peak {peak_kib / 1024:.0f} MiB"
