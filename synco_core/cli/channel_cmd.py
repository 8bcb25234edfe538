"""``synco _channel``: the remote half of ``synco pull`` (hidden; started by pull through ssh/docker/kubectl).

It speaks the framed protocol of :mod:`synco_core.pull.frames` (docs/wire-format.md) on its stdin/stdout. On request it
detects the application in the current directory and builds a session with the same code as ``serve``
(:func:`synco_core.session.build.build_session`), then either

- channel mode (the default): builds into a private temporary folder and serves that folder, plus the
  application's public files, read-only over the channel; nothing is written to the web root;
- http mode (``pull --via-http``): publishes the session exactly like ``serve`` does (web root, optional
  ``--listen`` server) and keeps it until the client says bye.

Whatever ends the run (bye, the client going away, SIGTERM/SIGHUP, an error), the session is removed
before the process exits; after a bye the client gets an acknowledgement only once that is done.

The real stdout is reserved for frames: it is moved to a private file descriptor and descriptor 1 is
pointed at stderr, so a stray ``print`` in a plugin cannot corrupt the stream. Stdin is replaced by
``/dev/null`` for the same reason: a framework command run by a plugin (``php artisan``) must not read
the client's requests.
"""

from __future__ import annotations

import _thread
import contextlib
import dataclasses
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO

import click

from synco_core import __version__
from synco_core.cli.options import debug_option
from synco_core.errors import ConfigError, SyncoError
from synco_core.pull import fallback
from synco_core.pull.frames import PROTOCOL_VERSION, STREAM_CLOSE, STREAM_DATA, STREAM_OPEN, ChannelClosed
from synco_core.pull.server import ChannelServer
from synco_core.pull.spaces import FolderSpace, PublicSpace
from synco_core.redaction import redact

log = logging.getLogger(__name__)


#: Engines whose dumps ``synco pull`` streams during the build, and the format they always write (the
#: client must know it before the dump ends, to load the dump as it arrives). SQLite is left out: its
#: artifact is a copy of the database file, made in one go before it is sent.
STREAMED_DUMP_FORMATS = {"mysql": "sql", "postgresql": "sql"}


class _Stopped(BaseException):
    """Raised in the main thread when the client went away or a termination signal came."""


@contextlib.contextmanager
def _private_stdio() -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """The original stdin/stdout as binary streams for frames; fds 0 and 1 become /dev/null and stderr."""
    sys.stdout.flush()
    in_fd = os.dup(0)
    out_fd = os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    reader = os.fdopen(in_fd, "rb", buffering=256 << 10)
    writer = os.fdopen(out_fd, "wb", buffering=256 << 10)
    try:
        yield reader, writer
    finally:
        with contextlib.suppress(OSError, ValueError):
            writer.flush()
        for stream in (writer, reader):
            with contextlib.suppress(OSError, ValueError):
                stream.close()


def capabilities() -> dict[str, Any]:
    """What this host can do: the client chooses encryption and compression from it."""
    return {
        "age": fallback.available("cryptography"),
        "zstd": fallback.available("zstandard"),
        "zlib": True,
        "http": True,
    }


def _check_engine(framework: Any) -> None:
    """A PostgreSQL project needs psycopg (with libpq) here; say so in one line instead of a plugin failure."""
    database = framework.database
    if database is None or database.engine != "postgresql":
        return
    try:
        import psycopg  # noqa: F401
    except Exception:
        raise ConfigError(
            "psycopg is not installed on the remote host (needed for PostgreSQL); "
            "install synco there (pip install synco) or psycopg[binary]"
        ) from None


class _Source:
    """The build handler of the channel server, and what must be removed afterwards."""

    def __init__(self, server_ref: list[ChannelServer], debug: bool) -> None:
        self._server_ref = server_ref
        self.debug = debug
        self.temp_root: Path | None = None
        self.building = False
        #: http mode: the published folder in the web root and the --listen server, if any.
        self.published: Path | None = None
        self.http_server: Any = None

    def build(self, options: dict[str, Any], progress: Callable[[str], None]) -> dict[str, Any]:
        from synco_core.detection import detect

        self.building = True
        try:
            framework = detect(Path.cwd(), options.get("framework") or None)
            _check_engine(framework)
            if options.get("mode") == "http":
                return self._publish(framework, options, progress)
            return self._build_private(framework, options, progress)
        finally:
            self.building = False

    def _build_options(self, options: dict[str, Any], compress: bool) -> Any:
        from synco_core.session.build import BuildOptions
        from synco_core.session.folder import ZSTD_LEVEL, ZSTD_LEVELS

        only = options.get("only") or []
        if not isinstance(only, list) or not all(isinstance(name, str) for name in only):
            raise ConfigError("malformed build request: 'only' should be a list of names")
        level = options.get("zstd_level", ZSTD_LEVEL)
        if not isinstance(level, int) or level not in ZSTD_LEVELS:
            raise ConfigError(f"malformed build request: zstd_level {level!r}")
        return BuildOptions(all=bool(options.get("all")), only=tuple(only), compress=compress, zstd_level=level)

    def _build_private(
        self, framework: Any, options: dict[str, Any], progress: Callable[[str], None]
    ) -> dict[str, Any]:
        from synco_core.session.build import build_session, includes_database
        from synco_core.session.runner import new_session_id
        from synco_core.wire import session_folder_name

        can_encrypt = fallback.available("cryptography")
        encrypt = bool(options.get("encrypt", True)) and can_encrypt
        compress = fallback.available("zstandard")
        self.temp_root = Path(tempfile.mkdtemp(prefix="synco-channel-"))
        session = session_folder_name(new_session_id())
        path = self.temp_root / session
        secret: str | None = None
        if encrypt:
            from synco_core.session.folder import SessionFolder
            from synco_core.session.keys import SessionKey

            key = SessionKey.generate()
            secret = key.secret
            folder: Any = SessionFolder(path, key.recipients)
        else:
            folder = fallback.plain_session_folder_class()(path)
        folder.create()
        progress(f"building the {framework.name} session on the remote host")
        build_options = self._build_options(options, compress)
        # The channel sends public files in batches of its own (get_batch): packs would only cost the
        # production host a second read of every small file.
        build_options.packs = False
        server = self._server_ref[0]
        database = framework.database
        streaming = bool(options.get("stream_database") and encrypt and compress and database is not None
                         and database.engine in STREAMED_DUMP_FORMATS and includes_database(framework, build_options))
        if streaming:
            assert database is not None
            from synco_core.rewriting import collect_source_settings

            # Announced with the stream: the client's install asks for its value rewriter before loading.
            settings = collect_source_settings(framework)
            build_options = dataclasses.replace(build_options, source_settings=settings)
            self._start_streamed_dump(server, framework, folder, build_options, {
                "session": session, "key": secret, "encrypted": encrypt, "compression": "zstd",
                "engine": database.engine, "format": STREAMED_DUMP_FORMATS[database.engine],
                "sourceSettings": settings,
            })
            # The rest of the session is built meanwhile, and the client fetches it while the dump goes on.
            build_options = dataclasses.replace(build_options, skip_database=True)
        build_session(framework, folder, build_options, progress)
        server.spaces["session"] = FolderSpace(path)
        if framework.web_root is not None:
            server.spaces["public"] = PublicSpace(Path(framework.web_root), (Path(framework.project_dir),))
        return {
            "session": session, "key": secret, "encrypted": encrypt, "framework": framework.name,
            "compression": "zstd" if compress else None,
            # The database is not in the meta: it comes as a stream (see ChannelClient.wait_stream).
            "streaming": streaming,
            # Without zstd here the artifacts are stored plain; the channel then compresses them with zlib.
            "channel_compression": None if compress else "zlib",
        }

    @staticmethod
    def _start_streamed_dump(server: ChannelServer, framework: Any, folder: Any, build_options: Any,
                             announce: dict[str, Any]) -> None:
        """Dump in a thread, sending the artifact down the channel as it is written (``O``, ``T``..., ``C``).

        Only for an encrypted, zstd-compressed session: the client then needs nothing but the key to read
        the stream, the same way it reads a finished artifact. The thread is one of the server's
        background jobs, which ``wait_stream`` and ``bye`` wait for.
        """
        from synco_core.databases import DB_SET_NAME
        from synco_core.session.build import dump_set

        def tee(name: str) -> Callable[[bytes], object] | None:
            if not name.startswith("dump."):
                return None
            server.send_json(STREAM_OPEN, {**announce, "set": DB_SET_NAME})

            def send(chunk: bytes) -> None:
                if server.disconnected.is_set():
                    raise ChannelClosed("the client went away during the dump")
                server.send(STREAM_DATA, chunk)

            return send

        def run() -> None:
            try:
                file_set = dump_set(framework, folder, build_options, server.log)
                message: dict[str, Any] = {"fileSet": file_set.to_json()}
            except BaseException as exc:  # Reported to the client, which ends the pull with it.
                log.debug("the streamed dump failed", exc_info=True)
                message = {"error": redact(" ".join(str(exc).split())) or type(exc).__name__}
            with contextlib.suppress(OSError, ValueError):
                server.send_json(STREAM_CLOSE, message)

        folder.artifact_tee = tee
        thread = threading.Thread(target=run, name="synco-streamed-dump", daemon=True)
        server.background.append(thread)
        thread.start()

    def _publish(self, framework: Any, options: dict[str, Any], progress: Callable[[str], None]) -> dict[str, Any]:
        """``--via-http``: publish in the web root as ``serve`` does, with serve's own pieces, until bye."""
        from synco_core.session.build import build_session
        from synco_core.session.folder import SessionFolder
        from synco_core.session.keys import SessionKey
        from synco_core.session.runner import new_session_id, site_base_url
        from synco_core.session.server import start_server
        from synco_core.session.ttl import cleanup_expired, create_session_folder
        from synco_core.wire import session_folder_name

        if not fallback.available("cryptography"):
            raise ConfigError("--via-http needs cryptography on the remote host; pull without --via-http instead")
        web_root = framework.web_root
        if web_root is None or not Path(web_root).is_dir():
            raise ConfigError(f"the {framework.name} project has no web root to publish the session in")
        web_root = Path(web_root)
        for removed in cleanup_expired(web_root):
            progress(f"removed the expired session {removed.name}")
        ttl_seconds = float(options.get("ttl_minutes") or 60.0) * 60
        session = session_folder_name(new_session_id())
        path = web_root / session
        key = SessionKey.generate()
        folder = SessionFolder(path, key.recipients)
        # The folder appears with its marker already inside: a SIGKILL at any moment leaves either nothing or
        # a folder the next serve removes once it has expired.
        create_session_folder(path, ttl_seconds)
        self.published = path
        # The site's URL as the application knows it (APP_URL ...), as serve prints it; --remote-listen wins.
        base_url, _source = site_base_url(framework)
        listen = options.get("listen")
        if isinstance(listen, str) and listen:
            self.http_server = start_server(web_root, listen)
            host, port = self.http_server.server_address[:2]
            host_text = str(host)
            base_url = f"http://{'[' + host_text + ']' if ':' in host_text else host_text}:{port}/"
        build_options = self._build_options(options, fallback.available("zstandard"))
        build_options.expires_at = int(time.time() + ttl_seconds)
        build_session(framework, folder, build_options, progress)
        return {"session": session, "key": key.secret, "encrypted": True, "framework": framework.name,
                "base_url": base_url, "mode": "http"}

    def cleanup(self) -> None:
        if self._server_ref:
            # A dump still streaming writes into the folder removed below; it ends soon once the client
            # is gone (its frames cannot be sent), and a stuck one is not waited for.
            self._server_ref[0].wait_background(timeout=30)
        if self.http_server is not None:
            self.http_server.stop()
            self.http_server = None
        if self.published is not None:
            from synco_core.session.ttl import remove_session

            remove_session(self.published)
            self.published = None
        if self.temp_root is not None:
            shutil.rmtree(self.temp_root, ignore_errors=True)
            self.temp_root = None


def run_channel_server(reader: BinaryIO, writer: BinaryIO, debug: bool = False) -> int:
    """The whole remote side over ``reader``/``writer``; returns the exit status."""
    server_ref: list[ChannelServer] = []
    source = _Source(server_ref, debug)

    def on_disconnect() -> None:
        # Only a running build needs interrupting; the serving loop notices the end of input by itself.
        if source.building:
            _thread.interrupt_main()

    server = ChannelServer(reader, writer, build=source.build, on_disconnect=on_disconnect,
                           capabilities=capabilities(), version=__version__)
    server_ref.append(server)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        raise _Stopped(signal.Signals(signum).name)

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, on_signal)
    status = 0
    try:
        server.serve()
    except (_Stopped, KeyboardInterrupt) as exc:
        log.debug("stopped: %s", exc or "client went away")
        status = 1
    except SyncoError as exc:
        server.fatal(redact(" ".join(str(exc).split())))
        status = 1
    except BrokenPipeError:
        log.debug("the client went away while data was being sent")
        status = 1
    except Exception as exc:
        log.debug("channel failure", exc_info=True)
        server.fatal(redact(f"{type(exc).__name__}: {' '.join(str(exc).split())}"))
        status = 1
    finally:
        # Signals during cleanup must not cut it short.
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)
        source.cleanup()
    if server.closed_by_client and status == 0:
        server.acknowledge_bye()
    with contextlib.suppress(OSError, ValueError):
        writer.flush()
    return status


@click.command("_channel", hidden=True)
@click.option("--probe", is_flag=True, help="Print what this host can do as JSON and exit.")
@debug_option
def command(probe: bool) -> None:
    """Remote side of ``synco pull`` (speaks frames on stdin/stdout; not for interactive use)."""
    if probe:
        info = {"protocol": PROTOCOL_VERSION, "version": __version__, "capabilities": capabilities()}
        click.echo(json.dumps(info))
        return
    from synco_core.cli.main import is_debug

    started = time.monotonic()
    with _private_stdio() as (reader, writer):
        status = run_channel_server(reader, writer, debug=is_debug())
    log.debug("channel finished after %.1fs with status %d", time.monotonic() - started, status)
    if status:
        sys.exit(status)
