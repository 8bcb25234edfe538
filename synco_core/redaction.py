"""Keeps secrets out of logs, error messages and ``--debug`` output.

Whoever reads a password or a key registers it here; :func:`redact` replaces every registered secret
(and its URL-encoded form) with ``***``. The CLI passes every error and log line through it, so a
driver error message that quotes a DSN cannot leak the password. :func:`one_line` and :func:`error_line`
turn a message or an exception into the one redacted line an error report or a failure record shows.
"""

from __future__ import annotations

import contextlib
import logging
import re
import unicodedata
from collections.abc import Iterator
from urllib.parse import quote

_secrets: set[str] = set()

# Short values would redact ordinary words; real passwords and keys are longer than this.
_MIN_LENGTH = 4


def register_secret(value: str | None) -> None:
    """Remember ``value`` so :func:`redact` hides it from now on, and take it out of the command line other
    users of the machine see (:func:`synco_core.cmdline.hide`)."""
    if value and len(value) >= _MIN_LENGTH:
        if value not in _secrets:
            from synco_core.cmdline import hide

            hide(value)
        _secrets.add(value)
        # A value holding bytes that were not UTF-8 (surrogate escapes, from a latin-1 command line or file)
        # has no URL-encoded form of its own; ``quote`` failed on it, and the command with it.
        encoded = quote(value.encode("utf-8", "surrogateescape"), safe="")
        if encoded != value:
            _secrets.add(encoded)


@contextlib.contextmanager
def secrets_isolated() -> Iterator[None]:
    """Within the block only the secrets registered inside it are known; those known before are back after.

    For tests: the registry lives as long as the process, and a password one test registered (``secret``)
    would mask the same word in every later test's messages (``the ***s vault``).
    """
    saved = set(_secrets)
    _secrets.clear()
    try:
        yield
    finally:
        _secrets.clear()
        _secrets.update(saved)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return text


#: ``scheme://``: where a URL quoted in a message starts; it ends at the next space.
_URL_START = re.compile(r"\b[A-Za-z][\w+.-]*://")


def _userinfo_password_spans(text: str) -> Iterator[tuple[int, int]]:
    """Where ``text`` holds the password of a ``scheme://user:password@host`` it quotes, in order, as
    :func:`synco_core.urluserinfo.password_span` reads a URL: an unencoded one may hold "@", "/" or "?"
    (p@ss:w?rd), while an "@" in a path (img@2x.png) after a plain host[:port] ends no password."""
    from synco_core.urluserinfo import password_span

    search_from = 0
    while match := _URL_START.search(text, search_from):
        end = match.end()
        while end < len(text) and not text[end].isspace():
            end += 1
        span = password_span(text[match.end() : end])
        if span is None:
            # A URL quoted inside this one's path or query (?next=postgres://u:p@db/) is looked at on its own.
            search_from = match.end()
            continue
        yield match.end() + span[0], match.end() + span[1]
        search_from = match.end() + span[1]


def _mask_userinfo_passwords(text: str) -> str:
    """``text`` with the password of every URL it quotes (:func:`_userinfo_password_spans`) replaced by ``***``."""
    pieces: list[str] = []
    done = 0
    for start, end in _userinfo_password_spans(text):
        pieces += [text[done:start], "***"]
        done = end
    return "".join(pieces) + text[done:]


#: A query parameter of a URL whose value (group 2) is a credential: ``?token=``, ``access_token``, ``api_key``,
#: ``?key=``, ``?auth=``, OAuth's ``code``, a presigned URL's ``X-Amz-Signature``, ``X-Amz-Credential`` and
#: ``X-Amz-Security-Token`` (and other clouds' ``sig``), a ``password``.
_URL_QUERY_SECRET = re.compile(
    r"(?i)([?&;](?:[\w.\-]*(?:token|secret|signature|sig|passw(?:or)?d|pwd|credential|api[_-]?key|access[_-]?key)"
    r"|key|auth|code)=)([^&#\s'\"<>]+)")


def register_url_secrets(url: str) -> None:
    """Register the credentials a URL the user gave holds: its password (``user:password@``) and the value of
    every query parameter naming a credential (:data:`_URL_QUERY_SECRET`), so they are hidden from messages and
    from the command line other users see from the moment the URL is read."""
    from urllib.parse import unquote

    from synco_core.urluserinfo import password_span

    start = re.match(r"[A-Za-z][\w+.-]*://", url)
    span = password_span(url[start.end() :]) if start else None
    if start and span:
        password = url[start.end() + span[0] : start.end() + span[1]]
        register_secret(password)
        register_secret(unquote(password))
    for match in _URL_QUERY_SECRET.finditer(url):
        value = match.group(0)[len(match.group(1)):]
        register_secret(value)
        register_secret(unquote(value))


def credential_spans(text: str) -> list[tuple[int, int]]:
    """Where ``text`` holds the password of a URL (:func:`_userinfo_password_spans`) or the value of
    a query parameter naming a credential (:data:`_URL_QUERY_SECRET`): sorted, non-overlapping (start, end)."""
    spans = list(_userinfo_password_spans(text))
    spans += [(match.start(2), match.end(2)) for match in _URL_QUERY_SECRET.finditer(text)]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return [(start, end) for start, end in merged if end > start]


def without_url_secrets(url: str) -> str:
    """``url`` without the query parameters naming a credential (:data:`_URL_QUERY_SECRET`): what may be written
    into a file the user keeps, and perhaps commits (``hosts:`` of ``.synco.yml``)."""
    base, mark, query = url.partition("?")
    if not mark:
        return url
    query, hash_mark, fragment = query.partition("#")
    kept = [item for item in query.split("&") if item and not _URL_QUERY_SECRET.match("?" + item)]
    return base + ("?" + "&".join(kept) if kept else "") + hash_mark + fragment


def mask_url_passwords(text: str) -> str:
    """``text`` with registered secrets, the password of every URL it quotes, and the value of every query
    parameter naming a credential (:data:`_URL_QUERY_SECRET`) replaced by ``***``.

    For another program's messages (a driver, a framework's console) that quote a database URL whose
    password was never registered, and for the core's own messages quoting an address the user gave (a
    ``--base-url`` with ``?token=``) or a file's URL (a presigned URL's signature).
    """
    return _URL_QUERY_SECRET.sub(r"\1***", _mask_userinfo_passwords(redact(text)))


#: A password given as a key and value, as a libpq connection string (``password=...``), an environment setting
#: (``PGPASSWORD=...``, ``MYSQL_PWD=...``) or a Python or JSON mapping (``'password': '...'``) quotes it.
_KEYED_PASSWORD = re.compile(
    r"""(?i)(\b\w*(?:password|passwd|pwd)[ \t]*=[ \t]*|['"]\w*(?:password|passwd|pwd)['"][ \t]*:[ \t]*)"""
    r"""('[^']*'|"[^"]*"|[^\s'",;&)}\]]+)""")


def mask_passwords(text: str) -> str:
    """:func:`mask_url_passwords`, and the value of every key naming a password (``password=...``,
    ``'password': '...'``) replaced by ``***`` as well.

    For what the core did not write itself, where a password may come in any form: a plugin's exception, a
    plugin's or a library's log record, a traceback.
    """
    return _KEYED_PASSWORD.sub(r"\1***", mask_url_passwords(text))


#: Unicode categories never shown as they are: controls (ESC starts terminal sequences: moving the cursor,
#: clearing the screen, setting the window title or the clipboard), format characters (bidirectional
#: overrides reorder what the user reads), separators, surrogates, private and unassigned code points.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on (see :data:`_HIDDEN_CATEGORIES`, newlines
    included) written as ``\\uXXXX``; spaces and indentation stay as they are."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(f"\\u{ord(char):04x}" if unicodedata.category(char) in _HIDDEN_CATEGORIES else char
                   for char in text)


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` on one line (whitespace runs joined), registered secrets removed, characters that a terminal
    would act on written as ``\\uXXXX``, cut at ``limit`` characters.

    What a session or a remote side says (a framework name, a redirect's target, an error message) reaches
    the terminal through here: a hostile server must not forge lines or send escape sequences.
    """
    # Redacted before and after joining: a secret may hold whitespace, or be split across lines.
    flat = printable(redact(" ".join(redact(str(text)).split())))
    if limit is not None and len(flat) > limit:
        return flat[: limit - 3] + "..."
    return flat


def message_of(exc: BaseException) -> str:
    """``str(exc)``, or a stand-in naming the failure when that raises.

    A plugin's exception class with a broken ``__str__`` would otherwise raise again in the code reporting
    it, and end the command with that second error, naming neither the plugin nor what it did.
    """
    try:
        return str(exc)
    except Exception as broken:
        return f"<message not readable: its __str__ raised {type(broken).__name__}>"


def error_line(exc: BaseException, limit: int | None = None) -> str:
    """An exception as ``Type: message`` on one line, as :func:`one_line` makes it; a resource limit that was
    reached (:mod:`synco_core.limits`) as the limit, since the exception's own words do not name it."""
    from synco_core.limits import limit_reached

    reached = limit_reached(exc)
    if reached is not None:
        return one_line(reached, limit)
    return one_line(f"{type(exc).__name__}: {message_of(exc)}", limit)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts registered secrets and URL passwords from every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        # URL passwords too: a plugin's or a driver's message may quote a URL whose password was never registered.
        # A record of a plugin's or a library's own logger may quote one in any form (``password=...``); the
        # core's own records name settings such as a sanitising rule ``users.password=null``, which stay. The
        # hook trace is the core's logger but not its words: it shows what plugins were given and answered (a
        # framework's ``settings``, a driver's options), where a password may sit in any form.
        own = (record.name == "synco_core" or record.name.startswith("synco_core.")) and record.name != HOOK_LOGGER
        redacted = mask_url_passwords(message) if own else mask_passwords(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        # A traceback repeats the exception message (a driver error quoting a DSN, say), so it is formatted
        # here and redacted too; handlers use ``exc_text`` as it is once it is set.
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = mask_passwords(_FORMATTER.formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask_passwords(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_passwords(record.stack_info)
        return True


_FORMATTER = logging.Formatter()
#: The logger the hook trace writes to (:meth:`synco_core.plugins.SyncoPluginManager.trace_hooks`).
HOOK_LOGGER = "synco_core.hooks"

