"""Calling the firstresult database hooks, with a clear error when no engine answers."""

from __future__ import annotations

from typing import BinaryIO

from synco_core.errors import ConfigError
from synco_core.plugins import SyncoPluginManager, get_plugin_manager
from synco_core.values import DatabaseConfig, DatabaseInventory, DumpOptions, DumpResult, InstallOptions, InstallResult


def _no_engine(database: DatabaseConfig, manager: SyncoPluginManager) -> ConfigError:
    failed = [f"{f.name} ({f.reason})" for f in manager.failures]
    hint = f"; plugins that failed to load: {', '.join(failed)}" if failed else ""
    return ConfigError(f"no installed engine handles {database.engine!r} databases{hint}")


def dump_with_engine(database: DatabaseConfig, out: BinaryIO, options: DumpOptions,
                     manager: SyncoPluginManager | None = None) -> DumpResult:
    manager = manager or get_plugin_manager()
    result: DumpResult | None = manager.hook.dump_database(database=database, out=out, options=options)
    if result is None:
        raise _no_engine(database, manager)
    return result


def install_with_engine(database: DatabaseConfig, dump: BinaryIO, options: InstallOptions,
                        manager: SyncoPluginManager | None = None) -> InstallResult:
    manager = manager or get_plugin_manager()
    result: InstallResult | None = manager.hook.install_database(database=database, dump=dump, options=options)
    if result is None:
        raise _no_engine(database, manager)
    return result


def rollback_with_engine(database: DatabaseConfig, options: InstallOptions,
                         manager: SyncoPluginManager | None = None) -> InstallResult:
    manager = manager or get_plugin_manager()
    result: InstallResult | None = manager.hook.rollback_database(database=database, options=options)
    if result is None:
        raise _no_engine(database, manager)
    return result


def inspect_with_engine(database: DatabaseConfig, manager: SyncoPluginManager | None = None) -> DatabaseInventory:
    manager = manager or get_plugin_manager()
    result: DatabaseInventory | None = manager.hook.inspect_database(database=database)
    if result is None:
        raise _no_engine(database, manager)
    return result
