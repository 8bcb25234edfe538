"""An install writes nothing outside the project through a link planted under one of synco's own names.

An install makes and replaces files of its own in the project: its journal and record (and their ``.tmp``),
its lock, the staging folder of each set (``<set>.synco-new``), the kept copy and its note
(``.<set>.synco-previous``, ``.installed``, ``.installed.tmp``), the SQLite engine's scratch and kept files. A
project may hold a link under any of those names before synco ever ran there: git checks links out as links,
so a cloned repository (or an archive unpacked into the project) carries them. Each name is planted here as a
link to a file and to a folder outside the project; after ``synco install`` and ``synco db rollback`` both
are as they were, whether the commands went on (the link replaced or removed as an entry of the project) or
stopped in one line.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from test_install_journal import Scene, scene_fixture, synco  # noqa: F401  (the fixture is used by name)

#: synco's own names in the project of ``scene`` (seen with strace in an install and its rollback).
OWN_NAMES = [
    ".synco-install-journal.json", ".synco-install-journal.json.tmp", ".synco-install.json",
    ".synco-install.json.tmp", ".synco-install.lock",
    "db/.app.db.synco-keep", "db/.app.db.synco-new", "db/app.db.synco-previous",
    "public/.media.synco-previous", "public/.media.synco-previous.installed",
    "public/.media.synco-previous.installed.tmp", "public/media.synco-new", "public/media.synco-swap",
    "var/.storage.synco-previous", "var/.storage.synco-previous.installed",
    "var/.storage.synco-previous.installed.tmp", "var/storage.synco-new", "var/storage.synco-swap",
]


def _state(victim: Path) -> dict[str, str]:
    """Every entry under (or at) ``victim``, with its content's hash: what must not change."""
    if victim.is_file():
        return {".": hashlib.sha256(victim.read_bytes()).hexdigest()}
    found = {".": "dir"}
    for folder, dirs, files in os.walk(victim):
        for name in dirs + files:
            path = Path(folder, name)
            found[str(path.relative_to(victim))] = (hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file()
                                                    else "dir")
    return found


@pytest.mark.parametrize("kind", ["file", "folder"])
@pytest.mark.parametrize("name", OWN_NAMES)
def test_a_link_under_one_of_synco_s_names_leads_nowhere_outside(scene: Scene, tmp_path: Path, name: str,
                                                                  kind: str) -> None:
    victim = tmp_path / "outside" / "victim"
    victim.parent.mkdir()
    if kind == "file":
        victim.write_text("the user's own file\n")
    else:
        (victim / "sub").mkdir(parents=True)
        (victim / "sub" / "keep.txt").write_text("the user's own folder\n")
    before = _state(victim)
    link = scene.project / name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(victim, link.parent))
    installed = synco("install", str(scene.received), "--project", str(scene.project), "--yes")
    assert installed.returncode in (0, 1), installed.stderr
    if installed.returncode == 1:
        assert len([line for line in installed.stderr.splitlines() if line.strip()]) == 1, installed.stderr
    assert _state(victim) == before, f"install wrote through {name}: {installed.stderr}"
    rolled = synco("db", "rollback", "--yes", cwd=scene.project)
    assert rolled.returncode in (0, 1), rolled.stderr
    assert _state(victim) == before, f"rollback wrote through {name}: {rolled.stderr}"


@pytest.mark.parametrize("private", [False, True], ids=["shared", "private"])
@pytest.mark.parametrize("planted", ["link", "hard link", "link to nowhere"])
def test_a_temporary_name_holding_a_link_is_replaced_not_written_through(tmp_path: Path, private: bool,
                                                                          planted: str) -> None:
    """:func:`atomic_output` (records, outputs of ``-o``, the session's files) made its ``.part`` by opening the
    name: a link there had it write into the file the link leads to (truncated, then the output)."""
    from synco_core.fsutil import atomic_output

    victim = tmp_path / "victim"
    victim.write_text("the user's own file\n")
    target = tmp_path / "out" / "result.json"
    target.parent.mkdir()
    temp = target.with_name(target.name + ".part")
    if planted == "link":
        temp.symlink_to(victim)
    elif planted == "hard link":
        os.link(victim, temp)
    else:
        temp.symlink_to(tmp_path / "missing" / "file")
    with atomic_output(target, ".part", private=private) as out:
        out.write(b"new content\n")
    assert victim.read_text() == "the user's own file\n"
    assert target.read_bytes() == b"new content\n" and not target.is_symlink()
    assert not os.path.lexists(temp) and not (tmp_path / "missing").exists()
