"""ssh's questions on synco's terminal during a pull, and synco's own lines kept out of them.

ssh runs in a session of its own (see :class:`synco_core.pull.channel.ChannelProcess`), without the terminal it asks
a key's passphrase or a new host key's trust on under rsync or git. With ``SSH_ASKPASS_REQUIRE=force`` (OpenSSH
8.4 and newer) it asks through ``SSH_ASKPASS`` instead: :mod:`synco_core.pull.askpass`, on the terminal of
synco's standard input. ``SSH_ASKPASS`` takes no arguments, so it names a two-line sh script in a private folder
(``synco-askpass-*``, a scratch folder of :mod:`synco_core.scratch`: locked by this process while it lives, removed
on leaving, and by a later run when ``kill -9`` left it). A user's own ``SSH_ASKPASS`` for a desktop session is
left to work as it does.

The folder's prompt lock (:data:`synco_core.pull.askpass.PROMPT_LOCK`) is held by the askpass program while a
question is on the terminal. :meth:`TerminalPrompts.show_note` prints a line of synco's only while no question is
there (and holds the lock meanwhile, so that none starts in the middle of it); leaving, :func:`terminal_prompts`
waits for a question that ssh's end interrupted to restore the terminal, and puts echo back itself if it was
killed before it could, so that the error after a Ctrl-C is on a line of its own and the shell gets its echo back.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shlex
import sys
import termios
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from synco_core.pull import askpass
from synco_core.scratch import ASKPASS_PREFIX, temporary_scratch

log = logging.getLogger(__name__)

#: How long leaving waits for an askpass program that is restoring the terminal (it got SIGTERM with ssh).
RESTORE_WAIT_SECONDS = 3.0
#: How soon a note waiting for a question to leave the terminal tries again, in seconds.
NOTE_RETRY_SECONDS = 1.0


class TerminalPrompts:
    """What ssh needs to ask on the terminal (:attr:`env`; empty: it cannot), and the gate synco's notes pass."""

    def __init__(self, env: Mapping[str, str], prompt_lock: Path | None = None) -> None:
        #: Variables added to ssh's environment.
        self.env = dict(env)
        self._prompt_lock = prompt_lock

    def show_note(self, line: str, quiet_for: float, show: Callable[[str], None]) -> float:
        """Show ``line`` unless a question is on the terminal, or left it less than ``quiet_for`` seconds ago (the
        person has just answered); 0 when shown, else the seconds after which to try again."""
        if self._prompt_lock is None:
            show(line)
            return 0.0
        try:
            fd = os.open(self._prompt_lock, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            show(line)
            return 0.0
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return NOTE_RETRY_SECONDS
            except OSError:
                # No flock here (a network TMPDIR): nobody can say, so the note goes out as it used to.
                show(line)
                return 0.0
            # Set when the folder was made, and by askpass whenever a question left the terminal.
            quiet = time.time() - os.fstat(fd).st_mtime
            if quiet < quiet_for:
                return max(quiet_for - quiet, NOTE_RETRY_SECONDS)
            show(line)
            return 0.0
        finally:
            os.close(fd)

    def wait_until_restored(self, seconds: float = RESTORE_WAIT_SECONDS) -> None:
        """Wait (at most ``seconds``) until no question is on the terminal."""
        if self._prompt_lock is None:
            return
        with contextlib.suppress(OSError):
            fd = os.open(self._prompt_lock, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                deadline = time.monotonic() + seconds
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        return
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            log.debug("a question of ssh's is still on the terminal after %gs", seconds)
                            return
                        time.sleep(0.02)
            finally:
                os.close(fd)


def _terminal() -> tuple[int, str] | None:
    """The descriptor and name of the terminal on standard input, or None."""
    try:
        fd = sys.stdin.fileno()
        return fd, os.ttyname(fd)
    except (OSError, ValueError, AttributeError):
        return None


def _echo_of(fd: int) -> bool | None:
    try:
        return bool(termios.tcgetattr(fd)[3] & termios.ECHO)
    except (OSError, termios.error):
        return None


def _put_echo_back(fd: int, echo: bool | None) -> None:
    """Set the terminal's echo to ``echo`` when an askpass program killed before it could left it otherwise."""
    if echo is None or _echo_of(fd) in (None, echo):
        return
    with contextlib.suppress(OSError, termios.error):
        # Only from the terminal's foreground: a background synco would be stopped (SIGTTOU) for setting it.
        if os.tcgetpgrp(fd) != os.getpgrp():
            return
        modes = termios.tcgetattr(fd)
        modes[3] = modes[3] | termios.ECHO if echo else modes[3] & ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, modes)


@contextlib.contextmanager
def terminal_prompts(env: Mapping[str, str] | None = None) -> Iterator[TerminalPrompts]:
    """The environment that lets ssh ask its questions on this process's terminal (see the module docstring)."""
    env = os.environ if env is None else env
    terminal = _terminal()
    if terminal is None:
        yield TerminalPrompts({})
        return
    fd, tty = terminal
    if env.get("SSH_ASKPASS") and (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        # Their own (a desktop dialog) asks; ssh only needs to be let ask (no BatchMode).
        yield TerminalPrompts({"SSH_ASKPASS": env["SSH_ASKPASS"]})
        return
    echo = _echo_of(fd)
    # The first scratch folder of this run: it also removes the ones killed runs left (of every kind).
    folder = temporary_scratch(prefix=ASKPASS_PREFIX)
    prompts: TerminalPrompts | None = None
    try:
        lock = folder.path / askpass.PROMPT_LOCK
        os.close(os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
        wrapper = folder.path / "askpass"
        # -I: the askpass module needs nothing but the standard library, and no PYTHONPATH of the user's.
        command = shlex.join([sys.executable, "-I", os.path.abspath(askpass.__file__)])
        with open(os.open(wrapper, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700), "w", encoding="utf-8") as file:
            file.write(f'#!/bin/sh\nexec {command} "$@"\n')
        prompts = TerminalPrompts({"SSH_ASKPASS": str(wrapper), "SSH_ASKPASS_REQUIRE": "force",
                                   askpass.TTY_VARIABLE: tty, askpass.DIR_VARIABLE: str(folder.path)}, lock)
        yield prompts
    finally:
        if prompts is not None:
            prompts.wait_until_restored()
        _put_echo_back(fd, echo)
        folder.remove()
