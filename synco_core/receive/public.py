"""Downloading a public file set: many files in parallel over keep-alive connections, skipping what is current.

A file is skipped when the local copy has the index's size and mtime (and SHA-1 where the index has
one). Everything else downloads to ``<file>.synco-part``, is checked against the index's size and content
hash (SHA-256 in sessions of this synco, SHA-1 where Flow gave one; Go synco v2 sessions have none, and
their files are checked by size only), gets the index's mtime, and is renamed into place; a failure
affects only that one file. A set received for the first time goes into a staging folder, where files out
of packs are written under their own names (:mod:`.staging`), and many packed files are taken by worker
processes (:mod:`.workers`).

A download that breaks off (a dropped connection, Ctrl-C) keeps its part file, stamped with the index's
mtime so the next run knows which version of the file it holds; that run asks only for the rest
(``Range: bytes=N-``). Files the server will not give (403, 404: a ``deny`` rule, or removed since
``serve``) are reported apart from other failures, since running again cannot fetch them.

The downloads run in daemon threads that stop between two chunks when told to: Ctrl-C ends a receive
within a moment whatever is downloading, and never waits for a large file to finish.

A body longer than the index says is cut off as it arrives
(:func:`synco_core.receive.limits.check_declared`), and no file is written through a link
(:func:`synco_core.beneath.check_no_links`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from synco_core import trees
from synco_core.errors import SyncoError, TransferError
from synco_core.globs import ExcludeMatcher
from synco_core.index.packs import PACK_MAX_FILES
from synco_core.receive.compare import (
    ALONE,
    PACKED,
    WHOLE,
    IndexItems,
    PublicPlan,
    TodoSpool,
)
from synco_core.receive.files import (
    PART_SUFFIX,
    REFUSALS,
    STALE,
    DownloadStopped,
    InTheWay,
    NameNotHeld,
    _download_one,
    _Folders,
    _save,
    _unlink,
    can_ask_fresh,
    content_matches,
    local_paths,
    remote_path_for,
    save_content,
    save_past_caches,
)
from synco_core.receive.interception import InterceptedError, SiteWitness
from synco_core.receive.knownhashes import KnownHashes
from synco_core.receive.merged import MergedSet, merge_with_folder, replay_current
from synco_core.receive.packfetch import Item, PackSource, fetch_from_pack
from synco_core.receive.staging import put_in_place, receiving_folder
from synco_core.receive.transport import Response, Transport, UnavailableError
from synco_core.receive.treedigest import local_tree_digest
from synco_core.receive.workers import Outcome, PackWorkers, worker_count
from synco_core.wire import PublicFilesInfo, PublicIndexEntry

log = logging.getLogger(__name__)


#: Most requests sent at once on one connection (HTTP/1.1 pipelining): a batch costs one round trip, not 64.
PIPELINE_DEPTH = 64


#: A pipelined batch that breaks off (a server ending kept-alive connections after N requests) is sent again
#: for its remaining files on a fresh connection; after this many attempts without progress, one by one.
PIPELINE_ATTEMPTS = 3


#: Seconds the download threads get, once told to stop, to set their part files aside before the receive
#: ends without them.
STOP_GRACE = 0.5


T = TypeVar("T")


#: What a file's answer is judged as that a network answering for the site looks like too: the server will not
#: give it (403, 404, a fallback page), or it came as another version (another size or hash).
DOUBTFUL = (UnavailableError, *STALE)


def batch_size(files: int, jobs: int) -> int:
    """Files per pipelined batch: every connection gets work in the first round trip, at most PIPELINE_DEPTH.

    A re-sync downloads a few hundred files; in batches of a fixed 16 that took two or three round trips
    per connection where one would do. A first sync of thousands of files uses the full depth, so each
    connection waits for a round trip once per 64 files instead of once per 16.
    """
    return max(1, min(PIPELINE_DEPTH, -(-files // max(1, jobs))))


@dataclass
class PublicResult:
    """What happened to one public set."""

    #: Files in the index.
    listed: int = 0
    downloaded: int = 0
    skipped: int = 0
    bytes: int = 0
    #: Downloaded files the index gave no content hash for (checked by their size only).
    size_checked: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: The failed files the server will not give (HTTP 403/404/410): running again cannot fetch them.
    missing: list[str] = field(default_factory=list)
    #: Local files the index no longer lists (removed with ``--delete``).
    vanished: list[str] = field(default_factory=list)
    removed: int = 0
    #: Local files the index does not list that serve's exclude rules match: the laptop's own, kept.
    kept: int = 0
    #: How many of ``failed`` were refused (unsafe, larger than declared, not to be fetched from): a new
    #: attempt would fail the same way.
    refused: int = 0
    #: How many of ``failed`` the folder takes for other files of the index (names differing only in case on
    #: a case-insensitive file system): never written, whatever the attempt.
    same_name: int = 0
    #: How many of ``failed`` a local file or folder the index does not list is in the way of (:class:`InTheWay`):
    #: ``--delete`` makes room for them, running again without it does not.
    in_the_way: int = 0
    #: Files that came out of packs, and the ranged requests that fetched them.
    packed: int = 0
    pack_requests: int = 0
    #: The digest of the index's paths, sizes and mtimes (:mod:`synco_core.receive.treedigest`), and the
    #: bytes it covers; None without one.
    tree: str | None = None
    tree_bytes: int = 0


def run_stoppable(tasks: Iterable[T], work: Callable[[T], None], workers: int, stop: threading.Event,
                  on_stop: Callable[[], None] = lambda: None) -> None:
    """Run ``work`` on every task in ``workers`` daemon threads, in the order given; stoppable at any moment.

    ``tasks`` may be a lazy iterator (a spool read as the threads ask): it is advanced under a lock. The
    calling thread only waits. When it is interrupted (Ctrl-C raises ``KeyboardInterrupt`` there),
    ``stop`` is set and ``on_stop`` called (which breaks the open connections), the threads get
    :data:`STOP_GRACE` seconds to set their part files aside, and the interruption goes on: nothing
    waits for a download to finish, and the threads, being daemons, never hold up the exit. An
    exception raised by ``work`` or by ``tasks`` (a bug: expected failures are recorded, not raised) is
    raised here.
    """
    pending = iter(tasks)
    lock = threading.Lock()
    errors: list[BaseException] = []
    count = max(1, min(workers, len(tasks))) if isinstance(tasks, Sized) else max(1, workers)
    running = [count]
    # The waiting thread waits on this event, never in Thread.join: a Ctrl-C that lands inside join()
    # can leave the thread marked as ended while it runs on (CPython's bpo-45274 handling), and the
    # grace period below would then not wait for it.
    finished = threading.Event()

    def loop() -> None:
        try:
            while not stop.is_set():
                try:
                    with lock:
                        task = next(pending, None)
                except BaseException as exc:
                    errors.append(exc)
                    stop.set()
                    return
                if task is None:
                    return
                try:
                    work(task)
                except BaseException as exc:  # Raised in the waiting thread below.
                    errors.append(exc)
                    stop.set()
                    return
        finally:
            with lock:
                running[0] -= 1
                if not running[0]:
                    finished.set()

    for number in range(count):
        threading.Thread(target=loop, name=f"synco-get-{number}", daemon=True).start()
    try:
        while not finished.wait(0.25):
            pass
    except BaseException:
        log.debug("stopping the downloads")
        stop.set()
        on_stop()
        finished.wait(STOP_GRACE)
        raise
    if errors:
        raise errors[0]


#: Most files of one pack per task: a pack of thousands of small files is read as a few ranged requests in
#: parallel (each costs at most one chunk read twice where two tasks meet), never more than a pack's worth.
PACK_TASK_FILES = min(1024, PACK_MAX_FILES)


#: Threads writing the files of packs at the same time. Every file costs a few system calls, each of which
#: hands the GIL over: with eight threads doing that at once they spent more time waking each other
#: (31 futex calls per file, 495,000 for 20,000 files) than creating files; with two, 4,000 in all. The
#: other threads go on fetching, so requests still overlap their round trips.
PACK_WRITERS = 2


#: Seconds between two looks at the stop flag while a thread waits for its turn to write.
STOP_POLL = 0.1


def _tasks(spool: TodoSpool, set_dir: Path, batch: int) -> Iterator[tuple[int, int, list[Item]]]:
    """The spool as (kind, pack, files) tasks: pipelined batches, single files, and runs of one pack.

    A pack's files come together in index order (serve fills packs in that order); a run ends at another
    pack or at :data:`PACK_TASK_FILES` files, so the threads share a pack's files (writing files is most of
    a first sync's time, and the file system takes them in parallel) and a task holds a bounded number.
    """
    whole: list[Item] = []
    packed: list[Item] = []
    pack = -1
    local = local_paths(set_dir)
    for kind, relative, entry in spool:
        item = (relative, local(relative), entry)
        if kind == PACKED:
            if packed and (entry.pack != pack or len(packed) >= PACK_TASK_FILES):
                yield PACKED, pack, packed
                packed = []
            pack = entry.pack if entry.pack is not None else -1
            packed.append(item)
        elif kind == ALONE:
            yield ALONE, -1, [item]
        else:
            whole.append(item)
            if len(whole) >= batch:
                yield WHOLE, -1, whole
                whole = []
    if packed:
        yield PACKED, pack, packed
    if whole:
        yield WHOLE, -1, whole


def deletes_in(info: PublicFilesInfo, delete: bool) -> bool:
    """Whether ``--delete`` may remove local files of this public set.

    Not when serve left some of the set's files out (a folder it could not list, a link leading out of the
    set): their local copies would look gone from the server and be removed. rsync, likewise, deletes
    nothing after an I/O error on the sending side.
    """
    return delete and not info.left_out_count


class DeleteLimitError(SyncoError):
    """``--delete`` would remove more of a set's local files than allowed (``--max-delete``, or by default
    all of them): nothing of the set was changed."""


def delete_refusal(listed: int, removing: int, max_delete: int | None,
                   outcome: str = "nothing of it was changed", deleted_before: int = 0) -> str | None:
    """Why ``--delete`` may not remove ``removing`` local files of a set whose index lists ``listed``, or None.

    With ``max_delete`` (``--max-delete N``): more than N files. Without it, only a set the server lists
    no file in while the laptop holds some: an unmounted share on the server (an empty mount point, or one
    holding nothing but dotfiles, which public sets leave out) is published exactly like that, and took the
    laptop's whole copy. unison asks before propagating the emptying of a whole replica for the same reason
    (``confirmbigdeletes``); rsync's ``--max-delete`` is the explicit form. Files removed from a set one by
    one, or all but one, are removed as rsync's ``--delete`` does. ``outcome`` says what became of the set (a
    plan says what would). ``--max-delete`` is a total over a run (:mod:`synco_core.receive.deletions`):
    ``deleted_before`` files went in its earlier sets.
    """
    if max_delete is not None:
        if deleted_before + removing > max_delete:
            before = f" after {deleted_before} in earlier sets" if deleted_before else ""
            return (f"--delete would remove {removing} local file(s) of this set{before}, more than --max-delete "
                    f"{max_delete}; {outcome}")
        return None
    if not listed and removing:
        return (f"the server lists no file in this set, and --delete would remove all {removing} local file(s) of "
                f"it (a share not mounted on the server looks like this); {outcome}: pass "
                f"--max-delete {removing} if the set was emptied on purpose")
    return None


def receive_public_files(
    transport: Transport,
    index: IndexItems | Mapping[str, PublicIndexEntry],
    set_dir: Path,
    jobs: int = 8,
    delete: bool = False,
    on_bytes: Callable[[int], None] | None = None,
    on_file: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
    packs: PackSource | None = None,
    scratch: Path | None = None,
    known: KnownHashes | None = None,
    max_delete: int | None = None,
    keep: Callable[[str], bool] | None = None,
    deleted_before: int = 0,
    merged: MergedSet | None = None,
    witness: SiteWitness | None = None,
) -> PublicResult:
    """Bring ``set_dir`` up to date with ``index``; per-file failures are collected, never raised.

    Two passes: the index is merged with the folder (:func:`compare_public_files`) to the end first, so
    a malformed index is refused before anything is fetched and the walk never sees this run's own
    files; the files to fetch, spooled in ``scratch``, are then fetched by ``jobs`` threads. Files in
    ``packs`` come out of their packs (a file whose pack cannot give it comes from its URL).

    ``on_file`` is called once per file of the index: with its size when it was current (skipped), with 0
    when it was downloaded or failed. ``stop`` (set by the caller, or here on Ctrl-C) ends the downloads
    between two chunks; the part files of unfinished ones are kept for the next run. Local files the index
    does not list are removed only with ``delete``, and only once the whole index has been read.
    ``known`` (:mod:`synco_core.receive.knownhashes`) is kept when every file arrived, else discarded.
    With ``delete``, a set that would lose more local files than :func:`delete_refusal` allows
    (``max_delete``, of which ``deleted_before`` went in the run's earlier sets) raises :class:`DeleteLimitError`
    once merged, before anything is removed or fetched. The run as a whole was judged before it started
    (:mod:`synco_core.receive.deletions`): this holds the line should the folder have changed meanwhile.
    Local files ``keep`` matches (serve's exclude rules, :mod:`synco_core.receive.kept`) are never vanished.

    ``merged`` is the set's merge made before the run was judged (:mod:`synco_core.receive.merged`): its plan,
    spool, hashes and packs are taken instead of merging ``index`` again.

    ``witness`` (:mod:`synco_core.receive.interception`) vouches for every file judged missing or of another
    version that the site itself still answers; where something else answers for it (a captive portal, a
    proxy's block page), :class:`~synco_core.receive.interception.InterceptedError` ends the set at once.
    """
    work_dir, staged = receiving_folder(set_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    stop = stop or threading.Event()
    lock = threading.Lock()
    folders = _Folders()
    report_bytes = on_bytes or (lambda _n: None)
    if merged is not None:
        spool, known, packs = merged.take().spool, merged.known, merged.packs
    else:
        spool = TodoSpool(scratch)
    through = False
    try:
        if merged is not None:
            plan = merged.plan
            replay_current(plan, on_file)
        else:
            plan = merge_with_folder(index, work_dir, spool, packs, known, keep, on_file)
        through = True
        result = PublicResult(listed=plan.listed, skipped=plan.skipped,
                              failed=list(plan.refused) + plan.same_name, refused=len(plan.refused),
                              same_name=len(plan.same_name))
        if on_file is not None:
            for _same in plan.same_name:
                on_file(0)
        result.vanished = plan.vanished
        result.kept = plan.kept
        if delete:
            refusal = delete_refusal(plan.listed, removable(plan.vanished), max_delete,
                                     deleted_before=deleted_before)
            if refusal is not None:
                raise DeleteLimitError(refusal)
            # Before the fetch, as rsync's --delete-during: a file the server turned into a folder (or the
            # other way round) is in the way of what replaces it until it is gone. Part files go after it:
            # the fetch continues the one of the listed version (no part is in any file's way).
            result.removed = remove_vanished(work_dir, [path for path in result.vanished
                                                        if not path.endswith(PART_SUFFIX)])
            remove_empty_folders(work_dir, keep)
        _fetch(transport, spool, plan, work_dir, jobs, result, lock, folders, report_bytes, on_file, stop, packs,
               staged, witness)
        if witness is not None and result.failed:
            # Worker processes judge files with no witness of their own (and record a portal's 511 as one file's
            # failure): one look now vouches for them all.
            witness.confirm(time.monotonic(), within=0)
    except BaseException:
        if known is not None:
            # Once the merge is through, files may have arrived: the old hashes would take one that did, in a
            # version of the same size and mtime, for the version they noted.
            if through:
                known.keep_partial()
            else:
                known.discard()
        raise
    finally:
        spool.close()
    failed = {path for path, _reason in result.failed}
    for holder, relative in plan.respell:
        if relative not in failed:
            _take_name(work_dir, holder, relative)
    if known is not None:
        # Every file holds what the index says only when none failed (a file that did not arrive is the
        # old version, which the hashes noted would take for the new one); else every file to fetch is noted
        # as pending, arrived or not: the next receive reads such a file of the index's size and mtime to
        # tell.
        if result.failed:
            known.keep_partial()
        else:
            known.commit()
    if delete:
        result.removed += remove_vanished(work_dir, [path for path in result.vanished if path.endswith(PART_SUFFIX)])
    if staged:
        put_in_place(work_dir, set_dir)
    # The folder now holds exactly the index (every file current, nothing else but what ``keep`` matches,
    # which the quick re-sync's walk leaves out too) only when nothing failed and nothing else the index does
    # not list is left.
    walk_keep = keep if isinstance(keep, ExcludeMatcher) else None
    if plan.tree is not None and not result.failed and (delete or not result.vanished) \
            and (not result.kept or walk_keep is not None):
        result.tree, result.tree_bytes = plan.tree.hexdigest(), plan.tree.bytes
        if plan.stored_otherwise:
            # The folder's own names (decomposed by HFS+, without a dot at the end) are what a later walk
            # finds: digested as they are now, or no re-sync would ever pass without the index.
            local = local_tree_digest(set_dir, walk_keep)
            if local is not None and local.files == plan.tree.files:
                result.tree = local.hexdigest()
    return result


def removable(vanished: list[str]) -> int:
    """How many of the vanished paths are the user's files (part files are the receive's own)."""
    return sum(1 for path in vanished if not path.endswith(PART_SUFFIX))


def remove_vanished(set_dir: Path, vanished: list[str]) -> int:
    """Remove the local files the index does not list, and the folders that leaves empty (the index lists
    files only: a folder holding none of them is not the server's, and one where the index now has a file
    would be in its way); returns the number of files removed."""
    emptied: set[str] = set()
    for relative in vanished:
        parts = relative.split("/")
        _unlink(os.path.join(set_dir, *parts))
        emptied.update("/".join(parts[:depth]) for depth in range(1, len(parts)))
    # The deepest first, so that a folder emptied of folders goes too; one still holding anything stays.
    for folder in sorted(emptied, key=lambda name: name.count("/"), reverse=True):
        with contextlib.suppress(OSError):
            os.rmdir(os.path.join(set_dir, *folder.split("/")))
    return len(vanished)


def remove_empty_folders(set_dir: Path, keep: Callable[[str], bool] | None = None) -> None:
    """Remove the folders below ``set_dir`` that hold no file, never ``set_dir`` itself and never through a link.

    The index lists files only, so a folder holding none of its files (after the vanished ones went) is not the
    server's, as rsync's ``--delete`` removes a folder the source does not have. The deepest go first, so a
    folder of empty folders goes too; anything holding a file (or a link, or what appeared meanwhile) stays,
    as ``rmdir`` removes an empty folder only. Run before the fetch, which makes the folders it needs. An
    empty folder ``keep`` matches (serve's exclude rules) is the laptop's and stays, and so do those above it.
    """
    trees.remove_empty_folders(set_dir, keep)


def _take_name(set_dir: Path, holder: str, relative: str) -> None:
    """Give the file just fetched into local file ``holder`` the index's spelling of its name, ``relative``.

    A case-insensitive file system may keep the old spelling when a file replaces another: the next run
    would find the index's name missing and fetch it again. Only the last segment is renamed (a folder's
    spelling is the folder's, shared by other files).
    """
    old = os.path.join(set_dir, *holder.split("/"))
    leaf = relative.rpartition("/")[2]
    if os.path.basename(old) != leaf:
        with contextlib.suppress(OSError):
            os.rename(old, os.path.join(os.path.dirname(old), leaf))


class _AskAgain(Exception):
    """A pipelined file came as another version: it is asked for again past the caches after its batch."""

    def __init__(self, first: TransferError) -> None:
        super().__init__(str(first))
        self.first = first


def _fetch(transport: Transport, spool: TodoSpool, plan: PublicPlan, set_dir: Path, jobs: int,
           result: PublicResult, lock: threading.Lock, folders: _Folders, report_bytes: Callable[[int], None],
           on_file: Callable[[int], None] | None, stop: threading.Event, packs: PackSource | None,
           staged: bool = False, witness: SiteWitness | None = None) -> None:
    if not spool.count:
        return

    def record(relative: str, save: Callable[[], int]) -> None:
        try:
            size = save()
        except InterceptedError:
            raise
        except SyncoError as exc:
            if witness is not None and isinstance(exc, DOUBTFUL):
                # Raises, ending the set, when a portal or a block page answers in the site's place.
                witness.confirm(time.monotonic())
            with lock:
                result.failed.append((relative, str(exc)))
                if isinstance(exc, UnavailableError):
                    result.missing.append(relative)
                if isinstance(exc, REFUSALS):
                    result.refused += 1
                if isinstance(exc, NameNotHeld):
                    result.same_name += 1
                if isinstance(exc, InTheWay):
                    result.in_the_way += 1
        except OSError as exc:
            with lock:
                result.failed.append((relative, exc.strerror or str(exc)))
        else:
            with lock:
                result.downloaded += 1
                result.bytes += size
        if on_file is not None:
            on_file(0)

    def record_entry(relative: str, entry: PublicIndexEntry, save: Callable[[], int]) -> None:
        if not (entry.sha256 or entry.sha1):
            with lock:
                result.size_checked += 1
        record(relative, save)

    def work(item: Item) -> None:
        relative, destination, entry = item
        record_entry(relative, entry,
                     lambda: _download_one(transport, destination, entry, report_bytes, folders, stop))

    open_many = getattr(transport, "open_many", None) if getattr(transport, "pipelining", True) else None

    def save_batched(response: Response, destination: str, entry: PublicIndexEntry) -> int:
        """Save a pipelined answer; one of another version is left for :func:`save_past_caches` (not asked for
        here: the rest of the batch is still coming in on this connection)."""
        try:
            return _save(response, destination, entry, report_bytes, folders, stop)
        except STALE as exc:
            if not can_ask_fresh(transport):
                raise
            raise _AskAgain(exc) from None

    def work_batch(batch: list[Item]) -> None:
        """Pipelined round trips for the batch where the transport can; one request per file otherwise."""
        pending = list(range(len(batch)))
        attempts = 0
        stale: list[tuple[int, TransferError]] = []
        while open_many is not None and len(pending) > 1 and attempts < PIPELINE_ATTEMPTS and not stop.is_set():
            attempts += 1
            done: set[int] = set()
            try:
                responses = open_many([remote_path_for(batch[index][2]) for index in pending])
                for position, response in responses:
                    if response is None:
                        continue
                    relative, destination, entry = batch[pending[position]]
                    # A body that breaks off fails its file (the next run resumes it) and then ends the batch;
                    # a wrong size or hash, or a local write error, only fails the file.
                    try:
                        record_entry(relative, entry, lambda: save_batched(response, destination,  # noqa: B023
                                                                            entry))  # noqa: B023
                    except _AskAgain as again:
                        # Asked for again past the caches once this connection's batch is through.
                        stale.append((pending[position], again.first))
                    done.add(position)
                # Answered, but not with a plain 200 (a redirect, a 404): open() below deals with those.
                pending = [index for position, index in enumerate(pending) if position not in done]
                break
            except TransferError as exc:
                log.debug("pipelining stopped (%s); %d files of the batch left", exc, len(pending) - len(done))
                if done:
                    attempts = 0
                pending = [index for position, index in enumerate(pending) if position not in done]
        for index in pending:
            if stop.is_set():
                return
            work(batch[index])
        for index, first in stale:
            if stop.is_set():
                return
            relative, destination, entry = batch[index]
            record_entry(relative, entry, lambda: save_past_caches(
                transport, destination, entry, report_bytes, folders, stop, first))  # noqa: B023

    def deliver(item: Item, data: bytes) -> bool:
        relative, destination, entry = item
        if not content_matches(entry, data):
            return False

        def save() -> int:
            size = save_content(destination, entry, data, folders, staged=staged)
            report_bytes(size)
            return size

        record_entry(relative, entry, save)
        with lock:
            result.packed += 1
        return True

    # Threads that write the files of a pack at a time (see PACK_WRITERS); the others fetch meanwhile.
    writers = threading.BoundedSemaphore(PACK_WRITERS)

    def count_request() -> None:
        with lock:
            result.pack_requests += 1

    def work_task(task: tuple[int, int, list[Item]]) -> None:
        kind, pack, items = task
        if kind == PACKED and packs is not None:
            held = False

            def deliver_in_slot(item: Item, data: bytes) -> bool:
                nonlocal held
                while not held:
                    if stop.is_set():
                        raise DownloadStopped("stopped")
                    held = writers.acquire(timeout=STOP_POLL)
                return deliver(item, data)

            try:
                left = fetch_from_pack(transport, packs, pack, items, deliver_in_slot, stop, count_request)
            finally:
                if held:
                    writers.release()
            if left and not stop.is_set():
                log.debug("%d file(s) of pack %d from their URL", len(left), pack)
                work_batch(left)
        elif kind == ALONE:
            work(items[0])
        else:
            work_batch(items)

    # A transport may know better (a channel is one stream: few readers, long batches).
    size = getattr(transport, "pipeline_files", None) or batch_size(plan.kinds[WHOLE], jobs)
    readers = min(jobs, getattr(transport, "pipeline_readers", None) or jobs)
    # Files on other hosts (a CDN), part files to continue and packs want their own requests, in parallel.
    workers = readers if not (plan.kinds[ALONE] or plan.kinds[PACKED]) else jobs
    tasks: Iterable[tuple[int, int, list[Item]]] = _tasks(spool, set_dir, size)
    processes = _pack_workers(transport, packs, plan, jobs, staged, result, lock, report_bytes, on_file, stop)
    if processes is not None:
        tasks = processes.route(tasks)
    try:
        run_stoppable(tasks, work_task, workers, stop, getattr(transport, "abort", lambda: None))
        if processes is not None:
            # The tasks of a worker that died: done here.
            run_stoppable(processes.finish(), work_task, workers, stop, getattr(transport, "abort", lambda: None))
    except BaseException:
        # Ctrl-C while the workers finish: they are ended at once, not waited for.
        stop.set()
        raise
    finally:
        if processes is not None:
            processes.close(kill=stop.is_set())


def _pack_workers(transport: Transport, packs: PackSource | None, plan: PublicPlan, jobs: int, staged: bool,
                  result: PublicResult, lock: threading.Lock, report_bytes: Callable[[int], None],
                  on_file: Callable[[int], None] | None, stop: threading.Event) -> PackWorkers | None:
    """Worker processes for the packed files, where there are enough of them (:mod:`.workers`)."""
    count = worker_count(transport, packs, plan.kinds[PACKED], jobs)
    if not count or packs is None:
        return None

    def apply(outcome: Outcome) -> None:
        with lock:
            result.downloaded += outcome.downloaded
            result.bytes += outcome.bytes
            result.packed += outcome.packed
            result.size_checked += outcome.size_checked
            result.pack_requests += outcome.requests
            for relative, message, refused, missing, not_held, in_the_way in outcome.failures:
                result.failed.append((relative, message))
                result.refused += refused
                result.same_name += not_held
                result.in_the_way += in_the_way
                if missing:
                    result.missing.append(relative)
        report_bytes(outcome.bytes)
        if on_file is not None:
            for _ in range(outcome.files):
                on_file(0)

    try:
        return PackWorkers(count, transport, packs, staged=staged, jobs=jobs, on_outcome=apply, stop=stop)
    except OSError as exc:
        log.debug("no worker processes (%s); the packed files are taken here", exc)
        return None
