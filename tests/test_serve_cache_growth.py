"""serve's hash cache over a long life: the cache files of sets nobody serves any more do not pile up.

Each public set has its own cache file, keyed by the set folder's real path (and the project's for a set
without a folder) and its name. A project deleted or moved, a release folder a deploy tool made and later
removed, a set renamed in ``.synco.yml``: each left its file behind, with up to
``SYNCO_CACHE_CONTENT_MB`` of file contents in it, and nothing ever removed one. Every serve now removes
the cache files no serve has written for :data:`hashcache.STALE_DAYS` days, and the temporary files of
killed serves, whichever set they belong to.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from test_serve_content_cache import opened, small_files  # noqa: F401
from test_serve_public_index import build
from test_transfer_support import fixture_app_fixture  # noqa: F401

from synco_core.fsutil import TEMP_GRACE
from synco_core.index import hashcache


def cache_entries() -> list[Path]:
    return sorted(Path(os.environ["SYNCO_CACHE_DIR"]).rglob("hashes/*"))


def age(paths: list[Path], seconds: float) -> None:
    """Make ``paths`` look written ``seconds`` ago (what a month without a serve leaves)."""
    then = time.time() - seconds
    for path in paths:
        os.utime(path, (then, then), follow_symlinks=False)


def serve_copies(app: Path, where: Path, count: int) -> None:
    """Serve ``count`` copies of ``app`` once each (release folders, projects since deleted), then remove them."""
    for number in range(count):
        copy = where / f"copy-{number}"
        shutil.copytree(app, copy, symlinks=True)
        build(copy, name=f"synco-copy-{number}")
        shutil.rmtree(copy)


def test_caches_of_sets_no_longer_served_do_not_pile_up(fixture_app: Path, opened: list[str],  # noqa: F811
                                                        tmp_path: Path) -> None:
    small_files(fixture_app / "web" / "uploads", 3)
    stale = hashcache.STALE_DAYS * 86400 + 3600
    left = {}
    for count in (3, 6):
        serve_copies(fixture_app, tmp_path / f"round-{count}", count)
        assert len(cache_entries()) >= count, "each copy served had a cache of its own"
        age(cache_entries(), stale)
        build(fixture_app, name=f"synco-after-{count}")
        left[count] = [path.name for path in cache_entries()]
    # Only the set just served keeps a cache, however many copies were served before: N and 2N leave the same.
    assert len(left[3]) == len(left[6]) == 1 and left[3] == left[6]


def test_a_cache_served_within_the_window_is_kept(fixture_app: Path, opened: list[str],  # noqa: F811
                                                   tmp_path: Path) -> None:
    small_files(fixture_app / "web" / "uploads", 3)
    other = tmp_path / "other"
    shutil.copytree(fixture_app, other, symlinks=True)
    build(other, name="synco-other")
    (kept,) = cache_entries()
    age([kept], hashcache.STALE_DAYS * 86400 - 3600)
    build(fixture_app, name="synco-one")
    assert kept.exists() and len(cache_entries()) == 2
    # Its next serve finds it and opens none of its files again.
    opened.clear()
    build(other, name="synco-other-again")
    assert opened == []


def test_temporary_caches_of_killed_serves_of_other_sets_go(fixture_app: Path, opened: list[str],  # noqa: F811
                                                             tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(fixture_app, other, symlinks=True)
    build(other, name="synco-other")
    (cache,) = cache_entries()
    # A serve of that set killed while it wrote its new cache (nobody holds the lock), and one of an older
    # synco named by the pid of a process that is gone: that set is never served again.
    killed = cache.with_name(f"{cache.name}.t0123456789abcdef.tmp")
    killed.write_bytes(b"x" * 1000)
    older = cache.with_name(f"{cache.name}.{2 ** 22 + 12345}.tmp")
    older.write_bytes(b"x" * 1000)
    age([killed, older], TEMP_GRACE + 60)
    build(fixture_app, name="synco-one")
    assert not killed.exists() and not older.exists()
    assert cache.exists(), "the other set's cache itself is recent: it stays"
