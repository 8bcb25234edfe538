"""``receive --install`` and ``pull --install`` name the local tables the dump does not hold before the database
is replaced, as ``install`` does (tests/test_install_tables_outside_dump.py).

With ``--yes`` the database loads early: receive starts it as soon as the dump has arrived, pull while the dump
still streams in (MySQL, PostgreSQL). ``install``'s warning line was given only where the install itself loaded
the database, so those early loads moved another application's tables aside without a word. Checked for every
engine: the warning names them (and not the tables the dump holds, nor views), and when it is said the local
database still holds them (nothing was changed yet); without ``--yes`` the question names them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pull_support import make_project, remote_environment, run_synco
from test_receive_support import LOCAL_MARKER, MYSQL_MARKER, LocalProject, MysqlSource
from test_transfer_support import publish, static_server

from synco_core.cli import options as cli_options
from synco_core.cli.main import cli
from synco_core.testing.services import (
    mysql_admin_connection,
    mysql_url_for,
    postgres_admin_connection,
    postgres_url_for,
)

SESSION = "synco-outsidedump0123456789"
OTHER_APP = ["crm_contacts", "crm_deals"]
ENGINES = ["sqlite", "mysql", "postgresql"]


class Database:
    """A throw-away database of one engine, reached by URL, with statements run and tables listed."""

    def __init__(self, engine: str, name: str) -> None:
        self.engine, self.name = engine, name

    @property
    def url(self) -> str:
        if self.engine == "sqlite":
            return f"sqlite:///{self.name}"
        return mysql_url_for(self.name) if self.engine == "mysql" else postgres_url_for(self.name)

    def run(self, *statements: str) -> None:
        if self.engine == "sqlite":
            with contextlib.closing(sqlite3.connect(self.name)) as conn, conn:
                for statement in statements:
                    conn.execute(statement)
        elif self.engine == "mysql":
            conn = mysql_admin_connection(self.name)
            try:
                with conn.cursor() as cur:
                    for statement in statements:
                        cur.execute(statement)
                conn.commit()
            finally:
                conn.close()
        else:
            with contextlib.closing(postgres_admin_connection(self.name)) as pg:
                for statement in statements:
                    pg.execute(statement)

    def tables(self) -> set[str]:
        if self.engine == "sqlite":
            with contextlib.closing(sqlite3.connect(self.name)) as conn:
                return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if self.engine == "mysql":
            conn = mysql_admin_connection(self.name)
            try:
                with conn.cursor() as cur:
                    cur.execute("SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'")
                    return {str(r[0]) for r in cur.fetchall()}
            finally:
                conn.close()
        with contextlib.closing(postgres_admin_connection(self.name)) as pg:
            return {str(r[0]) for r in pg.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


@pytest.fixture
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str, str], Database]:
    """``new_database(engine, label)``: an empty database of ``engine`` (a SQLite file under tmp_path)."""

    def make(engine: str, label: str) -> Database:
        if engine == "sqlite":
            return Database(engine, str(tmp_path / f"{label}.sqlite"))
        factory = request.getfixturevalue("mysql_database_factory" if engine == "mysql"
                                          else "postgres_database_factory")
        return Database(engine, factory())

    return make


def source_tables(database: Database, rows: int = 30) -> None:
    database.run("CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50), email VARCHAR(100))",
                 "INSERT INTO users VALUES " + ", ".join(f"({n}, 'user {n}', 'p{n}@real.example')"
                                                         for n in range(1, rows + 1)))


def local_with_other_app(database: Database) -> None:
    """The laptop's database: the site's own table (also in the dump), another application's, and a view."""
    source_tables(database, rows=2)
    database.run(*(f"CREATE TABLE {name} (id INT PRIMARY KEY, note VARCHAR(20))" for name in OTHER_APP),
                 "CREATE VIEW crm_view AS SELECT id FROM crm_contacts")


@contextlib.contextmanager
def said_while_unchanged(database: Database) -> Iterator[list[tuple[str, set[str]]]]:
    """Each 'not in the dump' warning logged, with the local database's tables at that moment."""
    seen: list[tuple[str, set[str]]] = []

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "not in the dump" in record.getMessage():
                seen.append((record.getMessage(), database.tables()))

    handler = Watch(logging.WARNING)
    logging.getLogger().addHandler(handler)
    try:
        yield seen
    finally:
        logging.getLogger().removeHandler(handler)


def the_line(output: str) -> str:
    [line] = [line for line in output.splitlines() if "not in the dump" in line]
    assert "crm_contacts, crm_deals" in line and "2 tables" in line, line
    assert "users" not in line and "crm_view" not in line, "tables the dump holds, and views, are not named"
    return line


def receive_session(tmp_path: Path, register_plugin: Callable[[object, str], None], new_database: Any,
                    engine: str) -> tuple[Path, Database, Path]:
    """A published session of a source on ``engine``, and the laptop's project on another such database."""
    register_plugin(MysqlSource(), "mysqlsource")
    register_plugin(LocalProject(), "localproject")
    source, local_db = new_database(engine, "source"), new_database(engine, "local")
    source_tables(source)
    local_with_other_app(local_db)
    app = tmp_path / "app"
    (app / "web" / "uploads").mkdir(parents=True)
    (app / "web" / "uploads" / "logo.png").write_bytes(b"logo")
    (app / MYSQL_MARKER).write_text(source.url)
    local = tmp_path / "local"
    (local / "web" / "uploads").mkdir(parents=True)
    (local / LOCAL_MARKER).write_text(local_db.url)
    return app, local_db, local


@pytest.mark.parametrize("engine", ENGINES)
def test_receive_install_yes_names_them_before_the_early_load(
        tmp_path: Path, register_plugin: Callable[[object, str], None], new_database: Any, engine: str) -> None:
    app, local_db, local = receive_session(tmp_path, register_plugin, new_database, engine)
    key = publish(app, SESSION)
    with static_server(app / "web") as (url, _), said_while_unchanged(local_db) as seen:
        result = CliRunner().invoke(cli, ["receive", SESSION, key.secret, "--base-url", url, "--target",
                                          str(tmp_path / "dump"), "--project", str(local), "--all", "--install",
                                          "--yes"])
    assert result.exit_code == 0, result.output
    the_line(result.output)
    assert len(seen) == 1 and set(OTHER_APP) <= seen[0][1], "said once, before the local database changed"
    assert not set(OTHER_APP) & local_db.tables(), "the install moved them aside"


@pytest.mark.parametrize("engine", ENGINES)
def test_receive_install_asking_names_them_in_the_question(
        tmp_path: Path, register_plugin: Callable[[object, str], None], new_database: Any, engine: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    app, local_db, local = receive_session(tmp_path, register_plugin, new_database, engine)
    key = publish(app, SESSION)
    monkeypatch.setattr(cli_options, "interactive", lambda: True)
    with static_server(app / "web") as (url, _):
        result = CliRunner().invoke(cli, ["receive", SESSION, key.secret, "--base-url", url, "--target",
                                          str(tmp_path / "dump"), "--project", str(local), "--all", "--install"],
                                    input="n\n")
    assert result.exit_code == 1, result.output
    line = the_line(result.output)
    assert result.output.index(line) < result.output.index("Replace this local content?")
    assert set(OTHER_APP) <= local_db.tables(), "declined: nothing changed"


# ------------------------------------------------------------------------------------------ pull

#: ``synco`` in a subprocess that takes its stdin for a terminal: the question is answered from the pipe.
ANSWERING = ("import sys; from synco_core.cli import options; options.interactive = lambda: True; "
             "from synco_core.cli.main import main; main()")


def pull_projects(tmp_path: Path, new_database: Any, engine: str) -> tuple[Path, Database, Path]:
    """The remote project (the pull test plugin's) on ``engine`` and the laptop's, both holding ``users``."""
    source, local_db = new_database(engine, "source"), new_database(engine, "local")
    source_tables(source)
    local_with_other_app(local_db)
    remote, laptop = tmp_path / "srv" / "shop", tmp_path / "laptop"
    for root, database in ((remote, source), (laptop, local_db)):
        make_project(root, public_files=3, rows=0)
        (root / "db.sqlite").unlink()
        (root / "synco-pulltest.json").write_text(json.dumps({"database_url": database.url}))
    return remote, local_db, laptop


@pytest.mark.parametrize("engine", ENGINES)
def test_pull_install_yes_names_them_before_the_database_changes(tmp_path: Path, new_database: Any,
                                                                engine: str) -> None:
    remote, local_db, laptop = pull_projects(tmp_path, new_database, engine)
    env = remote_environment(tmp_path)
    result = run_synco(["--debug", "pull", f"docker://web-1{remote}", "--target", "out", "--install", "--yes"],
                       env, laptop)
    assert result.returncode == 0, result.stdout + result.stderr
    # MySQL and PostgreSQL dumps load while they stream in (their tables known only at the end), SQLite's once
    # it has arrived.
    streamed = "installing dbDump while it streams in" in result.stderr
    assert streamed == (engine != "sqlite"), result.stderr
    line = the_line(result.stderr)
    installed = [n for n, text in enumerate(result.stderr.splitlines()) if "Installed database" in text]
    assert installed, result.stderr
    assert result.stderr.splitlines().index(line) < installed[0]
    assert not set(OTHER_APP) & local_db.tables()


@pytest.mark.parametrize("engine", ENGINES)
def test_pull_install_asking_names_them_in_the_question(tmp_path: Path, new_database: Any, engine: str) -> None:
    import subprocess

    remote, local_db, laptop = pull_projects(tmp_path, new_database, engine)
    env = remote_environment(tmp_path)
    result = subprocess.run([sys.executable, "-c", ANSWERING, "pull", f"docker://web-1{remote}", "--target", "out",
                             "--install"], env=env, cwd=laptop, capture_output=True, text=True, input="n\n",
                            timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    line = the_line(result.stderr)
    assert result.stderr.index(line) < result.stderr.index("Replace this local content?")
    assert set(OTHER_APP) <= local_db.tables(), "declined: nothing changed"


@pytest.mark.parametrize("engine", ["mysql", "postgresql"])
def test_a_streamed_load_names_them_once_the_dump_is_in_and_before_its_swap(
        tmp_path: Path, register_plugin: Callable[[object, str], None], new_database: Any, engine: str) -> None:
    """The stream's tables are known only at its end (the ``C`` frame): named then, in-process, with the local
    database still as it was; the local tables were read before the load began (a load in place holds locks)."""
    import dataclasses
    import io

    from test_dumpstream import Artifact

    from synco_core.databases import DB_SET_NAME
    from synco_core.dburl import parse_database_url
    from synco_core.engines.dispatch import dump_with_engine
    from synco_core.install.streamed import ReceiveInstall
    from synco_core.pull.dumpstream import DumpStream
    from synco_core.values import DumpOptions

    register_plugin(LocalProject(), "localproject")
    source, local_db = new_database(engine, "source"), new_database(engine, "local")
    source_tables(source, rows=3000)
    local_with_other_app(local_db)
    local = tmp_path / "local"
    local.mkdir()
    (local / LOCAL_MARKER).write_text(local_db.url)
    out = io.BytesIO()
    dumped = dump_with_engine(parse_database_url(source.url), out, DumpOptions())
    artifact = Artifact(tmp_path / "remote", out.getvalue())
    assert artifact.file_set.dump is not None
    file_set = dataclasses.replace(artifact.file_set, dump=dataclasses.replace(
        artifact.file_set.dump, engine=engine, format=dumped.format, tables=dumped.tables))
    installer = ReceiveInstall(local, yes=True)
    stream = DumpStream(tmp_path / "dump", on_open=installer.start_streamed)
    try:
        with said_while_unchanged(local_db) as seen:
            stream.open({**artifact.announcement(), "set": DB_SET_NAME, "engine": engine, "format": dumped.format})
            assert installer.database is not None and installer.database.stream is stream
            for chunk in artifact.chunks:
                stream.data(chunk)
            assert not seen, "nothing is said before the dump's tables are known"
            stream.close({"fileSet": file_set.to_json()})
            installer.database.wait()
        [(message, tables)] = seen
        the_line(message)
        assert set(OTHER_APP) <= tables, "said before the swap"
        assert not set(OTHER_APP) & local_db.tables()
    finally:
        installer.abandon()
        installer.close()
        stream.discard()


# ------------------------------------------------------------------------------------------ --max-delete


class InstalledOnce:
    """A fixture application on SQLite and a laptop's project that received and installed it once, so that
    there is a last install (its kept database and record) for ``synco db rollback`` to put back."""

    def __init__(self, tmp_path: Path, register_plugin: Callable[[object, str], None], word: str) -> None:
        from test_transfer_support import FixturePlugin, make_app

        register_plugin(FixturePlugin(engine="sqlite"), "fixture")
        register_plugin(LocalProject(), "localproject")
        self.tmp_path, self.word = tmp_path, word
        self.app = make_app(tmp_path / "app")
        self.local = tmp_path / "local"
        (self.local / "web" / "uploads").mkdir(parents=True)
        (self.local / "private").mkdir()
        (self.local / LOCAL_MARKER).write_text("sqlite:///local.sqlite")
        source_tables(Database("sqlite", str(self.local / "local.sqlite")), rows=1)
        assert self.receive_install(1).exit_code == 0
        self.before = self.names()
        assert "local.sqlite.synco-previous" in self.before and ".synco-install.json" in self.before

    def receive_install(self, number: int, *extra: str) -> Any:
        """``receive --install --yes`` of a new session of the application, into receive folder ``dump<number>``."""
        session = f"synco-{self.word}{number:0{23 - len(self.word)}d}"
        key = publish(self.app, session)
        with static_server(self.app / "web") as (url, _):
            return CliRunner().invoke(cli, ["receive", session, key.secret, "--base-url", url, "--target",
                                            str(self.tmp_path / f"dump{number}"), "--project", str(self.local),
                                            "--all", "--install", "--yes", *extra])

    def names(self) -> list[str]:
        return sorted(p.name for p in self.local.iterdir())

    def roll_back(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.chdir(self.local)
        rollback = CliRunner().invoke(cli, ["db", "rollback", "--yes"])
        assert rollback.exit_code == 0, rollback.output


def test_a_max_delete_refusal_after_receive_leaves_the_last_install_to_roll_back(
        tmp_path: Path, register_plugin: Callable[[object, str], None], monkeypatch: pytest.MonkeyPatch) -> None:
    """``--max-delete`` is judged once the files are in; with ``--yes`` the database used to load early, before
    it, and the refused install ("nothing was installed") had given up the last install's kept database and
    record: ``synco db rollback`` then found nothing to put back."""
    site = InstalledOnce(tmp_path, register_plugin, "maxdelete")
    for n in range(3):
        (site.local / "web" / "uploads" / f"laptop {n}.txt").write_text("only here")
    refused = site.receive_install(2, "--max-delete", "0")
    assert refused.exit_code == 1 and "more than --max-delete 0" in refused.output, refused.output
    assert site.names() == site.before, "the last install's kept copy and record stay"
    site.roll_back(monkeypatch)
    assert Database("sqlite", str(site.local / "local.sqlite")).tables() == {"users"}, "the first content is back"


def test_an_empty_set_refusal_after_receive_leaves_the_last_install_to_roll_back(
        tmp_path: Path, register_plugin: Callable[[object, str], None], monkeypatch: pytest.MonkeyPatch) -> None:
    """The other install refusal judged once the files are in: a set the server lists no file in (a share not
    mounted) would empty the project's folder. The meta says so before anything is received: the database is
    then not loaded early, and the refusal leaves the last install's kept database and record."""
    import shutil

    site = InstalledOnce(tmp_path, register_plugin, "emptyset")
    # The share is not mounted on the server any more: its uploads folder is empty.
    shutil.rmtree(site.app / "web" / "uploads")
    (site.app / "web" / "uploads").mkdir()
    refused = site.receive_install(2)
    assert refused.exit_code == 1 and "holds no file" in refused.output, refused.output
    assert site.names() == site.before, "the last install's kept copy and record stay"
    site.roll_back(monkeypatch)


@pytest.mark.parametrize("engine", ["sqlite", "mysql"])
def test_pull_of_an_empty_set_refused_leaves_the_last_install_to_roll_back(tmp_path: Path, new_database: Any,
                                                                          engine: str) -> None:
    """As for receive, with pull's two early loads: SQLite's once it has arrived, MySQL's while it streams."""
    import shutil

    remote, local_db, laptop = pull_projects(tmp_path, new_database, engine)
    env = remote_environment(tmp_path)
    args = ["pull", f"docker://web-1{remote}", "--target", "out", "--install", "--yes"]
    first = run_synco(args, env, laptop)
    assert first.returncode == 0, first.stderr
    (laptop / "public" / "uploads" / "laptop only.txt").write_text("kept")
    record = (laptop / ".synco-install.json").read_bytes()
    shutil.rmtree(remote / "public" / "uploads")
    (remote / "public" / "uploads").mkdir()
    # Into a new receive folder: its receive has nothing to remove, the install's check is the one to refuse.
    refused = run_synco([*args[:3], "out2", *args[4:]], env, laptop)
    assert refused.returncode == 1 and "holds no file" in refused.stderr, refused.stderr
    assert (laptop / ".synco-install.json").read_bytes() == record, "the last install's record stays"
    rollback = run_synco(["db", "rollback", "--yes"], env, laptop)
    assert rollback.returncode == 0, rollback.stderr
    assert set(OTHER_APP) <= local_db.tables(), "the laptop's first database is back"
