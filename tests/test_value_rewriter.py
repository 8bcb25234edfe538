"""The value rewriter: plugins' ``value_rewriter`` answers applied by the engines while loading, inside the
atomic install, and ``source_settings`` carried from the source's plugins to the destination's.

The engine tests load real dumps into the real servers and check every value that holds the needle changed
(quotes, backslashes, carriage returns, NUL bytes and multi-byte text around it kept exact), nothing else
changed, binary values were left alone, and the verification still passed: for MySQL that means the row
checksums of the manifest were corrected for exactly the rewritten rows.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synco_core import (
    ConfigError,
    FileSet,
    Framework,
    SyncoError,
    ValueRewriter,
    connect_with_engine,
    hookimpl,
    parse_database_url,
)
from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.engines.rewrite import copytext
from synco_core.engines.rewrite import mysql as mysql_rewrite
from synco_core.install.plan import load_received
from synco_core.install.run import install_received
from synco_core.plugins import SyncoPluginManager
from synco_core.rewriting import collect_source_settings, combine, install_rewriter
from synco_core.testing.services import database_from_script, mysql_admin_connection, postgres_admin_connection
from synco_core.values import DumpOptions, InstallOptions, TableManifest

OLD = b"https://prod.example"
NEW = b"http://local.test:8080"


def replacer(old: bytes = OLD, new: bytes = NEW) -> ValueRewriter:
    return ValueRewriter(needles=(old,), rewrite=lambda value: value.replace(old, new), description="test")


# -- the MySQL statement rewriter on its own


@pytest.mark.parametrize(("statement", "expected"), [
    (b"INSERT INTO `t` VALUES (1,'see https://prod.example/x')",
     b"INSERT INTO `t` VALUES (1,'see http://local.test:8080/x')"),
    (b"INSERT INTO `t` VALUES (1,'a\\'b https://prod.example \\\\ c'),(2,'none')",
     b"INSERT INTO `t` VALUES (1,'a\\'b http://local.test:8080 \\\\ c'),(2,'none')"),
    # Binary literals are data, not text: left as they are.
    (b"INSERT INTO `t` VALUES (1,_binary'https://prod.example')", b"INSERT INTO `t` VALUES (1,_binary'https://prod.example')"),
    # Doubled quotes, double-quoted strings and carriage returns as synco's dumps write them.
    (b"INSERT INTO t VALUES (1,'it''s https://prod.example\\r\\n',\"x https://prod.example\")",
     b"INSERT INTO t VALUES (1,'it\\'s http://local.test:8080\\r\n','x http://local.test:8080')"),
    (b"INSERT INTO `t` SET `v`='https://prod.example'", b"INSERT INTO `t` SET `v`='http://local.test:8080'"),
    (b"INSERT INTO `t` VALUES (1,'nothing to do')", b"INSERT INTO `t` VALUES (1,'nothing to do')"),
])
def test_mysql_statement_rewriting(statement: bytes, expected: bytes) -> None:
    rewriter = mysql_rewrite.InsertRewriter(replacer())
    assert rewriter(statement) == expected


_TEXT = st.lists(st.sampled_from([OLD, b"'", b"\\", b"\r", b"\n", b"\0", b"\x1a", b"\"", b"(", b")", b",",
                                  "é".encode(), b"x", b"%", b"_", b"prod"]), max_size=12).map(b"".join)


@given(st.lists(st.tuples(st.integers(0, 10**6), _TEXT), min_size=1, max_size=6))
def test_mysql_rewrite_keeps_every_other_byte_and_fixes_the_checksum(rows: list[tuple[int, bytes]]) -> None:
    """For any values: the rewritten statement holds exactly the rewritten values, and the crc32 sum of its
    rows (in the checksum's form) is the original sum plus the recorded delta."""
    import zlib

    def literal(value: bytes) -> bytes:
        return mysql_rewrite.quote(value).replace(b"\r", b"\\r")

    def row(number: int, value: bytes) -> bytes:
        return b"(" + str(number).encode() + b"," + literal(value) + b")"

    statement = b"INSERT INTO `t` VALUES " + b",".join(row(n, v) for n, v in rows)
    rewriter = mysql_rewrite.InsertRewriter(replacer())
    result = rewriter(statement)
    expected_rows = [row(n, v.replace(OLD, NEW)) for n, v in rows]
    assert result == b"INSERT INTO `t` VALUES " + b",".join(expected_rows)
    before = sum(zlib.crc32(mysql_rewrite.checksum_form(row(n, v))) for n, v in rows)
    after = sum(zlib.crc32(mysql_rewrite.checksum_form(r)) for r in expected_rows)
    manifest = {"t": TableManifest(rows=len(rows), checksum=f"crc32sum:{before}")}
    assert rewriter.adjusted(manifest)["t"].checksum == f"crc32sum:{after}"


@given(st.lists(_TEXT, min_size=1, max_size=5), st.integers(1, 40))
def test_copy_rewrite_round_trip(values: list[bytes], size: int) -> None:
    lines = b"".join(b"1\t" + copytext.escape(v) + b"\t\\N\n" for v in values)
    rewriter = copytext.CopyRewriter(replacer())
    # Pieces cut anywhere, as the loader hands them over: a line may end in none of several pieces.
    pieces = [lines[i:i + size] for i in range(0, len(lines), size)]
    out = b"".join(sent for _, sent in rewriter.pieces(pieces))
    assert out == b"".join(b"1\t" + copytext.escape(v.replace(OLD, NEW)) + b"\t\\N\n" for v in values)
    assert all(copytext.unescape(copytext.escape(v)) == v for v in values)


# -- the engines, on the real servers

TEXT = "quote ' backslash \\ cr \r nul \0 é https://prod.example/wp-content/a.jpg end"


@pytest.mark.mysql
def test_value_rewriter_applied_by_mysql_install(mysql_database_factory: Callable[[], str]) -> None:
    source, target = mysql_database_factory(), mysql_database_factory()
    conn = mysql_admin_connection(source)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE posts (id INT PRIMARY KEY, body LONGTEXT, title VARCHAR(200), raw BLOB)")
        cur.execute("INSERT INTO posts VALUES (%s,%s,%s,%s)", (1, TEXT, "plain", b"https://prod.example"))
        cur.execute("INSERT INTO posts VALUES (%s,%s,%s,%s)", (2, "no url", "https://prod.example", None))
        cur.execute("CREATE TABLE untouched (id INT PRIMARY KEY, v TEXT)")
        cur.execute("INSERT INTO untouched VALUES (1, 'nothing here')")
    conn.close()
    database = parse_database_url(f"mysql://root@127.0.0.1:3306/{source}")
    out = io.BytesIO()
    result = dump_with_engine(database, out, DumpOptions())
    out.seek(0)
    installed = install_with_engine(database.replace(name=target), out, InstallOptions(
        manifest=result.tables, yes=True, rewriter=replacer()))
    # Verified against the corrected checksums, so the rows are exactly the rewritten ones.
    assert installed.rewritten_values == 2
    conn = mysql_admin_connection(target)
    with conn.cursor() as cur:
        cur.execute("SELECT id, body, title, raw FROM posts ORDER BY id")
        rows = cur.fetchall()
    conn.close()
    assert rows[0] == (1, TEXT.replace("https://prod.example", "http://local.test:8080"), "plain",
                       b"https://prod.example")
    assert rows[1] == (2, "no url", "http://local.test:8080", None)


@pytest.mark.mysql
def test_mysql_verification_still_catches_other_changes(mysql_database_factory: Callable[[], str]) -> None:
    """The corrected checksum is the rewritten row's: a rewrite the engine did not account for still fails."""
    source, target = mysql_database_factory(), mysql_database_factory()
    conn = mysql_admin_connection(source)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        cur.execute("INSERT INTO t VALUES (1, 'https://prod.example')")
    conn.close()
    database = parse_database_url(f"mysql://root@127.0.0.1:3306/{source}")
    out = io.BytesIO()
    result = dump_with_engine(database, out, DumpOptions())
    tampered = {name: TableManifest(entry.rows, f"crc32sum:{int(str(entry.checksum).split(':')[1]) + 1}")
                for name, entry in result.tables.items()}
    out.seek(0)
    with pytest.raises(Exception, match="checksum"):
        install_with_engine(database.replace(name=target), out, InstallOptions(manifest=tampered, yes=True,
                                                                                 rewriter=replacer()))


@pytest.mark.postgres
def test_value_rewriter_applied_by_postgres_install(postgres_database_factory: Callable[[], str]) -> None:
    source, target = postgres_database_factory(), postgres_database_factory()
    conn = postgres_admin_connection(source)
    pg_text = TEXT.replace("\0", "")
    conn.execute("CREATE TABLE posts (id INT PRIMARY KEY, body TEXT, raw BYTEA)")
    conn.execute("INSERT INTO posts VALUES (1, %s, %s), (2, 'tab\there https://prod.example', NULL)",
                 (pg_text, b"https://prod.example"))
    conn.close()
    database = parse_database_url(f"postgresql://postgres@127.0.0.1:5432/{source}")
    out = io.BytesIO()
    result = dump_with_engine(database, out, DumpOptions())
    out.seek(0)
    installed = install_with_engine(database.replace(name=target), out, InstallOptions(
        manifest=result.tables, yes=True, rewriter=replacer()))
    assert installed.rewritten_values == 2
    conn = postgres_admin_connection(target)
    rows = conn.execute("SELECT id, body, raw FROM posts ORDER BY id").fetchall()
    conn.close()
    assert rows[0][1] == pg_text.replace("https://prod.example", "http://local.test:8080")
    assert bytes(rows[0][2]) == b"https://prod.example"
    assert rows[1][1] == "tab\there http://local.test:8080"


def test_value_rewriter_applied_by_sqlite_install(tmp_path: Path) -> None:
    source = tmp_path / "source.db"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE posts (id INTEGER PRIMARY KEY, body TEXT, n INTEGER)")
        conn.execute("INSERT INTO posts VALUES (1, ?, 5), (2, 'none', 6)", (TEXT,))
    database = parse_database_url(f"sqlite:///{source}")
    out = io.BytesIO()
    result = dump_with_engine(database, out, DumpOptions())
    out.seek(0)
    target = database.replace(name=str(tmp_path / "target.db"))
    installed = install_with_engine(target, out, InstallOptions(format=result.format, manifest=result.tables,
                                                                yes=True, rewriter=replacer()))
    assert installed.rewritten_values == 1
    with sqlite3.connect(tmp_path / "target.db") as conn:
        rows = conn.execute("SELECT body, n FROM posts ORDER BY id").fetchall()
    assert rows == [(TEXT.replace("https://prod.example", "http://local.test:8080"), 5), ("none", 6)]


def _raising_rewrite(value: bytes) -> bytes:
    raise KeyError("home")


#: A plugin's rewrite gone wrong, and the error the install stops with.
BROKEN_REWRITES: dict[str, tuple[Callable[[bytes], object], str]] = {
    "raises": (_raising_rewrite, "plugin rw failed in the rewrite of its value_rewriter: KeyError: 'home'"),
    "returns a str": (lambda value: value.decode(), "plugin rw's value_rewriter rewrote a value to a str, not bytes"),
    "returns None": (lambda value: None, "plugin rw's value_rewriter rewrote a value to a NoneType, not bytes"),
}


@pytest.mark.mysql
@pytest.mark.postgres
@pytest.mark.hook("value_rewriter")
@pytest.mark.parametrize("engine", ["sqlite", "mysql", "postgresql"])
@pytest.mark.parametrize("broken", BROKEN_REWRITES, ids=list(BROKEN_REWRITES))
def test_broken_rewrite_stops_the_install_naming_the_plugin(
        plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
        request: pytest.FixtureRequest, engine: str, broken: str) -> None:
    """The rewrite runs inside the engine's load, long after value_rewriter returned: its exception reached the
    user as the engine's (SQLite: "user-defined function raised exception", naming nothing), and a value
    rewritten to a str or None was loaded as that, a NULL where the text was, and the install reported success.
    Now the install stops naming the plugin, and the target keeps what it had."""
    rewrite, message = BROKEN_REWRITES[broken]

    class Broken:
        @hookimpl
        def value_rewriter(self) -> ValueRewriter:
            return ValueRewriter(needles=(OLD,), rewrite=rewrite)  # type: ignore[arg-type]

    register_plugin(Broken(), "rw")
    source = database_from_script(engine, ["CREATE TABLE posts (id INT PRIMARY KEY, body TEXT)",
                                           "INSERT INTO posts VALUES (1, 'see https://prod.example/x')"],
                                  request, tmp_path / "source.db")
    target = database_from_script(engine, ["CREATE TABLE kept (id INT PRIMARY KEY)", "INSERT INTO kept VALUES (7)"],
                                  request, tmp_path / "target.db")
    rewriter = install_rewriter(Framework(name="F", plugin="f", project_dir=tmp_path), {}, plugin_manager)
    out = io.BytesIO()
    result = dump_with_engine(source, out, DumpOptions())
    out.seek(0)
    with pytest.raises(SyncoError) as refused:
        install_with_engine(target, out, InstallOptions(format=result.format, manifest=result.tables, yes=True,
                                                        rewriter=rewriter))
    assert message in str(refused.value)
    with connect_with_engine(target) as reader:
        assert list(reader.rows("SELECT id FROM kept")) == [(7,)]


@pytest.mark.hook("value_rewriter")
def test_rewriter_with_text_needles_is_refused_naming_the_plugin(
        plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """Needles as text ("https://prod.example") are never in the bytes the engines search; the install failed
    with a TypeError from inside the engine. The answer is refused where it is given, like one of the wrong type."""
    class Text:
        @hookimpl
        def value_rewriter(self) -> ValueRewriter:
            return ValueRewriter(needles=("https://prod.example",), rewrite=lambda v: v)  # type: ignore[arg-type]

    register_plugin(Text(), "text")
    with caplog.at_level("WARNING", logger="synco_core.rewriting"):
        assert install_rewriter(Framework(name="F", plugin="f", project_dir=tmp_path), {}, plugin_manager) is None
    assert [r.getMessage() for r in caplog.records] == [
        "plugin text answered value_rewriter with a ValueRewriter whose needles are not bytes or whose rewrite is "
        "not a function; ignored"]


# -- the hooks


class Publisher:
    """A plugin publishing a setting on the source and rewriting with it on the destination."""

    @hookimpl
    def source_settings(self, framework: Framework) -> dict[str, str] | None:
        return {"url": "https://prod.example"} if framework.plugin == "fake" else None

    @hookimpl
    def value_rewriter(self, framework: Framework, source_settings: Any) -> ValueRewriter | None:
        url = source_settings.get("publisher", {}).get("url")
        if framework.plugin != "fake" or not url:
            return None
        if not framework.site_url:
            raise ConfigError("the local URL is not known: pass --site-url")
        return replacer(url.encode(), framework.site_url.encode())


class Framer:
    def __init__(self, database_url: str, web_root: Path) -> None:
        self.url = database_url
        self.web_root = web_root

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        if not (project_dir / "fake.txt").exists():
            return None
        url = (project_dir / "fake.txt").read_text().strip()
        return Framework(name="Fake", plugin="fake", project_dir=project_dir, web_root=project_dir,
                         database=parse_database_url(url, base_dir=project_dir), reason="fake.txt")

    @hookimpl
    def list_file_sets(self, framework: Framework) -> list[FileSet] | None:
        return []


def test_source_settings_collected_by_plugin_name(plugin_manager: SyncoPluginManager,
                                                  register_plugin: Callable[[object, str], None],
                                                  tmp_path: Path) -> None:
    register_plugin(Publisher(), "publisher")
    framework = Framework(name="Fake", plugin="fake", project_dir=tmp_path)
    assert collect_source_settings(framework, plugin_manager) == {"publisher": {"url": "https://prod.example"}}
    other = Framework(name="Other", plugin="other", project_dir=tmp_path)
    assert collect_source_settings(other, plugin_manager) == {}


def test_value_rewriters_are_joined(plugin_manager: SyncoPluginManager) -> None:
    first = replacer(b"a", b"b")
    second = replacer(b"b", b"c")
    joined = combine([first, second])
    assert joined is not None and joined.needles == (b"a", b"b")
    assert joined.rewrite(b"a") == b"c" and joined.rewrite(b"xyz") == b"xyz"
    assert combine([]) is None
    assert install_rewriter(Framework(name="F", plugin="f", project_dir=Path(".")), {}, plugin_manager) is None


@pytest.mark.mysql
def test_source_settings_travel_to_value_rewriter_through_serve_and_install(
        plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
        mysql_database_factory: Callable[[], str], web_server: Callable[[Path], str]) -> None:
    """serve publishes the plugins' source settings with the dump; install hands them to value_rewriter, whose
    rewriter the engine applies; without the local URL the install refuses before changing anything."""
    from synco_core.testing.services import mysql_url_for, serve_receive_install

    source_db, target_db = mysql_database_factory(), mysql_database_factory()
    conn = mysql_admin_connection(source_db)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        cur.execute("INSERT INTO t VALUES (1, 'https://prod.example/page'), (2, 'other')")
    conn.close()
    source, project = tmp_path / "source", tmp_path / "project"
    for folder, db in ((source, source_db), (project, target_db)):
        folder.mkdir()
        (folder / "fake.txt").write_text(mysql_url_for(db))
    register_plugin(Framer("", source), "framer")
    register_plugin(Publisher(), "publisher")
    received = tmp_path / "received"
    with pytest.raises(AssertionError, match="pass --site-url"):
        serve_receive_install(source, web_server(source), received, project)
    # Nothing was changed by the refused install.
    conn = mysql_admin_connection(target_db)
    with conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        assert cur.fetchall() == ()
    conn.close()
    assert load_received(received).sets[0].source_settings == {"publisher": {"url": "https://prod.example"}}
    install_received(received, project, yes=True, site_url="http://local.test:8080", echo=lambda line: None)
    conn = mysql_admin_connection(target_db)
    with conn.cursor() as cur:
        cur.execute("SELECT v FROM t ORDER BY id")
        assert [row[0] for row in cur.fetchall()] == ["http://local.test:8080/page", "other"]
    conn.close()


# -- the settings on the wire: meta, the streamed pull's announcement, the install of a streamed dump


def test_source_settings_in_the_meta_round_trip_and_are_checked() -> None:
    from synco_core.wire import DumpInfo, WireFormatError

    info = DumpInfo(file_name="dump.sql.enc", size_bytes=1, source_settings={"wordpress": {"home": "https://a.b"}})
    assert DumpInfo.from_json(info.to_json(), "meta").source_settings == {"wordpress": {"home": "https://a.b"}}
    assert "sourceSettings" not in DumpInfo(file_name="d.enc", size_bytes=1).to_json(), "absent when empty"
    with pytest.raises(WireFormatError, match="sourceSettings"):
        DumpInfo.from_json({"fileName": "d.enc", "sourceSettings": {"wordpress": {"home": 1}}}, "meta")


def test_streamed_dump_carries_source_settings_to_the_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               plugin_manager: SyncoPluginManager,
                                                               register_plugin: Callable[[object, str], None]) -> None:
    """``pull --install --yes`` starts loading when the stream opens: the settings come with the announcement."""
    from test_dumpstream import Artifact

    import synco_core.install.streamed as install_module
    from synco_core.pull.dumpstream import DumpStream

    artifact = Artifact(tmp_path / "session", b"-- a dump\n")
    stream = DumpStream(tmp_path / "received")
    stream.open({**artifact.announcement(), "sourceSettings": {"publisher": {"url": "https://prod.example"}}})
    assert stream.source_settings == {"publisher": {"url": "https://prod.example"}}
    stream.abort()
    project = tmp_path / "project"
    project.mkdir()
    (project / "fake.txt").write_text(f"sqlite:///{tmp_path / 'local.db'}")
    register_plugin(Framer("", project), "framer")
    started: list[Any] = []

    class Recorded:
        """Stands in for the early install: records the set it was given; its start() loads nothing."""

        def __init__(self, framework: Any, item: Any, **kwargs: Any) -> None:
            started.append(item)

        def start(self) -> None:
            pass

    monkeypatch.setattr(install_module, "EarlyDatabaseInstall", Recorded)
    installer = install_module.ReceiveInstall(project, yes=True, site_url="http://local.test:8080")
    assert installer.framework.site_url == "http://local.test:8080"
    stream.engine = "sqlite"
    installer.start_streamed(stream)
    assert started and started[0].source_settings == {"publisher": {"url": "https://prod.example"}}
