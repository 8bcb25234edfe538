"""A server that stops answering: once a round of requests has gone unanswered, the others fail at once.

A request to a server that accepts connections and never answers (or never accepts them) fails after the
per-read timeout (30 s). A receive of thousands of files asked for each of them in turn, eight at a time, and
ended hours later with every file failed for the same reason; a pipelined batch even waited three times
before its files were asked for one by one. So every origin counts the requests in a row that got no
answer in time (an answer of any kind resets it); at :data:`SILENT_ROUNDS` times the number of connections
(one round: every connection waited in vain at least once), that origin is not asked again in this receive,
and its requests fail at once, in the line that says why.
"""

from __future__ import annotations

import threading

from synco_core.origins import Origin
from synco_core.receive.transport import UnreachableError

#: Rounds of requests (one per connection) that must all go unanswered before an origin is given up.
SILENT_ROUNDS = 2


class Silence:
    """Requests in a row that each origin left unanswered, shared by the connections of one transport."""

    def __init__(self, connections: int) -> None:
        self.limit = SILENT_ROUNDS * max(1, connections)
        self._count: dict[Origin, int] = {}
        self._lock = threading.Lock()

    def check(self, origin: Origin, url: str) -> None:
        """Fail at once for an origin given up: it left :attr:`limit` requests in a row unanswered."""
        with self._lock:
            count = self._count.get(origin, 0)
        if count >= self.limit:
            raise UnreachableError(f"cannot reach {url}: the server left {count} requests in a row without an "
                                   "answer, and is not asked again in this receive; run the same command again "
                                   "once it answers")

    def unanswered(self, origin: Origin) -> None:
        with self._lock:
            self._count[origin] = self._count.get(origin, 0) + 1

    def answered(self, origin: Origin) -> None:
        with self._lock:
            self._count.pop(origin, None)
