"""``receive --install`` every morning: the project's public files stay the server's, cycle after cycle.

The install puts the receive folder's copy of each set in place. That folder keeps the files of earlier
receives: without ``--delete``, those the server has since deleted or renamed stayed in it, and every
install put them back into the project, where they piled up (a file renamed on the server was there under
both names). ``--install`` now removes them from the receive folder, as ``--delete`` does, whatever the
options: the install is the server's set as the session lists it. ``pull --install`` alike (through the docker
shim, as tests/test_pull_shim.py runs it).
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from pull_support import make_project, remote_environment, run_synco
from test_receive_install import SESSION, build, make_local, receive
from test_receive_support import LocalProject
from test_transfer_support import FixturePlugin, make_app, static_server, tree_digest


def served(uploads: Path) -> dict[str, str]:
    """What the set holds on the server (the fixture's set leaves ``*.tmp`` out)."""
    return {path: digest for path, digest in tree_digest(uploads).items() if not path.endswith(".tmp")}


def change(uploads: Path, rng: random.Random, cycle: int) -> None:
    """One day on the server: a file deleted, one renamed, one moved to a new folder, one added."""
    files = sorted(path for path in uploads.rglob("*") if path.is_file() and path.suffix != ".tmp")
    rng.choice(files).unlink()
    files = sorted(path for path in uploads.rglob("*") if path.is_file() and path.suffix != ".tmp")
    renamed = rng.choice(files)
    renamed.rename(renamed.with_name(f"renamed {cycle} {renamed.name}"))
    moved = rng.choice([path for path in uploads.rglob("*") if path.is_file() and path.suffix != ".tmp"])
    (uploads / f"new{cycle}").mkdir()
    moved.rename(uploads / f"new{cycle}" / moved.name)
    (uploads / f"added {cycle}.txt").write_bytes(rng.randbytes(50 + cycle))


@pytest.mark.parametrize("receive_first", [False, True], ids=["install", "receive-then-install"])
def test_repeated_receive_install_leaves_no_file_the_server_deleted(
        tmp_path: Path, register_plugin: Callable[[object, str], None], receive_first: bool) -> None:
    """``receive_first``: each session is received without ``--install`` (or ``--delete``) first, as a look
    before installing; the install of the same session must not keep what that receive left."""
    register_plugin(FixturePlugin(engine="sqlite"), "fixture")
    register_plugin(LocalProject(), "localproject")
    app = make_app(tmp_path / "app")
    uploads = app / "web" / "uploads"
    local = make_local(tmp_path / "local")
    target = tmp_path / "dump"
    rng = random.Random(3)
    for cycle in range(4):
        if cycle:
            change(uploads, rng, cycle)
        shutil.rmtree(app / "web" / SESSION, ignore_errors=True)
        key = build(app)
        with static_server(app / "web") as (url, _):
            if receive_first:
                looked = receive(url, key.secret, target, local, "--all")
                assert looked.exit_code == 0, looked.output
            result = receive(url, key.secret, target, local, "--all", "--install", "--yes")
        assert result.exit_code == 0, result.output
        assert tree_digest(local / "web" / "uploads") == served(uploads), f"cycle {cycle}"


def test_repeated_pull_install_leaves_no_file_the_server_deleted(tmp_path: Path) -> None:
    env = remote_environment(tmp_path)
    server = make_project(tmp_path / "app", public_files=6).root
    uploads = server / "public" / "uploads"
    laptop = make_project(tmp_path / "laptop", public_files=0).root
    rng = random.Random(4)
    for cycle in range(3):
        if cycle:
            change(uploads, rng, cycle)
        result = run_synco(["pull", f"docker://web-1{server}", "--target", "out", "--install", "--yes"], env, laptop,
                           timeout=120)
        assert result.returncode == 0, result.stderr
        assert tree_digest(laptop / "public" / "uploads") == tree_digest(uploads), f"cycle {cycle}"
