"""``synco pull`` into a target whose disk fills up (a tmpfs of a given size; the remote side through the docker
shim). A pull's session is made anew at every run, so nothing it cut short can be continued: the one line
names the disk and the set without "it continues with what has arrived", and the session's part files are
removed instead of keeping the space taken (before, the encrypted part of the dump stayed).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pull_support import Project, make_project, remote_environment, run_synco
from test_serve_wild_trees import small_file_system


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "app", public_files=4, rows=20, blob_bytes=200_000)


@pytest.mark.parametrize("size", ["8k", "2m"])
def test_pull_into_a_full_disk_leaves_nothing_of_the_session(tmp_path: Path, project: Project, size: str) -> None:
    env = remote_environment(tmp_path)
    target = tmp_path / "out"
    target.mkdir()
    with small_file_system(target, size):
        result = run_synco(["pull", f"docker://web{project.root}", "--target", str(target)], env, tmp_path)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        last = lines[-1]
        assert last.startswith(f"Error: no space left on the disk that holds {target}: set dbDump needs about "), lines
        assert last.endswith("free some space (or pass --target on another disk) and run the same command again"), lines
        assert [name for name in os.listdir(target) if name.endswith(".part")] == []
