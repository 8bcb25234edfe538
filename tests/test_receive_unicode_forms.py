"""Names whose accented letters a server holds in both Unicode forms, composed (NFC: ``café`` with one
code point for 'é') and decomposed (NFD: 'e' and a combining accent), received onto laptops' file systems.

exFAT and NTFS tell upper from lower case apart only: both forms of ``café.jpg`` are two files there. Before,
receive took any folder that ignores case for one that ignores normalisation too, so one of the two was
refused at the first receive ("this folder does not tell it from ...") and fetched at the next (its twin
was now a local file the walk found), and ``receive --plan`` counted it as never written.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import pytest
from laptop_folders import hfsplus_folder, laptop_folder
from test_receive_case_insensitive import listing, outcome, receive
from test_transfer_support import fixture_app_fixture  # noqa: F401

from synco_core.names import Folding
from synco_core.receive import session as session_module
from synco_core.receive.compare import name_folding, plan_public_files
from synco_core.wire import PublicIndexEntry

COMPOSED = unicodedata.normalize("NFC", "café.jpg")
DECOMPOSED = unicodedata.normalize("NFD", "café.jpg")


def count_index_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A list that grows by one each time a receive opens a public set's index (a re-sync whose tree digest
    matches never does)."""
    opened: list[str] = []
    real_open_index = session_module.open_index

    def counted(*args: Any, **kwargs: Any) -> Any:
        opened.append("index")
        return real_open_index(*args, **kwargs)

    monkeypatch.setattr(session_module, "open_index", counted)
    return opened


def test_both_forms_of_a_name_are_two_files_on_exfat(fixture_app: Path, tmp_path: Path) -> None:
    uploads = fixture_app / "web" / "uploads" / "forms"
    uploads.mkdir()
    (uploads / COMPOSED).write_bytes(b"composed " * 10)
    (uploads / DECOMPOSED).write_bytes(b"decomposed " * 4000)  # fetched by its URL, not from a pack
    (uploads / "Café.JPG").write_bytes(b"same as composed, but for case")
    with laptop_folder(tmp_path, "exfat") as exfat:
        target = exfat.path / "got"
        for run in range(3):
            summary = receive(fixture_app, target, "uploads", delete=True)
            got = outcome(summary)
            # Only the names differing in case are one file there: the first in index order is kept.
            assert [path for path, _why in got.files_failed] == [f"forms/{COMPOSED}"], (run, got.files_failed)
            assert "'forms/Café.JPG'" in got.files_failed[0][1]
            assert got.files_downloaded == (0 if run else 15) and got.removed == 0 and not got.vanished, (run, got)
            files = listing(target / "uploads" / "forms")
            assert files == {DECOMPOSED: b"decomposed " * 4000, "Café.JPG": b"same as composed, but for case"}, run
        # The plan (which writes nothing) counts as the receive does.
        index = {f"forms/{name}": PublicIndexEntry(3, 1_700_000_000, f"uploads/forms/{name}")
                 for name in (COMPOSED, DECOMPOSED, "new.txt")}
        plan = plan_public_files(index, target / "uploads")
        assert plan.same_name == [] and plan.todo_files == 3, plan


def test_a_mac_disk_that_stores_names_decomposed_fetches_each_file_once(fixture_app: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """HFS+ lists ``café.jpg`` decomposed whatever form it was written in, and tells case apart (HFSX). A re-sync
    of the same index passes on the folder's own walk alone (before, its names never matched the index's
    digest, and every re-sync downloaded and read the index again)."""
    indexes = count_index_reads(monkeypatch)
    uploads = fixture_app / "web" / "uploads" / "forms"
    uploads.mkdir()
    (uploads / COMPOSED).write_bytes(b"composed " * 10)
    (uploads / f"large {COMPOSED}").write_bytes(b"large " * 8000)
    (uploads / "Photo.jpg").write_bytes(b"upper")
    (uploads / "photo.jpg").write_bytes(b"lower")
    (fixture_app / "private" / f"{COMPOSED}.txt").write_text("private")
    with hfsplus_folder(tmp_path) as folder:
        assert name_folding(folder) == Folding(normalisation=True)
        target = folder / "got"
        for run in range(3):
            got = outcome(receive(fixture_app, target, "uploads", delete=True))
            assert not got.files_failed and got.removed == 0 and not got.vanished, (run, got)
            assert got.files_downloaded == (0 if run else 17), (run, got)
            assert listing(target / "uploads" / "forms") == {
                DECOMPOSED: b"composed " * 10, f"large {DECOMPOSED}": b"large " * 8000,
                "Photo.jpg": b"upper", "photo.jpg": b"lower"}, run
            private = outcome(receive(fixture_app, target, "private", delete=True))
            assert private.status == ("skipped" if run else "downloaded") and not private.files_failed, (run, private)
            assert listing(target / "private")[f"{DECOMPOSED}.txt"] == b"private"
        assert len(indexes) == 1  # the first receive's
        index = {f"forms/{name}": PublicIndexEntry(size, mtime, f"uploads/forms/{name}")
                 for name, size, mtime in ((COMPOSED, 90, int((uploads / COMPOSED).stat().st_mtime)),
                                           ("Photo.jpg", 5, int((uploads / "Photo.jpg").stat().st_mtime)),
                                           ("photo.jpg", 5, int((uploads / "photo.jpg").stat().st_mtime)))}
        plan = plan_public_files(index, target / "uploads")
        assert (plan.skipped, plan.todo_files, plan.same_name) == (3, 0, []), plan
        assert [path for path in plan.vanished if path.startswith("forms/")] == [f"forms/large {DECOMPOSED}"]


def test_both_forms_of_a_name_on_a_mac_disk_keep_one_and_name_both(fixture_app: Path, tmp_path: Path) -> None:
    uploads = fixture_app / "web" / "uploads" / "forms"
    uploads.mkdir()
    (uploads / COMPOSED).write_bytes(b"composed")
    (uploads / DECOMPOSED).write_bytes(b"decomposed")
    with hfsplus_folder(tmp_path) as folder:
        target = folder / "got"
        for run in range(2):
            got = outcome(receive(fixture_app, target, "uploads", delete=True))
            assert got.status == "partial" and got.cause == "same-name" and got.removed == 0, (run, got)
            ((path, why),) = got.files_failed
            # The index's order puts the decomposed form ('e' and an accent) before the composed one.
            assert path == f"forms/{COMPOSED}" and f"does not tell it from 'forms/{DECOMPOSED}'" in why, (run, why)
            assert listing(target / "uploads" / "forms") == {DECOMPOSED: b"decomposed"}


def test_names_fold_as_each_kind_of_folder_takes_them() -> None:
    exfat, mac_hfsx, apfs = Folding(case=True), Folding(normalisation=True), Folding(case=True, normalisation=True)
    assert exfat.key(COMPOSED) != exfat.key(DECOMPOSED) and exfat.key("Café.JPG") == exfat.key(COMPOSED)
    assert mac_hfsx.key(COMPOSED) == mac_hfsx.key(DECOMPOSED) and mac_hfsx.key("Photo") != mac_hfsx.key("photo")
    assert apfs.key("CAFE\u0301.JPG") == apfs.key(COMPOSED)
    # casefold() decomposes 'ǰ' (j with caron): normalised again, both spellings still meet.
    assert apfs.key("\u01f0") == apfs.key("J\u030c")
    dots = Folding(trailing_dots=True)
    assert dots.key("a./b..") == dots.key("a/b") and dots.key("...") == "..." and not Folding()
