"""Exclude patterns of file sets, with ``.gitignore``-like semantics, shared by every walk of a file set.

Patterns are relative to the file set's root and use forward slashes:

- ``*`` and ``?`` stay inside one path segment, ``[ab]`` / ``[!ab]`` / ``[a-z]`` are character classes;
- ``**`` spans any number of segments: ``**/cache/**`` matches ``cache``, ``cache/a`` and ``x/y/cache/b``;
- a pattern without a slash (``*.log``, ``private/``) matches the name at any depth;
- a pattern with a slash inside, or a leading ``/`` (``/public``), is anchored at the root;
- a trailing ``/`` is dropped (``private/`` is ``private``);
- a matched folder excludes everything below it, so walks prune it instead of entering it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from synco_core.errors import ConfigError


def _char_class(pattern: str, index: int) -> tuple[str, int] | None:
    """The regex of the ``[...]`` class starting at ``index`` and the index after it; None when unclosed."""
    start = index + 1
    negate = start < len(pattern) and pattern[start] == "!"
    if negate:
        start += 1
    # As in fnmatch and .gitignore, a ``]`` right after the opening bracket is a member, not the end.
    close = pattern.find("]", start + 1 if start < len(pattern) and pattern[start] == "]" else start)
    if close == -1:
        return None
    # Every member escaped except the range dash: no regex syntax (``^``, ``\``, ``[``, ``&&``) leaks through.
    body = "".join(char if char == "-" else re.escape(char) for char in pattern[start:close])
    return f"[{'^' if negate else ''}{body}]", close + 1


def translate(pattern: str) -> str:
    """The regular expression (without anchors) of one pattern; its matches do not include the folder's content."""
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
            # ``x/**`` matches ``x`` itself too, so the folder is pruned rather than packed empty.
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
        elif pattern[index] == "[" and (found := _char_class(pattern, index)) is not None:
            out.append(found[0])
            index = found[1]
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    return "".join(out)


def escape(path: str) -> str:
    """``path`` as a pattern matching only itself (for plugins that exclude a literal folder)."""
    return "".join(f"[{char}]" if char in "*?[" else char for char in path)


class ExcludeMatcher:
    """``matcher(relative_posix_path)`` is True when a pattern matches the path or one of its folders."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(p for p in patterns if p.strip())
        self._regex: re.Pattern[str] | None = None
        if self.patterns:
            parts = []
            for pattern in self.patterns:
                try:
                    parts.append(re.compile(translate(pattern)).pattern)
                except re.error as exc:
                    raise ConfigError(f"exclude pattern {pattern!r}: {exc}") from None
            # The tail makes content below a matched folder match too, for callers that do not prune.
            self._regex = re.compile("(?:" + "|".join(f"(?:{p})" for p in parts) + ")(?:/.*)?", re.DOTALL)
        #: ``name_only(name)``: for patterns that can only ever match one whole name (no ``/``, no ``**``, no
        #: class, which could hold a ``/``), a match of a name alone. A walk that prunes excluded folders
        #: then judges an entry by its name: its folders did not match, so the full path matches exactly when
        #: the name does (and the name is a few characters, the path dozens). None for any other patterns.
        self.name_only: Callable[[str], re.Match[str] | None] | None = None
        if self.patterns and all(_name_only(pattern) for pattern in self.patterns):
            # Anchored, a pattern translates without the ``(?:.*/)?`` that lets it match at any depth.
            names = "|".join(f"(?:{translate('/' + pattern.strip())})" for pattern in self.patterns)
            self.name_only = re.compile(names, re.DOTALL).fullmatch

    def __bool__(self) -> bool:
        return self._regex is not None

    def __call__(self, relative: str) -> bool:
        return self._regex is not None and self._regex.fullmatch(relative) is not None


def _name_only(pattern: str) -> bool:
    """True for a pattern that matches names alone, at any depth: unanchored, and nothing in it can match a ``/``."""
    pattern = pattern.strip().rstrip("/")
    return bool(pattern) and not any(mark in pattern for mark in ("/", "**", "["))


def walk_files(root: Path, exclude: Iterable[str] = ()) -> Iterator[tuple[str, Path]]:
    """Every regular file below ``root`` as (relative posix path, path), excluded ones left out, in index order.

    Excluded folders are pruned before the walk enters them; symbolic links to folders are not followed
    (a link could lead anywhere on the server); synco's own folders (sessions, its cache) are left out.
    """
    # Imported here: the walk's module uses this one's matcher.
    from synco_core.index.order import sorted_walk
    from synco_core.serve.ttl import is_synco_folder

    for relative, entry in sorted_walk(root, ExcludeMatcher(exclude), skip_folder=is_synco_folder):
        path = Path(entry.path)
        if not entry.is_dir(follow_symlinks=False) and path.is_file():
            yield relative, path
