"""``synco pull --delete`` through the docker shim: a set folder missing on the remote side (a share not
mounted there, a link to shared storage leading nowhere) or an empty one (an empty mount point) never
empties the laptop's copy; ``--max-delete`` allows an emptying on purpose. The receive side of the same
is ``test_receive_unavailable_set.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pull_support import Project, make_project, remote_environment, row_count, run_synco, tree_digest


@pytest.fixture
def shim_env(tmp_path: Path) -> dict[str, str]:
    return remote_environment(tmp_path)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "app", public_files=6)


def pull(project: Project, env: dict[str, str], cwd: Path, *extra: str) -> tuple[int, str]:
    result = run_synco(["pull", f"docker://web-1{project.root}", "--target", "out", "--delete", *extra], env, cwd)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("how", ["missing", "dangling-link"])
def test_pull_leaves_a_set_whose_remote_folder_is_not_there(shim_env: dict[str, str], project: Project,
                                                            tmp_path: Path, how: str) -> None:
    code, output = pull(project, shim_env, tmp_path)
    assert code == 0, output
    uploads = project.root / "public" / "uploads"
    received = tree_digest(tmp_path / "out" / "uploads")
    assert len(received) == 6
    everything = tree_digest(tmp_path / "out")
    shutil.rmtree(uploads)
    if how == "dangling-link":
        uploads.symlink_to("/mnt/shared/not-mounted/uploads")
    code, output = pull(project, shim_env, tmp_path)
    assert code == 1, output
    assert "could not read its folder" in output and str(uploads) in output
    assert "leave the set out with --only" in output
    # Refused before anything arrived: the other sets and the record are as they were too.
    assert tree_digest(tmp_path / "out") == everything
    assert row_count(tmp_path / "out" / "dbDump.sqlite") == project.rows


def test_pull_leaves_out_a_private_set_whose_remote_folder_is_missing(shim_env: dict[str, str], project: Project,
                                                                     tmp_path: Path) -> None:
    """A private set is one tar replacing the laptop's copy whole: with its folder gone it is left out of the
    session (serve stopped with an error before), and the laptop's copy stays."""
    code, output = pull(project, shim_env, tmp_path)
    assert code == 0, output
    kept = tree_digest(tmp_path / "out" / "private")
    shutil.rmtree(project.root / "storage")
    code, output = pull(project, shim_env, tmp_path)
    assert code == 0, output
    assert f"folder {project.root / 'storage'} does not exist" in output
    assert tree_digest(tmp_path / "out" / "private") == kept


def test_pull_does_not_empty_a_set_whose_remote_folder_is_empty(shim_env: dict[str, str], project: Project,
                                                                tmp_path: Path) -> None:
    code, output = pull(project, shim_env, tmp_path)
    assert code == 0, output
    assert tree_digest(tmp_path / "out" / "uploads")
    # The whole receive folder: the refusal comes before the dump (streamed while the remote side dumps it)
    # or any set arrives, and before the record notes the new session.
    everything = tree_digest(tmp_path / "out")
    uploads = project.root / "public" / "uploads"
    shutil.rmtree(uploads)
    uploads.mkdir()
    code, output = pull(project, shim_env, tmp_path)
    assert code == 1, output
    assert "the server lists no file in this set, and --delete would remove all 6 local file(s)" in output
    assert "nothing was received or changed" in output
    assert tree_digest(tmp_path / "out") == everything
    code, output = pull(project, shim_env, tmp_path, "--max-delete", "5")
    assert code == 1 and "more than --max-delete 5" in output, output
    assert tree_digest(tmp_path / "out") == everything
    code, output = pull(project, shim_env, tmp_path, "--max-delete", "6")
    assert code == 0, output
    assert tree_digest(tmp_path / "out" / "uploads") == {}
