"""Two app servers sharing one web root, their clocks hours apart: a serve's cleanup judges another host's
session by that host's clock (its marker's ``writtenAt`` against the file system's stamps), never by its own,
within receive's MAX_CLOCK_OFFSET; a session whose lock is held is never removed."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

import pytest

from synco_core.receive.meta import MAX_CLOCK_OFFSET
from synco_core.serve import ttl
from synco_core.serve.ttl import MARKER_FILE, cleanup_expired

HOUR = 3600.0
OTHER_HOST = "blake2b:00000000deadbeef"
#: How far the other host's clock is from the file system's (and this host's): behind, the same, ahead.
OFFSETS = [-14 * HOUR, -5 * HOUR, -HOUR, 0.0, HOUR, 5 * HOUR, 14 * HOUR]


def other_hosts_session(web: Path, name: str, *, offset: float, age: float, ttl_seconds: float, keep: bool = True,
                        locked: bool = True) -> Path:
    """A session another host's serve made ``age`` seconds ago (real time), its clock ``offset`` from ours."""
    folder = web / f"synco-{name}"
    folder.mkdir()
    written_at = time.time() - age + offset
    marker = {"expiresAt": written_at + ttl_seconds, "pid": 4242, "host": OTHER_HOST, "keep": keep,
              "locked": locked, "writtenAt": written_at}
    (folder / MARKER_FILE).write_text(json.dumps(marker))
    (folder / MARKER_FILE).chmod(0o600)
    stamp = time.time() - age
    os.utime(folder / MARKER_FILE, (stamp, stamp))
    return folder


def with_this_clock(monkeypatch: pytest.MonkeyPatch, ahead: float) -> None:
    """This host's clock ``ahead`` seconds off (the file system's stays right)."""
    real = time.time
    monkeypatch.setattr(ttl.time, "time", lambda: real() + ahead)


@pytest.mark.parametrize("this_clock", [-5 * HOUR, 0.0, 5 * HOUR])
@pytest.mark.parametrize("offset", OFFSETS)
def test_a_kept_session_of_another_host_lives_by_that_hosts_clock(
        offset: float, this_clock: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    web = tmp_path / "web"
    web.mkdir()
    live = other_hosts_session(web, "live", offset=offset, age=HOUR, ttl_seconds=2 * HOUR)
    expired = other_hosts_session(web, "expired", offset=offset, age=3 * HOUR, ttl_seconds=2 * HOUR)
    with_this_clock(monkeypatch, this_clock)
    assert cleanup_expired(web) == [expired]
    assert live.is_dir()
    # The clock probe leaves nothing behind.
    assert sorted(path.name for path in web.iterdir()) == ["synco-live"]


def test_a_dead_serve_of_another_host_not_kept_goes_whatever_the_clocks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    web = tmp_path / "web"
    web.mkdir()
    dead = other_hosts_session(web, "dead", offset=-5 * HOUR, age=60, ttl_seconds=2 * HOUR, keep=False)
    with_this_clock(monkeypatch, -5 * HOUR)
    assert cleanup_expired(web) == [dead]


@pytest.mark.parametrize("this_clock", [-20 * HOUR, 0.0, 20 * HOUR])
def test_a_held_lock_keeps_another_hosts_session_whatever_the_clocks(
        this_clock: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    web = tmp_path / "web"
    web.mkdir()
    held = other_hosts_session(web, "held", offset=20 * HOUR, age=10 * HOUR, ttl_seconds=HOUR, keep=False)
    fd = os.open(held / MARKER_FILE, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with_this_clock(monkeypatch, this_clock)
        assert cleanup_expired(web) == []
        assert held.is_dir()
    finally:
        os.close(fd)


@pytest.mark.parametrize("offset", [-(MAX_CLOCK_OFFSET + HOUR), MAX_CLOCK_OFFSET + HOUR])
def test_a_clock_further_off_than_receive_believes_is_judged_by_this_hosts(
        offset: float, tmp_path: Path) -> None:
    """Past MAX_CLOCK_OFFSET the other host's times are not believed (a marker claiming a far future
    stays no longer than its expiry by this host's clock), as receive does not believe such a server."""
    web = tmp_path / "web"
    web.mkdir()
    session = other_hosts_session(web, "far", offset=offset, age=HOUR, ttl_seconds=2 * HOUR)
    expired_here = time.time() >= json.loads((session / MARKER_FILE).read_text())["expiresAt"]
    assert cleanup_expired(web) == ([session] if expired_here else [])


def test_an_older_marker_without_its_writing_time_is_judged_by_this_hosts_clock(tmp_path: Path) -> None:
    web = tmp_path / "web"
    web.mkdir()
    folder = web / "synco-old"
    folder.mkdir()
    (folder / MARKER_FILE).write_text(json.dumps({"expiresAt": time.time() - 1, "pid": 4242, "host": OTHER_HOST,
                                                  "keep": True, "locked": True}))
    assert cleanup_expired(web) == [folder]
