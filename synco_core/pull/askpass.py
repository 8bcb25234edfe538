"""ssh's ``SSH_ASKPASS`` during ``synco pull``: ssh's questions asked on the terminal synco runs in.

ssh runs in a session of its own (so that Ctrl-C reaches synco, which then closes the channel politely), where it
has no terminal: it could not ask for a key's passphrase or whether to trust a host it does not know, as it does
under rsync or git. In a terminal, pull sets ``SSH_ASKPASS`` (through a two-line sh wrapper, since ssh gives that
program no arguments of its own) and ``SSH_ASKPASS_REQUIRE=force``, and names the terminal in
``SYNCO_ASKPASS_TTY``: ssh then runs this file with its question, and gets the answer on its standard output.

It is run by path with ``python -I``, so it imports nothing but the standard library (nothing of synco, nothing of
the environment's ``PYTHONPATH``). A passphrase is read without echo; the answer to a yes/no question is echoed,
as ssh does. An empty input (Ctrl-D) or no terminal is exit status 1, which ssh takes for "no answer".

The wrapper's folder (``SYNCO_ASKPASS_DIR``, :mod:`synco_core.pull.prompts`) holds two locks. Its owner's, held by
the synco that made it for as long as it lives: when it can be taken, that synco is gone (``kill -9``), and a
question still on the terminal would read what the user types at their shell next, without echo; so it is
checked before asking and every second while waiting, and the question is then withdrawn. And
:data:`PROMPT_LOCK`, held while a question is on the terminal (its mtime set when it leaves), so that synco
prints none of its own lines into the middle of one and waits for the terminal to be restored before its last.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import sys
import termios
from collections.abc import Iterator
from types import FrameType

#: The variable naming the terminal to ask on (the one synco's standard input is).
TTY_VARIABLE = "SYNCO_ASKPASS_TTY"
#: The variable naming the wrapper's folder, with the locks below.
DIR_VARIABLE = "SYNCO_ASKPASS_DIR"
#: In that folder: held while a question is on the terminal.
PROMPT_LOCK = "prompt.lock"
#: In that folder: held by the synco that made it while it lives (synco_core.scratch.OWNER_LOCK).
OWNER_LOCK = ".synco-owner.lock"
#: How often the owner is looked for while a question waits for its answer, in seconds.
OWNER_CHECK_SECONDS = 1.0
#: The longest answer read (a passphrase, a fingerprint): more is not an answer anyone types.
MAX_ANSWER = 8192


def _echoes(prompt: str) -> bool:
    """Whether the answer is shown while typed: ssh's yes/no questions (a new host key), not passphrases or PINs."""
    return prompt.rstrip().endswith(("(yes/no)?", "(yes/no/[fingerprint])?"))


def owner_gone(folder: str | None) -> bool:
    """Whether the synco that made ``folder`` has ended (its owner lock can be taken); False when unknown."""
    if not folder:
        return False
    try:
        fd = os.open(os.path.join(folder, OWNER_LOCK), os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        # Removed: its owner removes it on leaving, so it has left (or is leaving) too.
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


@contextlib.contextmanager
def _on_the_terminal(folder: str | None) -> Iterator[None]:
    """Hold the prompt lock for the block (another question, or a note of synco's, waits); mark when it ended."""
    if not folder:
        yield
        return
    try:
        fd = os.open(os.path.join(folder, PROMPT_LOCK), os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.utime(fd)
        os.close(fd)


class _OwnerGone(Exception):
    """The synco that lent the terminal has ended: the question is withdrawn."""


def _read_line(fd: int, folder: str | None = None) -> bytes | None:
    """One line from the terminal, without its newline; None at end of input before any newline."""
    answer = bytearray()
    while len(answer) < MAX_ANSWER:
        if folder and not select.select([fd], [], [], OWNER_CHECK_SECONDS)[0]:
            if owner_gone(folder):
                raise _OwnerGone
            continue
        chunk = os.read(fd, 1)
        if not chunk:
            return None if not answer else bytes(answer)
        if chunk == b"\n":
            return bytes(answer)
        answer += chunk
    return bytes(answer)


def ask(prompt: str, tty: str, folder: str | None = None) -> bytes | None:
    """Ask ``prompt`` on the terminal ``tty``; the answer, or None when there is none (or nobody to give it to)."""
    with _on_the_terminal(folder):
        if owner_gone(folder):
            return None
        return _ask(prompt, tty, folder)


def _ask(prompt: str, tty: str, folder: str | None) -> bytes | None:
    fd = os.open(tty, os.O_RDWR | os.O_NOCTTY)
    try:
        saved = termios.tcgetattr(fd)

        def restore(signum: int, _frame: FrameType | None) -> None:
            # synco ends ssh and this program with SIGTERM when the pull is interrupted meanwhile (Ctrl-C): the
            # terminal must not be left without echo, and what synco says next starts on a line of its own.
            termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
            os.write(fd, b"\n")
            if folder:
                # The prompt lock goes with this process; its mtime says when the question left the terminal.
                with contextlib.suppress(OSError):
                    os.utime(os.path.join(folder, PROMPT_LOCK))
            os._exit(128 + signum)

        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(signum, restore)
        echo = _echoes(prompt)
        if not echo:
            # Before the prompt is shown, as readpassphrase does: an answer typed as soon as the prompt appears
            # was echoed (the passphrase on the screen), then thrown away by the flush, leaving ssh waiting.
            quiet = termios.tcgetattr(fd)
            quiet[3] &= ~termios.ECHO
            termios.tcsetattr(fd, termios.TCSAFLUSH, quiet)
        os.write(fd, prompt.encode("utf-8", "replace"))
        withdrawn = False
        try:
            return _read_line(fd, folder)
        except _OwnerGone:
            withdrawn = True
            return None
        finally:
            termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
            if not echo or withdrawn:
                os.write(fd, b"\n")
    finally:
        os.close(fd)


def main(argv: list[str]) -> int:
    prompt = argv[1] if len(argv) > 1 else ""
    tty = os.environ.get(TTY_VARIABLE)
    if not tty:
        return 1
    folder = os.environ.get(DIR_VARIABLE) or None
    kind = os.environ.get("SSH_ASKPASS_PROMPT", "")
    try:
        if kind == "none":
            # A notice only ("Confirm user presence for key ..."): ssh ends this program when it is done.
            with _on_the_terminal(folder):
                fd = os.open(tty, os.O_WRONLY | os.O_NOCTTY)
                try:
                    os.write(fd, prompt.rstrip("\n").encode("utf-8", "replace") + b"\n")
                finally:
                    os.close(fd)
            return 0
        if kind == "confirm":
            # A yes/no question answered by the exit status (an agent's key that asks before each use).
            answer = ask(prompt.rstrip() + " (yes/no)? ", tty, folder)
            return 0 if answer is not None and answer.strip().lower() in (b"yes", b"y") else 1
        answer = ask(prompt, tty, folder)
    except OSError:
        return 1
    if answer is None:
        return 1
    sys.stdout.buffer.write(answer + b"\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
