"""A framework's named databases (``Framework.databases``): listed by ``detect``, dumped only when ``serve
--only dbDump-<name>`` asks, installed into the local database of the same name, rolled back with the rest.

The projects are made by a small test plugin from a ``twodb.json`` file naming the default database, the
named ones and the web root; the databases are real (SQLite files, and MariaDB beside PostgreSQL).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from synco_core import DatabaseInventory, DumpOptions, Framework, hookimpl, parse_database_url
from synco_core.cli.main import cli
from synco_core.plugins import SyncoPluginManager
from synco_core.testing.services import mysql_admin_connection, postgres_admin_connection

Register = Callable[[object, str], None]
Serve = Callable[[Path], str]


class TwoDatabases:
    """Detects ``twodb.json``; its profile leaves out the rows of ``sessions`` wherever that table exists."""

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        config = project_dir / "twodb.json"
        if not config.exists():
            return None
        data = json.loads(config.read_text())
        return Framework(
            name="TwoDb", plugin="twodb", project_dir=project_dir, reason="twodb.json found",
            database=parse_database_url(data["default"], base_dir=project_dir),
            databases={name: parse_database_url(url, base_dir=project_dir)
                       for name, url in data.get("databases", {}).items()},
            web_root=project_dir / "public",
        )

    @hookimpl
    def default_dump_options(self, framework: Framework, inventory: DatabaseInventory | None) -> DumpOptions | None:
        if framework.plugin != "twodb":
            return None
        return DumpOptions(exclude_tables=("sessions",))


@pytest.fixture
def twodb(plugin_manager: SyncoPluginManager, register_plugin: Register) -> SyncoPluginManager:
    register_plugin(TwoDatabases(), "twodb")
    return plugin_manager


def sqlite_db(path: Path, *statements: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement)
    conn.close()
    return f"sqlite:///{path}"


def sqlite_rows(path: Path, query: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return [tuple(row) for row in conn.execute(query)]
    finally:
        conn.close()


def project(root: Path, default: str, databases: dict[str, str]) -> Path:
    (root / "public").mkdir(parents=True, exist_ok=True)
    (root / "twodb.json").write_text(json.dumps({"default": default, "databases": databases}))
    return root


def run(*args: str, cwd: Path | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> Result:
    if cwd is not None and monkeypatch is not None:
        monkeypatch.chdir(cwd)
    return CliRunner().invoke(cli, list(args))


def sqlite_pair(tmp_path: Path, label: str, value: str) -> Path:
    root = tmp_path / label
    main = sqlite_db(root / "var/main.db", "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT)",
                     f"INSERT INTO posts VALUES (1, 'post on {value}')",
                     "CREATE TABLE sessions (id TEXT PRIMARY KEY, payload TEXT)",
                     f"INSERT INTO sessions VALUES ('s1', 'session of {value}')")
    logs = sqlite_db(root / "var/logs.db", "CREATE TABLE hits (id INTEGER PRIMARY KEY, path TEXT)",
                     f"INSERT INTO hits VALUES (1, '/from/{value}')")
    return project(root, main, {"logs": logs})


def serve(source: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[Result, str, str]:
    served = run("serve", "--keep", *args, cwd=source, monkeypatch=monkeypatch)
    match = re.search(r"synco receive (\S+) (AGE-SECRET-KEY-\S+)", served.output)
    return served, (match.group(1) if match else ""), (match.group(2) if match else "")


def meta_sets(source: Path, session: str, key: str, web_server: Serve, tmp_path: Path) -> list[str]:
    """The file sets of a session, as a receive of all of them sees them."""
    target = tmp_path / f"received-{session}"
    got = run("receive", session, key, "--base-url", web_server(source / "public"), "--all", "--target", str(target))
    assert got.exit_code == 0, got.output
    record = json.loads((target / ".synco-received.json").read_text())
    return [entry["name"] for entry in record["fileSets"]]


def test_detect_lists_named_databases(twodb: SyncoPluginManager, tmp_path: Path) -> None:
    source = sqlite_pair(tmp_path, "source", "prod")
    result = run("detect", "--json", str(source))
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert list(info["namedDatabases"]) == ["dbDump-logs"]
    assert info["namedDatabases"]["dbDump-logs"]["engine"] == "sqlite"
    text = run("detect", str(source)).stdout
    assert f"Not dumped: sqlite:///{source}/var/logs.db  [serve --only dbDump-logs]" in text


def test_named_database_only_when_asked(twodb: SyncoPluginManager, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch, web_server: Serve) -> None:
    source = sqlite_pair(tmp_path, "source", "prod")
    served, session, key = serve(source, monkeypatch)
    assert served.exit_code == 0, served.output
    assert meta_sets(source, session, key, web_server, tmp_path) == ["dbDump"]
    served, session, key = serve(source, monkeypatch, "--only", "dbDump,dbDump-logs")
    assert served.exit_code == 0, served.output
    assert meta_sets(source, session, key, web_server, tmp_path) == ["dbDump", "dbDump-logs"]
    folder = source / "public" / session
    assert sorted(p.name for p in folder.glob("dump*")) == ["dump-logs.sqlite.zst.enc", "dump.sqlite.zst.enc"]
    served, session, key = serve(source, monkeypatch, "--only", "dbDump-logs")
    assert served.exit_code == 0, served.output
    assert meta_sets(source, session, key, web_server, tmp_path) == ["dbDump-logs"]


def test_unknown_named_database_is_one_line(twodb: SyncoPluginManager, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    source = sqlite_pair(tmp_path, "source", "prod")
    before = sorted(p.name for p in (source / "public").iterdir())
    served, _, _ = serve(source, monkeypatch, "--only", "dbDump-nope")
    assert served.exit_code == 1
    assert served.stderr.strip().splitlines()[-1] == (
        "Error: --only dbDump-nope: the TwoDb project has no such database (databases: dbDump, dbDump-logs)")
    assert sorted(p.name for p in (source / "public").iterdir()) == before, "nothing published"


def test_compat_refuses_named_databases(twodb: SyncoPluginManager, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    source = sqlite_pair(tmp_path, "source", "prod")
    served, _, _ = serve(source, monkeypatch, "--compat", "--only", "dbDump-logs")
    assert served.exit_code == 1
    assert "Go synco v2 knows one database per session (dbDump); leave dbDump-logs out" in served.stderr


def test_plan_shows_named_database(twodb: SyncoPluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = sqlite_pair(tmp_path, "source", "prod")
    result = run("serve", "--plan", "--json", "--only", "dbDump,dbDump-logs", cwd=source, monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert [t["name"] for t in plan["tables"]] == ["posts", "sessions"]
    assert [t["rows"] for t in plan["tables"]] == ["all", "none"]
    (named,) = plan["named_databases"]
    assert named["name"] == "dbDump-logs" and [t["name"] for t in named["tables"]] == ["hits"]
    assert named["rules"] == [], "the profile's sessions table is not in this database: its rule is left out"
    text = run("serve", "--plan", "--only", "dbDump-logs", cwd=source, monkeypatch=monkeypatch).stdout
    assert f"Database dbDump-logs: sqlite:///{source}/var/logs.db" in text


def test_install_and_rollback_of_named_database(twodb: SyncoPluginManager, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch, web_server: Serve) -> None:
    source = sqlite_pair(tmp_path, "source", "prod")
    local = sqlite_pair(tmp_path, "local", "laptop")
    served, session, key = serve(source, monkeypatch, "--only", "dbDump,dbDump-logs")
    assert served.exit_code == 0, served.output
    installed = run("receive", session, key, "--base-url", web_server(source / "public"), "--all",
                    "--target", str(tmp_path / "received"), "--install", "--yes", cwd=local, monkeypatch=monkeypatch)
    assert installed.exit_code == 0, installed.output
    assert "Installed database" in installed.output and "(dbDump-logs)" in installed.output
    assert sqlite_rows(local / "var/main.db", "SELECT title FROM posts") == [("post on prod",)]
    assert sqlite_rows(local / "var/main.db", "SELECT COUNT(*) FROM sessions") == [(0,)]
    assert sqlite_rows(local / "var/logs.db", "SELECT path FROM hits") == [("/from/prod",)]
    rolled = run("db", "rollback", "--yes", cwd=local, monkeypatch=monkeypatch)
    assert rolled.exit_code == 0, rolled.output
    assert f"Put back database sqlite:///{local}/var/logs.db" in rolled.output
    assert sqlite_rows(local / "var/main.db", "SELECT title FROM posts") == [("post on laptop",)]
    assert sqlite_rows(local / "var/logs.db", "SELECT path FROM hits") == [("/from/laptop",)]


def test_local_project_without_that_database(twodb: SyncoPluginManager, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, web_server: Serve) -> None:
    source = sqlite_pair(tmp_path, "source", "prod")
    local = project(tmp_path / "local", sqlite_db(tmp_path / "local/var/main.db", "CREATE TABLE t (id INTEGER)"), {})
    served, session, key = serve(source, monkeypatch, "--only", "dbDump,dbDump-logs")
    assert served.exit_code == 0, served.output
    received = tmp_path / "received"
    got = run("receive", session, key, "--base-url", web_server(source / "public"), "--all", "--target", str(received))
    assert got.exit_code == 0, got.output
    installed = run("install", str(received), "--project", str(local), "--yes")
    assert installed.exit_code == 1
    assert installed.stderr.strip() == ("Error: the local TwoDb project has no database 'logs' to install "
                                        "dbDump-logs into (leave it out with --only)")
    assert sqlite_rows(local / "var/main.db", "SELECT COUNT(*) FROM t") == [(0,)], "nothing was installed"
    partial = run("install", str(received), "--project", str(local), "--yes", "--only", "dbDump")
    assert partial.exit_code == 0, partial.output


def test_failed_named_install_undoes_the_default_one(twodb: SyncoPluginManager, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch, web_server: Serve) -> None:
    """All or nothing across databases: the named one fails to load, so the default one is rolled back."""
    source = sqlite_pair(tmp_path, "source", "prod")
    local = sqlite_pair(tmp_path, "local", "laptop")
    served, session, key = serve(source, monkeypatch, "--only", "dbDump,dbDump-logs")
    assert served.exit_code == 0, served.output
    received = tmp_path / "received"
    assert run("receive", session, key, "--base-url", web_server(source / "public"), "--all",
               "--target", str(received)).exit_code == 0
    (received / "dbDump-logs.sqlite").write_bytes(b"not a database at all")
    installed = run("install", str(received), "--project", str(local), "--yes")
    assert installed.exit_code == 1
    assert sqlite_rows(local / "var/main.db", "SELECT title FROM posts") == [("post on laptop",)]
    assert sqlite_rows(local / "var/logs.db", "SELECT path FROM hits") == [("/from/laptop",)]


@pytest.mark.mysql
@pytest.mark.postgres
def test_mariadb_default_and_postgresql_named(twodb: SyncoPluginManager, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              mysql_database_factory: Callable[[], str],
                                              postgres_database_factory: Callable[[], str], web_server: Serve) -> None:
    """A named database of another engine than the default one, each dumped and loaded by its own engine."""
    from synco_core.testing.services import mysql_url_for, postgres_url_for

    names = {side: (mysql_database_factory(), postgres_database_factory()) for side in ("source", "local")}
    for side, (mysql_name, pg_name) in names.items():
        conn = mysql_admin_connection(mysql_name)
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE posts (id INT PRIMARY KEY, title VARCHAR(50))")
            cur.execute("INSERT INTO posts VALUES (1, %s)", (f"{side} post",))
            cur.execute("CREATE TABLE sessions (id VARCHAR(20) PRIMARY KEY)")
            cur.execute("INSERT INTO sessions VALUES (%s)", (side,))
        conn.close()
        pg = postgres_admin_connection(pg_name)
        pg.execute("CREATE TABLE events (id INT PRIMARY KEY, kind TEXT)")
        pg.execute("INSERT INTO events VALUES (1, %s)", (f"{side} event",))
        pg.execute("CREATE TABLE sessions (id TEXT PRIMARY KEY)")
        pg.execute("INSERT INTO sessions VALUES (%s)", (side,))
        pg.close()
        project(tmp_path / side, mysql_url_for(mysql_name), {"events": postgres_url_for(pg_name)})
    source, local = tmp_path / "source", tmp_path / "local"
    served, session, key = serve(source, monkeypatch, "--only", "dbDump,dbDump-events")
    assert served.exit_code == 0, served.output
    installed = run("receive", session, key, "--base-url", web_server(source / "public"), "--all",
                    "--target", str(tmp_path / "received"), "--install", "--yes", cwd=local, monkeypatch=monkeypatch)
    assert installed.exit_code == 0, installed.output
    conn = mysql_admin_connection(names["local"][0])
    with conn.cursor() as cur:
        cur.execute("SELECT title FROM posts")
        assert cur.fetchall() == (("source post",),)
        cur.execute("SELECT COUNT(*) FROM sessions")
        assert cur.fetchone() == (0,)
    conn.close()
    pg = postgres_admin_connection(names["local"][1])
    assert pg.execute("SELECT kind FROM events").fetchall() == [("source event",)]
    assert pg.execute("SELECT COUNT(*) FROM sessions").fetchone() == (0,), "the profile applies to every database"
    pg.close()


@pytest.mark.parametrize("logs_url, words", [
    ("mysql://root@db.example.com:3306/logs", "not on this machine"),
    ("mysql://root@127.0.0.1:1/logs", "'logs'"),
    ("sqlite:///twodb.json/logs.db", "'logs'"),  # its folder would be a file: not writable
])
@pytest.mark.parametrize("only", [(), ("--only", "dbDump,dbDump-logs")])
def test_every_database_of_the_install_is_checked_before_downloading(
        twodb: SyncoPluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, web_server: Serve,
        logs_url: str, words: str, only: tuple[str, ...]) -> None:
    """The second database is remote, unreachable or not writable: refused in one line naming it, before the
    first byte of any set is downloaded (with --only it is known at once; without, from the session's meta)."""
    source = sqlite_pair(tmp_path, "source", "prod")
    local = sqlite_pair(tmp_path, "local", "laptop")
    (local / "twodb.json").write_text(json.dumps({"default": f"sqlite:///{local}/var/main.db",
                                                  "databases": {"logs": logs_url}}))
    served, session, key = serve(source, monkeypatch, "--only", "dbDump,dbDump-logs")
    assert served.exit_code == 0, served.output
    target = tmp_path / "received"
    got = run("receive", session, key, "--base-url", web_server(source / "public"), *(only or ("--all",)),
              "--target", str(target), "--install", "--yes", cwd=local, monkeypatch=monkeypatch)
    assert got.exit_code == 1, got.output
    errors = [line for line in got.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "logs" in errors[0] and words in errors[0], got.stderr
    assert "Traceback" not in got.stderr
    assert not target.exists() or not any(p for p in target.rglob("*") if p.is_file()), "nothing was downloaded"
    assert sqlite_rows(local / "var/main.db", "SELECT title FROM posts") == [("post on laptop",)]
