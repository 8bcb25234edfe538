"""What a SQLite database keeps beside its rows survives a dump in either form, and so does the file's state.

The file header holds settings an application may have made once and never again (page size, auto-vacuum,
write-ahead-log mode, ``user_version``, ``application_id``, encoding); each must read back the same after
``db dump`` and ``db load``, and the installed file must be whole on its own (no write-ahead log beside it
that it needs). A writer that crashed mid-transaction leaves a hot journal, which the next connection rolls
back: the dump sees the committed rows only, as the application will.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.values import DumpOptions, InstallOptions

HEADER_FIELDS = ("page_size", "auto_vacuum", "journal_mode", "user_version", "application_id", "encoding")

SETTINGS = {
    "small pages": ["PRAGMA page_size = 1024"],
    "largest pages": ["PRAGMA page_size = 65536"],
    "full auto-vacuum": ["PRAGMA auto_vacuum = FULL"],
    "incremental auto-vacuum": ["PRAGMA auto_vacuum = INCREMENTAL", "PRAGMA page_size = 8192"],
    "write-ahead log": ["PRAGMA journal_mode = WAL"],
    "everything": ["PRAGMA encoding = 'UTF-16be'", "PRAGMA page_size = 2048", "PRAGMA auto_vacuum = INCREMENTAL",
                   "PRAGMA journal_mode = WAL", "PRAGMA user_version = 9", "PRAGMA application_id = 1179597",
                   "PRAGMA page_size = 2048"],
}


def header(path: Path) -> dict[str, object]:
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        return {field: conn.execute(f"PRAGMA {field}").fetchone()[0] for field in HEADER_FIELDS}


def rows(path: Path) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT rowid, * FROM t ORDER BY rowid").fetchall()


def load(source: Path, target: Path, form: str) -> None:
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(f"sqlite:///{source}"), out,
                              DumpOptions(format="sql" if form == "sql" else "native"))
    install_with_engine(parse_database_url(f"sqlite:///{target}"), io.BytesIO(out.getvalue()),
                        InstallOptions(format=result.format, yes=True, manifest=result.tables))


@pytest.mark.parametrize("form", ["file", "sql"])
@pytest.mark.parametrize("settings", list(SETTINGS), ids=list(SETTINGS))
def test_header_fields_survive_the_dump(tmp_path: Path, plugin_manager: object, form: str, settings: str) -> None:
    source = tmp_path / "source.db"
    with contextlib.closing(sqlite3.connect(source, isolation_level=None)) as conn:
        for statement in SETTINGS[settings]:
            conn.execute(statement)
        conn.execute("CREATE TABLE t (v)")
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 3000,), (b"\x00" * 5000,), (7,)])
    expected = header(source)
    target = tmp_path / "app" / "target.db"
    load(source, target, form)
    # Whole on its own: nothing beside the installed file, and a copy of it alone holds every row.
    assert not [p.name for p in target.parent.iterdir() if p.name != target.name]
    alone = tmp_path / "alone" / "copy.db"
    alone.parent.mkdir()
    shutil.copyfile(target, alone)
    assert rows(alone) == rows(source)
    assert header(target) == expected


CRASHING_WRITER = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA cache_size = 1")  # spills the change into the database file before the commit
conn.execute("BEGIN IMMEDIATE")
for number in range(300):
    conn.execute("INSERT INTO t VALUES (?)", (os.urandom(3000),))
conn.execute("UPDATE t SET v = 'uncommitted' WHERE rowid = 1")
os._exit(9)
"""


@pytest.mark.parametrize("form", ["file", "sql"])
def test_a_hot_journal_left_by_a_crashed_writer_is_rolled_back_for_the_dump(tmp_path: Path, plugin_manager: object,
                                                                            form: str) -> None:
    source = tmp_path / "source.db"
    with contextlib.closing(sqlite3.connect(source, isolation_level=None)) as conn:
        conn.execute("CREATE TABLE t (v)")
        conn.execute("INSERT INTO t VALUES ('committed')")
    subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(source)], check=False)
    journal = Path(f"{source}-journal")
    assert journal.stat().st_size > 0 and os.path.getsize(source) > 100_000  # the crash left a hot journal
    target = tmp_path / "target.db"
    load(source, target, form)
    assert rows(target) == [(1, "committed")]
    # As the application's next connection would have: the source is rolled back to what was committed.
    assert rows(source) == [(1, "committed")]


def _registered_without_its_module(conn: sqlite3.Connection) -> None:
    # What a database using sqlite-vec or spellfix1 looks like to a SQLite that lacks the extension: the
    # module's own tables are ordinary, the virtual table is a line of schema.
    conn.executescript("CREATE TABLE vecs_chunks (id INTEGER PRIMARY KEY, vectors BLOB);"
                       "INSERT INTO vecs_chunks VALUES (1, x'0000803f00000040');"
                       "PRAGMA writable_schema = ON;"
                       "INSERT INTO sqlite_master VALUES ('table', 'vecs', 'vecs', 0, "
                       "'CREATE VIRTUAL TABLE vecs USING vec0(embedding float[2])');")


def _fts4_compressed(conn: sqlite3.Connection) -> None:
    # FTS4 compresses with the application's own functions, which synco does not have.
    conn.create_function("zip", 1, lambda value: value)
    conn.create_function("unzip", 1, lambda value: value)
    conn.executescript("CREATE VIRTUAL TABLE notes USING fts4(body, compress=zip, uncompress=unzip);"
                       "INSERT INTO notes VALUES ('hello compressed world');")


def _fts5_own_tokenizer(conn: sqlite3.Connection) -> None:
    conn.executescript("CREATE VIRTUAL TABLE docs USING fts5(body, tokenize='unicode61');"
                       "INSERT INTO docs VALUES ('hello world');"
                       "PRAGMA writable_schema = ON;"
                       "UPDATE sqlite_master SET sql = replace(sql, 'unicode61', 'app_tokenizer') WHERE name = 'docs';")


def _everything(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        found = {"schema": sorted(conn.execute("SELECT type, name, sql FROM sqlite_master"))}
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                     "AND sql NOT LIKE 'CREATE VIRTUAL%'").fetchall():
            found[table] = conn.execute(f'SELECT * FROM "{table}"').fetchall()
    return found


@pytest.mark.parametrize("form", ["file", "sql"])
@pytest.mark.parametrize("build", [_registered_without_its_module, _fts4_compressed, _fts5_own_tokenizer],
                         ids=["unknown module", "fts4 compress", "fts5 tokenizer"])
def test_a_virtual_table_synco_cannot_read_is_carried_in_its_own_tables(tmp_path: Path, plugin_manager: object,
                                                                       form: str, build: object) -> None:
    """A virtual table whose module, tokenizer or functions only the application has: the dump failed
    ('no such module: vec0', 'SQL logic error'). Its content is in ordinary tables, which are carried and
    verified; the virtual table itself is carried as its line of schema."""
    source = tmp_path / "source.db"
    with contextlib.closing(sqlite3.connect(source, isolation_level=None)) as conn:
        build(conn)  # type: ignore[operator]
    target = tmp_path / "target.db"
    load(source, target, form)
    assert _everything(target) == _everything(source)


APPLICATION_DEFINED = {
    # name: (schema using what only the application registers, the object to name)
    "collated column": ("CREATE TABLE t (a TEXT COLLATE app_order); INSERT INTO t VALUES ('b'), ('a');", "t"),
    "collated column, indexed": ("CREATE TABLE t (a TEXT COLLATE app_order); CREATE INDEX t_a ON t (a);"
                                 "INSERT INTO t VALUES ('b'), ('a');", "t"),
    "collated index": ("CREATE TABLE t (a TEXT); CREATE INDEX t_a ON t (a COLLATE app_order);"
                       "INSERT INTO t VALUES ('b'), ('a');", "t_a"),
    "function index": ("CREATE TABLE t (a); CREATE INDEX t_f ON t (app_key(a)); INSERT INTO t VALUES (1);", "t_f"),
    "function check": ("CREATE TABLE t (a CHECK (app_key(a) > 0)); INSERT INTO t VALUES (1);", "t"),
    "stored generated column": ("CREATE TABLE t (a, b AS (app_key(a)) STORED); INSERT INTO t (a) VALUES (1);",
                                "t"),
    "virtual generated column": ("CREATE TABLE t (a, b AS (app_key(a))); INSERT INTO t (a) VALUES (1);", "t"),
}


@pytest.mark.parametrize("form", ["file", "sql"])
@pytest.mark.parametrize("case", list(APPLICATION_DEFINED), ids=list(APPLICATION_DEFINED))
def test_what_only_the_application_registers_loads_or_is_refused_by_the_dump(tmp_path: Path, plugin_manager: object,
                                                                            form: str, case: str) -> None:
    """A collation or function the application registers: the dump either loads exactly, or is refused by
    ``db dump`` in one line naming the object. Never a dump that then fails to load (the SQL form of a
    table with ``COLLATE app_order`` did), nor a refusal that names nothing but the collation."""
    from synco_core.errors import DatabaseError

    schema, culprit = APPLICATION_DEFINED[case]
    source = tmp_path / "source.db"
    with contextlib.closing(sqlite3.connect(source, isolation_level=None)) as conn:
        conn.create_collation("app_order", lambda a, b: (a < b) - (a > b))
        conn.create_function("app_key", 1, lambda value: value, deterministic=True)
        conn.executescript(schema)
    out = io.BytesIO()
    try:
        result = dump_with_engine(parse_database_url(f"sqlite:///{source}"), out,
                                  DumpOptions(format="sql" if form == "sql" else "native"))
    except DatabaseError as exc:
        message = str(exc)
        assert "\n" not in message and repr(culprit) in message and "app_" in message, message
        return
    target = tmp_path / "target.db"
    install_with_engine(parse_database_url(f"sqlite:///{target}"), io.BytesIO(out.getvalue()),
                        InstallOptions(format=result.format, yes=True, manifest=result.tables))
    assert _everything(target) == _everything(source)
