"""A checkbox list in the terminal (arrow keys or j/k, space, 'a' for all, Enter), without a new dependency.

:func:`checkbox` puts the terminal into non-canonical mode with :mod:`termios`, reads single key presses
from the terminal's file descriptor and redraws the list in place with ANSI escapes on stderr. Where keys
cannot be read one at a time (no :mod:`termios`, as on Windows; stdin not a terminal; ``TERM=dumb``,
where the cursor cannot be moved) it returns None, and the caller falls back to a numbered prompt.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
from collections.abc import Iterator, Sequence
from typing import TextIO

#: Keys, as the action they trigger.
UP, DOWN, TOGGLE, ALL, ACCEPT, CANCEL, OTHER = "up", "down", "toggle", "all", "accept", "cancel", "other"

_HELP = "Up/Down or j/k move, Space toggles, a toggles all, Enter accepts, q cancels"


def keys_readable(fd: int) -> bool:
    """True when single key presses can be read from ``fd`` and the terminal understands cursor movement."""
    if os.environ.get("TERM", "") in ("", "dumb"):
        return False
    try:
        import termios
    except ImportError:
        return False
    try:
        termios.tcgetattr(fd)
    except (termios.error, OSError, ValueError):
        return False
    return True


@contextlib.contextmanager
def _raw_keys(fd: int) -> Iterator[None]:
    """Non-canonical mode without echo for the duration; the old settings come back even on Ctrl-C."""
    import termios

    old = termios.tcgetattr(fd)
    new = termios.tcgetattr(fd)
    # lflag: no line buffering, no echo, no signals (Ctrl-C arrives as a key and is handled as "cancel",
    # so the terminal is restored before the program stops).
    new[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG)
    new[6][termios.VMIN] = 1
    new[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSADRAIN, new)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


def _more_bytes(fd: int, wait: float = 0.05) -> bool:
    return bool(select.select([fd], [], [], wait)[0])


def read_key(fd: int) -> str:
    """One key press as an action; escape sequences (``ESC [ A``, ``ESC O B``) are read whole."""
    data = os.read(fd, 1)
    if not data:
        return CANCEL  # The terminal went away.
    char = data.decode("latin-1")
    if char == "\x1b":
        if not _more_bytes(fd):
            return CANCEL  # A lone Escape.
        sequence = os.read(fd, 1).decode("latin-1")
        if sequence in ("[", "O"):
            final = os.read(fd, 1).decode("latin-1")
            # Sequences such as "ESC [ 1 ; 5 A" carry parameters before the final letter.
            while final and (final.isdigit() or final == ";") and _more_bytes(fd):
                final = os.read(fd, 1).decode("latin-1")
            return {"A": UP, "B": DOWN}.get(final, OTHER)
        return OTHER
    return {
        "k": UP, "K": UP, "j": DOWN, "J": DOWN, " ": TOGGLE, "x": TOGGLE, "a": ALL, "A": ALL,
        "\r": ACCEPT, "\n": ACCEPT, "q": CANCEL, "Q": CANCEL, "\x03": CANCEL, "\x04": CANCEL,
    }.get(char, OTHER)


def _render(title: str, labels: Sequence[str], checked: list[bool], cursor: int) -> list[str]:
    lines = [title, f"  ({_HELP})"]
    for position, label in enumerate(labels):
        pointer = ">" if position == cursor else " "
        mark = "x" if checked[position] else " "
        lines.append(f"{pointer} [{mark}] {label}")
    return lines


def checkbox(title: str, labels: Sequence[str], checked: Sequence[bool] | None = None, *,
             fd: int | None = None, out: TextIO | None = None) -> list[int] | None:
    """Let the user tick items; returns the ticked positions, or None when keys cannot be read here.

    Raises :class:`KeyboardInterrupt` when the user cancels (q, Escape, Ctrl-C).
    """
    fd = sys.stdin.fileno() if fd is None else fd
    out = out or sys.stderr
    if not labels or not keys_readable(fd):
        return None
    state = list(checked) if checked is not None else [True] * len(labels)
    cursor = 0
    drawn = 0

    def draw() -> None:
        nonlocal drawn
        lines = _render(title, labels, state, cursor)
        # Move back to the first line drawn last time and overwrite every line (clearing leftovers).
        prefix = f"\x1b[{drawn}F" if drawn else ""
        out.write(prefix + "".join(f"\x1b[2K{line}\n" for line in lines))
        out.flush()
        drawn = len(lines)

    out.write("\x1b[?25l")  # Hide the cursor while the list is shown.
    try:
        with _raw_keys(fd):
            draw()
            while True:
                action = read_key(fd)
                if action == UP:
                    cursor = (cursor - 1) % len(labels)
                elif action == DOWN:
                    cursor = (cursor + 1) % len(labels)
                elif action == TOGGLE:
                    state[cursor] = not state[cursor]
                elif action == ALL:
                    state = [not all(state)] * len(labels)
                elif action == ACCEPT:
                    return [position for position, ticked in enumerate(state) if ticked]
                elif action == CANCEL:
                    raise KeyboardInterrupt
                else:
                    continue
                draw()
    finally:
        out.write("\x1b[?25h")
        out.flush()
