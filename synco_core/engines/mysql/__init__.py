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
splitter), :mod:`.load`, :mod:`.install` (load and verify), :mod:`.swap` (the journaled swap and
rollback), :mod:`.preflight` (could an install run here), :mod:`.inventory`.
"""

from __future__ import annotations

from typing import BinaryIO

from synco_core import hookimpl
from synco_core.values import (
    DatabaseConfig,
    DatabaseInventory,
    DatabaseReader,
    DumpOptions,
    DumpRequirements,
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
def check_install_target(database: DatabaseConfig, options: InstallOptions) -> bool | None:
    if database.engine != ENGINE:
        return None
    from synco_core.engines.mysql.preflight import check

    return check(database)


@hookimpl(trylast=True)
def check_dump_requirements(database: DatabaseConfig, requirements: DumpRequirements) -> list[str] | None:
    if database.engine != ENGINE:
        return None
    from synco_core.engines.mysql.requirements import check

    return check(database, requirements)


@hookimpl(trylast=True)
def rollback_database(database: DatabaseConfig, options: InstallOptions) -> InstallResult | None:
    if database.engine != ENGINE:
        return None
    from synco_core.engines.mysql.install import rollback

    return rollback(database, options)


@hookimpl(trylast=True)
def discard_kept_database(database: DatabaseConfig, options: InstallOptions) -> bool | None:
    if database.engine != ENGINE:
        return None
    from synco_core.engines.mysql.install import discard_kept

    discard_kept(database, options)
    return True


@hookimpl(trylast=True)
def inspect_database(database: DatabaseConfig) -> DatabaseInventory | None:
    if database.engine != ENGINE:
        return None
    from synco_core.engines.mysql.inventory import inspect

    return inspect(database)


@hookimpl(trylast=True)
def connect_database(database: DatabaseConfig) -> DatabaseReader | None:
    if database.engine != ENGINE:
        return None
    import pymysql.cursors

    from synco_core.engines.mysql.connect import connect, where
    from synco_core.engines.reader import DbApiReader

    # The engine's own connection: reading follows the same TLS policy as the dump.
    connection = connect(database)
    connection.cursor().execute("SET SESSION TRANSACTION READ ONLY")
    return DbApiReader(connection, placeholder="%s", where=where(database),
                       cursor=lambda: connection.cursor(pymysql.cursors.SSCursor))
