"""End to end, sanitising at the source: serve in a framework fixture, receive over HTTP, install locally.

Laravel on the real MariaDB (the framework's own profile plus a ``.synco.yml`` rule) and Symfony on the
real PostgreSQL (rules from ``.synco.yml`` only): after install, the target database equals the source
except the sanitised columns, none of which holds an original value, and no original value appears
anywhere in the downloaded dump. ``--no-sanitize`` ships the raw values and warns; strict mode refuses a
column added to the schema that no rule classifies.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from synco_core.cli.main import cli
from synco_core.install.run import install_received
from synco_core.receive import HttpTransport, ReceiveOptions, receive_session
from synco_core.receive.session import ReceiveSummary
from synco_core.testing.services import (
    POSTGRES_HOST,
    POSTGRES_PORT,
    POSTGRES_USER,
    mysql_admin_connection,
    postgres_admin_connection,
)

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"
LARAVEL = PLUGINS / "synco-laravel/tests/fixtures"
SYMFONY = PLUGINS / "synco-symfony/tests/fixtures"
EMAILS = (b"ann@real.example", b"ben@real.example")


def laravel_project(root: Path, database: str, synco_yml: str = "") -> Path:
    shutil.copytree(LARAVEL / "laravel11", root, symlinks=True)
    (root / "vendor").mkdir()
    shutil.copy(LARAVEL / "fake-laravel-framework.php", root / "vendor/autoload.php")
    env = [line for line in (root / ".env").read_text().splitlines() if not line.startswith("DB_")]
    env += ["DB_CONNECTION=mysql", "DB_HOST=127.0.0.1", "DB_PORT=3306", "DB_USERNAME=root", f"DB_DATABASE={database}"]
    (root / ".env").write_text("\n".join(env) + "\n")
    if synco_yml:
        (root / ".synco.yml").write_text(synco_yml)
    return root


def symfony_project(root: Path, database: str, synco_yml: str = "") -> Path:
    shutil.copytree(SYMFONY / "symfony7", root, symlinks=True)
    (root / "vendor").mkdir()
    shutil.copy(SYMFONY / "fake-symfony-runtime.php", root / "vendor/autoload_runtime.php")
    url = f"postgresql://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{database}?serverVersion=15&charset=utf8"
    (root / ".env.local").write_text(f'DATABASE_URL="{url}"\n')
    if synco_yml:
        (root / ".synco.yml").write_text(synco_yml)
    return root


def serve_keep(project: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[str, str, Any]:
    """``synco serve --keep`` in ``project``: (session, key, the click result)."""
    monkeypatch.chdir(project)
    result = CliRunner().invoke(cli, ["serve", "--keep", *args])
    assert result.exit_code == 0, result.output
    match = re.search(r"synco receive (\S+) (AGE-SECRET-KEY-\S+)", result.stdout)
    assert match, result.output
    return match.group(1), match.group(2), result


def receive(base_url: str, session: str, key: str, target: Path) -> ReceiveSummary:
    """Receive the database of the session (the file sets are the framework plugins' own tests' business)."""
    transport = HttpTransport(base_url)
    try:
        summary = receive_session(transport, session, key, ReceiveOptions(target=target, only=("dbDump",), timeout=30))
    finally:
        transport.close()
    assert summary.ok, summary.sets
    return summary


def mysql_rows(database: str, query: str) -> list[tuple[Any, ...]]:
    conn = mysql_admin_connection(database)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return [tuple(row) for row in cur.fetchall()]
    finally:
        conn.close()


LARAVEL_YML = """\
sanitize:
  columns:
    posts.editor_email: hash
"""


def create_laravel_source(database: str) -> None:
    conn = mysql_admin_connection(database)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(50), email VARCHAR(100),"
                    " password VARCHAR(100), remember_token VARCHAR(100))")
        cur.execute("INSERT INTO users VALUES (1, 'Ann', 'ann@real.example', 'h1', 'tok1'),"
                    " (5, 'Ben', 'ben@real.example', 'h2', 'tok2')")
        cur.execute("CREATE TABLE sessions (id VARCHAR(40) PRIMARY KEY, payload TEXT)")
        cur.execute("INSERT INTO sessions VALUES ('abc', 'ann@real.example logged in')")
        cur.execute("CREATE TABLE posts (id INT PRIMARY KEY, title VARCHAR(50), editor_email VARCHAR(100))")
        cur.execute("INSERT INTO posts VALUES (1, 'First', 'ann@real.example'), (2, 'Second', 'ben@real.example')")
    conn.close()


@pytest.mark.mysql
def test_laravel_mysql_sanitised_end_to_end(tmp_path: Path, mysql_database_factory: Callable[[], str],
                                            web_server: Callable[[Path], str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    source_db, target_db = mysql_database_factory(), mysql_database_factory()
    create_laravel_source(source_db)
    source = laravel_project(tmp_path / "source", source_db, LARAVEL_YML)
    target = laravel_project(tmp_path / "target", target_db)
    base_url = web_server(source / "public")

    session, key, _ = serve_keep(source, monkeypatch)
    summary = receive(base_url, session, key, tmp_path / "received")
    dump_set = summary.meta.file_set("dbDump")
    assert dump_set is not None and dump_set.dump is not None and dump_set.dump.sanitized is True
    rules = dump_set.dump.sanitize_rules
    assert any("users.email" in r for r in rules) and any("posts.editor_email" in r for r in rules)
    assert any(r.startswith("sessions") for r in rules)
    dump_bytes = (tmp_path / "received/dbDump.sql").read_bytes()
    assert b"INSERT" in dump_bytes
    for email in (*EMAILS, b"tok1", b"logged in"):
        assert email not in dump_bytes, f"{email!r} left the server"

    install_received(tmp_path / "received", target, yes=True, only=("dbDump",), echo=lambda _line: None)
    source_users = mysql_rows(source_db, "SELECT id, name, email, password, remember_token FROM users ORDER BY id")
    target_users = mysql_rows(target_db, "SELECT id, name, email, password, remember_token FROM users ORDER BY id")
    assert [u[0] for u in target_users] == [u[0] for u in source_users], "unsanitised columns are equal"
    assert [u[1] for u in target_users] == ["Demo User", "Demo User"], "names are personal data too"
    for before, after in zip(source_users, target_users, strict=True):
        assert not set(after[2:]) & set(before[2:]), f"a sanitised column kept its original value: {after}"
    assert len({u[2] for u in target_users}) == 2, "the email transform keeps addresses unique"
    source_posts = mysql_rows(source_db, "SELECT id, title, editor_email FROM posts ORDER BY id")
    target_posts = mysql_rows(target_db, "SELECT id, title, editor_email FROM posts ORDER BY id")
    assert [p[:2] for p in target_posts] == [p[:2] for p in source_posts]
    assert all(t[2] and t[2] != s[2] for s, t in zip(source_posts, target_posts, strict=True))
    assert mysql_rows(target_db, "SELECT COUNT(*) FROM sessions") == [(0,)]

    # --no-sanitize ships the raw column values, and says so.
    session, key, result = serve_keep(source, monkeypatch, "--no-sanitize")
    assert "WARNING: --no-sanitize" in result.stderr and "users.email" in result.stderr
    raw = receive(base_url, session, key, tmp_path / "raw")
    raw_set = raw.meta.file_set("dbDump")
    assert raw_set is not None and raw_set.dump is not None and raw_set.dump.sanitized is False
    raw_bytes = (tmp_path / "raw/dbDump.sql").read_bytes()
    assert all(email in raw_bytes for email in EMAILS)
    assert b"logged in" not in raw_bytes, "tables without rows stay without rows"


@pytest.mark.mysql
def test_laravel_strict_mode_refuses_a_new_column(tmp_path: Path, mysql_database_factory: Callable[[], str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    source_db = mysql_database_factory()
    create_laravel_source(source_db)
    strict_yml = LARAVEL_YML + "  strict: true\n  keep: [users.id, users.name, posts.id, posts.title]\n"
    source = laravel_project(tmp_path / "source", source_db, strict_yml)
    monkeypatch.chdir(source)
    plan = CliRunner().invoke(cli, ["serve", "--plan"])
    assert plan.exit_code == 0 and "strict mode: every table and column is masked" in plan.stdout, plan.output

    conn = mysql_admin_connection(source_db)
    with conn.cursor() as cur:
        cur.execute("ALTER TABLE users ADD COLUMN phone VARCHAR(30)")
    conn.close()
    refused = CliRunner().invoke(cli, ["serve", "--keep"])
    assert refused.exit_code == 1
    assert "strict sanitising" in refused.stderr and "users.phone" in refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith("Error: strict sanitising"), "a one-line error"
    assert not list((source / "public").glob("synco-*")), "nothing published"


@pytest.mark.postgres
def test_symfony_postgres_sanitised_end_to_end(tmp_path: Path, postgres_database_factory: Callable[[], str],
                                               web_server: Callable[[Path], str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    source_db, target_db = postgres_database_factory(), postgres_database_factory()
    conn = postgres_admin_connection(source_db)
    conn.execute("CREATE TABLE app_user (id INT PRIMARY KEY, name TEXT, email TEXT UNIQUE, password TEXT)")
    conn.execute("INSERT INTO app_user VALUES (1, 'Ann', 'ann@real.example', 'h1'),"
                 " (2, 'Ben', 'ben@real.example', 'h2')")
    conn.execute("CREATE TABLE product (id INT PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO product VALUES (1, 'Chair'), (2, 'Table')")
    conn.execute("CREATE TABLE login_log (id INT PRIMARY KEY, email TEXT)")
    conn.execute("INSERT INTO login_log VALUES (1, 'ann@real.example')")
    conn.close()
    yml = ("sanitize:\n  columns:\n    app_user.email: email\n    app_user.password: \"fixed:x\"\n"
           "  no_rows: [login_log]\n")
    source = symfony_project(tmp_path / "source", source_db, yml)
    target = symfony_project(tmp_path / "target", target_db)
    base_url = web_server(source / "public")

    session, key, _ = serve_keep(source, monkeypatch)
    summary = receive(base_url, session, key, tmp_path / "received")
    dump_set = summary.meta.file_set("dbDump")
    assert dump_set is not None and dump_set.dump is not None and dump_set.type == "PostgresDump"
    assert any("app_user.email" in r for r in dump_set.dump.sanitize_rules)
    dump_bytes = (tmp_path / "received/dbDump.sql").read_bytes()
    assert b"Chair" in dump_bytes
    assert not any(email in dump_bytes for email in EMAILS), "an original email left the server"

    install_received(tmp_path / "received", target, yes=True, only=("dbDump",), echo=lambda _line: None)
    conn = postgres_admin_connection(target_db)
    users = conn.execute("SELECT id, name, email, password FROM app_user ORDER BY id").fetchall()
    products = conn.execute("SELECT id, name FROM product ORDER BY id").fetchall()
    logins = conn.execute("SELECT COUNT(*) FROM login_log").fetchone()
    conn.close()
    assert [u[:2] for u in users] == [(1, "Ann"), (2, "Ben")]
    assert [u[3] for u in users] == ["x", "x"]
    assert not {u[2] for u in users} & {e.decode() for e in EMAILS} and len({u[2] for u in users}) == 2
    assert products == [(1, "Chair"), (2, "Table")]
    assert logins == (0,)
