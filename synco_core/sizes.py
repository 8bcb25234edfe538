"""Byte counts as people read them, the same way in every message synco prints."""

from __future__ import annotations


def human_size(size: int | None) -> str:
    """``1234567`` -> ``"1.2 MB"``: decimal units, as the progress bars count; ``None`` (unknown) -> ``"?"``."""
    if size is None:
        return "?"
    amount = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{amount:,.0f} {unit}" if unit == "B" else f"{amount:,.1f} {unit}"
        amount /= 1000
    return f"{amount:,.1f} GB"
