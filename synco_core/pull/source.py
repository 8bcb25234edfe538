"""The source host's half of ``synco pull``: answer a channel client until bye, then remove what was made.

On request it detects the application in the current directory and builds a session with the same code as
``serve`` (:func:`synco_core.serve.build.build_session`), then either

- channel mode (the default): builds into a private temporary folder and serves that folder, plus the
  application's public files, read-only over the channel; nothing is written to the web root;
- http mode (``pull --via-http``): publishes the session with ``serve``'s own
  :func:`~synco_core.serve.runner.publish_session` and keeps it until the client says bye.

Whatever ends the run (bye, the client going away, SIGTERM/SIGHUP, an error), the session is removed
before :func:`run_channel_server` returns; after a bye the client gets an acknowledgement only once that
is done.
"""

from __future__ import annotations

import _thread
import contextlib
import dataclasses
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, BinaryIO

from synco_core import __version__
from synco_core.errors import ConfigError, SyncoError
from synco_core.limits import limit_reached, limit_signal
from synco_core.pull import fallback
from synco_core.pull.frames import STREAM_CLOSE, STREAM_DATA, STREAM_OPEN, ChannelClosed
from synco_core.pull.server import ChannelServer
from synco_core.pull.spaces import FolderSpace, PublicSpace
from synco_core.pull.tempdir import remote_temp_root
from synco_core.redaction import error_line, one_line
from synco_core.scratch import ScratchFolder, make_scratch_folder, remove_dead_scratch
from synco_core.serve.server import AllowList
from synco_core.values import Framework

if TYPE_CHECKING:
    # Imported where used: on a host without zstandard or cryptography these modules load only once the
    # stand-ins of synco_core.pull.fallback are in place.
    from synco_core.serve.build import BuildOptions
    from synco_core.serve.folder import ArtifactTee, SessionFolder

log = logging.getLogger(__name__)

#: Engines whose dumps ``synco pull`` streams during the build, and the format they always write (the
#: client must know it before the dump ends, to load the dump as it arrives). SQLite is left out: its
#: artifact is a copy of the database file, made in one go before it is sent.
STREAMED_DUMP_FORMATS = {"mysql": "sql", "postgresql": "sql"}

#: A progress line for the client.
Progress = Callable[[str], None]


class _Stopped(BaseException):
    """Raised in the main thread when the client went away or a termination signal came."""


def capabilities() -> dict[str, bool]:
    """What this host can do: the client chooses encryption and compression from it."""
    return {
        "age": fallback.available("cryptography"),
        "zstd": fallback.available("zstandard"),
        "zlib": True,
        "http": True,
    }


def _check_engine(framework: Framework) -> None:
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


def _build_options(options: dict[str, Any], compress: bool) -> BuildOptions:
    """The build options a client's request asks for, checked (they come from the other host)."""
    from synco_core.serve.build import BuildOptions
    from synco_core.serve.folder import ZSTD_LEVEL, ZSTD_LEVELS

    only = options.get("only") or []
    if not isinstance(only, list) or not all(isinstance(name, str) for name in only):
        raise ConfigError("malformed build request: 'only' should be a list of names")
    level = options.get("zstd_level", ZSTD_LEVEL)
    if not isinstance(level, int) or level not in ZSTD_LEVELS:
        raise ConfigError(f"malformed build request: zstd_level {level!r}")
    return BuildOptions(all=bool(options.get("all")), only=tuple(only), compress=compress, zstd_level=level)


def _public_set_roots(framework: Framework) -> list[Path]:
    """The roots of the public file sets, links and all, as the index was written from them.

    Deploy tools (Capistrano, Deployer) keep uploads in ``shared/`` and link them into each release's web
    root, outside the project directory; the web server follows that link, and the index lists what is
    behind it, so the channel must serve it too (it refused every such file as "leads out of the
    application"). Only these roots are added: anything else behind a link stays refused.
    """
    from synco_core.detection import list_file_sets
    from synco_core.values import FileSetOptions

    return [file_set.root for file_set in list_file_sets(framework, FileSetOptions(all=True))
            if file_set.kind == "public" and file_set.root is not None and file_set.root.is_dir()]


class PullSource:
    """The channel server of one pull, its build handler, and what must be removed afterwards."""

    def __init__(self, reader: BinaryIO, writer: BinaryIO) -> None:
        self.server = ChannelServer(reader, writer, build=self.build, on_disconnect=self._on_disconnect,
                                    capabilities=dict(capabilities()), version=__version__,
                                    requirements=self.requirements)
        self.building = False
        #: channel mode: the private folder the session is built in.
        self._scratch: ScratchFolder | None = None
        #: http mode: the published session, removed when this stack is closed.
        self._published = contextlib.ExitStack()
        #: channel mode: the public files of the session's indexes (in the scratch folder).
        self._allow: AllowList | None = None

    def _on_disconnect(self) -> None:
        # Only a running build needs interrupting; the serving loop notices the end of input by itself.
        if self.building:
            _thread.interrupt_main()

    def build(self, options: dict[str, Any], progress: Progress) -> dict[str, Any]:
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

    def requirements(self, options: dict[str, Any]) -> dict[str, Any]:
        """What a dump of the project's database would need of the loading server, read before anything is built
        (the longest statement is known only once dumped): ``pull --install`` refuses a laptop that lacks it
        before the dump starts. Empty when the session would hold no database."""
        from synco_core.databases import DB_SET_NAME
        from synco_core.detection import detect
        from synco_core.engines.dispatch import inspect_with_engine
        from synco_core.wire import requirements_to_json

        framework = detect(Path.cwd(), options.get("framework") or None)
        database = framework.database
        only = options.get("only") or []
        if database is None or (isinstance(only, list) and only and DB_SET_NAME not in only):
            return {}
        _check_engine(framework)
        needs = inspect_with_engine(database).requirements
        return {"engine": database.engine, **({"requires": requirements_to_json(needs)} if needs else {})}

    def _build_private(self, framework: Framework, options: dict[str, Any], progress: Progress) -> dict[str, Any]:
        from synco_core.serve.build import BuildContext, build_session, includes_database
        from synco_core.serve.folder import SessionFolder
        from synco_core.serve.runner import new_session_id
        from synco_core.wire import session_folder_name

        can_encrypt = fallback.available("cryptography")
        encrypt = bool(options.get("encrypt", True)) and can_encrypt
        compress = fallback.available("zstandard")
        # The channel sends public files in batches of its own (get_batch): packs would only cost the
        # production host a second read of every small file.
        build_options = dataclasses.replace(_build_options(options, compress), packs=False)
        database = framework.database
        streaming = bool(options.get("stream_database") and encrypt and compress and database is not None
                         and database.engine in STREAMED_DUMP_FORMATS and includes_database(framework, build_options))
        temp_root = remote_temp_root()
        leftovers = remove_dead_scratch(temp_root)
        if leftovers:
            progress(f"removed {len(leftovers)} leftover(s) in {temp_root} of earlier runs that were killed")
        self._scratch = make_scratch_folder(temp_root)
        session = session_folder_name(new_session_id())
        path = self._scratch.path / session
        secret: str | None = None
        announce: dict[str, Any] = {}
        folder: SessionFolder
        if encrypt:
            from synco_core.serve.keys import SessionKey

            key = SessionKey.generate()
            secret = key.secret
            tee = None
            if streaming:
                assert database is not None
                from synco_core.rewriting import collect_source_settings

                # Announced with the stream: the client's install asks for its value rewriter before loading.
                settings = collect_source_settings(framework)
                build_options = dataclasses.replace(build_options, source_settings=settings)
                announce = {
                    "session": session, "key": secret, "encrypted": encrypt, "compression": "zstd",
                    "engine": database.engine, "format": STREAMED_DUMP_FORMATS[database.engine],
                    "sourceSettings": settings,
                }
                tee = self._dump_tee(announce)
            folder = SessionFolder(path, key.recipients, artifact_tee=tee)
        else:
            folder = fallback.plain_session_folder_class()(path)
        folder.create()
        progress(f"building the {framework.name} session on the remote host")
        if streaming:
            self._start_streamed_dump(framework, folder, build_options)
            # The rest of the session is built meanwhile, and the client fetches it while the dump goes on.
            build_options = dataclasses.replace(build_options, skip_database=True)
        # The public files the channel may send: exactly those of the indexes, as serve read them.
        listed = self._allow = AllowList(self._scratch.path)
        build_session(framework, folder, build_options, progress,
                      context=BuildContext(on_public_uri=listed.note, work_dir=self._scratch.path))
        self.server.spaces["session"] = FolderSpace(path)
        if framework.web_root is not None:
            self.server.spaces["public"] = PublicSpace(
                Path(framework.web_root), (Path(framework.project_dir), *_public_set_roots(framework)), listed)
        return {
            "session": session, "key": secret, "encrypted": encrypt, "framework": framework.name,
            "compression": "zstd" if compress else None,
            # The database is not in the meta: it comes as a stream (see ChannelClient.wait_stream).
            "streaming": streaming,
            # Without zstd here the artifacts are stored plain; the channel then compresses them with zlib.
            "channel_compression": None if compress else "zlib",
        }

    def _dump_tee(self, announce: dict[str, Any]) -> ArtifactTee:
        """The session folder's tee: the dump artifact's bytes go down the channel as they are written."""
        from synco_core.databases import DB_SET_NAME

        server = self.server

        def tee(name: str) -> Callable[[bytes], object] | None:
            if not name.startswith("dump."):
                return None
            server.send_json(STREAM_OPEN, {**announce, "set": DB_SET_NAME})

            def send(chunk: bytes) -> None:
                if server.disconnected.is_set():
                    raise ChannelClosed("the client went away during the dump")
                server.send(STREAM_DATA, chunk)

            return send

        return tee

    def _start_streamed_dump(self, framework: Framework, folder: SessionFolder, build_options: BuildOptions) -> None:
        """Dump in a thread, sending the artifact down the channel as it is written (``O``, ``T``..., ``C``).

        Only for an encrypted, zstd-compressed session: the client then needs nothing but the key to read
        the stream, the same way it reads a finished artifact. The thread is one of the server's
        background jobs, which ``wait_stream`` and ``bye`` wait for.
        """
        from synco_core.serve.build import dump_set

        server = self.server

        def run() -> None:
            try:
                file_set = dump_set(framework, folder, build_options, server.log)
                message: dict[str, Any] = {"fileSet": file_set.to_json()}
            except BaseException as exc:  # Reported to the client, which ends the pull with it.
                log.debug("the streamed dump failed", exc_info=True)
                message = {"error": limit_reached(exc) or one_line(str(exc)) or type(exc).__name__}
            with contextlib.suppress(OSError, ValueError):
                server.send_json(STREAM_CLOSE, message)

        thread = threading.Thread(target=run, name="synco-streamed-dump", daemon=True)
        server.background.append(thread)
        thread.start()

    def _publish(self, framework: Framework, options: dict[str, Any], progress: Progress) -> dict[str, Any]:
        """``--via-http``: publish in the web root as ``serve`` does, with serve's own lifecycle, until bye."""
        from synco_core.serve.runner import ServeOptions, publish_session

        if not fallback.available("cryptography"):
            raise ConfigError("--via-http needs cryptography on the remote host; pull without --via-http instead")
        listen = options.get("listen")
        serve_options = ServeOptions(
            listen=listen if isinstance(listen, str) and listen else None,
            ttl_minutes=float(options.get("ttl_minutes") or 60.0),
            build=_build_options(options, fallback.available("zstandard")),
        )

        def echo(line: str) -> None:
            # The session's removal comes after the build, when the client may be gone: only logged then.
            if self.building:
                progress(line)
            else:
                log.debug("%s", line)

        published = self._published.enter_context(
            publish_session(framework, serve_options, echo, on_step=progress, warn=progress))
        return {"session": published.session, "key": published.key.secret, "encrypted": True,
                "framework": framework.name, "base_url": published.base_url, "mode": "http"}

    def cleanup(self) -> None:
        # A dump still streaming writes into the folder removed below; it ends soon once the client is
        # gone (its frames cannot be sent), and a stuck one is not waited for.
        self.server.wait_background(timeout=30)
        self._published.close()
        if self._allow is not None:
            self._allow.close()
            self._allow = None
        if self._scratch is not None:
            self._scratch.remove()
            self._scratch = None


def run_channel_server(reader: BinaryIO, writer: BinaryIO) -> int:
    """The whole remote side over ``reader``/``writer``; returns the exit status."""
    source = PullSource(reader, writer)
    server = source.server

    stopping: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # Only the first: SIGXCPU comes again at each further second of CPU, and a second one raised while the
        # first is handled would cut short the clean-up below and leave the session folder in $TMPDIR.
        if stopping:
            return
        stopping.append(signum)
        raise _Stopped(signal.Signals(signum).name)

    # SIGXCPU: the soft end of a CPU time limit (ulimit -t) leaves time until its hard end to remove the
    # session folder, which an uncaught SIGXCPU left in $TMPDIR with the session in it.
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGXCPU):
        signal.signal(signum, on_signal)
    status = 0
    try:
        server.serve()
    except (_Stopped, KeyboardInterrupt) as exc:
        log.debug("stopped: %s", exc or "client went away")
        status = 1
        if str(exc) == signal.SIGXCPU.name:
            # Also said by the exit status (as a shell reports a command the signal ended): the limit may come
            # while a frame is half sent, and then the client reads the status, not this line.
            status = 128 + signal.SIGXCPU
            server.fatal(f"the remote side was stopped by {limit_signal(signal.SIGXCPU)}")
    except SyncoError as exc:
        server.fatal(one_line(str(exc)))
        status = 1
    except BrokenPipeError:
        log.debug("the client went away while data was being sent")
        status = 1
    except Exception as exc:
        log.debug("channel failure", exc_info=True)
        server.fatal(error_line(exc))
        status = 1
    finally:
        # Signals during cleanup must not cut it short.
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGXCPU):
            signal.signal(signum, signal.SIG_IGN)
        source.cleanup()
    if server.closed_by_client and status == 0:
        server.acknowledge_bye()
    with contextlib.suppress(OSError, ValueError):
        writer.flush()
    return status

