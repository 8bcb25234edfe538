"""serve's hash cache against files whose times say something else than when they changed.

An entry is trusted while the file's size, modification and change time, inode and device are those it was
hashed with, and a file whose modification or change time is within ``RACY_SECONDS`` of the serve's start (by
this computer's clock) is not recorded at all: a change in the same clock tick would not show in its times.
A modification time is whatever ``os.utime`` (``touch -d``, ``rsync -t``, ``cp -p``, ``tar x``) sets, in the
future or the past; the change time is not, and is what catches such a file rewritten at the same size with
its old time put back. (A file system whose own clock is behind this computer's by more than
``RACY_SECONDS``, an NFS server's, gives a file just changed a change time that already looks settled: that
limit is in docs/security.md.)
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from synco_core.index import hashcache
from synco_core.index.hashcache import HashCache

#: Shortened so the test waits less; what it decides is the same.
RACY = 0.3


def _serve(cache: Path, file: Path) -> str | None:
    """One serve of ``file`` through the cache: the hash the cache gave (None: it was read), recorded anew."""
    serving = HashCache(cache, budget=0)
    info = os.stat(file)
    cached = serving.lookup("f.bin", info)
    serving.record("f.bin", info, cached or hashlib.sha256(file.read_bytes()).hexdigest())
    serving.commit()
    return cached


def _settle() -> None:
    # Past the racy window by this computer's clock, which the local file system's clock is.
    time.sleep(RACY * 2)


@pytest.mark.parametrize(
    "offset", [3600, 0, -3600, -10 * 365 * 86400], ids=["an hour ahead", "now", "an hour ago", "ten years ago"]
)
@pytest.mark.parametrize("settle_first", [True, False], ids=["rewritten later", "rewritten at once"])
def test_a_file_rewritten_at_its_size_with_its_time_put_back_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offset: int, settle_first: bool
) -> None:
    monkeypatch.setattr(hashcache, "RACY_SECONDS", RACY)
    cache, file = tmp_path / "cache" / "set.bin", tmp_path / "f.bin"
    old, new = b"A" * 4096, b"B" * 4096
    stamp = time.time_ns() + offset * 1_000_000_000
    file.write_bytes(old)
    os.utime(file, ns=(stamp, stamp))
    _settle()
    assert _serve(cache, file) is None
    cached = _serve(cache, file)
    # A time in the future is never settled: such a file is read at every serve.
    assert cached == (None if offset > 0 else hashlib.sha256(old).hexdigest())
    if settle_first:
        _settle()
    # In place (same inode), same size, the same modification time put back.
    with open(file, "r+b") as handle:
        handle.write(new)
    os.utime(file, ns=(stamp, stamp))
    assert _serve(cache, file) is None
    _settle()
    assert _serve(cache, file) in (None, hashlib.sha256(new).hexdigest())
    assert _serve(cache, file) == (None if offset > 0 else hashlib.sha256(new).hexdigest())


@pytest.mark.parametrize(
    "offset", [None, -3600, -10 * 365 * 86400], ids=["its own time", "an hour ago", "ten years ago"]
)
def test_a_file_changed_a_moment_before_the_serve_is_not_recorded(tmp_path: Path, offset: int | None) -> None:
    """Within the racy window (the default's) by this computer's clock: changed in the same tick after the
    serve read it, the file would keep its times. A modification time set in the past does not make it
    settled: its change time is now."""
    cache, file = tmp_path / "cache" / "set.bin", tmp_path / "f.bin"
    file.write_bytes(b"C" * 100)
    if offset is not None:
        stamp = time.time_ns() + offset * 1_000_000_000
        os.utime(file, ns=(stamp, stamp))
    assert _serve(cache, file) is None
    assert _serve(cache, file) is None
