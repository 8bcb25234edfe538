"""File names are UTF-8 whatever the laptop's locale.

Names on the wire are UTF-8 (docs/wire-format.md), and the site's database names its files with those
bytes. Python encodes ``str`` paths with the locale's file-system encoding, so under ISO-8859-1 'café'
would be written as other bytes than the server's (the laptop's copy of the site would not find it), and a
Japanese name could not be written at all (UnicodeEncodeError). synco therefore runs in Python's UTF-8
mode: names are written with the server's bytes, and local names that are not UTF-8 (a project folder
named in ISO-8859-1) pass through unchanged as surrogate escapes.

What synco prints keeps the terminal's own encoding: a character it cannot show is printed as an escape
(``\\u65e5``), and the raw bytes of a name that is not UTF-8 are printed as they are, so nothing printed
can fail. What is typed (passphrases, keys) is read with the locale's encoding too.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import locale
import os
import sys

#: The error handler of synco's stdout and stderr (see :func:`_terminal_error`).
TERMINAL_ERRORS = "synco-terminal"

#: Python's option for UTF-8 mode: on the command line only, so programs synco runs keep their locale.
UTF8_MODE_OPTION = ["-X", "utf8"]

#: The ``-X`` option that tells the restarted synco the encoding of the locale it was started in.
LOCALE_OPTION = "synco_locale"


def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


def needs_utf8_mode() -> bool:
    """True when this interpreter writes file names with another encoding than UTF-8."""
    return not sys.flags.utf8_mode and not _is_utf8(sys.getfilesystemencoding())


def restarted_from() -> str | None:
    """The locale's encoding when this synco was restarted in UTF-8 mode from another one, else None."""
    encoding = getattr(sys, "_xoptions", {}).get(LOCALE_OPTION)
    if not isinstance(encoding, str):
        return None
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return None


def typed_text(value: str) -> str:
    """Text a person typed on the command line or in the environment (a passphrase, a key): restarted in
    UTF-8 mode, synco read them as UTF-8, but they hold the locale's bytes ('passé' in ISO-8859-1 arrives as
    'pass\\udce9'); those bytes are read again with the locale's encoding, so the text is the one typed."""
    encoding = restarted_from()
    if encoding is None:
        return value
    return value.encode("utf-8", "surrogateescape").decode(encoding, "surrogateescape")


def reexec_in_utf8_mode() -> None:
    """Run this same command again in UTF-8 mode when the locale's encoding is another (POSIX only: there
    exec keeps the process, its standard streams and its exit status; Windows names are Unicode)."""
    if os.name != "posix" or not needs_utf8_mode() or not sys.executable or not sys.orig_argv:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        encoding = locale.getencoding() if hasattr(locale, "getencoding") else locale.getpreferredencoding(False)
        os.execv(sys.executable, [sys.executable, *UTF8_MODE_OPTION, "-X", f"{LOCALE_OPTION}={encoding}",
                                  *sys.orig_argv[1:]])
    except OSError:
        # The interpreter cannot be run again (removed, not executable): synco goes on in the locale's
        # encoding, where ASCII and the locale's own names still work, rather than not at all.
        return


def _terminal_error(exc: UnicodeError) -> tuple[str | bytes, int]:
    """Raw bytes of a name that was not UTF-8 (surrogate escapes) as they are; other characters the
    terminal's encoding cannot show as backslash escapes."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    text = exc.object[exc.start:exc.end]
    if all(0xDC80 <= ord(char) <= 0xDCFF for char in text):
        return bytes(ord(char) - 0xDC00 for char in text), exc.end
    return codecs.backslashreplace_errors(exc)


codecs.register_error(TERMINAL_ERRORS, _terminal_error)


def configure_output() -> None:
    """stdout and stderr never fail on a name (:data:`TERMINAL_ERRORS`); restarted from another locale,
    the standard streams and hidden prompts are in that locale's encoding again (UTF-8 mode would print
    UTF-8 to an ISO-8859-1 terminal, and read what is typed there as UTF-8), unless PYTHONIOENCODING chose."""
    encoding = restarted_from()
    if os.environ.get("PYTHONIOENCODING"):
        encoding = None
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            # A closed stream, or one already written to in another way, is left as it is.
            with contextlib.suppress(ValueError, LookupError, OSError):
                stream.reconfigure(encoding=encoding, errors=TERMINAL_ERRORS)
    if encoding is not None:
        if isinstance(sys.stdin, io.TextIOWrapper):
            with contextlib.suppress(ValueError, LookupError, OSError):
                sys.stdin.reconfigure(encoding=encoding, errors="surrogateescape")
        import click.termui  # only the CLI restarts, and it has click

        # getpass reads the terminal as UTF-8 in UTF-8 mode (strictly: 'é' typed in ISO-8859-1 fails).
        click.termui.hidden_prompt_func = _hidden_prompt


def _hidden_prompt(prompt: str) -> str:
    """A hidden prompt read as the locale's bytes (see :func:`configure_output`)."""
    import getpass
    import termios

    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return typed_text(getpass.getpass(prompt))  # no terminal: getpass reads stdin, in the locale's encoding
    with os.fdopen(fd, "r+b", buffering=0) as tty:
        old = termios.tcgetattr(fd)
        new = list(old)
        new[3] &= ~termios.ECHO
        try:
            termios.tcsetattr(fd, termios.TCSAFLUSH, new)
            tty.write(prompt.encode(restarted_from() or "utf-8", TERMINAL_ERRORS))
            line = bytearray()
            while not line.endswith(b"\n"):
                chunk = tty.read(1)
                if not chunk:
                    raise EOFError
                line += chunk
        finally:
            termios.tcsetattr(fd, termios.TCSAFLUSH, old)
            tty.write(b"\n")
    return line.rstrip(b"\r\n").decode(restarted_from() or "utf-8", "surrogateescape")
