"""Receiving a session and installing it, as ``receive [--install]`` and ``pull --install`` do.

The commands only turn their options into a request and print; everything in between lives here:

- :func:`locate`: where the session is (``--base-url``, the ``hosts`` of ``.synco.yml`` under every public
  prefix, or the host the user types), and the question whether to trust a self-signed certificate;
- :class:`Installing`: the install half. It checks the local project and its database before a byte is
  downloaded, starts loading the database while the files still arrive (``--yes``), undoes that when the
  transfer fails, and afterwards installs what arrived, or says why not;
- :func:`receive_and_install` (an HTTP session) and :func:`pull_and_install` (``synco pull``): the
  transfer between those two, with the same lifecycle for both.

Questions go through an :class:`Interaction`, so the same code runs in a terminal, in a pipe (no
questions: the answers come from the options, or the command stops and says which option gives them)
and in tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from synco_core.errors import ConfigError, NotConfirmedError, SyncoError, TransferError
from synco_core.install.plan import check_engine
from synco_core.install.requirements import NOTHING_DOWNLOADED, check_requirements

if TYPE_CHECKING:
    from synco_core.install.streamed import ReceiveInstall, StreamedDump
    from synco_core.progress import Reporter
    from synco_core.receive.plan import ReceivePlan
    from synco_core.receive.session import ReceiveOptions, ReceiveSummary
    from synco_core.receive.transport import Transport
    from synco_core.wire import Meta, WireFileSet

log = logging.getLogger(__name__)

#: The set name of the database in every session (``--only dbDump``).
DATABASE_SET = "dbDump"


class Interaction(Protocol):
    """How the commands ask: a terminal, or nobody (``interactive`` False: every question has a flag)."""

    @property
    def interactive(self) -> bool: ...

    def echo(self, line: str) -> None:
        """Tell the user (stderr)."""

    def ask(self, question: str) -> str:
        """A free-text answer (only asked when ``interactive``)."""

    def confirm(self, question: str, default: bool = False) -> bool:
        """A yes/no answer (only asked when ``interactive``)."""


@dataclass
class SessionAddress:
    """Which session to receive, and where to look for it."""

    session: str
    key: str
    #: ``--base-url``; None looks in ``.synco.yml`` of ``project_dir``, then asks.
    base_url: str | None = None
    #: ``--insecure``: do not verify TLS certificates.
    insecure: bool = False
    jobs: int = 8
    #: The local project: its ``.synco.yml`` hosts, its framework's public prefixes.
    project_dir: Path = Path(".")


@dataclass
class InstallRequest:
    """``--install`` and the options that go with it."""

    project_dir: Path
    #: ``--yes``: no question before replacing; the database loads while the files still arrive.
    yes: bool = False
    post_install: bool = False
    force_remote_target: bool = False
    #: ``--allow-missing``: install although some public files could not be fetched (403, 404).
    allow_missing: bool = False
    #: ``--site-url``: the local site's URL, for plugins that rewrite the source's URLs while installing.
    site_url: str | None = None
    #: ``--framework``: the local framework plugin, instead of guessing.
    framework_name: str | None = None
    #: ``--delete-excluded``: what serve's exclude rules match in a replaced folder goes with it.
    delete_excluded: bool = False
    #: ``--max-delete N``: how many local files the whole run may remove, the receive's and the install's.
    max_delete: int | None = None
    #: ``--no-terminate`` (False): the database install waits for the other sessions instead of ending them.
    terminate: bool = True
    #: ``--skip-requirements``: go on although the local server lacks what a dump needs (only warned).
    skip_requirements: bool = False


# ------------------------------------------------------------------------------------------ locating


@dataclass
class Located:
    """Where the session was found."""

    transport: Transport
    meta: Meta
    url: str
    #: The user typed the host (receive then offers to remember it in ``.synco.yml``).
    asked: bool = False


def _public_prefixes(project_dir: Path, known: tuple[str, ...] | None) -> tuple[str, ...]:
    """Where the site may serve its files besides its root: the local framework's prefixes and ``/_Resources``."""
    from synco_core.detection import detect
    from synco_core.receive.locate import DEFAULT_PREFIXES

    if known is None:
        try:
            known = detect(project_dir, side="destination").public_prefixes
        except SyncoError:
            known = ()
    return tuple(dict.fromkeys((*known, *DEFAULT_PREFIXES)))


def locate(address: SessionAddress, ui: Interaction, prefixes: tuple[str, ...] | None = None) -> Located:
    """Find the server holding ``address.session`` and read its meta (not waiting for Ready yet).

    ``prefixes``: the local framework's public prefixes when the caller detected it already.
    """
    from synco_core.receive.http_transport import HttpTransport
    from synco_core.receive.locate import candidate_urls, configured_hosts, find_session, without_session_folder
    from synco_core.receive.meta import identities_for
    from synco_core.receive.transport import UntrustedCertificateError

    identities = identities_for(address.key)
    asked = False
    if address.base_url:
        candidates = candidate_urls(without_session_folder(address.base_url, address.session))
    else:
        known = _public_prefixes(address.project_dir, prefixes)
        candidates = [url for host in configured_hosts(address.project_dir) for url in candidate_urls(host, known)]
        if not candidates:
            if not ui.interactive:
                raise ConfigError("where is the session? give --base-url URL (the site's address, as serve prints "
                                  "it), or list the site under hosts: in .synco.yml")
            asked = True
            candidates = candidate_urls(without_session_folder(ui.ask("Host or URL of the server"), address.session),
                                        known)
    verify = not address.insecure

    def make_transport(url: str) -> Transport:
        return HttpTransport(url, verify=verify, max_connections=address.jobs, timeout=30.0)

    try:
        transport, meta, url = find_session(candidates, address.session, identities, make_transport)
    except TransferError as exc:
        base_url = address.base_url or ""
        if candidates and all(url.startswith("https://") for url in candidates) and "@" in base_url \
                and "://" not in base_url:
            raise TransferError(f"{exc} (with a password in the address only https is tried; write http:// "
                                "in front to send it unencrypted)") from None
        if not (verify and ui.interactive and isinstance(exc, UntrustedCertificateError)):
            raise
        if not ui.confirm("The server's TLS certificate is not trusted. Connect anyway?", default=False):
            raise
        verify = False
        transport, meta, url = find_session(candidates, address.session, identities, make_transport)
    return Located(transport, meta, url, asked)


# ------------------------------------------------------------------------------------------ installing


class Installing:
    """The install half of ``receive --install`` and ``pull --install``, from the checks to the end.

    :meth:`prepare` detects the local project and checks its database (local, reachable, may be
    replaced): receive calls it before locating the session, pull while its channel connects. Without a
    request (no ``--install``) every method does nothing.
    """

    def __init__(self, request: InstallRequest | None, ui: Interaction, only: tuple[str, ...] = ()) -> None:
        self.request = request
        self.ui = ui
        self.only = only
        self.installer: ReceiveInstall | None = None

    def prepare(self) -> None:
        """Everything that would stop the install, checked before anything is transferred."""
        request = self.request
        if request is None or self.installer is not None:
            return
        if not request.yes and not self.ui.interactive:
            raise NotConfirmedError("install", asked=False)
        from synco_core.install.streamed import ReceiveInstall

        # A transfer of files alone (--only without the database) does not need the database checked.
        check_database = not self.only or DATABASE_SET in self.only
        self.installer = ReceiveInstall(request.project_dir, yes=request.yes,
                                        force_remote_target=request.force_remote_target,
                                        check_database=check_database, site_url=request.site_url,
                                        framework_name=request.framework_name,
                                        delete_excluded=request.delete_excluded,
                                        max_delete=request.max_delete, terminate=request.terminate)
        # Named databases are sent only when asked for by name (--only dbDump-NAME): each is checked too.
        self.installer.check_databases(self.only)

    def check_session(self, meta: Meta, sets_chosen_later: bool = False) -> None:
        """The session is found, nothing is downloaded yet: check every database it would install and, unless
        the user is still to choose the sets in a terminal, what each dump needs of the local server and that
        every files set has a place in the project (checked once they are chosen: :meth:`receive_options`)."""
        if self.installer is not None:
            wanted = [s for s in meta.file_sets if not self.only or s.name in self.only]
            self.installer.check_databases([s.name for s in wanted])
            if not sets_chosen_later:
                self._check_chosen(wanted)

    def _check_chosen(self, chosen: list[WireFileSet]) -> None:
        """The sets to receive are known: each dump's engine and needs, each files set's place, or nothing is
        downloaded."""
        assert self.installer is not None
        for file_set in chosen:
            if file_set.dump is not None:
                check_engine(self.installer.framework, file_set.name, file_set.dump.engine)
        self._check_requirements(chosen)
        self.installer.check_file_sets(chosen)

    def _check_requirements(self, wanted: list[WireFileSet]) -> None:
        """The local server has what each dump of ``wanted`` needs (its ``requires``), or nothing is downloaded."""
        assert self.installer is not None and self.request is not None
        for file_set in wanted:
            if file_set.dump is not None:
                check_requirements(self.installer.framework, file_set.name, file_set.dump.requires,
                                   skip=self.request.skip_requirements, nothing_done=NOTHING_DOWNLOADED)

    def check_remote_requirements(self, answer: dict[str, Any]) -> None:
        """Pull: what the remote database's dump would need (the remote side's requirements answer), checked
        against the local server before the remote side dumps anything; a dump of another engine is refused
        then too. The meta's own ``requires`` is checked again once it is read (:meth:`session_accepted`)."""
        if self.installer is None or self.request is None:
            return
        from synco_core.wire import requirements_from_json

        engine, raw = answer.get("engine"), answer.get("requires")
        if isinstance(engine, str):
            check_engine(self.installer.framework, DATABASE_SET, engine)
        requires = requirements_from_json(raw if isinstance(raw, dict) else None, "the remote database's requirements")
        check_requirements(self.installer.framework, DATABASE_SET, requires, skip=self.request.skip_requirements,
                           nothing_done=NOTHING_DOWNLOADED)

    @property
    def public_prefixes(self) -> tuple[str, ...] | None:
        return self.installer.framework.public_prefixes if self.installer is not None else None

    def set_arrived(self, folder: Path, entry: dict[str, Any]) -> None:
        if self.installer is not None:
            self.installer.set_arrived(folder, entry)

    def session_accepted(self, meta: Meta) -> None:
        """Pull's session passed receive's checks, nothing is received yet (see :meth:`check_session`). A dump
        streamed beside the session is not in its meta, and records its requirements only with its end: the
        load itself refuses what the local server lacks then, the local database as it was."""
        if self.installer is not None:
            wanted = [s for s in meta.file_sets if not self.only or s.name in self.only]
            for file_set in wanted:
                if file_set.dump is not None:
                    check_engine(self.installer.framework, file_set.name, file_set.dump.engine)
            self._check_requirements(wanted)

    def start_streamed(self, stream: StreamedDump) -> None:
        if self.installer is not None:
            self.installer.start_streamed(stream)

    def receive_options(self, options: ReceiveOptions) -> ReceiveOptions:
        """``options`` with the install's hook for sets as they arrive, and ``delete``: the install puts the
        receive folder's copy of each set in place, so a file the server no longer lists, left there by an
        earlier receive, would be installed again at every install (see :func:`installs_delete`)."""
        if self.request is None:
            return options
        choose = options.choose
        if choose is not None:
            def checked_choice(offered: list[WireFileSet]) -> list[str]:
                # A person who leaves the database out is not refused for what its dump needs: the checks of
                # check_session wait for the choice, and still come before anything is downloaded.
                names = choose(offered)
                self._check_chosen([s for s in offered if s.name in names])
                return names
            options = replace(options, choose=checked_choice)
        return replace(options, on_set_arrived=self.set_arrived, delete=installs_delete(options.delete, True))

    def abandon(self) -> None:
        if self.installer is not None:
            self.installer.abandon()

    def close(self) -> None:
        """The end, however it came: the project's install lock is released."""
        if self.installer is not None:
            self.installer.close()

    def conclude(self, summary: ReceiveSummary) -> bool:
        """After the transfer: install the sets it brought, or say why not and undo (False).

        Sets an earlier receive left in the target are not installed. A public set that lacks only files
        the server would not give (403, 404) is installed when the user says so: ``--allow-missing``, or
        yes to the question in a terminal (not asked with ``--yes``); the install itself stays all or
        nothing.
        """
        request, installer = self.request, self.installer
        if request is None or installer is None:
            return summary.ok
        if not summary.ok and not self._install_anyway(summary):
            installer.abandon()
            return False
        names = tuple(outcome.name for outcome in summary.sets)
        if not names:
            self.ui.echo("No file set was received, so there is nothing to install.")
            return True
        # No terminal: no question (None), so the install refuses with the words that name --yes.
        confirm = self._confirm if self.ui.interactive else None
        installer.finish(summary.target, only=names, yes=request.yes, confirm=confirm,
                         post_install=request.post_install, echo=self.ui.echo, receive_deleted=summary.deletions())
        return True

    def _confirm(self, question: str) -> bool:
        return self.ui.confirm(question, default=False)

    def _install_anyway(self, summary: ReceiveSummary) -> bool:
        assert self.request is not None
        failed = [o.name for o in summary.sets if o.status not in ("downloaded", "skipped")]
        if not summary.complete_but_missing:
            advice = summary.advice()
            self.ui.echo(f"Not installing: {', '.join(failed)} did not arrive complete; the local project is "
                         f"unchanged. {advice[:1].upper()}{advice[1:]}")
            return False
        missing = summary.missing
        what = f"{len(missing)} public file(s) the server would not give"
        if self.request.allow_missing:
            self.ui.echo(f"Installing without {what} (--allow-missing).")
            return True
        # --yes means no questions: leaving files out takes its own explicit --allow-missing then.
        if self.ui.interactive and not self.request.yes and self.ui.confirm(f"Install anyway, without {what}?",
                                                                            default=False):
            return True
        self.ui.echo(f"Not installing: {what} (listed above); running again will not fetch them. The local "
                     "project is unchanged; pass --allow-missing to install without them.")
        return False


def _transfer_and_install(transfer: Callable[[Installing], ReceiveSummary], installing: Installing,
                          report: Callable[[ReceiveSummary], None]) -> bool:
    """Run ``transfer``, report it, install: the lifecycle receive and pull share. True when all went well."""
    # Everything up to the end of the install is inside: the report too, as a line that cannot be written (a
    # full disk under a log file, a pipe whose reader left) fails the run after the database was loaded early,
    # and that database must then be put back like after any other failure (abandon() does it once).
    try:
        summary = transfer(installing)
        report(summary)
        if installing.request is None:
            return summary.ok
        return installing.conclude(summary)
    except BaseException:
        installing.abandon()
        raise


# ------------------------------------------------------------------------------------------ commands


def installs_delete(delete: bool, install: bool) -> bool:
    """Whether a receive (or pull) removes from its folder the files the server no longer lists: with
    ``--delete``, and always with ``--install``, which puts that folder's copy of each set in place."""
    return delete or install


def chooses(options: ReceiveOptions) -> bool:
    """Whether the person chooses the sets (:func:`synco_core.receive.session.choose_sets`): neither
    ``--only`` nor ``--all``, and a chooser."""
    return options.choose is not None and not options.only and not options.all


def receive_and_install(address: SessionAddress, options: ReceiveOptions, install: InstallRequest | None,
                        ui: Interaction, reporter: Reporter, report: Callable[[ReceiveSummary], None]) -> bool:
    """``synco receive``: check the install, find the session, receive it, install it. True when all went well.

    ``report`` prints the summary of the transfer before the install starts (or is refused).
    """
    from synco_core.receive.locate import config_file, remember_host, remembered_form
    from synco_core.receive.session import receive_session

    installing = Installing(install, ui, options.only)

    def transfer(installing: Installing) -> ReceiveSummary:
        located = locate(address, ui, installing.public_prefixes)
        try:
            installing.check_session(located.meta, sets_chosen_later=chooses(options))
            summary = receive_session(located.transport, address.session, address.key,
                                      installing.receive_options(options), reporter, meta=located.meta)
        finally:
            located.transport.close()
        if located.asked and ui.interactive and ui.confirm(
                f"Remember {remembered_form(located.url)} in {config_file(address.project_dir).name}?",
                default=True):
            remember_host(address.project_dir, located.url)
        return summary

    try:
        installing.prepare()
        return _transfer_and_install(transfer, installing, report)
    finally:
        installing.close()


def plan_receive(address: SessionAddress, options: ReceiveOptions, ui: Interaction, reporter: Reporter) -> ReceivePlan:
    """``synco receive --plan``: find the session and say what a receive would do; changes nothing."""
    from synco_core.receive.plan import plan_session

    located = locate(address, ui)
    try:
        return plan_session(located.transport, address.session, address.key, options, reporter, meta=located.meta)
    finally:
        located.transport.close()


def pull_and_install(run: Callable[[Installing], ReceiveSummary], install: InstallRequest | None, ui: Interaction,
                     report: Callable[[ReceiveSummary], None], only: tuple[str, ...] = ()) -> bool:
    """``synco pull``: ``run`` starts the remote side and receives; it calls :meth:`Installing.prepare` once
    the channel is starting (the local checks then overlap the connection) and hands the installer's hooks
    to the transfer. True when all went well."""
    installing = Installing(install, ui, only)
    try:
        return _transfer_and_install(run, installing, report)
    finally:
        installing.close()


def missing_files_line(missing: list[str], shown: int = 5) -> str:
    """The files the server would not give, counted and the first few named."""
    names = ", ".join(missing[:shown]) + (f" and {len(missing) - shown} more" if len(missing) > shown else "")
    return (f"{len(missing)} public file(s) could not be fetched (the server refused them or no longer has them): "
            f"{names}")
