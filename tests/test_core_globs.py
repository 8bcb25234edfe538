"""Exclude patterns (synco_core.globs): gitignore-like semantics, the same for every walk of a file set."""

from __future__ import annotations

from pathlib import Path

import pytest

from synco_core.errors import ConfigError
from synco_core.globs import ExcludeMatcher, escape, walk_files
from synco_core.serve.build import _walk


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("**/cache/**", ["cache", "cache/a", "x/y/cache", "x/y/cache/b.jpg"], ["cached/a", "x/cachex/b"]),
        ("*.tmp", ["a.tmp", "x/y/b.tmp"], ["a.tmpl", "tmp", "a.tmp.txt"]),
        ("thumbs/*.jpg", ["thumbs/a.jpg"], ["thumbs/x/a.jpg", "x/thumbs/a.jpg"]),
        ("**/*.log", ["a.log", "x/a.log"], ["a.logs"]),
        ("*.[lL]og", ["a.log", "x/b.Log"], ["a.xog"]),
        ("private/", ["private", "x/private", "x/private/file"], ["privatefile", "x/privates"]),
        ("file?.[ab]", ["file1.a", "fileX.b"], ["file.a", "file1.c", "file/.a"]),
        ("[!a]*.txt", ["b.txt", "d/c.txt"], ["a.txt", "d/a.txt"]),
        ("[]x].txt", ["].txt", "x.txt"], ["y.txt"]),
        ("/public", ["public", "public/a/b"], ["x/public", "publics"]),
        ("a/**/b", ["a/b", "a/x/y/b", "a/b/c"], ["x/a/b", "a/xb"]),
        ("cache", ["cache", "cache/deep/file", "x/cache"], ["caches"]),
        ("[unclosed", ["[unclosed", "x/[unclosed"], ["u"]),
    ],
)
def test_patterns(pattern: str, matches: list[str], misses: list[str]) -> None:
    matcher = ExcludeMatcher([pattern])
    assert [p for p in matches if not matcher(p)] == []
    assert [p for p in misses if matcher(p)] == []


def test_escape_matches_only_the_literal_path() -> None:
    matcher = ExcludeMatcher(["/" + escape("a[1]/*?")])
    assert matcher("a[1]/*?") and matcher("a[1]/*?/below")
    assert not matcher("a1/xy") and not matcher("x/a[1]/*?")


def test_bad_pattern_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"exclude pattern '\[z-a\]'"):
        ExcludeMatcher(["[z-a]"])


def test_no_patterns_match_nothing() -> None:
    assert not ExcludeMatcher(["", "  "]) and not ExcludeMatcher([])("anything")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "set"
    for relative in ["keep.txt", "a/x.tmp", "a/keep.txt", "2024/cache/thumb.jpg", "2024/photo.jpg",
                     "deep/private/secret.txt", "private.txt", "lib/app.Log"]:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(relative)
    return root


PATTERNS = ("*.tmp", "**/cache/**", "private/", "*.[lL]og")
KEPT_FILES = ["2024/photo.jpg", "a/keep.txt", "keep.txt", "private.txt"]


def test_core_walk_uses_the_same_semantics(tree: Path) -> None:
    walked = [relative for relative, _entry in _walk(tree, PATTERNS)]
    # Excluded folders are neither listed (no empty folder in a tar) nor entered.
    assert walked == ["2024", "2024/photo.jpg", "a", "a/keep.txt", "deep", "keep.txt", "lib", "private.txt"]
    assert sorted(relative for relative, _path in walk_files(tree, PATTERNS)) == KEPT_FILES
