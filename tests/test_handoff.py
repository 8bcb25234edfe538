"""Threads fed through a queue end when told, whatever a signal did to a wake-up (synco_core/handoff.py).

Ctrl-C during ``synco db load`` of a big PostgreSQL table hung the command for ever, about one run in
ten: its clean-up joined a thread that waited for an end marker it was never woken for. The state such a
cut-short wake-up leaves is a waiter of nobody's, still locked, ahead of the thread's own in the queue's
condition: the next ``put`` wakes that one instead. Every thread synco feeds through a queue (the
PostgreSQL second COPY connection, tests/test_postgres_sharedcopy.py; MySQL's load workers and dump writer,
here) must end all the same, after everything handed to it.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Callable
from typing import Any

import pytest

from synco_core import handoff
from synco_core.engines.mysql.dumpwriter import Writer
from synco_core.engines.mysql.loadthreads import InsertWorker
from synco_core.handoff import until_ended

#: Seconds after which ending a thread counts as hung (it takes a fraction of one).
HANG = 30.0


def cut_a_wake_up_short(pieces: queue.Queue[Any]) -> None:
    """Once the thread waits on the empty queue: what an interrupted wake-up leaves ahead of its waiter."""
    not_empty = pieces.not_empty
    while not (pieces.empty() and not_empty._waiters):  # type: ignore[attr-defined]
        threading.Event().wait(0.01)
    with not_empty:
        stale = threading.Lock()
        stale.acquire()
        not_empty._waiters.appendleft(stale)  # type: ignore[attr-defined]


def ends(stop: Callable[[], None]) -> bool:
    stopping = threading.Thread(target=stop, daemon=True)
    stopping.start()
    stopping.join(HANG)
    return not stopping.is_alive()


def test_until_ended_gives_every_item_then_ends_when_told() -> None:
    pieces: queue.Queue[int] = queue.Queue(maxsize=2)
    ended = threading.Event()
    got: list[int] = []
    taker = threading.Thread(target=lambda: got.extend(until_ended(pieces, ended)), daemon=True)
    taker.start()
    for number in range(10):
        pieces.put(number)
    cut_a_wake_up_short(pieces)
    pieces.put(10)
    ended.set()
    taker.join(HANG)
    assert not taker.is_alive() and got == list(range(11))


def test_the_mysql_dump_writer_closes_after_a_cut_short_wake_up() -> None:
    out = io.BytesIO()
    writer = Writer(out)
    writer.write(b"x" * (writer.BLOCK + 1))
    cut_a_wake_up_short(writer.queue)
    writer.write(b"the rest;\n")
    writer.call(lambda: out.write(b"-- done\n"))
    cut_a_wake_up_short(writer.queue)  # now only the end is left to say
    assert ends(writer.close), "closing the dump writer hung"
    assert out.getvalue() == b"x" * (writer.BLOCK + 1) + b"the rest;\n-- done\n"


class Connection:
    """What a load worker uses of a PyMySQL connection."""

    def __init__(self) -> None:
        self.queries: list[bytes] = []
        self.closed = False

    def query(self, sql: str | bytes | memoryview) -> None:
        self.queries.append(sql.encode() if isinstance(sql, str) else bytes(sql))

    def commit(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_a_mysql_load_worker_finishes_after_a_cut_short_wake_up() -> None:
    conn = Connection()
    worker = InsertWorker(conn)
    worker.start()
    worker.submit("insert", b"INSERT INTO t VALUES (1)", 1)
    cut_a_wake_up_short(worker.inbox)
    worker.submit("insert", b"INSERT INTO t VALUES (2)", 2)
    cut_a_wake_up_short(worker.inbox)  # now only the end is left to say
    assert ends(worker.finish), "finishing the load worker hung"
    assert conn.queries == [b"SET autocommit=1", b"INSERT INTO t VALUES (1)", b"INSERT INTO t VALUES (2)"]
    assert conn.closed


class WaitsRecorded(queue.Queue[Any]):
    """A queue that records every wait of a taker that ran out its time (the thread slept, not worked)."""

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self.ending = False
        self.slept_out = 0

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        try:
            return super().get(block, timeout)
        except queue.Empty:
            if self.ending:
                self.slept_out += 1
            raise


def waiting_for_more(pieces: queue.Queue[Any]) -> None:
    """Return once the taking thread waits on the empty queue."""
    while not (pieces.empty() and pieces.not_empty._waiters):  # type: ignore[attr-defined]
        threading.Event().wait(0.01)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Queues record their takers' waits; a wait runs long enough that sleeping it out cannot go unseen."""
    monkeypatch.setattr(queue, "Queue", WaitsRecorded)
    monkeypatch.setattr(handoff, "POLL_SECONDS", 2.0)


def test_ending_wakes_a_thread_waiting_for_more(recorded: None) -> None:
    pieces: WaitsRecorded = WaitsRecorded(maxsize=2)
    ended = threading.Event()
    got: list[int] = []
    taker = threading.Thread(target=lambda: got.extend(handoff.until_ended(pieces, ended)), daemon=True)
    taker.start()
    pieces.put(1)
    waiting_for_more(pieces)
    pieces.ending = True
    handoff.end(pieces, ended)
    taker.join(HANG)
    assert not taker.is_alive() and got == [1]
    assert pieces.slept_out == 0, "the thread slept out its wait after it was told to end"
    pieces.task_done()
    assert ends(pieces.join), "the wake-up was not counted as taken: queue.join() waits for it"


def test_ending_a_full_queue_gives_every_item_without_a_wait(recorded: None) -> None:
    pieces: WaitsRecorded = WaitsRecorded(maxsize=2)
    ended = threading.Event()
    got: list[int] = []
    pieces.put(1)
    pieces.put(2)
    pieces.ending = True
    handoff.end(pieces, ended)  # no room for the wake-up: the taker finds the end before it waits
    taker = threading.Thread(target=lambda: got.extend(handoff.until_ended(pieces, ended)), daemon=True)
    taker.start()
    taker.join(HANG)
    assert not taker.is_alive() and got == [1, 2] and pieces.slept_out == 0


def test_the_mysql_dump_writer_ends_as_soon_as_it_is_closed(recorded: None) -> None:
    # Every MySQL dump closed its writer this way and waited out the thread's look for the end (0.2 s).
    out = io.BytesIO()
    writer = Writer(out)
    writer.call(lambda: out.write(b"INSERT ...;\n"))
    assert isinstance(writer.queue, WaitsRecorded)
    waiting_for_more(writer.queue)
    writer.queue.ending = True
    assert ends(writer.close), "closing the dump writer hung"
    assert out.getvalue() == b"INSERT ...;\n"
    assert writer.queue.slept_out == 0, "the dump writer slept out its wait after it was closed"


def test_a_mysql_load_worker_ends_as_soon_as_it_is_finished(recorded: None) -> None:
    conn = Connection()
    worker = InsertWorker(conn)
    worker.start()
    worker.submit("insert", b"INSERT INTO t VALUES (1)", 1)
    worker.inbox.join()
    assert isinstance(worker.inbox, WaitsRecorded)
    waiting_for_more(worker.inbox)
    worker.inbox.ending = True
    assert ends(worker.finish), "finishing the load worker hung"
    assert conn.queries == [b"SET autocommit=1", b"INSERT INTO t VALUES (1)"] and conn.closed
    assert worker.inbox.slept_out == 0, "the load worker slept out its wait after it was finished"
