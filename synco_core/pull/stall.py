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

from collections.abc import Callable

from synco_core.pull.watchdog import Watchdog

#: The longest silence accepted inside a frame. Generous: TCP retransmissions over a bad link stall for
#: a minute or two and then go on.
MID_FRAME_SILENCE = 300.0


class StallGuard(Watchdog):
    """Armed while a frame is being read; fires ``on_stall`` after ``limit`` seconds without a byte."""

    def __init__(self, on_stall: Callable[[], None], limit: float | None = None) -> None:
        super().__init__(on_stall, "pull-stall-guard")
        self.limit = MID_FRAME_SILENCE if limit is None else limit
        self._start()

    def arm(self) -> None:
        """A frame has begun (or more of it arrived): the next byte is due within the limit."""
        with self._lock:
            self._due_in(self.limit)

    def disarm(self) -> None:
        with self._lock:
            self._deadline = None

    def _expired(self) -> str:
        return (f"the remote side stopped in the middle of a frame and sent nothing for {self.limit:g}s; what "
                "arrived is kept: run the same command again to continue")
