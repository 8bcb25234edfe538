"""``synco pull`` through a channel that is a terminal (``-tt`` in the ssh options, ``docker/kubectl exec -t``).

A terminal between the two sides changes the bytes: line ends become CR LF, input is echoed back, ^C and ^D
in the uploaded zipapp signal or end the input. Pull used to wait out the greeting limit ("started but did
not greet", pointing at login scripts) or fail with "cannot reach". It now says in one line that the
channel is a terminal, before anything is uploaded. ``tests/shims/tty-ssh`` stands in for an ssh that
allocates one (a new terminal as sshd makes it, or one set to raw mode, which changes no byte but is still
a terminal); the test against a real sshd is in test_pull_ssh.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pull_support import SHIMS, Project, make_project, remote_environment, run_synco

TTY_SSH = str(SHIMS / "tty-ssh")


@pytest.fixture
def remote_env(tmp_path: Path) -> dict[str, str]:
    return remote_environment(tmp_path, SYNCO_SSH_COMMAND=TTY_SSH)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "app", public_files=3, rows=20)


@pytest.mark.parametrize("mode", ["new", "raw"])
@pytest.mark.parametrize("synco", ["installed", "upload"])
def test_a_channel_that_is_a_terminal_is_one_line_at_once(remote_env: dict[str, str], project: Project,
                                                          tmp_path: Path, mode: str, synco: str) -> None:
    env = dict(remote_env, SYNCO_SHIM_TTY_MODE=mode, SYNCO_CONNECT_TIMEOUT="60")
    if synco == "upload":
        env["SYNCO_REMOTE_SYNCO"] = "upload"
    started = time.monotonic()
    result = run_synco(["pull", f"ssh://prod{project.root}", "--target", "out"], env, tmp_path)
    # Said at once, not after the greeting limit.
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: the channel to ssh://prod{project.root} is a terminal (-tt in the ssh options, "
        "docker or kubectl exec -t), which would change the bytes synco sends; run it without one")
    assert "Traceback" not in result.stderr
    # Nothing was uploaded or left behind on the remote side, nothing arrived locally.
    assert list(Path(env["TMPDIR"]).iterdir()) == []
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
