"""Sanitising a SQLite database must reach its full-text indexes: a sanitised or filtered-out value's words
must be nowhere in the dump, neither in an FTS table's index nor in its content, whichever way the index
is tied to the table (external content, its own content kept by triggers, contentless), for FTS3, FTS4 and
FTS5, in both dump formats; and the indexes that remain must still answer queries correctly."""

from __future__ import annotations

import contextlib
import io
import sqlite3
from pathlib import Path

import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.errors import DatabaseError
from synco_core.values import DumpOptions, InstallOptions, SanitizeRule

SECRET = "xyzzyplugh"
KEPT = "harmlessword"

SCHEMA = """
CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT, body TEXT);
CREATE TABLE tags (name TEXT);

-- FTS5 over external content, kept in step by the triggers SQLite's documentation gives.
CREATE VIRTUAL TABLE ext5 USING fts5(title, body, content='posts', content_rowid='id');
CREATE TRIGGER posts_ai AFTER INSERT ON posts BEGIN
  INSERT INTO ext5(rowid, title, body) VALUES (new.id, new.title, new.body);
  INSERT INTO own5(rowid, title, body) VALUES (new.id, new.title, new.body);
  INSERT INTO less5(rowid, title, body) VALUES (new.id, new.title, new.body);
  INSERT INTO ext4(docid, title, body) VALUES (new.id, new.title, new.body);
  INSERT INTO own3(docid, title, body) VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER posts_ad AFTER DELETE ON posts BEGIN
  INSERT INTO ext5(ext5, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
  DELETE FROM own5 WHERE rowid = old.id;
  INSERT INTO less5(less5, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
  DELETE FROM ext4 WHERE docid = old.id;
  DELETE FROM own3 WHERE docid = old.id;
END;
CREATE TRIGGER posts_bu BEFORE UPDATE ON posts BEGIN
  DELETE FROM ext4 WHERE docid = old.id;
END;
CREATE TRIGGER posts_au AFTER UPDATE ON posts BEGIN
  INSERT INTO ext5(ext5, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
  INSERT INTO ext5(rowid, title, body) VALUES (new.id, new.title, new.body);
  UPDATE own5 SET title = new.title, body = new.body WHERE rowid = old.id;
  INSERT INTO less5(less5, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
  INSERT INTO less5(rowid, title, body) VALUES (new.id, new.title, new.body);
  INSERT INTO ext4(docid, title, body) VALUES (new.id, new.title, new.body);
  UPDATE own3 SET title = new.title, body = new.body WHERE docid = old.id;
END;
-- FTS5 with its own copy of the text, fed by the triggers above.
CREATE VIRTUAL TABLE own5 USING fts5(title, body);
-- Contentless FTS5 (contentless_delete needs SQLite 3.43; 'delete' with the old values works everywhere).
CREATE VIRTUAL TABLE less5 USING fts5(title, body, content='');
-- FTS4 over external content, FTS3 with its own content.
CREATE VIRTUAL TABLE ext4 USING fts4(content="posts", title, body);
CREATE VIRTUAL TABLE own3 USING fts3(title, body);
-- The searchable text kept only in the FTS table, sanitised there.
CREATE VIRTUAL TABLE direct5 USING fts5(body);
-- A contentless FTS4 the application fills itself: nothing says where its words come from.
CREATE VIRTUAL TABLE appless4 USING fts4(content="", body);
-- Indexes of a table no rule touches: left as they are.
CREATE VIRTUAL TABLE tags5 USING fts5(name, content='tags');
CREATE VIRTUAL TABLE tagsless5 USING fts5(name, content='');
CREATE TRIGGER tags_ai AFTER INSERT ON tags BEGIN
  INSERT INTO tags5(rowid, name) VALUES (new.rowid, new.name);
  INSERT INTO tagsless5(rowid, name) VALUES (new.rowid, new.name);
END;
"""


def make_site(path: Path) -> Path:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(SCHEMA)
        for number in range(1, 201):
            body = f"{SECRET} lives at number {number}" if number % 2 else f"nothing to hide {number}"
            conn.execute("INSERT INTO posts (id, title, body) VALUES (?, ?, ?)", (number, f"{KEPT} {number}", body))
            conn.execute("INSERT INTO direct5 (rowid, body) VALUES (?, ?)", (number, body))
            conn.execute("INSERT INTO appless4 (docid, body) VALUES (?, ?)", (number, body))
        conn.executemany("INSERT INTO tags (name) VALUES (?)", [(f"tag{n} {KEPT}",) for n in range(50)])
        conn.commit()
    return path


SANITISE_BODY = (SanitizeRule("posts", "body", transform="fixed:redacted"),
                 SanitizeRule("direct5", "body", transform="fixed:redacted"))


@pytest.mark.parametrize("options", [
    DumpOptions(sanitize=SANITISE_BODY),
    DumpOptions(where={"posts": "body NOT LIKE '%xyzzy%'", "direct5": "body NOT LIKE '%xyzzy%'"}),
    DumpOptions(exclude_tables=("posts", "direct5")),
], ids=["sanitised", "filtered", "excluded"])
@pytest.mark.parametrize("fmt", ["sqlite", "sql"])
def test_removed_words_do_not_survive_in_fts_indexes(tmp_path: Path, plugin_manager: object, fmt: str,
                                                     options: DumpOptions) -> None:
    source = make_site(tmp_path / "site.db")
    assert SECRET.encode() in source.read_bytes()
    options = DumpOptions(exclude_tables=options.exclude_tables, where=options.where, sanitize=options.sanitize,
                          format=fmt)
    dump = tmp_path / f"dump.{fmt}"
    with dump.open("wb") as out:
        result = dump_with_engine(parse_database_url(f"sqlite:///{source}"), out, options)
    data = dump.read_bytes()
    assert SECRET.encode() not in data, "a removed word survived in the dump"
    loaded = tmp_path / "loaded.db"
    if fmt == "sql":
        # The script registers virtual tables through writable_schema: a new connection sees them.
        with contextlib.closing(sqlite3.connect(loaded)) as script:
            script.executescript(data.decode())
    else:
        loaded.write_bytes(data)
    with contextlib.closing(sqlite3.connect(loaded)) as conn:
        posts = conn.execute("SELECT count(*) FROM posts").fetchone()[0]
        for table in ("ext5", "own5", "less5", "direct5"):
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?", (SECRET,)).fetchone()[0] == 0
            conn.execute(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")
        for table in ("ext4", "own3", "appless4"):
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?", (SECRET,)).fetchone()[0] == 0
        # The indexes that could be rebuilt still find every remaining row by its kept words.
        for table in ("ext5", "own5", "ext4", "own3"):
            found = conn.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?", (KEPT,)).fetchone()[0]
            assert found == posts, table
        if options.sanitize:
            assert conn.execute("SELECT count(*) FROM ext5 WHERE ext5 MATCH 'redacted'").fetchone()[0] == 200
        # Indexes of untouched tables are kept whole, contentless ones included.
        for table in ("tags5", "tagsless5"):
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?", (KEPT,)).fetchone()[0] == 50
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    notes = " ".join(result.applied_rules)
    assert "appless4" in notes and "emptied" in notes


@pytest.mark.parametrize("fmt", ["sqlite", "sql"])
def test_every_fts_kind_dumps_and_installs_verified(tmp_path: Path, plugin_manager: object, fmt: str) -> None:
    """Without rules, every index is shipped as it is and the install verifies it: a contentless FTS4 table,
    which SQLite refuses to scan, made the whole dump fail ("SQL logic error")."""
    source = make_site(tmp_path / "site.db")
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(f"sqlite:///{source}"), out, DumpOptions(format=fmt))
    assert result.applied_rules == []
    assert result.tables["appless4"].rows == 200
    target = tmp_path / "target.db"
    install_with_engine(parse_database_url(f"sqlite:///{target}"), io.BytesIO(out.getvalue()),
                        InstallOptions(format=fmt, yes=True, manifest=result.tables))
    with contextlib.closing(sqlite3.connect(target)) as conn:
        for table in ("ext5", "own5", "less5", "direct5", "ext4", "own3", "appless4"):
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?", (SECRET,)).fetchone()[0] == 100


def test_index_its_content_table_cannot_rebuild_stops_the_dump(tmp_path: Path, plugin_manager: object) -> None:
    """An external-content index whose columns the content table lacks cannot be rebuilt, nor read at all:
    the dump stops with one line naming the database and SQLite's reason, shipping nothing."""
    source = tmp_path / "site.db"
    with contextlib.closing(sqlite3.connect(source)) as conn:
        conn.executescript("CREATE TABLE posts (id INTEGER PRIMARY KEY, body TEXT);"
                           "CREATE VIRTUAL TABLE search USING fts5(summary, content='posts', content_rowid='id');")
        conn.execute("INSERT INTO posts VALUES (1, ?)", (f"{SECRET} body",))
        conn.execute("INSERT INTO search (rowid, summary) VALUES (1, ?)", (f"{SECRET} summary",))
        conn.commit()
    out = io.BytesIO()
    with pytest.raises(DatabaseError) as caught:
        dump_with_engine(parse_database_url(f"sqlite:///{source}"), out,
                         DumpOptions(sanitize=(SanitizeRule("posts", "body", transform="fixed:redacted"),)))
    message = str(caught.value)
    assert message.startswith(f"cannot read SQLite database {source}: ") and "\n" not in message
    assert SECRET not in message
    assert out.getvalue() == b""
