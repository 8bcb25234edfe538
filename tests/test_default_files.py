"""The default file installer: staging, hard links where possible, copies otherwise, the previous folder kept."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from synco_core.engines import default_files
from synco_core.engines.default_files import install_tree
from synco_core.receive.files import _save
from synco_core.wire import PublicIndexEntry


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_installs_by_hard_link_and_keeps_the_previous_folder(tmp_path: Path) -> None:
    received = tree(tmp_path / "received", {"a.txt": "new a\n", "sub/b.txt": "new b\n"})
    (received / "link").symlink_to("a.txt")
    destination = tree(tmp_path / "project/uploads", {"old.txt": "old\n"})

    result = install_tree(received, destination)

    assert result.files == 3
    assert (destination / "sub/b.txt").read_text() == "new b\n"
    assert (destination / "a.txt").stat().st_ino == (received / "a.txt").stat().st_ino, "same file system: a link"
    assert os.readlink(destination / "link") == "a.txt"
    assert result.backup == tmp_path / "project/.uploads.synco-previous"
    assert (result.backup / "old.txt").read_text() == "old\n"
    assert not (tmp_path / "project/uploads.synco-new").exists()


def test_copies_when_links_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def no_link(*args: object, **kwargs: object) -> None:
        calls.append(args)
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(default_files.os, "link", no_link)
    received = tree(tmp_path / "received", {"a.txt": "a\n", "b.txt": "b\n", "c.txt": "c\n"})
    destination = tmp_path / "project/uploads"

    result = install_tree(received, destination)

    assert result.files == 3 and result.backup is None
    assert len(calls) == 1, "after the first refusal the rest is copied without trying again"
    for name in ("a.txt", "b.txt", "c.txt"):
        assert (destination / name).read_text() == (received / name).read_text()
        assert (destination / name).stat().st_ino != (received / name).stat().st_ino


def test_a_later_receive_never_changes_the_installed_file(tmp_path: Path) -> None:
    """Receive writes a changed file as a new file renamed into place, so the installed link keeps its content."""
    received = tree(tmp_path / "received", {"photo.jpg": "version 1"})
    destination = tmp_path / "project/uploads"
    install_tree(received, destination)

    class Body:
        offset = 0
        total_size = None

        def iter_bytes(self) -> list[bytes]:
            return [b"version 2!"]

    entry = PublicIndexEntry(public_uri="<BASE>/photo.jpg", size_bytes=10, mtime=1_700_000_000)
    _save(Body(), received / "photo.jpg", entry, lambda _n: None)  # type: ignore[arg-type]

    assert (received / "photo.jpg").read_text() == "version 2!"
    assert (destination / "photo.jpg").read_text() == "version 1"


def test_keep_carries_a_folder_that_was_not_sent_over(tmp_path: Path) -> None:
    received = tree(tmp_path / "received", {"exports/2024.csv": "new\n"})
    (received / "public").mkdir()  # an excluded folder arrives as an empty directory entry
    destination = tree(tmp_path / "storage/app", {"export-2023.csv": "old\n", "public/doc.txt": "kept\n"})

    result = install_tree(received, destination, keep=["public"])

    assert (destination / "public/doc.txt").read_text() == "kept\n"
    assert not (destination / "export-2023.csv").exists()
    assert result.backup is not None and (result.backup / "export-2023.csv").exists()


def test_failure_in_the_middle_leaves_the_destination_as_it_was(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    received = tree(tmp_path / "received", {"a.txt": "a\n", "b.txt": "b\n"})
    destination = tree(tmp_path / "project/uploads", {"old.txt": "old\n"})
    real_link = os.link
    count = 0

    def failing_link(source: str, target: str, **kwargs: bool) -> None:
        nonlocal count
        count += 1
        if count == 2:
            raise KeyboardInterrupt
        real_link(source, target, **kwargs)

    monkeypatch.setattr(default_files.os, "link", failing_link)
    with pytest.raises(KeyboardInterrupt):
        install_tree(received, destination)
    assert sorted(p.name for p in destination.iterdir()) == ["old.txt"]
    assert not (tmp_path / "project/uploads.synco-new").exists()
    assert not (tmp_path / "project/.uploads.synco-previous").exists()


def test_install_named_root_keeps_the_roots_nested_in_the_one_it_replaces(tmp_path: Path) -> None:
    from synco_core import install_named_root

    project = tmp_path / "project"
    local = project / "storage" / "app"
    (local / "public" / "img").mkdir(parents=True)
    (local / "public" / "img" / "logo.png").write_bytes(b"public disk")
    (local / "old.txt").write_text("replaced")
    (project / "storage" / "sibling").mkdir()
    received = tmp_path / "received"
    received.mkdir()
    (received / "new.txt").write_text("received")
    roots = {"local": local, "public": local / "public", "sibling": project / "storage" / "sibling"}
    assert install_named_root(roots, "extra", received) is None
    result = install_named_root(roots, "local", received)
    assert result is not None
    assert sorted(p.relative_to(local).as_posix() for p in local.rglob("*")) == [
        "new.txt", "public", "public/img", "public/img/logo.png"]
    assert (project / "storage" / "sibling").is_dir()
