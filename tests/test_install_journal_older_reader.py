"""An install journal left by this synco, read by an older one (after a downgrade, or by a second install of
synco beside it), is never misread.

A synco of version 1 journals (before 2026-12-07) journaled a database step only at the dump's end and undid
every database step it found (not "undone") through the engine's rollback. This synco journals the step
before its load, with ``swapBegun`` false until the engine begins its swap: killed before that, the older
synco's rollback put the last install's kept copy in (the database of the install before, under this one's
folders; seen with synco 7e88355 from git). A folder step moves the last install's kept copy of its folder
aside (``parked``) where a synco from before that left it behind at ``.<folder>.synco-older``. So a journal
holding such a step is of version 2, which that synco refuses in one line, nothing changed
(tests/test_record_versions.py); every other journal stays of version 1, which it reads as this synco means it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_install_journal import INSTALL_POINTS, KILLED, Scene, install, scene_fixture, synco  # noqa: F401

from synco_core.errors import ConfigError
from synco_core.install.journal import (
    JOURNAL_FILE,
    InstallJournal,
    JournalStep,
    may_have_replaced,
    parks,
    read_journal,
)
from synco_core.recordversion import record_version


def older_rolls_back(data: dict[str, object], file: Path) -> list[str]:
    """What a version-1 reader puts back through the engine's rollback: every database step not undone
    (ConfigError when it refuses the journal as a newer synco's)."""
    record_version(data, file, "install journal")  # the older reader's one check: version 1 only
    steps = data["steps"]
    assert isinstance(steps, list)
    return [step["name"] for step in steps if step["kind"] == "database" and step["state"] != "undone"]


def misread_by_older(file: Path) -> list[str]:
    """The steps a version-1 reader would undo otherwise than this synco: database steps it would roll back
    although their swap had not begun, folder steps whose last kept copy was moved aside (``parked``), which it
    knows nothing of (one from before 2026-12-07 left it at ``.<folder>.synco-older``, seen with synco 61a8a05,
    the last install's rollback then missing its kept copy)."""
    data = json.loads(file.read_text())
    try:
        rolled = older_rolls_back(data, file)
    except ConfigError:
        return []  # refused, nothing changed
    read = read_journal(file.parent)
    assert read is not None
    # This synco's meaning: rolled back only once the engine may have begun its swap (else only repaired).
    unswapped = {step.name for step in read.steps if step.kind == "database" and not may_have_replaced(step)}
    parked = [step.name for step in read.steps if step.kind == "files" and parks(step)]
    return [name for name in rolled if name in unswapped] + parked


@pytest.mark.parametrize("point", INSTALL_POINTS[:-1])  # the last one leaves the journal after it is recorded
def test_a_killed_install_leaves_no_journal_an_older_synco_misreads(scene: Scene, point: str) -> None:
    assert install(scene).returncode == 0
    assert synco("db", "rollback", "--yes", cwd=scene.project).returncode == 0
    assert install(scene, kill_at=point).returncode == KILLED
    journal = scene.project / JOURNAL_FILE
    assert misread_by_older(journal) == []
    # This synco reads what it wrote, whatever its version.
    assert read_journal(scene.project) is not None


@pytest.mark.parametrize("state", ["started", "done", "undoing", "undone"])
@pytest.mark.parametrize("swap_begun", [False, True])
@pytest.mark.parametrize("folder", ["none", "first", "replacing a kept copy"])
def test_every_database_step_is_written_so_that_an_older_synco_reads_it_right(
        tmp_path: Path, state: str, swap_begun: bool, folder: str) -> None:
    """Each state a database step is written in, beside a folder step (its folder's first install, or one
    moving the last install's kept copy aside) or not, and after the step learns more."""
    journal = InstallJournal(tmp_path, "s")
    if folder != "none":
        parked = tmp_path / ".media.synco-older" if folder == "replacing a kept copy" else None
        journal.begin(JournalStep("files", "media", path=tmp_path / "media", backup=tmp_path / ".media.synco-previous",
                                  parked=parked))
    step = journal.begin(JournalStep("database", "dbDump"))
    assert misread_by_older(journal.file) == []
    step.swap_begun = swap_begun
    journal.update()
    journal.mark(step, state)  # type: ignore[arg-type]
    assert misread_by_older(journal.file) == []
    read = read_journal(tmp_path)
    assert read is not None and read.steps[-1].swap_begun is swap_begun and read.steps[-1].state == state
