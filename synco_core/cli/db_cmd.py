"""``synco db``: dump, load and roll back a database directly, through the engine plugins."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast

import click

from synco_core.cli.options import confirm, debug_option, yes_option
from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine, rollback_with_engine
from synco_core.errors import ConfigError, SyncoError
from synco_core.fsutil import atomic_output
from synco_core.values import DatabaseConfig, DumpOptions, Framework, InstallOptions, SanitizeRule


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    result = {}
    for value in values:
        key, sep, expression = value.partition("=")
        if not sep or not key or not expression:
            raise ConfigError(f"{option} expects TABLE=SQL, got {value!r}")
        result[key.strip()] = expression
    return result


def build_dump_options(exclude: tuple[str, ...], where: tuple[str, ...], sanitize: tuple[str, ...],
                       routines: bool = False, events: bool = False, sql: bool = False,
                       owners: bool = False) -> DumpOptions:
    rules = []
    for target, expression in _pairs(sanitize, "--sanitize").items():
        table, dot, column = target.rpartition(".")
        if not dot or not table or not column:
            raise ConfigError(f"--sanitize expects TABLE.COLUMN=SQL, got {target!r}")
        rules.append(SanitizeRule(table, column, expression))
    return DumpOptions(
        exclude_tables=exclude,
        where=_pairs(where, "--where"),
        sanitize=tuple(rules),
        routines=routines,
        events=events,
        format="sql" if sql else "native",
        owners=owners,
    )


@click.group("db")
@debug_option
def command() -> None:
    """Dump, load and roll back databases directly."""


@command.command("dump")
@click.argument("database_url")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout).")
@click.option("--exclude-table", "exclude", multiple=True, help="Dump the structure but no rows (repeatable).")
@click.option("--where", multiple=True, help="TABLE=SQL condition rows must meet (repeatable).")
@click.option("--sanitize", multiple=True, help="TABLE.COLUMN=SQL expression replacing the value (repeatable).")
@click.option("--routines", is_flag=True, help="Also dump stored routines (MySQL).")
@click.option("--events", is_flag=True, help="Also dump events (MySQL).")
@click.option("--sql", is_flag=True, help="SQLite: write an SQL script instead of the database file.")
@click.option("--owners", is_flag=True, help="PostgreSQL: keep owners and grants (left out by default).")
@debug_option
def dump(database_url: str, output: Path | None, exclude: tuple[str, ...], where: tuple[str, ...],
         sanitize: tuple[str, ...], routines: bool, events: bool, sql: bool, owners: bool) -> None:
    """Dump DATABASE_URL with synco's own dumper (no mysqldump or pg_dump needed)."""
    database = parse_database_url(database_url)
    options = build_dump_options(exclude, where, sanitize, routines, events, sql, owners)
    if output is None:
        result = dump_with_engine(database, sys.stdout.buffer, options)
        sys.stdout.buffer.flush()
    else:
        with atomic_output(output) as out:
            result = dump_with_engine(database, out, options)
    total = sum(t.rows for t in result.tables.values())
    click.echo(f"Dumped {len(result.tables)} tables, {total} rows ({result.engine} {result.server_version})".rstrip(),
               err=True)


@contextlib.contextmanager
def _open_dump(path: Path) -> Iterator[BinaryIO]:
    """Open a dump file, decompressing ``.zst`` and ``.gz`` on the fly; ``-`` reads stdin."""
    if str(path) == "-":
        yield sys.stdin.buffer
        return
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise ConfigError(f"cannot read dump {path}: {exc.strerror}") from exc
    with raw:
        if path.suffix == ".zst":
            import zstandard

            with zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True) as reader:
                yield reader
        elif path.suffix == ".gz":
            import gzip

            with gzip.open(raw, "rb") as reader:
                yield cast(BinaryIO, reader)
        else:
            yield raw


def _local_hosts(database: DatabaseConfig, force_remote_target: bool) -> tuple[str, ...]:
    """The hosts the current directory's ``.synco.yml`` declares local (``local_hosts:``), when they matter.

    Only the ``amend_framework`` hooks run (synco-generic applies ``.synco.yml`` there), on a bare project:
    no framework detection, so a directory with nothing but ``.synco.yml`` works, and nothing runs at all
    for a target that is plainly local or forced.
    """
    if force_remote_target or database.is_local():
        return ()
    from synco_core.install import local_hosts_of
    from synco_core.plugins import get_plugin_manager

    project = Framework(name="", plugin="", project_dir=Path.cwd())
    for _ in get_plugin_manager().call_each("amend_framework", framework=project):
        pass
    return local_hosts_of(project)


def _sniff_format(path: Path) -> str:
    if str(path) == "-" or path.suffix in (".zst", ".gz"):
        return "sql"
    with contextlib.suppress(OSError), path.open("rb") as fh:
        if fh.read(16) == b"SQLite format 3\x00":
            return "sqlite"
    return "sql"


@command.command("load")
@click.argument("database_url")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True))
@yes_option
@click.option("--force-remote-target", is_flag=True, help="Allow a database that is not on this machine.")
@debug_option
def load(database_url: str, file: Path, yes: bool, force_remote_target: bool) -> None:
    """Load FILE into DATABASE_URL atomically (the previous content is kept for rollback)."""
    database = parse_database_url(database_url)
    if str(file) != "-" and not file.is_file():
        raise ConfigError(f"dump file not found: {file}")
    options = InstallOptions(format=_sniff_format(file), yes=yes, force_remote_target=force_remote_target,
                             confirm=confirm, local_hosts=_local_hosts(database, force_remote_target))
    with _open_dump(file) as dump_stream:
        result = install_with_engine(database, dump_stream, options)
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
        from synco_core.install import local_hosts_of, rollback_install

        framework = detect(Path.cwd(), side="destination")
        done = rollback_install(framework, yes=yes, confirm=confirm, force_remote_target=force_remote_target)
        if done is not None:
            for line in done:
                click.echo(line, err=True)
            return
        if framework.database is None:
            raise ConfigError("the local project has no database configured; pass DATABASE_URL")
        database = framework.database
        local_hosts = local_hosts_of(framework)
    options = InstallOptions(yes=yes, force_remote_target=force_remote_target, confirm=confirm,
                             local_hosts=local_hosts)
    try:
        result = rollback_with_engine(database, options)
    except SyncoError:
        raise
    click.echo(f"Rolled back {database.url(mask_password=True)} ({result.tables} tables)", err=True)
