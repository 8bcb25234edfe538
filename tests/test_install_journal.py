"""``kill -9`` at any moment of a whole ``synco install`` (a database and two file sets) loses nothing.

A real ``synco install`` process is killed (SIGKILL, through ``SYNCO_DEBUG_KILL_AT``) at every named step:
the project-level journal's steps, the SQLite engine's swap, the file installer's staging, keeping,
replacing and carrying of dotfiles. Afterwards ``synco db rollback`` (or the next ``synco install``) in
the project must give back exactly the tree from before (every file's sha256, its mode, every symlink's
target, every folder) and the database's whole content, say so in one line, and leave no temporary
folder, journal or install record behind. A second rollback then changes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from synco_forks import run_synco

KILLED = -signal.SIGKILL
ENVIRONMENT_VARIABLE = "SYNCO_DEBUG_KILL_AT"

ORIGINAL_DB = """
CREATE TABLE parent (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE);
INSERT INTO parent (name) VALUES ('alpha'), ('beta');
CREATE VIEW loud AS SELECT upper(name) AS name FROM parent;
"""
NEW_DB = "CREATE TABLE fresh (id INTEGER PRIMARY KEY); INSERT INTO fresh VALUES (1), (2), (3);"

#: Every step of an install of a database and two file sets, in the order they are reached.
INSTALL_POINTS = [
    "install:journal:files-started#1",
    "files:install:staged#1",
    "files:install:kept#1",
    "files:install:replaced#1",
    "files:install:dotfile-carried#1",
    "files:install:dotfile-carried#2",
    "install:journal:files-done#1",
    "install:journal:files-started#2",
    "files:install:staged#2",
    "files:install:replaced#2",  # the second set's folder did not exist: nothing kept
    "install:journal:files-done#2",
    # The database goes in last: its swap gives up the last install's kept copy, which no undo brings back.
    "install:journal:database-started",  # before the load: the engine's scratch copy is being made
    "sqlite:install:written",
    "install:journal:database-swapping",  # the scratch copy verified: the engine's swap begins
    "sqlite:install:kept",
    "sqlite:install:replaced",
    "install:journal:database-done",
    "install:journal:recorded",
]


def synco(*args: str, kill_at: str | None = None, cwd: Path | None = None,
          fresh: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``synco`` in a process of its own, killed at ``kill_at`` when given: forked from a helper that has
    imported synco already (tests/synco_forks.py), or ``python -m synco_core`` started afresh."""
    env = {key: value for key, value in os.environ.items() if key != ENVIRONMENT_VARIABLE}
    if kill_at:
        env[ENVIRONMENT_VARIABLE] = kill_at
    if not fresh:
        return run_synco(list(args), env=env, cwd=cwd, timeout=180)
    return subprocess.run([sys.executable, "-m", "synco_core", *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=180, check=False, cwd=cwd)


def sqlite_file(path: Path, script: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(script)
    return path


def sqlite_state(path: Path) -> str | None:
    if not path.exists():
        return None
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return "\n".join(conn.iterdump())


def tree(root: Path, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """Every entry under ``root`` (links not followed): kind, mode, and a file's sha256 or a link's target."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            if relative in skip:
                continue
            info = path.lstat()
            mode = oct(stat.S_IMODE(info.st_mode))
            if stat.S_ISLNK(info.st_mode):
                found[relative] = f"link -> {os.readlink(path)}"
            elif stat.S_ISDIR(info.st_mode):
                found[relative] = f"dir {mode}"
            else:
                found[relative] = f"file {mode} {hashlib.sha256(path.read_bytes()).hexdigest()}"
    return found


@dataclass
class Scene:
    project: Path
    received: Path
    database: Path
    before: dict[str, str]
    original: str

    def tree(self) -> dict[str, str]:
        # The database file is compared by content; the engine's own kept copy is its business (tested in
        # test_install_crash.py): an install killed right after keeping it leaves an identical copy.
        return tree(self.project, frozenset({"db/app.db", "db/app.db.synco-previous"}))


@pytest.fixture(name="scene")
def scene_fixture(tmp_path: Path) -> Scene:
    project, received = tmp_path / "project", tmp_path / "received"
    database = sqlite_file(project / "db" / "app.db", ORIGINAL_DB)
    (project / ".synco.yml").write_text(
        "serve:\n"
        f"  database: sqlite:///{database}\n"
        "  file_sets:\n"
        "    - name: media\n      path: public/media\n      public: true\n      url: media/\n"
        "    - name: private\n      path: var/storage\n")
    media = project / "public" / "media"
    (media / "img").mkdir(parents=True)
    (media / "img" / "logo.png").write_bytes(b"\x89PNG old logo" * 100)
    (media / "img" / "old-only.txt").write_text("only in the old content")
    (media / ".gitignore").write_text("*\n")  # public sets leave dotfiles out: carried into the new content
    (media / "img" / ".keep").write_text("")
    (media / "run.sh").write_text("#!/bin/sh\n")
    (media / "run.sh").chmod(0o750)
    (media / "latest.png").symlink_to("img/logo.png")
    (media / "secret.txt").write_text("mode 600")
    (media / "secret.txt").chmod(0o600)
    (project / "index.php").write_text("<?php // not a set")

    (received / "media" / "img").mkdir(parents=True)
    (received / "media" / "img" / "logo.png").write_bytes(b"\x89PNG new logo")
    (received / "media" / "new.txt").write_text("new")
    (received / "media" / "latest.png").symlink_to("new.txt")
    (received / "private" / "invoices").mkdir(parents=True)
    (received / "private" / "invoices" / "1.pdf").write_bytes(b"%PDF new")
    sqlite_file(received / "dbDump.sqlite", NEW_DB)
    (received / ".synco-received.json").write_text(json.dumps({"version": 1, "session": "s", "fileSets": [
        {"name": "dbDump", "kind": "database", "path": "dbDump.sqlite", "engine": "sqlite", "format": "sqlite"},
        {"name": "media", "kind": "public", "path": "media", "relativeBasePath": "public/media"},
        {"name": "private", "kind": "private", "path": "private", "relativeBasePath": "var/storage"},
    ]}))
    original = sqlite_state(database)
    assert original is not None
    made = Scene(project, received, database, {}, original)
    made.before = made.tree()
    return made


def install(scene: Scene, kill_at: str | None = None, fresh: bool = False) -> subprocess.CompletedProcess[str]:
    return synco("install", str(scene.received), "--project", str(scene.project), "--yes", kill_at=kill_at,
                 fresh=fresh)


def leftovers(project: Path) -> list[str]:
    """Anything an install or its undo leaves when it is over: journals, records, staging and swap folders."""
    names = []
    for folder, dirs, files in os.walk(project):
        for name in dirs + files:
            marks = (".synco-new", ".synco-discard", ".synco-swap", ".synco-install", ".synco-older", ".tmp")
            if any(mark in name for mark in marks) or (name.endswith(".synco-previous")
                                                       and name != "app.db.synco-previous"):
                names.append(str(Path(folder, name).relative_to(project)))
    return names


def assert_as_before(scene: Scene) -> None:
    assert scene.tree() == scene.before
    assert sqlite_state(scene.database) == scene.original
    assert leftovers(scene.project) == []


def test_the_points_are_all_reached_by_a_whole_install(scene: Scene) -> None:
    """The matrix below is not stale: an install reaches every point it names (and then succeeds)."""
    result = install(scene, fresh=True)
    assert result.returncode == 0, result.stderr
    assert scene.tree() != scene.before
    assert (scene.project / "public" / "media" / ".gitignore").exists()
    for point in INSTALL_POINTS:
        # Killing at a point the install does not reach lets it finish: exit 0 instead of SIGKILL.
        assert install(scene, kill_at=point).returncode == KILLED, point
        assert synco("db", "rollback", "--yes", cwd=scene.project).returncode == 0


@pytest.mark.parametrize("point", INSTALL_POINTS)
def test_install_killed_then_rolled_back_gives_back_the_exact_project(scene: Scene, point: str) -> None:
    killed = install(scene, kill_at=point)
    assert killed.returncode == KILLED, f"not killed at {point}: {killed.stderr}"
    rolled = synco("db", "rollback", "--yes", cwd=scene.project)
    assert rolled.returncode == 0, rolled.stderr
    assert "was interrupted before it finished" in rolled.stdout + rolled.stderr
    assert_as_before(scene)
    # Nothing is left to roll back to: a second rollback changes nothing, whatever it answers.
    synco("db", "rollback", "--yes", cwd=scene.project)
    assert_as_before(scene)


@pytest.mark.parametrize("point", ["sqlite:install:replaced", "files:install:kept#1", "files:install:dotfile-carried#1",
                                   "install:journal:files-started#2", "install:journal:recorded"])
def test_install_killed_then_installed_again_puts_back_first(scene: Scene, point: str) -> None:
    """The next install undoes the killed one first (saying so), then installs; its rollback is exact."""
    assert install(scene, kill_at=point).returncode == KILLED
    again = install(scene)
    assert again.returncode == 0, again.stderr
    assert "was interrupted before it finished" in again.stdout + again.stderr
    assert scene.tree() != scene.before
    rolled = synco("db", "rollback", "--yes", cwd=scene.project)
    assert rolled.returncode == 0, rolled.stderr
    # A rollback of a whole install keeps what it took out (so that a second one undoes it): its kept
    # copies and the record are synco's, the rest is the project as it was.
    kept = {name: kind for name, kind in scene.tree().items()
            if ".synco-previous" not in name and name not in (".synco-install.json", "var")}
    assert kept == scene.before
    assert sqlite_state(scene.database) == scene.original


@pytest.mark.parametrize("point", ["install:journal:files-undone#1", "install:journal:files-undone#2",
                                   "install:journal:database-undone"])
def test_recovery_killed_in_turn_is_finished_by_the_next_run(scene: Scene, point: str) -> None:
    assert install(scene, kill_at="install:journal:recorded").returncode == KILLED
    assert synco("db", "rollback", "--yes", kill_at=point, cwd=scene.project).returncode == KILLED
    rolled = synco("db", "rollback", "--yes", cwd=scene.project)
    assert rolled.returncode == 0, rolled.stderr
    assert_as_before(scene)


def test_a_failed_install_is_undone_through_the_journal(scene: Scene) -> None:
    """A set that cannot be installed (a file where its parent folder goes): everything done before is put
    back (the database, the first set's folder with its dotfiles)."""
    (scene.project / "var").write_text("a file where the set's parent folder goes")
    scene.before = scene.tree()
    failed = install(scene)
    assert failed.returncode == 1
    assert_as_before(scene)


def project_files(scene: Scene) -> dict[str, str]:
    """The tree without synco's kept copies and record (what an earlier install and rollback leave)."""
    return {name: kind for name, kind in scene.tree().items()
            if ".synco-previous" not in name and name not in (".synco-install.json", "var")}


@pytest.mark.parametrize("point", INSTALL_POINTS)
def test_install_killed_after_an_earlier_one_never_brings_back_older_content(scene: Scene, point: str) -> None:
    """An earlier install and its rollback left kept copies (of other content) behind: whatever point the
    next install is killed at, the recovery puts back the content from just before it, never those."""
    assert install(scene).returncode == 0
    assert synco("db", "rollback", "--yes", cwd=scene.project).returncode == 0
    assert os.path.exists(f"{scene.database}.synco-previous"), "the scene has an older kept copy"
    before = project_files(scene)
    assert before == scene.before and sqlite_state(scene.database) == scene.original
    assert install(scene, kill_at=point).returncode == KILLED
    rolled = synco("db", "rollback", "--yes", cwd=scene.project)
    assert rolled.returncode == 0, rolled.stderr
    assert sqlite_state(scene.database) == scene.original
    assert project_files(scene) == before
    # Older kept copies the killed install had not reached yet may stay; so does the record of the install
    # they belong to, when the killed one's engine had not begun its swap (it replaces that install's kept
    # copy of the database); nothing else may.
    record = [".synco-install.json"] if INSTALL_POINTS.index(point) < INSTALL_POINTS.index(
        "install:journal:database-swapping") else []
    assert [name for name in leftovers(scene.project) if not name.endswith(".synco-previous")] == record
