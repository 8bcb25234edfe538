"""Receiving onto a file system that cannot hold some of a server's names, or links (an exFAT disk, NTFS or FAT
through a driver): ``a:b.jpg``, ``what?.jpg``, ``dir|x/``, a symbolic or hard link.

Before, such a public file failed as "No such file or directory" (what the FUSE exFAT driver answers; the
kernel's says "Invalid argument") with the advice to run the same command again, which met the same
refusal every time; a private set holding one such name, or any symbolic or hard link, failed whole
("Function not implemented: a.txt", naming the link's target). Now each is named as not written, the
rest arrives, a hard link becomes a copy of its file, and the advice says that running again cannot help.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_receive_case_insensitive import exfat_folder, listing, outcome, receive
from test_transfer_support import fixture_app_fixture  # noqa: F401

from synco_core.receive import workers
from synco_core.receive.session import SAME_NAME

#: Names Linux takes and exFAT, FAT and NTFS do not (a name starting with a drive letter, ``c:x``, serve
#: leaves out itself).
REFUSED = ["a:b.jpg", "what?.jpg", "star*.jpg", "lt<.jpg", "gt>.jpg", "pipe|.jpg", 'quote".jpg']


@pytest.fixture
def exfat(tmp_path: Path) -> Iterator[Path]:
    with exfat_folder(tmp_path) as folder:
        yield folder.path


def not_held(reason: str) -> bool:
    # "this name", or "the name of a folder of its path 'dir|x'"; then the rule it breaks.
    return reason.startswith("not written: the target folder's file system cannot hold ") and " take no " in reason


@pytest.mark.parametrize("worker_processes", [False, True], ids=["here", "worker-processes"])
def test_public_names_the_folder_cannot_hold_are_named_not_retried(fixture_app: Path, exfat: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   worker_processes: bool) -> None:
    started: list[int] = []
    if worker_processes:
        # Packed files go to worker processes from the first one on, which write (and fail) them there.
        monkeypatch.setattr(workers, "MIN_FILES", 1)
        real_init = workers.PackWorkers.__init__

        def counted(self: workers.PackWorkers, count: int, *args: object, **kwargs: object) -> None:
            started.append(count)
            real_init(self, count, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(workers.PackWorkers, "__init__", counted)
    uploads = fixture_app / "web" / "uploads" / "names"
    (uploads / "dir|x").mkdir(parents=True)
    (uploads / "dir|x" / "inside.jpg").write_bytes(b"in a folder exFAT cannot make")
    expected = {"names/dir|x/inside.jpg"}
    for name in REFUSED:
        (uploads / name).write_bytes(name.encode() * 10)  # packed
        (uploads / f"{name}.large").write_bytes(os.urandom(40_000))  # fetched by its URL
        expected |= {f"names/{name}", f"names/{name}.large"}
    (uploads / "fine.jpg").write_bytes(b"fine")
    target = exfat / "got"
    for run in range(2):
        summary = receive(fixture_app, target, "uploads")
        got = outcome(summary)
        assert got.status == "partial" and got.cause == SAME_NAME, got
        assert {path for path, _reason in got.files_failed} == expected, got.files_failed
        assert all(not_held(reason) for _path, reason in got.files_failed), got.files_failed
        assert not summary.retryable and "running again will not write them" in summary.advice()
        assert got.files_downloaded == (0 if run else 14), got
    if worker_processes:
        assert started, "no worker process took the packed files"
    files = listing(target / "uploads")
    assert files["names/fine.jpg"] == b"fine" and len(files) == 14
    assert not [name for name in files if name.endswith(".synco-part")]


def test_private_members_the_folder_cannot_hold_leave_the_rest_received(fixture_app: Path, exfat: Path) -> None:
    private = fixture_app / "private"
    (private / "dir?x").mkdir()
    (private / "dir?x" / "inside.txt").write_text("in a folder exFAT cannot make")
    (private / "nested" / "star*.txt").write_text("star")
    os.link(private / "a.txt", private / "hard-a.txt")
    # The fixture's link-inside -> a.txt: exFAT has no symbolic links.
    target = exfat / "got"
    summary = receive(fixture_app, target, "private")
    got = outcome(summary)
    assert got.status == "partial" and got.cause == SAME_NAME, got
    reasons = dict(got.files_failed)
    assert set(reasons) == {"dir?x", "dir?x/inside.txt", "nested/star*.txt", "link-inside"}, reasons
    assert reasons["link-inside"].startswith("not written: the target folder's file system has no symbolic links")
    assert all(not_held(reasons[name]) for name in ("dir?x", "dir?x/inside.txt", "nested/star*.txt"))
    assert not summary.retryable and "running again will not write them" in summary.advice()
    files = listing(target / "private")
    assert files == {"a.txt": b"private a\n", "hard-a.txt": b"private a\n",
                     "nested/b.bin": (private / "nested" / "b.bin").read_bytes(), "nested/deeper/empty": b""}
    # Received again: nothing to fetch, but the files left out are said again, not "already received" alone
    # (the summary would read "all done" while four files are missing for good).
    again = outcome(receive(fixture_app, target, "private"))
    assert again.status == "partial" and again.cause == SAME_NAME, again
    assert again.detail.startswith("already received; 4 file(s) not written"), again
    assert dict(again.files_failed) == reasons
    assert listing(target / "private") == files


def test_the_state_names_a_bounded_number_of_the_members_left_out(fixture_app: Path, exfat: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The names are the session's: a private tar of a million names the folder cannot hold must not make the
    state file that big. Beyond ``LEFT_OUT_NOTED`` they are counted only, and the count is said again."""
    from synco_core.receive import session

    monkeypatch.setattr(session, "LEFT_OUT_NOTED", 2)
    private = fixture_app / "private"
    for name in ("a?.txt", "b?.txt", "c?.txt", "d?.txt", "e?.txt"):
        (private / name).write_text(name)
    target = exfat / "got"
    first = outcome(receive(fixture_app, target, "private"))
    assert first.status == "partial" and len(first.files_failed) >= 5, first
    again = outcome(receive(fixture_app, target, "private"))
    assert again.detail.startswith(f"already received; {len(first.files_failed)} file(s) not written"), again
    assert again.files_failed == first.files_failed[:2]
