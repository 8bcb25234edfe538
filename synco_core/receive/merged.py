"""A public set's merge with its folder, made once and kept for the receive.

``--max-delete N`` judges the whole run before anything arrives (:mod:`synco_core.receive.deletions`), which
needs every changed set's deletions, which only the merge of its index with its folder tells. The receive
used to merge again: a re-sync with ``--delete --max-delete`` read every changed index and walked every
changed folder twice (0.91 CPU s against 0.48 for 30,000 files). The merge that counts is the receive's
own (same probes, same spool, same hashes noted), so its plan is the receive's and is handed over as it is.

What is kept per file is on disk: the files to fetch in the :class:`TodoSpool`, spilled to its file once the
merge is through, the hashes in the known-hashes draft; in memory stay the counts and the vanished paths
(which ``--delete`` needs anyway).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from synco_core.receive.compare import IndexItems, PublicPlan, TodoSpool, compare_public_files, name_folding
from synco_core.receive.knownhashes import KnownHashes
from synco_core.receive.mtimes import holds_odd_seconds
from synco_core.receive.packfetch import PackSource
from synco_core.wire import PublicIndexEntry


def merge_with_folder(index: IndexItems | Mapping[str, PublicIndexEntry], work_dir: Path, spool: TodoSpool,
                      packs: PackSource | None, known: KnownHashes | None, keep: Callable[[str], bool] | None,
                      on_file: Callable[[int], None] | None = None) -> PublicPlan:
    """The receive's merge of ``index`` with ``work_dir`` (its folder's probes included): both the receive and
    the count before the run call this, so what is counted is what is received."""
    return compare_public_files(index, work_dir, on_file, spool, packs, folding=name_folding(work_dir), known=known,
                                odd_seconds=holds_odd_seconds(work_dir), keep=keep)


@contextlib.contextmanager
def folder_times_kept(folder: Path) -> Iterator[None]:
    """Leave ``folder``'s times as they were: the probes a merge makes there (a file made and removed) would
    change its mtime, and a run refused after the count changes nothing, not even that."""
    try:
        before = os.stat(folder)
    except OSError:
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns))


@dataclass
class MergedSet:
    """A set merged before its receive: its plan, the spool of its files to fetch, the hashes noted, the packs
    the merge asked. The receive takes it (:meth:`take`); one never taken is dropped by :meth:`close`, which
    leaves the old hashes as they were."""

    plan: PublicPlan
    spool: TodoSpool
    known: KnownHashes | None
    packs: PackSource | None
    #: What the merge's files live in (the scratch folder of the spool and the index): closed last.
    holding: contextlib.ExitStack[bool | None] = field(default_factory=contextlib.ExitStack)
    taken: bool = False

    def take(self) -> MergedSet:
        self.taken = True
        return self

    def close(self) -> None:
        """Drop what the receive did not take, then the scratch folder; a second call does nothing."""
        if not self.taken:
            self.taken = True
            self.spool.close()
            if self.known is not None:
                self.known.discard()
        self.holding.close()


def replay_current(plan: PublicPlan, on_file: Callable[[int], None] | None) -> None:
    """Tell a progress bar opened after the merge what the merge told none: one call per current file, their
    bytes in all (a bar counts the calls and adds the bytes)."""
    if on_file is None or not plan.skipped:
        return
    on_file(plan.skipped_bytes)
    for _current in range(plan.skipped - 1):
        on_file(0)
