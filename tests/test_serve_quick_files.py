"""serve's worker walks with :func:`walked_items`: a small regular file whose path is its own URL comes as a
light tuple (a :data:`QuickFile`) instead of a :class:`Candidate`, and :func:`hashed_rows` takes it from the
cache as it is, or makes its candidate and goes the usual way. It must change nothing: through rounds of
random edits of a tree holding every kind of file the pipeline treats apart (links, larger files being hashed
ahead so that rows wait, empty files, names that need quoting or are refused, dotfiles), the rows (with each
packed content) and the new hash cache are byte for byte those of the walk that makes a candidate of every
file, with and without a cache, with a content budget that runs out part way.
"""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from synco_core.index import hashcache, packs
from synco_core.index.hashcache import HashCache
from synco_core.serve import public_set
from synco_core.serve.public_set import SetWriteResult, candidate_of, hashed_rows, walked_candidates, walked_items
from synco_core.values import FileSet
from synco_core.wire import PublicFilesInfo

ROUNDS = 5


class _Kept:
    """The pack writer's stand-in: keeps every content in order."""

    def __init__(self) -> None:
        self.contents: list[bytes] = []

    def add(self, content: bytes) -> tuple[int, int]:
        self.contents.append(content)
        return 0, len(self.contents) - 1


def _tree(root: Path, rng: random.Random) -> list[Path]:
    paths = []
    for number in range(60):
        folder = root / f"d{number % 3}" / ("plain" if number % 4 else "ünï")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{number:03d}{rng.choice(['.jpg', ' space.jpg', '-x.txt'])}"
        path.write_bytes(os.urandom(rng.randint(1, 300)))
        paths.append(path)
    for number in range(0, 60, 7):
        (root / "d1" / "plain" / f"{number:03d}-big.bin").write_bytes(os.urandom(packs.SMALL_FILE_MAX + 1 + number))
    (root / "d2" / "plain" / "empty.jpg").write_bytes(b"")
    (root / "d2" / "plain" / "link.jpg").symlink_to("empty.jpg")
    (root / "d0" / "plain" / "link-to-small.jpg").symlink_to(paths[0])
    (root / "d0" / "plain" / ".hidden.jpg").write_bytes(b"dotfile")
    (root / "d0" / "plain" / "back\\slash.jpg").write_bytes(b"refused by receivers")
    return paths


def _edit(paths: list[Path], rng: random.Random) -> None:
    for path in rng.sample(paths, 12):
        action = rng.choice(("rewrite", "same-size", "delete", "touch", "grow", "to-link"))
        if action == "delete":
            path.unlink(missing_ok=True)
        elif action == "same-size" and path.exists():
            info = path.stat()
            path.write_bytes(os.urandom(info.st_size))
            os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
        elif action == "touch" and path.exists():
            os.utime(path)
        elif action == "grow":
            path.unlink(missing_ok=True)
            path.write_bytes(os.urandom(packs.SMALL_FILE_MAX + 1))
        elif action == "to-link":
            path.unlink(missing_ok=True)
            path.symlink_to(paths[-1])
        else:
            path.unlink(missing_ok=True)
            path.write_bytes(os.urandom(rng.randint(1, 300)))


def _serve(file_set: FileSet, cache_path: Path | None, quick: bool) -> tuple[list[object], bytes | None, int]:
    """Rows (their packed contents in place of pack numbers), the new cache, and the cache hits."""
    cache = HashCache(cache_path) if cache_path is not None else None
    kept = _Kept()
    counts = SetWriteResult(PublicFilesInfo(index_file_name="", size_bytes=0))
    walk = walked_items(file_set) if quick else walked_candidates(file_set)
    with ThreadPoolExecutor(2) as pool:
        rows: list[object] = [(*row[:7], kept.contents[row[8]] if row[8] is not None else None, row[9])
                              for row in hashed_rows(walk, cache, kept, pool, counts)]
    written = None
    if cache is not None:
        assert cache_path is not None
        cache.commit()
        written = cache_path.read_bytes()
    return rows, written, counts.cache_hits


@pytest.mark.parametrize("budget_files", [None, 20])
@pytest.mark.parametrize("window", [64, 1])
def test_quick_files_make_the_rows_and_cache_of_candidates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          budget_files: int | None, window: int) -> None:
    # Every file counts as settled, even one written within the file system clock's last tick before a serve
    # (so both serves of a round record the same files); a window of one makes every larger file's row wait
    # for its hash with the rows after it.
    monkeypatch.setattr(hashcache, "RACY_SECONDS", -3600.0)
    monkeypatch.setattr(public_set, "HASH_WINDOW", window)
    rng = random.Random(f"{budget_files}-{window}")
    root = tmp_path / "files"
    paths = _tree(root, rng)
    if budget_files is not None:
        monkeypatch.setenv(hashcache.CONTENT_BUDGET_ENV, str(sum(path.stat().st_size for path in paths[:budget_files])
                                                             / 1024 / 1024))
    file_set = FileSet(name="files", kind="public", root=root, url_prefix="files/", exclude=(public_set.DOTFILES,))
    cache_path = tmp_path / "cache" / "set.bin"
    _serve(file_set, cache_path, quick=False)
    quick_hits = 0
    for round_number in range(ROUNDS):
        old = cache_path.read_bytes()
        long_way = _serve(file_set, cache_path, quick=False)
        cache_path.write_bytes(old)
        quick = _serve(file_set, cache_path, quick=True)
        assert quick == long_way, f"round {round_number}"
        quick_hits += quick[2]
        # Without a cache, quick files go the way of their candidates.
        assert _serve(file_set, None, quick=True)[0] == _serve(file_set, None, quick=False)[0]
        _edit(paths, rng)
    assert quick_hits, "no file was taken the quick way"


def test_quick_files_are_the_candidates_they_stand_for(tmp_path: Path) -> None:
    """Every item of the quick walk makes the candidate the plain walk makes, in the same order, with a
    quick file only for a small regular file whose path is its own URL."""
    root = tmp_path / "files"
    _tree(root, random.Random(3))
    file_set = FileSet(name="files", kind="public", root=root, url_prefix="files/", exclude=(public_set.DOTFILES,))
    items = list(walked_items(file_set))
    candidates = list(walked_candidates(file_set))

    def fields(candidate: public_set.Candidate) -> tuple[object, ...]:
        # The set's real root is an object of each walk: compared by what it names.
        return (*[getattr(candidate, name) for name in public_set.Candidate.__slots__ if name != "below"],
                candidate.below.root if candidate.below is not None else None)

    assert [fields(candidate_of(item)) for item in items] == [fields(candidate) for candidate in candidates]
    quick = [item[0] for item in items if isinstance(item, tuple)]
    assert quick and all(public_set.PLAIN_URL_PATH.fullmatch(path) for path in quick)
    assert "d2/plain/empty.jpg" not in quick and "d2/plain/link.jpg" not in quick
    assert not any(path.endswith("-big.bin") for path in quick)
