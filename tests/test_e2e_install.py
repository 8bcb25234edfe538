"""End to end, installing into a framework project: ``receive --install --yes`` in one step, a broken
install, and ``synco db rollback`` in the project.

Laravel on the real MariaDB and Symfony on the real PostgreSQL. The local project (a second copy of the
fixture, with its own database holding local content) is installed into three times:

1. an install that breaks in a file set after the database was swapped in: exit 1, and the local
   database and every file of the project exactly as before;
2. a successful install: the database equals the source except the sanitised columns, which hold no
   original value, and the file sets equal the source's folders;
3. ``synco db rollback --yes`` run in the project: the previous database and folders are back.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_e2e_sanitize import (
    LARAVEL_YML,
    create_laravel_source,
    laravel_project,
    mysql_rows,
    serve_keep,
    symfony_project,
)

from synco_core import hookimpl
from synco_core.cli.main import cli
from synco_core.errors import SyncoError
from synco_core.plugins import SyncoPluginManager, build_plugin_manager, set_plugin_manager
from synco_core.testing.services import (
    mysql_admin_connection,
    postgres_admin_connection,
    postgres_databases_starting_with,
)
from synco_core.values import FilesInstallResult, Framework, ReceivedFileSet

Snapshot = dict[str, Any]


@pytest.fixture
def manager() -> Iterator[SyncoPluginManager]:
    """The installed plugins (Laravel, Symfony, ...) in a manager this test may add a plugin to."""
    built = build_plugin_manager()
    set_plugin_manager(built)
    yield built
    set_plugin_manager(None)


class BreakAfterDatabaseSwap:
    """Fails installing file set ``name``, once the database install running beside the files has loaded.

    With ``--yes``, ``receive --install`` loads the database while the files arrive, as far as the dump's end,
    and waits there for the files (before, it swapped at once); waiting for that here makes the failure come
    after the whole load, which must then end unswapped.
    """

    def __init__(self, name: str, database_swapped: Callable[[], bool]) -> None:
        self.name = name
        self.database_swapped = database_swapped
        self.saw_swapped_database = False
        self.saw_loaded_database = False

    @hookimpl(tryfirst=True)
    def install_files(self, framework: Framework, file_set: ReceivedFileSet,
                      source_dir: Path) -> FilesInstallResult | None:
        if file_set.name != self.name:
            return None
        for thread in threading.enumerate():
            if thread.name == "synco-install-database":
                load = thread._target.__self__  # the EarlyDatabaseInstall whose thread it is
                self.saw_loaded_database = load._holding.wait(120)
        self.saw_swapped_database = self.database_swapped()
        raise SyncoError(f"disk full while installing {file_set.name}")


def tree(root: Path, hidden_backups: bool = True) -> dict[str, str]:
    """Every file and link under ``root`` with its content (links: their target)."""
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if not hidden_backups and (".synco-previous" in relative or relative == ".synco-install.json"):
            continue
        if path.is_symlink():
            found[relative] = "-> " + str(path.readlink())
        elif path.is_file():
            found[relative] = path.read_text(errors="replace")
        elif path.is_dir():
            found[relative + "/"] = ""
    return found


def receive_install(session: str, key: str, base_url: str, received: Path, project: Path) -> Any:
    return CliRunner().invoke(cli, ["receive", session, key, "--base-url", base_url, "--all", "--install", "--yes",
                                    "--project", str(project), "--target", str(received), "--timeout", "30"])


def rollback_in(project: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(project)
    return CliRunner().invoke(cli, ["db", "rollback", "--yes"])


# ------------------------------------------------------------------------------------------- MariaDB


def install_broken_after_the_swap(manager: SyncoPluginManager, received: tuple[str, str, str, Path, Path],
                                  set_name: str, swapped_table: str, target_db: str,
                                  snapshot: Callable[[str], Snapshot], databases: Callable[[str], set[str]]
                                  ) -> tuple[Snapshot, dict[str, str]]:
    """``receive --install`` that fails on ``set_name`` after the database went in: everything as before.
    Returns the target's database and files as they were (and are again)."""
    session, key, base_url, folder, target = received
    before_db, before_files = snapshot(target_db), tree(target)
    breaker = BreakAfterDatabaseSwap(set_name, lambda: swapped_table in snapshot(target_db))
    manager.register(breaker, "breaker")
    broken = receive_install(session, key, base_url, folder, target)
    manager.unregister("breaker")
    assert broken.exit_code == 1, broken.output
    assert breaker.saw_loaded_database, "the failure came after the whole database was loaded"
    assert not breaker.saw_swapped_database, "the load waits for the files before its swap"
    assert f"Error: disk full while installing {set_name}" in broken.output
    assert snapshot(target_db) == before_db
    assert tree(target) == before_files
    # Neither a scratch database nor the failed install's content is left (kept, the next rollback would put
    # it in).
    assert databases(target_db) == {target_db}
    return before_db, before_files


def mysql_snapshot(database: str) -> Snapshot:
    tables = [row[0] for row in mysql_rows(database, "SHOW TABLES")]
    return {table: sorted(mysql_rows(database, f"SELECT * FROM `{table}`"), key=repr) for table in tables}


def mysql_databases(prefix: str) -> set[str]:
    return {row[0] for row in mysql_rows("mysql", "SHOW DATABASES") if row[0].startswith(prefix)}


@pytest.mark.mysql
def test_laravel_mariadb_receive_install_break_and_rollback(
        tmp_path: Path, manager: SyncoPluginManager, mysql_database_factory: Callable[[], str],
        web_server: Callable[[Path], str], monkeypatch: pytest.MonkeyPatch) -> None:
    source_db, target_db = mysql_database_factory(), mysql_database_factory()
    create_laravel_source(source_db)
    source = laravel_project(tmp_path / "source", source_db, LARAVEL_YML)
    (source / "public/storage").symlink_to(source / "storage/app/public")
    (source / "storage/app/public/avatars").mkdir()
    (source / "storage/app/public/avatars/1.txt").write_text("avatar of user 1\n")
    (source / "storage/app/private/invoice-1.txt").write_text("invoice 1\n")

    target = laravel_project(tmp_path / "target", target_db)
    conn = mysql_admin_connection(target_db)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(50), email VARCHAR(100))")
        cur.execute("INSERT INTO users VALUES (1, 'Local Dev', 'dev@localhost')")
        cur.execute("CREATE TABLE local_only (id INT PRIMARY KEY)")
        cur.execute("INSERT INTO local_only VALUES (7)")
    conn.close()
    (target / "storage/app/public/local-upload.txt").write_text("made on the laptop\n")
    (target / "storage/app/private/local-note.txt").write_text("local note\n")
    base_url = web_server(source / "public")
    session, key, _ = serve_keep(source, monkeypatch)
    monkeypatch.chdir(tmp_path)

    before_db, before_files = install_broken_after_the_swap(
        manager, (session, key, base_url, tmp_path / "received", target), "public",
        "posts", target_db, mysql_snapshot, mysql_databases)

    done = receive_install(session, key, base_url, tmp_path / "received", target)
    assert done.exit_code == 0, done.output
    assert "sanitised" in done.output or "rules the source applied" in done.output
    source_db_state, installed = mysql_snapshot(source_db), mysql_snapshot(target_db)
    assert set(installed) == set(source_db_state) == {"users", "sessions", "posts"}
    assert installed["sessions"] == [], "a table without rows"
    # users.name is personal data too (synco-laravel writes Demo User); posts keep their title.
    for table, kept in (("users", 1), ("posts", 2)):
        masked = slice(kept, None)
        for original, copy in zip(source_db_state[table], installed[table], strict=True):
            assert copy[:kept] == original[:kept], f"{table}: unsanitised columns are equal"
            assert not {v for v in copy[masked] if v is not None} & set(original[masked]), (
                f"{table}: a sanitised column kept its original value: {copy}")
    for folder in ("storage/app/public", "storage/app/private"):
        assert tree(target / folder) == tree(source / folder), folder

    rolled = rollback_in(target, monkeypatch)
    assert rolled.exit_code == 0, rolled.output
    assert mysql_snapshot(target_db) == before_db
    assert tree(target, hidden_backups=False) == before_files


# ---------------------------------------------------------------------------------------- PostgreSQL


def postgres_snapshot(database: str) -> Snapshot:
    conn = postgres_admin_connection(database)
    try:
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename").fetchall()]
        return {table: sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr) for table in tables}
    finally:
        conn.close()


SYMFONY_YML = """\
sanitize:
  columns:
    app_user.email: email
    app_user.password: "fixed:x"
  no_rows: [login_log]
"""


@pytest.mark.postgres
def test_symfony_postgres_receive_install_break_and_rollback(
        tmp_path: Path, manager: SyncoPluginManager, postgres_database_factory: Callable[[], str],
        web_server: Callable[[Path], str], monkeypatch: pytest.MonkeyPatch) -> None:
    source_db, target_db = postgres_database_factory(), postgres_database_factory()
    conn = postgres_admin_connection(source_db)
    conn.execute("CREATE TABLE app_user (id INT PRIMARY KEY, name TEXT, email TEXT UNIQUE, password TEXT)")
    conn.execute("INSERT INTO app_user VALUES (1, 'Ann', 'ann@real.example', 'h1'),"
                 " (2, 'Ben', 'ben@real.example', 'h2')")
    conn.execute("CREATE TABLE product (id INT PRIMARY KEY, name TEXT, image_name TEXT)")
    conn.execute("INSERT INTO product VALUES (1, 'Chair', 'chair-65f1a2.txt')")
    conn.execute("CREATE TABLE login_log (id INT PRIMARY KEY, email TEXT)")
    conn.execute("INSERT INTO login_log VALUES (1, 'ann@real.example')")
    conn.close()
    source = symfony_project(tmp_path / "source", source_db, SYMFONY_YML)
    (source / "public/media/photo-2.txt").write_text("second photo\n")

    target = symfony_project(tmp_path / "target", target_db)
    conn = postgres_admin_connection(target_db)
    conn.execute("CREATE TABLE app_user (id INT PRIMARY KEY, name TEXT, email TEXT, password TEXT)")
    conn.execute("INSERT INTO app_user VALUES (1, 'Local Dev', 'dev@localhost', 'dev')")
    conn.execute("CREATE TABLE local_only (id INT PRIMARY KEY)")
    conn.execute("INSERT INTO local_only VALUES (7)")
    conn.close()
    (target / "public/images/products/chair-65f1a2.txt").write_text("a local placeholder\n")
    (target / "private/invoices/inv-1.txt").unlink()
    (target / "private/invoices/local-invoice.txt").write_text("local invoice\n")
    base_url = web_server(source / "public")
    session, key, _ = serve_keep(source, monkeypatch)
    monkeypatch.chdir(tmp_path)

    before_db, before_files = install_broken_after_the_swap(
        manager, (session, key, base_url, tmp_path / "received", target), "invoices",
        "product", target_db, postgres_snapshot, postgres_databases_starting_with)

    done = receive_install(session, key, base_url, tmp_path / "received", target)
    assert done.exit_code == 0, done.output
    source_state, installed = postgres_snapshot(source_db), postgres_snapshot(target_db)
    assert set(installed) == set(source_state) == {"app_user", "product", "login_log"}
    assert installed["product"] == source_state["product"]
    assert installed["login_log"] == [], "a table without rows"
    for original, copy in zip(source_state["app_user"], installed["app_user"], strict=True):
        assert copy[:2] == original[:2], "unsanitised columns are equal"
        assert copy[3] == "x" and copy[2] != original[2] and not re.search(r"@real\.example", copy[2])
    assert len({u[2] for u in installed["app_user"]}) == 2, "the email transform keeps addresses unique"
    for folder in ("public/images/products", "private/invoices"):
        assert tree(target / folder) == tree(source / folder), folder
    assert tree(target / "public/media") == {k: v for k, v in tree(source / "public/media").items()
                                             if not k.startswith("cache")}, "thumbnails are not shipped"

    rolled = rollback_in(target, monkeypatch)
    assert rolled.exit_code == 0, rolled.output
    assert postgres_snapshot(target_db) == before_db
    assert tree(target, hidden_backups=False) == before_files
