"""``--max-delete N`` judges the run from the receive's own merge: each changed set's index is read once.

The count before the run (:func:`synco_core.receive.session._check_run`) used to merge every changed set's
index with its folder, and the receive merged it again: a re-sync with ``--delete --max-delete N`` cost
about twice the CPU of one with ``--delete`` alone. The merge is now kept (:mod:`synco_core.receive.merged`)
and handed to the receive. These tests hold that for every way a set is counted (changed sets of a run with
the limit, a set the server lists empty without it), for an accepted and a refused run, and that what the
kept merge holds per file is on disk, not in memory.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_transfer_support import FixturePlugin, make_app, publish, tree_digest

from synco_core.receive import ReceiveOptions, receive_session
from synco_core.receive.compare import TodoSpool
from synco_core.receive.deletions import RunRefusedError
from synco_core.receive.directory import DirectoryTransport
from synco_core.receive.merged import MergedSet, merge_with_folder
from synco_core.wire import PublicIndexEntry

SESSIONS = iter(f"synco-onemerge{number:06d}" for number in range(1_000_000))
SETS = ("uploads", "thumbs")


class CountingTransport(DirectoryTransport):
    """A session folder read from disk, counting how often each file was opened."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.opened: collections.Counter[str] = collections.Counter()

    @contextlib.contextmanager
    def open(self, path: str, offset: int = 0, length: int | None = None) -> Iterator[Any]:
        self.opened[path.rsplit("/", 1)[-1]] += 1
        with super().open(path, offset, length) as response:
            yield response

    def worker_spec(self) -> dict[str, Any] | None:
        # Files are fetched in this process, so every opening is counted.
        return None


class Site:
    def __init__(self, root: Path) -> None:
        self.app = make_app(root / "app")
        self.web = self.app / "web"
        self.target = root / "received"

    def receive(self, **options: Any) -> tuple[Any, CountingTransport]:
        session = next(SESSIONS)
        key = publish(self.app, session, only=SETS)
        transport = CountingTransport(self.web)
        summary = receive_session(transport, session, key.secret,
                                  ReceiveOptions(target=self.target, all=True, only=SETS, **options))
        return summary, transport

    def state(self) -> tuple[dict[str, str], dict[str, tuple[int, int]]]:
        """Every file's content under the receive folder (the receive's own included) and every folder's
        mode and mtime below it (the receive folder's own mtime is the receive's: its lock and scratch folders
        come and go in every run, refused or not)."""
        folders = {os.path.relpath(folder, self.target): (os.stat(folder).st_mode, os.stat(folder).st_mtime_ns)
                   for folder, _dirs, _files in os.walk(self.target) if folder != os.fspath(self.target)}
        return tree_digest(self.target), folders


def index_reads(transport: CountingTransport) -> list[int]:
    return sorted(count for name, count in transport.opened.items() if "index" in name)


@pytest.fixture
def site(tmp_path: Path, register_plugin: Any) -> Site:
    register_plugin(FixturePlugin(), "fixture")
    return Site(tmp_path)


def _change_both_sets(site: Site) -> None:
    uploads, thumbs = site.web / "uploads", site.web / "thumbs"
    for path in sorted((uploads / "dir0").iterdir())[:2]:
        path.unlink()
    (uploads / "new.bin").write_bytes(b"new on the server")
    (thumbs / "t.jpg").unlink()
    (thumbs / "t2.jpg").write_bytes(b"another thumb")


def test_an_accepted_run_reads_each_changed_index_once(site: Site) -> None:
    assert site.receive(delete=True)[0].ok
    _change_both_sets(site)
    summary, transport = site.receive(delete=True, max_delete=3)
    assert summary.ok, [(s.name, s.status, s.detail) for s in summary.sets]
    # Failed before: the count and the receive read every changed index ([2, 2]).
    assert index_reads(transport) == [1, 1]
    served = tree_digest(site.web / "uploads")
    del served["skip.tmp"]  # Left out by serve's exclude rule.
    assert tree_digest(site.target / "uploads") == served
    assert tree_digest(site.target / "thumbs") == tree_digest(site.web / "thumbs")
    assert summary.deletions().total == 3
    assert sorted((outcome.name, outcome.removed) for outcome in summary.sets) == [("thumbs", 1), ("uploads", 2)]


def test_a_refused_run_reads_each_index_once_and_changes_nothing(site: Site) -> None:
    assert site.receive(delete=True)[0].ok
    _change_both_sets(site)
    before = site.state()
    session = next(SESSIONS)
    key = publish(site.app, session, only=SETS)
    transport = CountingTransport(site.web)
    with pytest.raises(RunRefusedError, match=r"remove 3 local file\(s\) in all \(uploads 2, thumbs 1\)"):
        receive_session(transport, session, key.secret,
                        ReceiveOptions(target=site.target, all=True, only=SETS, delete=True, max_delete=2))
    assert index_reads(transport) == [1, 1]
    # Not a file of the receive's own (a scratch folder, a draft of the known hashes) nor a folder's mtime.
    assert site.state() == before


def test_a_set_listed_empty_is_read_once_without_the_limit_too(site: Site) -> None:
    """Without ``--max-delete`` only a set the server lists no file in is merged before the run; allowed
    with a limit, its merge is the receive's."""
    assert site.receive(delete=True)[0].ok
    (site.web / "thumbs" / "t.jpg").unlink()
    before = site.state()
    session = next(SESSIONS)
    key = publish(site.app, session, only=SETS)
    transport = CountingTransport(site.web)
    with pytest.raises(RunRefusedError, match="the server lists no file in this set"):
        receive_session(transport, session, key.secret,
                        ReceiveOptions(target=site.target, all=True, only=SETS, delete=True))
    assert site.state() == before
    summary, transport = site.receive(delete=True, max_delete=1)
    assert summary.ok and tree_digest(site.target / "thumbs") == {}
    # uploads is unchanged (its tree digest tells, no index read); thumbs' index was read once, not twice.
    assert index_reads(transport) == [1]


def _entries(count: int) -> Iterator[tuple[str, PublicIndexEntry]]:
    for number in range(count):
        yield f"d{number // 1000:02d}/f{number:07d}.bin", PublicIndexEntry(300, 1_700_000_000, f"u/{number}")


def test_a_kept_merge_holds_its_files_to_fetch_on_disk(tmp_path: Path) -> None:
    """What a merge kept for the receive holds in memory does not grow with the files it has to fetch."""

    def kept(count: int) -> int:
        folder = tmp_path / f"set{count}"
        folder.mkdir()
        gc.collect()
        tracemalloc.start()
        try:
            spool = TodoSpool(tmp_path)
            plan = merge_with_folder(_entries(count), folder, spool, None, None, None)
            spool.park()
            merged = MergedSet(plan, spool, None, None)
            gc.collect()
            held = tracemalloc.get_traced_memory()[0]
            assert merged.plan.todo_files == count
            assert sum(1 for _item in merged.spool) == count
            merged.close()
            return held
        finally:
            tracemalloc.stop()

    # Fewer files than a spool keeps in memory, and ten times as many: neither's list stays in memory (4,000
    # spooled tuples are about 1 MB; the tree digest's pending lines, the counts and the folding filter's
    # bytes are the rest).
    small, large = kept(4_000), kept(40_000)
    assert large - small < 256 * 1024, (small, large)
    # Some 0.4 MB here; 1.4 MB with the first 4,000 left in the spool's memory (failed so).
    assert small < 1024 * 1024, small


def test_a_run_stopped_after_the_count_leaves_nothing_of_the_kept_merges(site: Site) -> None:
    """Ctrl-C between the count and the sets' turn (the database still arriving): the merges kept for the
    receive go with their scratch folders and hashes' drafts; the old hashes stay."""
    assert site.receive(delete=True)[0].ok
    _change_both_sets(site)
    before = site.state()
    session = next(SESSIONS)
    key = publish(site.app, session, only=SETS)

    def stop(_meta: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        receive_session(CountingTransport(site.web), session, key.secret,
                        ReceiveOptions(target=site.target, all=True, only=SETS, delete=True, max_delete=3,
                                       on_accepted=stop))
    assert site.state() == before
    # And the next run receives as if none had been stopped.
    summary, transport = site.receive(delete=True, max_delete=3)
    assert summary.ok and summary.deletions().total == 3 and index_reads(transport) == [1, 1]
