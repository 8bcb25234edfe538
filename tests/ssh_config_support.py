"""An agency's ssh setup for the ``synco pull`` tests: an application host and a bastion (real sshd servers on
127.0.0.1), and a client configuration file of the test's (``ssh -F FILE``, which ssh reads as it reads
``~/.ssh/config``) with the Host aliases ``prod`` and ``bastion``."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pull_support import Project, Sshd, make_project, run_sshd, run_synco, write_plugin

#: The passphrase of the keys :func:`passphrase_key` makes (a space and a non-ASCII letter in it).
PASSPHRASE = "sesame-Öl 123"


@dataclass
class Servers:
    """The application's host and a bastion in front of it."""

    app: Sshd
    bastion: Sshd
    project: Project


@contextlib.contextmanager
def ssh_servers(base: Path) -> Iterator[Servers]:
    """The two servers, with their own keys and configurations in ``base``, and the project on ``prod``."""
    plugin_dir = write_plugin(base / "plugin")
    project = make_project(base / "app dir ü", public_files=3, rows=20)
    with run_sshd(base / "app", plugin_dir) as app, run_sshd(base / "bastion", plugin_dir) as bastion:
        yield Servers(app=app, bastion=bastion, project=project)


def host_key(server: Sshd) -> str:
    return " ".join((server.key.parent / "host_ed25519.pub").read_text().split()[:2])


def known_hosts(path: Path, *servers: Sshd) -> Path:
    path.write_text("".join(f"[127.0.0.1]:{server.port} {host_key(server)}\n" for server in servers))
    return path


def write_config(tmp_path: Path, servers: Servers, prod: str = "", known: tuple[Sshd, ...] | None = None,
                 bastion: str = "") -> Path:
    """An ssh config with the Host aliases ``prod`` (the application's host, ``prod`` lines added) and ``bastion``
    (``bastion`` lines added); ``known``: the servers the known hosts file knows (default both)."""
    hosts = known_hosts(tmp_path / "known_hosts", *(known if known is not None else (servers.app, servers.bastion)))
    config = tmp_path / "ssh_config"
    user = servers.app.user
    config.write_text(
        f"Host prod\n  HostName 127.0.0.1\n  Port {servers.app.port}\n  User {user}\n"
        f"  IdentityFile {servers.app.key}\n  IdentitiesOnly yes\n{prod}\n"
        f"Host bastion\n  HostName 127.0.0.1\n  Port {servers.bastion.port}\n  User {user}\n"
        f"  IdentityFile {servers.bastion.key}\n  IdentitiesOnly yes\n{bastion}\n"
        f"Host *\n  UserKnownHostsFile {hosts}\n  GlobalKnownHostsFile /dev/null\n"
    )
    return config


def pull_with_config(config: Path, url: str, tmp_path: Path, *extra: str,
                     **env: str) -> tuple[int, list[str], Path]:
    """``synco pull URL --target dump --all`` in ``tmp_path/laptop`` with ``ssh -F config`` and no ssh-agent;
    the exit status, the lines of stderr, and the target folder."""
    local = tmp_path / "laptop"
    local.mkdir(exist_ok=True)
    environ = {**os.environ, "SYNCO_SSH_COMMAND": f"ssh -F {shlex.quote(str(config))}", **env}
    # No agent of the machine's: the keys are the config's.
    for name in ("SYNCO_SSH_OPTIONS", "SSH_AUTH_SOCK"):
        if name not in env:
            environ.pop(name, None)
    result = run_synco(["pull", url, "--target", "dump", "--all", *extra], environ, local, timeout=120)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stderr.strip().splitlines(), local / "dump"


def received(target: Path, project: Project) -> bool:
    uploads = target / "uploads"
    got = {p.relative_to(uploads).as_posix(): p.read_bytes() for p in uploads.rglob("*") if p.is_file()}
    return got == project.public_files()


def nothing_written(target: Path) -> bool:
    return not target.exists() or not any(p.is_file() for p in target.rglob("*"))


def passphrase_key(tmp_path: Path, server: Sshd, name: str = "protected_key") -> Path:
    """The server's client key, copied and protected by :data:`PASSPHRASE`."""
    key = tmp_path / name
    shutil.copyfile(server.key, key)
    key.chmod(0o600)
    subprocess.run(["ssh-keygen", "-q", "-p", "-P", "", "-N", PASSPHRASE, "-f", str(key)], check=True,
                   capture_output=True)
    return key


def terminal_environment(config: Path, temp: Path) -> dict[str, str]:
    """The environment of a pull run in a terminal with ``ssh -F config``: no agent, no desktop askpass, this
    run's own temporary folder (where the askpass wrapper goes)."""
    env = dict(os.environ, SYNCO_SSH_COMMAND=f"ssh -F {shlex.quote(str(config))}", TMPDIR=str(temp), TERM="dumb")
    for name in ("SYNCO_SSH_OPTIONS", "SSH_AUTH_SOCK", "SSH_ASKPASS", "DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(name, None)
    return env
