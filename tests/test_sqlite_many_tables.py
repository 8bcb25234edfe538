"""SQLite databases of many tables: reading the schema once, not once per table.

``sqlite_master`` has no index, so looking a table up in it by name reads it whole: the dump, the SQL
writer and the install's verification, looking up each table in turn, took time growing with the square of
the number of tables (40 s to dump 5,000 tables that ``sqlite3 .dump`` writes in 1 s). The property tested
is that the statements reading ``sqlite_master`` are as many for 120 tables as for 12, counted through
SQLite's trace callback on every connection the engine opens; it does not depend on the machine's speed.
"""

from __future__ import annotations

import io
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.values import DumpOptions, InstallOptions


def _schema_reads(tmp_path: Path, tables: int, monkeypatch: pytest.MonkeyPatch, *, sql: bool) -> Counter[str]:
    """How many statements read sqlite_master while a database of ``tables`` tables (one of them an FTS
    index) is dumped and installed."""
    source = tmp_path / f"source-{tables}.db"
    with sqlite3.connect(source) as conn:
        for i in range(tables):
            conn.execute(f"CREATE TABLE t_{i} (id INTEGER PRIMARY KEY, title TEXT UNIQUE)")
            conn.execute(f"INSERT INTO t_{i} (title) VALUES ('a'), ('b')")
        conn.execute("CREATE VIRTUAL TABLE search USING fts4(body, content='')")
    conn.close()
    reads: Counter[str] = Counter()
    connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(lambda statement: reads.update(
            ["sqlite_master"] if "sqlite_master" in statement.lower() else []))
        return conn

    monkeypatch.setattr(sqlite3, "connect", traced)
    dump = io.BytesIO()
    result = dump_with_engine(parse_database_url(f"sqlite:///{source}"), dump,
                              DumpOptions(format="sql" if sql else "native"))
    assert sum(manifest.rows for manifest in result.tables.values()) >= 2 * tables
    dump.seek(0)
    install_with_engine(parse_database_url(f"sqlite:///{tmp_path / f'target-{tables}.db'}"), dump,
                        InstallOptions(yes=True, manifest=result.tables))
    monkeypatch.setattr(sqlite3, "connect", connect)
    return reads


@pytest.mark.parametrize("sql", [False, True], ids=["file", "sql"])
def test_the_schema_is_read_as_often_for_many_tables_as_for_few(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 sql: bool) -> None:
    few = _schema_reads(tmp_path, 12, monkeypatch, sql=sql)
    many = _schema_reads(tmp_path, 120, monkeypatch, sql=sql)
    assert many == few
