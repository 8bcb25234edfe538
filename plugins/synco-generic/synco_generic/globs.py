"""Exclude patterns with ``**``, and a directory walk that honours them without listing excluded folders.

Patterns are relative to the file set's root and use forward slashes: ``*`` and ``?`` stay inside one
path segment, ``**`` spans any number of segments (``**/cache/**`` matches ``cache/a`` and
``x/y/cache/b``, and the ``cache`` folders themselves, so the walk never descends into them). A pattern
without a slash (``*.log``) matches the file name at any depth, as in ``.gitignore``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path


def translate(pattern: str) -> str:
    """The regular expression (without anchors) for one glob pattern."""
    pattern = pattern.strip().lstrip("/")
    if "/" not in pattern.rstrip("/"):
        pattern = "**/" + pattern
    pattern = pattern.rstrip("/") if pattern.endswith("/") and not pattern.endswith("**/") else pattern
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
        elif pattern[index] == "[":
            close = pattern.find("]", index + 1)
            if close == -1:
                out.append(re.escape("["))
                index += 1
            else:
                body = pattern[index + 1 : close].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                index = close + 1
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    return "".join(out)


class ExcludeMatcher:
    """Matches relative paths against a set of exclude patterns."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(p for p in patterns if p.strip())
        self._regex = re.compile("|".join(f"(?:{translate(p)})" for p in self.patterns)) if self.patterns else None

    def __call__(self, relative: str) -> bool:
        return bool(self._regex and self._regex.fullmatch(relative))


def walk_files(root: Path, exclude: Iterable[str] = ()) -> Iterator[tuple[str, Path]]:
    """Every regular file below ``root`` as (relative posix path, path), excluded ones left out, sorted.

    Excluded folders are pruned before the walk enters them; symbolic links to folders are not followed
    (a link could lead anywhere on the server).
    """
    matcher = ExcludeMatcher(exclude)
    for directory, folders, files in os.walk(root, followlinks=False):
        base = Path(directory)
        relative_dir = base.relative_to(root).as_posix()
        prefix = "" if relative_dir == "." else relative_dir + "/"
        folders[:] = sorted(name for name in folders if not matcher(prefix + name))
        for name in sorted(files):
            relative = prefix + name
            path = base / name
            if matcher(relative) or not path.is_file():
                continue
            yield relative, path
