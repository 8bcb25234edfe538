"""JSON that another machine wrote (a session's meta, index and pack table, a pull frame, a dump's header
comments) or that lies on the laptop for any program to change (receive's and install's records), parsed
so that every way it can fail is a :class:`json.JSONDecodeError`.

``json.loads`` has two failures that are not: arrays or objects nested a thousand deep raise
``RecursionError``, and a number of more than 4,300 digits raises a bare ``ValueError`` (CPython's guard
against quadratic int parsing). A meta of ``[[[[...`` then ended receive with a Python exception's name
instead of one line saying the meta is malformed, and slipped past every handler written for
``JSONDecodeError``. Both are turned into :class:`TooComplexError`, a ``JSONDecodeError``, so every such
handler (and every one for ``ValueError``) takes them as what they are: JSON no synco writes.
"""

from __future__ import annotations

import json
from typing import Any

_DECODER = json.JSONDecoder()


class TooComplexError(json.JSONDecodeError):
    """Perhaps JSON, but nested deeper, or with a longer number, than Python's parser reads."""


def _too_complex(exc: BaseException, doc: str | bytes, position: int) -> TooComplexError:
    reason = "nested too deeply" if isinstance(exc, RecursionError) else "a number too long to read"
    text = doc if isinstance(doc, str) else ""
    return TooComplexError(reason, text, position if text else 0)


def loads(raw: str | bytes) -> Any:
    """``json.loads(raw)``, failing only with ``JSONDecodeError`` (or ``UnicodeDecodeError`` for bytes that are
    not text)."""
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise
    except (RecursionError, ValueError) as exc:
        raise _too_complex(exc, raw, 0) from None


def raw_decode(text: str, position: int) -> tuple[Any, int]:
    """``JSONDecoder().raw_decode(text, position)`` with the failures of :func:`loads`."""
    try:
        return _DECODER.raw_decode(text, position)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError) as exc:
        raise _too_complex(exc, text, position) from None
