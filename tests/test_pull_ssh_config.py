"""``synco pull`` through an agency's own ssh setup: a ``~/.ssh/config`` read exactly as ``ssh``/``rsync`` read it.

Real sshd servers on 127.0.0.1 (and ``::1``); the client reads a config file of the test's (``ssh -F FILE``, which ssh
treats like ``~/.ssh/config``): a Host alias with HostName, Port, User, IdentityFile and IdentitiesOnly, ProxyJump
through a second sshd, ProxyCommand, a ControlMaster with ControlPersist, RemoteCommand, LogLevel VERBOSE/DEBUG, a
known_hosts file that does not know the host or knows another key for it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pull_support import Sshd, run_sshd, run_synco, write_plugin
from ssh_config_support import (
    PASSPHRASE,
    Servers,
    host_key,
    nothing_written,
    passphrase_key,
    pull_with_config,
    received,
    ssh_servers,
    terminal_environment,
    write_config,
)
from terminal_support import Terminal

from synco_core.testing.services import needs_tool

#: The synco command line, run by this interpreter.
SYNCO = [sys.executable, "-c", "from synco_core.cli.main import main; main()"]

pytestmark = [needs_tool("sshd", "openssh-server"), needs_tool("ssh", "openssh-client"),
              needs_tool("ssh-keygen", "openssh-client")]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with ssh_servers(tmp_path_factory.mktemp("sshconfig")) as both:
        yield both


@pytest.mark.parametrize("prod", [
    "",
    "  ProxyJump bastion",
    "  ProxyCommand ssh -F %d/ssh_config -W %h:%p bastion",
    "  ControlMaster auto\n  ControlPath %s/%C\n  ControlPersist 30",
    "  RequestTTY yes\n  SetEnv SYNCO_TEST_FROM_CONFIG=1\n  SendEnv LANG LC_*",
], ids=["alias", "proxyjump", "proxycommand", "controlmaster", "requesttty-setenv"])
def test_a_host_alias_of_the_ssh_config_is_used_as_ssh_uses_it(servers: Servers, tmp_path: Path, prod: str) -> None:
    # A socket's path is limited to 108 bytes: the master's lives in a short folder of its own.
    sockets = Path(tempfile.mkdtemp(prefix="cm-", dir="/tmp"))
    config = write_config(tmp_path, servers, prod.replace("%d", str(tmp_path)).replace("%s", str(sockets)))
    url = f"ssh://prod{servers.project.root}"
    try:
        for _ in range(2):
            # Twice: the second time through the master the first one left running (ControlPersist).
            code, lines, target = pull_with_config(config, url, tmp_path)
            assert code == 0, lines
            assert received(target, servers.project)
    finally:
        if "ControlMaster" in prod:
            subprocess.run(["ssh", "-F", str(config), "-O", "exit", "prod"], capture_output=True, check=False)
        shutil.rmtree(sockets, ignore_errors=True)


@pytest.mark.parametrize("level", ["VERBOSE", "DEBUG", "DEBUG3"])
def test_ssh_log_lines_are_never_the_reason(servers: Servers, tmp_path: Path, level: str) -> None:
    """With LogLevel VERBOSE or DEBUG, ssh's last words are its byte counts ("Bytes per second: sent ..."), which
    were given as why the pull failed."""
    config = write_config(tmp_path, servers, f"  LogLevel {level}")
    url = f"ssh://prod{servers.project.root}"
    code, lines, target = pull_with_config(config, url, tmp_path, SYNCO_REMOTE_SYNCO="sh -c 'echo boom >&2; exit 3'")
    assert (code, lines[-1]) == (1, "Error: boom")
    code, lines, target = pull_with_config(config, url, tmp_path, SYNCO_REMOTE_SYNCO="sh -c 'kill -9 $$'")
    assert code == 1
    assert lines[-1].startswith(f"Error: the remote side on {url} was killed by a signal (ssh names none"), lines
    assert nothing_written(target)


def _other_key(tmp_path: Path) -> str:
    key = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return " ".join(key.with_suffix(".pub").read_text().split()[:2])


@pytest.mark.parametrize("strict", ["ask", "yes", "accept-new"])
def test_a_host_that_ssh_does_not_know_is_one_line_saying_what_to_do(servers: Servers, tmp_path: Path,
                                                                      strict: str) -> None:
    config = write_config(tmp_path, servers, f"  StrictHostKeyChecking {strict}", known=(servers.bastion,))
    url = f"ssh://prod{servers.project.root}"
    code, lines, target = pull_with_config(config, url, tmp_path)
    if strict == "accept-new":
        # ssh adds the new key itself, as it would for rsync.
        assert code == 0, lines
        return
    assert code == 1
    assert lines[-1] == (f"Error: cannot reach {url}: Host key verification failed. ssh does not know this host's "
                         "key and was not told to trust it: run the pull in a terminal, where ssh asks, or check the "
                         "key and accept it once with `ssh prod true`")
    assert nothing_written(target)


@pytest.mark.parametrize("strict", ["ask", "yes", "no", "accept-new"])
def test_a_changed_host_key_warning_reaches_the_user_as_ssh_wrote_it(servers: Servers, tmp_path: Path,
                                                                     strict: str) -> None:
    """Only "Host key verification failed." was shown; under StrictHostKeyChecking no, where ssh logs in anyway
    (with password logins turned off), the warning was not shown at all."""
    config = write_config(tmp_path, servers, f"  StrictHostKeyChecking {strict}", known=(servers.bastion,))
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(known_hosts.read_text() + f"[127.0.0.1]:{servers.app.port} {_other_key(tmp_path)}\n")
    expected = subprocess.run([*shlex.split(f"ssh -F {config} -T"), "prod", "true"], capture_output=True,
                              text=True).stderr.splitlines()
    assert "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!" in expected
    url = f"ssh://prod{servers.project.root}"
    code, lines, target = pull_with_config(config, url, tmp_path)
    if strict == "no":
        assert code == 0, lines
        assert received(target, servers.project)
        warning = expected
    else:
        assert code == 1
        assert lines[-1] == (f"Error: cannot reach {url}: Host key verification failed. The host key ssh knows for it "
                             "has changed: see ssh's warning above before you trust the new key")
        assert nothing_written(target)
        warning = expected[:-1]
    start = lines.index(expected[0])
    assert lines[start:start + len(warning)] == warning


def test_in_a_terminal_ssh_asks_there_for_a_new_host_and_a_passphrase(servers: Servers, tmp_path: Path) -> None:
    """ssh runs in a session of its own, without the terminal: it could neither ask whether to trust a new host
    nor for a key's passphrase, as it does under rsync; both ended in "cannot reach"."""
    key = passphrase_key(tmp_path, servers.app)
    config = write_config(tmp_path, servers, f"  IdentityFile {key}", known=(servers.bastion,))
    config.write_text(config.read_text().replace(f"  IdentityFile {servers.app.key}\n", ""))
    local = tmp_path / "laptop"
    local.mkdir()
    temp = tmp_path / "local-tmp"
    temp.mkdir()
    url = f"ssh://prod{servers.project.root}"
    with Terminal([*SYNCO, "pull", url, "--target", "dump", "--all"], terminal_environment(config, temp),
                  local) as terminal:
        terminal.wait_for("(yes/no/[fingerprint])? ")
        terminal.type("yes\n")
        terminal.wait_for(f"Enter passphrase for key '{key}': ")
        terminal.type(PASSPHRASE + "\n")
        code = terminal.finish(120)
        output = terminal.text
    assert code == 0, output
    assert received(local / "dump", servers.project)
    # The answer to the host key question is echoed, the passphrase is not.
    assert "yes" in output and PASSPHRASE not in output
    assert host_key(servers.app) in (tmp_path / "known_hosts").read_text()
    # The askpass wrapper is gone.
    assert list(temp.iterdir()) == []


def test_without_a_terminal_a_key_with_a_passphrase_is_one_line(servers: Servers, tmp_path: Path) -> None:
    key = passphrase_key(tmp_path, servers.app)
    config = write_config(tmp_path, servers, f"  IdentityFile {key}")
    config.write_text(config.read_text().replace(f"  IdentityFile {servers.app.key}\n", ""))
    url = f"ssh://prod{servers.project.root}"
    code, lines, target = pull_with_config(config, url, tmp_path)
    assert code == 1
    assert lines[-1] == (f"Error: cannot reach {url}: {servers.app.user}@127.0.0.1: Permission denied (publickey). "
                         "A key with a passphrase is offered only from ssh-agent (ssh-add), or when the pull runs in a "
                         "terminal, where ssh asks for the passphrase")
    assert PASSPHRASE not in "\n".join(lines)
    assert nothing_written(target)


def test_a_remote_command_in_the_config_is_one_line_saying_what_to_do(servers: Servers, tmp_path: Path) -> None:
    config = write_config(tmp_path, servers, "  RemoteCommand exec bash -l\n  RequestTTY force")
    url = f"ssh://prod{servers.project.root}"
    code, lines, target = pull_with_config(config, url, tmp_path)
    assert code == 1
    assert lines[-1] == (f"Error: cannot reach {url}: Cannot execute command-line and remote command. The ssh "
                         "configuration of this host sets RemoteCommand, and synco gives its own: add -o "
                         "RemoteCommand=none to the ssh options (SYNCO_SSH_OPTIONS, or ssh_options: in .synco.yml)")
    assert nothing_written(target)
    # What the line says works.
    code, lines, target = pull_with_config(config, url, tmp_path,
                                           SYNCO_SSH_COMMAND=f"ssh -F {config} -o RemoteCommand=none")
    assert code == 0, lines
    assert received(target, servers.project)


def test_askpass_without_a_terminal_gives_no_answer(tmp_path: Path) -> None:
    """ssh takes exit status 1 for "no answer"; nothing is printed that ssh could take for a passphrase."""
    from synco_core.pull import askpass

    script = [sys.executable, "-I", askpass.__file__, "Enter passphrase for key 'k': "]
    for tty in (None, str(tmp_path / "no-such-terminal")):
        env = {k: v for k, v in os.environ.items() if k != askpass.TTY_VARIABLE}
        if tty is not None:
            env[askpass.TTY_VARIABLE] = tty
        result = subprocess.run(script, env=env, capture_output=True, check=False)
        assert (result.returncode, result.stdout) == (1, b"")


def test_a_path_in_another_users_home(servers: Servers, tmp_path: Path) -> None:
    """``~user/path``, as scp and rsync read ``host:~user/path``, was looked for as a folder named "~user"."""
    import pwd

    home = Path(pwd.getpwnam(servers.app.user).pw_dir)
    relative = os.path.relpath(servers.project.root, home)
    config = write_config(tmp_path, servers)
    code, lines, target = pull_with_config(config, f"ssh://prod/~{servers.app.user}/{relative}", tmp_path)
    assert code == 0, lines
    assert received(target, servers.project)


@pytest.fixture(scope="module")
def ipv6_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    import socket

    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError as exc:
        from synco_core.testing.services import unavailable

        unavailable(f"no IPv6 loopback address on this machine: {exc}")
    base = tmp_path_factory.mktemp("sshd6")
    with run_sshd(base / "server", write_plugin(base / "plugin"), listen="::1") as server:
        yield server


def test_an_ipv6_literal_host(ipv6_server: Sshd, servers: Servers, tmp_path: Path) -> None:
    url = f"ssh://{ipv6_server.user}@[::1]:{ipv6_server.port}{servers.project.root}"
    result = run_synco(["pull", url, "--target", "dump", "--all"], ipv6_server.env(), tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert received(tmp_path / "dump", servers.project)
    missing = f"ssh://{ipv6_server.user}@[::1]:{ipv6_server.port}/no/such/app"
    result = run_synco(["pull", missing, "--target", "dump"], ipv6_server.env(), tmp_path, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"Error: the directory /no/such/app does not exist on {missing}"


def test_an_sshd_banner_is_never_the_reason(tmp_path_factory: pytest.TempPathFactory, servers: Servers,
                                            tmp_path: Path) -> None:
    """ssh prints the server's Banner before logging in; its last line ("All activity is logged.") was given as
    why a remote side killed by a signal ended."""
    base = tmp_path_factory.mktemp("banner")
    banner = base / "banner.txt"
    banner.write_text("Authorized access only.\nAll activity is logged.\n")
    with run_sshd(base / "server", write_plugin(base / "plugin"), settings=f"Banner {banner}\n") as server:
        url = server.url(servers.project.root)
        env = server.env(SYNCO_SSH_COMMAND=server.ssh_command.replace("LogLevel=ERROR", "LogLevel=INFO"))
        result = run_synco(["pull", url, "--target", "dump"], dict(env, SYNCO_REMOTE_SYNCO="sh -c 'kill -9 $$'"),
                           tmp_path, timeout=120)
        assert result.returncode == 1
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(f"Error: the remote side on {url} was killed by a signal (ssh names none"), last
        result = run_synco(["pull", url, "--target", "dump", "--all"], env, tmp_path, timeout=120)
        assert result.returncode == 0, result.stderr
        # Unreachable (no key the server takes): the banner's line is not the reason either.
        no_key = env["SYNCO_SSH_COMMAND"].replace(f"-i {server.key}", f"-o IdentitiesOnly=yes -i {base / 'none'}")
        result = run_synco(["pull", url, "--target", "dump"], dict(env, SYNCO_SSH_COMMAND=no_key), tmp_path,
                           timeout=120)
        assert result.returncode == 1
        assert "Permission denied (publickey)." in result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("command", [
    'ssh -F "$SYNCO_TEST_SSH_DIR/ssh config"',
    "ssh -F ~/'ssh config'",
    'SYNCO_TEST_UNUSED=1 ssh -F "$HOME"/ssh\\ config',
], ids=["variable-quoted", "tilde-quoted", "assignment-escaped"])
def test_the_ssh_command_is_run_by_sh_as_git_runs_git_ssh_command(servers: Servers, tmp_path: Path,
                                                                  command: str) -> None:
    """``$VAR``, ``~`` and quotes in SYNCO_SSH_COMMAND were passed to ssh as they were written."""
    home = tmp_path / "home dir"
    home.mkdir()
    written = write_config(tmp_path, servers)
    written.rename(home / "ssh config")
    url = f"ssh://prod{servers.project.root}"
    code, lines, target = pull_with_config(written, url, tmp_path, SYNCO_SSH_COMMAND=command, HOME=str(home),
                                           SYNCO_TEST_SSH_DIR=str(home))
    assert code == 0, lines
    assert received(target, servers.project)


def test_an_ssh_command_that_sh_cannot_find_is_named_as_this_computers(tmp_path: Path) -> None:
    url = "ssh://prod/var/www/app"
    for command in ("$SYNCO_TEST_NO_SUCH/ssh -F x", "synco-no-such-ssh -F x"):
        result = run_synco(["pull", url, "--target", "dump"], {**os.environ, "SYNCO_SSH_COMMAND": command,
                                                               "SYNCO_TEST_NO_SUCH": "/no/such"}, tmp_path)
        assert result.returncode == 1
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("Error: cannot run the ssh command of SYNCO_SSH_COMMAND on this computer: "
                               "SYNCO_SSH_COMMAND: "), last
        assert "not found" in last
        assert not (tmp_path / "dump").exists()
