"""receive and pull put nothing into a target folder other users may rearrange.

The receive folder holds the decrypted session: the database dump in the clear, the private files. A folder
receive makes is 0700; one that exists is taken as it is. In ``/tmp`` anyone may make ``/tmp/dump`` first
(``--target /tmp/dump``), or a project's folder may be shared with the web server's group: the other user, who
owns the folder or may write to it, cannot read the 0600 dump but can rename it away after its check and put
their own in its place, which ``--install`` (or a later ``synco install``) then loads into the local database
(as PostgreSQL's superuser, ``COPY ... TO PROGRAM`` runs their command), or put links where receive writes.
Such a folder (another user's, one others may write without the sticky bit, or one inside such a folder) is
now refused in one line before anything is downloaded or written, as a ``TMPDIR`` of that kind is. A folder
in ``/tmp`` that receive makes itself, or one of the user's own, is taken.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from crafted_session import CraftedServer, CraftedSession, error_lines, run_receive, tar_bytes
from pull_support import make_project, remote_environment, run_synco
from temp_folders import temp_folder
from test_install_journal import Scene, scene_fixture, synco  # noqa: F401  (the fixture is used by name)

from synco_core.testing.services import unavailable

#: How each shared target is made: a folder another user owns (given to them), one others may write, and a
#: private folder inside one others may write (renamed away as a whole).
SHAPES = ["another_users", "writable_by_others", "inside_one_writable_by_others", "group_writable"]


def _shared_target(tmp_path: Path, shape: str) -> Path:
    if shape == "another_users":
        if os.getuid() != 0:
            unavailable("giving a folder to another user needs root")
        target = tmp_path / "dump"
        target.mkdir(mode=0o755)
        os.chown(target, 65534, -1)
        target.chmod(0o777)
        return target
    if shape == "writable_by_others":
        target = tmp_path / "dump"
        target.mkdir()
        target.chmod(0o777)
        return target
    if shape == "group_writable":
        return temp_folder(tmp_path, 0o770)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    target = shared / "dump"
    target.mkdir(mode=0o700)
    return target


def _entries(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.mark.parametrize("shape", SHAPES)
def test_receive_refuses_a_target_others_may_rearrange(crafted: CraftedSession,
                                                       crafted_server: Callable[..., CraftedServer],
                                                       tmp_path: Path, shape: str) -> None:
    crafted.ready(crafted.private_set(tar_bytes()))
    target = _shared_target(tmp_path, shape)
    before = _entries(target)
    result = run_receive(crafted, crafted_server(crafted.web_root).url, target)
    assert result.exit_code == 1, result.output
    errors = error_lines(result.output)
    assert len(errors) == 1 and str(target.parent if shape == "inside_one_writable_by_others" else target) in \
        errors[0], result.output
    assert _entries(target) == before, "nothing was written"


def test_receive_takes_a_target_it_makes_in_a_sticky_folder_and_a_private_one(
        crafted: CraftedSession, crafted_server: Callable[..., CraftedServer], tmp_path: Path) -> None:
    crafted.ready(crafted.private_set(tar_bytes()))
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    server = crafted_server(crafted.web_root)
    for target in (sticky / "dump", tmp_path / "mine"):
        result = run_receive(crafted, server.url, target)
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize("shape", ["writable_by_others", "inside_one_writable_by_others"])
def test_pull_refuses_a_target_others_may_rearrange_before_connecting(tmp_path: Path, shape: str) -> None:
    env = remote_environment(tmp_path)
    project = make_project(tmp_path / "app", public_files=1, rows=3)
    target = _shared_target(tmp_path, shape)
    result = run_synco(["pull", f"docker://web-1{project.root}", "--target", str(target)], env, tmp_path)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert _entries(target) == []
    assert not Path(env["SYNCO_SHIM_LOG"]).exists(), "the channel was opened"


@pytest.mark.parametrize("shape", ["writable_by_others", "inside_one_writable_by_others"])
def test_install_refuses_a_received_folder_others_may_rearrange(scene: Scene, shape: str) -> None:
    """``synco install FOLDER`` loads what the folder holds: from one others may rearrange, theirs."""
    if shape == "writable_by_others":
        scene.received.chmod(0o777)
    else:
        scene.received.parent.chmod(0o777)
    result = synco("install", str(scene.received), "--project", str(scene.project), "--yes")
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert scene.tree() == scene.before
