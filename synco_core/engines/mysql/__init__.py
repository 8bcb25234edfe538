"""The built-in MySQL/MariaDB engine, registered as the plugin ``mysql``.

A pure-Python dumper (PyMySQL only: the source host needs no ``mysqldump``) and an atomic installer
that loads into a scratch database, verifies and swaps the tables in with one ``RENAME TABLE``. Every
hook answers only for ``database.engine == "mysql"`` (``mariadb://`` URLs normalise to it) and is
``trylast``, so a framework or third-party plugin can take over.

Modules: :mod:`.connect` (connections, TLS policy), :mod:`.literals` (exact value formatting and the
manifest checksum), :mod:`.schema` (objects of a database and the session each was made in),
:mod:`.qualify` (names qualified with a database, pointed at another), :mod:`.sanitize` (named
transforms), :mod:`.dump`, :mod:`.dumpwriter` (the writer thread and INSERT statements),
:mod:`.tablerows` (a table's rows in pages or streamed), :mod:`.rowstream` (rows straight off the
socket), :mod:`.unsupported` (what a dump refuses or leaves out), :mod:`.splitter` (streaming statement
splitter), :mod:`.load`, :mod:`.install` (swap and rollback), :mod:`.inventory`.
"""

from __future__ import annotations

from typing import BinaryIO

from synco_core import hookimpl
from synco_core.types import (
    DatabaseConfig,
    DatabaseInventory,
    DumpOptions,
    DumpResult,
    InstallOptions,
    InstallResult,
)

ENGINE = "mysql"


@hookimpl(trylast=True)
def dump_database(database: DatabaseConfig, out: BinaryIO, options: DumpOptions) -> DumpResult | None:
    if database.engine != ENGINE:
        return None
    from synco_core.engines.mysql.dump import dump

    return dump(database, out, options)


@hookimpl(trylast=True)
def install_database(database: DatabaseConfig, dump: BinaryIO, options: InstallOptions) -> InstallResult | None:
    if database.engine != ENGINE:
        return None
    from synco_core.engines.mysql.install import install

    return install(database, dump, options)


@hookimpl(trylast=True)
def rollback_database(database: DatabaseConfig, options: InstallOptions) -> InstallResult | None:
    if database.engine != ENGINE:
        return None
    from synco_core.engines.mysql.install import rollback

    return rollback(database, options)


@hookimpl(trylast=True)
def inspect_database(database: DatabaseConfig) -> DatabaseInventory | None:
    if database.engine != ENGINE:
        return None
    from synco_core.engines.mysql.inventory import inspect

    return inspect(database)
