"""Benchmark: exclude patterns (``synco_core.globs``), the automaton against Python's regular expressions.

    python3 benchmarks/bench_excludes.py [--size small|medium|full] [--repeat N]

Three cases, each in CPU seconds (``time.process_time``), synco and the reference in turns:

- a walk (``sorted_walk_lstat``) of a tree of empty files shaped like WordPress uploads (``YYYY/MM/<name>``)
  under WordPress's exclude patterns, against the same walk with nothing excluded (the file-system work
  alone: the walk's cost of the patterns is the difference);
- the matcher on every path of that tree, against one regular expression of the same patterns (the
  translation synco used before the automaton);
- one hostile pattern (``*a*a*a*a*a*b``) on one name of ``a``: linear for the automaton, O(n^5) for a
  backtracking regular expression, which is measured only up to 60 characters (a 200-character name took
  it more than 100 CPU seconds).

``small`` is 12,000 files, ``medium`` 60,000, ``full`` 240,000.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from synco_core.globs import ExcludeMatcher
from synco_core.index.order import sorted_walk_lstat

SIZES = {"small": 100, "medium": 500, "full": 2_000}
PATTERNS = ("/cache", "/wpo-cache", "/et-cache", "/wp-rocket-config", "*.log", "**/.DS_Store", ".*")
HOSTILE = "*a*a*a*a*a*b"
DATA = Path(__file__).resolve().parent / ".data" / "excludes"


def _regex(pattern: str) -> str:
    """The former translation of a pattern (without classes, which the patterns here do not use)."""
    pattern = pattern.strip()
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    pattern = pattern.strip("/")
    if not anchored:
        pattern = "**/" + pattern
    out = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
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
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    return "".join(out)


def regex_matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    compiled = re.compile("(?:" + "|".join(f"(?:{_regex(p)})" for p in patterns) + ")(?:/.*)?", re.DOTALL)
    return lambda path: compiled.fullmatch(path) is not None


def make_tree(per_month: int) -> tuple[Path, list[str]]:
    root = DATA / f"tree-{per_month}"
    paths = [f"{year}/{month:02d}/image-{i}-scaled-1024x768.jpg"
             for year in range(2015, 2025) for month in range(1, 13) for i in range(per_month)]
    if not (root / ".complete").exists():
        shutil.rmtree(root, ignore_errors=True)
        for path in paths:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).touch()
        (root / ".complete").touch()
    return root, paths


def cpu(work: Callable[[], object]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", choices=SIZES, default="small")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root, paths = make_tree(SIZES[args.size])
    cases: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        f"walk of {len(paths)} files": (
            lambda: sum(1 for _ in sorted_walk_lstat(root, ExcludeMatcher(PATTERNS))),
            lambda: sum(1 for _ in sorted_walk_lstat(root, ExcludeMatcher(())))),
        f"matcher on {len(paths)} paths": (
            lambda: [matcher(path) for matcher in [ExcludeMatcher(PATTERNS)] for path in paths],
            lambda: [matcher(path) for matcher in [regex_matcher(PATTERNS)] for path in paths]),
        f"{HOSTILE} on 60 x 'a'": (
            lambda: ExcludeMatcher([HOSTILE])("a" * 60),
            lambda: regex_matcher((HOSTILE,))("a" * 60)),
        f"{HOSTILE} on 100,000 x 'a' (no reference)": (
            lambda: ExcludeMatcher([HOSTILE])("a" * 100_000),
            lambda: None),
    }
    print(f"{'case':<48} {'synco CPU s':>12} {'reference CPU s':>16}")
    for name, (synco, reference) in cases.items():
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(args.repeat):
            ours.append(cpu(synco))
            theirs.append(cpu(reference))
        print(f"{name:<48} {min(ours):>12.3f} {min(theirs):>16.3f}")
    print(f"(best of {args.repeat}; load {os.getloadavg()[0]:.1f}; reference of the walk: nothing excluded; "
          "of the matcher: Python's regular expressions)")


if __name__ == "__main__":
    main()
