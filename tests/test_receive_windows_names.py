"""Names Linux takes and Windows does not, received onto NTFS as Windows and WSL see it (``ntfs-3g -o
windows_names`` on a loop device, :mod:`laptop_folders`): ``ab:c.jpg``, ``CON``, ``aux.txt``, ``clip.``
and ``clip `` (a trailing dot or space), a folder ``dir.``.

Before, each was reported with the same line, "exFAT, FAT and NTFS take no \\ : * ? \" < > | in names",
which named no rule ``CON`` or ``clip.`` breaks; and a file ending in a dot or a space, whose part file
(``clip..<tag>.synco-part``) the file system takes, was downloaded whole at every receive and thrown away
when its rename was refused. Now the line names the rule, such a file is refused before its download, and
the set's other files arrive.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from laptop_folders import dot_stripping_folder, ecryptfs_folder, laptop_folder
from test_receive_case_insensitive import listing, outcome, receive
from test_receive_unicode_forms import count_index_reads
from test_transfer_support import fixture_app_fixture  # noqa: F401

from synco_core.names import Folding, windows_rule
from synco_core.receive.compare import name_folding, plan_public_files
from synco_core.receive.directory import DirectoryTransport
from synco_core.receive.public import receive_public_files
from synco_core.receive.tarsafe import extract_stream
from synco_core.wire import PublicIndexEntry

#: name -> the rule its line names.
RULES = {"ab:c.jpg": "take no : in a name", "clip.": "ending with a dot or a space",
         "clip ": "ending with a dot or a space", "CON": "CON is a device name Windows reserves",
         "aux.txt": "AUX is a device name Windows reserves", "dir./x.jpg": "folder of its path 'dir.'"}


@pytest.fixture
def ntfs(tmp_path: Path) -> Iterator[Path]:
    with laptop_folder(tmp_path, "ntfs") as folder:
        yield folder.path


def test_public_names_windows_refuses_are_named_with_their_rule(fixture_app: Path, ntfs: Path) -> None:
    uploads = fixture_app / "web" / "uploads" / "win"
    (uploads / "dir.").mkdir(parents=True)
    for name in RULES:
        (uploads / name).write_bytes(os.urandom(50_000))  # fetched by its URL, each
    (uploads / "fine.jpg").write_bytes(b"fine")
    target = ntfs / "got"
    for run in range(2):
        summary = receive(fixture_app, target, "uploads", delete=True)
        got = outcome(summary)
        assert got.status == "partial" and got.cause == "same-name" and got.removed == 0, (run, got)
        reasons = {path.removeprefix("win/"): why for path, why in got.files_failed}
        assert set(reasons) == set(RULES), reasons
        for name, rule in RULES.items():
            assert reasons[name].startswith("not written: the target folder's file system cannot hold"), reasons[name]
            assert rule in reasons[name], (name, reasons[name])
        assert not summary.retryable and "running again will not write them" in summary.advice()
        assert listing(target / "uploads" / "win") == {"fine.jpg": b"fine"}
        assert got.files_downloaded == (0 if run else 14), (run, got)


def test_a_file_ending_in_a_dot_is_refused_before_its_download(tmp_path: Path, ntfs: Path) -> None:
    source = tmp_path / "site"
    source.mkdir()
    index = {}
    for name in ("clip.", "clip ", "ok.bin"):
        (source / name).write_bytes(b"v" * 300_000)
        index[name] = PublicIndexEntry(300_000, 1_700_000_000, name)
    came: list[int] = []
    for _run in range(2):
        result = receive_public_files(DirectoryTransport(source), index, ntfs / "got", on_bytes=came.append)
        assert sorted(path for path, _why in result.failed) == ["clip ", "clip."], result.failed
        assert all("ending with a dot or a space" in why for _path, why in result.failed)
    # ok.bin once; before, the two refused files came again at every receive (1.8 MB here).
    assert sum(came) == 300_000
    assert listing(ntfs / "got") == {"ok.bin": b"v" * 300_000}  # no part file left behind either


def test_private_members_windows_refuses_are_named_with_their_rule(ntfs: Path) -> None:
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w") as tar:
        for name in [*RULES, "fine.txt"]:
            member = tarfile.TarInfo(name)
            member.size = len(name)
            tar.addfile(member, io.BytesIO(name.encode()))
    packed.seek(0)
    left_out: list[tuple[str, str]] = []
    assert extract_stream(packed, ntfs / "private", left_out) == 1
    reasons = dict(left_out)
    assert set(reasons) == set(RULES), reasons
    for name, rule in RULES.items():
        assert rule in reasons[name], (name, reasons[name])
    assert listing(ntfs / "private") == {"fine.txt": b"fine.txt"}


def test_names_whose_dots_at_the_end_the_disk_drops_are_fetched_once(fixture_app: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Linux's exFAT and FAT drivers (without keep_last_dots) store ``clip.`` as ``clip``, and find it by either
    name (the shim does the same, :func:`laptop_folders.dot_stripping_folder`). Before, every re-sync took
    ``clip`` for a file the server does not have (removed under --delete) and fetched ``clip.`` again; and
    no re-sync ever passed on the tree digest alone."""
    uploads = fixture_app / "web" / "uploads" / "dots"
    uploads.mkdir()
    (uploads / "clip.").write_bytes(b"large " * 10_000)
    (uploads / "small..").write_bytes(b"small")
    (fixture_app / "private" / "notes.").write_text("private")
    indexes = count_index_reads(monkeypatch)
    with dot_stripping_folder(tmp_path) as folder:
        assert name_folding(folder) == Folding(trailing_dots=True)
        target = folder / "got"
        for run in range(3):
            got = outcome(receive(fixture_app, target, "uploads", delete=True))
            assert got.removed == 0 and not got.vanished and not got.files_failed, (run, got)
            assert got.files_downloaded == (0 if run else 15), (run, got)
            assert listing(target / "uploads" / "dots") == {"clip": b"large " * 10_000, "small": b"small"}, run
            private = outcome(receive(fixture_app, target, "private", delete=True))
            assert private.status == ("skipped" if run else "downloaded"), (run, private)
        assert len(indexes) == 1  # the first receive's
        entries = {f"dots/{name}": PublicIndexEntry((uploads / name).stat().st_size,
                                                    int((uploads / name).stat().st_mtime), f"uploads/dots/{name}")
                   for name in ("clip.", "small..")}
        plan = plan_public_files(entries, target / "uploads")
        assert (plan.skipped, plan.todo_files) == (2, 0), plan
        assert not [path for path in plan.vanished if path.startswith("dots/")], plan.vanished


@pytest.mark.parametrize(("name", "rule"), [
    ("a:b", "take no : in a name"), ('x"<>|?*', 'take no " * < > ? | in a name'),
    ("clip.", "ending with a dot or a space"), ("clip ", "ending with a dot or a space"),
    ("con", "CON is a device name"), ("Aux.tar.gz", "AUX is a device name"), ("LPT9.log", "LPT9 is a device name"),
    ("nul .txt", "NUL is a device name"), ("COM\u00b2", "COM\u00b2 is a device name"),
    ("console", None), ("com10", None), ("auxiliary.txt", None), (".hidden", None), ("a.b c", None),
])
def test_the_rule_a_name_breaks_is_named(name: str, rule: str | None) -> None:
    got = windows_rule(name)
    assert (got is None) if rule is None else (got is not None and rule in got), got


def test_names_longer_than_the_disk_takes_are_named_and_never_downloaded(tmp_path: Path) -> None:
    """eCryptfs takes no name past 143 bytes. A name past 232 bytes has a part file of a short name of its own,
    which such a folder takes: before, that file was downloaded whole at every receive and thrown away when
    the rename refused its name."""
    source = tmp_path / "site"
    source.mkdir()
    index = {}
    for name in ("m" * 150, "l" * 240, "ok.bin"):
        (source / name).write_bytes(b"v" * 200_000)
        index[name] = PublicIndexEntry(200_000, 1_700_000_000, name)
    came: list[int] = []
    with ecryptfs_folder(tmp_path) as folder:
        for _run in range(2):
            result = receive_public_files(DirectoryTransport(source), index, folder / "got", on_bytes=came.append)
            reasons = dict(result.failed)
            assert set(reasons) == {"m" * 150, "l" * 240}, reasons
            assert "150 bytes, longer than it takes (eCryptfs takes 143)" in reasons["m" * 150]
            assert "240 bytes, longer than it takes (eCryptfs takes 143)" in reasons["l" * 240]
        assert sum(came) == 200_000
        assert listing(folder / "got") == {"ok.bin": b"v" * 200_000}


def test_private_members_longer_than_the_disk_takes_are_named(tmp_path: Path) -> None:
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w") as tar:
        for name in ("m" * 150, f"{'f' * 150}/inside.txt", "fine.txt"):
            member = tarfile.TarInfo(name)
            member.size = 4
            tar.addfile(member, io.BytesIO(b"data"))
    packed.seek(0)
    left_out: list[tuple[str, str]] = []
    with ecryptfs_folder(tmp_path) as folder:
        assert extract_stream(packed, folder / "private", left_out) == 1
        reasons = dict(left_out)
        assert "this name: 150 bytes, longer than it takes (eCryptfs takes 143)" in reasons["m" * 150], reasons
        assert f"folder of its path '{'f' * 150}': 150 bytes" in reasons[f"{'f' * 150}/inside.txt"], reasons
        assert listing(folder / "private") == {"fine.txt": b"data"}


def test_a_name_and_the_same_with_a_dot_keep_one_and_name_both(fixture_app: Path, tmp_path: Path) -> None:
    uploads = fixture_app / "web" / "uploads" / "dots"
    uploads.mkdir()
    (uploads / "twin").write_bytes(b"without")
    (uploads / "twin.").write_bytes(b"with a dot")
    with dot_stripping_folder(tmp_path) as folder:
        for run in range(2):
            got = outcome(receive(fixture_app, folder / "got", "uploads", delete=True))
            ((path, why),) = got.files_failed
            assert path == "dots/twin." and "does not tell it from 'dots/twin'" in why and "dots at the end" in why
            assert got.removed == 0 and got.files_downloaded == (0 if run else 14), (run, got)
            assert listing(folder / "got" / "uploads" / "dots") == {"twin": b"without"}, run
