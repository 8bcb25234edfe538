"""The chunk table's re-sync decides exactly what the full comparison decides.

Random pairs of a served tree (an index written by serve's writer, with its chunk table) and a local folder
derived from it (files current, edited, touched, gone, a folder or a link in a file's place, extra files in
any path range, part files, times before 1980 and after 2038) and a file of the hashes the local files were
received as (current, another version, pending, missing, a line for a path that is gone) are compared both
ways: the whole plan (counts, files to fetch with their kinds, vanished files, the tree digest), what the
progress and ``--plan``'s folder tally are told, and the file of hashes written for the next receive must be
the same. Chunks of 1, 2, 3 and 8 entries, with SHA-1 entries and entries without a SHA-256 mixed in; the
file of hashes read in blocks of a few bytes too.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from synco_core.index import stream
from synco_core.index.chunks import ChunkTableWriter, read_chunk_table
from synco_core.index.stream import IndexWriter, read_index
from synco_core.receive import chunked, knownhashes
from synco_core.receive.chunked import ChunkedIndex, CleanChunk
from synco_core.receive.compare import TodoSpool, compare_public_files
from synco_core.receive.knownhashes import HEADER, PENDING, TRAILER, KnownHashes
from synco_core.wire import PublicIndexEntry, WireFormatError

SEGMENTS = ("a", "b", "a-b", "a0", "c.txt", "\u00e9")
MTIMES = (1_700_000_000, 1_700_000_001, 1_600_000_000, 100, 5_000_000_000)


def served_tree(rng: random.Random) -> dict[str, PublicIndexEntry]:
    tree: dict[str, PublicIndexEntry] = {}
    for _ in range(rng.randint(1, 40)):
        path = "/".join(rng.choice(SEGMENTS) for _ in range(rng.randint(1, 3)))
        if any(other.startswith(path + "/") or path.startswith(other + "/") for other in tree):
            continue
        size = rng.randint(0, 40)
        sha256 = hashlib.sha256(path.encode() + bytes([size])).hexdigest() if rng.random() < 0.9 else None
        sha1 = hashlib.sha1(path.encode()).hexdigest() if rng.random() < 0.05 else None
        tree[path] = PublicIndexEntry(size, rng.choice(MTIMES), f"files/{path}", False, sha1, sha256)
    return tree


def content(path: str, size: int) -> bytes:
    return (path.encode() * (size + 1))[:size]


def write_file(root: Path, path: str, size: int, mtime: int) -> bool:
    target = root.joinpath(*path.split("/"))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content(path, size))
        os.utime(target, (mtime, mtime))
    except OSError:
        return False
    return True


def local_tree(rng: random.Random, root: Path, tree: dict[str, PublicIndexEntry]) -> dict[str, str]:
    """Fill ``root`` after ``tree``, changed here and there; returns the hashes to note as received."""
    known: dict[str, str] = {}
    for path, entry in sorted(tree.items()):
        roll = rng.random()
        if roll < 0.7:
            if write_file(root, path, entry.size_bytes, entry.mtime) and entry.sha256:
                known[path] = entry.sha256 if rng.random() < 0.9 else rng.choice([PENDING, "1" * 64])
        elif roll < 0.78:
            write_file(root, path, entry.size_bytes + 1, entry.mtime)
        elif roll < 0.84:
            write_file(root, path, entry.size_bytes, entry.mtime + rng.choice([-1, 1, 7]))
        elif roll < 0.88:
            with_file = rng.random() < 0.5
            folder = root.joinpath(*path.split("/"))
            try:
                folder.mkdir(parents=True)
            except OSError:
                continue
            if with_file:
                write_file(folder, "inside", 1, 1_700_000_000)
        elif roll < 0.91:
            link = root.joinpath(*path.split("/"))
            try:
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to("elsewhere")
            except OSError:
                pass
        elif roll < 0.94 and entry.sha256:
            known[path] = entry.sha256  # noted, but gone locally
        # else: missing locally
    extras = rng.choice([0, 0, 1, 3, 30])
    for _ in range(extras):
        path = "/".join(rng.choice(SEGMENTS) for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.1:
            path += ".abc123abc123.synco-part"
        if path not in tree:
            write_file(root, path, rng.randint(0, 5), rng.choice(MTIMES))
    if rng.random() < 0.3:
        (root / "empty" / "folders").mkdir(parents=True, exist_ok=True)
    return known


def known_file(path: Path, lines: dict[str, str]) -> None:
    body = HEADER + b"".join(f"{name}\0{sha}\n".encode() for name, sha in sorted(lines.items()))
    path.write_bytes(body + TRAILER + hashlib.sha256(body).hexdigest().encode() + b"\n")


def written(tree: dict[str, PublicIndexEntry]) -> tuple[bytes, bytes]:
    index, table = io.BytesIO(), io.BytesIO()
    writer = IndexWriter(index, ChunkTableWriter(table))
    for path in sorted(tree):
        writer.add(path, tree[path])
    writer.close()
    return index.getvalue(), table.getvalue()


def chunked_index(index: bytes, table: bytes, count: int) -> ChunkedIndex:
    def check(_entry: PublicIndexEntry) -> None:
        pass

    return ChunkedIndex(io.BufferedReader(io.BytesIO(index)), read_chunk_table(io.BytesIO(table), len(index)),
                        count, lambda: None, check)


def decide(index: Any, root: Path, known_path: Path, spool_dir: Path) -> dict[str, Any]:
    current: list[int] = []
    paths: list[tuple[str, bool]] = []
    spool = TodoSpool(spool_dir)
    known = KnownHashes(known_path)
    try:
        plan = compare_public_files(index, root, on_current=current.append, spool=spool, known=known,
                                    odd_seconds=True, on_path=lambda path, gone: paths.append((path, gone)))
        spooled = list(spool)
    finally:
        spool.close()
    known.commit()
    return {"counts": (plan.listed, plan.todo_files, plan.todo_bytes, plan.skipped, plan.skipped_bytes,
                       plan.kinds, plan.refused, plan.same_name, plan.respell, plan.stored_otherwise),
            "vanished": plan.vanished, "tree": plan.tree and (plan.tree.hexdigest(), plan.tree.files),
            "spool": spooled, "current": current, "paths": paths, "known": known_path.read_bytes()}


@pytest.mark.parametrize("chunk", [1, 2, 3, 8])
@pytest.mark.parametrize("seed", range(40))
def test_the_chunked_decision_is_the_full_comparisons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      chunk: int, seed: int) -> None:
    monkeypatch.setattr(stream, "CHUNK_ENTRIES", chunk)
    rng = random.Random(seed * 31 + chunk)
    # The file of hashes read in blocks that end inside lines, too.
    monkeypatch.setattr(knownhashes, "READ_BLOCK", rng.choice([5, 70, 1 << 20]))
    tree = served_tree(rng)
    root = tmp_path / "files"
    root.mkdir()
    lines = local_tree(rng, root, tree)
    index, table = written(tree)
    known_file(tmp_path / "full.sha256", lines)
    shutil.copy(tmp_path / "full.sha256", tmp_path / "chunked.sha256")
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    full = decide(list(read_index(io.BytesIO(index), 2)), root, tmp_path / "full.sha256", spool_dir)
    by_chunks = decide(chunked_index(index, table, len(tree)), root, tmp_path / "chunked.sha256", spool_dir)
    assert by_chunks == full


def test_an_unchanged_folder_parses_no_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "CHUNK_ENTRIES", 2)
    tree = {f"d/{number:03d}": PublicIndexEntry(3, 1_700_000_000, f"f/{number}", False, None,
                                                hashlib.sha256(str(number).encode()).hexdigest())
            for number in range(20)}
    root = tmp_path / "files"
    for path, entry in tree.items():
        write_file(root, path, entry.size_bytes, entry.mtime)
    known_file(tmp_path / "k.sha256", {path: entry.sha256 or "" for path, entry in tree.items()})
    index, table = written(tree)
    parsed = []
    monkeypatch.setattr(chunked, "_parse_batch", lambda lines: parsed.extend(lines) or [])
    items = list(chunked.merged(chunked_index(index, table, len(tree)), root, KnownHashes(tmp_path / "k.sha256")))
    assert all(isinstance(found, CleanChunk) for _path, _entry, found in items) and len(items) == 10
    assert parsed == []


def test_a_range_of_many_extra_files_is_not_held_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunk's range holding far more local files than the chunk has entries streams them: the peak of the
    merge does not grow with their number (spread over folders of 100: the walk holds one folder's listing)."""
    monkeypatch.setattr(stream, "CHUNK_ENTRIES", 2)
    tree = {path: PublicIndexEntry(1, 1_700_000_000, f"f/{path}", False, None, hashlib.sha256(b"x").hexdigest())
            for path in ("a/0", "a/1", "z/0", "z/1")}
    index, table = written(tree)

    def peak(extra: int) -> int:
        root = tmp_path / f"files-{extra}"
        for number in range(extra):
            write_file(root, f"a/2/{number // 100:04d}/{number:06d}", 1, 1_700_000_000)
        known_file(tmp_path / "k.sha256", {})
        known = KnownHashes(tmp_path / "k.sha256", write=False)
        tracemalloc.start()
        try:
            count = sum(1 for _path, entry, _found in chunked.merged(chunked_index(index, table, 4), root, known)
                        if entry is None)
            assert count == extra
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(1_000), peak(10_000)
    assert large < small * 2


@pytest.mark.parametrize("change", ["count", "first", "offset", "total"])
def test_a_table_that_does_not_fit_its_index_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        change: str) -> None:
    monkeypatch.setattr(stream, "CHUNK_ENTRIES", 2)
    tree = {f"{number}": PublicIndexEntry(1, 1_700_000_000, f"f/{number}", False, None, None) for number in range(6)}
    index, table = written(tree)
    rows = [json.loads(line) for line in table.decode().splitlines()]
    count = len(tree)
    if change == "count":
        rows[0][2] = 3
    elif change == "first":
        rows[1][0] = "2a"
    elif change == "offset":
        rows[1][1] += 1
    else:
        count += 1
    root = tmp_path / "files"
    root.mkdir()
    known_file(tmp_path / "k.sha256", {})
    with pytest.raises(WireFormatError, match="chunk table"):
        list(chunked.merged(chunked_index(index, "".join(json.dumps(row) + "\n" for row in rows).encode(), count), root,
                            KnownHashes(tmp_path / "k.sha256", write=False)))
