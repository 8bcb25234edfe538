"""``synco pull REMOTE``: the source side through ssh, docker or kubectl, and the result back, in one command."""

from __future__ import annotations

from pathlib import Path

import click

from synco_core.cli.options import (
    ListenType,
    LocalPath,
    NamesType,
    TerminalInteraction,
    UrlType,
    debug_option,
    max_delete_option,
    no_terminate_option,
    other_project_option,
    seconds_type,
    site_url_option,
    skip_requirements_option,
    split_names,
    yes_option,
)
from synco_core.install.receive import Installing, InstallRequest, installs_delete, pull_and_install
from synco_core.pull.greeting import CONNECT_TIMEOUT_VARIABLE, DEFAULT_CONNECT_TIMEOUT
from synco_core.pull.remote import resolve_remote
from synco_core.pull.run import PULL_ZSTD_LEVEL, PullOptions, pull
from synco_core.receive.session import ReceiveSummary

HELP = """Pull the database and files of REMOTE into --target (and install them with --install).

\b
REMOTE is a name under 'remotes:' in .synco.yml, or one of
  ssh://[user@]host[:port]/path/to/app      (/~/app: relative to the home directory)
  docker://container/path
  docker-compose://service/path
  kubectl://[context/]namespace/pod[/container]/path
For kubectl, '//' ends the names (kubectl://ns/pod/php//var/www has the container php); without it the
first name counts as a context only when kubectl knows that context. ?context=...&container=... also work.

\b
synco runs the source side remotely (the remote synco, or an uploaded zipapp run by python3 >= 3.10 when
synco is not installed there) and streams the session back over the channel itself: no port, nothing in
the web root. ssh options: SYNCO_SSH_COMMAND (run by sh, as GIT_SSH_COMMAND), SYNCO_SSH_OPTIONS, or ssh_options:
in .synco.yml. SYNCO_REMOTE_PYTHON / SYNCO_REMOTE_SYNCO (or python: / synco: in .synco.yml) choose the
remote interpreter and synco command ('upload' always uploads the zipapp).
"""


@click.command("pull", help=HELP)
@click.argument("remote")
@click.option("--only", multiple=True, type=NamesType(), metavar="SET[,SET]",
              help="Pull only these sets (dbDump = the database).")
@click.option("--all", "all_sets", is_flag=True, help="Turn off the framework's smart filters on the remote side.")
@click.option("--install", is_flag=True,
              help="Then install what arrived into the project in the current directory (as synco install); "
                   "with --yes the database loads while the files are still arriving.")
@yes_option
@click.option("--post-install", is_flag=True, help="With --install: run the framework's post-install steps.")
@click.option("--force-remote-target", is_flag=True,
              help="With --install: allow a local configuration whose database is not on this machine.")
@click.option("--allow-missing", is_flag=True,
              help="With --install: install although some public files could not be read on the remote side.")
@click.option("--via-http", is_flag=True,
              help="Publish the session over HTTP on the remote side (as serve does) and download it from there.")
@click.option("--base-url", metavar="URL", type=UrlType(), help="With --via-http: the application's public URL.")
@click.option("--remote-listen", metavar="HOST:PORT", type=ListenType(),
              help="With --via-http: the remote side serves the web root itself on HOST:PORT.")
@click.option("--target", type=LocalPath(file_okay=False, path_type=Path), default=Path("dump"), show_default=True,
              help="Folder to receive into.")
@click.option("--framework", "framework_name", type=NamesType(), metavar="NAME",
              help="Framework plugin to use on the remote side.")
@click.option("--jobs", type=click.IntRange(1, 128), default=8, show_default=True,
              help="Parallel reads of public files (pipelined over the channel).")
@click.option("--delete", is_flag=True, help="Remove local public files the remote no longer has.")
@max_delete_option
@no_terminate_option
@skip_requirements_option
@click.option("--delete-excluded", is_flag=True,
              help="Also remove (and replace) local files the remote's exclude rules match, which are kept otherwise.")
@other_project_option
@click.option("--zstd-level", type=click.IntRange(1, 22), default=PULL_ZSTD_LEVEL, show_default=True, metavar="N",
              help="zstd level of the remote side's dump and tars (higher: fewer bytes, more CPU there).")
@click.option("--connect-timeout", type=seconds_type(), default=None, metavar="SECONDS",
              help=f"How long the remote side may stay silent before synco greets there (default: "
                   f"${CONNECT_TIMEOUT_VARIABLE}, else {DEFAULT_CONNECT_TIMEOUT:g}; 0: no limit). In a terminal, "
                   "a login that may be waiting for you (a prompt, a security key) is only pointed out.")
@site_url_option
@debug_option
def command(remote: str, only: tuple[str, ...], all_sets: bool, install: bool, yes: bool, post_install: bool,
            force_remote_target: bool, allow_missing: bool, via_http: bool, base_url: str | None,
            remote_listen: str | None, target: Path, framework_name: str | None, jobs: int, delete: bool,
            max_delete: int | None, no_terminate: bool, skip_requirements: bool, delete_excluded: bool,
            other_project: bool, zstd_level: int, connect_timeout: float | None,
            site_url: str | None) -> None:
    from synco_core.cli.main import is_debug
    from synco_core.cli.receive_cmd import print_summary
    from synco_core.progress import Reporter

    if (base_url or remote_listen) and not via_http:
        raise click.UsageError("--base-url and --remote-listen go with --via-http")
    if not install and (post_install or force_remote_target or allow_missing or site_url or skip_requirements):
        raise click.UsageError("--post-install, --force-remote-target, --allow-missing, --site-url and "
                               "--skip-requirements go with --install")
    resolved = resolve_remote(remote, Path.cwd())
    ui = TerminalInteraction()
    wanted = split_names(only)
    options = PullOptions(
        target=target, only=wanted, all=all_sets, framework=framework_name, via_http=via_http,
        base_url=base_url, remote_listen=remote_listen, jobs=jobs, delete=installs_delete(delete, install),
        other_project=other_project, max_delete=max_delete, delete_excluded=delete_excluded, debug=is_debug(),
        zstd_level=zstd_level, connect_timeout=connect_timeout, person_can_answer=ui.interactive,
    )

    def run(installing: Installing) -> ReceiveSummary:
        if install:
            # The local project is the current directory, detected by the local plugins (as synco install
            # does), and checked before anything is transferred (while ssh connects).
            options.prepare = installing.prepare
            options.on_set_arrived = installing.set_arrived
            options.on_dump_stream = installing.start_streamed
            options.on_accepted = installing.session_accepted
            options.check_requirements = installing.check_remote_requirements
        result = pull(resolved, options, echo=ui.echo, reporter=Reporter())
        if not result.encrypted and not via_http:
            ui.echo("Note: the remote host has no cryptography; the session crossed the channel without the age "
                    "layer (the channel itself is the encryption).")
        summary: ReceiveSummary = result.summary
        return summary

    request = InstallRequest(Path.cwd(), yes=yes, post_install=post_install, force_remote_target=force_remote_target,
                             allow_missing=allow_missing, site_url=site_url,
                             delete_excluded=delete_excluded, max_delete=max_delete,
                             terminate=not no_terminate, skip_requirements=skip_requirements) if install else None
    if not pull_and_install(run, request, ui, print_summary, wanted):
        raise click.exceptions.Exit(1)
