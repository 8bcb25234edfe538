"""A whole round trip over trees 1,200 folders deep: serve, receive ``--delete``, install, rollback, and an
install killed half-way then put back through its journal.

Python's recursion limit is 1,000 and Linux nests folders far deeper, so a server's upload folder, a private
set's tar, a laptop's received copy or its project folder may hold such a tree. Before, the receive of a
file 1,200 folders down ended in ``RecursionError`` (``os.makedirs``), and so did ``--delete`` over a local
tree of empty folders that deep (``os.walk``). Every tree these tests make is removed by the tests
themselves (:mod:`deeptrees`): pytest's own clean-up recurses and would fail on it.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from deeptrees import DEPTH, deep_folder, exists, nest, snapshot
from synco_forks import run_synco
from test_transfer_support import FixturePlugin, make_app, publish

from synco_core.detection import detect
from synco_core.install.run import install_received, rollback_install
from synco_core.receive import HttpTransport, ReceiveOptions, receive_session
from synco_core.serve.server import start_server

SESSION = "synco-deeptrees00000000001"
DEEP = "/".join(["d"] * DEPTH)


@pytest.fixture
def base() -> Iterator[Path]:
    with deep_folder() as folder:
        yield folder


def test_serve_receive_delete_install_and_rollback_of_deep_sets(base: Path,
                                                                register_plugin: Callable[..., None]) -> None:
    register_plugin(FixturePlugin(), "fixture")
    app = make_app(base / "app")
    nest(app / "web" / "uploads" / "deep", files_every=150, tag="server")
    nest(app / "private" / "deep", files_every=150, tag="server")
    # What the laptop received before: a tree the server no longer has (files, and empty folders only), and
    # another shape of the server's own folder.
    target = base / "dump"
    nest(target / "uploads" / "gone", files_every=300, tag="old")
    nest(target / "uploads" / "empty")
    nest(target / "uploads" / "deep", name="x", files_every=300, tag="old")
    server = start_server(app / "web", "127.0.0.1:0")
    try:
        key = publish(app, SESSION)
        summary = receive_session(HttpTransport(server.url), SESSION, key.secret,
                                  ReceiveOptions(target=target, only=("uploads", "private"), delete=True))
    finally:
        server.stop()
    assert summary.ok, [(item.name, item.status, item.detail) for item in summary.sets]
    assert snapshot(target / "uploads" / "deep") == snapshot(app / "web" / "uploads" / "deep")
    assert snapshot(target / "private" / "deep") == snapshot(app / "private" / "deep")
    assert not exists(target / "uploads", "gone") and not exists(target / "uploads", "empty")

    project = base / "project"
    (project / "web").mkdir(parents=True)
    (project / "fixture-app.txt").write_text("fixture\n")
    nest(project / "web" / "uploads" / "local", files_every=200, tag="laptop")
    nest(project / "private" / "deep", files_every=200, tag="laptop")
    before = {folder: snapshot(project / folder) for folder in ("web/uploads", "private")}
    install_received(target, project, only=("uploads", "private"), yes=True, echo=lambda _line: None,
                     max_delete=100)
    assert snapshot(project / "web" / "uploads") == snapshot(target / "uploads")
    assert snapshot(project / "private") == snapshot(target / "private")
    assert rollback_install(detect(project), yes=True)
    assert {folder: snapshot(project / folder) for folder in before} == before


KILLED = -signal.SIGKILL


def _synco(*args: str, kill_at: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "SYNCO_DEBUG_KILL_AT"}
    if kill_at:
        env["SYNCO_DEBUG_KILL_AT"] = kill_at
    # Forked from a helper that has imported synco already (synco_forks.py): a process of its own all the same.
    return run_synco(list(args), env=env, cwd=cwd, timeout=600)


@pytest.mark.parametrize("point", ["files:install:kept#1", "files:install:replaced#1",
                                   "files:install:dotfile-carried#1", "install:journal:files-done#1"])
def test_an_install_of_a_deep_set_killed_half_way_is_put_back(base: Path, point: str) -> None:
    """``synco install`` killed (SIGKILL) at a step of its folder swap; ``synco db rollback`` then puts the
    project's 1,200-deep folder back exactly, its dotfiles at the bottom carried and returned."""
    project, received = base / "project", base / "received"
    database = project / "db" / "app.db"
    database.parent.mkdir(parents=True)
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    conn.close()
    (project / ".synco.yml").write_text(
        "serve:\n"
        f"  database: sqlite:///{database}\n"
        "  file_sets:\n"
        "    - name: media\n      path: public/media\n      public: true\n      url: media/\n")
    nest(project / "public" / "media", files_every=100, tag="laptop")
    for level in (DEPTH // 2, DEPTH):
        (project / "public" / "media" / "/".join(["d"] * level) / ".gitignore").write_text(f"{level}\n")
    nest(received / "media", files_every=150, tag="server")
    (received / ".synco-received.json").write_text(json.dumps({"version": 1, "session": "s", "fileSets": [
        {"name": "media", "kind": "public", "path": "media", "relativeBasePath": "public/media"}]}))
    before = snapshot(project / "public")

    killed = _synco("install", str(received), "--project", str(project), "--yes", "--only", "media", kill_at=point)
    assert killed.returncode == KILLED, killed.stderr
    put_back = _synco("db", "rollback", "--yes", cwd=project)
    assert put_back.returncode == 0 and "Traceback" not in put_back.stderr, put_back.stderr
    assert snapshot(project / "public") == before
    assert [name for name in os.listdir(project / "public") if name != "media"] == []
    assert exists(project / "public" / "media", f"{DEEP}/.gitignore")
