"""The remote half of ``pull --via-http`` publishes with serve's own lifecycle (``publish_session``)."""

from __future__ import annotations

import contextlib
import io
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_transfer_support import fixture_app_fixture  # noqa: F401

from synco_core.errors import ConfigError
from synco_core.pull.source import PullSource
from synco_core.serve.ttl import MARKER_FILE, TtlMarker
from synco_core.wire import META_FILE


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_via_http_publishes_as_serve_does_and_removes_the_session(fixture_app: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(fixture_app)
    expired = fixture_app / "web" / "synco-expired"
    expired.mkdir()
    (expired / MARKER_FILE).write_bytes(b'{"expiresAt": 1, "pid": 1, "host": "elsewhere"}')
    source = PullSource(io.BytesIO(), io.BytesIO())
    lines: list[str] = []
    ready = source.build({"mode": "http", "listen": "127.0.0.1:0", "ttl_minutes": 5}, lines.append)
    try:
        folder = fixture_app / "web" / ready["session"]
        assert ready["encrypted"] and ready["mode"] == "http" and ready["key"].startswith("AGE-SECRET-KEY-1")
        assert (folder / META_FILE).is_file()
        # The session's marker expires with the requested time to live, as serve's does.
        marker = TtlMarker.read(folder)
        assert marker is not None and 4 * 60 < marker.expires_at - time.time() <= 5 * 60
        # Like serve, the expired session of an earlier run is gone before the new one is made.
        assert not expired.exists()
        assert any("synco-expired" in line for line in lines)
        # The --listen server is serve's, with serve's allow list: the session and the indexed public files.
        url = ready["base_url"]
        assert url.startswith("http://127.0.0.1:")
        statuses = {path: _status(url + path) for path in (
            "uploads/dir0/file%200.bin", "uploads/skip.tmp", "index.php", ".env",
            f"{ready['session']}/{META_FILE}", f"{ready['session']}/{MARKER_FILE}")}
        assert statuses == {"uploads/dir0/file%200.bin": 200, "uploads/skip.tmp": 404, "index.php": 404,
                            ".env": 404, f"{ready['session']}/{META_FILE}": 200,
                            f"{ready['session']}/{MARKER_FILE}": 404}
    finally:
        source.cleanup()
    assert not folder.exists()
    with contextlib.suppress(OSError), urllib.request.urlopen(url + f"{ready['session']}/{META_FILE}", timeout=2):
        pytest.fail("the server still answers after the cleanup")


def test_via_http_refusals_leave_nothing_in_the_web_root(fixture_app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(fixture_app)
    before = sorted(p.name for p in (fixture_app / "web").iterdir())
    source = PullSource(io.BytesIO(), io.BytesIO())
    for options in ({"mode": "http", "ttl_minutes": -1}, {"mode": "http", "only": "dbDump"},
                    {"mode": "http", "zstd_level": 99}):
        with pytest.raises(ConfigError):
            source.build(options, lambda _line: None)
    source.cleanup()
    assert sorted(p.name for p in (fixture_app / "web").iterdir()) == before
