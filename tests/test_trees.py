"""Whole trees on a laptop: deep ones under a small descriptor limit, and ones their owner cannot simply delete.

macOS gives a process 256 descriptors (``ulimit -n``), and a session may bring folders hundreds of levels
deep (the path limit allows 2,000): measuring, copying and removing a tree must hold a bounded number of
descriptors and no Python frame per level, or the install ends in ``Too many open files`` or a
``RecursionError``. Run as a user who is not root (most CI hides this), an earlier install's kept copy that
holds read-only folders must still go, and one holding another user's files (the local web server's
thumbnails) must be refused in one line that names the file, its folder's owner and what to do.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fdlimits import with_few_descriptors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_serve_wild_trees import NOBODY, as_unprivileged

from synco_core import trees
from synco_core.engines.default_files import dotfile_candidates, install_tree
from synco_core.install.plan import ReceivedSet
from synco_core.testing.services import unavailable
from synco_core.trees import TreeRemovalError, copy_tree, remove_tree, tree_size

#: The recursion limit the deep trees are handled under (:func:`deep_handling`): lower than Python's 1,000, so
#: that trees deeper than it and than the descriptors :func:`fdlimits.with_few_descriptors` leaves (64) are
#: half as deep to make, copy and compare; a Python frame or a descriptor per level still fails.
RECURSION_LIMIT = 400
#: Deeper than the descriptors left and than :data:`RECURSION_LIMIT`.
DEEP = 500


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A temporary folder outside pytest's own: pytest's clean-up of old ones recurses per level and would
    fail on these trees, in any later pytest session on the machine. Searchable for ``nobody``."""
    folder = Path(tempfile.mkdtemp(prefix="synco-trees-"))
    folder.chmod(0o711)
    try:
        yield folder
    finally:
        remove_tree(folder, ignore_errors=True)


def chain(root: Path, depth: int, name: str = "d") -> Path:
    """``root/d/d/.../d`` ``depth`` folders deep, a file and a link at every level; the deepest folder."""
    root.mkdir(parents=True, exist_ok=True)
    folder = root
    for level in range(depth):
        (folder / f"f{level % 3}").write_text(str(level))
        (folder / "link").symlink_to("f0" if level % 2 else "../elsewhere")
        folder = folder / name
        folder.mkdir()
    (folder / "leaf").write_text("leaf")
    return folder


def snapshot(root: Path) -> dict[str, tuple[str, str | bytes]]:
    """Every entry below ``root``: kind and content (a link's target), by relative path; walked iteratively."""
    found: dict[str, tuple[str, str]] = {}
    pending = [root]
    while pending:
        folder = pending.pop()
        for entry in os.scandir(folder):
            relative = os.path.relpath(entry.path, root)
            if entry.is_symlink():
                found[relative] = ("link", os.readlink(entry.path))
            elif entry.is_dir():
                found[relative] = ("folder", oct(stat.S_IMODE(entry.stat().st_mode)))
                pending.append(Path(entry.path))
            else:
                found[relative] = ("file", Path(entry.path).read_bytes())
    return found


def test_a_deep_tree_is_measured_copied_and_removed_with_few_descriptors(tmp_path: Path) -> None:
    source = tmp_path / "source"
    chain(source, DEEP)
    expected = snapshot(source)
    size, copied, seen = with_few_descriptors(measure_copy_and_remove, source, tmp_path / "copy")
    assert size == sum(len(kind[1]) for kind in expected.values() if kind[0] == "file")
    assert copied == sum(1 for kind in expected.values() if kind[0] != "folder")
    assert seen == expected
    assert not os.path.lexists(tmp_path / "copy")


def deep_handling() -> None:
    """In the process of :func:`fdlimits.with_few_descriptors`, before the trees are handled."""
    sys.setrecursionlimit(RECURSION_LIMIT)


def measure_copy_and_remove(source: Path, copy: Path) -> tuple[int, int, dict[str, tuple[str, str | bytes]]]:
    """The size and the copy of ``source``, what the copy held, then the copy removed: in one process (each
    costs a start of its own)."""
    deep_handling()
    size, copied = tree_size(source), copy_tree(source, copy, shutil.copy2)
    seen = snapshot(copy)
    remove_tree(copy)
    return size, copied, seen


def test_installing_a_deep_set_again_and_again_with_few_descriptors(tmp_path: Path) -> None:
    """The install's copy, the removal of the previous install's kept copy, the plan's size and the walk for
    the project's dotfiles, each over a tree deeper than the descriptors and the recursion limit allow."""
    received = tmp_path / "dump" / "uploads"
    chain(received, DEEP)
    destination = tmp_path / "project" / "uploads"
    chain(destination, DEEP)
    deepest = chain(destination, 0)
    for _ in range(DEEP):
        deepest = deepest / "d"
    (deepest / ".gitignore").write_text("*\n")
    size, dotfiles = with_few_descriptors(install_three_times, received, destination)
    assert size > 0
    assert dotfiles == [".gitignore"]  # the project's own, at the bottom of the tree the first install replaced
    assert snapshot(destination) == snapshot(received)


def install_three_times(received: Path, destination: Path) -> tuple[int, list[str]]:
    """The plan's size of ``received``, then three installs of it, each replacing the one before; the names
    of the dotfiles the first install found in the tree it replaced."""
    deep_handling()
    size = ReceivedSet("uploads", "public", received).size_bytes
    dotfiles: list[str] = []
    for attempt in range(3):
        result = install_tree(received, destination)
        assert result.backup is not None
        if attempt == 0:
            dotfiles = [path.name for path in dotfile_candidates(result.backup, destination)]
    return size, dotfiles


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.recursive(st.one_of(st.just("file"), st.just("link")),
                    lambda children: st.dictionaries(st.sampled_from(["a", "b", "c", "dd"]), children, max_size=3),
                    max_leaves=30))
def test_copy_tree_copies_any_tree_as_it_is(tmp_path: Path, shape: object) -> None:
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    source = work / "source"
    source.mkdir()

    def build(folder: Path, node: object) -> None:
        assert isinstance(node, dict)
        for name, child in node.items():
            if child == "file":
                (folder / name).write_text(name)
            elif child == "link":
                (folder / name).symlink_to(f"../{name}")
            else:
                (folder / name).mkdir()
                build(folder / name, child)

    build(source, shape if isinstance(shape, dict) else {"x": shape})
    copy_tree(source, work / "copy", shutil.copy2)
    assert snapshot(work / "copy") == snapshot(source)
    remove_tree(work / "copy")
    remove_tree(source)
    assert list(work.iterdir()) == []


def test_removal_never_follows_a_link(tmp_path: Path) -> None:
    outside = tmp_path / "home"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    tree = tmp_path / "tree"
    chain(tree, 3)
    (tree / "d" / "to-home").symlink_to(outside)
    (tree / "d" / "d" / "home-file").symlink_to(outside / "keep.txt")
    remove_tree(tree)
    assert not os.path.lexists(tree)
    assert (outside / "keep.txt").read_text() == "mine"
    remove_tree(tmp_path / "nothing-there")  # nothing to remove is no error


def unremovable_tree(tmp_path: Path) -> Path:
    """A kept copy as a user leaves it: read-only files and folders, a folder without any bit, all its own."""
    tree = tmp_path / ".uploads.synco-previous"
    chain(tree, 4)
    (tree / "d" / "ro.txt").write_text("read-only")
    (tree / "d" / "ro.txt").chmod(0o444)
    (tree / "d" / "d").chmod(0o555)
    (tree / "d" / "d" / "d").chmod(0o000)
    (tree / "d" / "noexec").mkdir()
    (tree / "d" / "noexec" / "x").write_text("x")
    (tree / "d" / "noexec").chmod(0o600)
    return tree


def test_a_tree_its_owner_made_read_only_is_removed(tmp_path: Path) -> None:
    tree = unremovable_tree(tmp_path)
    as_unprivileged(tmp_path, lambda: remove_tree(tree))
    assert not os.path.lexists(tree)


def test_another_users_files_are_refused_in_one_line_naming_them(tmp_path: Path) -> None:
    """The web server's thumbnails in the kept copy: one line naming the file, its folder's owner, the fix."""
    if os.geteuid() != 0:
        unavailable("giving files to another user needs root")  # pragma: no cover - CI runs as root
    tree = unremovable_tree(tmp_path)
    for current, folders, files in os.walk(tmp_path):
        for name in [current, *(os.path.join(current, n) for n in folders + files)]:
            os.chown(name, NOBODY, NOBODY, follow_symlinks=False)
    thumbs = tree / "thumbs"
    thumbs.mkdir()
    (thumbs / "t.png").write_bytes(b"png")  # root's folder and file, in nobody's tree

    def remove() -> str:
        try:
            remove_tree(tree)
        except TreeRemovalError as exc:
            return str(exc)
        return "removed"

    message = as_unprivileged(tmp_path, remove, give=False)
    assert message == (f"cannot remove {thumbs / 't.png'}: Permission denied (its folder {thumbs} belongs to root); "
                       f"remove {tree} yourself (as that user, or with sudo), then run the command again")
    assert (thumbs / "t.png").exists()
    remove_tree(tree, ignore_errors=True)  # root may


def test_the_held_folders_stay_bounded(tmp_path: Path) -> None:
    """Going down drops the shallowest descriptor, going up past them reopens from the root: never more held
    than the limit (3 here), so 200 levels are removed with 8 spare descriptors."""
    tree = tmp_path / "tree"
    chain(tree, 200)
    with_few_descriptors(remove_holding_three, tree, spare=8)
    assert not os.path.lexists(tree)


def remove_holding_three(tree: Path) -> None:
    trees.MAX_HELD_FOLDERS = 3  # in the process with_few_descriptors spawned for this call alone
    remove_tree(tree)


def test_installing_as_a_user_over_a_kept_copy_it_made_read_only(tmp_path: Path) -> None:
    """The second install after one whose content the user made read-only (a folder of 0555, its files 0444):
    the kept copy of the first is removed, not the end of every later install (it was: 'cannot use f')."""
    received = tmp_path / "dump" / "uploads"
    chain(received, 3)
    destination = tmp_path / "project" / "uploads"
    destination.parent.mkdir()
    kept = unremovable_tree(tmp_path / "project")
    kept.rename(tmp_path / "project" / ".uploads.synco-previous")
    chain(destination, 2)

    def install() -> str:
        return str(install_tree(received, destination).backup)

    assert as_unprivileged(tmp_path, install) == str(tmp_path / "project" / ".uploads.synco-previous")
    assert snapshot(destination) == snapshot(received)
    assert "ro.txt" not in str(snapshot(tmp_path / "project"))


def test_installing_over_another_users_files_is_refused_naming_them(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        unavailable("giving files to another user needs root")  # pragma: no cover - CI runs as root
    received = tmp_path / "dump" / "uploads"
    chain(received, 2)
    destination = tmp_path / "project" / "uploads"
    kept = tmp_path / "project" / ".uploads.synco-previous"
    chain(destination, 2)
    chain(kept, 1)
    for current, folders, files in os.walk(tmp_path):
        for name in [current, *(os.path.join(current, n) for n in folders + files)]:
            os.chown(name, NOBODY, NOBODY, follow_symlinks=False)
    (kept / "thumbs").mkdir()
    (kept / "thumbs" / "t.png").write_bytes(b"png")  # the web server's, here root's
    before = snapshot(destination)

    def install() -> str:
        try:
            install_tree(received, destination)
        except TreeRemovalError as exc:
            return str(exc)
        return "installed"

    message = as_unprivileged(tmp_path, install, give=False)
    assert message.startswith(f"cannot remove {kept / 'thumbs' / 't.png'}: Permission denied"), message
    assert snapshot(destination) == before
