"""What a web server can hand out of a published session folder: encrypted artifacts, and a marker that tells
a visitor nothing of the server.

The TTL marker ``.synco-ttl`` is a dot file, which the built-in server never serves but nginx and Apache serve
unless told not to. It named the host (an internal host name, a container's id) in the clear, readable by
anyone who guessed the session's URL while it ran. Now every file of the folder is either an age artifact
(what receive needs) or the marker, which is its owner's alone (mode 0600) and holds the host as a digest.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_transfer_support import fixture_app_fixture  # noqa: F401

from synco_core import age
from synco_core.cli.main import cli
from synco_core.serve import ttl
from synco_core.serve.ttl import MARKER_FILE, TtlMarker, create_session_folder

HOST = "internal-db-host-9f2e.corp.example"


@pytest.fixture
def distinctive_host(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(socket, "gethostname", lambda: HOST)
    return HOST


def _check_folder(folder: Path, project: Path) -> None:
    files = [path for path in folder.rglob("*") if not path.is_dir()]
    assert any(path.name == MARKER_FILE for path in files)
    for path in files:
        data = path.read_bytes()
        if path.name == MARKER_FILE:
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, oct(path.stat().st_mode)
            text = data.decode()
            assert HOST not in text and str(project) not in text and os.path.expanduser("~") not in text, text
            # Times, a pid and flags only (writtenAt: when, by its host's clock, for another host's cleanup).
            assert set(json.loads(text)) == {"expiresAt", "pid", "host", "keep", "locked", "writtenAt"}
        else:
            assert age.is_age_header(data[:64]), f"{path.name} is not an age artifact"


@pytest.mark.parametrize("keep", [True, False])
def test_a_new_session_folder_holds_only_a_marker_that_names_no_host(tmp_path: Path, distinctive_host: str,
                                                                     keep: bool) -> None:
    hold = create_session_folder(tmp_path / "synco-abc", 3600, keep=keep)
    try:
        _check_folder(tmp_path / "synco-abc", tmp_path)
        marker = TtlMarker.read(tmp_path / "synco-abc")
        assert marker is not None and ttl.is_this_host(marker.host)
        assert ttl.served_now(tmp_path / "synco-abc") == f"process {os.getpid()}"
    finally:
        hold.release()


def test_a_published_session_gives_a_web_server_nothing_but_artifacts(fixture_app: Path, distinctive_host: str,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      web_server: Callable[[Path], str]) -> None:
    monkeypatch.chdir(fixture_app)
    result = CliRunner().invoke(cli, ["serve", "--keep", "--id", "disclosure"])
    assert result.exit_code == 0, result.output
    folder = fixture_app / "web" / "synco-disclosure"
    _check_folder(folder, fixture_app)
    # A web server running as the same user (the test's) hands the marker out: it says nothing of the host.
    base = web_server(fixture_app / "web")
    try:
        served = urllib.request.urlopen(f"{base}synco-disclosure/{MARKER_FILE}", timeout=30).read()
    except urllib.error.HTTPError as exc:
        served = exc.read()
    assert HOST.encode() not in served and str(fixture_app).encode() not in served


def test_an_older_synco_s_marker_naming_the_host_is_still_judged(tmp_path: Path, distinctive_host: str) -> None:
    """A marker written with the host's name (synco before the digest) still counts as this host's."""
    folder = tmp_path / "synco-old"
    folder.mkdir()
    dead_pid = 2**22 + 12345
    (folder / MARKER_FILE).write_bytes(TtlMarker(time.time() + 3600, dead_pid, HOST).to_bytes())
    assert ttl.is_stale(folder)
    (folder / MARKER_FILE).write_bytes(TtlMarker(time.time() + 3600, os.getpid(), HOST).to_bytes())
    assert not ttl.is_stale(folder)
    (folder / MARKER_FILE).write_bytes(TtlMarker(time.time() + 3600, dead_pid, "another-host").to_bytes())
    assert not ttl.is_stale(folder)


def test_another_hosts_live_session_is_not_judged_by_this_hosts_clock(tmp_path: Path) -> None:
    """A web root shared with a host whose clock is hours behind this one's: a session it still serves (its
    marker locked) looked expired here and the next serve on this host removed it from under its receiver.
    A dead one (the lock free) is still removed once expired."""
    folder = tmp_path / "synco-elsewhere"
    folder.mkdir()
    expired_here = time.time() - 3 * 3600
    (folder / MARKER_FILE).write_bytes(TtlMarker(expired_here, 2**22 + 12345, "blake2b:0123456789abcdef",
                                                 locked=True).to_bytes())
    fd = os.open(folder / MARKER_FILE, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert not ttl.is_stale(folder)
    finally:
        os.close(fd)
    assert ttl.is_stale(folder)
