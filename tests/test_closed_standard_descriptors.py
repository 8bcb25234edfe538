"""synco started with descriptor 0, 1 or 2 closed (``<&-``, ``>&-``, ``2>&-``: cron lines, daemons, CI runners).

Python then has no ``sys.stdin`` (``stdout``, ``stderr``) and the first file synco opens takes the closed
number. Every command ended in ``Error: AttributeError: 'NoneType' object has no attribute 'isatty'`` with
stdin closed (``install --yes`` too), every plugin failed to load with stdout closed (so ``install --plan``
said no framework was detected), and a closed stderr ended in Python's exit status 120. Each closed one
now reads as end of input or writes nowhere; synco's own output fails in one line, as on any output that
refuses it; and no file synco writes ever gets a standard number (a log line would land in it).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_install_journal import Scene, assert_as_before, sqlite_file, sqlite_state
from test_install_journal import scene_fixture as scene_fixture  # the fixture, by its name

SYNCO = [sys.executable, "-m", "synco_core"]
CLOSE = {"stdin": "<&-", "stdout": ">&-", "stderr": "2>&-"}


def closed(which: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``synco ARGS`` with the standard descriptor ``which`` closed, the other two captured."""
    script = f'exec "$@" {CLOSE[which]}'
    return subprocess.run(["sh", "-c", script, "sh", *SYNCO, *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120, check=False, cwd=cwd)


def one_error(proc: subprocess.CompletedProcess[str]) -> str:
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert proc.returncode == 1 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return errors[0]


def test_install_with_stdin_closed_installs_with_yes(scene: Scene) -> None:
    done = closed("stdin", "install", str(scene.received), "--project", str(scene.project), "--yes",
                  cwd=scene.project)
    assert done.returncode == 0, done.stderr
    assert sqlite_state(scene.database) != scene.original


def test_a_question_with_stdin_closed_fails_at_once_naming_the_option(scene: Scene) -> None:
    refused = closed("stdin", "install", str(scene.received), "--project", str(scene.project), cwd=scene.project)
    assert "no terminal to ask on; pass --yes" in one_error(refused)
    assert_as_before(scene)


@pytest.mark.parametrize("args", [["receive", "synco-0123456789abcdef01234567", "-"], ["decrypt", "-"],
                                  ["db", "rollback", "--yes"]],
                         ids=["receive-key-on-stdin", "decrypt", "rollback"])
def test_stdin_closed_is_end_of_input_never_a_python_error(tmp_path: Path, args: list[str]) -> None:
    proc = closed("stdin", *args, cwd=tmp_path)
    assert proc.returncode in (1, 2), proc.stderr
    assert "AttributeError" not in proc.stderr and "NoneType" not in proc.stderr, proc.stderr


def test_stdout_closed_fails_in_one_line_instead_of_losing_the_output(tmp_path: Path) -> None:
    database = sqlite_file(tmp_path / "app.db", "CREATE TABLE t (x); INSERT INTO t VALUES (1);")
    proc = closed("stdout", "db", "dump", f"sqlite:///{database}", "--sql", cwd=tmp_path)
    assert "cannot write synco's output" in one_error(proc)


def test_stdout_closed_leaves_plugins_loaded(scene: Scene) -> None:
    """Plugins print nothing, yet all of them failed to load for want of a stdout to guard."""
    proc = closed("stdout", "install", str(scene.received), "--project", str(scene.project), "--plan",
                  cwd=scene.project)
    assert "failed to load" not in proc.stderr and "no framework detected" not in proc.stderr, proc.stderr


def test_stderr_closed_keeps_the_exit_status_and_the_files_clean(tmp_path: Path) -> None:
    """With descriptor 2 closed, the dump's file would be opened as 2 and get the debug log in it."""
    database = sqlite_file(tmp_path / "app.db", "CREATE TABLE t (x); INSERT INTO t VALUES (1);")
    out = tmp_path / "copy.db"
    proc = closed("stderr", "--debug", "db", "dump", f"sqlite:///{database}", "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    with sqlite3.connect(out) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    failed = closed("stderr", "db", "dump", "sqlite:///no/such.db", cwd=tmp_path)
    assert failed.returncode == 1
