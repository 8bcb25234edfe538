"""A SQLite script from a session makes the database no bigger, and works no longer, than its size accounts for.

Every artifact stops at its declared size (test_sizes.py), but a few hundred bytes of SQL can write
gigabytes (a recursive CTE of ``zeroblob``s, a table doubled by one short statement after another, a
trigger that multiplies each insert) or never finish (a recursive CTE without a limit, a cross join).
Each attack runs in a child process whose file size is capped and which is given a deadline, so a load
that did not stop would fail there instead of filling the machine; it must be refused in one line naming
the statement, with the target as it was and nothing left beside it.
"""

from __future__ import annotations

import contextlib
import io
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from crafted_session import child_env, limited

CAP = 200 << 20
DOUBLING = "CREATE TABLE t (v);\nINSERT INTO t VALUES (zeroblob(4000));\n" + \
    "INSERT INTO t SELECT v FROM t;\n" * 20
ATTACKS = {
    "zeroblobs from a recursive CTE": "CREATE TABLE t (v);\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
                                      "FROM c WHERE x < 400) INSERT INTO t SELECT zeroblob(1000000) FROM c;\n",
    "zeroblobs in the largest pages": "PRAGMA page_size = 65536;\nCREATE TABLE t (v);\nWITH RECURSIVE c(x) AS "
                                      "(SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400) INSERT INTO t "
                                      "SELECT zeroblob(1000000) FROM c;\n",
    "random rows from a recursive CTE": "CREATE TABLE t (v);\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT "
                                        "x + 1 FROM c WHERE x < 4000) INSERT INTO t SELECT randomblob(100000) "
                                        "FROM c;\n",
    "a table doubled by short statements": DOUBLING,
    "a trigger multiplying each insert": "PRAGMA recursive_triggers = ON;\nCREATE TABLE t (n, v);\n"
                                         "CREATE TRIGGER grow AFTER INSERT ON t WHEN new.n < 900 BEGIN "
                                         "INSERT INTO t VALUES (new.n + 1, zeroblob(500000)); END;\n"
                                         "INSERT INTO t VALUES (0, 0);\n",
    "a recursive CTE without end": "CREATE TABLE t (v);\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
                                   "FROM c) SELECT count(*) FROM c;\n",
    "a cross join without end": "CREATE TABLE t (v);\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
                                "FROM c WHERE x < 3000) INSERT INTO t SELECT x FROM c;\n"
                                "SELECT count(*) FROM t a, t b, t c, t d;\n",
}

LOAD = """
import io, sys
from synco_core.engines.sqlite.install import install_database
from synco_core.errors import SyncoError
from synco_core.values import DatabaseConfig, InstallOptions
try:
    install_database(DatabaseConfig(engine="sqlite", name=sys.argv[1]), io.BytesIO(sys.stdin.buffer.read()),
                     InstallOptions(format="sql", yes=True))
except SyncoError as exc:
    print(exc)
    sys.exit(1)
print("loaded")
"""


def _load_in_child(target: Path, script: bytes) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", LOAD, str(target)], input=script.decode(), capture_output=True,
                          text=True, timeout=240, env=child_env(), preexec_fn=limited(file_size=CAP), check=False)


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_a_script_cannot_expand_beyond_its_size_or_run_without_end(tmp_path: Path, attack: str) -> None:
    target = tmp_path / "app" / "app.sqlite"
    target.parent.mkdir()
    with contextlib.closing(sqlite3.connect(target)) as conn:
        conn.executescript("CREATE TABLE precious (v); INSERT INTO precious VALUES (42);")
    before = target.read_bytes()
    outcome = _load_in_child(target, ATTACKS[attack].encode())
    assert outcome.returncode == 1, outcome.stdout + outcome.stderr
    message = outcome.stdout.strip()
    assert message.startswith("refusing the statement ending at line ") and "\n" not in message, message
    assert "grow the database past" in message or "steps" in message, message
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["app.sqlite"]


def test_dumps_that_fill_large_pages_with_many_indexes_still_load(tmp_path: Path) -> None:
    """What the bounds must leave alone: a short script of many empty tables and indexes in 64 KiB pages
    (each b-tree a page of its own, far more than the script's bytes), and rows under five indexes."""
    from synco_core.engines.sqlite.install import install_database
    from synco_core.engines.sqlite.sqlscript import write_script
    from synco_core.values import DatabaseConfig, InstallOptions

    source = tmp_path / "source.sqlite"
    with contextlib.closing(sqlite3.connect(source)) as conn:
        conn.execute("PRAGMA page_size = 65536")
        for number in range(400):
            conn.execute(f"CREATE TABLE t{number} (a, b, c)")
            for column in "abc":
                conn.execute(f"CREATE INDEX t{number}_{column} ON t{number} ({column})")
        conn.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c INT)")
        conn.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) "
                     "INSERT INTO rows (a, b, c) SELECT hex(randomblob(8)), 'v' || x, x % 97 FROM c")
        for number, columns in enumerate(["a", "b, a", "c, b, a", "c", "a, b, c"]):
            conn.execute(f"CREATE INDEX rows_{number} ON rows ({columns})")
        conn.execute("ANALYZE")
        conn.commit()
        script = io.BytesIO()
        write_script(conn, script)
    target = tmp_path / "target.sqlite"
    install_database(DatabaseConfig(engine="sqlite", name=str(target)), io.BytesIO(script.getvalue()),
                     InstallOptions(format="sql", yes=True))
    assert target.stat().st_size > 10 * len(script.getvalue())  # the case the slack per b-tree is for
    with contextlib.closing(sqlite3.connect(target)) as conn:
        assert conn.execute("SELECT count(*) FROM rows").fetchone() == (20000,)
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'index'").fetchone()[0] == 1205


VERIFY = """
import io, sys
from synco_core.engines.sqlite.install import install_database
from synco_core.errors import SyncoError
from synco_core.values import DatabaseConfig, InstallOptions, TableManifest
data = sys.stdin.buffer.read()
try:
    install_database(DatabaseConfig(engine="sqlite", name=sys.argv[1]), io.BytesIO(data),
                     InstallOptions(format="sqlite" if data.startswith(b"SQLite format 3") else "sql", yes=True,
                                    manifest={"t": TableManifest(rows=50, checksum="")}))
except SyncoError as exc:
    print(exc)
    sys.exit(1)
print("loaded")
"""
EXPANDING = {
    "zeroblob": "CREATE TABLE t (id INTEGER PRIMARY KEY, g AS (zeroblob(200000000)));",
    "printf": "CREATE TABLE t (id INTEGER PRIMARY KEY, g AS (printf('%.*c', 200000000, 'x')));",
    # Each value under the limit of one, all of them far over what the file accounts for.
    "many zeroblobs": "CREATE TABLE t (id INTEGER PRIMARY KEY, g AS (zeroblob(40000000)));",
}


@pytest.mark.parametrize("form", ["file", "sql"])
@pytest.mark.parametrize("expression", list(EXPANDING), ids=list(EXPANDING))
def test_verifying_a_database_reads_no_more_than_its_size_accounts_for(tmp_path: Path, form: str,
                                                                       expression: str) -> None:
    """A virtual generated column is computed when it is read, and the manifest check reads every row: a
    database file of 8 KiB whose fifty rows each compute 200 MB kept a core busy for minutes and held
    hundreds of MB. Reading stops at a multiple of the database's own size, and no value may be larger than
    twice the file and a little more (``printf()`` then gives NULL, ``zeroblob()`` an error): the install
    refuses in one line or goes through, soon and in little memory, either way."""
    schema = EXPANDING[expression] + ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50) "
                                      "INSERT INTO t (id) SELECT x FROM c;")
    if form == "file":
        hostile = tmp_path / "hostile.sqlite"
        with contextlib.closing(sqlite3.connect(hostile)) as conn:
            conn.executescript(schema)
        payload = hostile.read_bytes()
    else:
        payload = schema.replace(";", ";\n").encode()
    target = tmp_path / "app" / "app.sqlite"
    target.parent.mkdir()
    with contextlib.closing(sqlite3.connect(target)) as conn:
        conn.executescript("CREATE TABLE precious (v); INSERT INTO precious VALUES (42);")
    before = target.read_bytes()
    outcome = subprocess.run([sys.executable, "-c", VERIFY, str(target)], input=payload, capture_output=True,
                             timeout=120, env=child_env(), preexec_fn=limited(memory=1 << 30), check=False)
    message = outcome.stdout.decode().strip()
    if outcome.returncode == 0:
        assert message == "loaded"
        return
    assert outcome.returncode == 1 and "\n" not in message and "times the database" in message, \
        message + outcome.stderr.decode()
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["app.sqlite"]
