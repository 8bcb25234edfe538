"""synco's worker processes: whether they are worth starting (:func:`usable_cores`), and the framing of
their pipes: each value marshalled, after its length.

Workers (receive's pack and index workers, serve's walker) talk to the process that started them over
their stdin and stdout. marshal is the standard library's fastest serialisation of plain values (str,
bytes, int, bool, None, and lists, tuples and dicts of them), and only ever reads what another process of
the same synco on the same interpreter wrote.
"""

from __future__ import annotations

import io
import marshal
import os
from typing import IO, Any


def usable_cores() -> int:
    """Cores this process may run on: a container's cpuset where the system says (``sched_getaffinity``),
    not the host's count; a worker beside this process only pays off with two or more."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


def write_frame(out: IO[bytes], value: Any) -> None:
    """``value`` (plain str/bytes/int/bool/None, lists, tuples, dicts of them) marshalled with its length.

    Written to ``out``'s descriptor by a loop of ``os.write`` (what ``out`` holds buffered first): a process
    stopped and continued (Ctrl-Z, then ``fg``) in a ``write`` to a full pipe gets back a part of the
    frame written, and Python's buffered writer then corrupted the stream (the reader saw "bad marshal
    data" and the receive ended).
    """
    block = marshal.dumps(value)
    data = len(block).to_bytes(8, "little") + block
    try:
        fd = out.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        out.write(data)
        out.flush()
        return
    out.flush()
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_frame(source: IO[bytes]) -> Any:
    """The next frame; EOFError at the end of the stream or in a frame cut short."""
    head = source.read(8)
    if len(head) != 8:
        raise EOFError("end of the worker stream")
    size = int.from_bytes(head, "little")
    block = source.read(size)
    if len(block) != size:
        raise EOFError("a worker frame is cut short")
    return marshal.loads(block)
