"""ssh's ``SSH_ASKPASS`` during ``synco pull``: ssh's questions asked on the terminal synco runs in.

ssh runs in a session of its own (so that Ctrl-C reaches synco, which then closes the channel politely), where it
has no terminal: it could not ask for a key's passphrase or whether to trust a host it does not know, as it does
under rsync or git. In a terminal, pull sets ``SSH_ASKPASS`` (through a two-line sh wrapper, since ssh gives that
program no arguments of its own) and ``SSH_ASKPASS_REQUIRE=force``, and names the terminal in
``SYNCO_ASKPASS_TTY``: ssh then runs this file with its question, and gets the answer on its standard output.

It is run by path with ``python -I``, so it imports nothing but the standard library (nothing of synco, nothing of
the environment's ``PYTHONPATH``). A passphrase is read without echo; the answer to a yes/no question is echoed,
as ssh does. An empty input (Ctrl-D) or no terminal is exit status 1, which ssh takes for "no answer".
"""

from __future__ import annotations

import os
import signal
import sys
import termios
from types import FrameType

#: The variable naming the terminal to ask on (the one synco's standard input is).
TTY_VARIABLE = "SYNCO_ASKPASS_TTY"
#: The longest answer read (a passphrase, a fingerprint): more is not an answer anyone types.
MAX_ANSWER = 8192


def _echoes(prompt: str) -> bool:
    """Whether the answer is shown while typed: ssh's yes/no questions (a new host key), not passphrases or PINs."""
    return prompt.rstrip().endswith(("(yes/no)?", "(yes/no/[fingerprint])?"))


def _read_line(fd: int) -> bytes | None:
    """One line from the terminal, without its newline; None at end of input before any newline."""
    answer = bytearray()
    while len(answer) < MAX_ANSWER:
        chunk = os.read(fd, 1)
        if not chunk:
            return None if not answer else bytes(answer)
        if chunk == b"\n":
            return bytes(answer)
        answer += chunk
    return bytes(answer)


def ask(prompt: str, tty: str) -> bytes | None:
    """Ask ``prompt`` on the terminal ``tty``; the answer, or None when there is none."""
    fd = os.open(tty, os.O_RDWR | os.O_NOCTTY)
    try:
        saved = termios.tcgetattr(fd)

        def restore(signum: int, _frame: FrameType | None) -> None:
            # synco ends ssh and this program with SIGTERM when the pull is interrupted meanwhile: the terminal
            # must not be left without echo.
            termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
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
        try:
            return _read_line(fd)
        finally:
            termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
            if not echo:
                os.write(fd, b"\n")
    finally:
        os.close(fd)


def main(argv: list[str]) -> int:
    prompt = argv[1] if len(argv) > 1 else ""
    tty = os.environ.get(TTY_VARIABLE)
    if not tty:
        return 1
    kind = os.environ.get("SSH_ASKPASS_PROMPT", "")
    try:
        if kind == "none":
            # A notice only ("Confirm user presence for key ..."): ssh ends this program when it is done.
            fd = os.open(tty, os.O_WRONLY | os.O_NOCTTY)
            try:
                os.write(fd, prompt.rstrip("\n").encode("utf-8", "replace") + b"\n")
            finally:
                os.close(fd)
            return 0
        if kind == "confirm":
            # A yes/no question answered by the exit status (an agent's key that asks before each use).
            answer = ask(prompt.rstrip() + " (yes/no)? ", tty)
            return 0 if answer is not None and answer.strip().lower() in (b"yes", b"y") else 1
        answer = ask(prompt, tty)
    except OSError:
        return 1
    if answer is None:
        return 1
    sys.stdout.buffer.write(answer + b"\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
