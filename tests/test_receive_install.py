"""``synco receive --install``: receive over real HTTP, then install into a local project, all or nothing.

The source is the fixture app (real SQLite engine) or an app on a real MariaDB database; the local project
points at another throw-away database. Checked: the installed content equals the source (except sanitised
columns), nothing changes when the install is not confirmed, when the receive failed, or when the install
breaks in the middle, and a remote local database is refused before anything is downloaded.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from test_receive_support import LOCAL_MARKER, MYSQL_MARKER, LocalProject, MysqlSource
from test_transfer_support import FixturePlugin, make_app, publish, static_server, tree_digest

from synco_core.cli.main import cli
from synco_core.serve import SessionKey
from synco_core.testing.services import mysql_admin_connection, mysql_url_for

SESSION = "synco-installtest0123456789"


def build(app: Path, **options: Any) -> SessionKey:
    key: SessionKey = publish(app, SESSION, **options)
    return key


def rows(path: Path) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT id, name FROM items ORDER BY id").fetchall()


def make_local(root: Path, url: str = "sqlite:///local.sqlite") -> Path:
    """The laptop's project: an older database and older files, all of which an install replaces."""
    (root / "web" / "uploads").mkdir(parents=True)
    (root / "private").mkdir()
    (root / LOCAL_MARKER).write_text(url)
    if url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(root / "local.sqlite")) as conn, conn:
            conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
            conn.executemany("INSERT INTO items (name) VALUES (?)", [("local 1",), ("local 2",)])
    (root / "web" / "uploads" / "old.txt").write_text("old upload\n")
    (root / "private" / "old.txt").write_text("old private\n")
    return root


def local_state(local: Path) -> dict[str, str]:
    """Every byte of the local project, to check that nothing changed."""
    return tree_digest(local)


@pytest.fixture
def sqlite_app(tmp_path: Path, register_plugin: Callable[[object, str], None]) -> Path:
    register_plugin(FixturePlugin(engine="sqlite"), "fixture")
    return make_app(tmp_path / "app")


def receive(url: str, key: str, target: Path, local: Path, *extra: str) -> Result:
    return CliRunner().invoke(cli, ["receive", SESSION, key, "--base-url", url, "--target", str(target),
                                    "--project", str(local), *extra])


def test_receive_install_sqlite_end_to_end(sqlite_app: Path, tmp_path: Path,
                                           register_plugin: Callable[[object, str], None]) -> None:
    register_plugin(LocalProject(), "localproject")
    key = build(sqlite_app)
    local = make_local(tmp_path / "local")
    target = tmp_path / "dump"
    with static_server(sqlite_app / "web") as (url, _):
        result = receive(url, key.secret, target, local, "--all", "--install", "--yes", "--post-install")
    assert result.exit_code == 0, result.output
    with contextlib.closing(sqlite3.connect(sqlite_app / "app.sqlite")) as source, \
            contextlib.closing(sqlite3.connect(local / "local.sqlite")) as installed:
        query = "SELECT id, name, blob FROM items ORDER BY id"
        assert source.execute(query).fetchall() == installed.execute(query).fetchall()
    expected = tree_digest(sqlite_app / "web" / "uploads")
    del expected["skip.tmp"]
    assert tree_digest(local / "web" / "uploads") == expected
    assert tree_digest(local / "private") == tree_digest(sqlite_app / "private")
    assert (local / "post-install.txt").read_text() == "done"
    assert "Installed database" in result.output


def test_install_without_terminal_and_without_yes_changes_nothing(sqlite_app: Path, tmp_path: Path,
                                                                  register_plugin: Callable[[object, str], None]
                                                                  ) -> None:
    register_plugin(LocalProject(), "localproject")
    key = build(sqlite_app)
    local = make_local(tmp_path / "local")
    before = local_state(local)
    target = tmp_path / "dump"
    with static_server(sqlite_app / "web") as (url, behaviour):
        result = receive(url, key.secret, target, local, "--all", "--install")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "--yes" in lines[0]
    # Refused before anything was asked of the server or written.
    assert not behaviour.requests and not target.exists()
    assert local_state(local) == before


def test_install_broken_mid_way_leaves_the_local_project_unchanged(sqlite_app: Path, tmp_path: Path,
                                                                   register_plugin: Callable[[object, str], None]
                                                                   ) -> None:
    # The database and the public files are installed before the private set, which then fails.
    register_plugin(LocalProject(fail_on="private"), "localproject")
    key = build(sqlite_app)
    local = make_local(tmp_path / "local")
    before = local_state(local)
    with static_server(sqlite_app / "web") as (url, _):
        result = receive(url, key.secret, tmp_path / "dump", local, "--all", "--install", "--yes")
    assert result.exit_code == 1
    assert "disk full while installing private" in result.output
    assert rows(local / "local.sqlite") == [(1, "local 1"), (2, "local 2")]
    after = local_state(local)
    # The SQLite installer keeps the replaced database as a backup file beside it; everything else is as before.
    assert {k: v for k, v in after.items() if k in before} == before
    assert set(after) - set(before) <= {name for name in after if "synco" in name}


def flip_a_bit(artifact: Path) -> None:
    """Damage a published artifact, so that its download fails verification."""
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0x01
    artifact.write_bytes(bytes(data))


def test_failed_receive_installs_nothing(sqlite_app: Path, tmp_path: Path,
                                         register_plugin: Callable[[object, str], None]) -> None:
    register_plugin(LocalProject(), "localproject")
    key = build(sqlite_app)
    flip_a_bit(next((sqlite_app / "web" / SESSION).glob("dump.*.enc")))
    local = make_local(tmp_path / "local")
    before = local_state(local)
    with static_server(sqlite_app / "web") as (url, _):
        result = receive(url, key.secret, tmp_path / "dump", local, "--all", "--install", "--yes")
    assert result.exit_code == 1
    assert "Not installing: dbDump did not arrive complete" in result.output
    assert local_state(local) == before


def test_database_installed_early_is_rolled_back_when_a_later_set_fails(
        sqlite_app: Path, tmp_path: Path, register_plugin: Callable[[object, str], None]) -> None:
    """With --yes the database loads as soon as it arrives, as far as its swap; a set failing after it ends the
    load unswapped."""
    register_plugin(LocalProject(), "localproject")
    key = build(sqlite_app)
    flip_a_bit(sqlite_app / "web" / SESSION / "encrypted-resources-private")
    local = make_local(tmp_path / "local")
    before = local_state(local)
    with static_server(sqlite_app / "web") as (url, _):
        result = receive(url, key.secret, tmp_path / "dump", local, "--all", "--install", "--yes", "--debug")
    assert result.exit_code == 1, result.output
    assert "installing dbDump while the rest arrives" in result.output
    assert "Not installing: private did not arrive complete" in result.output
    assert rows(local / "local.sqlite") == [(1, "local 1"), (2, "local 2")]
    # The load waited at the dump's end for the rest of the install: the database was never replaced (nothing
    # to put back), and no file of the load is left.
    assert "put the previous content of sqlite:" not in result.output
    assert local_state(local) == before


def test_remote_local_database_is_refused_before_downloading(sqlite_app: Path, tmp_path: Path,
                                                             register_plugin: Callable[[object, str], None]) -> None:
    register_plugin(LocalProject(), "localproject")
    key = build(sqlite_app)
    local = make_local(tmp_path / "local", url="mysql://app:hunter2secret@db.example.com/app")
    target = tmp_path / "dump"
    with static_server(sqlite_app / "web") as (url, behaviour):
        result = receive(url, key.secret, target, local, "--all", "--install", "--yes")
    assert result.exit_code == 1
    assert "--force-remote-target" in result.output and "hunter2secret" not in result.output
    assert not behaviour.requests and not target.exists()


def test_install_takes_only_the_sets_of_this_receive(sqlite_app: Path, tmp_path: Path,
                                                     register_plugin: Callable[[object, str], None]) -> None:
    register_plugin(LocalProject(), "localproject")
    key = build(sqlite_app)
    local = make_local(tmp_path / "local")
    target = tmp_path / "dump"
    with static_server(sqlite_app / "web") as (url, _):
        first = receive(url, key.secret, target, local, "--only", "dbDump")
        assert first.exit_code == 0, first.output
        second = receive(url, key.secret, target, local, "--only", "uploads", "--install", "--yes")
    assert second.exit_code == 0, second.output
    # The dump an earlier receive left in the target is not installed by this one.
    assert rows(local / "local.sqlite") == [(1, "local 1"), (2, "local 2")]
    assert not (local / "web" / "uploads" / "old.txt").exists()
    assert (local / "web" / "uploads" / "ünïcode & space.txt").read_text() == "hello\n"


def test_install_options_need_install() -> None:
    result = CliRunner().invoke(cli, ["receive", "abc", "key", "--post-install"])
    assert result.exit_code == 2 and "go with --install" in result.output
    result = CliRunner().invoke(cli, ["receive", "abc", "key", "--plan", "--install"])
    assert result.exit_code == 2 and "--plan" in result.output


def _mysql(database: str, *statements: str) -> list[tuple[Any, ...]]:
    conn = mysql_admin_connection(database)
    try:
        with conn.cursor() as cur:
            result: list[tuple[Any, ...]] = []
            for statement in statements:
                cur.execute(statement)
                result = list(cur.fetchall())
        conn.commit()
        return result
    finally:
        conn.close()


def test_receive_install_mariadb_sanitised_end_to_end(tmp_path: Path, mysql_database_factory: Callable[[], str],
                                                      register_plugin: Callable[[object, str], None]) -> None:
    source_db, local_db = mysql_database_factory(), mysql_database_factory()
    _mysql(source_db,
           "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50), email VARCHAR(100) UNIQUE)",
           "INSERT INTO users VALUES " + ", ".join(f"({n}, 'user {n}', 'person{n}@real.example')"
                                                   for n in range(1, 41)))
    _mysql(local_db, "CREATE TABLE stale (id INT)", "INSERT INTO stale VALUES (1)")
    register_plugin(MysqlSource(), "mysqlsource")
    register_plugin(LocalProject(), "localproject")
    app = tmp_path / "app"
    (app / "web" / "uploads").mkdir(parents=True)
    (app / "web" / "uploads" / "logo.png").write_bytes(b"\x89PNG logo")
    (app / MYSQL_MARKER).write_text(mysql_url_for(source_db))
    key = build(app)
    local = make_local(tmp_path / "local", url=mysql_url_for(local_db))
    with static_server(app / "web") as (url, _):
        result = receive(url, key.secret, tmp_path / "dump", local, "--all", "--install", "--yes")
    assert result.exit_code == 0, result.output
    assert "rules the source applied to dbDump:" in result.output and "users.email -> email" in result.output
    installed = _mysql(local_db, "SELECT id, name, email FROM users ORDER BY id")
    original = _mysql(source_db, "SELECT id, name, email FROM users ORDER BY id")
    assert [(i, n) for i, n, _e in installed] == [(i, n) for i, n, _e in original]
    emails = [e for _i, _n, e in installed]
    assert len(set(emails)) == 40, "the email transform keeps uniqueness"
    assert not set(emails) & {e for _i, _n, e in original}, "no original value reaches the laptop"
    assert _mysql(local_db, "SHOW TABLES LIKE 'stale'") == []
    assert (local / "web" / "uploads" / "logo.png").read_bytes() == b"\x89PNG logo"


def test_a_streamed_install_whose_stream_breaks_installs_the_downloaded_dump(
        tmp_path: Path, mysql_database_factory: Callable[[], str],
        register_plugin: Callable[[object, str], None]) -> None:
    # pull --install --yes starts loading the dump while it streams in; when the stream breaks on this side,
    # receive downloads the finished artifact, and that is what gets installed.
    from test_dumpstream import Artifact, _flip
    from test_mysql_support import dump_bytes

    from synco_core.install.streamed import ReceiveInstall
    from synco_core.pull.dumpstream import DumpStream

    source_db, local_db = mysql_database_factory(), mysql_database_factory()
    _mysql(source_db, "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50))",
           "INSERT INTO items VALUES " + ", ".join(f"({n}, 'item {n}')" for n in range(1, 2001)))
    _mysql(local_db, "CREATE TABLE stale (id INT)")
    register_plugin(LocalProject(), "localproject")
    local = make_local(tmp_path / "local", url=mysql_url_for(local_db))
    plain, _result = dump_bytes(source_db)
    artifact = Artifact(tmp_path / "remote", plain)
    installer = ReceiveInstall(local, yes=True)
    target = tmp_path / "dump"
    stream = DumpStream(target, on_open=installer.start_streamed)
    stream.open(artifact.announcement())
    assert installer.database is not None and installer.database.stream is stream
    for chunk in _flip(artifact.chunks, len(artifact.chunks) - 1):
        stream.data(chunk)
    stream.close({"fileSet": artifact.file_set.to_json()})
    assert stream.take(artifact.file_set) is None
    # The dump arrives by download instead (receive's part), and receive says so.
    (target / "dbDump.sql").write_bytes(plain)
    installer.set_arrived(target, {"name": "dbDump", "kind": "database", "path": "dbDump.sql", "engine": "mysql",
                                   "format": "sql"})
    assert installer.database is not None and installer.database.stream is None
    result = installer.database.wait()
    assert result.rows == 2000
    assert _mysql(local_db, "SELECT COUNT(*), MAX(name) FROM items") == [(2000, "item 999")]
    stream.discard()


def test_install_words_without_a_terminal_and_sizes_as_downloaded(
        tmp_path: Path, mysql_database_factory: Callable[[], str],
        register_plugin: Callable[[object, str], None], monkeypatch: pytest.MonkeyPatch) -> None:
    """``install --plan`` shows the size the dump took to download (compressed, as receive counted it) beside
    what it unpacked to, names each sanitising rule with "sanitised" once, and install and rollback refuse
    with the same words when there is no terminal to ask on."""
    source_db, local_db = mysql_database_factory(), mysql_database_factory()
    _mysql(source_db, "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50), email VARCHAR(100), bio TEXT)",
           "INSERT INTO users VALUES " + ", ".join(f"({n}, 'user {n}', 'p{n}@real.example', '{'lorem ' * 40}')"
                                                   for n in range(1, 400)))
    _mysql(local_db, "CREATE TABLE stale (id INT)")
    register_plugin(MysqlSource(), "mysqlsource")
    register_plugin(LocalProject(), "localproject")
    app = tmp_path / "app"
    (app / "web" / "uploads").mkdir(parents=True)
    # A file on the server too: an empty set would not replace the local one (tests/test_install_empty_set.py).
    (app / "web" / "uploads" / "logo.png").write_bytes(b"server's")
    (app / MYSQL_MARKER).write_text(mysql_url_for(source_db))
    key = build(app)
    local = make_local(tmp_path / "local", url=mysql_url_for(local_db))
    target = tmp_path / "dump"
    with static_server(app / "web") as (url, _):
        result = receive(url, key.secret, target, local, "--all")
    assert result.exit_code == 0, result.output
    [artifact] = (app / "web" / SESSION).glob("dump.sql*.enc")
    downloaded, plain = artifact.stat().st_size, (target / "dbDump.sql").stat().st_size
    assert downloaded < plain / 2, "zstd makes the dump much smaller than its SQL"
    from synco_core.sizes import human_size

    assert f"dbDump (MysqlDump), {human_size(downloaded)}" in result.output
    monkeypatch.chdir(local)
    runner = CliRunner()
    plan = runner.invoke(cli, ["install", str(target), "--plan"])
    assert plan.exit_code == 0, plan.output
    assert f"<- dbDump ({human_size(downloaded)} downloaded, {human_size(plain)} of SQL)" in plan.output
    assert "      sanitised at the source: users.email -> email" in plan.output
    assert "sanitised at the source: sanitised" not in plan.output
    planned = runner.invoke(cli, ["install", str(target), "--plan", "--json"])
    database_step = next(step for step in json.loads(planned.stdout)["steps"] if step["kind"] == "database")
    assert (database_step["downloadBytes"], database_step["sizeBytes"]) == (downloaded, plain)

    # No terminal: install, receive --install and rollback all refuse in the same words, naming --yes.
    refused_install = runner.invoke(cli, ["install", str(target)])
    with static_server(app / "web") as (url, _):
        refused_receive = receive(url, key.secret, target, local, "--all", "--install")
    assert runner.invoke(cli, ["install", str(target), "--yes"]).exit_code == 0
    refused_rollback = runner.invoke(cli, ["db", "rollback"])
    expected = "Error: not confirmed: there is no terminal to ask on; pass --yes to {} without asking " \
               "(nothing was changed)"
    assert refused_install.output.strip() == expected.format("install"), refused_install.output
    assert refused_receive.output.strip() == expected.format("install"), refused_receive.output
    assert refused_rollback.output.strip() == expected.format("roll back"), refused_rollback.output
    assert _mysql(local_db, "SELECT COUNT(*) FROM users") == [(399,)], "the install went in, the rollback did not"
