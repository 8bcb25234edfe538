"""``synco pull`` over a real sshd into an account of its own, set up as hosting accounts are in the wild.

A throw-away user (its own HOME, bash as login shell) whose ``~/.bashrc``, which bash reads for every command
sshd runs, sets what the host would: a limit on processes, a login script that reads its input or starts
another shell, a shell killed outright. Each pull ends in one line that says what happened there, and never
takes ssh's status 255 for a failure to connect when ssh had logged in.

Root only (creating the account, and a limit on processes that root is not held to); the remote side runs the
uploaded zipapp with the system's python3, since the one running the tests may not be readable by the account.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from pull_support import Project, Sshd, make_project, run_sshd, run_synco, write_plugin

from synco_core.pull.tempdir import NO_TEMP_FOLDER
from synco_core.testing.services import needs_tool, require_tool, unavailable, unique_name

pytestmark = [needs_tool("sshd", "openssh-server"), needs_tool("ssh", "openssh-client"),
              needs_tool("ssh-keygen", "openssh-client"), needs_tool("useradd", "passwd"),
              needs_tool("userdel", "passwd")]


@dataclass
class Account:
    """A user that sshd logs in, its HOME, and the application in it."""

    name: str
    home: Path
    project: Project
    sshd: Sshd

    @property
    def url(self) -> str:
        return f"ssh://{self.name}@127.0.0.1:{self.sshd.port}{self.project.root}"

    def bashrc(self, text: str) -> None:
        # The account's own temporary folder first, so that what a pull leaves there can be looked at.
        (self.home / ".bashrc").write_text(f"export TMPDIR={self.home / 'tmp'}\n{text}\n")

    def leftovers(self) -> list[str]:
        return sorted(p.name for p in (self.home / "tmp").iterdir())

    def pull(self, tmp_path: Path, *extra: str) -> tuple[int, list[str]]:
        local = tmp_path / "laptop"
        local.mkdir(exist_ok=True)
        env = self.sshd.env(SYNCO_REMOTE_SYNCO="upload")
        result = run_synco(["pull", self.url, "--target", "dump", *extra], env, local, timeout=120)
        return result.returncode, result.stderr.strip().splitlines()


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, gid)


@contextlib.contextmanager
def _account(wrapper: Sequence[str] = ()) -> Iterator[Account]:
    """A new account and an sshd (started through ``wrapper``) that logs it in; both gone afterwards."""
    if os.geteuid() != 0:
        unavailable("creating a user account for sshd to log in needs root")
    # Not under pytest's temporary folder, which only root may enter: the account reads its HOME and sshd reads
    # the authorized keys as that user.
    base = Path(tempfile.mkdtemp(prefix="synco-test-account-", dir="/tmp"))
    name = unique_name(os.environ.get("SYNCO_TEST_NAME_PREFIX", "synco_test"))[:32]
    home = base / "home"
    created = False
    try:
        base.chmod(0o755)
        home.mkdir(mode=0o755)
        (home / "tmp").mkdir()
        plugin = write_plugin(home / "plugin")
        project = make_project(home / "app", public_files=3)
        # "-p *": no password, but not a locked account, which sshd refuses even a key for.
        subprocess.run(["useradd", "-M", "-d", str(home), "-s", "/bin/bash", "-p", "*", name], check=True,
                       capture_output=True)
        created = True
        entry = pwd.getpwnam(name)
        _chown_tree(home, entry.pw_uid, entry.pw_gid)
        with run_sshd(base / "server", plugin, wrapper) as sshd:
            (base / "server").chmod(0o755)
            (base / "server" / "authorized_keys").chmod(0o644)
            yield Account(name=name, home=home, project=project, sshd=sshd)
    finally:
        if created:
            # -f: a session sshd has not finished closing would otherwise keep the account.
            subprocess.run(["userdel", "-f", name], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    with _account() as made:
        yield made


@pytest.fixture
def bashrc(account: Account) -> Iterator[Account]:
    yield account
    account.bashrc("")
    for leftover in (account.home / "tmp").iterdir():
        with contextlib.suppress(OSError):
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()


def test_a_plain_account_pulls(bashrc: Account, tmp_path: Path) -> None:
    # What real rc files do: talk on stdout and stderr, set the terminal there is none of, exec another shell
    # for people only.
    bashrc.bashrc("echo 'Welcome to the host'; echo 'Last deploy: today' >&2; stty -echo; "
                  "case $- in *i*) exec /bin/sh;; esac")
    code, lines = bashrc.pull(tmp_path)
    assert code == 0, lines
    assert (tmp_path / "laptop" / "dump" / "dbDump.sqlite").is_file()
    assert bashrc.leftovers() == []


@pytest.mark.parametrize("limit", [1, 2])
def test_a_limit_on_processes_is_named(bashrc: Account, tmp_path: Path, limit: int) -> None:
    bashrc.bashrc(f"ulimit -u {limit}")
    code, lines = bashrc.pull(tmp_path)
    assert code == 1
    assert lines[-1].startswith(f"Error: cannot start a process on {bashrc.url}: "), lines
    assert "(ulimit -u)" in lines[-1]


@pytest.mark.parametrize("signal_name", ["KILL", "SEGV", "TERM"])
def test_a_remote_shell_killed_by_a_signal_is_not_a_failure_to_connect(bashrc: Account, tmp_path: Path,
                                                                       signal_name: str) -> None:
    # ssh exits 255 for it, as for a refused connection, and says nothing.
    bashrc.bashrc(f"kill -{signal_name} $$")
    code, lines = bashrc.pull(tmp_path)
    assert code == 1
    assert lines[-1].startswith(f"Error: the remote side on {bashrc.url} was killed by a signal"), lines
    assert "cannot reach" not in lines[-1]


def test_the_remote_side_killed_after_it_started_is_not_a_failure_to_connect(bashrc: Account,
                                                                             tmp_path: Path) -> None:
    # A CPU time limit: the launch script runs, the uploaded synco is killed while it starts (SIGXCPU, then
    # SIGKILL at the hard limit), and sshd reports no exit status. The remote synco spends CPU time from its
    # start (a sitecustomize of the account's): a pull of this small project sometimes ended within 1 s of CPU.
    spender = bashrc.home / "spend"
    spender.mkdir()
    (spender / "sitecustomize.py").write_text(
        "import sys, threading\n"
        "if '_channel' in sys.argv:\n"
        "    threading.Thread(target=lambda: [0 for _ in iter(int, 1)], daemon=True).start()\n")
    os.chmod(spender, 0o755)
    os.chmod(spender / "sitecustomize.py", 0o644)
    bashrc.bashrc(f"ulimit -t 1; export PYTHONDONTWRITEBYTECODE=1 PYTHONPATH={spender}")
    code, lines = bashrc.pull(tmp_path)
    assert code == 1
    assert "cannot reach" not in lines[-1], lines
    assert lines[-1].startswith("Error: "), lines


@pytest.mark.parametrize("login", ["read line", "cat >/dev/null", "head -c 1 >/dev/null", "exec /bin/sh"],
                         ids=["read", "cat", "head", "exec-shell"])
def test_a_login_file_waiting_on_the_channel_is_one_line_naming_it(bashrc: Account, tmp_path: Path,
                                                                   login: str) -> None:
    # bash runs ~/.bashrc before the command: what it reads (or the shell it execs, which reads its commands
    # from there) is the channel's input, which stays empty until the command speaks. Every tool over ssh
    # (scp, rsync, git) hangs the same way; pull cannot get past it, but says where to look.
    bashrc.bashrc(login)
    code, lines = bashrc.pull(tmp_path, "--connect-timeout", "3")
    assert code == 1
    assert lines[-1].startswith(f"Error: no answer from {bashrc.url} within 3s"), lines
    assert "a login file there (.bashrc, .profile) reads its input or starts another shell" in lines[-1]
    assert bashrc.leftovers() == []


@pytest.mark.parametrize("kib", [20000, 60000])
def test_a_limit_on_memory_is_named_and_not_taken_for_one_on_processes(bashrc: Account, tmp_path: Path,
                                                                       kib: int) -> None:
    # 20 MB: the python there fails while importing, before synco can word it; 60 MB: synco runs, and its
    # first thread's stack (8 MiB) does not fit, which pthread_create says as it says the limit on processes.
    bashrc.bashrc(f"ulimit -v {kib}")
    code, lines = bashrc.pull(tmp_path)
    assert code == 1
    assert "ulimit -v" in lines[-1] and "ulimit -u" not in lines[-1], lines
    assert bashrc.leftovers() == []


def _own_mounts(*commands: str) -> list[str]:
    """An sshd wrapper giving its sessions a mount namespace of their own, changed by ``commands``."""
    unshare = require_tool("unshare", "util-linux")
    require_tool("mount", "mount")
    probe = subprocess.run([unshare, "-m", "--propagation", "private", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        unavailable(f"cannot make a mount namespace here: {probe.stderr.strip()}")
    script = " && ".join([*commands, 'exec "$@"'])
    return [unshare, "-m", "--propagation", "private", "sh", "-c", script, "sh"]


def _bound(folder: str, options: str) -> list[str]:
    """The commands that mount ``folder`` on itself with ``options`` (its content stays, its rules change)."""
    return [f"mount --bind {folder} {folder}", f"mount -o remount,bind,{options} {folder}"]


def test_a_noexec_tmp_is_no_obstacle(tmp_path: Path) -> None:
    # The uploaded zipapp is read by python (runpy), never executed from /tmp.
    with _account(_own_mounts(*_bound("/tmp", "noexec"))) as account:
        account.bashrc("unset TMPDIR")
        code, lines = account.pull(tmp_path)
        assert code == 0, lines
        assert "uploaded zipapp" in "\n".join(lines)
        assert not _uploads_of(account.name)


def _uploads_of(user: str) -> list[Path]:
    """The ``synco-upload-*`` files in /tmp that ``user`` owns: /tmp is shared with the pulls of the tests
    running beside this one (other xdist workers), whose uploads are there while they run."""
    uid = pwd.getpwnam(user).pw_uid
    found = []
    for path in Path("/tmp").glob("synco-upload-*"):
        with contextlib.suppress(FileNotFoundError):  # another pull's, removed since
            if path.lstat().st_uid == uid:
                found.append(path)
    return found


def test_no_writable_temporary_folder_at_all_is_one_line(tmp_path: Path) -> None:
    # /tmp and /var/tmp read-only, TMPDIR missing, and the application directory read-only as well (it is
    # under /tmp here): nothing at all to write the zipapp to.
    with _account(_own_mounts(*_bound("/tmp", "ro"), *_bound("/var/tmp", "ro"))) as account:
        account.bashrc("export TMPDIR=/nonexistent/synco-test")
        code, lines = account.pull(tmp_path)
        assert code == 1
        assert lines[-1] == f"Error: {NO_TEMP_FOLDER}", lines
        # Given one that works, it does.
        account.bashrc("export TMPDIR=/dev/shm")
        code, lines = account.pull(tmp_path)
        assert code == 0, lines
