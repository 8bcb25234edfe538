"""Two ``synco serve`` in one web root: one never removes a session the other still serves, or has made.

Each serve starts by removing the sessions nobody serves any more. Whether a session's serve still runs
was told by the pid and host in its marker: a serve in another container's pid namespace under the same
host name (``--network host``, a shared web root volume) has a pid that names no process here (or another
one), so its live session was removed from under it; and a killed serve whose pid a later process took
kept its session published until the time to live ran out. The serve now holds a ``flock`` on its marker,
which the kernel drops however it ends. The processes here are real serves of the fixture app.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from test_transfer_support import FixturePlugin, fixture_app_fixture, make_app, serve_argv  # noqa: F401

from synco_core.serve.ttl import MARKER_FILE, TtlMarker
from synco_core.wire import META_FILE


def _start(app: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """A real ``synco serve --listen`` of ``app``, read up to its READY block; (process, its base URL)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(serve_argv("--listen", "127.0.0.1:0", "--only", "private", *args), cwd=app, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip().startswith("synco receive "):
            words = line.split()
            return process, words[words.index("--base-url") + 1].replace("localhost", "127.0.0.1")
    process.wait(timeout=20)
    raise AssertionError(f"serve ended ({process.returncode}) before READY")


def _serve_keep(app: Path, session_id: str) -> str:
    """A second serve (``--keep``) in the same web root, run to its end; its output."""
    done = subprocess.run(serve_argv("--keep", "--id", session_id, "--only", "private"), cwd=app, text=True,
                          capture_output=True, timeout=120, check=False, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def _stop(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    return out


def _dead_pid() -> int:
    """A pid no process has now (one that just ended and was reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _rewrite(folder: Path, **changes: object) -> None:
    """Change the marker in place (the same file, as the serve wrote and holds it)."""
    marker = TtlMarker.read(folder)
    assert marker is not None
    (folder / MARKER_FILE).write_bytes(dataclasses.replace(marker, **changes).to_bytes())  # type: ignore[arg-type]


def test_a_live_serve_whose_pid_is_not_seen_here_keeps_its_session(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app")
    first, url = _start(app, "--id", "live", "--ttl", "30")
    try:
        live = app / "web" / "synco-live"
        # What a serve in another pid namespace under this host name looks like from here: its pid is nobody's.
        _rewrite(live, pid=_dead_pid())
        output = _serve_keep(app, "second")
        assert "synco-live" not in output
        assert (live / META_FILE).is_file()
        with urllib.request.urlopen(f"{url}synco-live/{META_FILE}", timeout=10) as response:
            assert response.status == 200
    finally:
        _stop(first)
    assert not live.exists(), "the serve removes its own session when it stops"


def test_a_killed_serves_session_goes_though_its_pid_was_reused(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app")
    first, _url = _start(app, "--id", "killed", "--ttl", "30")
    first.kill()
    first.communicate(timeout=20)
    killed = app / "web" / "synco-killed"
    assert (killed / META_FILE).is_file()
    # The dead serve's pid now names a live process (this one): the marker's lock still says who lives.
    _rewrite(killed, pid=os.getpid())
    assert "Removed the expired session synco-killed" in _serve_keep(app, "second")
    assert not killed.exists()


def test_a_serve_does_not_remove_the_session_another_made_under_its_id(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app")
    first, _url = _start(app, "--id", "same", "--ttl", "30")
    folder = app / "web" / "synco-same"
    try:
        # The first one's time ran out (it counts from the folder's creation): the next serve removes it
        # and publishes its own session of the same id there, kept after it exits.
        _rewrite(folder, expires_at=time.time() - 1)
        output = _serve_keep(app, "same")
        assert "Removed the expired session synco-same" in output
        kept = TtlMarker.read(folder)
        assert kept is not None and kept.keep
    finally:
        rest = _stop(first)
    assert (folder / META_FILE).is_file(), "the first serve removed the second one's session"
    assert TtlMarker.read(folder) == kept
    assert f"{folder} was removed by another serve" in rest


def test_cleanup_leaves_a_running_serves_session_and_removes_a_killed_ones(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app")
    running, url = _start(app, "--id", "running", "--ttl", "30")
    try:
        killed, _url = _start(app, "--id", "killed", "--ttl", "30")
        killed.kill()
        killed.communicate(timeout=20)
        assert (app / "web" / "synco-killed" / META_FILE).is_file()
        done = subprocess.run(serve_argv("--cleanup"), cwd=app, text=True, capture_output=True, timeout=120,
                              check=False, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr
        assert "Removed " in done.stdout and "synco-killed" in done.stdout
        assert f"synco-running: its serve (process {running.pid}) is still running" in done.stderr
        assert not (app / "web" / "synco-killed").exists()
        with urllib.request.urlopen(f"{url}synco-running/{META_FILE}", timeout=10) as response:
            assert response.status == 200
    finally:
        rest = _stop(running)
    assert "Removed " in rest and not (app / "web" / "synco-running").exists()


def test_two_serves_of_one_id_at_the_same_moment_the_second_refuses_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, register_plugin: Any) -> None:
    """The second serve checks that the folder does not exist, and the first makes it before the second's
    rename: the second says the id is taken (not 'Directory not empty'), and removes nothing of the first's."""
    from click.testing import CliRunner

    from synco_core.cli.main import cli
    from synco_core.serve import ttl

    register_plugin(FixturePlugin(), "fixture")
    app = make_app(tmp_path / "app")
    first = app / "web" / "synco-same"
    real = ttl._write_locked_marker

    def the_other_serve_wins(folder: Path, ttl_seconds: float, keep: bool) -> tuple[TtlMarker, int | None]:
        first.mkdir()
        (first / META_FILE).write_bytes(b"the first serve's")
        return real(folder, ttl_seconds, keep)

    monkeypatch.setattr(ttl, "_write_locked_marker", the_other_serve_wins)
    monkeypatch.chdir(app)
    result = CliRunner().invoke(cli, ["serve", "--keep", "--id", "same", "--only", "private"])
    assert result.exit_code == 1, result.output
    assert "a session folder synco-same exists already" in result.output, result.output
    assert (first / META_FILE).read_bytes() == b"the first serve's"
    assert sorted(path.name for path in (app / "web").iterdir() if path.name.startswith((".synco", "synco"))) == [
        "synco-same"]


class _Clock:
    """A virtual clock for the serve's wait: ``sleep`` moves it on at once."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.strftime = time.strftime
        self.localtime = time.localtime

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_serve_ends_when_its_session_expires_however_long_the_build_took(
        fixture_app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The session's marker and meta expire a time to live after the folder is made (another serve removes
    it then, receive refuses it); the serve waited a whole time to live from Ready, after a long build
    publishing for that long a session nobody could receive any more, and that another serve removed."""
    from synco_core.detection import detect
    from synco_core.serve import runner, ttl
    from synco_core.serve.build import BuildOptions
    from synco_core.serve.runner import PublishedSession, ServeOptions, serve

    clock = _Clock()
    monkeypatch.setattr(runner, "time", clock)
    monkeypatch.setattr(ttl, "time", clock)
    ready_at: list[float] = []
    lines: list[str] = []

    def slow_step(_message: str) -> None:
        if not ready_at:
            clock.now += 50 * 60  # the build takes 50 of the 60 minutes

    expires: list[float] = []

    def ready(published: PublishedSession) -> None:
        ready_at.append(clock.now)
        marker = TtlMarker.read(published.folder)
        assert marker is not None
        expires.append(marker.expires_at)

    published = serve(detect(fixture_app), ServeOptions(ttl_minutes=60, session_id="slow",
                                                        build=BuildOptions(only=("private",))),
                      echo=lines.append, on_step=slow_step, on_ready=ready)
    assert ready_at and expires and not published.folder.exists()
    assert expires[0] - 1 <= clock.now <= expires[0] + 1
    assert clock.now - ready_at[0] <= 10 * 60 + 1, "the serve waited a whole time to live after Ready"
    assert any("time to live (60 min) ran out" in line for line in lines)
