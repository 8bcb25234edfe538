"""A remote side that goes silent in the middle of a frame: the pull ends instead of waiting forever.

Between frames the remote side may be silent as long as it likes (it builds indexes, dumps a big table).
Inside one it may not: a frame (at most 4 MiB) is written whole, so once its first byte arrived the rest
follows as fast as the link carries it. A stream that stops there (a remote process frozen, a connection
whose other end vanished without a reset) used to hang pull for good, since a pipe from ssh has no
timeout of its own. :class:`StallGuard` watches the reads inside a frame; when no byte arrives for
:data:`MID_FRAME_SILENCE` seconds it kills the channel (the blocked read then ends) and the client reports
:attr:`StallGuard.message` instead of the read's own error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: The longest silence accepted inside a frame. Generous: TCP retransmissions over a bad link stall for
#: a minute or two and then go on.
MID_FRAME_SILENCE = 300.0


class StallGuard:
    """Armed while a frame is being read; fires ``on_stall`` after ``limit`` seconds without a byte."""

    def __init__(self, on_stall: Callable[[], None], limit: float | None = None) -> None:
        self.limit = MID_FRAME_SILENCE if limit is None else limit
        self._on_stall = on_stall
        self._lock = threading.Condition()
        self._deadline: float | None = None
        self._closed = False
        #: Set once it fired: the one line for the user.
        self.message: str | None = None
        self._thread = threading.Thread(target=self._watch, name="pull-stall-guard", daemon=True)
        self._thread.start()

    def arm(self) -> None:
        """A frame has begun (or more of it arrived): the next byte is due within the limit."""
        with self._lock:
            self._deadline = time.monotonic() + self.limit
            self._lock.notify_all()

    def disarm(self) -> None:
        with self._lock:
            self._deadline = None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        with self._lock:
            while not self._closed:
                if self._deadline is None:
                    self._lock.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._lock.wait(timeout=left)
                    continue
                self.message = (f"the remote side stopped in the middle of a frame and sent nothing for "
                                f"{self.limit:g}s; what arrived is kept: run the same command again to continue")
                break
        if self.message is not None:
            self._on_stall()
