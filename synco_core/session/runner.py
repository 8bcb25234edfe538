"""The ``serve`` lifecycle: prepare a session in the web root, publish it, wait, and clean up.

Clean-up runs on Ctrl-C, SIGTERM and SIGHUP, when the time to live runs out, and when building fails;
``--keep`` is the only way a session outlives its ``serve``, and even then the TTL marker lets the next
``serve`` remove it once expired.
"""

from __future__ import annotations

import logging
import secrets
import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from urllib.parse import unquote

from synco_core.databases import requested_named_sets
from synco_core.dumpoptions import SessionDump, format_names, resolve_database_dump, resolve_session_dump
from synco_core.errors import ConfigError
from synco_core.plugins import SyncoPluginManager
from synco_core.session.build import BuildOptions, build_session, check_compat, includes_database
from synco_core.session.folder import SessionFolder
from synco_core.session.keys import SessionKey, generate_passphrase
from synco_core.session.server import AllowList, RequestHook, WebRootServer, start_server
from synco_core.session.ttl import cleanup_expired, create_session_folder, remove_session
from synco_core.values import Framework
from synco_core.wire import Meta, session_folder_name

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


class SessionStopped(BaseException):
    """Raised in the main thread by a termination signal, so every ``finally`` runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def termination_signals() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into :class:`SessionStopped` for the duration of the block."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SessionStopped(signum)

    wanted = [signal.SIGINT, signal.SIGTERM]
    if hasattr(signal, "SIGHUP"):
        wanted.append(signal.SIGHUP)
    previous = {}
    for signum in wanted:
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _url_path(uri: str) -> str:
    """An index URI as the server sees the request path: decoded, without empty segments."""
    return "/".join(part for part in unquote(uri.split("?")[0]).split("/") if part)


def new_session_id() -> str:
    return secrets.token_hex(ID_BYTES)


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


def serve(
    framework: Framework,
    options: ServeOptions,
    echo: Callable[[str], None],
    on_step: Callable[[str], None] | None = None,
    on_ready: Callable[[PublishedSession], None] | None = None,
    manager: SyncoPluginManager | None = None,
    warn: Callable[[str], None] | None = None,
) -> PublishedSession:
    """Run ``serve`` for ``framework`` until a signal, the TTL, or (with ``keep``) right after Ready.

    ``echo`` prints user-facing lines (the receive command); ``warn`` prints warnings (``--no-sanitize``,
    what ``--compat`` gives up; default: the log); ``on_ready`` is told when the session can be received.
    Returns the published session (already removed unless ``keep``).
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
    published: PublishedSession | None = None
    created = False
    with termination_signals():
        try:
            # The folder appears with its marker in it: whatever happens from here on, even SIGKILL, the
            # next serve can find it and remove it once it has expired.
            try:
                create_session_folder(path, ttl_seconds, keep=options.keep)
            except FileExistsError:
                raise ConfigError(exists) from None
            created = True
            base_url = None
            if options.listen:
                allow = AllowList()
                allow.add_prefix(session)
                options.build.on_public_index = lambda _name, index: allow.add_paths(
                    _url_path(entry.public_uri) for entry in index.values() if not entry.absolute
                )
                server = start_server(web_root, options.listen, options.on_request, allow)
                host, port = server.server_address[:2]
                base_url = f"http://{_public_host(str(host))}:{port}/"
            options.build.expires_at = int(time.time() + ttl_seconds)
            meta = build_session(framework, folder, options.build, on_step, manager)
            published = PublishedSession(path, session, key, meta, base_url, server)
            print_receive_command(published, echo, keep=options.keep, ttl_minutes=options.ttl_minutes)
            if on_ready is not None:
                on_ready(published)
            if options.keep:
                return published
            deadline = time.monotonic() + ttl_seconds
            while (left := deadline - time.monotonic()) > 0:
                time.sleep(min(left, 1.0))
            echo(f"The session's time to live ({options.ttl_minutes:g} min) ran out; cleaning up.")
        except SessionStopped as stopped:
            echo(f"Stopped by {stopped}; cleaning up.")
        finally:
            if server is not None:
                server.stop()
            if created and not (options.keep and published is not None):
                remove_session(path)
                echo(f"Removed {path}")
    if published is None:
        raise ConfigError("serve was stopped before the session was ready")
    return published


def print_receive_command(published: PublishedSession, echo: Callable[[str], None], keep: bool,
                          ttl_minutes: float) -> None:
    """Print the one command to run on the destination (the key is in it, on purpose)."""
    base = f" --base-url {published.base_url}" if published.base_url else ""
    command = f"synco receive {published.session} {published.key.secret}{base}"
    echo("READY: run this on the destination to download the session:")
    echo("")
    echo(f"    {command}")
    echo("")
    echo("  or, where synco is not installed:")
    echo(f"    uvx --from synco {command}")
    echo("")
    if keep:
        echo(f"The session stays in {published.folder} (--keep); remove it with: synco serve --cleanup")
    else:
        echo(f"Press Ctrl-C when done; the session is removed then, or after {ttl_minutes:g} minutes.")
