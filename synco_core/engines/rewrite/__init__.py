"""Applying a plugin's :class:`~synco_core.ValueRewriter` while an engine loads a dump (hook ``value_rewriter``).

One module per way a dump carries its values: :mod:`.mysql` (string literals of INSERT statements, with the
manifest's row checksums adjusted for the rows it changes), :mod:`.copytext` (PostgreSQL's COPY text rows) and
:mod:`.sqlite` (the loaded copy of an SQLite file, before it is swapped in). The loaders call them only when
a rewriter is given, and they search a whole statement or block for the needles before looking at a single
value, so a load without rewriter costs nothing and one without a match costs a byte search.
"""

from __future__ import annotations

from synco_core.values import ValueRewriter


class Applier:
    """A rewriter with the count of values it changed."""

    def __init__(self, rewriter: ValueRewriter) -> None:
        self.rewriter = rewriter
        self.needles = tuple(needle for needle in rewriter.needles if needle)
        self.changed = 0

    def hit(self, data: bytes) -> bool:
        """True when ``data`` (a statement, a block, a value) holds one of the needles."""
        if len(self.needles) == 1:
            # The usual case (one host), called for every statement and row: no generator.
            return self.needles[0] in data
        return any(needle in data for needle in self.needles)

    def value(self, value: bytes) -> bytes:
        """``value`` rewritten (only when it holds a needle), counted when it changed."""
        if not self.hit(value):
            return value
        new = self.rewriter.rewrite(value)
        if new != value:
            self.changed += 1
        return new
