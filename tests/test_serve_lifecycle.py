"""serve's lifecycle: the printed command works, SIGTERM and the TTL clean up, stale sessions go away."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_transfer_support import fixture_app_fixture, make_app, serve_argv, tree_digest  # noqa: F401

from synco_core.cli.main import cli
from synco_core.detection import detect
from synco_core.session.runner import PublishedSession, ServeOptions, serve
from synco_core.session.ttl import MARKER_FILE, TtlMarker, cleanup_expired, write_marker
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
    monkeypatch.setattr("synco_core.session.keys.SCRYPT_WORK_FACTOR", 10)
    password = "Pa55-word-for-go"
    result = CliRunner().invoke(
        cli, ["serve", "--keep", "--id", "pw", "--only", "dbDump", "--password", password, "--debug"]
    )
    assert result.exit_code == 0, result.stderr
    assert password not in result.stderr
    command_lines = [line for line in result.stdout.splitlines() if password in line]
    assert command_lines and all("synco receive synco-pw " + password in line for line in command_lines)
    assert "serve --cleanup" in result.stdout
