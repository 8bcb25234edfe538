"""A planted install record or journal moves nothing outside the project's own set folders.

``.synco-install.json`` (read by ``synco db rollback``) and ``.synco-install-journal.json`` (read by the next
command, to put back what a killed install replaced) live in the project, so a cloned repository can carry
them. They named folders that were swapped, moved and removed as written: an absolute path, a ``..`` path or one
through a link had a folder outside the project (``~/.ssh``) replaced by content from the repository. Each kind
of hostile value in each field that names a folder (or a database) is planted here: the command stops in one
line naming the file and the field, and nothing inside or outside the project changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_install_journal import Scene, scene_fixture, synco, tree  # noqa: F401  (the fixture is used by name)

from synco_core.install.journal import JOURNAL_FILE
from synco_core.install.state import STATE_FILE

OUTSIDE = "@outside"  # replaced by the victim folder's absolute path


def _folder(**fields: Any) -> dict[str, Any]:
    return {"path": "public/media", "backup": "public/.media.synco-previous", "previous": True, "kept": [],
            **fields}


def _step(**fields: Any) -> dict[str, Any]:
    return {"kind": "files", "name": "media", "state": "done", "path": "public/media",
            "backup": "public/.media.synco-previous", "existed": True, "kept": [], "createdFrom": "",
            "created": False, "inPlace": False, "parked": "", "parkedNote": False, "parkedDone": False,
            "swapBegun": True, **fields}


RECORDS: dict[str, tuple[str, dict[str, Any]]] = {
    "absolute path": (STATE_FILE, _folder(path=OUTSIDE, backup="evil")),
    "dotdot path": (STATE_FILE, _folder(path="../outside/victim", backup="evil")),
    "path through a link": (STATE_FILE, _folder(path="lnk/victim", backup="evil")),
    "absolute backup": (STATE_FILE, _folder(backup=OUTSIDE)),
    "dotdot backup": (STATE_FILE, _folder(backup="../outside/victim")),
    "backup through a link": (STATE_FILE, _folder(backup="lnk/victim")),
    "dotdot kept": (STATE_FILE, _folder(backup="evil", kept=["../../outside/victim"])),
    "journal absolute path": (JOURNAL_FILE, _step(path=OUTSIDE, backup="evil")),
    "journal dotdot path": (JOURNAL_FILE, _step(path="../outside/victim", backup="evil")),
    "journal path through a link": (JOURNAL_FILE, _step(path="lnk/victim", backup="evil")),
    "journal absolute backup": (JOURNAL_FILE, _step(backup=OUTSIDE)),
    "journal backup through a link": (JOURNAL_FILE, _step(backup="lnk/victim")),
    "journal absolute parked": (JOURNAL_FILE, _step(state="undone", parked=OUTSIDE, parkedDone=True,
                                                    backup="public/.media.synco-previous")),
    "journal created above": (JOURNAL_FILE, _step(state="started", existed=False, createdFrom="..",
                                                  path="public/media", backup="public/.nothing")),
    "journal dotdot kept": (JOURNAL_FILE, _step(kept=["../../outside/victim"])),
}


def _plant(scene: Scene, victim: Path, file: str, entry: dict[str, Any]) -> None:
    entry = {key: str(victim) if value == OUTSIDE else value for key, value in entry.items()}
    if file == STATE_FILE:
        data: dict[str, Any] = {"version": 1, "session": "x", "database": "", "namedDatabases": [],
                                "createdDatabases": [], "left": [], "folders": [entry]}
    else:
        data = {"version": 2, "session": "x", "steps": [entry]}
    (scene.project / file).write_text(json.dumps(data))


@pytest.mark.parametrize("case", sorted(RECORDS))
def test_a_planted_record_changes_nothing(scene: Scene, tmp_path: Path, case: str) -> None:
    victim = tmp_path / "outside" / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "authorized_keys").write_text("the user's own key\n")
    (scene.project / "evil").mkdir()
    (scene.project / "evil" / "authorized_keys").write_text("the attacker's key\n")
    (scene.project / "lnk").symlink_to("../outside")
    (scene.project / "public" / ".media.synco-previous").mkdir()
    (scene.project / "public" / ".media.synco-previous" / "kept.txt").write_text("kept copy")
    file, entry = RECORDS[case]
    _plant(scene, victim, file, entry)
    outside, inside = tree(victim.parent), tree(scene.project)
    result = synco("db", "rollback", "--yes", cwd=scene.project)
    assert tree(victim.parent) == outside, f"{case}: {result.stderr}"
    assert tree(scene.project) == inside, f"{case}: {result.stderr}"
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and file in lines[0] and "field" in lines[0], result.stderr


@pytest.mark.parametrize("field", ["database", "createdDatabases"])
def test_a_record_naming_another_database_is_refused(scene: Scene, field: str) -> None:
    data = {"version": 1, "session": "x", "database": "sqlite:///elsewhere.db", "namedDatabases": [],
            "createdDatabases": [], "left": [], "folders": []}
    if field == "createdDatabases":
        data["database"] = f"sqlite:///{scene.database}"
        data["createdDatabases"] = ["dbDump-other"]
    (scene.project / STATE_FILE).write_text(json.dumps(data))
    inside = tree(scene.project)
    result = synco("db", "rollback", "--yes", cwd=scene.project)
    assert tree(scene.project) == inside, result.stderr
    assert result.returncode == 1
    assert f"field {field}" in result.stderr, result.stderr
