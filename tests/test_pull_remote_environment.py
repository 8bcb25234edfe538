"""``synco pull`` from server accounts whose environment is set up for people, not for programs.

Shared hosting, containers and locked-down VMs give the remote side whatever the account's rc files and the
image set: Python variables meant for an interactive prompt, a ``PYTHONHOME`` left from an older install.
The remote side runs through the docker shim (tests/shims/docker), which gives the command the container's
environment (``SYNCO_SHIM_CONTAINER_ENV``); each case runs both ways synco starts there: the remote's own
synco (the one on PATH), and the uploaded zipapp. A pull either works or ends in one line naming the cause on the
server, and leaves nothing in the remote temporary folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pull_support import Project, make_project, remote_environment, row_count, run_synco, tree_digest

HOW = {"installed": "remote side: synco installed at", "upload": "remote side: uploaded zipapp"}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "app", public_files=3, rows=40)


def _pull(tmp_path: Path, project: Project, how: str, container_env: dict[str, str | None],
          *extra: str) -> tuple[int, str, dict[str, str]]:
    env = remote_environment(tmp_path, SYNCO_SHIM_CONTAINER_ENV=json.dumps(container_env))
    if how == "upload":
        env["SYNCO_REMOTE_SYNCO"] = "upload"
    result = run_synco(["pull", f"docker://web{project.root}", "--target", "out", *extra], env, tmp_path)
    return result.returncode, result.stderr, env


@pytest.mark.parametrize("how", ["installed", "upload"])
@pytest.mark.parametrize("variables", [
    # The prompt python ends in: the version check read the channel as commands ("python3 >= 3.10 missing,
    # found 3.11"), the module's synco waited there after the pull and the laptop said "SystemExit: 0".
    {"PYTHONINSPECT": "1"},
    {"PYTHONINSPECT": "1", "PYTHONSTARTUP": "STARTUP"},
    {"PYTHONWARNINGS": "error", "PYTHONDEVMODE": "1"},
    {"PYTHONOPTIMIZE": "2", "PYTHONSAFEPATH": "1", "PYTHONDONTWRITEBYTECODE": "1"},
], ids=["inspect", "inspect-startup", "warnings-error", "optimize-safepath"])
def test_pull_with_python_variables_of_an_interactive_account(tmp_path: Path, project: Project, how: str,
                                                              variables: dict[str, str]) -> None:
    startup = tmp_path / "startup.py"
    # A startup file that prints, as people's do: on stdout it would be in front of the channel's greeting.
    startup.write_text("print('welcome to python')\nimport sys\nsys.stdout.flush()\n")
    container_env: dict[str, str | None] = {k: str(startup) if v == "STARTUP" else v for k, v in variables.items()}
    code, stderr, env = _pull(tmp_path, project, how, container_env)
    assert code == 0, stderr
    assert HOW[how] in stderr
    assert row_count(tmp_path / "out" / "dbDump.sqlite") == project.rows
    assert tree_digest(tmp_path / "out" / "uploads") == tree_digest(project.root / "public" / "uploads")
    assert list(Path(env["TMPDIR"]).iterdir()) == []


@pytest.mark.parametrize("how", ["installed", "upload"])
def test_pull_with_a_pythonhome_the_python_cannot_start_with_names_it(tmp_path: Path, project: Project,
                                                                      how: str) -> None:
    # The python printed its path configuration and died: the laptop said "cannot run python: Python path
    # configuration:" (the first line), and before that "did not start (<no Python frame>)" (the last).
    code, stderr, env = _pull(tmp_path, project, how, {"PYTHONHOME": str(tmp_path / "old-python")})
    assert code == 1
    lines = stderr.strip().splitlines()
    assert lines[-1].startswith("Error: cannot run ") and " on docker://web" in lines[-1]
    assert "Fatal Python error: " in lines[-1] and f"PYTHONHOME={tmp_path / 'old-python'} is set there" in lines[-1]
    assert "<no Python frame>" not in stderr and "Python path configuration" not in stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert list(Path(env["TMPDIR"]).iterdir()) == []
