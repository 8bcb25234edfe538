"""``synco pull --install --yes`` ended by SIGTERM, SIGHUP or SIGINT while the dump streams in and loads early:
the real process, through a ``docker`` shim remote, stopped deterministically where a stop once hung it.

The process stops itself (``SYNCO_DEBUG_STOP_AT=pull:stream:end-marker``, see crashpoints) right after it
marked the dump stream closed and before it queued the end marker, the moment a stop cut short once: the
pull then never exited (the decoder waited for the marker, the clean-up for the decoder, the early load for
the rest of the dump, the install lock held). The test sends the signal and lets it go on: it must exit
within seconds with status 128+N, the local database as it was (no scratch database), the lock released,
no part file, no process of the remote side left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pull_support import remote_environment
from synco_forks import signal_main_thread
from test_pull_other_project_install import local_state, mysql_project, mysql_state

from synco_core import folderlock

#: How long the stopped pull may take to exit.
PROMPT = 15.0


def project_files(root: Path) -> dict[str, str]:
    """The local project's files, without its receive folder ``out``."""
    return {name: digest for name, digest in local_state(root).items() if not name.startswith("out/")}


def _wait_stopped(process: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status = os.waitpid(process.pid, os.WUNTRACED | os.WNOHANG)
        if pid and os.WIFSTOPPED(status):
            return
        if pid:
            raise AssertionError(f"the pull ended before the stream's end: {status}; {process.communicate()}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"the pull never reached the end of the stream: {process.communicate()}")


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.mysql
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_pull_stopped_as_the_stream_ends_exits_and_changes_nothing(
        tmp_path: Path, mysql_database_factory: Callable[[], str], signum: signal.Signals) -> None:
    env = remote_environment(tmp_path)
    shop = mysql_project(tmp_path / "srv" / "shop", mysql_database_factory(), 20000)
    local_db = mysql_database_factory()
    laptop = mysql_project(tmp_path / "laptop", local_db, 3)
    before_db, before = mysql_state(local_db), local_state(laptop)
    process = subprocess.Popen(
        [sys.executable, "-c", "from synco_core.cli.main import main; main()",
         "pull", f"docker://web-1{shop}", "--target", "out", "--install", "--yes"],
        env={**env, "SYNCO_DEBUG_STOP_AT": "pull:stream:end-marker"}, cwd=laptop,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_stopped(process, 60)
        signal_main_thread(process.pid, signum)
        os.kill(process.pid, signal.SIGCONT)
        try:
            out, err = process.communicate(timeout=PROMPT)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGABRT)
            out, err = process.communicate()
            raise AssertionError(f"the stopped pull did not exit: {err[-4000:]}") from None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 128 + signum or process.returncode == -signum, (process.returncode, out, err)
    assert mysql_state(local_db) == before_db, "the local database changed, or a scratch database was left"
    # The receive folder keeps what arrived, for the next run to resume; never the plaintext stream's part file.
    assert project_files(laptop) == {k: v for k, v in before.items() if not k.startswith("out/")}
    assert not list((laptop / "out").rglob("*.stream.part"))
    lock = folderlock.acquire(laptop, folderlock.INSTALL_LOCK, "checking")
    folderlock.release(lock)
    # The remote side (the shim's processes) went with the pull: nothing of its session is left running.
    try:
        os.killpg(process.pid, 0)
        left = True
    except ProcessLookupError:
        left = False
    assert not left, "a process of the pull's group is still running"
