"""Taking packed files out of their packs in worker processes, when there are many of them.

A first sync of hundreds of thousands of small files is bound by creating files: a few system calls each,
and the Python around them. In one process every one of those calls hands the GIL over between the
threads that fetch and the ones that write, and the Python work of all of them shares one core. Worker
processes (one per core, at most :data:`MAX_WORKERS`) each fetch, decrypt, check and write a share of
the packs with their own interpreter; this process keeps the index, the plan and the files that do not
come out of packs. On the development machine two processes created 300,000 files in 5 s where one took
8-11 s, and two threads of one process 6.3 s with no other Python work beside them.

Workers are used only where the files to take out of packs number at least :data:`MIN_FILES` (a worker's
start costs about a tenth of a second) and the transport can be opened again in another process
(:meth:`worker_spec`). A worker is ``python -m synco_core.receive.worker``; everything goes through its
stdin and stdout, framed by :func:`write_frame`: the transport and the pack table (secrets included: a
pipe, never the command line or the environment), then tasks, each answered by its outcome. The tasks
a worker that dies had not answered are done again here (writing a file twice is harmless: each is
checked against its hash and written whole before it is named); a stop (Ctrl-C) ends the workers with
the receive.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from synco_core import workerframes
from synco_core.childenv import child_environment
from synco_core.errors import SyncoError
from synco_core.localenames import UTF8_MODE_OPTION
from synco_core.receive.compare import PACKED
from synco_core.receive.files import (
    REFUSALS,
    InTheWay,
    NameNotHeld,
    _download_one,
    _Folders,
    content_matches,
    save_content,
)
from synco_core.receive.packfetch import Item, PackSource, fetch_from_pack
from synco_core.receive.transport import Transport, UnavailableError
from synco_core.redaction import register_secret
from synco_core.wire import PackInfo, PublicIndexEntry
from synco_core.workerframes import read_frame, write_frame

log = logging.getLogger(__name__)

#: Files to take out of packs before workers are worth starting.
MIN_FILES = 20_000
#: Workers at most, whatever the cores: each holds about 40 MB (its interpreter and imports), and the
#: receive's peak (itself and its workers, 131 MB at 300,000 files with two) must stay under 150 MB. Not
#: one: a single writing process spends only about a tenth less system time creating the files than two,
#: and would carry all their work on one core (docs/performance.md, branch h-i16).
MAX_WORKERS = 2
#: Threads of a worker that write files at a time (as PACK_WRITERS in the receive itself): with one, a
#: first sync of 300,000 files took 10.0-11.1 s, with two 10.0-10.6 s (its other threads fetch).
WRITERS = 2
#: Seconds stopped workers get to end before they are killed.
STOP_GRACE = 2.0
#: Polling interval of the waits, so that a stop is seen.
POLL = 0.25

#: A task as :func:`synco_core.receive.public._tasks` makes it: (kind, pack, files).
Task = tuple[int, int, list[Item]]


def _wire_item(item: Item) -> tuple[Any, ...]:
    relative, destination, entry = item
    return (relative, destination, *entry)


def _item(raw: tuple[Any, ...]) -> Item:
    relative, destination, *fields = raw
    return relative, destination, PublicIndexEntry(*fields)


@dataclass
class Outcome:
    """What became of one task's files."""

    #: Files of the task, each told to the progress once.
    files: int = 0
    downloaded: int = 0
    bytes: int = 0
    packed: int = 0
    size_checked: int = 0
    requests: int = 0
    #: (path, message, a refusal, not given by the server, a name the target cannot hold, a local file or
    #: folder in the way) per failed file.
    failures: list[tuple[str, str, bool, bool, bool, bool]] = field(default_factory=list)

    def frame(self, task_id: int) -> tuple[Any, ...]:
        return ("done", task_id, self.files, self.downloaded, self.bytes, self.packed, self.size_checked,
                self.requests, self.failures)


def worker_count(transport: Transport, packs: PackSource | None, packed_files: int, jobs: int) -> int:
    """How many worker processes to start for ``packed_files`` files to take out of ``packs`` (0: none)."""
    cores = workerframes.usable_cores()
    if packs is None or packed_files < MIN_FILES or jobs < 2 or cores < 2:
        return 0
    spec = getattr(transport, "worker_spec", None)
    if spec is None or spec() is None or not packs.packs:
        return 0
    return min(MAX_WORKERS, cores, jobs)


def worker_command() -> list[str]:
    """The command line of a worker process: this interpreter running this module (nothing secret)."""
    # UTF-8 mode as the parent (synco_core.localenames): the worker writes the names it is given.
    return [sys.executable, *UTF8_MODE_OPTION, "-m", "synco_core.receive.worker"]


class _Worker:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        #: Tasks sent and not answered yet, by id.
        self.outstanding: dict[int, Task] = {}
        self.lock = threading.Lock()
        self.alive = True
        self.ended = threading.Event()


class PackWorkers:
    """Worker processes taking the packed files of a receive; :meth:`route` hands them their tasks."""

    def __init__(self, count: int, transport: Transport, packs: PackSource, *, staged: bool, jobs: int,
                 on_outcome: Callable[[Outcome], None], stop: threading.Event) -> None:
        spec = transport.worker_spec()  # type: ignore[attr-defined]
        header = {"role": "packs", "transport": spec, "folder": packs.folder,
                  "packs": [p.to_json() for p in packs.packs],
                  "staged": staged, "threads": max(2, jobs // count),
                  "debug": logging.getLogger("synco_core").isEnabledFor(logging.DEBUG)}
        self._on_outcome = on_outcome
        self._stop = stop
        self._next_id = 0
        self._workers: list[_Worker] = []
        try:
            for _ in range(count):
                process = subprocess.Popen(worker_command(), stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, close_fds=True, env=child_environment())
                worker = _Worker(process)
                self._workers.append(worker)
                assert process.stdin is not None
                write_frame(process.stdin, header)
                threading.Thread(target=self._read, args=(worker,), name="synco-pack-worker-reader",
                                 daemon=True).start()
        except BaseException:
            self.close(kill=True)
            raise
        log.debug("%d worker process(es) take the packed files", count)

    def route(self, tasks: Iterable[Task]) -> Iterator[Task]:
        """``tasks`` without the ones a worker took (all packed ones while a worker lives)."""
        for task in tasks:
            if task[0] == PACKED and self._send(task):
                continue
            yield task

    def _send(self, task: Task) -> bool:
        while True:
            live = [worker for worker in self._workers if worker.alive]
            if not live:
                return False
            worker = min(live, key=lambda w: len(w.outstanding))
            task_id = self._next_id
            self._next_id += 1
            with worker.lock:
                worker.outstanding[task_id] = task
            try:
                assert worker.process.stdin is not None
                write_frame(worker.process.stdin, ("task", task_id, task[1], [_wire_item(i) for i in task[2]]))
                return True
            except OSError:
                # Gone: its reader reports what it had not answered; this task goes elsewhere.
                with worker.lock:
                    worker.outstanding.pop(task_id, None)
                worker.alive = False

    def _read(self, worker: _Worker) -> None:
        assert worker.process.stdout is not None
        try:
            while True:
                frame = read_frame(worker.process.stdout)
                if frame[0] == "done":
                    _, task_id, *fields = frame
                    with worker.lock:
                        worker.outstanding.pop(task_id, None)
                    self._on_outcome(Outcome(*fields))
        except (EOFError, OSError, ValueError, TypeError):
            pass
        finally:
            worker.alive = False
            worker.ended.set()

    def finish(self) -> list[Task]:
        """Tell the workers no task follows and wait for their last answers; returns the tasks of workers
        that ended without answering them, for the caller to do itself."""
        lost: list[Task] = []
        for worker in self._workers:
            with contextlib.suppress(OSError):
                assert worker.process.stdin is not None
                worker.process.stdin.close()
        for worker in self._workers:
            while not worker.ended.wait(POLL):
                if self._stop.is_set():
                    return []
            status = worker.process.wait()
            with worker.lock:
                left = list(worker.outstanding.values())
                worker.outstanding.clear()
            if left:
                log.warning("a worker process ended (exit status %s) before %d task(s) of packed files were "
                            "done; they are done here", status, len(left))
                lost += left
        return lost

    def close(self, *, kill: bool = False) -> None:
        """End the workers: at once with ``kill`` (a stop), else once they are through."""
        for worker in self._workers:
            process = worker.process
            with contextlib.suppress(OSError):
                if process.stdin is not None:
                    process.stdin.close()
            if kill and process.poll() is None:
                process.terminate()
            try:
                process.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def transport_from_spec(spec: dict[str, Any], jobs: int) -> Transport:
    """The transport a worker opens from its parent's :meth:`worker_spec`."""
    if spec["kind"] == "http":
        from synco_core.receive.http_transport import HttpTransport

        auth = spec.get("auth")
        if auth:
            register_secret(auth[1])
        return HttpTransport(spec["base_url"], verify=spec["verify"], timeout=spec["timeout"],
                             max_connections=jobs, auth=(auth[0], auth[1]) if auth else None,
                             pins=spec.get("pins"))
    if spec["kind"] == "directory":
        from pathlib import Path

        from synco_core.receive.directory import DirectoryTransport

        return DirectoryTransport(Path(spec["root"]))
    raise ValueError(f"unknown transport {spec['kind']!r}")


def _run_task(transport: Transport, packs: PackSource, pack: int, items: list[Item], *, staged: bool,
              folders: _Folders, writers: threading.Semaphore, stop: threading.Event) -> Outcome:
    """Take ``items`` out of pack ``pack`` (from their URLs where the pack cannot give them) and write them."""
    outcome = Outcome(files=len(items))

    def record(relative: str, entry: PublicIndexEntry, save: Callable[[], int]) -> None:
        if not (entry.sha256 or entry.sha1):
            outcome.size_checked += 1
        try:
            size = save()
        except SyncoError as exc:
            outcome.failures.append((relative, str(exc), isinstance(exc, REFUSALS),
                                     isinstance(exc, UnavailableError), isinstance(exc, NameNotHeld),
                                     isinstance(exc, InTheWay)))
        except OSError as exc:
            outcome.failures.append((relative, exc.strerror or str(exc), False, False, False, False))
        else:
            outcome.downloaded += 1
            outcome.bytes += size

    held = False

    def deliver(item: Item, data: bytes) -> bool:
        nonlocal held
        relative, destination, entry = item
        if not content_matches(entry, data):
            return False
        if not held:
            writers.acquire()
            held = True
        record(relative, entry, lambda: save_content(destination, entry, data, folders, staged=staged))
        outcome.packed += 1
        return True

    def count_request() -> None:
        outcome.requests += 1

    try:
        left = fetch_from_pack(transport, packs, pack, items, deliver, stop, count_request)
    finally:
        if held:
            writers.release()
    for relative, destination, entry in left:
        if stop.is_set():
            break
        record(relative, entry, lambda: _download_one(transport, destination, entry,  # noqa: B023
                                                      lambda _n: None, folders, stop))
    return outcome


def worker_main(header: dict[str, Any], stdin: IO[bytes], stdout: IO[bytes]) -> int:
    """A worker of packed files: tasks until the end of stdin, each answered on stdout."""
    from synco_core.cli.main import setup_logging
    from synco_core.receive.public import run_stoppable

    setup_logging(bool(header["debug"]))
    threads = int(header["threads"])
    table = [PackInfo.from_json(raw, "pack table") for raw in header["packs"]]
    for info in table:
        register_secret(info.payload_key.hex())
    transport = transport_from_spec(header["transport"], threads)
    packs = PackSource(header["folder"], lambda: table)
    staged = bool(header["staged"])
    folders = _Folders()
    writers = threading.BoundedSemaphore(WRITERS)
    answer = threading.Lock()
    stop = threading.Event()

    def tasks() -> Iterator[tuple[int, int, list[Item]]]:
        while True:
            try:
                frame = read_frame(stdin)
            except EOFError:
                return
            _, task_id, pack, raw_items = frame
            yield task_id, pack, [_item(raw) for raw in raw_items]

    def work(task: tuple[int, int, list[Item]]) -> None:
        task_id, pack, items = task
        outcome = _run_task(transport, packs, pack, items, staged=staged, folders=folders, writers=writers,
                            stop=stop)
        with answer:
            write_frame(stdout, outcome.frame(task_id))

    try:
        run_stoppable(tasks(), work, threads, stop, getattr(transport, "abort", lambda: None))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    finally:
        transport.close()
    return 0
