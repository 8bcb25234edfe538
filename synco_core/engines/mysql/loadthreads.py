"""The threads of a parallel MySQL load: the dump read and split beside the execution, and INSERT workers.

:class:`~synco_core.engines.mysql.load.Loader` decides what runs where; a :func:`barrier` waits for every
worker to finish what it was given (and raises the first failure), before a statement that depends on
the rows.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pymysql

from synco_core.engines.mysql import querypackets
from synco_core.engines.mysql.connect import describe
from synco_core.engines.mysql.gate import check_session
from synco_core.engines.mysql.splitter import (
    Statement,
    StatementSplitter,
    StreamedStatement,
    head_of,
    may_set_mode,
)
from synco_core.errors import DatabaseError
from synco_core.handoff import end, until_ended

log = logging.getLogger(__name__)


_DEADLOCK = 1213
_DEADLOCK_RETRIES = 5


#: A statement as the loader handles it: whole, or read from the dump as it is sent.
AnyStatement = Statement | StreamedStatement


#: ER_UNKNOWN_TIME_ZONE: the dump sets a named zone only around an event made in it.
_UNKNOWN_TIME_ZONE = 1298


def statement_error(number: int, sql: AnyStatement, exc: BaseException) -> DatabaseError:
    if isinstance(exc, pymysql.err.MySQLError) and exc.args[:1] == (_UNKNOWN_TIME_ZONE,):
        # Distribution packages leave the time zone tables empty; what to do is not in the server's words.
        return DatabaseError(f"the dump holds an event that runs in a time zone this server does not know "
                             f"({describe(exc)}): load its time zone tables (mariadb-tzinfo-to-sql "
                             "/usr/share/zoneinfo | mariadb mysql) and install again, or dump without --events")
    return DatabaseError(f"statement {number} of the dump failed: {describe(exc)}; statement: {preview(sql)}")


class StatementReader:
    """Reads and splits the dump in a thread of its own (decryption and decompression happen there
    too, inside the stream's ``read``), so that they overlap with the server executing statements.

    A :class:`StreamedStatement` is read by its user instead, as it is sent: this thread waits until the
    user asks for the next statement (the one after it is only read then). So it does after a statement that
    may change the sql_mode (:func:`~.splitter.may_set_mode`): the statements after it are split in the mode
    the server reports once it ran (the loader tells the splitter, :meth:`~.splitter.SqlModes.learn`), as
    the mariadb client splits them, whatever the statement's size or form."""

    QUEUE = 8

    def __init__(self, splitter: StatementSplitter) -> None:
        self.splitter = splitter
        self.queue: queue.Queue[tuple[int, AnyStatement] | None] = queue.Queue(maxsize=self.QUEUE)
        self.error: BaseException | None = None
        self.stopped = threading.Event()
        #: The statement whose handling this thread waits for before it reads on, and the handling's end.
        self._awaited: AnyStatement | None = None
        self._handled = threading.Event()
        self.thread = threading.Thread(target=self._run, name="synco-load-reader", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for statement in self.splitter:
                awaited = isinstance(statement, StreamedStatement) or may_set_mode(statement)
                if awaited:
                    self._handled.clear()
                    self._awaited = statement
                if not self._put((self.splitter.statements, statement)):
                    return
                if awaited and not self._wait():
                    return
        except BaseException as exc:  # Raised in the executing thread.
            self.error = exc
        self._put(None)

    def _wait(self) -> bool:
        """Wait until the user is done with the awaited statement; False when the reader is stopped first."""
        while not self._handled.wait(0.1):
            if self.stopped.is_set():
                return False
        return True

    def _put(self, item: tuple[int, AnyStatement] | None) -> bool:
        while not self.stopped.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[tuple[int, AnyStatement]]:
        while True:
            item = self.queue.get()
            if item is None:
                if self.error is not None:
                    raise self.error
                return
            yield item
            if item[1] is self._awaited:
                self._awaited = None
                self._handled.set()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()


class InsertWorker(threading.Thread):
    """Executes the INSERTs handed to it on its own connection, each committed on its own.

    ``commit`` items come from barriers (they wait for everything before them; with autocommit there is
    nothing left to commit), ``set`` items repeat the dump's session settings (character set, sql_mode),
    ``verify`` items check that the session came out as the main connection's did.
    """

    def __init__(self, conn: Any) -> None:
        super().__init__(name="synco-load-worker", daemon=True)
        self.conn = conn
        self.inbox: queue.Queue[tuple[str, Statement, int]] = queue.Queue(maxsize=2)
        self.error: tuple[int, Statement, BaseException] | None = None
        self.finished = False
        #: Set once nothing more is submitted (:mod:`synco_core.handoff`: no end marker to be missed).
        self.ended = threading.Event()
        # See the module docs: statement by statement costs the server half the CPU of one bulk transaction.
        conn.query("SET autocommit=1")

    def submit(self, kind: str, sql: Statement, number: int) -> None:
        self.inbox.put((kind, sql, number))

    def run(self) -> None:
        for item in until_ended(self.inbox, self.ended):
            try:
                kind, sql, number = item
                if self.error is not None:
                    continue
                try:
                    if kind == "insert":
                        self._insert(sql)
                    elif kind == "commit":
                        self._commit()
                    elif kind == "verify":
                        self._verify(sql, number)
                    else:
                        send(self.conn, sql)
                except BaseException as exc:  # Raised in the executing thread.
                    self.error = (number, sql, exc)
            finally:
                self.inbox.task_done()

    def _insert(self, sql: Statement) -> None:
        for attempt in range(_DEADLOCK_RETRIES):
            try:
                send(self.conn, sql)
                return
            except pymysql.err.OperationalError as exc:
                # Two workers on one table may still deadlock on an index page; the statement committed on
                # its own was rolled back whole, so running it again is exact.
                if exc.args[0] != _DEADLOCK or attempt == _DEADLOCK_RETRIES - 1:
                    raise
                log.debug("deadlock between load workers; running the statement again")

    def _verify(self, expected: Statement, number: int) -> None:
        """This connection's session must be the main one's after the same statement (``expected``): a setting
        that came out otherwise (``SET sql_mode = @m`` with ``@m`` chosen by a ``SELECT ... INTO`` on the main
        connection only) is given the main one's value."""
        if settings_key(self.conn) == expected:
            return
        # The checks are switches, set by number (the server refuses the text '1' for them).
        values = [int(value) if value.isdigit() else value for value in expected.decode().split("\n")]
        with self.conn.cursor() as cur:
            cur.execute("SET " + ", ".join(f"SESSION {name} = %s" for name in _SETTINGS), values)
        check_session(self.conn, number)
        if settings_key(self.conn) != expected:
            raise DatabaseError(f"refusing statement {number} of the dump: it leaves the load's connections "
                                "with different session settings")

    def _commit(self) -> None:
        self.conn.commit()

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        end(self.inbox, self.ended)
        self.join()
        try:
            self.conn.close()
        except Exception:
            log.debug("closing a load worker's connection failed", exc_info=True)


#: The session settings the workers must share with the main connection: how a statement is read (the gate
#: read it so) and what its rows become.
_SETTINGS = ("character_set_client", "collation_connection", "sql_mode", "time_zone", "foreign_key_checks",
             "unique_checks")


def settings_key(conn: Any) -> bytes:
    """The settings of ``conn``'s session the workers share, as a ``verify`` item of a worker's inbox carries them."""
    with conn.cursor() as cur:
        cur.execute("SELECT " + ", ".join(f"@@SESSION.{name}" for name in _SETTINGS))
        values = [value.decode() if isinstance(value, bytes) else str(value) for value in cur.fetchone()]
    return "\n".join(values).encode()


def barrier(workers: list[InsertWorker]) -> None:
    """Wait until every worker has executed and committed everything handed to it."""
    for worker in workers:
        worker.submit("commit", b"", 0)
    for worker in workers:
        worker.inbox.join()
    raise_worker_error(workers)


def raise_worker_error(workers: list[InsertWorker]) -> None:
    for worker in workers:
        if worker.error is not None:
            number, sql, exc = worker.error
            if isinstance(exc, pymysql.err.MySQLError):
                raise statement_error(number, sql, exc) from exc
            raise exc


def send(conn: Any, sql: AnyStatement) -> None:
    """``conn.query(sql)``; a streamed statement sent as it is read (:mod:`.querypackets`), one of many
    megabytes as a memoryview, which PyMySQL cuts into packets without copying (its bytes would be
    copied once more for every 16 MB packet)."""
    if isinstance(sql, StreamedStatement):
        querypackets.send_streamed(conn, sql)
    else:
        conn.query(memoryview(sql) if len(sql) > _SEND_VIEW else sql)


#: Statements longer than this are sent as a memoryview (see :func:`send`).
_SEND_VIEW = 1 << 20


def preview(statement: AnyStatement) -> str:
    """The start of a statement for an error message, never the values of an INSERT."""
    head = head_of(statement)[:120]
    cut = head.upper().find(b" VALUES")
    if cut >= 0:
        head = head[:cut] + b" VALUES ..."
    text = " ".join(bytes(head).decode("utf-8", "replace").split())
    return text if len(statement) <= 120 or cut >= 0 else text + " ..."
