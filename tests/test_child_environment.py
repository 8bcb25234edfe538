"""The processes synco starts never get the secrets synco takes from its environment.

``SYNCO_KEY``, ``SYNCO_PASSWORD`` and ``SYNCO_DATABASE_URL`` keep a key, a passphrase or a database URL off
the command line; every child (the ssh/docker/kubectl channel, a framework's console, a post-install command,
serve's walk worker, receive's workers) inherited them, so they sat in its ``/proc/<pid>/environ`` and in
whatever it logged of its environment. The receive workers are checked in test_receive_workers.py and
test_receive_index_process.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from synco_core.childenv import SECRET_VARIABLES
from synco_core.frameworkutil.commands import run_command
from synco_core.install.run import run_post_install
from synco_core.pull.channel import ChannelProcess
from synco_core.serve import walkprocess
from synco_core.values import Framework

MARKERS = {"SYNCO_KEY": "AGE-SECRET-KEY-1CHILDENVMARKER", "SYNCO_PASSWORD": "child-env-passphrase-marker",
           "SYNCO_DATABASE_URL": "mysql://u:child-env-db-marker@db/app"}
#: Prints the environment as the child sees it.
PRINT_ENV = [sys.executable, "-c", "import os; print(sorted(os.environ.items()))"]


@pytest.fixture(autouse=True)
def _secrets_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(MARKERS) == set(SECRET_VARIABLES)
    for name, value in MARKERS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SYNCO_CHILD_ENV_PROBE", "passed on")


def _assert_clean(environment: str) -> None:
    assert "SYNCO_CHILD_ENV_PROBE" in environment, "the rest of the environment is passed on"
    assert not [name for name, value in MARKERS.items() if value in environment or f"'{name}'" in environment]


def test_a_framework_command_does_not_get_them(tmp_path: Path) -> None:
    _assert_clean(run_command(PRINT_ENV, cwd=tmp_path).stdout)


def test_a_post_install_command_does_not_get_them(tmp_path: Path) -> None:
    out = tmp_path / "env.txt"
    command = [sys.executable, "-c", f"import os; open({str(out)!r}, 'w').write(str(sorted(os.environ.items())))"]
    run_post_install(Framework(name="App", plugin="test", project_dir=tmp_path, post_install=[command]))
    _assert_clean(out.read_text())


def test_a_post_install_command_gets_the_projects_variables_but_not_them(tmp_path: Path) -> None:
    """A plugin's ``post_install_env`` (a project's ``.env`` may name ``SYNCO_KEY`` too) is passed on over
    synco's environment, without synco's secrets."""
    out = tmp_path / "env.txt"
    command = [sys.executable, "-c", f"import os; open({str(out)!r}, 'w').write(str(sorted(os.environ.items())))"]
    run_post_install(Framework(name="App", plugin="test", project_dir=tmp_path, post_install=[command],
                               post_install_env={"APP_DB_NAME": "from-dotenv", **MARKERS}))
    _assert_clean(out.read_text())
    assert "('APP_DB_NAME', 'from-dotenv')" in out.read_text()


def test_the_pull_channel_does_not_get_them() -> None:
    with ChannelProcess(PRINT_ENV, label="probe").start() as channel:
        channel.stdin.close()
        _assert_clean(channel.stdout.read().decode())


def test_serve_walk_worker_does_not_get_them() -> None:
    _command, environment = walkprocess._command()
    _assert_clean(str(sorted(environment.items())))
