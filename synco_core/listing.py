"""Lists of names in one-line messages: a database of thousands of objects must not make a line of thousands."""

from __future__ import annotations

from collections.abc import Sequence


def some_names(names: Sequence[str], limit: int, separator: str = ", ") -> str:
    """``a, b, c`` or ``a, b (and 12 more)``."""
    shown = separator.join(names[:limit])
    return shown + (f" (and {len(names) - limit} more)" if len(names) > limit else "")
