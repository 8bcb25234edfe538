"""Exclude patterns (synco_core.globs): gitignore-like semantics, the same for every walk of a file set.

The matcher is an automaton that never backtracks; it is checked against a reference made of Python's regular
expressions (the translation synco used before, which backtracks, on short inputs only) and against
``fnmatch`` for names alone.
"""

from __future__ import annotations

import fnmatch
import re
import warnings
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from synco_core import globs
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


def _reference_class(pattern: str, index: int) -> tuple[str, int] | None:
    start = index + 1
    negate = start < len(pattern) and pattern[start] == "!"
    if negate:
        start += 1
    close = pattern.find("]", start + 1 if start < len(pattern) and pattern[start] == "]" else start)
    if close == -1:
        return None
    body = "".join(char if char == "-" else re.escape(char) for char in pattern[start:close])
    return f"[{'^' if negate else ''}{body}]", close + 1


def reference_regex(pattern: str) -> str:
    """The semantics the docs promise, as a regular expression (synco's matcher before the automaton)."""
    pattern = pattern.strip()
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    pattern = pattern.strip("/")
    if not anchored:
        pattern = "**/" + pattern
    out: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("/**", index) and index + 3 == len(pattern):
            out.append("(?:/.*)?")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        elif pattern[index] == "*":
            out.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            out.append("[^/]")
            index += 1
        elif pattern[index] == "[" and (found := _reference_class(pattern, index)) is not None:
            out.append(found[0])
            index = found[1]
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    return "".join(out)


def reference(patterns: list[str]) -> re.Pattern[str] | None:
    """None when a pattern is no valid class (``[z-a]``), which the matcher refuses as a ConfigError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return re.compile("(?:" + "|".join(f"(?:{reference_regex(p)})" for p in patterns if p.strip())
                              + ")(?:/.*)?", re.DOTALL)
    except re.error:
        return None


#: Characters that make every construct of a pattern; paths draw on the ones that can be literals.
PATTERN_CHARS = "ab/*?[]!-. "
patterns_ = st.lists(st.text(PATTERN_CHARS, max_size=9), min_size=1, max_size=3)
segments = st.text("ab.-]![*? \n", min_size=1, max_size=4)
paths = st.lists(segments, min_size=1, max_size=4).map("/".join)


@settings(max_examples=3000, deadline=None)
@given(patterns_, st.lists(paths, min_size=1, max_size=6))
def test_the_automaton_matches_what_the_reference_matches(patterns: list[str], candidates: list[str]) -> None:
    expected = reference(patterns)
    if expected is None:
        with pytest.raises(ConfigError):
            ExcludeMatcher(patterns)
        return
    matcher = ExcludeMatcher(patterns)
    for path in candidates:
        assert matcher(path) == (expected.fullmatch(path) is not None), (patterns, path)
        if matcher.name_only is not None and "/" not in path:
            assert bool(matcher.name_only(path)) == (expected.fullmatch(path) is not None), (patterns, path)


@settings(max_examples=2000, deadline=None)
@given(st.text("ab*?.", min_size=1, max_size=8), st.text("ab.", min_size=1, max_size=8))
def test_names_alone_match_as_fnmatch_does(pattern: str, name: str) -> None:
    """A pattern of a name (no ``/``, no ``**``, which spans folders) matches a name as ``fnmatch.fnmatchcase``
    does, at any depth."""
    assume("**" not in pattern)
    expected = fnmatch.fnmatchcase(name, pattern.strip())
    matcher = ExcludeMatcher([pattern])
    assert matcher(name) == expected
    # Below a folder the pattern does not match itself (a matched folder takes all it holds).
    folder = "x" if not fnmatch.fnmatchcase("x", pattern.strip()) else "xyz/xyz"
    if not fnmatch.fnmatchcase("xyz", pattern.strip()):
        assert matcher(f"{folder}/{name}") == expected
        assert matcher(f"{folder}/{name}/zz") == (expected or fnmatch.fnmatchcase("zz", pattern.strip()))


@pytest.mark.parametrize("pattern", ["*a*a*a*a*a*a*a*b", "**a**a**a**a**b", "**/*a*/**/*a*/**/*a*b",
                                     "[a]*[a]*[a]*[a]*[!a]", "/" + "*a" * 40 + "b"])
def test_no_pattern_backtracks(pattern: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each character of a path costs at most one move of the automaton's set of nodes, whatever the pattern:
    the patterns that made Python's regular expressions backtrack for seconds on one name are linear here."""
    moves = 0
    step = globs._Nfa.step

    def counted(self: globs._Nfa, nodes: frozenset[int], char: str) -> frozenset[int]:
        nonlocal moves
        moves += 1
        return step(self, nodes, char)

    monkeypatch.setattr(globs._Nfa, "step", counted)
    matcher = ExcludeMatcher([pattern])
    for hostile in ("a" * 5000, "a/" * 2000 + "a", ("a" * 50 + "/") * 40 + "a"):
        moves = 0
        assert not matcher(hostile)
        assert moves <= len(hostile)


def test_the_automaton_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_STATES states the table starts afresh, and matching goes on with the same answers."""
    monkeypatch.setattr(globs, "MAX_STATES", 8)
    matcher = ExcludeMatcher(["*a*b*c*d", "/x/**/y"])
    expected = reference(["*a*b*c*d", "/x/**/y"])
    assert expected is not None
    for path in ["abcd", "x/q/y/z", "zzabzzcd", "q/aabbccdd", "x/y", "dcba", "x/a/b/c/y"] * 3:
        assert matcher(path) == (expected.fullmatch(path) is not None), path
        assert len(matcher._automaton.sets) <= 8 + 1  # type: ignore[union-attr]
