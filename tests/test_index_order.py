"""Index order: a walk of any tree yields its files sorted as strings, and two sorted streams merge by path.

The property behind the streamed index: whatever the names (``-`` and ``.`` sort before ``/``, ``0`` after
it, non-ASCII after everything ASCII), the files a folder-by-folder walk yields are exactly the sorted list
of their paths, so an index written during the walk is sorted, and a receiver's walk of its own folder
lines up with it.
"""

from __future__ import annotations

import errno
import itertools
import os
import sys
from pathlib import Path

import pytest
from fdlimits import with_few_descriptors
from hypothesis import given, settings
from hypothesis import strategies as st

from synco_core.globs import ExcludeMatcher
from synco_core.index import order
from synco_core.index.order import OrderError, merge_sorted, sorted_walk, sorted_walk_lstat

# Names built from characters around '/' in code point order, plus a non-ASCII one.
NAME = st.text(alphabet="a-.0_~é", min_size=1, max_size=4).filter(lambda name: name not in (".", ".."))


@st.composite
def trees(draw: st.DrawFn) -> list[tuple[str, bool]]:
    """(relative path, is folder) of a random tree, folders before their content."""
    found: list[tuple[str, bool]] = []

    def fill(prefix: str, depth: int) -> None:
        names = draw(st.lists(NAME, max_size=5, unique=True))
        for name in names:
            folder = depth < 3 and draw(st.booleans())
            found.append((prefix + name, folder))
            if folder:
                fill(prefix + name + "/", depth + 1)

    fill("", 0)
    return found


def build(root: Path, tree: list[tuple[str, bool]]) -> list[str]:
    root.mkdir(parents=True, exist_ok=True)
    files = []
    for relative, folder in tree:
        if folder:
            (root / relative).mkdir()
        else:
            (root / relative).write_bytes(b"x")
            files.append(relative)
    return files


@settings(max_examples=60, deadline=None)
@given(tree=trees())
def test_walk_yields_files_in_string_order(tmp_path_factory: pytest.TempPathFactory,
                                           tree: list[tuple[str, bool]]) -> None:
    root = tmp_path_factory.mktemp("tree")
    files = build(root, tree)
    walked = list(sorted_walk(root))
    walked_files = [relative for relative, entry in walked if not entry.is_dir()]
    assert walked_files == sorted(files)
    # Every folder comes right before its content, and everything is yielded once.
    assert sorted(relative for relative, _ in walked) == sorted(relative for relative, _ in tree)
    seen: set[str] = set()
    for relative, _entry in walked:
        parent = relative.rpartition("/")[0]
        assert not parent or parent in seen
        seen.add(relative)


@settings(max_examples=30, deadline=None)
@given(tree=trees())
def test_the_lstat_walk_is_the_same_walk_with_each_files_lstat(tmp_path_factory: pytest.TempPathFactory,
                                                                tree: list[tuple[str, bool]]) -> None:
    root = tmp_path_factory.mktemp("tree")
    build(root, tree)
    if tree:
        os.symlink(root / tree[0][0], root / "zz-link")
    plain = [(relative, entry.path) for relative, entry in sorted_walk(root, ("*.skip",))]
    with_lstat = list(sorted_walk_lstat(root, ("*.skip",)))
    assert [(relative, entry.path) for relative, entry, _info in with_lstat] == plain
    for _relative, entry, info in with_lstat:
        if entry.is_dir(follow_symlinks=False):
            assert info is None
        else:
            # The folder-relative lstat is the entry's own, links not followed.
            assert info is not None and (info.st_ino, info.st_mode) == (os.lstat(entry.path).st_ino,
                                                                        os.lstat(entry.path).st_mode)


#: Exclude patterns of every shape: names alone (judged by the name in a walk) and the others, among them
#: classes and anchored patterns that match across a ``/`` (``a[!-]0`` matches ``a/0``).
PATTERNS = [".*", "*.skip", "a?", "*-*", "~", "é*", "a.", "0_/", " .* ", "a/b", "/a", "**/0", "a/**", "[a.]*",
            "[!a]", "a[!-]0", "a*0", "a**0", "*", "?", "b/"]
#: Names that the patterns above match in every way: whole, in part, across a ``/``.
CLOSE_NAMES = ["a", "b", "0", "a-0", "a.", ".x", "é", "x.skip"]


def exclusion_walks(root: Path, patterns: list[str], after: str | None = None) -> tuple[list[str], list[str]]:
    """The paths of a walk judging names alone where it can, and of one judging every full path."""
    by_name, by_path = ExcludeMatcher(patterns), ExcludeMatcher(patterns)
    by_path.name_only = None
    return ([relative for relative, _entry, _info in sorted_walk_lstat(root, by_name, after=after)],
            [relative for relative, _entry, _info in sorted_walk_lstat(root, by_path, after=after)])


def check_exclusions(root: Path, tree: list[tuple[str, bool]], patterns: list[str], resume: int) -> None:
    fast, full = exclusion_walks(root, patterns)
    assert fast == full
    # What the walk leaves out is what the patterns match, itself or a folder above it.
    matcher = ExcludeMatcher(patterns)
    walked = set(full)
    for relative, _folder in tree:
        assert (relative in walked) != any(matcher(prefix) for prefix in itertools.accumulate(
            relative.split("/"), lambda head, name: f"{head}/{name}"))
    if full:
        fast, full = exclusion_walks(root, patterns, after=full[min(resume, len(full) - 1)])
        assert fast == full


@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_walk_judging_names_alone_excludes_what_the_full_paths_do(tmp_path: Path, pattern: str) -> None:
    """Patterns that can only match a whole name are matched against names alone in a walk (its folders were
    judged on the way down): the walk is the one full paths give, resumed part way or not."""
    tree = [(name, True) for name in CLOSE_NAMES] + [(f"{folder}/{name}", False) for folder in CLOSE_NAMES
                                                     for name in CLOSE_NAMES]
    build(tmp_path, tree)
    for patterns in ([pattern], [pattern, ".*"], ["*.skip", pattern]):
        for resume in (0, 7, 40):
            check_exclusions(tmp_path, tree, patterns, resume)


@settings(max_examples=40, deadline=None)
@given(tree=trees(), patterns=st.lists(st.sampled_from(PATTERNS), max_size=3),
       resume=st.integers(min_value=0, max_value=40))
def test_a_walk_judging_names_alone_in_any_tree(tmp_path_factory: pytest.TempPathFactory,
                                                tree: list[tuple[str, bool]], patterns: list[str], resume: int) -> None:
    root = tmp_path_factory.mktemp("tree")
    build(root, tree)
    check_exclusions(root, tree, patterns, resume)


def test_the_lstat_walk_of_a_file_gone_meanwhile_or_of_too_deep_a_tree(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    build(tmp_path, [("a", False), ("b", False)])
    walk = sorted_walk_lstat(tmp_path)
    assert next(walk)[0] == "a"
    (tmp_path / "b").unlink()
    assert next(walk)[2] is None, "gone since the folder was listed: no stat"
    # A tree deeper than the descriptors a process has: the walk keeps few of them open (deeper folders'
    # files are stat'ed by full path), so its listings never run out.
    folder = tmp_path / "deep"
    for _ in range(60):
        folder = folder / "d"
    folder.mkdir(parents=True)
    (folder / "f").write_bytes(b"x")
    found = with_few_descriptors(walk_holding_eight, tmp_path / "deep", spare=16)
    assert [relative for relative, _info in found] == ["d/" * 60 + "f"] and found[0][1] is not None


def test_a_walk_that_runs_out_of_descriptors_fails_instead_of_skipping_folders(tmp_path: Path) -> None:
    """A listing failing for want of descriptors says nothing about the folder: skipped as unreadable, serve
    would leave its files out and a receiver would take them as absent locally."""
    folder = tmp_path / "deep"
    for _ in range(60):
        folder = folder / "d"
    folder.mkdir(parents=True)
    (folder / "f").write_bytes(b"x")
    with pytest.raises(OSError) as failed:
        with_few_descriptors(walk_holding_eighty, tmp_path / "deep", spare=16)
    assert failed.value.errno == errno.EMFILE


def walk_holding_eighty(root: Path) -> list[tuple[str, os.stat_result | None]]:
    order.MAX_FOLDER_FDS = 80  # more than the limit leaves: the walk itself runs out
    return [(relative, info) for relative, entry, info in sorted_walk_lstat(root) if not entry.is_dir()]


def walk_holding_eight(root: Path) -> list[tuple[str, os.stat_result | None]]:
    order.MAX_FOLDER_FDS = 8  # in the process with_few_descriptors spawned for this call alone
    return [(relative, info) for relative, entry, info in sorted_walk_lstat(root) if not entry.is_dir()]


def test_the_cases_that_break_a_plain_sorted_walk(tmp_path: Path) -> None:
    files = build(tmp_path, [("a", True), ("a/x", False), ("a-b", False), ("a0", False), ("a.txt", False),
                             ("b", True), ("b/é", False), ("b/z", False)])
    assert [relative for relative, entry in sorted_walk(tmp_path) if not entry.is_dir()] == sorted(files) == \
        ["a-b", "a.txt", "a/x", "a0", "b/z", "b/é"]


def test_exclusions_links_and_skipped_folders(tmp_path: Path) -> None:
    build(tmp_path, [("keep", True), ("keep/a.txt", False), ("cache", True), ("cache/x", False),
                     ("skip-me", True), ("skip-me/y", False), ("z.log", False)])
    os.symlink(tmp_path / "keep", tmp_path / "link-to-folder")
    walked = [relative for relative, _ in sorted_walk(tmp_path, ("cache", "*.log"),
                                                     skip_folder=lambda entry, _rel: entry.name == "skip-me")]
    # The link is listed, not followed; excluded and skipped folders are neither listed nor entered.
    assert walked == ["keep", "keep/a.txt", "link-to-folder"]


def test_deep_trees_need_no_recursion(tmp_path: Path) -> None:
    depth = 300
    folder = tmp_path
    for _ in range(depth):
        folder = folder / "d"
        os.mkdir(folder)
    (folder / "f").write_bytes(b"")
    # A walk that recursed (or chained a generator per level) would need more frames than this.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(150)
    try:
        files = [relative for relative, entry in sorted_walk(tmp_path) if not entry.is_dir()]
    finally:
        sys.setrecursionlimit(limit)
    assert files == ["d/" * depth + "f"]


def test_unreadable_folder_is_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert list(sorted_walk(tmp_path / "missing")) == []
    assert "skipping" in caplog.text


@settings(max_examples=100, deadline=None)
@given(left=st.dictionaries(st.text(max_size=3), st.integers()),
       right=st.dictionaries(st.text(max_size=3), st.integers()))
def test_merge_is_a_full_outer_join_in_order(left: dict[str, int], right: dict[str, int]) -> None:
    merged = list(merge_sorted(sorted(left.items()), sorted(right.items())))
    assert [path for path, _a, _b in merged] == sorted(set(left) | set(right))
    assert all(a == left.get(path) and b == right.get(path) for path, a, b in merged)


def test_merge_refuses_unsorted_input() -> None:
    with pytest.raises(OrderError, match="not in index order"):
        list(merge_sorted([("b", 1), ("a", 2)], []))
    with pytest.raises(OrderError, match="not in index order"):
        list(merge_sorted([], [("a", 1), ("a", 2)]))


def _increasing(items: list[tuple[str, int]]) -> bool:
    return all(a[0] < b[0] for a, b in itertools.pairwise(items))


@settings(max_examples=300, deadline=None)
@given(left=st.lists(st.tuples(st.sampled_from("abcde"), st.integers()), max_size=6),
       right=st.lists(st.tuples(st.sampled_from("abcde"), st.integers()), max_size=6))
def test_merge_refuses_any_stream_out_of_order_wherever_it_is(left: list[tuple[str, int]],
                                                              right: list[tuple[str, int]]) -> None:
    """Out of order anywhere, on either side, at the start or after the other side ended: refused, never
    paired wrongly."""
    if _increasing(left) and _increasing(right):
        merged = list(merge_sorted(left, right))
        assert [path for path, _a, _b in merged] == sorted({p for p, _ in left} | {p for p, _ in right})
        return
    with pytest.raises(OrderError, match="not in index order"):
        list(merge_sorted(left, right))


@pytest.mark.parametrize("with_lstat", [False, True], ids=["sorted_walk", "sorted_walk_lstat"])
def test_a_folder_swapped_for_a_link_before_it_is_entered_is_not_walked_into(tmp_path: Path,
                                                                            with_lstat: bool) -> None:
    """An uploader replaces a folder the walk has just listed in its parent by a link to a tree of secrets
    (``/``, the application): the walk neither lists nor enters what the link leads to."""
    outside = tmp_path / "outside"
    (outside / "deeper").mkdir(parents=True)
    (outside / "secret.txt").write_text("secret")
    (outside / "deeper" / "key").write_text("key")
    root = tmp_path / "root"
    (root / "swap").mkdir(parents=True)
    (root / "swap" / "secret.txt").write_text("decoy")
    (root / "z.txt").write_text("after")
    walk = sorted_walk_lstat(root) if with_lstat else sorted_walk(root)
    seen = []
    for item in walk:
        seen.append(item[0])
        if item[0] == "swap":
            # Between the folder's entry and its listing: the next step of the walk lists it.
            (root / "swap").rename(tmp_path / "aside")
            (root / "swap").symlink_to(outside)
    assert seen == ["swap", "z.txt"]
