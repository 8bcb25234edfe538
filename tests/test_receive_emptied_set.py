"""``--delete`` never takes a set's whole local copy because the server lists no file in it.

A share not mounted on the server (its mount point an empty folder), or an uploads folder emptied by
mistake, published the set with an empty index, and ``receive --delete`` (or ``--install``, which implies it)
removed every local file of it. The set's files arriving, removed one by one or changed, are still deleted
as before: only a set listing no file at all keeps what the laptop has, and the receive says why.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_transfer_support import FixturePlugin, make_app, publish, tree_digest

from synco_core.receive import HttpTransport, ReceiveOptions, ReceiveSummary, receive_session
from synco_core.serve.server import start_server

SESSION = "synco-emptiedset012345678"


def receive(app: Path, target: Path, delete: bool) -> ReceiveSummary:
    shutil.rmtree(app / "web" / SESSION, ignore_errors=True)
    key = publish(app, SESSION, only=("uploads",))
    server = start_server(app / "web", "127.0.0.1:0")
    try:
        transport = HttpTransport(server.url)
        try:
            return receive_session(transport, SESSION, key.secret, ReceiveOptions(target=target, delete=delete,
                                                                                  only=("uploads",)))
        finally:
            transport.close()
    finally:
        server.stop()


def empty_the_folder(uploads: Path) -> None:
    shutil.rmtree(uploads)
    uploads.mkdir()


def test_a_set_the_server_lists_empty_keeps_the_local_copy(tmp_path: Path, register_plugin: Any,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    register_plugin(FixturePlugin(), "fixture")
    app, target = make_app(tmp_path / "app"), tmp_path / "received"
    assert receive(app, target, delete=True).ok
    received = tree_digest(target / "uploads")
    assert received
    empty_the_folder(app / "web" / "uploads")
    with caplog.at_level(logging.WARNING):
        summary = receive(app, target, delete=True)
    assert summary.ok and summary.sets[0].removed == 0
    assert tree_digest(target / "uploads") == received
    assert "the server lists no file in this set" in caplog.text


def test_delete_still_removes_what_a_set_with_files_no_longer_lists(tmp_path: Path, register_plugin: Any) -> None:
    register_plugin(FixturePlugin(), "fixture")
    app, target = make_app(tmp_path / "app"), tmp_path / "received"
    assert receive(app, target, delete=True).ok
    uploads = app / "web" / "uploads"
    empty_the_folder(uploads)
    (uploads / "only.bin").write_bytes(b"the one file left")
    summary = receive(app, target, delete=True)
    assert summary.ok and summary.sets[0].removed > 0
    assert sorted(tree_digest(target / "uploads")) == ["only.bin"]
