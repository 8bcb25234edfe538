"""The SQLite engine's manifest over values nobody plans for: long ones, bytes that are not UTF-8 in TEXT."""

from __future__ import annotations

import contextlib
import hashlib
import io
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.engines.sqlite import fingerprint as fingerprint_module
from synco_core.engines.sqlite.common import fingerprint, user_tables
from synco_core.testing.services import unavailable
from synco_core.values import DumpOptions, InstallOptions


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def reference_checksum(conn: sqlite3.Connection, table: str) -> tuple[int, str]:
    """The manifest's definition, written plainly: SHA-256 over repr(row) + newline, in scan order."""
    hasher = hashlib.sha256()
    rows = 0
    for row in conn.execute(f'SELECT * FROM "{table}"'):
        rows += 1
        hasher.update(repr(row).encode("utf-8", "surrogatepass") + b"\n")
    return rows, hasher.hexdigest()


QUOTED = ["", "plain", "it's", 'say "hi"', "both ' and \"", "'", '"', "back\\slash\n\t\x00\x7f é 日本 \U0001F600"]


@pytest.mark.parametrize("piece", [1, 2, 3, 1 << 20])
def test_checksum_of_values_hashed_in_pieces_is_the_checksum_of_their_repr(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece: int) -> None:
    # Every quote combination, as text and as bytes, in a rowid table (read through BLOB I/O), a
    # WITHOUT ROWID table (fetched, then hashed in pieces), a one-column table and a generated column.
    monkeypatch.setattr(fingerprint_module, "PIECE", piece)
    with contextlib.closing(sqlite3.connect(tmp_path / "q.db")) as conn:
        conn.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, t TEXT, b BLOB, n, g TEXT AS (t || 'x'))")
        conn.execute("CREATE TABLE w (k TEXT PRIMARY KEY, b) WITHOUT ROWID")
        conn.execute("CREATE TABLE one (v)")
        for number, text in enumerate(QUOTED):
            raw = text.encode("utf-8")
            conn.execute("INSERT INTO r (t, b, n) VALUES (?, ?, ?)", (text, raw, number * 1.5))
            conn.execute("INSERT INTO w VALUES (?, ?)", (text + str(number), raw))
            conn.execute("INSERT INTO one VALUES (?)", (raw,))
        conn.commit()
        for table in ("r", "w", "one"):
            found = fingerprint(conn, table)
            assert (found.rows, found.checksum) == reference_checksum(conn, table), table


BIG = 96 << 20
DUMP_AND_LOAD = """
import io, sys
from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.values import DumpOptions, InstallOptions
source, dump, target, form = sys.argv[1:5]
with open(dump, "wb") as out:
    result = dump_with_engine(parse_database_url("sqlite:///" + source), out, DumpOptions(format=form))
if form != "sql":  # loading a script holds each statement whole: only the dump is bounded
    with open(dump, "rb") as stream:
        install_with_engine(parse_database_url("sqlite:///" + target), stream,
                            InstallOptions(format="sqlite", yes=True, manifest=result.tables))
# VmHWM: the peak of this program alone (ru_maxrss would carry the parent's across fork and exec).
print([line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")][0])
"""


@pytest.mark.parametrize("form", ["native", "sql"])
def test_dump_and_verified_install_of_a_long_blob_take_far_less_memory_than_the_blob(tmp_path: Path,
                                                                                    form: str) -> None:
    if not Path("/proc/self/status").exists():
        unavailable("the peak is measured through /proc (Linux)")
    # repr() of the whole value made a 200 MB BLOB cost 1.4 GB on each side.
    source = tmp_path / "big.db"
    with contextlib.closing(sqlite3.connect(source)) as conn:
        conn.execute("CREATE TABLE files (id INTEGER PRIMARY KEY, name TEXT, data BLOB)")
        conn.execute("INSERT INTO files (name, data) VALUES ('big', randomblob(?))", (BIG,))
        conn.execute("INSERT INTO files (name, data) VALUES ('small', x'00ff')")
        conn.commit()
    done = subprocess.run([sys.executable, "-c", DUMP_AND_LOAD, str(source), str(tmp_path / "dump"),
                           str(tmp_path / "target.db"), form], capture_output=True, text=True, check=True)
    peak_kib = int(done.stdout.split()[-1])
    assert peak_kib < (BIG >> 10) // 2, f"peak RSS {peak_kib} KiB for a {BIG >> 20} MiB value"


def test_text_holding_bytes_that_are_not_utf8_is_dumped_and_verified(tmp_path: Path, plugin_manager: object) -> None:
    # SQLite keeps whatever bytes an application writes as TEXT (Latin-1 from an old PHP app, say);
    # Python's strict decoding made such a database impossible to dump at all.
    source = tmp_path / "latin1.db"
    with contextlib.closing(sqlite3.connect(source)) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, w)")
        conn.execute("CREATE TABLE k (name TEXT PRIMARY KEY, v) WITHOUT ROWID")
        conn.execute("INSERT INTO t (v, w) VALUES (CAST(x'43616661e9' AS TEXT), CAST(x'ff00c0' AS TEXT))")
        conn.execute("INSERT INTO k VALUES (CAST(x'e9' AS TEXT), CAST(x'80' AS TEXT))")
        conn.commit()
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(url(source)), out, DumpOptions())
    assert result.tables["t"].rows == 1 and result.tables["k"].rows == 1
    target = tmp_path / "target.db"
    install_with_engine(parse_database_url(url(target)), io.BytesIO(out.getvalue()),
                        InstallOptions(format="sqlite", yes=True, manifest=result.tables))
    with contextlib.closing(sqlite3.connect(target)) as conn:
        assert conn.execute("SELECT typeof(v), hex(v), hex(w) FROM t").fetchone() == ("text", "43616661E9", "FF00C0")
        assert set(user_tables(conn)) == {"t", "k"}


def _good_target(path: Path) -> bytes:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE keep (v)")
        conn.execute("INSERT INTO keep VALUES ('local data')")
        conn.commit()
    return path.read_bytes()


@pytest.mark.parametrize(("content", "message"), [
    (b"", "no SQL statement"),
    (b"\n\n   \n", "no SQL statement"),
    (b"CREATE TABLE t (a);\n\xff\xfe\x00garbage;\n", "not UTF-8"),
    (b"CREATE TABLE t (a);\nINSERT INTO t VALUES (1", "truncated"),
], ids=["empty", "blank", "binary", "truncated"])
def test_a_script_that_is_no_dump_leaves_the_target_as_it_was(tmp_path: Path, plugin_manager: object,
                                                              content: bytes, message: str) -> None:
    # An empty file loaded "0 tables" and swapped the user's database for an empty one.
    from synco_core.errors import DatabaseError

    target = tmp_path / "app.db"
    before = _good_target(target)
    with pytest.raises(DatabaseError, match=message):
        install_with_engine(parse_database_url(url(target)), io.BytesIO(content),
                            InstallOptions(format="sql", yes=True))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]


@pytest.mark.parametrize("chunk", [1, 2, 5, 1 << 20])
def test_lines_longer_than_a_block_are_gathered_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      plugin_manager: object, chunk: int) -> None:
    # Long lines are gathered in a list and joined once (adding each block to the line made a 200 MB
    # value's hex take minutes to load); every split of lines across blocks must still give them whole.
    from synco_core.engines.sqlite import install as install_module

    monkeypatch.setattr(install_module, "CHUNK", chunk)
    value = bytes(range(256)) * 3
    script = (b"CREATE TABLE b (v, w);\n\nINSERT INTO b VALUES (X'" + value.hex().encode() + b"',\n'two\nlines');\n"
              b"INSERT INTO b VALUES (1, 'x');")
    lines = list(install_module._lines(io.BytesIO(script[16:]), script[:16]))
    assert b"".join(lines) == script and len(lines) == 6
    target = tmp_path / "b.db"
    install_with_engine(parse_database_url(url(target)), io.BytesIO(script), InstallOptions(format="sql", yes=True))
    with contextlib.closing(sqlite3.connect(target)) as conn:
        assert conn.execute("SELECT v, w FROM b ORDER BY rowid").fetchall() == [(value, "two\nlines"), (1, "x")]


def test_install_through_a_symlink_replaces_the_file_it_points_to(tmp_path: Path, plugin_manager: object) -> None:
    # Renaming over the link replaced the link with a plain file: the database it pointed to kept its old
    # content, and the project's link was gone.
    from synco_core.engines.dispatch import rollback_with_engine

    real = tmp_path / "data" / "app.db"
    real.parent.mkdir()
    before = _good_target(real)
    link = tmp_path / "project" / "db.sqlite3"
    link.parent.mkdir()
    link.symlink_to(real)
    source = tmp_path / "source.db"
    with contextlib.closing(sqlite3.connect(source)) as conn:
        conn.execute("CREATE TABLE fresh (v)")
        conn.commit()
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(url(source)), out, DumpOptions())
    install_with_engine(parse_database_url(url(link)), io.BytesIO(out.getvalue()),
                        InstallOptions(format="sqlite", yes=True, manifest=result.tables))
    assert link.is_symlink() and link.resolve() == real.resolve()
    with contextlib.closing(sqlite3.connect(real)) as conn:
        assert user_tables(conn) == {"fresh": ["v"]}
    assert (real.parent / "app.db.synco-previous").read_bytes() == before
    assert sorted(p.name for p in link.parent.iterdir()) == ["db.sqlite3"]
    rollback_with_engine(parse_database_url(url(link)), InstallOptions(yes=True))
    assert link.is_symlink() and real.read_bytes() == before


def test_install_into_a_folder_is_refused_in_one_line(tmp_path: Path, plugin_manager: object) -> None:
    from synco_core.errors import DatabaseError

    (tmp_path / "app.db").mkdir()
    with pytest.raises(DatabaseError, match="not a file"):
        install_with_engine(parse_database_url(url(tmp_path / "app.db")), io.BytesIO(b"CREATE TABLE t (a);\n"),
                            InstallOptions(format="sql", yes=True))


def test_install_that_cannot_write_its_folder_fails_in_one_line(tmp_path: Path, plugin_manager: object) -> None:
    # A read-only folder, a full disk, a path through a file: one line naming the target, not an OSError.
    from synco_core.errors import DatabaseError

    (tmp_path / "notes.txt").write_text("a file, not a folder")
    with pytest.raises(DatabaseError, match=r"cannot install into .*app\.db"):
        install_with_engine(parse_database_url(url(tmp_path / "notes.txt" / "app.db")),
                            io.BytesIO(b"CREATE TABLE t (a);\n"), InstallOptions(format="sql", yes=True))


def _lose_an_index_entry(path: Path) -> None:
    """Damage ``path`` as a bad sector or a writable_schema mistake does: an index misses a row."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)")
        conn.executemany("INSERT INTO t (a) VALUES (?)", [(f"v{i:05}",) for i in range(500)])
        conn.execute("CREATE INDEX t_a ON t (a)")
        conn.commit()
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    for page in range(1, len(data) // page_size):
        start = page * page_size
        if data[start] == 0x0A:  # an index leaf: change one key, so its row is missing from the index
            at = data.find(b"v0", start, start + page_size)
            data[at + 1:at + 2] = b"9"
            break
    path.write_bytes(bytes(data))


def test_a_database_file_that_would_not_load_is_not_dumped(tmp_path: Path, plugin_manager: object) -> None:
    # The dump went through and the install refused it (integrity_check): a dump that never loads.
    from synco_core.errors import DatabaseError

    source = tmp_path / "damaged.db"
    _lose_an_index_entry(source)
    with pytest.raises(DatabaseError, match=r"integrity_check .*missing from index t_a.*--sql"):
        dump_with_engine(parse_database_url(url(source)), io.BytesIO(), DumpOptions())
    # The SQL form rebuilds the index from the rows, and loads.
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(url(source)), out, DumpOptions(format="sql"))
    target = tmp_path / "target.db"
    install_with_engine(parse_database_url(url(target)), io.BytesIO(out.getvalue()),
                        InstallOptions(format="sql", yes=True, manifest=result.tables))
    with contextlib.closing(sqlite3.connect(target)) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 500


def _break_the_freelist(path: Path) -> None:
    """Damage ``path`` so that integrity_check answers in several lines (a b-tree problem, not an index's)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (a)")
        conn.execute("INSERT INTO t VALUES ('kept')")
        conn.commit()
    data = bytearray(path.read_bytes())
    data[32:40] = (2).to_bytes(4, "big") + (0x7FFFFFFF).to_bytes(4, "big")  # a freelist that cannot be
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("step", ["dump", "install", "rollback"])
def test_a_damaged_file_is_refused_in_one_line(tmp_path: Path, plugin_manager: object, step: str) -> None:
    # integrity_check's first answer was put in the error as it is: "*** in database main ***", a line
    # break, and the problems, one per line.
    from synco_core.engines.dispatch import rollback_with_engine
    from synco_core.errors import SyncoError

    damaged = tmp_path / "damaged.db"
    _break_the_freelist(damaged)
    target = tmp_path / "target.db"
    with pytest.raises(SyncoError) as caught:
        if step == "dump":
            dump_with_engine(parse_database_url(url(damaged)), io.BytesIO(), DumpOptions())
        elif step == "install":
            install_with_engine(parse_database_url(url(target)), io.BytesIO(damaged.read_bytes()),
                                InstallOptions(format="sqlite", yes=True))
        else:
            with contextlib.closing(sqlite3.connect(target)) as conn:
                conn.execute("CREATE TABLE now (a)")
            Path(f"{target}.synco-previous").write_bytes(damaged.read_bytes())
            rollback_with_engine(parse_database_url(url(target)), InstallOptions(yes=True))
    message = str(caught.value)
    assert "\n" not in message and "freelist" in message.lower(), message


@pytest.mark.parametrize("encoding", ["UTF-8", "UTF-16le"])
def test_sanitize_hash_and_value_rewriter_take_text_that_is_not_utf8(tmp_path: Path, plugin_manager: object,
                                                                    encoding: str, pinned_hash_key: str) -> None:
    # Python hands a function no text that is not UTF-8: both failed with "user-defined function raised
    # exception" on a Latin-1 value. The digest stays over the key and the UTF-8 bytes in either encoding.
    from synco_core.values import SanitizeRule, ValueRewriter

    source = tmp_path / "source.db"
    with contextlib.closing(sqlite3.connect(source)) as conn:
        conn.execute(f"PRAGMA encoding = '{encoding}'")
        conn.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, site TEXT)")
        latin1 = "CAST(x'4d6172e9' AS TEXT)" if encoding == "UTF-8" else "'Maré'"
        conn.execute(f"INSERT INTO people VALUES (1, {latin1}, 'https://prod.example/caf' || {latin1})")
        conn.execute("INSERT INTO people VALUES (2, 'Zoë', 'https://prod.example/zoë'), (3, NULL, 7)")
        conn.commit()
        names = [row[0] for row in conn.execute("SELECT CAST(name AS BLOB) FROM people ORDER BY id")]
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(url(source)), out,
                              DumpOptions(sanitize=[SanitizeRule(table="people", column="name", transform="hash")]))
    target = tmp_path / "target.db"
    rewriter = ValueRewriter(needles=(b"https://prod.example",),
                             rewrite=lambda value: value.replace(b"https://prod.example", b"http://localhost"))
    install_with_engine(parse_database_url(url(target)), io.BytesIO(out.getvalue()),
                        InstallOptions(format="sqlite", yes=True, manifest=result.tables, rewriter=rewriter))
    with contextlib.closing(sqlite3.connect(target)) as conn:
        conn.text_factory = bytes
        rows = conn.execute("SELECT name, CAST(site AS BLOB), typeof(site) FROM people ORDER BY id").fetchall()
    utf8 = [raw.decode("utf-16-le").encode() if encoding != "UTF-8" and raw else raw for raw in names]
    key = pinned_hash_key.encode()
    assert [row[0] for row in rows] == [hashlib.sha256(key + utf8[0]).hexdigest().encode(),
                                        hashlib.sha256(key + "Zoë".encode()).hexdigest().encode(), None]
    expected_site = b"http://localhost/caf" + utf8[0]
    if encoding != "UTF-8":
        expected_site = expected_site.decode().encode("utf-16-le")
    assert rows[0][1:] == (expected_site, b"text")
    assert rows[2][1:] == ("7".encode("utf-8" if encoding == "UTF-8" else "utf-16-le"), b"text")


@pytest.mark.parametrize("content", [b"my notes\n", b"SQLite format 3\x00" + b"\xff" * 200],
                         ids=["not-sqlite", "damaged-header"])
def test_a_target_that_is_no_database_is_left_alone(tmp_path: Path, plugin_manager: object, content: bytes) -> None:
    # A URL naming the wrong file: refused before anything is written, in one line, nothing left beside it.
    from synco_core.engines.sqlite import check_install_target
    from synco_core.errors import DatabaseError

    target = tmp_path / "app.db"
    target.write_bytes(content)
    source = tmp_path / "src" / "source.db"
    source.parent.mkdir()
    with contextlib.closing(sqlite3.connect(source)) as conn:
        conn.execute("CREATE TABLE t (a)")
        conn.commit()
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(url(source)), out, DumpOptions())
    with pytest.raises(DatabaseError, match=r"cannot install into .*app\.db"):
        install_with_engine(parse_database_url(url(target)), io.BytesIO(out.getvalue()),
                            InstallOptions(format="sqlite", yes=True, manifest=result.tables))
    assert target.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db", "src"]
    if not content.startswith(b"SQLite"):
        with pytest.raises(DatabaseError, match="not an SQLite database"):
            check_install_target(parse_database_url(url(target)), InstallOptions(yes=True))


def test_sanitized_dump_keeps_the_rowids_of_tables_without_a_key(tmp_path: Path, plugin_manager: object) -> None:
    # The VACUUM after the rules renumbered the rows of a table with no INTEGER PRIMARY KEY and no index
    # (5, 17, 1000 became 1, 2, 3), and an FTS index over that table then found other rows.
    from synco_core.values import SanitizeRule

    source = tmp_path / "notes.db"
    with contextlib.closing(sqlite3.connect(source)) as conn:
        conn.executescript("""
            CREATE TABLE notes (body TEXT, author TEXT);
            INSERT INTO notes (rowid, body, author) VALUES (5, 'alpha', 'ann'), (17, 'beta', 'bob'),
                                                           (1000, 'gamma', 'cy'), (-3, 'delta', 'dee');
            CREATE VIRTUAL TABLE notes_fts USING fts5(body, content='notes');
            INSERT INTO notes_fts(notes_fts) VALUES ('rebuild');
            CREATE TABLE keyed (k TEXT PRIMARY KEY, v);
            INSERT INTO keyed (rowid, k, v) VALUES (40, 'a', 1), (2, 'b', 2);
        """)
        before = {t: conn.execute(f"SELECT rowid, * FROM {t} ORDER BY rowid").fetchall() for t in ("notes", "keyed")}
    out = io.BytesIO()
    dump_with_engine(parse_database_url(url(source)), out,
                     DumpOptions(sanitize=[SanitizeRule(table="notes", column="author", expression="'someone'")]))
    dump = tmp_path / "dump.db"
    dump.write_bytes(out.getvalue())
    with contextlib.closing(sqlite3.connect(dump)) as conn:
        assert conn.execute("SELECT rowid, body FROM notes ORDER BY rowid").fetchall() == [
            (row[0], row[1]) for row in before["notes"]]
        assert conn.execute("SELECT rowid, * FROM keyed ORDER BY rowid").fetchall() == before["keyed"]
        assert conn.execute("SELECT rowid, body FROM notes_fts WHERE notes_fts MATCH 'gamma'").fetchall() == [
            (1000, "gamma")]
        assert {row[0] for row in conn.execute("SELECT author FROM notes")} == {"someone"}
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'synco%'").fetchone()[0] == 0
    assert b"bob" not in out.getvalue()
