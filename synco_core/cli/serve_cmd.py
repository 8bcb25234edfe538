"""``synco serve``: publish an encrypted session of this application, print the receive command, wait."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from synco_core.cli.options import (
    ListenType,
    LocalPath,
    NamesType,
    PassphraseType,
    SessionIdType,
    debug_option,
    seconds_type,
    skip_unsupported_option,
    split_names,
)
from synco_core.detection import detect
from synco_core.errors import SyncoError
from synco_core.localenames import typed_text
from synco_core.progress import Reporter
from synco_core.redaction import register_secret
from synco_core.serve.build import BuildOptions
from synco_core.serve.folder import ZSTD_LEVEL, ZSTD_LEVELS
from synco_core.serve.plan import build_plan, plan_lines
from synco_core.serve.runner import ServeOptions, serve
from synco_core.serve.ttl import cleanup_all

#: A passphrase shorter than this gets a warning: whoever downloads the session's files can try passphrases
#: offline, at the cost of one scrypt derivation each (about a second at work factor 18).
SHORT_PASSPHRASE = 16

#: Printed when --password comes without --compat: a passphrase alone does not make a Go-readable session.
PASSWORD_NOTE = ("Note: --password only changes the key type; the session stays zstd-compressed, so a Go synco v2 "
                 "receive also needs --compat (uncompressed).")


def _echo(line: str) -> None:
    click.echo(line)


def _step(message: str) -> None:
    click.echo(f"  {message} ...", err=True)


def _warn(line: str) -> None:
    # Bold red on a terminal: --no-sanitize must not scroll by unnoticed.
    click.secho(line, err=True, fg="red", bold=True)


@click.command("serve")
@click.option("--framework", "framework_name", type=NamesType(), help="Use this framework plugin instead of guessing.")
@click.option("--project", "project_dir", type=LocalPath(file_okay=False, path_type=Path), default=Path("."),
              help="The application's directory (default: the current directory), e.g. a deploy tool's "
                   "current link.")
@click.option("--listen", metavar="HOST:PORT", type=ListenType(),
              help="Also serve the web root with a built-in HTTP server.")
@click.option("--id", "session_id", metavar="ID", type=SessionIdType(), help="Session id (default: 96 random bits).")
@click.option("--password", metavar="PW", envvar="SYNCO_PASSWORD", show_envvar=True, type=PassphraseType(),
              help="Encrypt with this scrypt passphrase instead of a fresh X25519 key. The session stays "
                   "zstd-compressed: a Go synco v2 receive also needs --compat. Better from SYNCO_PASSWORD or "
                   "--ask-password than on the command line, which other users of the machine can see.")
@click.option("--ask-password", is_flag=True, help="Ask for the scrypt passphrase (hidden, twice).")
@click.option("--all", "all_sets", is_flag=True, help="Turn off the framework's smart filters.")
@click.option("--only", multiple=True, type=NamesType(), metavar="SET[,SET]",
              help="Prepare only these sets (dbDump = the database, dbDump-NAME = the named database NAME).")
@click.option("--keep", is_flag=True, help="Exit when ready and leave the session in place.")
@click.option("--key-on-stdin", is_flag=True,
              help="Print the receive command with the key on its standard input (echo KEY | synco receive "
                   "SESSION -), so the key is in no command line other users of the destination can read.")
@click.option("--ttl", "ttl_minutes", type=seconds_type(positive=True, per=60), default=60.0, show_default=True,
              metavar="MINUTES", help="Remove the session after this many minutes.")
@click.option("--cleanup", is_flag=True, help="Remove every synco session folder from the web root, then exit.")
@click.option("--sanitize/--no-sanitize", default=True, show_default=True,
              help="Apply the sanitising rules; --no-sanitize ships raw column values (and says so).")
@click.option("--plan", is_flag=True, help="Show what would be transferred and exit; nothing is written.")
@click.option("--json", "as_json", is_flag=True, help="With --plan: print the plan as JSON.")
@click.option("--compat", is_flag=True,
              help="Write a session Go synco v2 can receive: scrypt passphrase (generated unless --password), "
                   "no compression, MySQL only.")
@click.option("--zstd-level", type=click.IntRange(ZSTD_LEVELS.start, ZSTD_LEVELS.stop - 1), default=ZSTD_LEVEL,
              show_default=True, metavar="N", help="zstd compression level of dumps, indexes and tars.")
@skip_unsupported_option
@debug_option
def command(framework_name: str | None, project_dir: Path, listen: str | None, session_id: str | None,
            password: str | None, ask_password: bool, all_sets: bool, only: tuple[str, ...], keep: bool,
            key_on_stdin: bool, ttl_minutes: float, cleanup: bool,
            sanitize: bool, plan: bool, as_json: bool, compat: bool, zstd_level: int, skip_unsupported: bool) -> None:
    """Publish this application's database and files as an encrypted session, until Ctrl-C or the TTL."""
    # From the command line or SYNCO_PASSWORD: the text typed, whatever the locale (a prompt reads it so).
    password = typed_text(password) if password else password
    if ask_password:
        password = click.prompt("Passphrase for the session", hide_input=True, confirmation_prompt=True, err=True)
    if password is not None:
        register_secret(password)
    framework = detect(project_dir, framework_name)
    if cleanup:
        if framework.web_root is None:
            raise click.UsageError(f"the {framework.name} project has no web root")
        removed, failed, served = cleanup_all(framework.web_root)
        for folder in removed:
            click.echo(f"Removed {folder}")
        click.echo(f"{len(removed)} session folder(s) removed from {framework.web_root}")
        for folder, who in served:
            click.echo(f"Left {folder}: its serve ({who}) is still running and removes it when it stops "
                       "(Ctrl-C, or its time to live)", err=True)
        for folder, reason in failed:
            click.echo(f"Could not remove {folder}: {reason}", err=True)
        if failed:
            raise SyncoError(f"{len(failed)} session folder(s) could not be removed (another user's, or no "
                             "permission): see above")
        return
    if as_json and not plan:
        raise click.UsageError("--json goes with --plan")
    if skip_unsupported:
        framework.dump_options = dataclasses.replace(framework.dump_options, skip_unsupported=True)
    build = BuildOptions(all=all_sets, only=split_names(only), sanitize=sanitize, compat=compat,
                         compress=not compat, zstd_level=zstd_level)
    if plan:
        result = build_plan(framework, build)
        if as_json:
            click.echo(json.dumps(result.to_json(), indent=2))
        else:
            for line in plan_lines(result):
                click.echo(line)
        if result.refusal:
            # A script checks the status, not the words: a plan of a serve that would not start is no success.
            raise SyncoError(f"serve would refuse to start: {result.refusal}")
        return
    options = ServeOptions(
        listen=listen, session_id=session_id, password=password, keep=keep, ttl_minutes=ttl_minutes, build=build,
        key_on_stdin=key_on_stdin,
    )
    click.echo(f"Serving {framework.name} from {framework.project_dir}", err=True)
    if password is not None and not compat:
        click.echo(PASSWORD_NOTE, err=True)
    if password is not None and len(password) < SHORT_PASSPHRASE:
        _warn(f"WARNING: the passphrase is short ({len(password)} characters): whoever gets the session's files can "
              f"try passphrases offline. Use {SHORT_PASSPHRASE} or more random characters, or leave --password out "
              "for a random X25519 key.")
    serve(framework, options, echo=_echo, on_step=_step, warn=_warn, reporter=Reporter())
