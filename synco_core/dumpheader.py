"""What a dump needs, written in its own header, so ``synco db load FILE`` can check it before any change.

``synco db dump -o FILE`` writes a plain SQL script with no meta beside it. A synco dump opens with comment
lines (MySQL's ``-- synco-database-defaults: {json}``, PostgreSQL's source and locale); it now adds
``-- synco-requires: {json}``, the meta's ``requires`` (:mod:`synco_core.wire`) as the catalogue tells it
before anything is written, without the longest statement, which the writer knows only at the dump's end:
the load itself refuses a row longer than the server takes, naming the value to set. An SQL comment, the
line is skipped by an older synco's loader (which reads only the comments it knows), by the ``mariadb`` and
``psql`` clients, and by Go synco.

The reader looks only at the leading comment lines of the stream, at most :data:`HEADER_LIMIT` bytes of
them, and hands back a stream that gives those bytes again: the load reads the dump from its first byte.
"""

from __future__ import annotations

import json
from typing import BinaryIO, cast

from synco_core import hostilejson
from synco_core.dumpfile import Prefixed
from synco_core.errors import ConfigError
from synco_core.values import DumpRequirements
from synco_core.wire import WireFormatError, requirements_from_json, requirements_to_json

REQUIRES_PREFIX = b"-- synco-requires: "
#: The most of a dump's leading comment lines read for its requirements (a line of 1,000 names of 200
#: characters, the most the format holds, is about 200 KB).
HEADER_LIMIT = 1 << 20


def requires_line(requires: DumpRequirements, server_version: str = "") -> bytes:
    """The header line recording ``requires`` and the source's ``server_version`` (one line: JSON escapes every
    line break)."""
    recorded = requirements_to_json(requires)
    if server_version and "serverVersion" not in recorded:
        recorded["serverVersion"] = server_version
    recorded.pop("maxStatementBytes", None)
    return REQUIRES_PREFIX + json.dumps(recorded, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"


class _Replayed(Prefixed):
    """``head`` again, then the rest of ``stream``: the dump as it was before its header was read; anything else
    (``close``, ``name``) is the stream's."""

    def __getattr__(self, name: str) -> object:
        return getattr(self._rest, name)


def _requires_in(head: bytes) -> tuple[bytes | None, bool]:
    """The requirements line's JSON among the whole leading comment lines of ``head``, and whether the header
    is over (a line past the comments, or the requirements line, was seen)."""
    lines = head.split(b"\n")
    for line in lines[:-1]:  # the last one may be cut by the read
        if line.startswith(REQUIRES_PREFIX):
            return line[len(REQUIRES_PREFIX):], True
        if line.strip() and not line.startswith(b"--"):
            return None, True
    return None, False


def read_requires(stream: BinaryIO, where: str) -> tuple[DumpRequirements | None, BinaryIO]:
    """The requirements a dump's header records (None: none, as in a dump of an older synco or of another tool)
    and the stream to load from. A malformed line is a one-line :class:`ConfigError` naming ``where``."""
    head = b""
    found: bytes | None = None
    while len(head) < HEADER_LIMIT:
        more = stream.read(min(1 << 16, HEADER_LIMIT - len(head)))
        head += more
        found, over = _requires_in(head if more else head + b"\n")
        if over or not more:
            break
    replayed = cast(BinaryIO, _Replayed(head, stream))
    if found is None:
        return None, replayed
    try:
        # A dump is anyone's text: nested a thousand deep, json.loads raises RecursionError, no ValueError.
        data = hostilejson.loads(found)
        if not isinstance(data, dict):
            raise WireFormatError(f"malformed {where}: not a JSON object")
        return requirements_from_json(data, where), replayed
    except (ValueError, WireFormatError) as exc:
        message = str(exc) if isinstance(exc, WireFormatError) else f"malformed {where}: {exc}"
        raise ConfigError(message) from None
