"""Every walk synco makes through a folder tree, over trees deeper than Python's recursion limit.

A received set, a hostile or merely deep private tar, a laptop's project folder or a server's upload folder
may nest folders 1,200 deep (Linux allows far deeper). Python 3.11's ``os.walk``, ``os.makedirs``,
``shutil.rmtree`` and recursive functions recurse once per level: each walk here ended in ``RecursionError``
before it walked with a stack (``make_folders``, the empty-folder walks of ``receive --delete`` and its plan,
a folder of empty folders replaced by a file, the removal of a session, of a serve's leftover and of a
scratch folder). The pruned walks of the install (dotfiles and excluded entries carried over, the files an
empty set would take away) and a tree's size work by descriptors, beyond the path limit (4,096 bytes) too.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from deeptrees import DEPTH, deep_folder, exists, nest, put, snapshot

from synco_core.engines.default_files import dotfile_candidates, excluded_candidates
from synco_core.fsutil import make_folders
from synco_core.globs import ExcludeMatcher
from synco_core.install.plan import _files_lost, _holds_a_file
from synco_core.install.removals import files_lost
from synco_core.receive.emptied import empty_folders
from synco_core.receive.files import _replace_empty_folder
from synco_core.receive.public import remove_empty_folders
from synco_core.trees import Choice, select_entries, tree_size

#: A folder name of 200 bytes: 25 levels of them make a path longer than PATH_MAX (4,096 bytes).
LONG = "n" * 200


@pytest.fixture
def base() -> Iterator[Path]:
    with deep_folder() as folder:
        yield folder


def test_make_folders_makes_any_depth_as_makedirs_does(base: Path) -> None:
    deepest = base / "made" / "/".join(["d"] * DEPTH)
    make_folders(deepest)
    assert deepest.is_dir()
    make_folders(deepest)  # there already: as makedirs(exist_ok=True)
    put(base, "made/file", "a file")
    with pytest.raises(OSError) as caught:
        make_folders(base / "made" / "file" / "/".join(["d"] * DEPTH))
    assert caught.value.errno == errno.ENOTDIR
    with pytest.raises(FileExistsError):
        make_folders(base / "made" / "file")


@pytest.mark.parametrize("name,depth", [("d", DEPTH), (LONG, 25)], ids=["deeper-than-recursion", "past-PATH_MAX"])
def test_the_pruned_walks_of_the_install_find_what_is_at_the_bottom(base: Path, name: str, depth: int) -> None:
    previous, destination = base / "previous", base / "destination"
    deepest = nest(previous, depth, name, files_every=7, tag="old")
    for relative in (".gitignore", "page.tmp"):
        put(previous, f"{deepest}/{relative}", relative)
    nest(destination, depth, name)
    keep = ExcludeMatcher(["**/*.tmp"])
    assert [path.as_posix() for path in excluded_candidates(previous, keep)] == [f"{deepest}/page.tmp"]
    assert _files_lost(previous, keep) == len(range(0, depth, 7)) + 2  # f<level>.txt, leaf.txt, .gitignore
    assert _holds_a_file(previous)
    if len(os.fsencode(destination / deepest)) < 4096:
        # Only where the new content has the same folders: looked up by path, within the path limit.
        assert [path.as_posix() for path in dotfile_candidates(previous, destination)] == [f"{deepest}/.gitignore"]


@pytest.mark.parametrize("name,depth", [("d", DEPTH), (LONG, 25)], ids=["deeper-than-recursion", "past-PATH_MAX"])
@pytest.mark.parametrize("dotfiles_carried", [False, True], ids=["private", "public"])
def test_the_files_an_install_takes_away_are_counted_at_any_depth(base: Path, name: str, depth: int,
                                                                  dotfiles_carried: bool) -> None:
    """``--max-delete``'s count of an install (:func:`files_lost`) walks the project's folder and looks each
    entry up in the received copy at any depth: past PATH_MAX it passed over what it could not list by path,
    so an install removing those files was allowed under a limit it broke."""
    project, received = base / "project", base / "received"
    deepest = nest(project, depth, name, files_every=7, tag="laptop")
    # The copy has every other of those files (replaced, not lost), the leaf, and its own file at the bottom.
    nest(received, depth, name, files_every=14, tag="server")
    for relative in (".gitignore", "page.tmp", "gone.txt"):
        put(project, f"{deepest}/{relative}", relative)
    put(received, f"{deepest}/new.txt", "new")
    lost = {f"f{level}.txt" for level in range(0, depth, 7)} - {f"f{level}.txt" for level in range(0, depth, 14)}
    expected = len(lost) + 1 + (0 if dotfiles_carried else 1)  # gone.txt, .gitignore unless carried over
    keep = ExcludeMatcher(["**/*.tmp"])
    assert files_lost(project, received, keep, dotfiles_carried) == expected
    assert files_lost(project, received, None, dotfiles_carried) == expected + 1  # page.tmp, not kept
    assert files_lost(project, received, keep, dotfiles_carried, counted={f"{deepest}/gone.txt"}) == expected - 1
    # Received with nothing in it, every file but the kept one goes (the top's dotfiles stay with a public set).
    (base / "empty").mkdir()
    everything = len(range(0, depth, 7)) + 1 + 3  # leaf.txt and the three at the bottom
    assert files_lost(project, base / "empty", keep, dotfiles_carried) == everything - 1


def test_select_entries_takes_skips_and_enters_in_a_stable_order(base: Path) -> None:
    for relative in ("b/x", "a/y", "a/.z", "c/d/e", ".top"):
        (base / relative).parent.mkdir(parents=True, exist_ok=True)
        (base / relative).write_text(relative)
    (base / "link").symlink_to("a")

    def choose(relative: str, is_folder: bool) -> Choice:
        if relative.startswith("c"):
            return Choice.SKIP
        return Choice.ENTER if is_folder else Choice.TAKE

    assert list(select_entries(base, choose)) == [".top", "link", "a/.z", "a/y", "b/x"]
    assert list(select_entries(base / "missing", choose)) == []


def test_a_folder_of_nothing_but_deep_empty_folders_is_found_and_removed(base: Path) -> None:
    set_dir = base / "set"
    nest(set_dir / "empty", DEPTH)
    nest(set_dir / "kept", DEPTH)
    put(set_dir, "kept/" + "/".join(["d"] * DEPTH) + "/file", "a file")
    nest(set_dir / "cache", DEPTH)
    nest(set_dir / ("cache/" + "/".join(["d"] * DEPTH)), 1, "mine")
    keep = ExcludeMatcher(["**/mine"])
    found = empty_folders(set_dir, keep)
    assert "empty" in found and "/".join(["empty"] + ["d"] * DEPTH) in found
    assert not any(folder.startswith(("kept", "cache")) for folder in found)
    remove_empty_folders(set_dir, keep)
    assert not exists(set_dir, "empty")
    assert exists(set_dir, "kept/" + "/".join(["d"] * DEPTH) + "/file")
    assert exists(set_dir, "/".join(["cache"] + ["d"] * DEPTH + ["mine"]))
    assert set_dir.is_dir()


def test_a_file_replaces_a_deep_folder_of_empty_folders_but_never_one_holding_a_file(base: Path) -> None:
    nest(base / "empty", DEPTH)
    part = base / "part"
    part.write_text("the file")
    _replace_empty_folder(str(part), base / "empty")
    assert (base / "empty").read_text() == "the file"
    nest(base / "full", DEPTH)
    put(base, "full/" + "/".join(["d"] * DEPTH) + "/x", "deep")
    before = snapshot(base / "full")
    part.write_text("the file")
    with pytest.raises(Exception, match="folder holding files"):
        _replace_empty_folder(str(part), base / "full")
    assert snapshot(base / "full") == before and not part.exists()


def test_a_tree_past_the_path_limit_is_measured(base: Path) -> None:
    deepest = nest(base / "tree", 25, LONG, files_every=5, tag="x")
    assert len(os.fsencode(base / "tree" / deepest)) > 4096
    expected = sum(len(content.encode()) for content in [f"x {level}" for level in range(0, 25, 5)] + ["x leaf"])
    assert tree_size(base / "tree") == expected


def test_a_session_folder_and_a_leftover_holding_deep_trees_are_removed(base: Path) -> None:
    from synco_core.serve import ttl

    web = base / "web"
    web.mkdir()
    hold = ttl.create_session_folder(web / "synco-deep000000000000001", 3600)
    nest(hold.path / "deep", DEPTH, files_every=100)
    hold.release()
    assert ttl.remove_session(hold.path) is None
    assert not os.path.lexists(hold.path) and os.listdir(web) == []
    leftover = web / f"{ttl.REMOVING_PREFIX}synco-gone-1"
    nest(leftover, DEPTH, files_every=100)
    ttl.cleanup_expired(web)
    assert os.listdir(web) == []


def test_a_scratch_folder_holding_a_deep_tree_is_removed(base: Path) -> None:
    from synco_core.scratch import make_scratch_folder

    scratch = make_scratch_folder(str(base))
    nest(scratch.path, DEPTH, files_every=100)
    scratch.remove()
    assert not os.path.lexists(scratch.path)


def test_an_install_of_a_set_past_the_path_limit_is_refused_in_one_short_line(base: Path) -> None:
    """A private set extracted by descriptors may nest folders past PATH_MAX; the install copies by full
    paths and refuses it in one line (it named the whole path: 4,377 characters), the project untouched."""
    from synco_core.engines.default_files import install_tree
    from synco_core.errors import SyncoError

    nest(base / "received", 25, LONG, files_every=5, tag="x")
    (base / "project" / "private").mkdir(parents=True)
    put(base / "project", "private/mine.txt", "the laptop's")
    before = snapshot(base / "project")
    with pytest.raises(SyncoError) as caught:
        install_tree(base / "received", base / "project" / "private")
    message = str(caught.value)
    assert "longer than this system allows" in message and "left as it was" in message
    assert len(message) < 400 and "\n" not in message
    assert snapshot(base / "project") == before
