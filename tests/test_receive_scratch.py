"""The private scratch folder in which receive keeps an index: gone after a receive, even one that was killed.

Its owner holds a lock on it (:mod:`synco_core.scratch`), which the kernel drops however the process ends:
an older synco named it with its pid instead, and the folder of a receive killed in a container (pid 1 or 7
there) stayed for as long as a process of the host had that pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_transfer_support import fixture_app_fixture, publish  # noqa: F401

from synco_core.receive import DirectoryTransport, ReceiveOptions, receive_session
from synco_core.receive.public_index import SCRATCH_PREFIX, remove_stale_scratch, scratch_folder
from synco_core.scratch import OWNER_LOCK
from synco_core.testing.services import require_tool, unavailable


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


#: A receive that makes its scratch folder beside argv[1], says where, and then waits (to be killed) or, with
#: argv[2] "exit", ends without a clean-up of its own (as a kill does).
_HOLDER = """
import os, sys, time
from pathlib import Path
from synco_core.receive.public_index import scratch_folder
with scratch_folder(Path(sys.argv[1])) as folder:
    (folder / "index.enc").write_bytes(b"x" * 100)
    print(folder, flush=True)
    if sys.argv[2] == "exit":
        os._exit(0)
    time.sleep(3600)
"""


def _holder(near: Path, *wrapper: str, then: str = "wait") -> tuple[subprocess.Popen[str], Path]:
    process = subprocess.Popen([*wrapper, sys.executable, "-c", _HOLDER, str(near), then], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    return process, Path(process.stdout.readline().strip())


def test_a_killed_receives_folder_goes_and_a_live_ones_stays(tmp_path: Path) -> None:
    live, live_folder = _holder(tmp_path)
    killed, killed_folder = _holder(tmp_path)
    try:
        assert (killed_folder / OWNER_LOCK).is_file() and killed_folder.stat().st_mode & 0o777 == 0o700
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        remove_stale_scratch(tmp_path)
        assert not killed_folder.exists()
        assert (live_folder / "index.enc").is_file()
    finally:
        live.kill()
        live.wait()
    remove_stale_scratch(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_receive_killed_in_another_pid_namespace_leaves_nothing_for_good(tmp_path: Path) -> None:
    """As in a container: the receive was pid 1 there, a pid that is alive here for ever."""
    unshare = require_tool("unshare", "util-linux")
    if os.geteuid() != 0:
        unavailable("a new pid namespace needs root")
    process, folder = _holder(tmp_path, unshare, "--pid", "--fork", "--kill-child", then="exit")
    process.wait()
    assert (folder / "index.enc").is_file(), "its owner ended without a clean-up of its own"
    remove_stale_scratch(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("leftover", ["index.part", "deep"])
def test_an_older_syncos_pid_named_folders_of_dead_receives_go(tmp_path: Path, leftover: str) -> None:
    dead = tmp_path / f"{SCRATCH_PREFIX}{_dead_pid()}-abcdefgh"
    (dead / "deep").mkdir(parents=True)
    (dead / "deep" / leftover).write_bytes(b"x" * 100)
    live = tmp_path / f"{SCRATCH_PREFIX}{os.getpid()}-defghijk"
    live.mkdir()
    # Not ours, or not a folder: never touched.
    unnamed = tmp_path / f"{SCRATCH_PREFIX}legacy"
    unnamed.mkdir()
    lookalike = tmp_path / f"{SCRATCH_PREFIX}{_dead_pid()}-filefile"
    lookalike.write_text("a user's file")
    other = tmp_path / "uploads"
    other.mkdir()
    remove_stale_scratch(tmp_path)
    assert not dead.exists()
    assert live.is_dir() and unnamed.is_dir() and lookalike.read_text() == "a user's file" and other.is_dir()


def test_a_scratch_folder_is_private_and_removed_on_the_way_out(tmp_path: Path) -> None:
    with scratch_folder(tmp_path) as scratch:
        assert scratch.name.startswith(SCRATCH_PREFIX)
        assert scratch.stat().st_mode & 0o777 == 0o700
        (scratch / "index").write_bytes(b"x")
    assert not scratch.exists()


def test_the_next_receive_removes_what_a_killed_one_left(fixture_app: Path, tmp_path: Path) -> None:
    key = publish(fixture_app, "synco-scratch0123456789abc", only=("uploads",))
    target = tmp_path / "t"
    stale = target / f"{SCRATCH_PREFIX}{_dead_pid()}-xyzxyzxy"
    stale.mkdir(parents=True)
    (stale / "index.enc").write_bytes(os.urandom(1000))
    receive_session(DirectoryTransport(fixture_app / "web"), "scratch0123456789abc", key.secret,
                    ReceiveOptions(target=target, only=("uploads",)))
    assert not stale.exists()
    assert not [p for p in target.iterdir() if p.name.startswith(SCRATCH_PREFIX)]
    assert (target / "uploads").is_dir()
