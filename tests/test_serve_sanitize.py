"""Sanitising at the source: the smart transfer, ``--no-sanitize``, strict mode and what the meta records.

The project is a small app on a real SQLite database (the built-in SQLite engine dumps it, applying the
rules on a copy), detected by an in-test framework plugin whose dump options each test chooses. Other
serve test modules import :func:`make_sqlite_app` and :class:`SqliteAppPlugin` from here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard
from click.testing import CliRunner

from synco_core import age, hookimpl
from synco_core.cli.main import cli
from synco_core.detection import detect
from synco_core.dumpoptions import check_strict, resolve_session_dump, strict_violations
from synco_core.errors import ConfigError
from synco_core.serve import BuildOptions, SessionFolder, SessionKey, build_session
from synco_core.serve.runner import no_sanitize_warning
from synco_core.values import (
    DatabaseConfig,
    DatabaseInventory,
    DumpOptions,
    FileSet,
    FileSetOptions,
    Framework,
    SanitizeRule,
    TableInfo,
)
from synco_core.wire import META_FILE, DumpInfo, Meta

MARKER = "sqlite-app.txt"
EMAILS = ("ann@real.example", "ben@real.example")

PROFILE = DumpOptions(
    exclude_tables=("sessions",),
    sanitize=(SanitizeRule("users", "email", transform="email"), SanitizeRule("users", "password", transform="null")),
    smart_exclude_tables=("thumbs",),
    smart_where={"events": "kind = 'keep'"},
)


class SqliteAppPlugin:
    """Detects a folder holding :data:`MARKER`; its database is ``app.sqlite``, its dump options are given."""

    def __init__(self, options: DumpOptions) -> None:
        self.options = options

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        if not (project_dir / MARKER).exists():
            return None
        return Framework(name="SqliteApp", plugin="sqliteapp", project_dir=project_dir,
                         database=DatabaseConfig(engine="sqlite", name=str(project_dir / "app.sqlite")),
                         web_root=project_dir / "web", dump_options=self.options, reason="marker")

    @hookimpl
    def list_file_sets(self, framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
        if framework.plugin != "sqliteapp":
            return None
        root = framework.project_dir
        return [
            FileSet(name="uploads", kind="public", root=root / "web/uploads", url_prefix="uploads/",
                    relative_base_path="web/uploads"),
            FileSet(name="thumbs", kind="public", root=root / "web/thumbs", url_prefix="thumbs/",
                    relative_base_path="web/thumbs", smart_skip=True),
            FileSet(name="private", kind="private", root=root / "private", relative_base_path="private"),
        ]


def make_sqlite_app(root: Path) -> Path:
    """The app: users (personal), posts, sessions, thumbs (smart-excluded) and events (smart-filtered)."""
    (root / "web/uploads/a").mkdir(parents=True)
    (root / "web/thumbs").mkdir(parents=True)
    (root / "private").mkdir()
    (root / MARKER).write_text("app\n")
    (root / "web/uploads/one.txt").write_text("1" * 100)
    (root / "web/uploads/a/two.txt").write_text("2" * 50)
    (root / "web/thumbs/t.png").write_bytes(b"t" * 7)
    (root / "private/secret.txt").write_text("s" * 30)
    conn = sqlite3.connect(root / "app.sqlite")
    conn.executescript(f"""
        CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT, password TEXT);
        INSERT INTO users VALUES (1, 'Ann', '{EMAILS[0]}', 'pw-ann'), (2, 'Ben', '{EMAILS[1]}', 'pw-ben');
        CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT);
        INSERT INTO posts VALUES (1, 'First'), (2, 'Second');
        CREATE TABLE sessions (id TEXT PRIMARY KEY, payload TEXT);
        INSERT INTO sessions VALUES ('s1', 'session payload');
        CREATE TABLE thumbs (id INTEGER PRIMARY KEY, data BLOB);
        INSERT INTO thumbs VALUES (1, x'00'), (2, x'01');
        CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT);
        INSERT INTO events VALUES (1, 'keep'), (2, 'drop'), (3, 'keep');
        CREATE VIEW user_names AS SELECT name FROM users;
    """)
    conn.commit()
    conn.close()
    return root


@pytest.fixture(name="app_factory")
def app_factory_fixture(tmp_path: Path,
                        register_plugin: Callable[[object, str], None]) -> Callable[[DumpOptions], Path]:
    """``app_factory(options)``: a fresh app whose framework carries ``options`` as its dump options."""
    counter = iter(range(100))

    def make(options: DumpOptions) -> Path:
        register_plugin(SqliteAppPlugin(options), f"sqliteapp{next(counter)}")
        return make_sqlite_app(tmp_path / f"app{next(counter)}")

    return make


def read_artifact(path: Path, secret: str) -> bytes:
    """Decrypt (and decompress when zstd) one session artifact."""
    if secret.startswith("AGE-SECRET-KEY-"):
        identities: list[Any] = [age.parse_identity(secret)]
    else:
        identities = [age.ScryptIdentity(secret)]
    plain = age.decrypt_bytes(path.read_bytes(), identities)
    if plain.startswith(b"\x28\xb5\x2f\xfd"):
        plain = zstandard.ZstdDecompressor().stream_reader(plain).read()
    return plain


def read_meta(folder: Path, secret: str) -> Meta:
    return Meta.from_bytes(read_artifact(folder / META_FILE, secret))


def dumped_database(folder: Path, meta: Meta, secret: str, tmp_path: Path) -> sqlite3.Connection:
    dump = meta.file_set("dbDump")
    assert dump is not None and dump.dump is not None
    copy = tmp_path / f"dumped-{folder.name}.sqlite"
    copy.write_bytes(read_artifact(folder / dump.dump.file_name, secret))
    return sqlite3.connect(copy)


def build(app: Path, name: str, **options: Any) -> tuple[Path, Meta, SessionKey]:
    framework = detect(app)
    key = SessionKey.generate()
    folder = app / "web" / name
    meta = build_session(framework, SessionFolder(folder, key.recipients), BuildOptions(**options))
    return folder, meta, key


def test_smart_transfer_applies_unless_all(app_factory: Callable[[DumpOptions], Path], tmp_path: Path) -> None:
    app = app_factory(PROFILE)
    folder, meta, key = build(app, "synco-smart")
    db = dumped_database(folder, meta, key.secret, tmp_path)
    assert db.execute("SELECT COUNT(*) FROM thumbs").fetchone() == (0,), "smart-excluded table keeps no rows"
    assert db.execute("SELECT id FROM events ORDER BY id").fetchall() == [(1,), (3,)], "smart filter applied"
    assert db.execute("SELECT COUNT(*) FROM sessions").fetchone() == (0,)
    dump = meta.file_sets[0].dump
    assert dump is not None
    assert "thumbs: rows left out (structure only)" in dump.sanitize_rules
    assert "events: only rows where kind = 'keep'" in dump.sanitize_rules

    folder, meta, key = build(app, "synco-all", all=True)
    db = dumped_database(folder, meta, key.secret, tmp_path)
    assert db.execute("SELECT COUNT(*) FROM thumbs").fetchone() == (2,), "--all dumps the smart tables' rows"
    assert db.execute("SELECT COUNT(*) FROM events").fetchone() == (3,)
    assert db.execute("SELECT COUNT(*) FROM sessions").fetchone() == (0,), "--all keeps the profile's own excludes"


def test_sanitize_rules_applied_and_recorded(app_factory: Callable[[DumpOptions], Path], tmp_path: Path) -> None:
    app = app_factory(PROFILE)
    folder, meta, key = build(app, "synco-san")
    db = dumped_database(folder, meta, key.secret, tmp_path)
    users = db.execute("SELECT id, name, email, password FROM users ORDER BY id").fetchall()
    assert [u[1] for u in users] == ["Ann", "Ben"]
    assert not {u[2] for u in users} & set(EMAILS) and len({u[2] for u in users}) == 2
    assert [u[3] for u in users] == [None, None]
    on_disk = read_meta(folder, key.secret).file_set("dbDump")
    assert on_disk is not None and on_disk.dump is not None
    assert on_disk.dump.sanitized is True and on_disk.dump.strict is None
    assert "users.email -> email" in on_disk.dump.sanitize_rules
    assert "users.password -> null" in on_disk.dump.sanitize_rules


def test_no_sanitize_ships_raw_data_and_says_so(app_factory: Callable[[DumpOptions], Path], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    app = app_factory(PROFILE)
    monkeypatch.chdir(app)
    result = CliRunner().invoke(cli, ["serve", "--keep", "--no-sanitize", "--id", "raw0123456789abcdef"])
    assert result.exit_code == 0, result.output
    assert "WARNING: --no-sanitize" in result.stderr and "RAW personal data" in result.stderr
    assert "users.email" in result.stderr and "users.password" in result.stderr
    secret = result.stdout.split("synco receive synco-raw0123456789abcdef ", 1)[1].split()[0]
    folder = app / "web/synco-raw0123456789abcdef"
    meta = read_meta(folder, secret)
    dump = meta.file_set("dbDump")
    assert dump is not None and dump.dump is not None and dump.dump.sanitized is False
    assert not any("users.email" in rule for rule in dump.dump.sanitize_rules)
    db = dumped_database(folder, meta, secret, tmp_path)
    assert {row[0] for row in db.execute("SELECT email FROM users")} == set(EMAILS), "raw values shipped"
    assert db.execute("SELECT COUNT(*) FROM sessions").fetchone() == (0,), "tables without rows stay so"


def test_no_sanitize_warning_without_rules() -> None:
    framework = Framework(name="X", plugin="x", project_dir=Path("."))
    assert "no column rewrites were configured" in no_sanitize_warning(resolve_session_dump(framework, sanitize=False))


def inventory(*tables: TableInfo) -> DatabaseInventory:
    return DatabaseInventory(engine="sqlite", server_version="3", tables=list(tables))


def test_strict_violations_classification() -> None:
    options = DumpOptions(
        exclude_tables=("sessions",), keep=("posts", "users.id", "public.tags.id"),
        sanitize=(SanitizeRule("users", "email", transform="email"), SanitizeRule("public.tags", "label", "'x'")),
        strict=True,
    )
    found = strict_violations(options, inventory(
        TableInfo("users", ["id", "email", "phone"]),
        TableInfo("posts", ["id", "body"]),
        TableInfo("sessions", ["id", "payload"]),
        TableInfo("tags", ["id", "label"]),
        TableInfo("orders", ["id", "total"]),
        TableInfo("user_view", ["email"], kind="view"),
    ))
    assert found == ["users.phone", "orders"], "unclassified column, and a wholly unclassified table by name"


def test_check_strict_refuses_in_one_line_and_truncates(app_factory: Callable[[DumpOptions], Path]) -> None:
    app = app_factory(PROFILE)
    framework = detect(app)
    assert framework.database is not None
    options = resolve_session_dump(framework).options
    check_strict(framework.database, options)  # not strict: nothing is checked
    strict = DumpOptions(**{**options.__dict__, "strict": True})
    with pytest.raises(ConfigError) as refused:
        check_strict(framework.database, strict)
    message = str(refused.value)
    assert "\n" not in message
    assert "users.id" in message and "users.name" in message and "posts" in message and "events" in message
    assert "users.email" not in message and "thumbs" not in message and "sessions" not in message
    assert "user_names" not in message, "views are not checked"
    kept = DumpOptions(**{**strict.__dict__, "keep": ("users.id", "users.name", "posts", "events")})
    assert check_strict(framework.database, kept) is not None
    many = inventory(*(TableInfo(f"t{i}", ["a"]) for i in range(25)))
    with pytest.raises(ConfigError, match=r"25 table\(s\)/column\(s\).*t9 \(and 15 more\)"):
        check_strict(framework.database, strict, inventory=many)
    with pytest.raises(ConfigError, match="--no-sanitize is refused in strict mode"):
        check_strict(framework.database, kept, sanitize=False)


def test_serve_refuses_unclassified_column_before_writing(app_factory: Callable[[DumpOptions], Path],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    options = DumpOptions(**{**PROFILE.__dict__, "strict": True,
                             "keep": ("users.id", "users.name", "posts", "events", "thumbs")})
    app = app_factory(options)
    monkeypatch.chdir(app)
    ok = CliRunner().invoke(cli, ["serve", "--keep", "--id", "strict0123456789abcd"])
    assert ok.exit_code == 0, ok.output
    secret = ok.stdout.split("synco receive synco-strict0123456789abcd ", 1)[1].split()[0]
    dump = read_meta(app / "web/synco-strict0123456789abcd", secret).file_set("dbDump")
    assert dump is not None and dump.dump is not None and dump.dump.strict is True

    conn = sqlite3.connect(app / "app.sqlite")
    conn.execute("ALTER TABLE users ADD COLUMN phone TEXT")
    conn.commit()
    conn.close()
    before = sorted(p.name for p in (app / "web").iterdir())
    refused = CliRunner().invoke(cli, ["serve", "--keep", "--id", "strict2123456789abcd"])
    assert refused.exit_code == 1
    assert "users.phone" in refused.stderr and "strict sanitising: 1 table(s)/column(s)" in refused.stderr
    assert sorted(p.name for p in (app / "web").iterdir()) == before, "nothing written on refusal"
    raw = CliRunner().invoke(cli, ["serve", "--keep", "--no-sanitize", "--id", "strict3123456789abcd"])
    assert raw.exit_code == 1 and "--no-sanitize is refused in strict mode" in raw.stderr


def test_engine_without_rule_report_still_records_rules(app_factory: Callable[[DumpOptions], Path]) -> None:
    # build_session falls back to describing the options when an engine reports nothing; the SQLite
    # engine reports its own, so check the fallback's words match the engines' for the same options.
    from synco_core.dumpoptions import describe_rules

    words = describe_rules(PROFILE.effective())
    assert words == ["sessions: rows left out (structure only)", "thumbs: rows left out (structure only)",
                     "events: only rows where kind = 'keep'", "users.email -> email", "users.password -> null"]


def test_dump_info_sanitized_and_strict_round_trip() -> None:
    info = DumpInfo(file_name="dump.sql.enc", size_bytes=1, sanitized=False, strict=True, sanitize_rules=["a"])
    data = info.to_json()
    assert data["sanitized"] is False and data["strict"] is True
    assert DumpInfo.from_json(data, "t") == info
    assert "sanitized" not in DumpInfo(file_name="d", size_bytes=1).to_json(), "unset stays out (Go-style meta)"
