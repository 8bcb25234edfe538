"""SIGTERM (a CI job's timeout, ``timeout``, a service manager), SIGHUP or Ctrl-C at any step of an install.

A real ``synco install`` stops itself (``SYNCO_DEBUG_STOP_AT``) at each named step of an install of a
database and two file sets; the signal is sent while it is stopped and lands as it goes on. It must end as
Ctrl-C does: one ``Error: stopped by ...`` line, status 128 + the signal, the project exactly as before
(database and folders), no journal, lock or install record left, and the next install works. Before, a stop
just after the SQLite swap left the new database in with the old files (the step was marked undone as if the
engine had failed before its swap), and a stop after the install was recorded said "stopped" while leaving
the journal for the next command to undo the whole install.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from synco_forks import run_synco
from test_install_journal import ENVIRONMENT_VARIABLE, INSTALL_POINTS, Scene, assert_as_before, install
from test_install_journal import scene_fixture as scene_fixture  # the fixture, by its name

STOP_VARIABLE = "SYNCO_DEBUG_STOP_AT"


def stopped_by(scene: Scene, point: str, signum: int) -> subprocess.CompletedProcess[str]:
    """``synco install --yes`` sent ``signum`` at ``point``."""
    env = {key: value for key, value in os.environ.items() if key not in (ENVIRONMENT_VARIABLE, STOP_VARIABLE)}
    env[STOP_VARIABLE] = point
    proc = run_synco(["install", str(scene.received), "--project", str(scene.project), "--yes"], env=env,
                     when_stopped=(signum,))
    if not proc.stopped:
        raise AssertionError(f"{point} not reached: exit {proc.returncode}")
    return proc


def assert_stopped_cleanly(scene: Scene, proc: subprocess.CompletedProcess[str], signum: int) -> None:
    reason = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: {reason}"], proc.stderr
    assert proc.returncode == 128 + signum and "Traceback" not in proc.stderr, proc.stderr
    assert_as_before(scene)
    assert not (scene.project / ".synco-install.json").exists()
    again = install(scene)
    assert again.returncode == 0, again.stderr
    assert "was interrupted" not in again.stderr, again.stderr


@pytest.mark.parametrize("point", INSTALL_POINTS)
def test_sigterm_at_any_step_leaves_the_project_as_it_was(scene: Scene, point: str) -> None:
    assert_stopped_cleanly(scene, stopped_by(scene, point, signal.SIGTERM), signal.SIGTERM)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP], ids=["SIGINT", "SIGHUP"])
@pytest.mark.parametrize("point", ["sqlite:install:replaced", "install:journal:recorded"])
def test_ctrl_c_or_hangup_after_the_swap_undoes_it_too(scene: Scene, point: str, signum: int) -> None:
    assert_stopped_cleanly(scene, stopped_by(scene, point, signum), signum)


def test_a_stop_landing_as_the_database_thread_starts_leaves_no_load_running(
        scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM raised in the main thread while it starts the database step's thread (the thread already runs):
    the install's clean-up still ends that load and waits for it. Before, the load was known to the clean-up
    only once start() returned, so it went on alone, held at the dump's end, after the command had ended."""
    import threading

    from synco_core.cli.termination import Terminated
    from synco_core.install import streamed
    from synco_core.install.run import install_received

    real_start = streamed.EarlyDatabaseInstall.start

    def start_then_stopped(self: streamed.EarlyDatabaseInstall) -> None:
        real_start(self)
        raise Terminated(signal.SIGTERM)

    monkeypatch.setattr(streamed.EarlyDatabaseInstall, "start", start_then_stopped)
    with pytest.raises(Terminated):
        install_received(scene.received, scene.project, yes=True, echo=lambda line: None)
    left = [thread.name for thread in threading.enumerate() if thread.name == "synco-install-database"]
    assert left == [], "the database step's thread outlived the install"
    assert_as_before(scene)
    assert not (scene.project / ".synco-install-journal.json").exists()
