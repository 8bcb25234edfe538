"""Plugins give ``PublicFile.mtime`` through the plugin API's ``mtime_of``, the second the core itself reads.

The WordPress, generic, Django and Neos plugins built it as ``int(stat.st_mtime)``: that float has no room for
the nanoseconds (1700000000.999999999 read as the next second) and ``int()`` cuts a time before 1970 towards
zero (-1.5 s became -1, not -2), so their entries differed from the second the receiver and the core's own
walk read (``fsutil.second_of``) and such files were compared again on every receive.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import synco_core
from synco_core import PublicFile

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_ROOTS = sorted([*(ROOT / "plugins").glob("synco-*"), *(ROOT / "docs/examples").glob("synco-*")])

#: Times at the edges: just below a second, exact seconds, before 1970 (whole and not), the epoch itself.
EDGE_TIMES_NS = [1_700_000_000_999_999_999, 1_700_000_000_000_000_000, 1_700_000_000_000_000_001,
                 1_699_999_999_999_999_999, 0, -1, -1_000_000_000, -1_500_000_000, (2**33 - 1) * 10**9 + 999_999_999]


def _plugin_code() -> Iterator[Path]:
    for plugin in PLUGIN_ROOTS:
        for path in sorted(plugin.rglob("*.py")):
            relative = path.relative_to(plugin)
            if relative.parts[0] in ("tests", "build", ".nox") or ".egg-info" in str(relative):
                continue
            yield path


def test_no_plugin_computes_a_file_time_itself() -> None:
    """Reading ``st_mtime`` / ``st_mtime_ns`` or calling ``getmtime`` is the core's job (``mtime_of``)."""
    offenders = []
    for path in _plugin_code():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
            if name in ("st_mtime", "st_mtime_ns", "getmtime"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert not offenders, "use synco_core.mtime_of(stat) for PublicFile.mtime:\n" + "\n".join(offenders)


def _file_at(folder: Path, name: str, ns: int) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    os.utime(path, ns=(ns, ns))
    assert os.stat(path).st_mtime_ns == ns, "the file system keeps nanoseconds and times before 1970"
    return path


@pytest.mark.parametrize("ns", EDGE_TIMES_NS)
def test_mtime_of_is_the_second_the_time_falls_in(ns: int, tmp_path: Path) -> None:
    info = os.stat(_file_at(tmp_path, "f", ns))
    assert synco_core.mtime_of(info) == ns // 10**9
    assert synco_core.mtime_of(info) * 10**9 <= info.st_mtime_ns < (synco_core.mtime_of(info) + 1) * 10**9


def _generic(root: Path) -> Iterator[PublicFile]:
    from synco_generic.plugin import _absolute_entries

    return _absolute_entries(root, "https://example.com/files", ())


def _wordpress(root: Path) -> Iterator[PublicFile]:
    from synco_wordpress.files import _absolute_entries

    return _absolute_entries(root, "https://example.com/uploads", ())


def _django(root: Path) -> Iterator[PublicFile]:
    from synco_django.media import _absolute_entries

    return _absolute_entries(root, "https://example.com/media", ())()


@pytest.mark.parametrize("entries", [_generic, _wordpress, _django], ids=["generic", "wordpress", "django"])
def test_plugin_entries_carry_the_second_each_file_falls_in(entries: Callable[[Path], Iterator[PublicFile]],
                                                            tmp_path: Path) -> None:
    root = tmp_path / "files"
    for index, ns in enumerate(EDGE_TIMES_NS):
        _file_at(root, f"d/f{index}.txt", ns)
    seen = {entry.path: entry.mtime for entry in entries(root)}
    assert seen == {f"d/f{index}.txt": ns // 10**9 for index, ns in enumerate(EDGE_TIMES_NS)}
