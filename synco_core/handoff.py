"""Handing work to a thread through a bounded queue, and ending that thread without an end marker.

A producer that puts an end marker (``None``) and joins the thread relies on that put waking the thread.
When Ctrl-C (or SIGTERM, raised as it) lands in the producer's own ``put``, the wake-up can be cut short:
the thread then waits for an item for ever, and the clean-up joining it hangs the interrupted command (a
``synco db load`` of a big PostgreSQL table did, about one run in ten). :func:`until_ended` instead looks
every :data:`POLL_SECONDS` whether its ``ended`` event is set, so whatever a signal did to a wake-up, the
thread ends once the producer says so and the queue is empty.

The look is only the safety net: the producer ends the thread with :func:`end`, which also wakes it. With
the look alone, a thread that had taken the last item before ``ended`` was set slept out the rest of its
wait, up to :data:`POLL_SECONDS` with nothing to do, at the end of every MySQL dump (a tenth of a 2-second
dump: docs/performance.md, "MySQL dump by key") and of every load worker and second COPY connection.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

T = TypeVar("T")

#: How often a waiting thread looks whether it was told to end.
POLL_SECONDS = 0.2


class _Wake:
    """What :func:`end` puts to wake a waiting thread; never handed on as an item."""


_WAKE = _Wake()


def end(pieces: queue.Queue[Any], ended: threading.Event) -> None:
    """Tell the thread taking from ``pieces`` (through :func:`until_ended`) that nothing more comes.

    Call it after the last ``put``. It sets ``ended`` and wakes the thread if it waits on the empty queue,
    so that the thread ends as soon as it has taken the last item, not at its next look. A full queue needs
    no wake-up: the thread takes an item, and then finds ``ended`` set before it waits again.
    """
    ended.set()
    with contextlib.suppress(queue.Full):
        pieces.put_nowait(_WAKE)


def until_ended(pieces: queue.Queue[T], ended: threading.Event) -> Iterator[T]:
    """The items of ``pieces`` as they come, until ``ended`` is set and none is left.

    The producer sets ``ended`` after its last ``put`` (nothing may be put afterwards), so a queue found
    empty once it is set stays empty.
    """
    while True:
        if ended.is_set() and pieces.empty():
            return
        try:
            item = pieces.get(timeout=POLL_SECONDS)
        except queue.Empty:
            continue
        if isinstance(item, _Wake):
            # Counted as taken, so that a producer's queue.join() is not left waiting for it.
            pieces.task_done()
            continue
        yield item
