"""Receiving onto a file system that ignores case (a laptop's APFS or NTFS, an exFAT stick): the server's
``Photo.jpg`` and ``photo.jpg`` are one file there.

Before, both were written in turn (the second replacing the first) and every re-sync fetched one again, the
content flipping, with nothing said; a set renamed by case on the server lost the file under ``--delete``
(the old spelling, deleted after the fetch, was the new file); and a private set holding both names was
refused whole. Now one of each such group is kept, the others are named as not written, a re-sync fetches
nothing, and a local file spelt otherwise is the index's file, never deleted.

The folder is a real exFAT file system (``exfat-fuse`` on a loop device), which needs root.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from laptop_folders import LaptopFolder, laptop_folder
from test_transfer_support import FixturePlugin, fixture_app_fixture, make_app, publish, publish_and_receive  # noqa: F401

from synco_core import hookimpl
from synco_core.errors import ConfigError
from synco_core.receive import HttpTransport, ReceiveOptions, ReceiveSummary, receive_session
from synco_core.receive.compare import plan_public_files, seems_to_fold
from synco_core.receive.session import SetOutcome
from synco_core.serve.server import start_server
from synco_core.values import FileSet, FileSetOptions, Framework
from synco_core.wire import PublicIndexEntry

SESSION = "synco-caseless0123456789"


@contextlib.contextmanager
def exfat_folder(tmp_path: Path) -> Iterator[LaptopFolder]:
    """A folder on a fresh exFAT file system, unmounted afterwards."""
    with laptop_folder(tmp_path, "exfat") as exfat:
        yield exfat


@pytest.fixture
def caseless(tmp_path: Path) -> Iterator[Path]:
    """A folder on a fresh exFAT file system, unmounted afterwards."""
    with exfat_folder(tmp_path) as exfat:
        yield exfat.path


def receive(app: Path, target: Path, only: str, delete: bool = False) -> ReceiveSummary:
    """Publish ``app`` afresh and receive set ``only`` into ``target`` over the built-in server."""
    summary: ReceiveSummary = publish_and_receive(app, SESSION, target, only=[only], delete=delete)
    return summary


def listing(folder: Path) -> dict[str, bytes]:
    """path -> content of every file below ``folder``, names as the file system spells them."""
    return {os.path.relpath(os.path.join(current, name), folder): Path(current, name).read_bytes()
            for current, _folders, files in os.walk(folder) for name in files}


def outcome(summary: ReceiveSummary) -> SetOutcome:
    (only,) = summary.sets
    return only


def test_the_probe_tells_a_case_insensitive_folder(caseless: Path, tmp_path: Path) -> None:
    from synco_core.names import Folding
    from synco_core.receive.compare import name_folding

    # exFAT holds 'café' composed and decomposed as two files: it ignores case alone.
    assert name_folding(caseless) == Folding(case=True) and name_folding(tmp_path) == Folding()
    assert os.listdir(caseless) == [] and os.listdir(tmp_path) != []  # the probe file is gone


def test_public_names_the_folder_takes_for_one_are_fetched_once(fixture_app: Path, caseless: Path) -> None:
    uploads = fixture_app / "web" / "uploads"
    (uploads / "Photo.jpg").write_bytes(b"upper " * 100)
    (uploads / "photo.jpg").write_bytes(b"lower " * 150)
    (uploads / "PHOTO.jpg").write_bytes(b"shout " * 3000)  # larger than a pack's files: fetched by its URL
    for folder, content in (("Dir", b"in Dir"), ("dir", b"in dir")):
        (uploads / folder).mkdir()
        (uploads / folder / "x.txt").write_bytes(content)
    (uploads / "dir" / "only-lower.txt").write_bytes(b"alone")
    target = caseless / "got"
    expected_failed = {"Photo.jpg", "dir/x.txt", "photo.jpg"}
    for run in range(3):
        summary = receive(fixture_app, target, "uploads")
        got = outcome(summary)
        assert got.status == "partial" and got.cause == "same-name", got
        assert {path for path, _reason in got.files_failed} == expected_failed
        assert all("not written: this folder does not tell it from" in reason for _path, reason in got.files_failed)
        assert "case-sensitive file system" in summary.advice() and not summary.retryable
        assert got.files_downloaded == (0 if run else 19 - 3), got
        assert not got.vanished
        files = listing(target / "uploads")
        # The first of each group in index order is the one kept, every run.
        assert files["PHOTO.jpg"] == b"shout " * 3000 and files["Dir/x.txt"] == b"in Dir"
        assert files["Dir/only-lower.txt"] == b"alone"
        assert not {"Photo.jpg", "photo.jpg"} & set(files)


@pytest.mark.parametrize("changed", [False, True], ids=["same-content", "new-content"])
def test_a_file_renamed_by_case_on_the_server_is_never_deleted(fixture_app: Path, caseless: Path,
                                                                changed: bool) -> None:
    uploads = fixture_app / "web" / "uploads"
    (uploads / "Photo.jpg").write_bytes(b"first " * 100)
    target = caseless / "got"
    assert outcome(receive(fixture_app, target, "uploads", delete=True)).status == "downloaded"
    os.rename(uploads / "Photo.jpg", uploads / "PHOTO.JPG")
    if changed:
        (uploads / "PHOTO.JPG").write_bytes(b"second " * 200)
    content = (uploads / "PHOTO.JPG").read_bytes()
    got = outcome(receive(fixture_app, target, "uploads", delete=True))
    assert got.status == ("downloaded" if changed else "skipped") and got.removed == 0 and not got.vanished, got
    assert got.files_downloaded == int(changed)
    files = listing(target / "uploads")
    assert [name for name in files if name.lower() == "photo.jpg"] == ["PHOTO.JPG" if changed else "Photo.jpg"]
    assert (target / "uploads" / "PHOTO.JPG").read_bytes() == content
    again = outcome(receive(fixture_app, target, "uploads", delete=True))
    assert again.files_downloaded == 0 and again.removed == 0 and not again.files_failed, again
    assert hashlib.sha256((target / "uploads" / "PHOTO.JPG").read_bytes()).digest() == hashlib.sha256(content).digest()


def test_a_private_set_with_names_the_folder_takes_for_one_is_received(fixture_app: Path, caseless: Path) -> None:
    private = fixture_app / "private"
    (private / "link-inside").unlink()  # exFAT has no symbolic links
    (private / "Photo.jpg").write_bytes(b"upper")
    (private / "photo.jpg").write_bytes(b"lower")
    (private / "nested" / "B.BIN").write_bytes(b"shout")
    os.link(private / "photo.jpg", private / "zz-hard.jpg")
    target = caseless / "got"
    summary = receive(fixture_app, target, "private")
    got = outcome(summary)
    assert got.status == "partial" and got.cause == "same-name", got
    assert sorted(path for path, _reason in got.files_failed) == ["nested/b.bin", "photo.jpg", "zz-hard.jpg"]
    files = listing(target / "private")
    assert files["Photo.jpg"] == b"upper" and files["nested/B.BIN"] == b"shout" and files["a.txt"] == b"private a\n"
    assert "photo.jpg" not in files and "zz-hard.jpg" not in files
    again = outcome(receive(fixture_app, target, "private"))
    # Nothing fetched again, and the files this folder cannot hold are still said to be missing.
    assert again.status == "partial" and again.detail.startswith("already received; 3 file(s) not written"), again
    assert sorted(path for path, _reason in again.files_failed) == ["nested/b.bin", "photo.jpg", "zz-hard.jpg"]


def test_the_plan_counts_what_a_receive_does_and_writes_nothing(caseless: Path, tmp_path: Path) -> None:
    """``receive --plan`` (which may not write a probe file) tells the folder by the names it holds."""
    folder = caseless / "got" / "uploads"
    folder.mkdir(parents=True)
    (folder / "Photo.jpg").write_bytes(b"old")
    os.utime(folder / "Photo.jpg", (1_700_000_000, 1_700_000_000))
    index = {"PHOTO.JPG": PublicIndexEntry(3, 1_700_000_000, "uploads/PHOTO.JPG"),
             "photo.jpg": PublicIndexEntry(5, 1_700_000_000, "uploads/photo.jpg"),
             "new.txt": PublicIndexEntry(5, 1_700_000_000, "uploads/new.txt")}
    assert seems_to_fold(folder).case and seems_to_fold(caseless / "got" / "not-yet").case
    assert not seems_to_fold(tmp_path) and not seems_to_fold(tmp_path / "not-yet")
    plan = plan_public_files(index, folder)
    assert (plan.skipped, plan.todo_files, plan.vanished) == (1, 1, [])
    assert [path for path, _reason in plan.same_name] == ["photo.jpg"]
    assert os.listdir(folder) == ["Photo.jpg"]
    # The same index on a folder that tells case: every file its own, the local one vanished.
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "Photo.jpg").write_bytes(b"old")
    plan = plan_public_files(index, plain)
    assert (plan.skipped, plan.todo_files, plan.vanished, plan.same_name) == (0, 3, ["Photo.jpg"], [])


class TwinSets(FixturePlugin):
    """The fixture app with two public sets whose names differ only in case."""

    @hookimpl
    def list_file_sets(self, framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
        web = framework.project_dir / "web"
        return [FileSet(name="media", kind="public", root=web / "uploads", url_prefix="uploads/",
                        relative_base_path="web/uploads"),
                FileSet(name="Media", kind="public", root=web / "thumbs", url_prefix="thumbs/",
                        relative_base_path="web/thumbs")]


def test_sets_whose_names_differ_only_in_case_are_refused_there(tmp_path: Path, register_plugin: Any,
                                                               caseless: Path) -> None:
    """Before, both went into one folder: each took the other's files for gone (removed with --delete), and
    fetched its own again at every run."""
    register_plugin(TwinSets(), "fixture")
    app = make_app(tmp_path / "app")
    key = publish(app, SESSION)
    server = start_server(app / "web", "127.0.0.1:0")
    try:
        transport = HttpTransport(server.url)
        for target in (caseless / "got", tmp_path / "plain"):
            options = ReceiveOptions(target=target, only=["media", "Media"], delete=True)
            if target.is_relative_to(caseless):
                with pytest.raises(ConfigError, match=r"^file sets 'media' and 'Media' would be one folder in the "
                                                      r"target, whose file system does not tell upper from lower"):
                    receive_session(transport, SESSION, key.secret, options)
                assert os.listdir(target) == []
            else:
                summary = receive_session(transport, SESSION, key.secret, options)
                kept = sorted(name for name in os.listdir(target) if not name.startswith(".synco-known-"))
                assert summary.ok and kept == [".synco-received.json", "Media", "media"]
        transport.close()
    finally:
        server.stop()
