"""Removing only what an install put there works on every shape of tree a plain removal handles.

An earlier install's content comes back as a kept copy after a rollback, with the application's uploads
in it; the next install removes from it only what that install noted (``synco_core.install.owned``). That
removal is :func:`synco_core.trees.remove_tree` filtered, so it has the same walk: folders their owner made
read-only (a received set of mode 0555) lose the install's files, a folder swapped for a link while the
removal runs is never entered through the link, and a tree deeper than the path limit (4,096 bytes) is
noted, checked and removed as any other. Whatever the shape, the application's files stay.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_serve_wild_trees import as_unprivileged

from synco_core.engines.default_files import drop_kept_copy
from synco_core.install import owned
from synco_core.trees import remove_tree

#: A folder name of 200 bytes: 30 levels of them make a path longer than PATH_MAX (4,096).
LONG = "d" * 200
LEVELS = 30


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """Outside pytest's own temporary root (its clean-up fails on trees deeper than the path limit), and
    searchable for ``nobody``."""
    folder = Path(tempfile.mkdtemp(prefix="synco-owned-shapes-"))
    folder.chmod(0o711)
    try:
        yield folder
    finally:
        remove_tree(folder, ignore_errors=True)


def kept_copy(project: Path) -> tuple[Path, Path]:
    """An installed ``uploads`` folder (noted) with a few files, taken out by a rollback: (live, kept copy)."""
    live, kept = project / "uploads", project / ".uploads.synco-previous"
    (kept / "img" / "2026").mkdir(parents=True)
    (kept / "img" / "logo.png").write_bytes(b"installed logo")
    (kept / "img" / "2026" / "a.jpg").write_bytes(b"installed a")
    (kept / "doc.pdf").write_bytes(b"installed doc")
    # The note is of the folder as it went in (it was live at ``uploads`` then; a rollback renamed it).
    owned.write_manifest(kept, owned.manifest_path(live))
    live.mkdir()
    return live, kept


def files_under(root: Path) -> dict[str, bytes]:
    found = {}
    for current, _folders, files in os.walk(root):
        for name in files:
            path = Path(current, name)
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def test_a_kept_copy_with_read_only_folders_loses_the_install_files_and_keeps_the_uploads(tmp_path: Path) -> None:
    """The install's folders are 0555 (as received), the application wrote into one it could write: run as
    a user who is not root, the next install's drop of the kept copy removes the install's files anyway."""
    live, kept = kept_copy(tmp_path / "project")
    (kept / "thumbs").mkdir()
    (kept / "thumbs" / "upload-150.jpg").write_bytes(b"the application's thumbnail")
    for folder in (kept / "img" / "2026", kept / "img"):
        folder.chmod(0o555)

    def drop() -> tuple[str, dict[str, bytes]]:
        try:
            drop_kept_copy(live, kept)
        except owned.ForeignFilesError as exc:
            return str(exc), files_under(kept)
        return "dropped", files_under(kept)

    said, left = as_unprivileged(tmp_path, drop)  # type: ignore[misc]
    assert left == {"thumbs/upload-150.jpg": b"the application's thumbnail"}
    assert "thumbs/upload-150.jpg" in said and "\n" not in said, said


def test_a_folder_swapped_for_a_link_during_the_removal_is_not_entered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Right after the kept copy's first listing, the application (or anyone) replaces one of its folders by a
    link to a folder holding the very same files (hard links: the received folder, whose files the install
    linked). The removal must not follow it: the files behind the link are not in the kept copy."""
    project = tmp_path / "project"
    live, kept = kept_copy(project)
    received = tmp_path / "received-img"
    received.mkdir()
    for name in ("logo.png",):
        os.link(kept / "img" / name, received / name)
    note = owned.read_manifest(owned.manifest_path(live))
    assert note is not None
    swapped = []
    looked_up = note.owns

    def owns(relative: str, info: os.stat_result) -> bool:
        if not swapped:  # the first entry of the first listing: the folders below are still to be entered
            swapped.append(relative)
            remove_tree(kept / "img")
            (kept / "img").symlink_to(received)
        return looked_up(relative, info)

    monkeypatch.setattr(note, "owns", owns)
    stays = owned.remove_owned(kept, note)
    assert (received / "logo.png").read_bytes() == b"installed logo", "removed through the link"
    assert stays.first == ["img"]
    assert (kept / "img").is_symlink()


def deep_tree(root: Path) -> tuple[int, str]:
    """``root/LONG/LONG/...`` deeper than PATH_MAX, a file at each level, made through descriptors (a path of
    that length is refused); (levels, the deepest folder's path below the root)."""
    root.mkdir(parents=True)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for level in range(LEVELS):
            out = os.open(f"f{level}.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
            os.write(out, b"installed %d" % level)
            os.close(out)
            os.mkdir(LONG, dir_fd=fd)
            deeper = os.open(LONG, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = deeper
    finally:
        os.close(fd)
    return LEVELS, "/".join([LONG] * LEVELS)


def write_at(root: Path, relative: str, data: bytes) -> None:
    """Write ``root/relative`` however long the path, one folder at a time."""
    *folders, name = relative.split("/")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for folder in folders:
            deeper = os.open(folder, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = deeper
        out = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(out, data)
        os.close(out)
    finally:
        os.close(fd)


def test_a_tree_deeper_than_the_path_limit_is_noted_checked_and_removed_but_the_upload(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    staging = project / "uploads.synco-new"
    _levels, deepest = deep_tree(staging)
    assert len(str(staging / deepest)) > 4096
    note = owned.manifest_path(project / "uploads")
    manifest = owned.write_manifest(staging, note)
    assert not owned.foreign_entries(staging, manifest)
    upload = f"{deepest}/upload.jpg"
    write_at(staging, upload, b"the application's upload")
    foreign = owned.foreign_entries(staging, manifest)
    assert foreign.count == 1 and foreign.first == [upload]
    stays = owned.remove_owned(staging, owned.read_manifest(note))
    assert stays.count == 1 and stays.first == [upload]
    # Only the chain down to the upload is left: every file the install put there is gone.
    fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(LEVELS):
            assert os.listdir(fd) == [LONG]
            deeper = os.open(LONG, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = deeper
        assert os.listdir(fd) == ["upload.jpg"]
    finally:
        os.close(fd)
