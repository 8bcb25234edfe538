"""How long ``synco pull`` waits for the remote side to greet, and the one line it says when it never does.

A channel that connects but never speaks (a login script waiting on input, a hung ``kubectl exec``, an ssh
that stalls after authentication) used to hang pull forever. Two phases must be told apart, because what
may legitimately take long differs:

- **logging in**, from starting ssh/docker/kubectl until the first byte of the remote command's output (the
  launch script's first line is ``launch started``). ssh's prompts (a password or passphrase through
  ``SSH_ASKPASS``, a security key waiting for a touch, an agent asking for confirmation) happen on the
  terminal or the desktop, never on the channel, so the channel is silent while a person answers. With a
  terminal, pull therefore only says once that it is still waiting, and goes on waiting (Ctrl-C stops);
  without one (cron, CI) nobody can answer, and the limit applies. ssh also gets ``ConnectTimeout`` for the
  network part, unless the user's options set their own.
- **starting**, from the remote command's first output until the channel's hello: nothing there waits for a
  person, so silence longer than the limit stops the pull. Sending the uploaded zipapp does not count (the
  remote side is reading, not expected to speak): the clock restarts once it is sent.

The limit is ``--connect-timeout`` (``SYNCO_CONNECT_TIMEOUT``), default :data:`DEFAULT_CONNECT_TIMEOUT`
seconds, ``0`` for none. When it runs out the channel process group is killed, which ends the blocked read;
the caller then reports :attr:`GreetingWatch.expired_message` instead of the read's own error.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping

from synco_core.errors import ConfigError
from synco_core.pull.remote import Remote

DEFAULT_CONNECT_TIMEOUT = 60.0
CONNECT_TIMEOUT_VARIABLE = "SYNCO_CONNECT_TIMEOUT"


def connect_timeout(option: float | None, env: Mapping[str, str] | None = None) -> float:
    """The limit in seconds (0: none): the option, else ``$SYNCO_CONNECT_TIMEOUT``, else the default."""
    if option is not None:
        return option
    env = os.environ if env is None else env
    raw = env.get(CONNECT_TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_CONNECT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < math.inf:
        raise ConfigError(f"{CONNECT_TIMEOUT_VARIABLE} should be a number of seconds (0: no limit), not {raw!r}")
    return seconds


def probe_command(remote: Remote) -> str:
    """The command a user can run by hand to see whether the channel itself works."""
    if remote.kind == "ssh":
        port = f"-p {remote.port} " if remote.port else ""
        who = f"{remote.user}@" if remote.user else ""
        return f"ssh {port}{who}{remote.host} true"
    if remote.kind == "docker":
        return f"docker exec -i {remote.host} true"
    if remote.kind == "docker-compose":
        return f"docker compose exec -T {remote.host} true"
    context = f"--context {remote.context} " if remote.context else ""
    container = f" -c {remote.container}" if remote.container else ""
    return f"kubectl exec -i {context}-n {remote.namespace or 'default'} {remote.host}{container} -- true"


def _seconds(value: float) -> str:
    return f"{value:g}s"


class GreetingWatch:
    """A watchdog thread over the two phases above; ``on_expire`` kills the channel when the limit passes.

    Use as a context manager around the negotiation and the handshake. :meth:`command_running` ends the
    logging-in phase, :meth:`progress` restarts the clock (a launch message), :meth:`pause` and
    :meth:`resume` bracket the upload.
    """

    def __init__(self, seconds: float, remote: Remote, on_expire: Callable[[], None], *,
                 person_can_answer: bool, note: Callable[[str], None] | None = None) -> None:
        self.seconds = seconds
        self.remote = remote
        self._on_expire = on_expire
        self._person_can_answer = person_can_answer
        self._note = note
        self._lock = threading.Condition()
        self._running = False
        self._paused = False
        self._finished = False
        #: None once the login phase was only pointed out (no deadline until the command runs).
        self._deadline: float | None = time.monotonic() + seconds
        #: Set when the limit passed: the one line for the user (the read that failed says less).
        self.expired_message: str | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> GreetingWatch:
        if self.seconds > 0:
            self._thread = threading.Thread(target=self._watch, name="pull-greeting-watch", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            self._finished = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def command_running(self) -> None:
        """The remote command produced output: logging in is over, and the clock starts again."""
        with self._lock:
            if not self._running:
                self._running = True
                self._deadline = time.monotonic() + self.seconds
                self._lock.notify_all()

    def progress(self) -> None:
        with self._lock:
            self._running = True
            self._deadline = time.monotonic() + self.seconds
            self._lock.notify_all()

    def pause(self) -> None:
        with self._lock:
            self._paused = True

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            self._deadline = time.monotonic() + self.seconds
            self._lock.notify_all()

    def _watch(self) -> None:
        noted = False
        with self._lock:
            while not self._finished:
                if self._paused or self._deadline is None:
                    self._lock.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._lock.wait(timeout=left)
                    continue
                if not self._running and self._person_can_answer:
                    # Perhaps a prompt nobody here can see: say so once, and leave the decision to the person.
                    if not noted and self._note is not None:
                        self._note(f"  still waiting for {self.remote.kind} to log in to {self.remote.describe()} "
                                   f"after {_seconds(self.seconds)} (a prompt or a security key waiting for you? "
                                   "Ctrl-C stops)")
                    noted = True
                    self._deadline = None
                    continue
                self.expired_message = self._message()
                break
        if self.expired_message is not None:
            self._on_expire()

    def _message(self) -> str:
        where = self.remote.describe()
        advice = f"raise --connect-timeout or {CONNECT_TIMEOUT_VARIABLE} if it is just slow"
        if not self._running:
            return (f"no answer from {where} within {_seconds(self.seconds)} ({self.remote.kind} is still connecting "
                    f"or logging in); check that `{probe_command(self.remote)}` returns without a prompt, or "
                    f"{advice}")
        return (f"the remote command on {where} started but did not greet within {_seconds(self.seconds)} (a login "
                f"script waiting on input, a hung python or synco there?); run the pull with --debug to see its "
                f"output, or {advice}")
