"""File names are UTF-8 whatever the laptop's locale.

Names on the wire are UTF-8 (docs/wire-format.md), and the site's database names its files with those
bytes. Python encodes ``str`` paths with the locale's file-system encoding, so under ISO-8859-1 'café'
would be written as other bytes than the server's (the laptop's copy of the site would not find it), and a
Japanese name could not be written at all (UnicodeEncodeError). synco therefore runs in Python's UTF-8
mode: names are written with the server's bytes, and local names that are not UTF-8 (a project folder
named in ISO-8859-1) pass through unchanged as surrogate escapes.

What synco prints keeps the terminal's own encoding: a character it cannot show is printed as an escape
(``\\u65e5``), and the raw bytes of a name that is not UTF-8 are printed as they are, so nothing printed
can fail.
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


def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


def needs_utf8_mode() -> bool:
    """True when this interpreter writes file names with another encoding than UTF-8."""
    return not sys.flags.utf8_mode and not _is_utf8(sys.getfilesystemencoding())


def reexec_in_utf8_mode() -> None:
    """Run this same command again in UTF-8 mode when the locale's encoding is another (POSIX only: there
    exec keeps the process, its standard streams and its exit status; Windows names are Unicode)."""
    if os.name != "posix" or not needs_utf8_mode() or not sys.executable or not sys.orig_argv:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, [sys.executable, *UTF8_MODE_OPTION, *sys.orig_argv[1:]])
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
    """stdout and stderr never fail on a name: the locale's own encoding (UTF-8 mode would print UTF-8 to
    an ISO-8859-1 terminal) unless PYTHONIOENCODING chose one, and :data:`TERMINAL_ERRORS`."""
    encoding = None
    local = locale.getencoding() if hasattr(locale, "getencoding") else locale.getpreferredencoding(False)
    # C/POSIX (ascii): Python itself takes UTF-8 there, as terminals of containers without a locale are.
    if not os.environ.get("PYTHONIOENCODING") and not _is_utf8(local) and codecs.lookup(local).name != "ascii":
        encoding = local
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            # A closed stream, or one already read from in another way, is left as it is.
            with contextlib.suppress(ValueError, LookupError, OSError):
                stream.reconfigure(encoding=encoding, errors=TERMINAL_ERRORS)
