"""The gate's verdict on a statement that is sent as it is read (a row with a huge value), in pieces.

:meth:`.gate.StatementGate.check` reads a plain INSERT's values for code that reaches another database
(``SETVAL(other.s, 1000)``, ``other.f()``, ``LOAD_FILE(...)``): a search at C speed for a name before a dot
or a parenthesis, then, when one is found, the same search in the code between the strings
(:func:`.qualify.code_text`), then the tokens. :class:`StreamedCheck` reaches the same verdict from the
pieces as they are sent, holding neither the statement nor its long strings: the raw search keeps an
overlap between pieces (and the bytes after a name whose dot may come in the next piece), the code text
is read by :class:`.codestream.CodeTextStream`, and what the tokens are read from at the end is the
statement with every string longer than :data:`KEPT_STRING` emptied, which the gate reads alike
(:meth:`.gate.StatementGate.check` treats such strings as empty too). The loader sends the statement's
last byte only once :meth:`StreamedCheck.finish` has passed it, so a refused statement never runs.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from synco_core.engines.mysql import codestream, qualify
from synco_core.engines.mysql.sealedspool import SealedSpool

if TYPE_CHECKING:
    from synco_core.engines.mysql.gate import StatementGate

#: Strings longer than this (quotes included) are read as empty ones by the tokens' checks: the gate only
#: looks into a string for a character set's or an engine's name, and none is that long.
KEPT_STRING = 64
#: How much of the code text (:attr:`StreamedCheck.text`) is kept in memory; the rest waits in a sealed temporary
#: file for the rare statement whose verdict needs it. Values that are mostly code (``0x...`` hex blobs, numbers)
#: made it as long as the statement: a 150 MB ``--hex-blob`` INSERT took 350 MB.
KEPT_TEXT = 8 << 20
#: What may still become a qualifier's tail (:data:`.gate.QUALIFIER_TAIL`) once more bytes come: space and
#: comments, then perhaps a comment or a ``--`` begun and not yet ended.
_TAIL_SO_FAR = re.compile(rb"[`\"\]]?(?:\s|/\*[\s\S]*?\*/|/\*M?!\d*|\*/|#[^\n]*|--[^\n]*)*"
                          rb"(?:/\*[\s\S]*|/|-|\*)?\Z")


class _RawSearch:
    """:meth:`.gate.StatementGate._mentions` over pieces: True once a needle is followed by a qualifier's tail."""

    def __init__(self, needles: list[bytes], tail: re.Pattern[bytes]) -> None:
        self.needles = needles
        self.tail = tail
        self.overlap = max(len(needle) for needle in needles) - 1
        self.carry = b""
        self.hit = False

    def feed(self, piece: bytes | bytearray | memoryview, final: bool = False) -> None:
        if self.hit:
            return
        buffer = self.carry + bytes(piece)
        lowered = buffer.lower()
        keep_from = max(0, len(buffer) - self.overlap)
        for needle in self.needles:
            found = lowered.find(needle)
            while found >= 0:
                after = found + len(needle)
                if self.tail.match(buffer, after) is not None:
                    self.hit, self.carry = True, b""
                    return
                if not final and _TAIL_SO_FAR.match(buffer, after) is not None:
                    # The dot may be in the next piece: this name is looked at again with it.
                    keep_from = min(keep_from, found)
                found = lowered.find(needle, found + 1)
        self.carry = b"" if final else buffer[keep_from:]


class StreamedCheck:
    """Feed a plain INSERT's bytes in order (:meth:`feed`), then :meth:`finish`: it raises the one-line
    refusal :meth:`.gate.StatementGate.check` would raise for the whole statement, or returns.

    :param values: where the values start (the end of the statement's head), as for ``check``.
    """

    def __init__(self, gate: StatementGate, number: int, values: int) -> None:
        self.gate = gate
        self.number = number
        self.values = values
        self.mode = gate.session
        self.offset = 0
        #: The statement up to its values, then what the code text keeps of them (short strings whole): its first
        #: :data:`KEPT_TEXT` bytes, the rest in :attr:`_spilled`.
        self.text = bytearray()
        self._spilled: SealedSpool | None = None
        self._raw = _RawSearch(gate.needles, gate.qualifier_tail)
        self._code = codestream.CodeTextStream(self.mode, KEPT_STRING)

    def feed(self, piece: bytes | bytearray | memoryview) -> None:
        view = memoryview(piece)
        if self.offset < self.values:
            head = view[:self.values - self.offset]
            self.text += head
            self.offset += len(head)
            view = view[len(head):]
        if not view:
            return
        self.offset += len(view)
        self._raw.feed(view)
        self._keep(self._code.feed(view))

    def _keep(self, code: bytes | bytearray) -> None:
        if not code:
            return
        if self._spilled is None and len(self.text) + len(code) <= KEPT_TEXT:
            self.text += code
            return
        if self._spilled is None:
            self._spilled = SealedSpool("the code between the strings of a statement longer than "
                                        f"{KEPT_TEXT >> 20} MiB (held there, sealed, until the statement is checked)",
                                        "a huge statement's code")
        self._spilled.write(bytes(code))

    def finish(self) -> None:
        try:
            self._keep(self._code.end())
        except codestream.UnclosedString:
            self._close()
            self.gate.refuse(self.number, "its values end inside a string (the server would read the rest as code)")
        self._raw.feed(b"", final=True)
        if not self._raw.hit and not self.gate.spelled_elsewhere:
            self._close()
            return
        if self._spilled is not None:
            # The rare statement whose code names another database's name before a dot or a parenthesis (or
            # may spell one in other bytes): read whole, as the gate reads any statement.
            try:
                for block in self._spilled.blocks():
                    self.text += block
            finally:
                self._close()
        values = memoryview(self.text)[self.values:]
        if self.gate.code_reaches(qualify.code_text(values, self.mode)):
            self.gate.check_code(self.text, self.number, (self.mode,), None)

    def _close(self) -> None:
        if self._spilled is not None:
            self._spilled.close()
            self._spilled = None
