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
the caller then reports :attr:`GreetingWatch.message` instead of the read's own error.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from synco_core.bounded import CONNECT_TIMEOUT
from synco_core.pull.remote import Remote
from synco_core.pull.watchdog import Watchdog

DEFAULT_CONNECT_TIMEOUT = CONNECT_TIMEOUT.default
CONNECT_TIMEOUT_VARIABLE = CONNECT_TIMEOUT.name


def connect_timeout(option: float | None, env: Mapping[str, str] | None = None) -> float:
    """The limit in seconds (0: none): the option, else ``$SYNCO_CONNECT_TIMEOUT``, else the default."""
    if option is not None:
        return option
    return CONNECT_TIMEOUT.read(env)


def probe_command(remote: Remote) -> str:
    """The command a user can run by hand to see whether the channel itself works."""
    if remote.kind == "ssh":
        port = f"-p {remote.port} " if remote.port else ""
        who = f"{remote.user}@" if remote.user else ""
        return f"ssh {port}{shlex.quote(who + remote.host)} true"
    if remote.kind == "docker":
        return f"docker exec -i {remote.host} true"
    if remote.kind == "docker-compose":
        return f"docker compose exec -T {remote.host} true"
    if remote.kind == "command":
        return shlex.join([*remote.command, *(["true"] if remote.runs == "shell" else ["sh", "-c", "true"])])
    context = f"--context {remote.context} " if remote.context else ""
    container = f" -c {remote.container}" if remote.container else ""
    return f"kubectl exec -i {context}-n {remote.namespace or 'default'} {remote.host}{container} -- true"


class NoteGate(Protocol):
    """Where the note goes when ssh may have a question on the terminal (synco_core.pull.prompts.TerminalPrompts)."""

    def show_note(self, line: str, quiet_for: float, show: Callable[[str], None]) -> float:
        """Show ``line`` now (0) or say after how many seconds to try again (a question is on the terminal)."""
        ...


def _seconds(value: float) -> str:
    return f"{value:g}s"


class GreetingWatch(Watchdog):
    """A watchdog over the two phases above; ``on_expire`` kills the channel when the limit passes.

    Use as a context manager around the negotiation and the handshake. :meth:`command_running` ends the
    logging-in phase, :meth:`progress` restarts the clock (a launch message), :meth:`pause` and
    :meth:`resume` bracket the upload.
    """

    def __init__(self, seconds: float, remote: Remote, on_expire: Callable[[], None], *,
                 person_can_answer: bool, note: Callable[[str], None] | None = None,
                 terminal: NoteGate | None = None) -> None:
        super().__init__(on_expire, "pull-greeting-watch")
        self.seconds = seconds
        self.remote = remote
        self._person_can_answer = person_can_answer
        self._note = note
        self._terminal = terminal
        self._running = False
        self._paused = False
        self._noted = False
        self._deadline = time.monotonic() + seconds

    def __enter__(self) -> GreetingWatch:
        if self.seconds > 0:
            self._start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def command_running(self) -> None:
        """The remote command produced output: logging in is over, and the clock starts again."""
        with self._lock:
            if not self._running:
                self._running = True
                self._due_in(self.seconds)

    def progress(self) -> None:
        with self._lock:
            self._running = True
            self._due_in(self.seconds)

    def pause(self) -> None:
        with self._lock:
            self._paused = True

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            self._due_in(self.seconds)

    def _held(self) -> bool:
        return self._paused

    def _expired(self) -> str | None:
        if not self._running and self._person_can_answer:
            # Perhaps a prompt nobody here can see: say so once, and leave the decision to the person.
            if not self._noted and self._note is not None:
                line = (f"  still waiting for {self.remote.tool} to log in to {self.remote.describe()} "
                        f"after {_seconds(self.seconds)} (a prompt or a security key waiting for you"
                        f"{self._login_files()}? Ctrl-C stops)")
                if self._terminal is None:
                    self._note(line)
                else:
                    # Never into a question of ssh's on the terminal, nor right after one was answered.
                    later = self._terminal.show_note(line, self.seconds, self._note)
                    if later > 0:
                        self._due_in(later)
                        return None
            self._noted = True
            self._deadline = None
            return None
        return self._message()

    def _login_files(self) -> str:
        """The other cause of silence before the command runs, where a login shell runs it (ssh, a tool like it)."""
        if self.remote.kind == "ssh" or (self.remote.kind == "command" and self.remote.runs == "shell"):
            # bash reads ~/.bashrc for every command sshd runs: a `read`, a `cat` or an `exec zsh` there waits on
            # the channel's input, which only carries something once the command has spoken (ssh host true hangs
            # just the same, so the advice below finds it).
            return ", or a login file there (.bashrc, .profile) reads its input or starts another shell"
        return ""

    def _message(self) -> str:
        where = self.remote.describe()
        advice = f"raise --connect-timeout or {CONNECT_TIMEOUT_VARIABLE} if it is just slow"
        if not self._running:
            return (f"no answer from {where} within {_seconds(self.seconds)} ({self.remote.tool} is still connecting "
                    f"or logging in{self._login_files()}); check that `{probe_command(self.remote)}` returns without "
                    f"a prompt, or {advice}")
        return (f"the remote command on {where} started but did not greet within {_seconds(self.seconds)} (a login "
                f"script waiting on input, a hung python or synco there?); run the pull with --debug to see its "
                f"output, or {advice}")
