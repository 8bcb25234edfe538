"""The whole of ``synco pull``: start the remote side, build, receive, say bye, clean up.

The receive half is receive's own :func:`~synco_core.receive.session.receive_session`, fed by a
:class:`~synco_core.pull.transport.ChannelTransport` (default) or, with ``--via-http``, by receive's
:class:`~synco_core.receive.http_transport.HttpTransport` pointed at the session the remote side published.
So verification, resume (``*.part`` files, skipping what is already there) and progress output are the
same as for ``synco receive``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from synco_core.errors import ConfigError, TransferError
from synco_core.names import safe_name
from synco_core.pull.bootstrap import (
    SSH_UNNAMED_SIGNAL,
    EndedBeforeStart,
    Launch,
    explain_exit,
    launch_script,
    negotiate,
    remote_signal,
    remote_synco,
    remove_upload,
)
from synco_core.pull.channel import ChannelProcess, channel_argv
from synco_core.pull.client import ChannelClient
from synco_core.pull.dumpstream import DumpStream
from synco_core.pull.frames import ChannelClosed, FramingError, ProtocolMismatch
from synco_core.pull.greeting import GreetingWatch, connect_timeout
from synco_core.pull.prompts import TerminalPrompts, terminal_prompts
from synco_core.pull.remote import Remote
from synco_core.pull.stall import StallGuard
from synco_core.pull.transport import ChannelTransport
from synco_core.redaction import register_secret

log = logging.getLogger(__name__)

#: The zstd level pull asks for (serve's default is 3). The dump streams while it is made, so the
#: compressor is on its critical path: on the pull benchmark's 57 MB of SQL (benchmarks/bench_pull.py)
#: level 3 took 0.37 s of CPU and level 1 0.14 s, for an output 6 % smaller on that table's hex text; on
#: the Chinook SQL dumps level 1 is 1 % larger. Level 3 compresses at about the rate the MySQL dumper
#: produces; level 1 at more than twice that.
PULL_ZSTD_LEVEL = 1


@dataclass
class PullOptions:
    """The options of ``synco pull`` that shape the transfer."""

    target: Path = Path("dump")
    only: tuple[str, ...] = ()
    all: bool = False
    framework: str | None = None
    via_http: bool = False
    base_url: str | None = None
    #: ``--via-http``: the remote side also serves the web root on this HOST:PORT (serve's ``--listen``).
    remote_listen: str | None = None
    jobs: int = 8
    delete: bool = False
    #: ``--delete-excluded``: remove the local files serve's exclude rules match too (kept otherwise).
    delete_excluded: bool = False
    #: ``--other-project``: receive into a target that holds another project's content.
    other_project: bool = False
    #: ``--max-delete N`` (:attr:`synco_core.receive.session.ReceiveOptions.max_delete`).
    max_delete: int | None = None
    debug: bool = False
    #: Run once the channel is starting, before anything is sent (``--install`` detects and checks the local
    #: project there, while ssh connects); an error it raises ends the pull before anything is transferred.
    prepare: Callable[[], None] | None = None
    #: A prepared zipapp (tests, benchmarks); None builds (or reuses) the cached one when needed.
    zipapp: Path | None = None
    #: Receive's ``on_set_arrived`` (``--install`` loads the database while the files arrive).
    on_set_arrived: Callable[[Path, dict[str, Any]], None] | None = None
    #: Told the session's meta once receive has accepted it, before anything is received (``--install``).
    on_accepted: Callable[[Any], None] | None = None
    #: ``--install``: given what the remote database's dump would need (the requirements answer), before the
    #: remote side builds anything; raises to refuse the pull.
    check_requirements: Callable[[dict[str, Any]], None] | None = None
    #: Told when the dump starts streaming in during the build (``--install --yes`` loads it from there).
    on_dump_stream: Callable[[DumpStream], None] | None = None
    #: The zstd level of the remote side's artifacts (see :data:`PULL_ZSTD_LEVEL`).
    zstd_level: int = PULL_ZSTD_LEVEL
    #: Seconds the remote side may stay silent before its greeting (``--connect-timeout``); None reads
    #: ``SYNCO_CONNECT_TIMEOUT``, 0 is no limit (see synco_core.pull.greeting).
    connect_timeout: float | None = None
    #: Whether a person may be answering a login prompt meanwhile (synco runs in a terminal): the login
    #: phase then gets a note instead of a limit.
    person_can_answer: bool = False


@dataclass
class PullResult:
    """What a pull did: receive's summary plus how the remote side was started."""

    summary: Any
    how: str
    encrypted: bool
    remote_version: str


def _failure(channel: ChannelProcess, remote: Remote, exc: BaseException, *, started: bool) -> TransferError:
    """The best one-line reason when the channel ended: the remote's own error line beats ours.

    ``started``: the remote command had spoken, so the channel's tool had connected and logged in.
    """
    code = channel.close(grace=5)
    tail = channel.stderr_tail()
    # The launch script never said its first line, on either stream: what came instead, if anything.
    instead = exc.output if isinstance(exc, EndedBeforeStart) and not channel.command_started else None
    if tail or code or (instead is not None and remote.kind == "ssh"):
        return TransferError(explain_exit(code, tail, remote, started=started,
                                          host_key_changed=channel.host_key_changed, instead=instead))
    return TransferError(f"{remote.describe()}: {exc}")


def _broken(channel: ChannelProcess, remote: Remote, exc: BaseException) -> TransferError:
    """One line for a channel that broke after the transfer started: the cause, and that a rerun resumes.

    Unlike :func:`_failure`, an ssh status 255 here is not "cannot reach": the connection was up.
    """
    code = channel.close(grace=5)
    tail = channel.stderr_tail().removeprefix("Error: ")
    killed = remote_signal(code)
    if code < 0:
        cause = f"the local {remote.tool} process got signal {-code}"
    elif killed is not None:
        cause = f"the remote side was killed: {killed}"
    elif tail:
        cause = tail
    elif remote.kind == "ssh" and code == 255:
        cause = f"the remote side was {SSH_UNNAMED_SIGNAL}"
    elif code:
        cause = f"{remote.tool} exited with status {code}"
    else:
        cause = str(exc)
    return TransferError(f"the connection to {remote.describe()} broke during the transfer ({cause}); "
                         "what arrived is kept: run the same command again to continue")


class RemoteSyncoUnusable(TransferError):
    """The synco found on the remote host (not one the user named) ended before its channel greeted."""


def _found_synco_failed(channel: ChannelProcess, launch: Launch, remote: Remote, env: Mapping[str, str]) -> bool:
    """Whether a channel that ended before greeting was a remote synco that pull found itself, and that failed.

    Only after the launch script chose that synco (``launch.how``), only with an exit status of the remote
    command (not the local process killed, not ssh's own 255), and never for a synco the user configured.
    """
    if launch.uploaded or not launch.how or remote_synco(remote, env) is not None:
        return False
    code = channel.close(grace=5)
    return code > 0 and not (remote.kind == "ssh" and code == 255)


def pull(remote: Remote, options: PullOptions, echo: Callable[[str], None],
         reporter: Any = None, env: Mapping[str, str] | None = None) -> PullResult:
    """Run the pull; returns receive's summary. Remote files and processes are gone when this returns."""
    env = os.environ if env is None else env
    from synco_core.receive.session import check_target_not_shared

    # Before the channel opens: the dump stream is written into the target as soon as the server sends it.
    check_target_not_shared(options.target)
    try:
        return _pull_once(remote, options, echo, reporter, env, force_upload=False)
    except ProtocolMismatch as exc:
        # An older or newer synco on the remote host: ours, uploaded, speaks our protocol.
        echo(f"  the remote synco does not fit this one ({exc}); uploading this synco instead")
        return _pull_once(remote, options, echo, reporter, env, force_upload=True)
    except RemoteSyncoUnusable as exc:
        # A synco that cannot start its channel (an interpreter gone with an upgrade, an install too old to
        # have the channel command, a half-removed one): as with another protocol, ours is uploaded.
        echo(f"  {exc}; uploading this synco instead")
        return _pull_once(remote, options, echo, reporter, env, force_upload=True)


def _pull_once(remote: Remote, options: PullOptions, echo: Callable[[str], None], reporter: Any,
               env: Mapping[str, str], force_upload: bool) -> PullResult:
    with contextlib.ExitStack() as prompts:
        # In a terminal, ssh asks there for a passphrase or whether to trust a new host key, as under rsync.
        asking = (prompts.enter_context(terminal_prompts(env))
                  if remote.kind == "ssh" and options.person_can_answer else TerminalPrompts({}))
        return _pull_through(remote, options, echo, reporter, env, force_upload, asking)


def _pull_through(remote: Remote, options: PullOptions, echo: Callable[[str], None], reporter: Any,
                  env: Mapping[str, str], force_upload: bool, asking: TerminalPrompts) -> PullResult:
    launch = launch_script(remote, env, debug=options.debug, force_upload=force_upload)
    limit = connect_timeout(options.connect_timeout, env)
    # The launch script changes to the application directory itself (and reports when it is missing).
    argv = channel_argv(remote, launch.script, env, connect_timeout=limit, batch=not asking.env)
    channel = ChannelProcess(argv, label=remote.tool, relay_warnings=True, env=asking.env, marks_start=True)
    finished = False
    stream: DumpStream | None = None
    guard: StallGuard | None = None
    #: The streamed dump's progress bar, open from the start of the build to the end of the stream.
    bars = contextlib.ExitStack()
    prepared = options.zipapp
    zipapp: Callable[[bool], Path] | None = None
    if prepared is not None:
        zipapp = lambda _bytecode: prepared  # noqa: E731 - a one-line provider reads better than a nested def here
    try:
        with channel:
            # The connection is being set up from here on: what is left to do locally happens meanwhile.
            if options.prepare is not None and not force_upload:
                options.prepare()
            if not force_upload:
                echo(f"Starting synco on {remote.describe()}")
            from synco_core import age
            from synco_core.databases import DB_SET_NAME
            from synco_core.receive.http_transport import HttpTransport
            from synco_core.receive.session import ReceiveOptions, receive_session

            # Buffered: frame headers are 5 bytes, and the launch messages are read byte by byte.
            reader = io.BufferedReader(cast(io.RawIOBase, channel.stdout), 256 << 10)
            client = ChannelClient(reader, channel.stdin)
            watch = GreetingWatch(limit, remote, channel.kill, person_can_answer=options.person_can_answer, note=echo,
                                  terminal=asking)
            try:
                with watch:
                    negotiate(reader, channel.stdin, remote, launch, env, zipapp, watch)
                    hello = client.handshake(skip_magic=False)
            except (ChannelClosed, FramingError) as exc:
                if watch.message is not None:
                    channel.close(grace=1)
                    raise TransferError(watch.message) from None
                if not isinstance(exc, ChannelClosed):
                    raise
                failure = _failure(channel, remote, exc, started=launch.started)
                if _found_synco_failed(channel, launch, remote, env):
                    found = launch.how.replace("synco installed at ", "the remote synco at ", 1)
                    raise RemoteSyncoUnusable(f"{found} did not start ({failure})") from None
                raise failure from None
            echo(f"  remote side: {launch.how or 'synco'} (synco {hello.version}, python {hello.python})")
            if options.check_requirements is not None and (not options.only or DB_SET_NAME in options.only):
                # Before the build: a laptop lacking what the dump needs is refused before it is dumped or sent.
                needs = client.requirements({"framework": options.framework, "only": list(options.only)})
                if needs is not None:
                    options.check_requirements(needs)
            guard = client.stall_guard = StallGuard(channel.kill)
            build_options: dict[str, Any] = {
                "only": list(options.only), "all": options.all, "framework": options.framework,
                "mode": "http" if options.via_http else "channel", "listen": options.remote_listen,
                "zstd_level": options.zstd_level,
            }
            if (not options.via_http and client.streams_database
                    and (not options.only or DB_SET_NAME in options.only)):
                build_options["stream_database"] = True
                # Not used before receive has read and accepted the session's meta (see DumpStream).
                stream = DumpStream(options.target, on_open=options.on_dump_stream, accepted=False)
                if reporter is not None:
                    stream.on_bytes = bars.enter_context(reporter.bytes_task(f"{DB_SET_NAME} (as it is dumped)", None))
            try:
                ready = client.build(build_options, on_log=lambda message: echo(f"  {message}"), on_stream=stream)
            except ChannelClosed as exc:
                raise _failure(channel, remote, exc, started=True) from None
            session = ready.get("session")
            if not isinstance(session, str):
                raise FramingError("malformed S frame: 'session' should be a session id")
            # It becomes the prefix of every path asked for, and is shown: one plain name.
            safe_name(session, "session id")
            key = ready.get("key")
            encrypted = bool(ready.get("encrypted"))
            transport: Any
            if options.via_http:
                base_url = options.base_url or remote.base_url or ready.get("base_url")
                if not base_url:
                    raise ConfigError("--via-http needs the application's URL: --base-url, base_url: in .synco.yml, "
                                      "or --remote-listen")
                transport = HttpTransport(str(base_url), max_connections=options.jobs)
            else:
                rewrap = None
                if not encrypted:
                    # Plaintext came through the encrypted channel; see ChannelTransport for why it is re-wrapped.
                    identity = age.generate_identity()
                    key = identity.to_string()
                    rewrap = [identity.recipient()]
                transport = ChannelTransport(
                    client, session, description=remote.describe(),
                    channel_compression=ready.get("channel_compression"), rewrap=rewrap,
                )
            if not isinstance(key, str) or not key:
                raise TransferError("the remote side sent no session key")
            register_secret(key)
            receive_options = ReceiveOptions(target=options.target, all=True, jobs=options.jobs,
                                             delete=options.delete, timeout=60.0, poll_interval=0.2,
                                             on_set_arrived=options.on_set_arrived, resumable=False,
                                             other_project=options.other_project,
                                             max_delete=options.max_delete,
                                             delete_excluded=options.delete_excluded,
                                             on_accepted=options.on_accepted)
            if stream is not None and ready.get("streaming"):
                # The dump is not in the meta: it is still streaming in while receive fetches the files.
                streamed = stream

                def late_sets() -> list[Any]:
                    client.wait_stream()
                    bars.close()
                    return streamed.late_sets()

                receive_options.prefetched = stream.take
                receive_options.late_sets = late_sets
                told = options.on_accepted

                def accepted(meta: Any) -> None:
                    # The install first: it may hold the early load back before the stream is let in.
                    if told is not None:
                        told(meta)
                    streamed.accept()

                receive_options.on_accepted = accepted
            try:
                summary = receive_session(transport, session, key, receive_options, reporter)
            finally:
                transport.close()
            try:
                client.bye()
            except (ChannelClosed, FramingError) as exc:
                # The channel broke (the connection dropped, ssh or the remote side was killed). Receive kept
                # what arrived for the next run; the user needs the cause in one line, not one "channel closed
                # in the middle of a frame" per file set on stdout and nothing on stderr.
                log.debug("the channel broke during the transfer: %s", exc)
                if guard.message is not None:
                    # Killed here because it stalled: its exit status says nothing.
                    channel.close(grace=1)
                    raise TransferError(guard.message) from None
                raise _broken(channel, remote, exc) from None
            code = channel.close()
            finished = code == 0
            if code and summary.ok:
                raise TransferError(explain_exit(code, channel.stderr_tail(), remote, started=True))
            return PullResult(summary=summary, how=launch.how, encrypted=encrypted, remote_version=hello.version)
    finally:
        if guard is not None:
            guard.close()
        bars.close()
        if stream is not None:
            stream.discard()
        if launch.uploaded and not finished:
            # The remote loader removes the archive itself unless it was killed outright; make sure.
            with contextlib.suppress(Exception):
                remove_upload(remote, launch, env)
