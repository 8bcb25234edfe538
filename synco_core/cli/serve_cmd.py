"""``synco serve``: publish an encrypted session of this application, print the receive command, wait."""

from __future__ import annotations

from pathlib import Path

import click

from synco_core.cli.options import debug_option, split_names
from synco_core.detection import detect
from synco_core.session.build import BuildOptions
from synco_core.session.runner import ServeOptions, serve
from synco_core.session.ttl import cleanup_all


def _echo(line: str) -> None:
    click.echo(line)


def _step(message: str) -> None:
    click.echo(f"  {message} ...", err=True)


@click.command("serve")
@click.option("--framework", "framework_name", help="Use this framework plugin instead of guessing.")
@click.option("--listen", metavar="HOST:PORT", help="Also serve the web root with a built-in HTTP server.")
@click.option("--id", "session_id", metavar="ID", help="Session id (default: 96 random bits).")
@click.option("--password", metavar="PW",
              help="Encrypt with this scrypt passphrase instead of a fresh X25519 key (Go synco v2 compatible).")
@click.option("--all", "all_sets", is_flag=True, help="Turn off the framework's smart filters.")
@click.option("--only", multiple=True, metavar="SET[,SET]", help="Prepare only these sets (dbDump = database).")
@click.option("--keep", is_flag=True, help="Exit when ready and leave the session in place.")
@click.option("--ttl", "ttl_minutes", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              metavar="MINUTES", help="Remove the session after this many minutes.")
@click.option("--cleanup", is_flag=True, help="Remove every synco session folder from the web root, then exit.")
@debug_option
def command(framework_name: str | None, listen: str | None, session_id: str | None, password: str | None,
            all_sets: bool, only: tuple[str, ...], keep: bool, ttl_minutes: float, cleanup: bool) -> None:
    """Publish this application's database and files as an encrypted session, until Ctrl-C or the TTL."""
    framework = detect(Path.cwd(), framework_name)
    if cleanup:
        if framework.web_root is None:
            raise click.UsageError(f"the {framework.name} project has no web root")
        removed = cleanup_all(framework.web_root)
        for folder in removed:
            click.echo(f"Removed {folder}")
        click.echo(f"{len(removed)} session folder(s) removed from {framework.web_root}")
        return
    options = ServeOptions(
        listen=listen, session_id=session_id, password=password, keep=keep, ttl_minutes=ttl_minutes,
        build=BuildOptions(all=all_sets, only=split_names(only)),
    )
    click.echo(f"Serving {framework.name} from {framework.project_dir}", err=True)
    serve(framework, options, echo=_echo, on_step=_step)
