"""Locating the server from what a user types, and waiting for a session that is still being built."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from synco_core.errors import TransferError
from synco_core.session import SessionFolder, SessionKey
from synco_core.transfer import DirectoryTransport, ReceiveOptions, receive_session
from synco_core.transfer.locate import candidate_urls, configured_hosts, remember_host
from synco_core.wire import Meta


def test_candidate_urls() -> None:
    assert candidate_urls("example.com", ["/_Resources"]) == [
        "https://example.com/", "https://example.com/_Resources/", "http://example.com/",
        "http://example.com/_Resources/", "https://www.example.com/", "https://www.example.com/_Resources/",
        "http://www.example.com/", "http://www.example.com/_Resources/",
    ]
    assert candidate_urls("https://staging.example.com/app") == ["https://staging.example.com/app/"]
    assert candidate_urls("user:pw@staging.example.com")[:2] == ["https://user:pw@staging.example.com/",
                                                                "http://user:pw@staging.example.com/"]
    assert candidate_urls("  ") == []


def test_configured_and_remembered_hosts(tmp_path: Path) -> None:
    (tmp_path / ".synco.yml").write_text("framework: laravel\nreceive:\n  host: shop.example\n")
    assert configured_hosts(tmp_path) == ["shop.example"]
    remember_host(tmp_path, "https://user:secret@www.shop.example/")
    text = (tmp_path / ".synco.yml").read_text()
    assert "secret" not in text and "framework: laravel" in text
    assert configured_hosts(tmp_path) == ["https://www.shop.example/", "shop.example"]


def test_receive_waits_until_ready_and_times_out(tmp_path: Path) -> None:
    web = tmp_path / "web"
    key = SessionKey.generate()
    folder = SessionFolder(web / "synco-waiting", key.recipients)
    folder.create()
    folder.write_meta(Meta(state="Initializing", framework_name="Slow"))
    transport = DirectoryTransport(web)
    options = ReceiveOptions(target=tmp_path / "t", all=True, timeout=0.3, poll_interval=0.05)
    with pytest.raises(TransferError, match="not ready after"):
        receive_session(transport, "waiting", key.secret, options)

    def finish() -> None:
        time.sleep(0.3)
        folder.write_meta(Meta(state="Ready", framework_name="Slow"))

    thread = threading.Thread(target=finish)
    thread.start()
    options.timeout = 10
    summary = receive_session(transport, "waiting", key.secret, options)
    thread.join()
    assert summary.ok and summary.meta.framework_name == "Slow"
