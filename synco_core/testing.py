"""Test helpers for synco and its plugins, loaded as a pytest plugin (``-p synco_core.testing``).

Fixtures:

- ``plugin_manager``: a fresh manager with the built-ins but no entry points, installed as the process
  manager for the test; ``register_plugin(obj, name)`` adds a plugin object for one test only.
- ``mysql_url`` / ``postgres_url``: a uniquely named throw-away database on the local server, dropped
  afterwards. When the server is unreachable the test is skipped, except under ``CI=true``, where that
  is a failure: CI must never pass with the database tests skipped.
- ``web_server``: ``web_server(root)`` serves a web root with a plain static HTTP server on 127.0.0.1.
- For PHP frameworks, which plugins read through the ``php`` CLI where there is one and from the files
  where there is not: ``php_mode`` runs a test twice (``"php"``, skipped without the CLI, and
  ``"files"`` with PHP hidden), ``no_php`` hides PHP for one test, ``needs_php`` skips a test without it.

Contract test classes, subclassed by each plugin's own tests:

- :class:`FrameworkPluginContract` for framework plugins (``detect_framework``, ``list_file_sets``).
- :class:`EngineContract` for database engines (``dump_database``, ``install_database``,
  ``inspect_database``).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import json
import os
import re
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import pytest

from synco_core.fsutil import safe_relative_path
from synco_core.plugins import SyncoPluginManager, build_plugin_manager, set_plugin_manager
from synco_core.types import (
    DatabaseConfig,
    DatabaseInventory,
    DumpOptions,
    DumpResult,
    FileSet,
    FileSetOptions,
    Framework,
    InstallOptions,
    InstallResult,
)

MYSQL_HOST = os.environ.get("SYNCO_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("SYNCO_TEST_MYSQL_PORT", "3306"))
MYSQL_USER = os.environ.get("SYNCO_TEST_MYSQL_USER", "root")
MYSQL_PASSWORD = os.environ.get("SYNCO_TEST_MYSQL_PASSWORD", "")
POSTGRES_HOST = os.environ.get("SYNCO_TEST_POSTGRES_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("SYNCO_TEST_POSTGRES_PORT", "5432"))
POSTGRES_USER = os.environ.get("SYNCO_TEST_POSTGRES_USER", "postgres")


def unavailable(reason: str) -> None:
    """Skip the test with ``reason``, or fail it under CI."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true: database tests must not be skipped)")
    pytest.skip(reason)


def unique_name(prefix: str = "synco_test") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def mysql_admin_connection(database: str | None = None):  # type: ignore[no-untyped-def]
    import pymysql

    try:
        return pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER, password=MYSQL_PASSWORD,
                               database=database, autocommit=True, charset="utf8mb4")
    except pymysql.err.OperationalError as exc:
        unavailable(f"MariaDB/MySQL not reachable at {MYSQL_HOST}:{MYSQL_PORT}: {exc}")
        raise


def mysql_url_for(name: str) -> str:
    auth = MYSQL_USER + (f":{MYSQL_PASSWORD}" if MYSQL_PASSWORD else "")
    return f"mysql://{auth}@{MYSQL_HOST}:{MYSQL_PORT}/{name}"


def postgres_admin_connection(database: str = "postgres"):  # type: ignore[no-untyped-def]
    import psycopg

    try:
        return psycopg.connect(host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname=database,
                               autocommit=True)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL not reachable at {POSTGRES_HOST}:{POSTGRES_PORT}: {exc}")
        raise


def postgres_url_for(name: str) -> str:
    return f"postgresql://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"


@pytest.fixture
def mysql_database_factory() -> Iterator[Callable[[], str]]:
    """Creates throw-away MySQL databases (returns their names); all are dropped afterwards."""
    created: list[str] = []

    def create() -> str:
        name = unique_name()
        conn = mysql_admin_connection()
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        conn.close()
        created.append(name)
        return name

    yield create
    if created:
        conn = mysql_admin_connection()
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            existing = [row[0] for row in cur.fetchall()]
            for name in created:
                # Installers create scratch and backup databases named after the target; drop those too.
                for db in existing:
                    if db.startswith(name):
                        cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
        conn.close()


@pytest.fixture
def mysql_url(mysql_database_factory: Callable[[], str]) -> str:
    """URL of a fresh, empty MySQL database, dropped after the test."""
    return mysql_url_for(mysql_database_factory())


@pytest.fixture
def postgres_database_factory() -> Iterator[Callable[[], str]]:
    """Creates throw-away PostgreSQL databases (returns their names); all are dropped afterwards."""
    created: list[str] = []

    def create() -> str:
        name = unique_name()
        conn = postgres_admin_connection()
        conn.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        created.append(name)
        return name

    yield create
    drop_postgres_databases(created)


def drop_postgres_databases(names: Iterable[str]) -> None:
    """Drop these databases, and the scratch and backup databases installers named after them."""
    names = list(names)
    if not names:
        return
    conn = postgres_admin_connection()
    try:
        existing = [row[0] for row in conn.execute("SELECT datname FROM pg_database").fetchall()]
        for name in names:
            for db in existing:
                if db.startswith(name):
                    conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    finally:
        conn.close()


@pytest.fixture
def postgres_url(postgres_database_factory: Callable[[], str]) -> str:
    """URL of a fresh, empty PostgreSQL database, dropped after the test."""
    return postgres_url_for(postgres_database_factory())


@pytest.fixture
def plugin_manager() -> Iterator[SyncoPluginManager]:
    """A manager with the built-in plugins but no entry points, used by synco for this test only."""
    manager = build_plugin_manager(load_entrypoints=False)
    set_plugin_manager(manager)
    yield manager
    set_plugin_manager(None)


@pytest.fixture
def register_plugin(plugin_manager: SyncoPluginManager) -> Iterator[Callable[[object, str], None]]:
    """``register_plugin(obj, name)`` registers a plugin object for the rest of this test."""
    names: list[str] = []

    def register(plugin: object, name: str) -> None:
        if not plugin_manager.register(plugin, name):
            failure = plugin_manager.failures[-1]
            raise AssertionError(f"plugin {name} did not register: {failure.reason}")
        names.append(name)

    yield register
    for name in names:
        plugin_manager.unregister(name)


# ---------------------------------------------------------------------------------------------------------------
# Contract test classes. A plugin's own test suite subclasses these, so every plugin is held to the same promises
# the core relies on. Subclasses provide a few class attributes and fixtures; the test methods come from here.
# ---------------------------------------------------------------------------------------------------------------

#: The file-set kinds the wire format knows.
FILE_SET_KINDS = ("public", "private")


def _impls_of(manager: SyncoPluginManager, hook_name: str, plugin_name: str) -> list[Any]:
    """The hook implementations ``plugin_name`` registered for ``hook_name`` (empty when it has none)."""
    caller = getattr(manager.pm.hook, hook_name)
    return [impl for impl in caller.get_hookimpls() if impl.plugin_name == plugin_name]


def _call_plugin(manager: SyncoPluginManager, hook_name: str, plugin_name: str, **kwargs: Any) -> list[Any]:
    """Call only ``plugin_name``'s implementations of ``hook_name`` and return their raw results.

    The contracts call a plugin on its own, so the answers of the built-ins (or of a half-written neighbour) can
    neither hide nor cause a failure of the plugin under test.
    """
    return [impl.function(**{name: kwargs[name] for name in impl.argnames}) for impl in
            _impls_of(manager, hook_name, plugin_name)]


class FrameworkPluginContract:
    """What every framework plugin promises; subclass it in the plugin's tests.

    The subclass sets ``plugin`` (the module or object holding the hook implementations), ``plugin_name`` (the
    entry-point name, which is also what :attr:`Framework.plugin` must say) and overrides the ``project_dir``
    fixture to return a fixture project the plugin recognises::

        class TestHugoContract(FrameworkPluginContract):
            plugin = synco_hugo
            plugin_name = "hugo"

            @pytest.fixture
            def project_dir(self, tmp_path):
                (tmp_path / "hugo.toml").write_text('baseURL = "https://example.org/"\\n')
                (tmp_path / "content").mkdir()
                return tmp_path

    The plugin is registered for each test in a manager that holds only the built-ins, so the tests also prove
    that its hook implementations match the specifications (a misspelt hook or argument fails registration).
    """

    plugin: ClassVar[object]
    plugin_name: ClassVar[str]

    @pytest.fixture
    def project_dir(self, tmp_path: Path) -> Path:
        """A ready fixture project of the plugin's framework; every subclass overrides this."""
        raise NotImplementedError(f"{type(self).__name__} must override the project_dir fixture")

    @pytest.fixture
    def contract_manager(self, plugin_manager: SyncoPluginManager) -> Iterator[SyncoPluginManager]:
        """The per-test manager with the plugin under test registered under ``plugin_name``."""
        registered = plugin_manager.register(type(self).plugin, self.plugin_name)
        failures = [f.reason for f in plugin_manager.failures if f.name == self.plugin_name]
        assert registered, f"plugin {self.plugin_name} did not register: {'; '.join(failures)}"
        yield plugin_manager
        plugin_manager.unregister(self.plugin_name)

    def detect_own(self, manager: SyncoPluginManager, project_dir: Path) -> Framework | None:
        """The plugin's own ``detect_framework`` answer for ``project_dir`` (at most one is allowed)."""
        answers = [a for a in _call_plugin(manager, "detect_framework", self.plugin_name,
                                           project_dir=project_dir.resolve()) if a is not None]
        assert len(answers) <= 1, f"plugin {self.plugin_name} answered detect_framework {len(answers)} times"
        return answers[0] if answers else None

    def test_implements_detect_framework(self, contract_manager: SyncoPluginManager) -> None:
        info = contract_manager.infos[self.plugin_name]
        assert "detect_framework" in info.hooks, f"plugin {self.plugin_name} does not implement detect_framework"

    def test_detects_fixture_project(self, contract_manager: SyncoPluginManager, project_dir: Path) -> None:
        framework = self.detect_own(contract_manager, project_dir)
        assert framework is not None, f"plugin {self.plugin_name} did not recognise {project_dir}"
        assert isinstance(framework, Framework)
        assert framework.plugin == self.plugin_name
        assert framework.name, "Framework.name is empty"
        assert framework.reason.strip(), "Framework.reason is empty: detect should say why it matched"
        assert Path(framework.project_dir).resolve() == project_dir.resolve()
        if framework.web_root is not None:
            assert isinstance(framework.web_root, Path)

    def test_ignores_empty_directory(self, contract_manager: SyncoPluginManager, tmp_path: Path) -> None:
        empty = tmp_path / "empty-project"
        empty.mkdir()
        assert self.detect_own(contract_manager, empty) is None

    def test_core_detection_picks_plugin(self, contract_manager: SyncoPluginManager, project_dir: Path) -> None:
        from synco_core.detection import detect

        framework = detect(project_dir, self.plugin_name, manager=contract_manager)
        assert framework.plugin == self.plugin_name

    def test_file_sets_are_well_formed(self, contract_manager: SyncoPluginManager, project_dir: Path) -> None:
        framework = self.detect_own(contract_manager, project_dir)
        assert framework is not None
        for options in (FileSetOptions(), FileSetOptions(all=True)):
            sets: list[FileSet] = []
            for answer in _call_plugin(contract_manager, "list_file_sets", self.plugin_name,
                                       framework=framework, options=options):
                if answer is not None:
                    assert isinstance(answer, list), f"list_file_sets returned {type(answer).__name__}, not a list"
                    sets.extend(answer)
            names = [s.name for s in sets]
            assert len(names) == len(set(names)), f"file set names are not unique: {names}"
            for file_set in sets:
                assert isinstance(file_set, FileSet)
                assert file_set.name, "a file set has an empty name"
                assert file_set.kind in FILE_SET_KINDS, f"{file_set.name}: kind {file_set.kind!r}"
                if file_set.relative_base_path:
                    safe = safe_relative_path(file_set.relative_base_path)
                    assert not PurePosixPath(file_set.relative_base_path).is_absolute()
                    assert ".." not in safe.parts
                if file_set.root is not None:
                    assert isinstance(file_set.root, Path), f"{file_set.name}: root is not a Path"

    def test_file_sets_ignore_other_frameworks(self, contract_manager: SyncoPluginManager, project_dir: Path) -> None:
        other = Framework(name="Some Other Framework", plugin=f"not-{self.plugin_name}", project_dir=project_dir,
                          reason="contract test")
        for answer in _call_plugin(contract_manager, "list_file_sets", self.plugin_name,
                                   framework=other, options=FileSetOptions()):
            assert not answer, f"plugin {self.plugin_name} listed file sets for another plugin's framework"

    def test_database_password_masked(self, contract_manager: SyncoPluginManager, project_dir: Path) -> None:
        framework = self.detect_own(contract_manager, project_dir)
        assert framework is not None
        database = framework.database
        if database is None:
            return
        assert isinstance(database, DatabaseConfig)
        masked = database.masked()
        text = json.dumps(masked)
        if database.password:
            assert masked["password"] == "***"
            assert database.password not in text, "the password shows in DatabaseConfig.masked()"
            assert database.password not in repr(database)
        else:
            assert masked["password"] is None


class EngineContract:
    """What every database engine promises; subclass it in the engine's tests.

    The subclass sets ``engine`` (the engine name in :attr:`DatabaseConfig.engine`) and overrides the
    ``database_url`` and ``target_database_url`` fixtures to return the URLs of two fresh, empty databases (the
    ``mysql_url``/``postgres_url`` fixtures do that for the built-in servers). A third-party engine also sets
    ``plugin`` to its module so it is registered for each test; built-in engines are registered already.
    ``execute`` and ``fetch`` talk to the database directly (default: the built-in engines' drivers); an engine
    of another kind overrides them. ``create_statements`` builds the tiny table the round trip moves.
    """

    engine: ClassVar[str]
    #: The plugin object of a third-party engine; None for an engine that is already registered (a built-in).
    plugin: ClassVar[object | None] = None
    #: The registered plugin name; defaults to ``engine``.
    plugin_name: ClassVar[str | None] = None
    table = "synco_contract"
    create_statements: ClassVar[tuple[str, ...]] = (
        "CREATE TABLE synco_contract (id INTEGER PRIMARY KEY, name VARCHAR(50))",
        "INSERT INTO synco_contract (id, name) VALUES (1, 'alpha'), (2, 'beta'), (3, NULL)",
    )
    expected_rows: ClassVar[list[tuple[Any, ...]]] = [(1, "alpha"), (2, "beta"), (3, None)]

    @pytest.fixture
    def database_url(self) -> str:
        """URL of a fresh, empty database of this engine (the dump source); every subclass overrides this."""
        raise NotImplementedError(f"{type(self).__name__} must override the database_url fixture")

    @pytest.fixture
    def target_database_url(self) -> str:
        """URL of a second fresh, empty database (the install target); every subclass overrides this."""
        raise NotImplementedError(f"{type(self).__name__} must override the target_database_url fixture")

    @property
    def name(self) -> str:
        return self.plugin_name or self.engine

    def execute(self, database_url: str, statements: Sequence[str]) -> None:
        """Run ``statements`` on the database; the default knows the built-in engines."""
        with contextlib.closing(_connect(database_url)) as conn:
            cur = conn.cursor()
            for statement in statements:
                cur.execute(statement)
            conn.commit()

    def fetch(self, database_url: str, query: str) -> list[tuple[Any, ...]]:
        """Rows of ``query`` as tuples; the default knows the built-in engines."""
        with contextlib.closing(_connect(database_url)) as conn:
            cur = conn.cursor()
            cur.execute(query)
            return [tuple(row) for row in cur.fetchall()]

    @pytest.fixture
    def engine_manager(self, plugin_manager: SyncoPluginManager) -> Iterator[SyncoPluginManager]:
        """The per-test manager, with the engine under test registered when it is not a built-in."""
        plugin = type(self).plugin
        if plugin is not None:
            registered = plugin_manager.register(plugin, self.name)
            reasons = [f.reason for f in plugin_manager.failures if f.name == self.name]
            assert registered, f"engine plugin {self.name} did not register: {'; '.join(reasons)}"
        else:
            failures = [f.reason for f in plugin_manager.failures if f.name == self.name]
            assert not failures, f"engine plugin {self.name} failed to load: {'; '.join(failures)}"
        assert _impls_of(plugin_manager, "dump_database", self.name), f"{self.name} implements no dump_database"
        yield plugin_manager
        if plugin is not None:
            plugin_manager.unregister(self.name)

    def test_dump_ignores_other_engine(self, engine_manager: SyncoPluginManager) -> None:
        other = DatabaseConfig(engine=f"not-{self.engine}", name="nothing")
        out = io.BytesIO()
        results = _call_plugin(engine_manager, "dump_database", self.name, database=other, out=out,
                               options=DumpOptions())
        assert results and all(r is None for r in results), "dump_database must return None for another engine"
        assert out.getvalue() == b"", "dump_database wrote to out for another engine"

    def test_install_ignores_other_engine(self, engine_manager: SyncoPluginManager) -> None:
        other = DatabaseConfig(engine=f"not-{self.engine}", name="nothing")
        results = _call_plugin(engine_manager, "install_database", self.name, database=other,
                               dump=io.BytesIO(b""), options=InstallOptions(yes=True))
        assert all(r is None for r in results), "install_database must return None for another engine"

    def test_round_trip(self, engine_manager: SyncoPluginManager, database_url: str,
                        target_database_url: str, tmp_path: Path) -> None:
        from synco_core.dburl import parse_database_url
        from synco_core.engines.dispatch import dump_with_engine, install_with_engine

        self.execute(database_url, self.create_statements)
        source = parse_database_url(database_url)
        assert source.engine == self.engine
        dump_file = tmp_path / "contract.dump"
        with dump_file.open("wb") as out:
            result = dump_with_engine(source, out, DumpOptions(), manager=engine_manager)
        assert isinstance(result, DumpResult)
        assert result.engine == self.engine
        assert result.wire_type, "DumpResult.wire_type is empty"
        manifest = {name.rsplit(".", 1)[-1]: entry for name, entry in result.tables.items()}
        assert self.table in manifest, f"the dump manifest lacks {self.table}: {sorted(result.tables)}"
        assert manifest[self.table].rows == len(self.expected_rows)
        assert dump_file.stat().st_size > 0
        target = parse_database_url(target_database_url)
        with dump_file.open("rb") as dump:
            installed = install_with_engine(
                target, dump, InstallOptions(format=result.format, manifest=result.tables, yes=True),
                manager=engine_manager,
            )
        assert isinstance(installed, InstallResult)
        assert installed.engine == self.engine
        rows = self.fetch(target_database_url, f"SELECT id, name FROM {self.table} ORDER BY id")
        assert rows == self.expected_rows

    def test_inspect_lists_table(self, engine_manager: SyncoPluginManager, database_url: str) -> None:
        from synco_core.dburl import parse_database_url
        from synco_core.engines.dispatch import inspect_with_engine

        self.execute(database_url, self.create_statements)
        inventory = inspect_with_engine(parse_database_url(database_url), manager=engine_manager)
        assert isinstance(inventory, DatabaseInventory)
        assert inventory.engine == self.engine
        tables = {t.name.rsplit(".", 1)[-1]: t for t in inventory.tables}
        assert self.table in tables, f"inspect_database does not list {self.table}: {sorted(tables)}"
        assert {"id", "name"} <= set(tables[self.table].columns)


def _connect(database_url: str) -> Any:
    """A DB-API connection for a built-in engine's URL (the contract's default ``execute``/``fetch``)."""
    from synco_core.dburl import parse_database_url

    config = parse_database_url(database_url)
    if config.engine == "sqlite":
        return sqlite3.connect(config.name)
    if config.engine == "mysql":
        import pymysql

        return pymysql.connect(host=config.host or "127.0.0.1", port=config.port or 3306, user=config.user or "root",
                               password=config.password or "", database=config.name, unix_socket=config.socket,
                               charset="utf8mb4")
    if config.engine == "postgresql":
        import psycopg

        return psycopg.connect(host=config.socket or config.host or "127.0.0.1", port=config.port or 5432,
                               user=config.user or "postgres", password=config.password, dbname=config.name)
    raise NotImplementedError(f"no default connection for engine {config.engine!r}: override execute and fetch")


class _QuietStaticHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[Callable[[Path], str]]:
    """``web_server(root)``: a plain static HTTP server for ``root`` on 127.0.0.1 and a free port, as a
    production web server would serve a web root; returns its base URL. Stopped after the test."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(root: Path) -> str:
        handler = functools.partial(_QuietStaticHandler, directory=str(root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def serve_receive_install(source: Path, base_url: str, received: Path, project: Path,
                          serve_args: Sequence[str] = ()) -> None:
    """The whole round trip through the CLI, as a user runs it: ``synco serve --keep`` in ``source``,
    ``synco receive`` from ``base_url`` into ``received``, then ``synco install`` into ``project``.

    Each step must exit 0; a failure shows that step's output. The session folder is left in the web
    root (``--keep``), which the test's temporary directory removes.
    """
    from click.testing import CliRunner

    from synco_core.cli.main import cli

    runner = CliRunner()
    previous = Path.cwd()
    os.chdir(source)
    try:
        served = runner.invoke(cli, ["serve", "--keep", *serve_args])
    finally:
        os.chdir(previous)
    assert served.exit_code == 0, served.output
    match = re.search(r"synco receive (\S+) (AGE-SECRET-KEY-\S+)", served.output)
    assert match, served.output
    got = runner.invoke(cli, ["receive", match.group(1), match.group(2), "--base-url", base_url, "--all",
                              "--target", str(received), "--timeout", "30"])
    assert got.exit_code == 0, got.output
    installed = runner.invoke(cli, ["install", str(received), "--project", str(project), "--yes"])
    assert installed.exit_code == 0, installed.output


# ------------------------------------------------------------------------------------------------ PHP

NO_PHP_REASON = "the php CLI is not installed (apt-get install php-cli)"
needs_php = pytest.mark.skipif(shutil.which("php") is None, reason=NO_PHP_REASON)


def hide_php(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point PATH at an empty folder and unset ``$PHP``, so no PHP interpreter can be found."""
    empty = tmp_path / "no-php-bin"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("PHP", raising=False)


@pytest.fixture
def no_php(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """PHP hidden from PATH for this test: the plugin has to read the configuration files itself."""
    hide_php(monkeypatch, tmp_path)


@pytest.fixture(params=["php", "files"])
def php_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Runs a test twice: with the real ``php`` CLI (skipped without one), and with PHP hidden."""
    monkeypatch.delenv("PHP", raising=False)
    if request.param == "php":
        if shutil.which("php") is None:
            pytest.skip(NO_PHP_REASON)
    else:
        hide_php(monkeypatch, tmp_path)
    return str(request.param)
