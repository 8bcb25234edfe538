"""``synco receive SESSION KEY``: find the server, wait for Ready, download, decrypt and verify the session."""

from __future__ import annotations

from pathlib import Path

import click

from synco_core.cli.options import debug_option, interactive, split_names
from synco_core.detection import detect
from synco_core.errors import ConfigError, SyncoError, TransferError
from synco_core.transfer.locate import candidate_urls, configured_hosts, find_session, remember_host
from synco_core.transfer.progress import Reporter
from synco_core.transfer.receive import ReceiveOptions, ReceiveSummary, identities_for, receive_session
from synco_core.transfer.transport import HttpTransport, Transport
from synco_core.wire import WireFileSet


def _size(value: int) -> str:
    amount = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{amount:,.0f} {unit}" if unit == "B" else f"{amount:,.1f} {unit}"
        amount /= 1000
    return f"{amount:.1f} TB"


def _choose_interactively(sets: list[WireFileSet]) -> list[str]:
    """A numbered list with sizes; the answer is numbers or names, comma separated (Enter: all)."""
    click.echo("File sets in this session:", err=True)
    for number, file_set in enumerate(sets, 1):
        click.echo(f"  {number}. {file_set.name} ({file_set.type}, {_size(file_set.size_bytes)})", err=True)
    answer = click.prompt("Which sets? (numbers or names, comma separated; Enter for all)", default="",
                          show_default=False, err=True)
    picked = split_names(answer)
    if not picked:
        return [s.name for s in sets]
    names = []
    for item in picked:
        if item.isdigit() and 1 <= int(item) <= len(sets):
            names.append(sets[int(item) - 1].name)
        elif any(s.name == item for s in sets):
            names.append(item)
        else:
            raise ConfigError(f"no file set {item!r} in this session")
    return names


def _local_public_prefixes() -> tuple[str, ...]:
    """The public prefixes (``/_Resources``) of the framework in this folder, when one is detected here."""
    try:
        return detect(Path.cwd()).public_prefixes
    except SyncoError:
        return ()


def print_summary(summary: ReceiveSummary) -> None:
    click.echo(f"Session {summary.session} ({summary.meta.framework_name or 'unknown framework'}) "
               f"-> {summary.target}")
    for outcome in summary.sets:
        line = f"  {outcome.status:<10} {outcome.name} ({outcome.type})"
        if outcome.files_downloaded or outcome.files_skipped or outcome.files_failed:
            line += (f": {outcome.files_downloaded} downloaded, {outcome.files_skipped} up to date, "
                     f"{len(outcome.files_failed)} failed")
        if outcome.bytes:
            line += f", {_size(outcome.bytes)}"
        if outcome.detail:
            line += f" - {outcome.detail}"
        click.echo(line)
        for path, reason in outcome.files_failed[:20]:
            click.echo(f"      failed: {path}: {reason}")
        if len(outcome.files_failed) > 20:
            click.echo(f"      ... and {len(outcome.files_failed) - 20} more")
        if outcome.vanished:
            verb = "removed" if outcome.removed else "no longer on the server (remove with --delete)"
            click.echo(f"      {len(outcome.vanished)} local file(s) {verb}: {', '.join(outcome.vanished[:5])}"
                       + (" ..." if len(outcome.vanished) > 5 else ""))
    click.echo(f"{_size(summary.bytes)} in {summary.seconds:.1f} s; "
               + ("all done." if summary.ok else "some sets failed; run the same command again to continue."))


@click.command("receive")
@click.argument("session")
@click.argument("key", required=False, envvar="SYNCO_KEY")
@click.option("--base-url", metavar="URL", help="Where the session is (the web root's URL; user:pw@ for basic auth).")
@click.option("--all", "all_sets", is_flag=True, help="Receive every file set without asking.")
@click.option("--only", multiple=True, metavar="SET[,SET]", help="Receive only these file sets.")
@click.option("--target", type=click.Path(file_okay=False, path_type=Path), default=Path("dump"), show_default=True,
              help="Folder to receive into.")
@click.option("--jobs", type=click.IntRange(1, 128), default=8, show_default=True,
              help="Parallel downloads of public files.")
@click.option("--delete", is_flag=True, help="Remove local public files the server no longer lists.")
@click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (self-signed staging servers).")
@click.option("--timeout", type=click.FloatRange(min=0), default=600.0, show_default=True, metavar="S",
              help="Seconds to wait for the session to become ready.")
@debug_option
def command(session: str, key: str | None, base_url: str | None, all_sets: bool, only: tuple[str, ...],
            target: Path, jobs: int, delete: bool, insecure: bool, timeout: float) -> None:
    """Download session SESSION with KEY (or $SYNCO_KEY) into --target, decrypted and verified."""
    if not key:
        raise click.UsageError("missing KEY (give it as the second argument or in SYNCO_KEY)")
    wanted = split_names(only)
    if all_sets and wanted:
        raise click.UsageError("--all and --only exclude each other")
    identities = identities_for(key)
    tty = interactive()
    asked = False
    if base_url:
        candidates = candidate_urls(base_url)
    else:
        prefixes = _local_public_prefixes()
        candidates = [url for host in configured_hosts(Path.cwd()) for url in candidate_urls(host, prefixes)]
        if not candidates:
            if not tty:
                raise ConfigError("where is the session? give --base-url URL (or hosts in .synco.yml)")
            asked = True
            candidates = candidate_urls(click.prompt("Host or URL of the server", err=True), prefixes)
    verify = not insecure

    def make_transport(url: str) -> Transport:
        return HttpTransport(url, verify=verify, max_connections=jobs, timeout=30.0)

    try:
        transport, meta, url = find_session(candidates, session, identities, make_transport)
    except TransferError as exc:
        if verify and tty and "CERTIFICATE_VERIFY_FAILED" in str(exc) and click.confirm(
            "The server's TLS certificate is not trusted. Connect anyway?", default=False, err=True
        ):
            verify = False
            transport, meta, url = find_session(candidates, session, identities, make_transport)
        else:
            raise
    choose = None
    if not all_sets and not wanted:
        if tty:
            choose = _choose_interactively
        else:
            click.echo("Not a terminal and neither --all nor --only given: receiving every file set.", err=True)
    options = ReceiveOptions(target=target, only=wanted, all=all_sets, jobs=jobs, delete=delete, timeout=timeout,
                             choose=choose)
    try:
        summary = receive_session(transport, session, key, options, Reporter(), meta=meta)
    finally:
        transport.close()
    print_summary(summary)
    if asked and tty and click.confirm(f"Remember {url} in .synco.yml?", default=True, err=True):
        remember_host(Path.cwd(), url)
    if not summary.ok:
        raise click.exceptions.Exit(1)
