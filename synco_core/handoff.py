"""Handing work to a thread through a bounded queue, and ending that thread without an end marker.

A producer that puts an end marker (``None``) and joins the thread relies on that put waking the thread.
When Ctrl-C (or SIGTERM, raised as it) lands in the producer's own ``put``, the wake-up can be cut short:
the thread then waits for an item for ever, and the clean-up joining it hangs the interrupted command (a
``synco db load`` of a big PostgreSQL table did, about one run in ten). :func:`until_ended` instead looks
every :data:`POLL_SECONDS` whether its ``ended`` event is set, so whatever a signal did to a wake-up, the
thread ends once the producer says so and the queue is empty.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

#: How often a waiting thread looks whether it was told to end.
POLL_SECONDS = 0.2


def until_ended(pieces: queue.Queue[T], ended: threading.Event) -> Iterator[T]:
    """The items of ``pieces`` as they come, until ``ended`` is set and none is left.

    The producer sets ``ended`` after its last ``put`` (nothing may be put afterwards), so a queue found
    empty once it is set stays empty.
    """
    while True:
        try:
            yield pieces.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if ended.is_set() and pieces.empty():
                return
