"""ssh's questions during ``synco pull`` in a terminal that is the pull's controlling terminal, as in a shell.

Ctrl-C at a question (a key's passphrase, whether to trust a new host key, a jump host's passphrase) ends the pull
as ssh and git end there: exit status 130 after one line, the terminal's echo as it was, nothing written, no ssh
nor askpass program left running, the askpass wrapper folder gone. Real sshd servers (tests/ssh_config_support.py).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ssh_config_support import (
    PASSPHRASE,
    Servers,
    nothing_written,
    passphrase_key,
    received,
    ssh_servers,
    terminal_environment,
    write_config,
)
from terminal_support import Terminal, marked_processes

from synco_core.testing.services import needs_tool

pytestmark = [needs_tool("sshd", "openssh-server"), needs_tool("ssh", "openssh-client"),
              needs_tool("ssh-keygen", "openssh-client")]

SYNCO = [sys.executable, "-c", "from synco_core.cli.main import main; main()"]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with ssh_servers(tmp_path_factory.mktemp("sshprompts")) as both:
        yield both


def _setup(tmp_path: Path, servers: Servers, question: str) -> tuple[Path, str, dict[str, str]]:
    """The config for ``question`` (``passphrase``: the application's key has one; ``host``: its host key is
    unknown; ``jump``: the bastion's key has one, reached through ProxyJump); the prompt ssh shows, the env."""
    known: tuple[object, ...] | None = None
    prod = ""
    bastion = ""
    if question == "passphrase":
        key = passphrase_key(tmp_path, servers.app)
        prod = f"  IdentityFile {key}"
        prompt = f"Enter passphrase for key '{key}': "
    elif question == "host":
        known = (servers.bastion,)
        prompt = "(yes/no/[fingerprint])? "
    else:
        key = passphrase_key(tmp_path, servers.bastion, "bastion_key")
        prod = "  ProxyJump bastion"
        bastion = f"  IdentityFile {key}"
        prompt = f"Enter passphrase for key '{key}': "
    config = write_config(tmp_path, servers, prod, known=known, bastion=bastion)  # type: ignore[arg-type]
    text = config.read_text()
    if question == "passphrase":
        text = text.replace(f"  IdentityFile {servers.app.key}\n", "")
    if question == "jump":
        text = text.replace(f"  IdentityFile {servers.bastion.key}\n", "")
    config.write_text(text)
    temp = tmp_path / "local-tmp"
    temp.mkdir()
    return temp, prompt, terminal_environment(config, temp)


@pytest.mark.parametrize("question", ["passphrase", "host", "jump"])
def test_ctrl_c_at_an_ssh_question_ends_the_pull_cleanly(servers: Servers, tmp_path: Path, question: str) -> None:
    temp, prompt, env = _setup(tmp_path, servers, question)
    local = tmp_path / "laptop"
    local.mkdir()
    url = f"ssh://prod{servers.project.root}"
    with Terminal([*SYNCO, "pull", url, "--target", "dump", "--all"], env, local) as terminal:
        terminal.wait_for(prompt)
        assert terminal.echoes() == (question == "host")
        # Half an answer typed, then Ctrl-C.
        terminal.type("ye" if question == "host" else "sesa")
        time.sleep(0.3)
        started = time.monotonic()
        terminal.interrupt()
        code = terminal.finish(60)
        took = time.monotonic() - started
        output = terminal.text
        assert terminal.echoes(), output
        left = marked_processes(terminal.mark)
    assert code == 130, output
    assert "Traceback" not in output
    # One line, on a line of its own (not after the prompt).
    lines = [line.strip() for line in output.replace("\r\n", "\n").split("\n") if line.strip()]
    assert lines[-1] == "Error: interrupted", output
    assert prompt.strip() in lines[-2], output
    # At once: nothing remote to wait for (ssh was still logging in).
    assert took < 4, (took, output)
    assert left == [], left
    assert nothing_written(local / "dump")
    assert list(temp.iterdir()) == []


def test_a_jump_host_asks_for_its_own_passphrase(servers: Servers, tmp_path: Path) -> None:
    temp, prompt, env = _setup(tmp_path, servers, "jump")
    local = tmp_path / "laptop"
    local.mkdir()
    url = f"ssh://prod{servers.project.root}"
    with Terminal([*SYNCO, "pull", url, "--target", "dump", "--all"], env, local) as terminal:
        terminal.wait_for(prompt)
        terminal.type(PASSPHRASE + "\n")
        code = terminal.finish(120)
        output = terminal.text
        left = marked_processes(terminal.mark)
    assert code == 0, output
    assert PASSPHRASE not in output
    assert received(local / "dump", servers.project)
    assert left == []
    assert list(temp.iterdir()) == []


def _askpass_pids(mark: str) -> list[int]:
    return [int(line.split(":", 1)[0]) for line in marked_processes(mark, wait=0) if "askpass.py" in line]


def test_an_askpass_program_killed_at_its_question_leaves_the_echo_on(servers: Servers, tmp_path: Path) -> None:
    """Killed where it cannot restore the terminal (SIGKILL), the question left echo off for the shell."""
    temp, prompt, env = _setup(tmp_path, servers, "passphrase")
    local = tmp_path / "laptop"
    local.mkdir()
    with Terminal([*SYNCO, "pull", f"ssh://prod{servers.project.root}", "--target", "dump"], env, local) as terminal:
        terminal.wait_for(prompt)
        assert not terminal.echoes()
        for pid in _askpass_pids(terminal.mark):
            os.kill(pid, signal.SIGKILL)
        code = terminal.finish(60)
        output = terminal.text
        assert terminal.echoes(), output
        left = marked_processes(terminal.mark)
    assert code == 1, output
    assert "Permission denied (publickey)" in output.strip().splitlines()[-1]
    assert left == []
    assert nothing_written(local / "dump")
    assert list(temp.iterdir()) == []


@pytest.mark.parametrize("question", ["passphrase", "host"])
def test_a_pull_killed_at_a_question_leaves_no_question_and_its_folder_goes_next_time(
        servers: Servers, tmp_path: Path, question: str) -> None:
    """``kill -9`` of synco while ssh asks: the question (ssh lives on, in its own session) was left reading
    what the user typed at their shell next, without echo; the askpass wrapper's folder stayed for ever."""
    temp, prompt, env = _setup(tmp_path, servers, question)
    local = tmp_path / "laptop"
    local.mkdir()
    url = f"ssh://prod{servers.project.root}"
    with Terminal([*SYNCO, "pull", url, "--target", "dump"], env, local) as terminal:
        terminal.wait_for(prompt)
        folders = list(temp.iterdir())
        assert [folder.name[:len("synco-askpass-")] for folder in folders] == ["synco-askpass-"]
        terminal.process.kill()
        terminal.process.wait()
        # The question is withdrawn (within a second or two), its terminal as it was.
        left = marked_processes(terminal.mark, wait=10)
        assert left == [], left
        assert terminal.echoes()
    assert nothing_written(local / "dump")
    # The folder (no secret in it) stays until the next run, which removes it: its owner is provably gone.
    assert list(temp.iterdir()) == folders
    live = Terminal([*SYNCO, "pull", url, "--target", "dump"], env, local)
    with live:
        live.wait_for(prompt)
        assert [folder for folder in folders if folder.exists()] == []
        # The next run's own folder is there, and another run's live one would stay (its lock is held).
        mine = list(temp.iterdir())
        assert len(mine) == 1 and mine[0].name.startswith("synco-askpass-")
        live.interrupt()
        assert live.finish(60) == 130
    assert list(temp.iterdir()) == []


@pytest.mark.parametrize("question", ["passphrase", "host"])
def test_the_still_waiting_note_never_goes_into_a_question(servers: Servers, tmp_path: Path, question: str) -> None:
    """The login phase's note ("still waiting for ssh to log in ...") came when the limit passed, in the middle of
    the question the person was answering, on its line."""
    temp, prompt, env = _setup(tmp_path, servers, question)
    local = tmp_path / "laptop"
    local.mkdir()
    url = f"ssh://prod{servers.project.root}"
    with Terminal([*SYNCO, "pull", url, "--target", "dump", "--all", "--connect-timeout", "1"], env,
                  local) as terminal:
        terminal.wait_for(prompt)
        # Three times the limit with the question on the terminal.
        terminal.read_for(3)
        assert "still waiting" not in terminal.text
        terminal.type("yes\n" if question == "host" else PASSPHRASE + "\n")
        code = terminal.finish(120)
        output = terminal.text
    assert code == 0, output
    assert received(local / "dump", servers.project)
    assert not [line for line in output.splitlines() if prompt.strip() in line and "still waiting" in line], output
    assert list(temp.iterdir()) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_pull_stopped_by_a_signal_at_a_question_ends_as_after_ctrl_c(servers: Servers, tmp_path: Path,
                                                                       signum: int) -> None:
    temp, prompt, env = _setup(tmp_path, servers, "passphrase")
    local = tmp_path / "laptop"
    local.mkdir()
    with Terminal([*SYNCO, "pull", f"ssh://prod{servers.project.root}", "--target", "dump"], env, local) as terminal:
        terminal.wait_for(prompt)
        started = time.monotonic()
        terminal.process.send_signal(signum)
        code = terminal.finish(60)
        took = time.monotonic() - started
        output = terminal.text
        assert terminal.echoes(), output
        left = marked_processes(terminal.mark)
    assert code == 128 + signum, output
    lines = [line.strip() for line in output.replace("\r\n", "\n").split("\n") if line.strip()]
    assert lines[-1] == f"Error: stopped by {signal.Signals(signum).name}", output
    assert took < 4, (took, output)
    assert left == []
    assert nothing_written(local / "dump")
    assert list(temp.iterdir()) == []
