"""``synco db``: dump, load and roll back a database directly, through the engine plugins.

A database URL holds a password, and a command line is seen by every user of the machine (``ps``) and kept
in shell history; so wherever a URL is asked for, it may also come from ``SYNCO_DATABASE_URL`` or, in a
terminal, from a hidden prompt.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import BinaryIO

import click

from synco_core.cli.options import (
    LocalPath,
    asker,
    debug_option,
    interactive,
    no_terminate_option,
    skip_requirements_option,
    skip_unsupported_option,
    yes_option,
)
from synco_core.dburl import parse_database_url
from synco_core.dumpfile import open_dump
from synco_core.engines.dispatch import dump_with_engine, install_with_engine, rollback_with_engine
from synco_core.errors import ConfigError
from synco_core.fsutil import FIFO, special_kind, user_output
from synco_core.install.projectlock import direct_database_command
from synco_core.values import DatabaseConfig, DumpOptions, Framework, InstallOptions, SanitizeRule

#: One part of a name: double-quoted (its quotes doubled), which may hold dots, ``=`` and quotes, or plain.
_PART = r'"(?:[^"]|"")+"|[^."=][^.=]*'
#: ``NAME=SQL``: the name's parts, then the first ``=`` that is not inside a quoted part (``"a=b"=...``).
_PAIR = re.compile(rf"((?:{_PART})(?:\.(?:{_PART}))*)=(.+)", re.DOTALL)
_NAME = re.compile(rf"(?:{_PART})(?:\.(?:{_PART}))*", re.DOTALL)
_PARTS = re.compile(_PART, re.DOTALL)


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    result = {}
    for value in values:
        match = _PAIR.fullmatch(value)
        if match is None or not match.group(1).strip():
            raise ConfigError(f"{option} expects TABLE=SQL, got {value!r}")
        result[match.group(1).strip()] = match.group(2)
    return result


def build_dump_options(exclude: tuple[str, ...], where: tuple[str, ...], sanitize: tuple[str, ...],
                       routines: bool = True, events: bool = False, sql: bool = False,
                       owners: bool = False, skip_unsupported: bool = False, secrets: bool = False) -> DumpOptions:
    rules = []
    for target, expression in _pairs(sanitize, "--sanitize").items():
        # The column is the last part, double-quoted when it holds a dot (``users."x.y"``).
        parts = _PARTS.findall(target) if _NAME.fullmatch(target) else []
        if len(parts) < 2:
            raise ConfigError(f"--sanitize expects TABLE.COLUMN=SQL, got {target!r}")
        table, column = ".".join(parts[:-1]), parts[-1]
        if column.startswith('"'):
            column = column[1:-1].replace('""', '"')
        rules.append(SanitizeRule(table, column, expression))
    return DumpOptions(
        exclude_tables=exclude,
        where=_pairs(where, "--where"),
        sanitize=tuple(rules),
        routines=routines,
        events=events,
        format="sql" if sql else "native",
        owners=owners,
        skip_unsupported=skip_unsupported,
        secrets=secrets,
    )


#: Where a database URL may come from instead of the command line.
DATABASE_URL_VARIABLE = "SYNCO_DATABASE_URL"


def database_url_from(value: str | None) -> str:
    """``value``, else ``$SYNCO_DATABASE_URL``, else a hidden prompt in a terminal; a usage error otherwise."""
    import os

    if value:
        return value
    if os.environ.get(DATABASE_URL_VARIABLE):
        return os.environ[DATABASE_URL_VARIABLE]
    if interactive():
        return str(click.prompt("Database URL", hide_input=True, err=True))
    raise click.UsageError(f"missing DATABASE_URL (give it as an argument, in {DATABASE_URL_VARIABLE}, or in a "
                           "terminal at the prompt)")


@click.group("db")
@debug_option
def command() -> None:
    """Dump, load and roll back databases directly."""


@command.command("dump")
@click.argument("database_url", required=False)
@click.option("-o", "--output", type=LocalPath(path_type=Path), help="Write here (default: stdout).")
@click.option("--exclude-table", "exclude", multiple=True, help="Dump the structure but no rows (repeatable).")
@click.option("--where", multiple=True, help="TABLE=SQL condition rows must meet (repeatable).")
@click.option("--sanitize", multiple=True, help="TABLE.COLUMN=SQL expression replacing the value (repeatable).")
@click.option("--routines/--no-routines", default=True, show_default=True,
              help="Dump stored routines (MySQL); without them, views and triggers calling them are left out.")
@click.option("--events", is_flag=True, help="Also dump events (MySQL).")
@click.option("--sql", is_flag=True, help="SQLite: write an SQL script instead of the database file.")
@click.option("--owners", is_flag=True, help="PostgreSQL: keep owners and grants (left out by default).")
@skip_unsupported_option
@click.option("--secrets", is_flag=True,
              help="PostgreSQL: keep passwords and keys stored in user mappings (left out by default).")
@debug_option
def dump(database_url: str | None, output: Path | None, exclude: tuple[str, ...], where: tuple[str, ...],
         sanitize: tuple[str, ...], routines: bool, events: bool, sql: bool, owners: bool, skip_unsupported: bool,
         secrets: bool) -> None:
    """Dump DATABASE_URL (or $SYNCO_DATABASE_URL) with synco's own dumper (no mysqldump or pg_dump needed)."""
    database = parse_database_url(database_url_from(database_url))
    options = build_dump_options(exclude, where, sanitize, routines, events, sql, owners, skip_unsupported, secrets)
    if output is None:
        result = dump_with_engine(database, sys.stdout.buffer, options)
        sys.stdout.buffer.flush()
    else:
        # A dump is the database's content: for its owner alone (0600), whatever the umask.
        with user_output(output, private=True) as out:
            result = dump_with_engine(database, out, options)
    total = sum(t.rows for t in result.tables.values())
    click.echo(f"Dumped {len(result.tables)} tables, {total} rows ({result.engine} {result.server_version})".rstrip(),
               err=True)


def _local_hosts(database: DatabaseConfig, force_remote_target: bool) -> tuple[str, ...]:
    """The hosts the current directory's ``.synco.yml`` declares local (``local_hosts:``), when they matter.

    Only the ``amend_framework`` hooks run (synco-generic applies ``.synco.yml`` there), on a bare project:
    no framework detection, so a directory with nothing but ``.synco.yml`` works, and nothing runs at all
    for a target that is plainly local or forced.
    """
    if force_remote_target or database.is_local():
        return ()
    from synco_core.install.plan import local_hosts_of
    from synco_core.plugins import get_plugin_manager

    project = Framework(name="", plugin="", project_dir=Path.cwd())
    for _ in get_plugin_manager().call_each("amend_framework", framework=project):
        pass
    return local_hosts_of(project)


def _check_dump_file(file: Path) -> None:
    """Refuse, in one line that says why, a FILE that is missing or not a regular file."""
    kind = special_kind(file)
    if kind == FIFO:
        # Its first bytes would be spent telling SQL from SQLite: a pipe is read from standard input.
        raise ConfigError(f"cannot load {file}: it is {kind}; give - to read the dump from standard input")
    if kind is not None:
        raise ConfigError(f"cannot load {file}: it is {kind}, not a dump file")
    if not file.is_file():
        raise ConfigError(f"dump file not found: {file}")


def _check_requirements(database: DatabaseConfig, file: Path, stream: BinaryIO, ask_server: bool,
                        skip: bool) -> BinaryIO:
    """What the dump's header says it needs (:mod:`synco_core.dumpheader`), checked against the local server
    before anything changes; the stream to load from. A database not on this machine is never asked: the
    load refuses it first."""
    from synco_core.dumpheader import read_requires
    from synco_core.install.requirements import NOTHING_CHANGED, check_database_requirements

    name = "the dump on standard input" if str(file) == "-" else f"the dump {file}"
    requires, stream = read_requires(stream, f"-- synco-requires line of {name}")
    if ask_server:
        check_database_requirements(database, name, requires, skip=skip, nothing_done=NOTHING_CHANGED)
    return stream


@command.command("load")
@click.argument("arguments", nargs=-1, metavar="[DATABASE_URL] FILE")
@yes_option
@click.option("--force-remote-target", is_flag=True, help="Allow a database that is not on this machine.")
@no_terminate_option
@skip_requirements_option
@debug_option
def load(arguments: tuple[str, ...], yes: bool, force_remote_target: bool, no_terminate: bool,
         skip_requirements: bool) -> None:
    """Load FILE into DATABASE_URL (or $SYNCO_DATABASE_URL) atomically; the previous content is kept for rollback."""
    if len(arguments) not in (1, 2):
        raise click.UsageError("expected [DATABASE_URL] FILE")
    database = parse_database_url(database_url_from(arguments[0] if len(arguments) == 2 else None))
    file = Path(arguments[-1])
    if str(file) != "-":
        _check_dump_file(file)
    local_hosts = _local_hosts(database, force_remote_target)
    # The kind of a dump on standard input is told by its first bytes, as a file's is.
    with direct_database_command(Path.cwd(), "db load"), open_dump(file, sys.stdin.buffer) as dump:
        stream = dump.stream
        if dump.format == "sql":
            stream = _check_requirements(database, file, stream, force_remote_target or database.is_local(local_hosts),
                                         skip_requirements)
        options = InstallOptions(format=dump.format, yes=yes, force_remote_target=force_remote_target,
                                 confirm=asker(), local_hosts=local_hosts, terminate_sessions=not no_terminate)
        result = install_with_engine(database, stream, options)
    click.echo(f"Loaded {result.tables} tables, {result.rows} rows into {database.url(mask_password=True)}"
               + (f"; previous content kept as {result.backup} (synco db rollback)" if result.backup else ""), err=True)


@command.command("rollback")
@click.argument("database_url", required=False)
@yes_option
@click.option("--force-remote-target", is_flag=True, help="Allow a database that is not on this machine.")
@debug_option
def rollback(database_url: str | None, yes: bool, force_remote_target: bool) -> None:
    """Put back what the last install replaced (DATABASE_URL defaults to the local project's).

    Without DATABASE_URL, in a project that synco install wrote to, the folders it replaced go back too.
    """
    local_hosts: tuple[str, ...] = ()
    if database_url:
        database = parse_database_url(database_url)
        local_hosts = _local_hosts(database, force_remote_target)
    else:
        from synco_core.detection import detect
        from synco_core.install.plan import local_hosts_of
        from synco_core.install.run import rollback_install

        framework = detect(Path.cwd(), side="destination")
        done = rollback_install(framework, yes=yes, confirm=asker(), force_remote_target=force_remote_target)
        if done is not None:
            for line in done:
                click.echo(line, err=True)
            return
        if framework.database is None:
            raise ConfigError("the local project has no database configured; pass DATABASE_URL")
        database = framework.database
        local_hosts = local_hosts_of(framework)
    options = InstallOptions(yes=yes, force_remote_target=force_remote_target, confirm=asker(),
                             local_hosts=local_hosts)
    with direct_database_command(Path.cwd(), "db rollback"):
        result = rollback_with_engine(database, options)
    if result.note:
        # The engine found a crashed install or rollback and undid that instead.
        click.echo(f"{result.note} ({result.tables} tables)", err=True)
        return
    click.echo(f"Rolled back {database.url(mask_password=True)} ({result.tables} tables)", err=True)
