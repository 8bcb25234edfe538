"""serve's hash cache against files whose times say something else than when they changed.

An entry is trusted while the file's size, modification and change time, inode and device are those it was
hashed with, and a file whose modification or change time is within ``RACY_SECONDS`` of the serve's start (by
this computer's clock) is not recorded at all: a change in the same clock tick would not show in its times.
A modification time is whatever ``os.utime`` (``touch -d``, ``rsync -t``, ``cp -p``, ``tar x``) sets, in the
future or the past; the change time is not, and is what catches such a file rewritten at the same size with
its old time put back. A file system whose own clock is behind this computer's (an NFS server's without NTP)
gives a file just changed a change time that already looks settled by this computer's clock: the clock of the
session folder's file system is measured (``hashcache.clock_of``), and its files are judged by it too.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest
from laptop_folders import skewed_clock_folder

from synco_core.index import hashcache
from synco_core.index.hashcache import HashCache, clock_of

#: Shortened so the test waits less; what it decides is the same: the waits below are twice it, and the ticks
#: of the file systems' change times (a few ms) far shorter.
RACY = 0.1


def _serve(cache: Path, file: Path, session: Path | None = None, handed_over: bool = False) -> str | None:
    """One serve of ``file`` through the cache: the hash the cache gave (None: it was read), recorded anew;
    ``session``: the folder whose file system's clock is measured, as serve's session folder. ``handed_over``:
    looked up and recorded by a worker the serve handed the cache to, as a walk process is."""
    serving = HashCache(cache, budget=0, clock=clock_of(session) if session is not None else None)
    worker = HashCache.appending(serving.hand_over() or {}) if handed_over else serving
    info = os.stat(file)
    cached = worker.lookup("f.bin", info)
    worker.record("f.bin", info, cached or hashlib.sha256(file.read_bytes()).hexdigest(), source=os.fspath(file))
    if handed_over:
        worker.close_appended()
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


@pytest.mark.parametrize(
    "seconds", [-60, -3, 0, 60], ids=["a minute behind", "3 s behind", "in time", "a minute ahead"]
)
def test_a_file_system_clock_behind_this_computers_is_measured(tmp_path: Path, seconds: int,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A file changed a moment ago on a file system whose clock is behind (the shim shifts every time it shows):
    by this computer's clock its times are long settled, by its own they are not. Recorded, a rewrite in the
    same tick of that clock would have kept the old hash (and a packed file's old content)."""
    # A shorter window, waited out below: 3 s behind is still far outside it, as with the default's 2 s.
    monkeypatch.setattr(hashcache, "RACY_SECONDS", 0.5)
    with skewed_clock_folder(tmp_path, seconds) as folder:
        file = folder / "f.bin"
        file.write_bytes(b"D" * 100)
        assert time.time_ns() - os.stat(file).st_ctime_ns > -seconds * 1_000_000_000 - 1_000_000_000
        cache = tmp_path / "cache" / "set.bin"
        assert _serve(cache, file, session=folder) is None
        assert _serve(cache, file, session=folder) is None
        # Once settled by the file system's own clock, it is kept as any other file.
        time.sleep(hashcache.RACY_SECONDS + 0.5)
        _serve(cache, file, session=folder)
        settled = hashlib.sha256(file.read_bytes()).hexdigest()
        # Ahead, its times are in this computer's future a while yet: read at every serve until then.
        assert _serve(cache, file, session=folder) == (None if seconds > 0 else settled)


@pytest.mark.parametrize("handed_over", [False, True], ids=["in the serve", "in a walk process"])
def test_a_public_set_on_another_mount_with_a_clock_behind_is_measured(tmp_path: Path, handed_over: bool) -> None:
    """The session folder is on this computer's disk (its clock in time); the set's file is on a mount whose
    clock is a minute behind (an NFS share of uploads). Measuring the session folder's device alone judged the
    file by this computer's clock: recorded at once, and a rewrite within the same second of its own clock
    would have kept the old hash."""
    session = tmp_path / "session"
    session.mkdir()
    with skewed_clock_folder(tmp_path, -60) as folder:
        file = folder / "f.bin"
        file.write_bytes(b"E" * 100)
        assert os.stat(file).st_dev != os.stat(session).st_dev
        cache = tmp_path / "cache" / "set.bin"
        assert _serve(cache, file, session=session, handed_over=handed_over) is None
        assert _serve(cache, file, session=session, handed_over=handed_over) is None
