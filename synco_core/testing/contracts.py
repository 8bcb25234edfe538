"""The contract test classes: what every framework plugin and every database engine promises the core.

A plugin's own test suite subclasses them, so every plugin is held to the same promises; the subclass
provides a few class attributes and fixtures, and the test methods come from here. They need the fixtures
of :mod:`synco_core.testing` (``-p synco_core.testing``), which exports both classes.
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, ClassVar

import pytest

from synco_core import hookimpl
from synco_core.dburl import parse_database_url
from synco_core.detection import detect
from synco_core.engines.dispatch import (
    connect_with_engine,
    dump_with_engine,
    inspect_with_engine,
    install_with_engine,
)
from synco_core.errors import SyncoError
from synco_core.fsutil import safe_relative_path
from synco_core.hookspecs import Side
from synco_core.plugins import SyncoPluginManager
from synco_core.values import (
    DatabaseConfig,
    DatabaseInventory,
    DatabaseReader,
    DumpOptions,
    DumpResult,
    FileSet,
    FileSetOptions,
    Framework,
    InstallOptions,
    InstallResult,
    ReceivedFileSet,
)

#: The file-set kinds the wire format knows.
FILE_SET_KINDS = ("public", "private")


class DatabaseWatch:
    """A plugin of wrappers around the database hooks that records every call (and lets it go through).

    Registered beside a framework plugin, it shows whether detection reached the database: through
    ``inspect_with_engine``, ``connect_with_engine`` or ``dump_with_engine``, every path a plugin has to it.
    """

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl(wrapper=True)
    def inspect_database(self, database: DatabaseConfig) -> Iterator[None]:
        self.calls.append(f"inspect_database({database.url(mask_password=True)})")
        return (yield)

    @hookimpl(wrapper=True)
    def connect_database(self, database: DatabaseConfig) -> Iterator[None]:
        self.calls.append(f"connect_database({database.url(mask_password=True)})")
        return (yield)

    @hookimpl(wrapper=True)
    def dump_database(self, database: DatabaseConfig, out: BinaryIO, options: DumpOptions) -> Iterator[None]:
        self.calls.append(f"dump_database({database.url(mask_password=True)})")
        return (yield)


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

    def detect_own(self, manager: SyncoPluginManager, project_dir: Path, side: Side = "source") -> Framework | None:
        """The plugin's own ``detect_framework`` answer for ``project_dir`` (at most one is allowed)."""
        answers = [a for a in _call_plugin(manager, "detect_framework", self.plugin_name,
                                           project_dir=project_dir.resolve(), side=side) if a is not None]
        assert len(answers) <= 1, f"plugin {self.plugin_name} answered detect_framework {len(answers)} times"
        return answers[0] if answers else None

    @pytest.fixture
    def database_watch(self, contract_manager: SyncoPluginManager) -> Iterator[DatabaseWatch]:
        """Every call of a database hook while the test runs (see :class:`DatabaseWatch`)."""
        watch = DatabaseWatch()
        assert contract_manager.register(watch, "contract-database-watch")
        yield watch
        contract_manager.unregister("contract-database-watch")

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

    def test_detect_framework_leaves_the_database_alone(self, contract_manager: SyncoPluginManager,
                                                        database_watch: DatabaseWatch, project_dir: Path) -> None:
        """Detection reads files: what a profile needs from the database comes to ``default_dump_options``."""
        self.detect_own(contract_manager, project_dir)
        assert database_watch.calls == [], (
            f"plugin {self.plugin_name} reached the database while detecting: {database_watch.calls}; "
            "implement default_dump_options, which receives the database's inventory")

    def test_default_dump_options_well_formed(self, contract_manager: SyncoPluginManager, project_dir: Path) -> None:
        """DumpOptions (or None) for its own framework, whether the database could be inspected or not;
        None for another plugin's framework."""
        framework = self.detect_own(contract_manager, project_dir)
        assert framework is not None
        engine = framework.database.engine if framework.database is not None else "sqlite"
        for inventory in (None, DatabaseInventory(engine=engine, server_version="")):
            for answer in _call_plugin(contract_manager, "default_dump_options", self.plugin_name,
                                       framework=framework, inventory=inventory):
                assert answer is None or isinstance(answer, DumpOptions), (
                    f"default_dump_options returned {type(answer).__name__}, not DumpOptions")
        other = Framework(name="Some Other Framework", plugin=f"not-{self.plugin_name}",
                          project_dir=project_dir, reason="contract test")
        for answer in _call_plugin(contract_manager, "default_dump_options", self.plugin_name,
                                   framework=other, inventory=None):
            assert answer is None, f"plugin {self.plugin_name} answered default_dump_options for another framework"

    def test_ignores_empty_directory(self, contract_manager: SyncoPluginManager, tmp_path: Path) -> None:
        empty = tmp_path / "empty-project"
        empty.mkdir()
        assert self.detect_own(contract_manager, empty) is None

    def test_core_detection_picks_plugin(self, contract_manager: SyncoPluginManager, project_dir: Path) -> None:
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

    def test_install_files_ignores_other_frameworks(self, contract_manager: SyncoPluginManager, project_dir: Path,
                                                    tmp_path: Path) -> None:
        """``install_files`` is asked for every framework's sets: for another plugin's it answers None and
        moves nothing, even for a set named like one of its own."""
        framework = self.detect_own(contract_manager, project_dir)
        names = [s.name for answer in _call_plugin(contract_manager, "list_file_sets", self.plugin_name,
                                                   framework=framework, options=FileSetOptions(all=True))
                 if framework is not None for s in answer or ()] or ["uploads"]
        other = Framework(name="Some Other Framework", plugin=f"not-{self.plugin_name}", project_dir=project_dir,
                          reason="contract test")
        received = tmp_path / "contract-received"
        received.mkdir()
        (received / "received.txt").write_text("received")
        for name in names:
            file_set = ReceivedFileSet(name=name, kind="private", relative_base_path=f"contract-{name}")
            for answer in _call_plugin(contract_manager, "install_files", self.plugin_name, framework=other,
                                       file_set=file_set, source_dir=received):
                assert answer is None, f"plugin {self.plugin_name} installed set {name} of another plugin's framework"
        assert (received / "received.txt").is_file(), f"plugin {self.plugin_name} moved another framework's files"

    def test_database_password_masked(self, contract_manager: SyncoPluginManager, project_dir: Path) -> None:
        """The database and every named one (``Framework.databases``) hide their passwords."""
        framework = self.detect_own(contract_manager, project_dir)
        assert framework is not None
        assert isinstance(framework.databases, dict), "Framework.databases is not a dict of name -> DatabaseConfig"
        databases = [framework.database, *framework.databases.values()]
        for database in (d for d in databases if d is not None):
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

    def test_connect_database_reads_rows(self, engine_manager: SyncoPluginManager, database_url: str) -> None:
        """``connect_database`` (optional for an engine: plugins reading their own rows need it) streams the
        rows of a query with the engine's placeholder, and answers None for another engine."""
        if not _impls_of(engine_manager, "connect_database", self.name):
            # Not implemented: a plugin asking for a connection gets a one-line error naming the engine.
            with pytest.raises(SyncoError, match=self.engine):
                connect_with_engine(parse_database_url(database_url), manager=engine_manager)
            return
        other = DatabaseConfig(engine=f"not-{self.engine}", name="nothing")
        assert all(r is None for r in _call_plugin(engine_manager, "connect_database", self.name, database=other))
        self.execute(database_url, self.create_statements)
        with connect_with_engine(parse_database_url(database_url), manager=engine_manager) as reader:
            assert isinstance(reader, DatabaseReader)
            sql = f"SELECT id, name FROM {self.table} WHERE id >= {reader.placeholder} ORDER BY id"
            assert list(reader.rows(sql, (1,))) == self.expected_rows
            assert list(reader.rows(sql, (3,))) == self.expected_rows[2:]

    def test_inspect_lists_table(self, engine_manager: SyncoPluginManager, database_url: str) -> None:
        self.execute(database_url, self.create_statements)
        inventory = inspect_with_engine(parse_database_url(database_url), manager=engine_manager)
        assert isinstance(inventory, DatabaseInventory)
        assert inventory.engine == self.engine
        tables = {t.name.rsplit(".", 1)[-1]: t for t in inventory.tables}
        assert self.table in tables, f"inspect_database does not list {self.table}: {sorted(tables)}"
        assert {"id", "name"} <= set(tables[self.table].columns)


def _connect(database_url: str) -> Any:
    """A DB-API connection for a built-in engine's URL (the contract's default ``execute``/``fetch``)."""
    config = parse_database_url(database_url)
    if config.engine == "sqlite":
        return sqlite3.connect(config.name)
    if config.engine == "mysql":
        import pymysql

        from synco_core.values import is_loopback_host

        return pymysql.connect(host=config.host or "127.0.0.1", port=config.port or 3306, user=config.user or "root",
                               password=config.password or "", database=config.name, unix_socket=config.socket,
                               charset="utf8mb4",
                               # A loopback server gets no TLS, as synco's own connections: PyMySQL otherwise
                               # builds a context of the system's certificates at each connection (39 ms of CPU).
                               ssl_disabled=config.socket is not None or is_loopback_host(config.host or "127.0.0.1"))
    if config.engine == "postgresql":
        import psycopg

        return psycopg.connect(host=config.socket or config.host or "127.0.0.1", port=config.port or 5432,
                               user=config.user or "postgres", password=config.password, dbname=config.name)
    raise NotImplementedError(f"no default connection for engine {config.engine!r}: override execute and fetch")
