"""A full pack's fsync and rename run beside the next pack (synco_core.index.packs.PackWriter._close).

Serve's process packs the rows its walk worker sends; while it waited for a pack's fsync (10-25 ms on a busy
disk), it read no rows, and the worker, its pipe full, stopped too: some 0.13 s of a 100,000-file serve went
to waiting. The pack table must still never be handed out before every pack has its final name, and a close
that fails (a full disk) must still fail the set, leaving nothing under a final name for a temporary one.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from synco_core import age
from synco_core.index import packs

CONTENT = b"x" * 300


def _writer(folder: Path, monkeypatch: pytest.MonkeyPatch) -> packs.PackWriter:
    monkeypatch.setattr(packs, "PACK_MAX_FILES", 4)
    return packs.PackWriter(folder, "Resources-s", [age.generate_identity().recipient()])


def test_the_next_pack_fills_while_a_full_one_is_synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first pack's fsync waits until files of the second pack were added: this only ends without the
    fsync timing out when adding does not wait for the fsync (before, add() waited in it for 5 s)."""
    added_next = threading.Event()
    timed_out: list[bool] = []
    real_fsync = os.fsync

    def waiting_fsync(fd: int) -> None:
        if not timed_out:
            timed_out.append(not added_next.wait(5))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", waiting_fsync)
    writer = _writer(tmp_path, monkeypatch)
    placed = [writer.add(CONTENT) for _ in range(4)]
    # The first pack is full and closing; the second one fills meanwhile.
    placed += [writer.add(CONTENT) for _ in range(2)]
    added_next.set()
    table = writer.finish()
    assert timed_out == [False]
    assert placed == [(0, 0), (0, 300), (0, 600), (0, 900), (1, 0), (1, 300)]
    assert [info.file_name for info in table] == ["Resources-s.pack-00000.enc", "Resources-s.pack-00001.enc"]
    assert sorted(path.name for path in tmp_path.iterdir()) == [info.file_name for info in table]


def test_the_pack_table_waits_for_every_pack_to_have_its_final_name(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    real_replace = os.replace
    slow = threading.Event()

    def slow_replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        slow.wait(0.05)
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", slow_replace)
    writer = _writer(tmp_path, monkeypatch)
    for _ in range(13):
        writer.add(CONTENT)
    table = writer.finish()
    assert len(table) == 4
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == [info.file_name for info in table]
    for info in table:
        assert (tmp_path / info.file_name).stat().st_size == info.encrypted_size_bytes
        with (tmp_path / info.file_name).open("rb") as raw:
            assert len(raw.read()) == info.encrypted_size_bytes


@pytest.mark.parametrize("failing", [0, 1, 2])
def test_a_close_that_fails_fails_the_set_and_leaves_no_temporary_file(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        failing: int) -> None:
    """The disk fills at the fsync of pack ``failing``: the error reaches the caller (from add() or finish()),
    abort() leaves no temporary file, and the failed pack has no final name (the packs closed before it have
    theirs, and so may one closed after it before the failure was seen: the caller removes them all)."""
    real_fsync = os.fsync
    calls: list[int] = []

    def full_fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == failing + 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_fsync)
    writer = _writer(tmp_path, monkeypatch)
    with pytest.raises(Exception) as raised:
        try:
            for _ in range(11):
                writer.add(CONTENT)
            writer.finish()
        except BaseException:
            writer.abort()
            raise
    assert "No space left" in str(raised.value) or "space" in str(raised.value).lower()
    left = sorted(path.name for path in tmp_path.iterdir())
    assert not [name for name in left if name.endswith(packs.TEMP_SUFFIX)], left
    assert packs.pack_file_name("Resources-s", failing) not in left
    assert left[:failing] == [packs.pack_file_name("Resources-s", number) for number in range(failing)]
