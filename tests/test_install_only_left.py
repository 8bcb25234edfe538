"""An install that leaves sets out (``--only``) leaves their kept copies from an earlier install as they are,
and says so: at the install, in its record, and at each rollback, until an install replaces them.

Those copies are no longer put back by ``synco db rollback`` (it undoes the last install, which did not
replace them; putting back another install's folder with this one's database would mix two states), so
the user is told which they are and that they can go, as with any copy ``rsync --backup`` leaves.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from test_install_journal import Scene, synco
from test_install_journal import scene_fixture as scene_fixture  # the fixture, by its name

LEFT = "Left as they are, from an earlier install"


def install_only(scene: Scene, *sets: str) -> subprocess.CompletedProcess[str]:
    only = ["--only", ",".join(sets)] if sets else []
    return synco("install", str(scene.received), "--project", str(scene.project), "--yes", *only)


def said(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith(LEFT)]


def recorded_left(scene: Scene) -> list[dict[str, str]]:
    left: list[dict[str, str]] = json.loads((scene.project / ".synco-install.json").read_text()).get("left", [])
    return left


def test_the_kept_copies_an_only_install_leaves_are_named_until_replaced(scene: Scene) -> None:
    full = install_only(scene)
    assert full.returncode == 0, full.stderr
    assert said(full) == []
    media_kept = scene.project / "public" / ".media.synco-previous"
    assert media_kept.is_dir()

    database_only = install_only(scene, "dbDump")
    assert database_only.returncode == 0, database_only.stderr
    lines = said(database_only)
    assert len(lines) == 1 and lines[0].endswith(": public/.media.synco-previous"), lines
    assert recorded_left(scene) == [{"kind": "folder", "name": "public/.media.synco-previous"}]

    for _ in range(2):  # the rollback, and the one that undoes it, both name it; neither touches it
        rolled = synco("db", "rollback", "--yes", cwd=scene.project)
        assert rolled.returncode == 0, rolled.stderr
        assert [line.endswith(": public/.media.synco-previous") for line in said(rolled)] == [True]
        assert media_kept.is_dir()

    files_only = install_only(scene, "media")
    assert files_only.returncode == 0, files_only.stderr
    # The media set is replaced (its kept copy is this install's now); the database's is left.
    assert said(files_only) == [
        f"{LEFT} (no rollback puts them back; remove them once they are no longer "
        "wanted): the previous content of the dbDump database, kept by its engine"
    ]
    assert recorded_left(scene) == [{"kind": "database", "name": "dbDump"}]

    again = install_only(scene)
    assert again.returncode == 0, again.stderr
    assert said(again) == [] and recorded_left(scene) == []


def test_a_kept_copy_removed_by_hand_is_no_longer_named(scene: Scene) -> None:
    assert install_only(scene).returncode == 0
    kept = scene.project / "public" / ".media.synco-previous"
    first = install_only(scene, "dbDump")
    assert said(first), first.stdout
    shutil.rmtree(kept)  # as the user would, once no rollback is wanted
    kept.with_name(kept.name + ".installed").unlink()
    second = install_only(scene, "dbDump")
    assert second.returncode == 0, second.stderr
    assert said(second) == [] and recorded_left(scene) == []


def test_an_install_record_read_from_a_relative_project_names_no_copy_it_replaced(scene: Scene) -> None:
    """``receive --install --yes`` read the last record through the project as typed (``.``, the default):
    its kept copies were relative paths, the install's own absolute, so every copy the install had just
    replaced was named as left from an earlier one, at the install, in the record and at every rollback.
    Whatever form the project's path has, a record's paths compare with the install's."""
    from synco_core.install.state import left_kept, read_state

    assert install_only(scene).returncode == 0
    replaced = [scene.project / "public" / "media", scene.project / "var" / "storage"]
    for form in (Path(os.path.relpath(scene.project)), scene.project, scene.project / "public" / ".."):
        earlier = read_state(form)
        assert earlier is not None
        assert left_kept(earlier, replaced, ["dbDump"]) == [], form
