"""Calling the firstresult hooks: engines and the default file installer, chosen by plugin answers alone."""

from __future__ import annotations

import io
import types
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

from synco_core import (
    DatabaseConfig,
    DatabaseInventory,
    DumpOptions,
    DumpResult,
    FilesInstallResult,
    Framework,
    InstallOptions,
    InstallResult,
    ReceivedFileSet,
    hookimpl,
)
from synco_core.engines.dispatch import dump_with_engine, inspect_with_engine, install_with_engine, rollback_with_engine
from synco_core.errors import ConfigError, UnsafePathError
from synco_core.plugins import PluginFailure, SyncoPluginManager

Register = Callable[[object, str], None]
TOY = DatabaseConfig(engine="toy", name="shop")
OTHER = DatabaseConfig(engine="elsewhere", name="shop")


class ToyEngine:
    """Answers for the engine ``toy`` only and records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def dump_database(self, database: DatabaseConfig, out: BinaryIO, options: DumpOptions) -> DumpResult | None:
        if database.engine != "toy":
            return None
        self.calls.append("dump")
        out.write(b"-- toy dump\n")
        return DumpResult(engine="toy", wire_type="ToyDump", format="sql")

    @hookimpl
    def install_database(self, database: DatabaseConfig, dump: BinaryIO,
                         options: InstallOptions) -> InstallResult | None:
        if database.engine != "toy":
            return None
        self.calls.append("install:" + dump.read().decode().strip())
        return InstallResult(engine="toy", database=database.name, tables=1, backup="shop_previous")

    @hookimpl
    def rollback_database(self, database: DatabaseConfig, options: InstallOptions) -> InstallResult | None:
        if database.engine != "toy":
            return None
        self.calls.append(f"rollback:yes={options.yes}")
        return InstallResult(engine="toy", database=database.name, tables=1)

    @hookimpl
    def inspect_database(self, database: DatabaseConfig) -> DatabaseInventory | None:
        if database.engine != "toy":
            return None
        self.calls.append("inspect")
        return DatabaseInventory(engine="toy", server_version="1.0")


@pytest.fixture
def toy(plugin_manager: SyncoPluginManager, register_plugin: Register) -> ToyEngine:
    engine = ToyEngine()
    register_plugin(engine, "toy")
    return engine


def test_dump_database_goes_to_the_answering_engine(toy: ToyEngine, plugin_manager: SyncoPluginManager) -> None:
    out = io.BytesIO()
    result = dump_with_engine(TOY, out, DumpOptions(), plugin_manager)
    assert (result.engine, out.getvalue(), toy.calls) == ("toy", b"-- toy dump\n", ["dump"])


def test_install_database_goes_to_the_answering_engine(toy: ToyEngine, plugin_manager: SyncoPluginManager) -> None:
    result = install_with_engine(TOY, io.BytesIO(b"payload\n"), InstallOptions(yes=True), plugin_manager)
    assert (result.backup, toy.calls) == ("shop_previous", ["install:payload"])


def test_rollback_database_goes_to_the_answering_engine(toy: ToyEngine, plugin_manager: SyncoPluginManager) -> None:
    result = rollback_with_engine(TOY, InstallOptions(yes=True), plugin_manager)
    assert (result.engine, toy.calls) == ("toy", ["rollback:yes=True"])


def test_inspect_database_goes_to_the_answering_engine(toy: ToyEngine, plugin_manager: SyncoPluginManager) -> None:
    assert inspect_with_engine(TOY, plugin_manager).server_version == "1.0"
    assert toy.calls == ["inspect"]


@pytest.mark.hook("dump_database")
@pytest.mark.hook("install_database")
@pytest.mark.hook("rollback_database")
@pytest.mark.hook("inspect_database")
def test_no_engine_is_a_clear_error(toy: ToyEngine, plugin_manager: SyncoPluginManager) -> None:
    plugin_manager.failures.append(PluginFailure("duckdb", "synco-duckdb", "ImportError: no duckdb"))
    calls: list[Callable[[], object]] = [
        lambda: dump_with_engine(OTHER, io.BytesIO(), DumpOptions(), plugin_manager),
        lambda: install_with_engine(OTHER, io.BytesIO(), InstallOptions(), plugin_manager),
        lambda: rollback_with_engine(OTHER, InstallOptions(), plugin_manager),
        lambda: inspect_with_engine(OTHER, plugin_manager),
    ]
    for call in calls:
        with pytest.raises(ConfigError, match="no installed engine handles 'elsewhere' databases; "
                                              r"plugins that failed to load: .*duckdb \(ImportError: no duckdb\)"):
            call()
    assert toy.calls == []


def test_install_files_default_copies_and_keeps_previous(plugin_manager: SyncoPluginManager, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "storage/app/public").mkdir(parents=True)
    (project / "storage/app/public/old.txt").write_text("old")
    received = tmp_path / "dump/public"
    (received / "img").mkdir(parents=True)
    (received / "img/new.png").write_bytes(b"png")
    framework = Framework(name="X", plugin="x", project_dir=project)
    file_set = ReceivedFileSet(name="public", kind="public", relative_base_path="storage/app/public")
    result = plugin_manager.hook.install_files(framework=framework, file_set=file_set, source_dir=received)
    assert isinstance(result, FilesInstallResult)
    assert result.files == 1 and result.destination == project / "storage/app/public"
    assert (project / "storage/app/public/img/new.png").read_bytes() == b"png"
    assert not (project / "storage/app/public/old.txt").exists()
    assert result.backup is not None and (result.backup / "old.txt").read_text() == "old"


def test_install_files_plugin_wins_over_default(plugin_manager: SyncoPluginManager, register_plugin: Register,
                                                tmp_path: Path) -> None:
    @hookimpl
    def install_files(framework: Framework, file_set: ReceivedFileSet, source_dir: Path) -> FilesInstallResult:
        return FilesInstallResult(destination=tmp_path / "custom", files=42)

    register_plugin(types.SimpleNamespace(install_files=install_files), "custom")
    result = plugin_manager.hook.install_files(
        framework=Framework(name="X", plugin="x", project_dir=tmp_path),
        file_set=ReceivedFileSet(name="a", kind="private", relative_base_path="a"), source_dir=tmp_path)
    assert result.files == 42


@pytest.mark.parametrize("base", ["", "../escape", "/etc"])
def test_install_files_default_refuses_bad_destination(plugin_manager: SyncoPluginManager, tmp_path: Path,
                                                       base: str) -> None:
    framework = Framework(name="X", plugin="x", project_dir=tmp_path)
    with pytest.raises((ConfigError, UnsafePathError)):
        plugin_manager.hook.install_files(framework=framework, source_dir=tmp_path,
                                          file_set=ReceivedFileSet(name="a", kind="private", relative_base_path=base))
