"""``synco receive SESSION KEY``: find the server, wait for Ready, download, decrypt and verify the session.

With ``--plan`` it only reads the meta and the indexes and says what a receive would download, skip and
delete; with ``--install`` it installs what arrived into the local project (as ``synco install`` does).
Finding the session, the install's checks and its lifecycle are :mod:`synco_core.install.receive`'s; this
module reads the options, asks the terminal and prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from synco_core.cli.chooser import checkbox
from synco_core.cli.options import (
    KeyType,
    LocalPath,
    NamesType,
    TerminalInteraction,
    UrlType,
    debug_option,
    given_key,
    interactive,
    key_file_option,
    max_delete_option,
    no_terminate_option,
    other_project_option,
    seconds_type,
    site_url_option,
    skip_requirements_option,
    split_names,
    yes_option,
)
from synco_core.errors import ConfigError
from synco_core.install.receive import (
    InstallRequest,
    SessionAddress,
    missing_files_line,
    plan_receive,
    receive_and_install,
)
from synco_core.progress import Reporter
from synco_core.receive.deletions import RunRefusedError
from synco_core.receive.locate import split_session_url
from synco_core.receive.plan import ReceivePlan, sanitized_flag
from synco_core.receive.session import ReceiveOptions, ReceiveSummary, download_bytes
from synco_core.redaction import mask_url_passwords, printable
from synco_core.sizes import human_size
from synco_core.wire import Meta, WireFileSet


def _choose_interactively(sets: list[WireFileSet]) -> list[str]:
    """A checkbox list with the size each set takes to download; the numbered prompt where keys cannot be read."""
    if not sets:
        return []
    width = max(len(s.name) for s in sets)
    labels = [f"{s.name:<{width}}  {s.type:<22} {human_size(download_bytes(s)):>10}" for s in sets]
    try:
        picked = checkbox("File sets to receive (download size):", labels)
    except KeyboardInterrupt:
        # Cancelled in the list (q, Escape, Ctrl-C): the same as Ctrl-C at a click prompt.
        raise click.Abort() from None
    if picked is None:
        return _choose_by_number(sets)
    return [sets[position].name for position in picked]


def _choose_by_number(sets: list[WireFileSet]) -> list[str]:
    """A numbered list with download sizes; the answer is numbers or names, comma separated (Enter: all)."""
    click.echo("File sets in this session:", err=True)
    for number, file_set in enumerate(sets, 1):
        click.echo(f"  {number}. {file_set.name} ({file_set.type}, {human_size(download_bytes(file_set))} to "
                   "download)", err=True)
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


def sanitizing_lines(meta: Meta, names: list[str]) -> tuple[list[str], list[str]]:
    """(notes, warnings) about what the source did to the data of the database sets in ``names``."""
    notes: list[str] = []
    warnings: list[str] = []
    for file_set in meta.file_sets:
        if file_set.dump is None or file_set.name not in names:
            continue
        if sanitized_flag(meta, file_set) is False:
            warnings.append(f"WARNING: {file_set.name} holds RAW, UNSANITISED production data (the source ran "
                            "serve --no-sanitize): personal data may be in it; handle it with care.")
        if file_set.dump.sanitize_rules:
            notes.append(f"  rules the source applied to {file_set.name}:")
            notes.extend(f"      {rule}" for rule in file_set.dump.sanitize_rules)
    return notes, warnings


def _say(line: str) -> None:
    # Names and texts in these lines come from the session (a framework name, a redirect's target): a
    # hostile server must not reach the terminal with escape sequences or forged lines. A reason may quote a
    # URL whose credentials (a presigned URL's signature, a user:password@) are not the terminal's to show.
    click.echo(printable(mask_url_passwords(line)))


def _echo_sanitizing(meta: Meta, names: list[str]) -> None:
    notes, warnings = sanitizing_lines(meta, names)
    for line in notes:
        _say(line)
    for line in warnings:
        click.echo(click.style(printable(mask_url_passwords(line)), fg="red", bold=True), err=True)


def print_plan(plan: ReceivePlan) -> None:
    """The plan in words: per set what would be downloaded, skipped and deleted, then the total."""
    _say(f"Plan for session {plan.session} ({plan.meta.framework_name or 'unknown framework'}) "
               f"-> {plan.target} (nothing is downloaded or written)")
    for item in plan.sets:
        head = f"  {item.name} ({item.type}): "
        if item.action in ("unsupported", "unavailable"):
            _say(head + item.detail)
            continue
        if item.action == "refused":
            _say(head + f"{item.files} files, refused: {item.detail}")
            _echo_vanished(item.vanished, "that --delete would remove")
            continue
        if item.files is None:
            if item.action == "skip":
                _say(head + f"skip, {item.detail} ({human_size(item.skipped_bytes)})")
            else:
                _say(head + f"download {human_size(item.download_bytes)} into {item.local}")
        else:
            _say(head + f"{item.files} files: {item.download_files} to download "
                       f"({human_size(item.download_bytes)}), {item.skipped_files} up to date "
                       f"({human_size(item.skipped_bytes)})")
            for path, reason in item.refused[:5]:
                _say(f"      refused: {path}: {reason}")
            _echo_vanished(item.vanished, "to delete" if item.delete
                           else _kept_for(item.left_out_by_serve, "deleted with --delete"))
            if item.folders:
                _say(f"      {len(item.folders)} local folder(s) to delete (left holding no file the server lists): "
                     + ", ".join(folder + "/" for folder in item.folders[:5])
                     + (" ..." if len(item.folders) > 5 else ""))
        _echo_kept(item.kept, item.kept_patterns, "private" in item.type.lower())
        _echo_left_out(item.left_out_by_serve)
    _echo_sanitizing(plan.meta, [item.name for item in plan.sets])
    files = sum(item.download_files for item in plan.sets)
    _say(f"Would download {human_size(plan.download_bytes)} in {files} file(s).")


def _echo_vanished(vanished: list[str], verb: str) -> None:
    """One line for the local files the server no longer has (the first five named)."""
    if vanished:
        _say(f"      {len(vanished)} local file(s) {verb}: {', '.join(vanished[:5])}"
                   + (" ..." if len(vanished) > 5 else ""))


def _kept_for(left_out: int, otherwise: str) -> str:
    """Why local files the index does not list stay: serve left files out, or ``otherwise`` (the option)."""
    if left_out:
        return "not in the index, kept: serve left files of this set out, which --delete would take for gone"
    return f"no longer on the server ({otherwise})"


def _echo_kept(count: int, patterns: list[str], entries: bool = False) -> None:
    """One line for the local files kept because serve's exclude rules match them (the first patterns named)."""
    if count:
        what = "local file(s) or folder(s)" if entries else "local file(s) not in the index"
        shown = ", ".join(patterns[:5]) + (" ..." if len(patterns) > 5 else "")
        _say(f"      {count} {what} kept: serve's exclude rules leave them out ({shown}), so they are this "
             "machine's own; --delete-excluded removes them")


def _echo_left_out(count: int) -> None:
    if count:
        _say(f"      serve left out {count} file(s) or folder(s) it found on the server (its output names them)")


def kept_patterns(summary: ReceiveSummary, name: str) -> list[str]:
    """The exclude rules the meta names for set ``name`` (what kept its local files)."""
    for file_set in summary.meta.file_sets:
        detail = file_set.public or file_set.private
        if file_set.name == name and detail is not None:
            return list(detail.exclude)
    return []


def print_summary(summary: ReceiveSummary) -> None:
    _say(f"Session {summary.session} ({summary.meta.framework_name or 'unknown framework'}) "
               f"-> {summary.target}")
    if not summary.sets:
        _say("  no file set was chosen, so nothing was downloaded")
    for outcome in summary.sets:
        line = f"  {outcome.status:<10} {outcome.name} ({outcome.type})"
        if outcome.files_downloaded or outcome.files_skipped or outcome.files_failed:
            line += (f": {outcome.files_downloaded} downloaded, {outcome.files_skipped} up to date, "
                     f"{len(outcome.files_failed)} failed")
        if outcome.bytes:
            line += f", {human_size(outcome.bytes)}"
        if outcome.size_checked:
            every = "" if outcome.size_checked == outcome.files_downloaded else f"{outcome.size_checked} "
            line += f", {every}size-checked (the session lists no content hashes)"
        if outcome.detail:
            line += f" - {outcome.detail}"
        _say(line)
        missing = set(outcome.files_missing)
        failed = [(path, reason) for path, reason in outcome.files_failed if path not in missing]
        for path, reason in failed[:20]:
            _say(f"      failed: {path}: {reason}")
        if len(failed) > 20:
            _say(f"      ... and {len(failed) - 20} more")
        if outcome.files_missing:
            _say("      " + missing_files_line(outcome.files_missing))
        _echo_vanished(outcome.vanished, "removed" if outcome.removed
                       else _kept_for(outcome.left_out_by_serve, "remove with --delete"))
        _echo_kept(outcome.kept or outcome.kept_entries, kept_patterns(summary, outcome.name),
                   entries=bool(outcome.kept_entries))
        _echo_left_out(outcome.left_out_by_serve)
    _echo_sanitizing(summary.meta, [outcome.name for outcome in summary.sets])
    _say(f"{human_size(summary.bytes)} downloaded in {summary.seconds:.1f} s; {summary.advice()}")


@click.command("receive")
@click.argument("session")
@click.argument("key", required=False, envvar="SYNCO_KEY", type=KeyType())
@key_file_option
@click.option("--base-url", metavar="URL", type=UrlType(),
              help="Where the session is (the web root's URL; user:pw@ for basic auth).")
@click.option("--all", "all_sets", is_flag=True, help="Receive every file set without asking.")
@click.option("--only", multiple=True, type=NamesType(), metavar="SET[,SET]", help="Receive only these file sets.")
@click.option("--target", type=LocalPath(file_okay=False, path_type=Path), default=Path("dump"), show_default=True,
              help="Folder to receive into.")
@click.option("--jobs", type=click.IntRange(1, 128), default=8, show_default=True,
              help="Parallel downloads of public files.")
@click.option("--delete", is_flag=True, help="Remove local public files the server no longer lists.")
@max_delete_option
@no_terminate_option
@skip_requirements_option
@click.option("--delete-excluded", is_flag=True,
              help="Also remove (and replace) local files serve's exclude rules match, which are kept otherwise.")
@other_project_option
@click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (self-signed staging servers).")
@click.option("--timeout", type=seconds_type(), default=600.0, show_default=True, metavar="S",
              help="Seconds to wait for the session to become ready.")
@click.option("--plan", "plan_only", is_flag=True,
              help="Only say what would be downloaded, skipped and deleted; download and write nothing.")
@click.option("--json", "as_json", is_flag=True, help="With --plan: print JSON.")
@click.option("--install", is_flag=True, help="Then install what arrived into the local project (as synco install).")
@yes_option
@click.option("--post-install", is_flag=True, help="With --install: run the framework's post-install steps.")
@click.option("--force-remote-target", is_flag=True,
              help="With --install: allow a local configuration whose database is not on this machine.")
@click.option("--allow-missing", is_flag=True,
              help="With --install: install although some public files could not be fetched (HTTP 403/404).")
@click.option("--project", "project_dir", type=LocalPath(file_okay=False, path_type=Path), default=Path("."),
              help="With --install: the local project (default: the current directory).")
@click.option("--framework", "framework_name", type=NamesType(), metavar="NAME",
              help="With --install: the local framework plugin, instead of guessing.")
@site_url_option
@debug_option
def command(session: str, key: str | None, key_file: Path | None, base_url: str | None, all_sets: bool,
            only: tuple[str, ...], target: Path, jobs: int, delete: bool, max_delete: int | None, no_terminate: bool,
            skip_requirements: bool, delete_excluded: bool, other_project: bool, insecure: bool,
            timeout: float,
            plan_only: bool, as_json: bool,
            install: bool, yes: bool, post_install: bool, force_remote_target: bool, allow_missing: bool,
            project_dir: Path, framework_name: str | None, site_url: str | None) -> None:
    """Download session SESSION with KEY (or $SYNCO_KEY) into --target, decrypted and verified.

    SESSION may also be the session folder's URL (``https://site/synco-ID/``): it then gives --base-url too.
    KEY '-' reads the key from standard input; --key-file reads it from a file. Both keep it out of the
    command line, which every user of the machine can read while receive runs.
    """
    from_url = split_session_url(session)
    if from_url is not None:
        session = from_url[1]
        base_url = base_url or from_url[0]
    elif "://" in session:
        raise ConfigError("SESSION is an address without a session folder (synco-...) in it: give the session id "
                          "serve printed, and the site's address with --base-url")
    key = given_key(key, key_file, name="KEY", prompt="Session key or passphrase")
    if not key and interactive():
        # Typed at a hidden prompt, the key stays out of the shell history and of other users' process lists.
        key = click.prompt("Session key or passphrase", hide_input=True, err=True)
    if not key:
        raise click.UsageError("missing KEY (give it as the second argument, in SYNCO_KEY, with --key-file, as - "
                               "on standard input, or at the prompt in a terminal)")
    wanted = split_names(only)
    if all_sets and wanted:
        raise click.UsageError("--all and --only exclude each other")
    if as_json and not plan_only:
        raise click.UsageError("--json goes with --plan")
    if plan_only and install:
        raise click.UsageError("--plan changes nothing, so it cannot --install; run without --plan to install")
    if not install and (post_install or force_remote_target or allow_missing or site_url or framework_name
                        or skip_requirements):
        raise click.UsageError("--post-install, --force-remote-target, --allow-missing, --site-url, --framework and "
                               "--skip-requirements go with --install")
    ui = TerminalInteraction()
    address = SessionAddress(session, key, base_url=base_url, insecure=insecure, jobs=jobs, project_dir=project_dir)
    choose = None
    if not all_sets and not wanted and not plan_only:
        if ui.interactive:
            choose = _choose_interactively
        else:
            ui.echo("Not a terminal and neither --all nor --only given: receiving every file set.")
    options = ReceiveOptions(target=target, only=wanted, all=all_sets, jobs=jobs, delete=delete, timeout=timeout,
                             choose=choose, other_project=other_project, max_delete=max_delete,
                             delete_excluded=delete_excluded)
    if plan_only:
        plan = plan_receive(address, options, ui, Reporter())
        if as_json:
            click.echo(json.dumps(plan.to_json(), indent=2))
        else:
            print_plan(plan)
        if plan.refusal is not None:
            # The receive would end here with this line and status 1: so does its plan.
            raise RunRefusedError(plan.refusal)
        return
    request = InstallRequest(project_dir, yes=yes, post_install=post_install, force_remote_target=force_remote_target,
                             allow_missing=allow_missing, site_url=site_url,
                             framework_name=framework_name, delete_excluded=delete_excluded,
                             max_delete=max_delete, terminate=not no_terminate,
                             skip_requirements=skip_requirements) if install else None
    if not receive_and_install(address, options, request, ui, Reporter(), print_summary):
        raise click.exceptions.Exit(1)
