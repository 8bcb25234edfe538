"""Calling the firstresult database hooks, with a clear error when no engine answers.

These are also what plugins use (through :mod:`synco_core`) to reach a database without knowing its engine.
"""

from __future__ import annotations

from typing import BinaryIO, TypeVar

from synco_core.errors import ConfigError
from synco_core.plugins import SyncoPluginManager, get_plugin_manager
from synco_core.values import (
    DatabaseConfig,
    DatabaseInventory,
    DatabaseReader,
    DumpOptions,
    DumpResult,
    InstallOptions,
    InstallResult,
)

T = TypeVar("T")


def _answered(result: T | None, database: DatabaseConfig, manager: SyncoPluginManager) -> T:
    """A firstresult hook's answer, or the error that says no engine took ``database``."""
    if result is not None:
        return result
    failed = [f"{f.name} ({f.reason})" for f in manager.failures]
    hint = f"; plugins that failed to load: {', '.join(failed)}" if failed else ""
    raise ConfigError(f"no installed engine handles {database.engine!r} databases{hint}")


def dump_with_engine(database: DatabaseConfig, out: BinaryIO, options: DumpOptions,
                     manager: SyncoPluginManager | None = None) -> DumpResult:
    """Dump ``database`` to ``out`` with whichever engine handles it (``dump_database``)."""
    manager = manager or get_plugin_manager()
    result: DumpResult | None = manager.hook.dump_database(database=database, out=out, options=options)
    return _answered(result, database, manager)


def install_with_engine(database: DatabaseConfig, dump: BinaryIO, options: InstallOptions,
                        manager: SyncoPluginManager | None = None) -> InstallResult:
    """Load ``dump`` into ``database`` with whichever engine handles it (``install_database``)."""
    manager = manager or get_plugin_manager()
    result: InstallResult | None = manager.hook.install_database(database=database, dump=dump, options=options)
    return _answered(result, database, manager)


def rollback_with_engine(database: DatabaseConfig, options: InstallOptions,
                         manager: SyncoPluginManager | None = None) -> InstallResult:
    """Put back what the last install replaced in ``database`` (``rollback_database``)."""
    manager = manager or get_plugin_manager()
    result: InstallResult | None = manager.hook.rollback_database(database=database, options=options)
    return _answered(result, database, manager)


def inspect_with_engine(database: DatabaseConfig, manager: SyncoPluginManager | None = None) -> DatabaseInventory:
    """The tables and columns of ``database``, from its engine's statistics (``inspect_database``)."""
    manager = manager or get_plugin_manager()
    result: DatabaseInventory | None = manager.hook.inspect_database(database=database)
    return _answered(result, database, manager)


def connect_with_engine(database: DatabaseConfig, manager: SyncoPluginManager | None = None) -> DatabaseReader:
    """A connection for reading rows of ``database``, from whichever engine handles it (``connect_database``).

    The caller closes it (``with connect_with_engine(database) as reader: ...``).
    """
    manager = manager or get_plugin_manager()
    result: DatabaseReader | None = manager.hook.connect_database(database=database)
    return _answered(result, database, manager)
