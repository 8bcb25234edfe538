"""The private scratch folder in which receive keeps an index: gone after a receive, even one that was killed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from test_transfer_support import fixture_app_fixture, publish  # noqa: F401

from synco_core.receive import DirectoryTransport, ReceiveOptions, receive_session
from synco_core.receive.public_index import SCRATCH_PREFIX, remove_stale_scratch, scratch_folder


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_scratch_folders_of_dead_receives_go_and_live_ones_stay(tmp_path: Path) -> None:
    dead = tmp_path / f"{SCRATCH_PREFIX}{_dead_pid()}-abc"
    (dead / "deep").mkdir(parents=True)
    (dead / "deep" / "index.part").write_bytes(b"x" * 100)
    live = tmp_path / f"{SCRATCH_PREFIX}{os.getpid()}-def"
    live.mkdir()
    # Not ours, or not a folder: never touched.
    unnamed = tmp_path / f"{SCRATCH_PREFIX}legacy"
    unnamed.mkdir()
    lookalike = tmp_path / f"{SCRATCH_PREFIX}{_dead_pid()}-file"
    lookalike.write_text("a user's file")
    other = tmp_path / "uploads"
    other.mkdir()
    remove_stale_scratch(tmp_path)
    assert not dead.exists()
    assert live.is_dir() and unnamed.is_dir() and lookalike.read_text() == "a user's file" and other.is_dir()


def test_a_scratch_folder_carries_its_pid_and_is_removed_on_the_way_out(tmp_path: Path) -> None:
    with scratch_folder(tmp_path) as scratch:
        assert scratch.name.startswith(f"{SCRATCH_PREFIX}{os.getpid()}-")
        assert scratch.stat().st_mode & 0o777 == 0o700
        (scratch / "index").write_bytes(b"x")
    assert not scratch.exists()


def test_the_next_receive_removes_what_a_killed_one_left(fixture_app: Path, tmp_path: Path) -> None:
    key = publish(fixture_app, "synco-scratch0123456789abc", only=("uploads",))
    target = tmp_path / "t"
    stale = target / f"{SCRATCH_PREFIX}{_dead_pid()}-xyz"
    stale.mkdir(parents=True)
    (stale / "index.enc").write_bytes(os.urandom(1000))
    receive_session(DirectoryTransport(fixture_app / "web"), "scratch0123456789abc", key.secret,
                    ReceiveOptions(target=target, only=("uploads",)))
    assert not stale.exists()
    assert not [p for p in target.iterdir() if p.name.startswith(SCRATCH_PREFIX)]
    assert (target / "uploads").is_dir()
