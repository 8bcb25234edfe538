"""serve's lifecycle: the printed command works, SIGTERM and the TTL clean up, stale sessions go away."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_transfer_support import FixturePlugin, fixture_app_fixture, make_app, serve_argv, tree_digest  # noqa: F401

from synco_core import hookimpl
from synco_core.cli.main import cli
from synco_core.detection import detect
from synco_core.serve import ttl
from synco_core.serve.build import BuildOptions
from synco_core.serve.runner import PublishedSession, ServeOptions, new_session_id, serve
from synco_core.serve.ttl import MARKER_FILE, TtlMarker, cleanup_expired, create_session_folder, write_marker
from synco_core.values import Framework
from synco_core.wire import META_FILE


def test_ttl_expiry_removes_the_session(fixture_app: Path) -> None:
    framework = detect(fixture_app)
    seen: list[PublishedSession] = []
    lines: list[str] = []

    def ready(published: PublishedSession) -> None:
        assert (published.folder / META_FILE).exists()
        assert (published.folder / MARKER_FILE).exists()
        seen.append(published)

    published = serve(framework, ServeOptions(ttl_minutes=0.01, session_id="ttltest"), echo=lines.append,
                      on_ready=ready)
    assert seen and published.folder.name == "synco-ttltest"
    assert not published.folder.exists()
    assert any("time to live" in line for line in lines)
    command = next(line for line in lines if "synco receive" in line)
    assert published.key.secret.startswith("AGE-SECRET-KEY-1") and published.key.secret in command
    # No variant through uvx: the name synco on PyPI is another project's, so that command would not work.
    assert not any("uvx" in line for line in lines)
    # The fixture app does not know its site's URL: serve says so, and what to add.
    assert "--base-url" not in command
    assert any("The site's URL is not known here: add --base-url" in line for line in lines)


def test_default_session_id_is_random_and_at_least_64_bits(fixture_app: Path) -> None:
    ids = {new_session_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{24}", session_id) for session_id in ids), "96 bits in hex"
    # Every hex digit turns up in every position: not a counter, a clock or a fixed prefix (by chance a digit
    # is missing somewhere with a probability of about 1e-25).
    assert all(len({session_id[position] for session_id in ids}) == 16 for position in range(24))
    published = serve(detect(fixture_app), ServeOptions(keep=True, build=BuildOptions(only=("private",))),
                      echo=lambda _line: None)
    assert re.fullmatch(r"synco-[0-9a-f]{24}", published.session)
    assert published.folder == fixture_app / "web" / published.session and published.folder.is_dir()


class OtherFramework:
    """Recognises the fixture app just as well as the fixture plugin does: only --framework can choose."""

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        if not (project_dir / "fixture-app.txt").exists():
            return None
        return Framework(name="Other", plugin="other", project_dir=project_dir, web_root=project_dir / "web",
                         reason="fixture-app.txt found too")


def test_serve_framework_option_chooses_between_equal_candidates(fixture_app: Path, register_plugin: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    register_plugin(OtherFramework(), "other")
    monkeypatch.chdir(fixture_app)
    ambiguous = CliRunner().invoke(cli, ["serve", "--keep", "--id", "ambiguous"])
    assert ambiguous.exit_code == 1
    assert "several frameworks match" in ambiguous.output and "--framework" in ambiguous.output
    unknown = CliRunner().invoke(cli, ["serve", "--keep", "--id", "unknown", "--framework", "nope"])
    assert unknown.exit_code == 1 and "no installed plugin detects a framework named 'nope'" in unknown.output
    chosen = CliRunner().invoke(cli, ["serve", "--keep", "--id", "chosen", "--framework", "fixture",
                                      "--only", "private"])
    assert chosen.exit_code == 0, chosen.output
    assert "Serving Fixture from" in chosen.output
    assert sorted(p.name for p in (fixture_app / "web").glob("synco-*")) == ["synco-chosen"]


def test_sigterm_cleans_up_and_the_printed_command_receives(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(serve_argv("--listen", "127.0.0.1:0", "--id", "sigterm"), cwd=app, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        command = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            if "synco receive" in line and not command:
                command = line.strip()
                break
        match = re.match(r"synco receive (\S+) (\S+) --base-url (\S+)", command)
        assert match, command
        session, key, url = match.groups()
        url = re.sub(r"//[^/:]+:", "//127.0.0.1:", url)
        folder = app / "web" / session
        assert folder.is_dir()
        target = tmp_path / "dump"
        result = CliRunner().invoke(cli, ["receive", session, key, "--base-url", url, "--target", str(target),
                                          "--only", "dbDump,private"])
        assert result.exit_code == 0, result.output
        assert (target / "dbDump.sqlite").read_bytes() == (app / "data.db").read_bytes()
        assert tree_digest(target / "private") == tree_digest(app / "private")
        # The built-in server sends the session and the indexed public files, nothing else of the web root.
        for path, status in (("uploads/dir0/file%200.bin", 200), ("uploads/skip.tmp", 404), ("index.php", 404),
                             (f"{session}/{META_FILE}", 200), (f"{session}/{MARKER_FILE}", 404), ("uploads/", 404)):
            with contextlib.suppress(urllib.error.HTTPError), urllib.request.urlopen(url + path) as response:
                assert (path, response.status) == (path, status)
                continue
            assert status == 404, path
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert not folder.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _start_serve(app: Path, *args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """A real ``synco serve`` of ``app``, read up to its READY block; returns (process, lines so far)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(serve_argv(*args), cwd=app, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    lines: list[str] = []
    while not any("synco receive" in line for line in lines):
        line = process.stdout.readline()
        if not line:
            process.wait(timeout=20)
            raise AssertionError(f"serve ended ({process.returncode}) before READY: {lines}")
        lines.append(line.rstrip("\n"))
    return process, lines


def test_a_cpu_time_limit_running_out_after_ready_cleans_up_and_is_an_error(tmp_path: Path) -> None:
    """SIGXCPU, the soft end of a hosting account's CPU time limit (``ulimit -t``), is no way to end a serve:
    uncaught it killed Python and left the session in the web root; caught after Ready as SIGTERM is, it would
    end with status 0 as if asked to stop. It removes the session and ends with status 152 (its one line is
    checked by test_serve_interrupted.py)."""
    app = make_app(tmp_path / "app")
    process, _lines = _start_serve(app, "--listen", "127.0.0.1:0", "--id", "cpulimit", "--only", "private")
    try:
        folder = app / "web" / "synco-cpulimit"
        assert (folder / META_FILE).exists()
        process.send_signal(signal.SIGXCPU)
        rest, _ = process.communicate(timeout=20)
        assert process.returncode == 128 + signal.SIGXCPU, rest
        assert "Stopped by SIGXCPU; cleaning up." in rest
        assert not folder.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP])
def test_sigint_and_sighup_clean_up_too(tmp_path: Path, signum: signal.Signals) -> None:
    app = make_app(tmp_path / "app")
    process, _lines = _start_serve(app, "--listen", "127.0.0.1:0", "--id", "signal", "--only", "private")
    try:
        folder = app / "web" / "synco-signal"
        assert (folder / META_FILE).exists()
        process.send_signal(signum)
        rest, _ = process.communicate(timeout=20)
        assert process.returncode == 0, rest
        assert f"Stopped by {signum.name}; cleaning up." in rest
        assert not folder.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_killed_serve_leaves_a_marked_folder_the_next_serve_honours(tmp_path: Path, register_plugin: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(tmp_path / "app")
    process, _lines = _start_serve(app, "--listen", "127.0.0.1:0", "--id", "crash", "--only", "private",
                                   "--ttl", "30")
    process.kill()  # SIGKILL: no handler runs, nothing is cleaned up.
    process.communicate(timeout=20)
    crashed = app / "web" / "synco-crash"
    marker = TtlMarker.read(crashed)
    assert marker is not None and marker.pid == process.pid and not marker.keep and marker.locked
    assert 29 * 60 < marker.expires_at - time.time() <= 30 * 60
    assert (crashed / META_FILE).exists()
    assert not list((app / "web").glob(".synco-creating-*"))
    as_killed = tmp_path / "as-killed"
    shutil.copytree(crashed, as_killed, symlinks=True)

    register_plugin(FixturePlugin(), "fixture")
    monkeypatch.chdir(app)

    def serve_again(session_id: str) -> str:
        result = CliRunner().invoke(cli, ["serve", "--keep", "--id", session_id, "--only", "private"])
        assert result.exit_code == 0, result.output
        return result.output

    # As SIGKILL left it (its process gone): the next serve removes it without waiting for the TTL.
    assert "Removed the expired session synco-crash" in serve_again("second")
    assert not crashed.exists()
    # A marker of an older synco (no lock) is judged by its pid: had the dead serve's pid been reused by a live
    # process, the folder would live until its TTL ran out (tests/test_serve_concurrent.py: a locked one goes).
    shutil.copytree(as_killed, crashed, symlinks=True)
    (crashed / MARKER_FILE).write_bytes(TtlMarker(marker.expires_at, os.getpid(), marker.host).to_bytes())
    assert "synco-crash" not in serve_again("third")
    assert crashed.is_dir(), "an unexpired session whose process may be alive is kept"
    (crashed / MARKER_FILE).write_bytes(TtlMarker(time.time() - 1, os.getpid(), marker.host).to_bytes())
    assert "Removed the expired session synco-crash" in serve_again("fourth")
    assert not crashed.exists()


def test_session_folder_appears_with_its_marker_and_leftovers_go(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    web = tmp_path / "web"
    web.mkdir()
    path = web / "synco-atomic"
    written_in: list[Path] = []
    real_write_marker = ttl._write_locked_marker

    def spy(folder: Path, ttl_seconds: float, keep: bool) -> tuple[TtlMarker, int | None]:
        # When the marker is written, the final name must not exist yet: no moment without a marker.
        assert not path.exists()
        written_in.append(folder)
        return real_write_marker(folder, ttl_seconds, keep)

    monkeypatch.setattr(ttl, "_write_locked_marker", spy)
    hold = create_session_folder(path, ttl_seconds=60)
    marker = hold.marker
    assert written_in and written_in[0] != path and written_in[0].name.startswith(".synco-creating-")
    assert TtlMarker.read(path) == marker and marker.locked
    assert [p.name for p in web.iterdir()] == ["synco-atomic"]
    with pytest.raises(FileExistsError):
        create_session_folder(path, ttl_seconds=60)
    assert TtlMarker.read(path) == marker and [p.name for p in web.iterdir()] == ["synco-atomic"]
    # A serve killed between mkdir and rename leaves a hidden folder: removed once older than a minute.
    old = web / ".synco-creating-synco-dead-12345"
    old.mkdir()
    os.utime(old, (time.time() - 120, time.time() - 120))
    fresh = web / ".synco-creating-synco-busy-12346"
    fresh.mkdir()
    assert cleanup_expired(web) == [old]
    assert fresh.is_dir() and path.is_dir()
    # Its maker lives (holds the marker's lock) whatever pid the marker names; once it lets go, it is gone.
    hold.release()
    assert cleanup_expired(web) == [path]


def test_a_folder_being_created_on_a_file_system_whose_clock_is_behind_is_left_alone(tmp_path: Path) -> None:
    """A web root on NFS whose server's clock is ten minutes behind this host's: a folder another serve of this
    host is creating right now carries a time ten minutes old, and was removed under it as a crash's leftover.
    Its marker names a live process of this host: it stays; one whose process is gone still goes."""
    web = tmp_path / "web"
    web.mkdir()
    busy = web / f".synco-creating-synco-busy-{os.getpid()}"
    busy.mkdir()
    write_marker(busy, ttl_seconds=3600)
    dead = web / ".synco-creating-synco-dead-12345"
    dead.mkdir()
    marker = TtlMarker.read(busy)
    assert marker is not None
    (dead / MARKER_FILE).write_bytes(TtlMarker(marker.expires_at, 2**22 + 12345, marker.host).to_bytes())
    for folder in (busy, dead):
        os.utime(folder, (time.time() - 600, time.time() - 600))
    assert cleanup_expired(web) == [dead]
    assert busy.is_dir()


def test_stale_and_expired_sessions_are_removed_by_the_next_serve(tmp_path: Path) -> None:
    web = tmp_path / "web"
    expired = web / "synco-expired"
    expired.mkdir(parents=True)
    write_marker(expired, ttl_seconds=-1)
    dead = web / "synco-dead"
    dead.mkdir()
    write_marker(dead, ttl_seconds=3600)
    marker = TtlMarker.read(dead)
    assert marker is not None
    (dead / MARKER_FILE).write_bytes(TtlMarker(marker.expires_at, 2**22 + 12345, marker.host).to_bytes())
    alive = web / "synco-alive"
    alive.mkdir()
    write_marker(alive, ttl_seconds=3600)
    foreign = web / "synco-go-session"
    foreign.mkdir()
    (foreign / META_FILE).write_bytes(b"age")
    removed = cleanup_expired(web)
    assert sorted(p.name for p in removed) == ["synco-dead", "synco-expired"]
    assert alive.exists() and foreign.exists()


def test_keep_then_cleanup(fixture_app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(fixture_app)
    result = CliRunner().invoke(cli, ["serve", "--keep", "--id", "kept", "--only", "private"])
    assert result.exit_code == 0, result.output
    assert "synco serve --cleanup" in result.output
    folder = fixture_app / "web" / "synco-kept"
    assert (folder / META_FILE).exists() and (folder / "encrypted-resources-private").exists()
    result = CliRunner().invoke(cli, ["serve", "--cleanup"])
    assert result.exit_code == 0, result.output
    assert not folder.exists()
    assert (fixture_app / "web" / "uploads").is_dir()


def test_password_only_in_the_printed_command(fixture_app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(fixture_app)
    # Every artifact of an scrypt session costs one derivation; a low work factor keeps the test fast.
    monkeypatch.setattr("synco_core.serve.keys.SCRYPT_WORK_FACTOR", 10)
    password = "Pa55-word-for-go"
    result = CliRunner().invoke(
        cli, ["serve", "--keep", "--id", "pw", "--only", "dbDump", "--password", password, "--debug"]
    )
    assert result.exit_code == 0, result.stderr
    assert password not in result.stderr
    command_lines = [line for line in result.stdout.splitlines() if password in line]
    assert command_lines and all("synco receive synco-pw " + password in line for line in command_lines)
    assert "serve --cleanup" in result.stdout
