"""Two ``synco serve --cleanup`` removing the same session folder at the same moment: neither says it failed.

A serve removes a session by renaming it to a hidden ``.synco-removing-*`` name and emptying that; another
serve that starts meanwhile takes the hidden folder for a leftover and removes it too. Each then finds
entries the other removed first. The processes are real serves, each stopped (``SYNCO_DEBUG_STOP_AT``, it
sends itself SIGSTOP) at a named step of its removal, so the two interleave the same way every run.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from test_transfer_support import make_app, serve_argv

from synco_core.wire import META_FILE

STOP_VARIABLE = "SYNCO_DEBUG_STOP_AT"


def _stopped_cleanup(app: Path, point: str) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if key != "SYNCO_DEBUG_KILL_AT"}
    env[STOP_VARIABLE] = point
    process = subprocess.Popen(serve_argv("--cleanup"), cwd=app, env=env, text=True, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _pid, status = os.waitpid(process.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"serve --cleanup ended before {point}"
    return process


def _go_on(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    os.kill(process.pid, signal.SIGCONT)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_two_serves_removing_one_session_together_both_succeed(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app")
    started = subprocess.Popen(serve_argv("--id", "gone", "--only", "private", "--keep"), cwd=app, text=True,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert started.wait(timeout=120) == 0
    session = app / "web" / "synco-gone"
    assert (session / META_FILE).is_file() and len(os.listdir(session)) >= 3
    # The first renames the session to its hidden name and lists what is in it; the second takes that for a
    # leftover, lists it too and removes its first entry; then each goes on.
    first = _stopped_cleanup(app, "serve:remove:listed")
    second = _stopped_cleanup(app, "serve:remove:entry")
    done_first = _go_on(first)
    done_second = _go_on(second)
    for done in (done_first, done_second):
        assert done.returncode == 0, done.stderr
        assert "Could not remove" not in done.stderr and "Error" not in done.stderr, done.stderr
    assert [name for name in os.listdir(app / "web") if name.startswith(".synco-")] == []
    assert not session.exists()
