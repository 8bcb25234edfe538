"""The value rewriter changes the values holding a needle, and nothing else: the dump's triggers do not run.

Rewriting is an ``UPDATE`` per column of the loaded copy, and SQLite runs a table's ``UPDATE`` triggers for
it: an application's audit trigger added rows, an ``updated_at`` trigger stamped the rewritten rows with
the laptop's clock, and a database file from a hostile session ran whatever its triggers held (a recursive
CTE writing gigabytes) although a database file is data that is never run. The MySQL and PostgreSQL
engines rewrite the dump's rows before its triggers exist; the SQLite install now takes the triggers out
for the rewrite and puts them back exactly as they were.
"""

from __future__ import annotations

import contextlib
import io
import sqlite3
from pathlib import Path

import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.values import DumpOptions, InstallOptions, ValueRewriter

REWRITER = ValueRewriter(needles=(b"https://prod.example",),
                         rewrite=lambda value: value.replace(b"https://prod.example", b"http://localhost"))

APPLICATION = """
CREATE TABLE pages (id INTEGER PRIMARY KEY, url TEXT, updated TEXT);
CREATE TABLE audit (page INTEGER, old TEXT, new TEXT);
INSERT INTO pages VALUES (1, 'https://prod.example/a', '2026-01-01'), (2, 'elsewhere', '2026-01-02');
CREATE TRIGGER pages_audit AFTER UPDATE OF url ON pages BEGIN
    INSERT INTO audit VALUES (old.id, old.url, new.url);
END;
CREATE TRIGGER pages_stamp AFTER UPDATE ON pages BEGIN
    UPDATE pages SET updated = datetime('now') WHERE id = new.id;
END;
CREATE VIEW page_urls AS SELECT url FROM pages;
CREATE TRIGGER page_urls_insert INSTEAD OF INSERT ON page_urls BEGIN
    INSERT INTO pages (url) VALUES (new.url);
END;
"""

HOSTILE = """
CREATE TABLE pages (id INTEGER PRIMARY KEY, url TEXT);
CREATE TABLE filler (v);
INSERT INTO pages VALUES (1, 'https://prod.example/a');
CREATE TRIGGER fill AFTER UPDATE ON pages BEGIN
    INSERT INTO filler WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300)
        SELECT zeroblob(1000000) FROM c;
END;
"""


def _install(tmp_path: Path, script: str, form: str) -> Path:
    source = tmp_path / "source.db"
    with contextlib.closing(sqlite3.connect(source)) as conn:
        conn.executescript(script)
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(f"sqlite:///{source}"), out,
                              DumpOptions(format="sql" if form == "sql" else "native"))
    target = tmp_path / "target.db"
    install_with_engine(parse_database_url(f"sqlite:///{target}"), io.BytesIO(out.getvalue()),
                        InstallOptions(format=result.format, yes=True, manifest=result.tables, rewriter=REWRITER))
    return target


def _schema(path: Path) -> list[tuple[str, str, str]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return sorted(conn.execute("SELECT type, name, sql FROM sqlite_master"))


@pytest.mark.parametrize("form", ["file", "sql"])
def test_rewriting_runs_none_of_the_applications_triggers(tmp_path: Path, plugin_manager: object, form: str) -> None:
    target = _install(tmp_path, APPLICATION, form)
    with contextlib.closing(sqlite3.connect(target)) as conn:
        assert conn.execute("SELECT * FROM pages ORDER BY id").fetchall() == [
            (1, "http://localhost/a", "2026-01-01"), (2, "elsewhere", "2026-01-02")]
        assert conn.execute("SELECT count(*) FROM audit").fetchone() == (0,)
    # The triggers are back, exactly as they were, and work.
    assert _schema(target) == _schema(tmp_path / "source.db")
    with contextlib.closing(sqlite3.connect(target)) as conn:
        conn.execute("UPDATE pages SET url = 'x' WHERE id = 2")
        assert conn.execute("SELECT * FROM audit").fetchall() == [(2, "elsewhere", "x")]


@pytest.mark.parametrize("form", ["file", "sql"])
def test_a_hostile_databases_triggers_do_not_run_on_install(tmp_path: Path, plugin_manager: object,
                                                            form: str) -> None:
    target = _install(tmp_path, HOSTILE, form)
    assert target.stat().st_size < 1 << 20
    with contextlib.closing(sqlite3.connect(target)) as conn:
        assert conn.execute("SELECT url FROM pages").fetchall() == [("http://localhost/a",)]
        assert conn.execute("SELECT count(*) FROM filler").fetchone() == (0,)
