"""The contract test classes of :mod:`synco_core.testing`, run against tiny in-test plugins.

A well-behaved plugin passes every contract test (the subclasses below are collected like a plugin's own
tests); deliberately broken plugins make the individual contract tests fail, which proves the contracts can.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import types
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import pytest

from synco_core import (
    DatabaseConfig,
    DatabaseInventory,
    DatabaseReader,
    DumpOptions,
    DumpResult,
    FileSet,
    FileSetOptions,
    FilesInstallResult,
    Framework,
    InstallOptions,
    InstallResult,
    ReceivedFileSet,
    TableInfo,
    TableManifest,
    hookimpl,
)
from synco_core.dburl import parse_database_url
from synco_core.errors import DatabaseError
from synco_core.plugins import SyncoPluginManager
from synco_core.testing import EngineContract, FrameworkPluginContract, write_distribution

pytestmark = [pytest.mark.hook("detect_framework"), pytest.mark.hook("list_file_sets"),
              pytest.mark.hook("dump_database"), pytest.mark.hook("install_database"),
              pytest.mark.hook("inspect_database")]


pytest_plugins = ["pytester"]


class ToyFramework:
    """A framework plugin recognising a ``toy.ini`` file, with one public and one private file set."""

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        if not (project_dir / "toy.ini").is_file():
            return None
        database = DatabaseConfig(engine="mysql", name="toy", host="127.0.0.1", user="toy", password="s3cret-toy")
        return Framework(name="Toy", plugin="toy", project_dir=project_dir, database=database,
                         web_root=project_dir / "web", reason="toy.ini found")

    @hookimpl
    def list_file_sets(self, framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
        if framework.plugin != "toy":
            return None
        return [
            FileSet(name="uploads", kind="public", root=framework.project_dir / "web/uploads",
                    relative_base_path="web/uploads", url_prefix="uploads/"),
            FileSet(name="private", kind="private", root=framework.project_dir / "var/private",
                    relative_base_path="var/private"),
        ]


def toy_detect(project_dir: Path) -> Framework | None:
    """The toy plugin's detection as a plain function, for building broken variants of the plugin."""
    return ToyFramework().detect_framework(project_dir)


def make_toy_project(base: Path) -> Path:
    (base / "toy.ini").write_text("[toy]\n")
    (base / "web/uploads").mkdir(parents=True)
    (base / "var/private").mkdir(parents=True)
    return base


class TestToyFrameworkContract(FrameworkPluginContract):
    plugin = ToyFramework()
    plugin_name = "toy"

    @pytest.fixture
    def project_dir(self, tmp_path: Path) -> Path:
        return make_toy_project(tmp_path)


# --- a toy engine: SQLite files under the engine name "toysql", enough to run the engine contract -------------


def _toy_path(database: DatabaseConfig) -> Path:
    return Path(database.name)


class ToyEngine:
    """Dumps a SQLite file as an SQL script and installs it into a scratch file that is renamed in."""

    @hookimpl
    def dump_database(self, database: DatabaseConfig, out: BinaryIO, options: DumpOptions) -> DumpResult | None:
        if database.engine != "toysql":
            return None
        tables: dict[str, TableManifest] = {}
        with contextlib.closing(sqlite3.connect(_toy_path(database))) as conn:
            for line in conn.iterdump():
                out.write(line.encode() + b"\n")
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for name in names:
                tables[name] = TableManifest(rows=conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0])
        return DumpResult(engine="toysql", wire_type="SqliteDump", format="sql", tables=tables)

    @hookimpl
    def install_database(self, database: DatabaseConfig, dump: BinaryIO,
                         options: InstallOptions) -> InstallResult | None:
        if database.engine != "toysql":
            return None
        target = _toy_path(database)
        scratch = target.with_name(target.name + ".new")
        scratch.unlink(missing_ok=True)
        with contextlib.closing(sqlite3.connect(scratch)) as conn:
            conn.executescript(dump.read().decode())
            for name, manifest in options.manifest.items():
                rows = conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
                if rows != manifest.rows:
                    raise DatabaseError(f"table {name}: {rows} rows loaded, {manifest.rows} expected")
        os.replace(scratch, target)
        return InstallResult(engine="toysql", database=str(target), tables=len(options.manifest))

    @hookimpl
    def connect_database(self, database: DatabaseConfig) -> DatabaseReader | None:
        if database.engine != "toysql":
            return None
        return ToyReader(sqlite3.connect(_toy_path(database)))

    @hookimpl
    def inspect_database(self, database: DatabaseConfig) -> DatabaseInventory | None:
        if database.engine != "toysql":
            return None
        with contextlib.closing(sqlite3.connect(_toy_path(database))) as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            tables = [TableInfo(name=n, columns=[c[1] for c in conn.execute(f'PRAGMA table_info("{n}")')])
                      for n in names]
        return DatabaseInventory(engine="toysql", server_version=sqlite3.sqlite_version, tables=tables)


class ToyReader(DatabaseReader):
    """A third-party engine's reader, written against the public :class:`DatabaseReader` alone."""

    placeholder = "?"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        cursor = self.connection.execute(sql, tuple(params))
        while batch := cursor.fetchmany(2):
            yield from (tuple(row) for row in batch)

    def close(self) -> None:
        self.connection.close()


def _toy_url(path: Path) -> str:
    # The absolute path is URL-encoded whole, so its leading slash survives as the database name.
    return f"toysql://localhost/{quote(str(path), safe='')}"


class TestToyEngineContract(EngineContract):
    engine = "toysql"
    plugin = ToyEngine()

    @pytest.fixture
    def database_url(self, tmp_path: Path) -> str:
        return _toy_url(tmp_path / "source.db")

    @pytest.fixture
    def target_database_url(self, tmp_path: Path) -> str:
        return _toy_url(tmp_path / "target.db")

    def execute(self, database_url: str, statements: Any) -> None:
        with contextlib.closing(sqlite3.connect(parse_database_url(database_url).name)) as conn:
            for statement in statements:
                conn.execute(statement)
            conn.commit()

    def fetch(self, database_url: str, query: str) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(parse_database_url(database_url).name)) as conn:
            return [tuple(r) for r in conn.execute(query)]


# --- the contracts fail for plugins that break them -------------------------------------------------------------


@pytest.fixture
def contract_for(plugin_manager: SyncoPluginManager) -> Iterator[Callable[[object], tuple[Any, SyncoPluginManager]]]:
    """Builds a contract instance for a (broken) framework plugin and registers the plugin as ``toy``."""

    def build(plugin: object) -> tuple[Any, SyncoPluginManager]:
        contract = type("BrokenContract", (FrameworkPluginContract,), {"plugin": plugin, "plugin_name": "toy"})()
        assert plugin_manager.register(plugin, "toy"), plugin_manager.failures
        return contract, plugin_manager

    yield build
    plugin_manager.unregister("toy")


def _plugin(**hooks: Callable[..., Any]) -> object:
    """A plugin object whose hook implementations are the given functions."""
    return types.SimpleNamespace(**{name: hookimpl(function) for name, function in hooks.items()})


def test_contract_fails_when_plugin_name_is_wrong(contract_for: Any, tmp_path: Path) -> None:
    def detect_framework(project_dir: Path) -> Framework | None:
        return Framework(name="Toy", plugin="other", project_dir=project_dir, reason="always")

    contract, manager = contract_for(_plugin(detect_framework=detect_framework))
    with pytest.raises(AssertionError):
        contract.test_detects_fixture_project(manager, make_toy_project(tmp_path))


def test_contract_fails_without_reason(contract_for: Any, tmp_path: Path) -> None:
    def detect_framework(project_dir: Path) -> Framework | None:
        return Framework(name="Toy", plugin="toy", project_dir=project_dir)

    contract, manager = contract_for(_plugin(detect_framework=detect_framework))
    with pytest.raises(AssertionError, match="reason"):
        contract.test_detects_fixture_project(manager, make_toy_project(tmp_path))


def test_contract_fails_when_empty_directory_matches(contract_for: Any, tmp_path: Path) -> None:
    def detect_framework(project_dir: Path) -> Framework | None:
        return Framework(name="Toy", plugin="toy", project_dir=project_dir, reason="always")

    contract, manager = contract_for(_plugin(detect_framework=detect_framework))
    with pytest.raises(AssertionError):
        contract.test_ignores_empty_directory(manager, tmp_path)


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        ([FileSet(name="a", kind="public"), FileSet(name="a", kind="private")], "unique"),
        ([FileSet(name="a", kind="secret")], "kind"),  # type: ignore[arg-type]
    ],
)
def test_contract_fails_on_bad_file_sets(contract_for: Any, tmp_path: Path, sets: list[FileSet], message: str) -> None:
    def list_file_sets(framework: Framework, options: FileSetOptions) -> list[FileSet]:
        return sets

    contract, manager = contract_for(_plugin(detect_framework=toy_detect, list_file_sets=list_file_sets))
    with pytest.raises(AssertionError, match=message):
        contract.test_file_sets_are_well_formed(manager, make_toy_project(tmp_path))


@pytest.mark.parametrize("base", ["../outside", "/etc", "a/../../b"])
def test_contract_fails_on_unsafe_base_path(contract_for: Any, tmp_path: Path, base: str) -> None:
    def list_file_sets(framework: Framework, options: FileSetOptions) -> list[FileSet]:
        return [FileSet(name="a", kind="private", relative_base_path=base)]

    contract, manager = contract_for(_plugin(detect_framework=toy_detect, list_file_sets=list_file_sets))
    with pytest.raises(Exception, match="unsafe path"):
        contract.test_file_sets_are_well_formed(manager, make_toy_project(tmp_path))


def test_contract_fails_when_sets_listed_for_other_framework(contract_for: Any, tmp_path: Path) -> None:
    def list_file_sets(framework: Framework, options: FileSetOptions) -> list[FileSet]:
        return [FileSet(name="a", kind="public")]

    contract, manager = contract_for(_plugin(list_file_sets=list_file_sets))
    with pytest.raises(AssertionError, match="another plugin"):
        contract.test_file_sets_ignore_other_frameworks(manager, make_toy_project(tmp_path))


def test_contract_fails_when_files_installed_for_other_framework(contract_for: Any, tmp_path: Path) -> None:
    # A plugin that places sets by name alone takes another framework's set of the same name.
    def install_files(framework: Framework, file_set: ReceivedFileSet, source_dir: Path) -> FilesInstallResult:
        return FilesInstallResult(destination=framework.project_dir / file_set.name)

    contract, manager = contract_for(_plugin(install_files=install_files))
    with pytest.raises(AssertionError, match="another plugin's framework"):
        contract.test_install_files_ignores_other_frameworks(manager, make_toy_project(tmp_path), tmp_path)


def test_engine_contract_fails_when_engine_answers_for_everything(plugin_manager: SyncoPluginManager) -> None:
    class Greedy(ToyEngine):
        @hookimpl
        def dump_database(self, database: DatabaseConfig, out: BinaryIO, options: DumpOptions) -> DumpResult:
            out.write(b"-- greedy\n")
            return DumpResult(engine=database.engine, wire_type="SqliteDump", format="sql")

    assert plugin_manager.register(Greedy(), "toysql")
    contract = TestToyEngineContract()
    with pytest.raises(AssertionError, match="None for another engine"):
        contract.test_dump_ignores_other_engine(plugin_manager)


# --- the fixtures for plugin authors clean up after themselves ----------------------------------------------------

FIXTURE_USER = '''
import types

from synco_core import hookimpl
from synco_core.plugins import get_plugin_manager


def detect_framework(project_dir):
    return None


PLUGIN = types.SimpleNamespace(detect_framework=hookimpl(detect_framework))
SEEN = []


def test_1_registers(plugin_manager, register_plugin):
    # The fixture's manager is the one synco uses during the test, and it has no entry-point plugins.
    assert get_plugin_manager() is plugin_manager
    assert "installed" not in plugin_manager.infos
    assert "sqlite" in plugin_manager.infos
    register_plugin(PLUGIN, "x")
    assert plugin_manager.infos["x"].hooks == ["detect_framework"]
    SEEN.append(plugin_manager)


def test_2_registration_was_undone():
    [manager] = SEEN
    assert "x" not in manager.infos and not manager.pm.is_registered(PLUGIN)


def test_3_process_manager_is_rebuilt_with_entry_points():
    manager = get_plugin_manager()
    assert manager is not SEEN[0]
    assert "installed" in manager.infos
'''


def test_plugin_author_fixtures_clean_up(pytester: pytest.Pytester) -> None:
    """``plugin_manager`` leaves entry points out and resets synco's manager; ``register_plugin`` unregisters.

    Run as a plugin author's suite would be, in its own process with ``-p synco_core.testing``, beside an
    installed distribution whose entry point must appear only outside the fixtures.
    """
    from test_core_plugins import GOOD_MODULE

    # runpytest_subprocess puts the pytester directory on PYTHONPATH, so the distribution counts as installed.
    write_distribution(pytester.path, "synco-installed", {"installed": "synco_installed_plugin"},
                       {"synco_installed_plugin": GOOD_MODULE})
    pytester.makepyfile(test_fixture_user=FIXTURE_USER)
    result = pytester.runpytest_subprocess("-p", "synco_core.testing", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


# --- a plugin that does not match the hook specifications fails registration, and so the test -------------------


def test_register_plugin_fixture_fails_on_a_misspelt_hook(register_plugin: Callable[[object, str], None],
                                                          plugin_manager: SyncoPluginManager) -> None:
    def detect_framwork(project_dir: Path) -> None:
        return None

    with pytest.raises(AssertionError,
                       match=r"plugin typo did not register: implements unknown hook\(s\): detect_framwork"):
        register_plugin(_plugin(detect_framwork=detect_framwork), "typo")
    assert "typo" not in plugin_manager.infos and plugin_manager.pm.get_plugin("typo") is None


def test_register_plugin_fixture_fails_on_a_wrong_argument_name(register_plugin: Callable[[object, str], None],
                                                                plugin_manager: SyncoPluginManager) -> None:
    def list_file_sets(framework: Framework, opts: FileSetOptions) -> None:
        return None

    with pytest.raises(AssertionError, match=r"plugin typo did not register: .*list_file_sets.*opts"):
        register_plugin(_plugin(list_file_sets=list_file_sets), "typo")
    assert "typo" not in plugin_manager.infos and plugin_manager.pm.get_plugin("typo") is None


BROKEN_CONTRACT_USER = '''
import types

import pytest

from synco_core import Framework, hookimpl
from synco_core.testing import FrameworkPluginContract


def detect_framework(project_dir):
    if (project_dir / "toy.ini").exists():
        return Framework(name="Toy", plugin="toy", project_dir=project_dir, reason="toy.ini found")
    return None


def {name}({arguments}):
    return None


class TestBrokenContract(FrameworkPluginContract):
    plugin = types.SimpleNamespace(detect_framework=hookimpl(detect_framework), {name}=hookimpl({name}))
    plugin_name = "toy"

    @pytest.fixture
    def project_dir(self, tmp_path):
        (tmp_path / "toy.ini").write_text("[toy]\\n")
        return tmp_path
'''


@pytest.mark.parametrize(
    ("name", "arguments", "reason"),
    [
        ("list_file_sets", "framework, opts", "*plugin toy did not register*list_file_sets*opts*"),
        ("list_files_sets", "framework, options", "*plugin toy did not register: implements unknown hook(s): "
                                                  "list_files_sets*"),
    ],
    ids=["wrong-argument", "misspelt-hook"],
)
def test_contract_subclass_fails_for_a_plugin_not_matching_the_specs(pytester: pytest.Pytester, name: str,
                                                                      arguments: str, reason: str) -> None:
    """A plugin author's contract subclass errors in ``contract_manager`` for every contract test: none passes.

    Without the check, the misnamed implementation would simply never be called and the suite would go green.
    """
    pytester.makepyfile(test_broken_contract=BROKEN_CONTRACT_USER.format(name=name, arguments=arguments))
    result = pytester.runpytest_subprocess("-p", "synco_core.testing", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    contract_tests = [n for n in dir(FrameworkPluginContract) if n.startswith("test_")]
    assert outcomes.get("passed", 0) == 0 and outcomes.get("failed", 0) == 0, result.stdout.str()[-3000:]
    assert outcomes.get("errors") == len(contract_tests), result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines([reason])


@pytest.mark.mysql
def test_admin_connections_to_a_loopback_mysql_build_no_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyMySQL 1.2 builds a context with the system's CA certificates for every connection not told to go
    without TLS: 40 ms of CPU each, thousands of times a suite run, to a loopback server."""
    import ssl

    from synco_core.testing.services import MYSQL_HOST, mysql_admin_connection
    from synco_core.values import is_loopback_host

    assert is_loopback_host(MYSQL_HOST), "the test servers are local"

    def refused(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        raise AssertionError("a TLS context was built for a loopback connection")

    monkeypatch.setattr(ssl, "create_default_context", refused)
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
    finally:
        conn.close()
