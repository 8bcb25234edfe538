"""A program run in a terminal of its own, as a shell runs it: the pseudo-terminal is its controlling terminal.

``pty.openpty`` plus ``Popen(stdin=side, ...)`` gives a program a terminal to read and write, but not a
controlling one: Ctrl-C typed there (``\\x03``) was just a byte, never SIGINT. Here the child starts a session
(``setsid``) and takes the terminal as its controlling one (``TIOCSCTTY``), so its process group is the
terminal's foreground group, as a command a shell started: ^C sends it SIGINT, and the terminal's modes (echo)
are the ones a shell would find afterwards.

:func:`marked_processes` finds what a run left behind: every process of this user whose environment holds the
marker variable that :class:`Terminal` puts in the child's (ssh, its ``SSH_ASKPASS`` program and a jump host's
ssh all inherit it).
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import termios
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

#: The variable that marks every process started for one :class:`Terminal`.
MARK_VARIABLE = "SYNCO_TEST_TERMINAL_MARK"


def _take_terminal() -> None:
    # Run in the child after setsid (start_new_session): the terminal on its stdin becomes its controlling one.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """``argv`` running with a new pseudo-terminal as its controlling terminal, stdin, stdout and stderr."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> None:
        self.mark = uuid.uuid4().hex
        self.main, side = pty.openpty()
        try:
            self.process = subprocess.Popen(
                list(argv), stdin=side, stdout=side, stderr=side, cwd=cwd, env={**env, MARK_VARIABLE: self.mark},
                start_new_session=True, preexec_fn=_take_terminal)
        finally:
            os.close(side)
        self.seen = b""
        self._eof = False

    def _read(self, wait: float) -> None:
        if self._eof:
            time.sleep(wait)
            return
        if select.select([self.main], [], [], wait)[0]:
            try:
                data = os.read(self.main, 65536)
            except OSError:
                # EIO: no process holds the terminal's other side any more.
                data = b""
            if data:
                self.seen += data
            else:
                self._eof = True

    @property
    def text(self) -> str:
        return self.seen.decode("utf-8", "replace")

    def wait_for(self, text: str, timeout: float = 60) -> None:
        """Read until ``text`` has been shown (AssertionError with what was shown, after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen:
            if time.monotonic() > deadline or (self._eof and self.process.poll() is not None):
                raise AssertionError(f"{text!r} was not shown; the terminal shows:\n{self.text}")
            self._read(0.1)

    def read_for(self, seconds: float) -> None:
        """Keep reading what is shown for ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._read(min(0.1, max(deadline - time.monotonic(), 0)))

    def type(self, text: str) -> None:
        os.write(self.main, text.encode())

    def interrupt(self) -> None:
        """Ctrl-C, as typed: the terminal (not this test) sends SIGINT to its foreground process group."""
        os.write(self.main, b"\x03")

    def finish(self, timeout: float = 60) -> int:
        """Read until the program has ended; its exit status (killed and AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None or not self._eof:
            if time.monotonic() > deadline:
                if self.process.poll() is None:
                    self.process.kill()
                    self.process.wait()
                    raise AssertionError(f"still running after {timeout:g}s; the terminal shows:\n{self.text}")
                break
            self._read(0.1)
        return self.process.wait()

    def echoes(self) -> bool:
        """Whether the terminal echoes what is typed (as the shell finds it once the program is done)."""
        return bool(termios.tcgetattr(self.main)[3] & termios.ECHO)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.main)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def marked_processes(mark: str, wait: float = 5) -> list[str]:
    """The command lines of the processes still carrying ``mark`` after up to ``wait`` seconds ([] when none)."""
    needle = f"{MARK_VARIABLE}={mark}".encode()
    deadline = time.monotonic() + wait
    while True:
        found = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if needle not in Path(entry.path, "environ").read_bytes().split(b"\0"):
                    continue
                command = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            found.append(f"{entry.name}: {command.strip()}")
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
