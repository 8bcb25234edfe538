"""The ``serve`` lifecycle: prepare a session in the web root, publish it, wait, and clean up.

:func:`publish_session` is the publishing part, shared with the remote side of ``pull --via-http``;
:func:`serve` adds the signals, the receive command it prints and the wait for the TTL.

Clean-up runs on Ctrl-C, SIGTERM and SIGHUP, when the time to live runs out, and when building fails;
``--keep`` is the only way a session outlives its ``serve``, and even then the TTL marker lets the next
``serve`` remove it once expired.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import secrets
import shlex
import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from synco_core.cli.termination import Terminated
from synco_core.databases import requested_named_sets
from synco_core.dumpoptions import SessionDump, format_names, resolve_database_dump, resolve_session_dump
from synco_core.errors import ConfigError
from synco_core.permissions import published_files
from synco_core.plugins import SyncoPluginManager
from synco_core.scratch import temporary_scratch
from synco_core.serve.build import BuildContext, BuildOptions, build_session, check_compat, includes_database
from synco_core.serve.folder import SessionFolder
from synco_core.serve.keys import SessionKey, generate_passphrase
from synco_core.serve.server import AllowList, RequestHook, WebRootServer, start_server
from synco_core.serve.ttl import SessionHold, cleanup_expired, create_session_folder, remove_session
from synco_core.values import Framework
from synco_core.wire import Meta, session_folder_name

if TYPE_CHECKING:
    from synco_core.progress import Reporter

log = logging.getLogger(__name__)

#: 96 random bits, well above the 64 the wire format asks for, in 24 URL-safe hex characters.
ID_BYTES = 12


@dataclass
class ServeOptions:
    """The options of ``synco serve``."""

    listen: str | None = None
    session_id: str | None = None
    password: str | None = None
    keep: bool = False
    ttl_minutes: float = 60.0
    #: Print the receive command with the key on its standard input (``echo KEY | synco receive SESSION -``),
    #: so no process on the destination has it in its command line.
    key_on_stdin: bool = False
    build: BuildOptions = field(default_factory=BuildOptions)
    #: Called for every request the ``--listen`` server answers (tests count requests with it).
    on_request: RequestHook | None = None


@dataclass
class PublishedSession:
    """A session that is built and published."""

    folder: Path
    session: str
    key: SessionKey
    meta: Meta
    base_url: str | None
    server: WebRootServer | None
    #: Where ``base_url`` comes from (``--listen``, ``APP_URL in .env``, ``.synco.yml hosts``), or "" when unknown.
    base_url_source: str = ""
    #: When the session expires (Unix time), as its TTL marker and its meta say: other serves remove it then,
    #: and receive refuses it, so this serve ends then too, however long the build took.
    expires_at: float = 0.0


class SessionStopped(BaseException):
    """Raised in the main thread by a termination signal, so every ``finally`` runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def termination_signals() -> Iterator[None]:
    """Turn SIGINT, SIGTERM, SIGHUP and SIGXCPU into :class:`SessionStopped` for the duration of the block."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SessionStopped(signum)

    wanted = [signal.SIGINT, signal.SIGTERM]
    wanted += [getattr(signal, name) for name in ("SIGHUP", "SIGXCPU") if hasattr(signal, name)]
    previous = {}
    for signum in wanted:
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def new_session_id() -> str:
    return secrets.token_hex(ID_BYTES)


def site_base_url(framework: Framework) -> tuple[str | None, str]:
    """The URL the web root is served at, as the application knows it, and where that was read.

    The framework's own setting first (``APP_URL``, Flow's ``baseUri``, Symfony's router context), then the
    first of the ``hosts`` in ``.synco.yml`` (where receive looks, too); ``(None, "")`` when nothing says.
    """
    if framework.base_url:
        url = framework.base_url.strip()
        return (url if url.endswith("/") else url + "/"), framework.base_url_source or f"the {framework.name} settings"
    from synco_core.receive.locate import config_file, configured_hosts

    hosts = configured_hosts(framework.project_dir)
    if hosts:
        url = hosts[0] if "://" in hosts[0] else f"https://{hosts[0]}"
        return (url if url.endswith("/") else url + "/"), f"hosts in {config_file(framework.project_dir).name}"
    return None, ""


def _public_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return socket.getfqdn() or "localhost"
    return f"[{host}]" if ":" in host else host


#: What a ``--compat`` session gives up, printed when it is published.
COMPAT_NOTES = (
    "--compat gives up: X25519 keys (every artifact costs about a second of scrypt key derivation to open), "
    "zstd compression (larger transfers), and sha256/row-count verification (still written, but Go synco "
    "v2 ignores them); only MySQL dumps, public and private file sets are possible.",
)


def no_sanitize_warning(dump: SessionDump) -> str:
    """The loud line ``--no-sanitize`` prints: which column rewrites are not applied."""
    rules = dump.dropped_rewrites
    dropped = format_names([f"{rule.table}.{rule.column}" for rule in rules])
    what = f"{len(rules)} column rewrite(s) NOT applied: {dropped}" if rules else "no column rewrites were configured"
    return f"WARNING: --no-sanitize: the database is shipped with RAW personal data ({what})"


def prepare(framework: Framework, options: ServeOptions, warn: Callable[[str], None],
            manager: SyncoPluginManager | None = None) -> None:
    """The checks that must pass before anything is written: ``--compat``, strict mode, ``--no-sanitize``,
    ``--only`` naming a database the project does not have.

    ``--compat`` also turns compression off and makes sure a passphrase is set.
    """
    build = options.build
    if build.compat:
        check_compat(framework, build)
        build.compress = False
        # Go synco v2 fetches every public file by its URL; packs would only cost the serve time.
        build.packs = False
        if options.password is None:
            options.password = generate_passphrase()
        for note in COMPAT_NOTES:
            warn(note)
    if includes_database(framework, build):
        # Resolved once for the whole session (strict mode checked with it), and handed to the build.
        build.dump = resolve_session_dump(framework, all=build.all, sanitize=build.sanitize, manager=manager)
        if not build.sanitize:
            warn(no_sanitize_warning(build.dump))
    for set_name in requested_named_sets(framework, build.only):
        build.named_dumps[set_name] = dump = resolve_database_dump(framework, set_name, all=build.all,
                                                                   sanitize=build.sanitize, manager=manager)
        if not build.sanitize:
            warn(f"{set_name}: {no_sanitize_warning(dump)}")


@contextmanager
def publish_session(
    framework: Framework,
    options: ServeOptions,
    echo: Callable[[str], None],
    on_step: Callable[[str], None] | None = None,
    manager: SyncoPluginManager | None = None,
    warn: Callable[[str], None] | None = None,
    reporter: Reporter | None = None,
) -> Iterator[PublishedSession]:
    """Build the session of ``framework`` in its web root and publish it for the duration of the block.

    The whole publishing lifecycle, shared by ``serve`` and the remote side of ``pull --via-http``: expired
    sessions removed, the checks that must pass before anything is written, the key, the folder with its
    TTL marker, the ``--listen`` server (serving the session and the indexed public files only), the
    site's base URL, the build. When the block ends, however it ends, the server stops and the session is
    removed, unless ``options.keep`` and the session got ready. ``echo`` prints user-facing lines, ``warn``
    warnings (default: the log).
    """
    web_root = framework.web_root
    if web_root is None:
        raise ConfigError(f"the {framework.name} project has no web root to publish the session in")
    if not web_root.is_dir():
        raise ConfigError(f"web root {web_root} does not exist")
    for removed in cleanup_expired(web_root):
        echo(f"Removed the expired session {removed.name}")
    if options.ttl_minutes <= 0:
        raise ConfigError("--ttl must be more than 0 minutes")
    ttl_seconds = options.ttl_minutes * 60
    # Strict mode and --compat refuse before the session folder exists, so a refusal leaves nothing behind.
    prepare(framework, options, warn or (lambda line: log.warning("%s", line)), manager)
    session = session_folder_name(options.session_id or new_session_id())
    path = web_root / session
    exists = f"a session folder {session} exists already in {web_root}; choose another --id"
    if path.exists():
        raise ConfigError(exists)
    key = SessionKey.generate(options.password)
    folder = SessionFolder(path, key.recipients)
    server: WebRootServer | None = None
    ready = False
    hold: SessionHold | None = None

    def remove_unless_kept() -> None:
        if hold is None:
            return
        try:
            if options.keep and ready:
                return
            if not hold.owns():
                # Another serve removed it as expired (and may have published a session of the same --id
                # there since): what is under the name now is not this serve's to remove.
                echo(f"{path} was removed by another serve once its time to live had run out")
                return
            reason = remove_session(path)
            echo(f"Removed {path}" if reason is None else f"Could not remove {path} ({reason})")
        finally:
            # Held until the folder is gone: until then no other serve may take this live session for a dead one's.
            hold.release()

    # Private (0700) scratch space of this publication: sorted runs of a plugin's entries, --listen's allow list.
    scratch = temporary_scratch()
    work_dir = scratch.path
    # Each step of the clean-up runs (in the reverse order of registration) even when one before it is cut
    # short: a second Ctrl-C while the server stops (it waits for a download to end) must not leave the
    # session folder published.
    with contextlib.ExitStack() as cleanup:
        cleanup.enter_context(published_files(web_root))
        cleanup.callback(remove_unless_kept)
        cleanup.callback(scratch.remove)
        # The folder appears with its marker in it: whatever happens from here on, even SIGKILL, the
        # next serve can find it and remove it once it has expired.
        try:
            hold = create_session_folder(path, ttl_seconds, keep=options.keep)
        except FileExistsError:
            raise ConfigError(exists) from None
        except OSError as exc:
            # A read-only application root (Platform.sh, Upsun, a read-only container image) or one this user
            # may not write: pull builds its session in a temporary folder and sends it over its channel.
            hint = (" (a web root serve cannot write into: run 'synco pull' on the laptop instead, which writes only "
                    "to a temporary folder here)" if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM) else "")
            raise ConfigError(f"cannot create the session folder in the web root {web_root}: "
                              f"{exc.strerror or exc}{hint}") from None
        base_url, base_url_source = site_base_url(framework)
        on_public_uri: Callable[[str, str | None, tuple[int, int] | None], None] | None = None
        if options.listen:
            listed = AllowList(work_dir)
            cleanup.callback(listed.close)
            listed.add_prefix(session, path)
            on_public_uri = listed.note
            server = start_server(web_root, options.listen, options.on_request, listed)
            cleanup.callback(server.stop)
            host, port = server.server_address[:2]
            base_url, base_url_source = f"http://{_public_host(str(host))}:{port}/", "--listen"
        expires_at = hold.marker.expires_at
        context = BuildContext(expires_at=int(expires_at), on_public_uri=on_public_uri, work_dir=work_dir)
        meta = build_session(framework, folder, options.build, on_step, manager, reporter, context)
        ready = True
        yield PublishedSession(path, session, key, meta, base_url, server, base_url_source, expires_at)


def serve(
    framework: Framework,
    options: ServeOptions,
    echo: Callable[[str], None],
    on_step: Callable[[str], None] | None = None,
    on_ready: Callable[[PublishedSession], None] | None = None,
    manager: SyncoPluginManager | None = None,
    warn: Callable[[str], None] | None = None,
    reporter: Reporter | None = None,
) -> PublishedSession:
    """Run ``serve`` for ``framework`` until a signal, the TTL, or (with ``keep``) right after Ready.

    ``echo`` prints user-facing lines (the receive command); ``warn`` prints warnings (``--no-sanitize``,
    what ``--compat`` gives up; default: the log); ``on_ready`` is told when the session can be received;
    ``reporter`` shows the progress of the dump and the packing (in a terminal).
    Returns the published session (already removed unless ``keep``).
    """
    published: PublishedSession | None = None
    with termination_signals():
        try:
            with publish_session(framework, options, echo, on_step, manager, warn, reporter) as published:
                print_receive_command(published, echo, keep=options.keep, ttl_minutes=options.ttl_minutes,
                                      key_on_stdin=options.key_on_stdin)
                if on_ready is not None:
                    on_ready(published)
                if options.keep:
                    return published
                # The time to live counts from the session folder's creation, as its marker and meta say: a serve
                # that waited it out from Ready (after a long build) went on publishing a session that receive
                # refused as expired and another serve removed from under it.
                deadline = time.monotonic() + max(0.0, published.expires_at - time.time())
                while (left := deadline - time.monotonic()) > 0:
                    time.sleep(min(left, 1.0))
                echo(f"The session's time to live ({options.ttl_minutes:g} min) ran out; cleaning up.")
        except SessionStopped as stopped:
            echo(f"Stopped by {stopped}; cleaning up.")
            if published is None or stopped.signum == getattr(signal, "SIGXCPU", None):
                # Stopped before Ready is an interrupted command (exit status 128 plus the signal's number);
                # after it, a signal is how serve is meant to end, except a CPU time limit running out.
                raise KeyboardInterrupt if stopped.signum == signal.SIGINT else Terminated(stopped.signum) from None
    return published


def print_receive_command(published: PublishedSession, echo: Callable[[str], None], keep: bool,
                          ttl_minutes: float, key_on_stdin: bool = False) -> None:
    """Print the one command to run on the destination (the key is in it, on purpose).

    The command carries ``--base-url`` whenever the site's URL is known, so it works as printed, in a
    terminal or not; when it is not known, a line says so and what to add. With ``key_on_stdin`` the key is
    handed to receive on its standard input by the shell's own ``echo`` (a builtin in sh, bash, zsh, fish and
    tcsh, so no program runs with it), never in a command line other users of the destination can read.
    """
    base = f" --base-url {published.base_url}" if published.base_url else ""
    if key_on_stdin:
        command = f"echo {shlex.quote(published.key.secret)} | synco receive {published.session} -{base}"
    else:
        command = f"synco receive {published.session} {published.key.secret}{base}"
    echo("READY: run this on the destination to download the session:")
    echo("")
    echo(f"    {command}")
    echo("")
    # No "uvx --from synco ..." here: the name synco on PyPI belongs to an unrelated project, and that line
    # would hand the session key to its code. Only commands that run this project are printed.
    if published.base_url is None:
        echo("The site's URL is not known here: add --base-url https://<the site> to the command (or list the "
             "site under hosts: in .synco.yml, where receive looks for it).")
    elif published.base_url_source != "--listen":
        echo(f"The site's URL is from {published.base_url_source}.")
        if _names_this_machine(published.base_url):
            echo(f"Note: {published.base_url} names this machine itself; where the destination is another "
                 "machine, replace it with the address that machine reaches this site at.")
    if keep:
        echo(f"The session stays in {published.folder} (--keep); remove it with: synco serve --cleanup")
    else:
        ends = time.strftime("%H:%M", time.localtime(published.expires_at))
        echo(f"Press Ctrl-C when done; the session is removed then, or when its time to live ({ttl_minutes:g} "
             f"minutes) ends at {ends}.")


def _names_this_machine(url: str) -> bool:
    """True for ``http://localhost/`` and loopback addresses: Laravel's default ``APP_URL`` is one."""
    host = (urlsplit(url).hostname or "").lower()
    return host == "localhost" or host.endswith(".localhost") or host.startswith("127.") or host == "::1"
