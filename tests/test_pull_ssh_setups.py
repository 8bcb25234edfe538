"""``synco pull`` through the ssh setups agencies have: ``Include`` and ``Match exec`` in the client configuration,
hashed known hosts, a key only in ssh-agent (with agent forwarding), a server whose ``ForceCommand`` wraps or
refuses the command. Real sshd servers (tests/ssh_config_support.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pull_support import Sshd, run_sshd, run_synco, write_plugin
from ssh_config_support import (
    Servers,
    nothing_written,
    pull_with_config,
    received,
    ssh_servers,
    write_config,
)

from synco_core.testing.services import needs_tool

pytestmark = [needs_tool("sshd", "openssh-server"), needs_tool("ssh", "openssh-client"),
              needs_tool("ssh-keygen", "openssh-client")]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with ssh_servers(tmp_path_factory.mktemp("sshsetups")) as both:
        yield both


def test_an_included_file_and_match_exec(servers: Servers, tmp_path: Path) -> None:
    """The host's block in a file of its own (``Include``), and a ``Match exec`` that reads the pull's environment
    (outside the office, through the bastion)."""
    config = write_config(tmp_path, servers)
    text = config.read_text()
    prod_block, rest = text.split("\nHost bastion", 1)
    included = tmp_path / "conf.d"
    included.mkdir()
    (included / "prod.conf").write_text(prod_block + "\n")
    config.write_text(f"Include {included}/*.conf\n"
                      'Match originalhost prod exec "test x$SYNCO_TEST_IN_OFFICE = x"\n  ProxyJump bastion\n'
                      "Host bastion" + rest)
    url = f"ssh://prod{servers.project.root}"
    for office in ("", "1"):
        shown = subprocess.run(["ssh", "-F", str(config), "-G", "prod"], capture_output=True, text=True, check=True,
                               env={**os.environ, "SYNCO_TEST_IN_OFFICE": office}).stdout.splitlines()
        assert ("proxyjump bastion" in shown) == (office == "")
        code, lines, target = pull_with_config(config, url, tmp_path, SYNCO_TEST_IN_OFFICE=office)
        assert code == 0, lines
        assert received(target, servers.project)


def test_hashed_known_hosts(servers: Servers, tmp_path: Path) -> None:
    config = write_config(tmp_path, servers, "  HashKnownHosts yes")
    known = tmp_path / "known_hosts"
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known)], check=True, capture_output=True)
    assert "127.0.0.1" not in known.read_text()
    code, lines, target = pull_with_config(config, f"ssh://prod{servers.project.root}", tmp_path)
    assert code == 0, lines
    assert received(target, servers.project)


@contextlib.contextmanager
def _agent(tmp_path: Path, *keys: Path) -> Iterator[str]:
    socket = tmp_path / "agent.sock"
    started = subprocess.run(["ssh-agent", "-s", "-a", str(socket)], capture_output=True, text=True, check=True)
    pid = int(started.stdout.split("SSH_AGENT_PID=")[1].split(";")[0])
    try:
        for key in keys:
            subprocess.run(["ssh-add", "-q", str(key)], env={**os.environ, "SSH_AUTH_SOCK": str(socket)}, check=True,
                           capture_output=True)
        yield str(socket)
    finally:
        os.kill(pid, signal.SIGTERM)


def test_a_key_only_in_the_agent_with_agent_forwarding(servers: Servers, tmp_path: Path) -> None:
    """As a password manager's agent gives keys: IdentityFile names the public key, the private one is not here."""
    public = tmp_path / "agent_key.pub"
    public.write_text(Path(f"{servers.app.key}.pub").read_text())
    config = write_config(tmp_path, servers, f"  IdentityFile {public}\n  ForwardAgent yes")
    config.write_text(config.read_text().replace(f"  IdentityFile {servers.app.key}\n", ""))
    with _agent(tmp_path, servers.app.key) as socket:
        code, lines, target = pull_with_config(config, f"ssh://prod{servers.project.root}", tmp_path,
                                               SSH_AUTH_SOCK=socket)
    assert code == 0, lines
    assert received(target, servers.project)


def _force_command_server(tmp_path: Path, command: str) -> contextlib.AbstractContextManager[Sshd]:
    return run_sshd(tmp_path / "forced", write_plugin(tmp_path / "plugin"), settings=f"ForceCommand {command}\n")


def test_a_force_command_that_runs_the_original_command_is_no_obstacle(servers: Servers, tmp_path: Path) -> None:
    """A ForceCommand that logs the command and runs it (an audit wrapper), as rsync and scp go through it."""
    wrapper = tmp_path / "audit.sh"
    wrapper.write_text(f'#!/bin/sh\necho "$SSH_ORIGINAL_COMMAND" >> {tmp_path}/audit.log\n'
                       'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n')
    wrapper.chmod(0o755)
    with _force_command_server(tmp_path, str(wrapper)) as server:
        result = run_synco(["pull", server.url(servers.project.root), "--target", "dump", "--all"], server.env(),
                           tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert received(tmp_path / "dump", servers.project)
    assert "sh -c " in (tmp_path / "audit.log").read_text()


@pytest.mark.parametrize(("where", "command", "said"), [
    ("sshd_config", "echo 'This account is for SFTP only.'", "it said: This account is for SFTP only."),
    ("sshd_config", "internal-sftp", "it said: This service allows sftp connections only."),
    ("sshd_config", "/usr/sbin/nologin", "it said: This account is currently not available."),
    ("authorized_keys", "echo 'Only git here'; exit 3", "it said: Only git here"),
], ids=["echo", "internal-sftp", "nologin", "key-command"])
def test_a_server_that_runs_another_command_is_one_line_saying_so(servers: Servers, tmp_path: Path, where: str,
                                                                  command: str, said: str) -> None:
    """ssh logged in, but the server ran its own command instead of synco's: the pull said "the remote side
    exited with status 1" (internal-sftp), or quoted the server's words as if synco had said them."""
    settings = f"ForceCommand {command}\n" if where == "sshd_config" else ""
    with run_sshd(tmp_path / "forced", write_plugin(tmp_path / "plugin"), settings=settings) as server:
        if where == "authorized_keys":
            keys = server.key.parent / "authorized_keys"
            keys.write_text(f'command="{command}" ' + keys.read_text())
        url = server.url(servers.project.root)
        result = run_synco(["pull", url, "--target", "dump", "--connect-timeout", "20"], server.env(), tmp_path,
                           timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: ssh logged in to {url}, but synco's command did not run there ({said}): the server runs its own in "
        'its place (ForceCommand in sshd_config, command="..." on the key in authorized_keys, a nologin shell), or a '
        "login file (.bashrc, .profile) ended the shell; pull needs an account that runs the command it is given, as "
        "rsync and scp do")
    assert nothing_written(tmp_path / "dump")
