"""An install killed (kill -9, SIGTERM) while its early database load waits at the dump's end, then recovered.

`receive --install --yes` and `pull --install --yes` load the database while the files arrive and hold the
load at the dump's end while the folders go in; only then does the engine swap. Killed there, the process
leaves some folders replaced (the journal names them) and the engine's scratch copy, loaded, unswapped. The
next command recovers: the folders go back, the database was never swapped. Required, for each engine: the
database and the folders are then both from the last install (the record and its kept copies intact, no
scratch copy left), and `synco db rollback` then goes back one more install, database and folders together.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from synco_forks import run_synco
from test_install_journal import ENVIRONMENT_VARIABLE
from test_install_journal_servers import ALL_ENGINES, Scene, install, rollback
from test_install_journal_servers import make_scene as make_scene  # the fixture, by its name

from synco_core.install.journal import JOURNAL_FILE
from synco_core.install.state import STATE_FILE

STOP_VARIABLE = "SYNCO_DEBUG_STOP_AT"

#: What receive --install --yes does, in a process of its own: the database loads as soon as it is there and is
#: held at the dump's end (waited for here, so the folders go in while it is held), then the install.
RECEIVE_INSTALL = """
import sys
from pathlib import Path
from synco_core.cli.termination import stop_like_ctrl_c
from synco_core.install.streamed import ReceiveInstall

project, received, engine = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
with stop_like_ctrl_c():
    installer = ReceiveInstall(project, yes=True)
    try:
        installer.set_arrived(received, {"name": "dbDump", "kind": "database", "path": "dbDump.sql",
                                         "engine": engine, "format": "sql"})
        assert installer.database is not None
        installer.database._holding.wait(120)
        installer.finish(received, only=("dbDump", "media", "private"), yes=True, echo=lambda line: None)
    except BaseException:
        installer.abandon()
        raise
    finally:
        installer.close()
"""

EDITED = ["INSERT INTO fresh VALUES (42)"]


def receive_install(scene: Scene, engine: str, *, kill_at: str = "", stop_at: str = "") -> int:
    env = {key: value for key, value in os.environ.items() if key not in (ENVIRONMENT_VARIABLE, STOP_VARIABLE)}
    if kill_at:
        env[ENVIRONMENT_VARIABLE] = kill_at
    if stop_at:
        env[STOP_VARIABLE] = stop_at
    proc = run_synco([str(scene.project), str(scene.received), engine], env=env, script=RECEIVE_INSTALL,
                     when_stopped=(signal.SIGTERM,) if stop_at else ())
    assert proc.stopped == bool(stop_at), f"{stop_at} not reached"
    return proc.returncode


def scratch_copies(scene: Scene) -> list[str]:
    if scene.server.engine == "sqlite":
        return sorted(path.name for path in (scene.project / "db").iterdir() if path.name.endswith(".synco-new"))
    scratch = scene.target + "__synco_new"
    return [scratch] if scene.server.content(scratch) is not None else []


@pytest.fixture
def installed_once(make_scene: Callable[[str, bool], Scene]) -> Iterator[Callable[[str], Scene]]:
    """A scene whose project had one install (its kept copies and record there), then a change of its own."""

    def make(engine: str) -> Scene:
        scene = make_scene(engine, True)
        first = install(scene)
        assert first.returncode == 0, first.stderr
        scene.server.run(scene.target, EDITED)
        return scene

    yield make


POINTS = ["install:journal:files-started#1", "files:install:replaced#1", "install:journal:files-done#1",
          "files:install:replaced#2", "install:journal:files-done#2"]


def _check_recovered_then_rolled_back(scene: Scene, edited: Any, record: bytes, tree: dict[str, str]) -> None:
    recovered = rollback(scene)
    assert recovered.returncode == 0, recovered.stderr
    assert "was interrupted before it finished" in recovered.stdout + recovered.stderr
    assert scene.server.content(scene.target) == edited, "the database is the last install's"
    assert scene.tree() == tree, "the folders are the last install's, and their kept copies"
    assert (scene.project / STATE_FILE).read_bytes() == record, "the last install's record stays"
    assert not (scene.project / JOURNAL_FILE).exists()
    assert scratch_copies(scene) == [], "the scratch copy of the held load is left"
    rolled = rollback(scene)
    assert rolled.returncode == 0, rolled.stderr
    assert scene.server.content(scene.target) == {"parent": [(1, "alpha"), (2, "beta")]}, \
        "db rollback put the database of the install before back, with its folders"
    assert {name: kind for name, kind in scene.tree().items()
            if ".synco-previous" not in name and name not in (STATE_FILE, "var")} == scene.before


@pytest.mark.parametrize("engine", ALL_ENGINES)
@pytest.mark.parametrize("point", POINTS)
def test_killed_while_the_early_load_is_held(installed_once: Callable[[str], Scene], engine: str,
                                             point: str) -> None:
    scene = installed_once(engine)
    edited, record, tree = scene.server.content(scene.target), (scene.project / STATE_FILE).read_bytes(), scene.tree()
    assert receive_install(scene, engine, kill_at=point) == -signal.SIGKILL
    _check_recovered_then_rolled_back(scene, edited, record, tree)


@pytest.mark.parametrize("engine", ALL_ENGINES)
@pytest.mark.parametrize("point", ["files:install:replaced#1", "install:journal:files-done#2"])
def test_sigterm_while_the_early_load_is_held(installed_once: Callable[[str], Scene], engine: str,
                                              point: str) -> None:
    scene = installed_once(engine)
    edited, record, tree = scene.server.content(scene.target), (scene.project / STATE_FILE).read_bytes(), scene.tree()
    assert receive_install(scene, engine, stop_at=point) not in (0, -signal.SIGKILL), "stopped by its SIGTERM"
    assert scene.server.content(scene.target) == edited
    assert scene.tree() == tree
    assert (scene.project / STATE_FILE).read_bytes() == record
    assert not (scene.project / JOURNAL_FILE).exists()
    assert scratch_copies(scene) == []
    rolled = rollback(scene)
    assert rolled.returncode == 0, rolled.stderr
    assert scene.server.content(scene.target) == {"parent": [(1, "alpha"), (2, "beta")]}
    assert {name: kind for name, kind in scene.tree().items()
            if ".synco-previous" not in name and name not in (STATE_FILE, "var")} == scene.before


@pytest.mark.parametrize("engine", ALL_ENGINES)
def test_killed_after_the_engine_cleaned_up_its_failed_load(installed_once: Callable[[str], Scene],
                                                            engine: str) -> None:
    """The engine read the whole dump, its verification failed, it dropped its scratch copy: killed before the
    journal noted the step undone, the recovery must leave the database as it is (the last install's), not
    roll it back to the last install's kept copy (the one before it), under the last install's folders."""
    scene = installed_once(engine)
    edited, record, tree = scene.server.content(scene.target), (scene.project / STATE_FILE).read_bytes(), scene.tree()
    received = scene.received / ".synco-received.json"
    meta = json.loads(received.read_text())
    meta["fileSets"][0]["tables"] = {"fresh": {"rows": 99}}  # the dump has 3: its verification fails
    received.write_text(json.dumps(meta))
    assert install(scene, kill_at="install:database:failed").returncode == -signal.SIGKILL
    _check_recovered_then_rolled_back(scene, edited, record, tree)
