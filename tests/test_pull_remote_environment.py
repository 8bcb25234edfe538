"""``synco pull`` from server accounts whose environment is set up for people, not for programs.

Shared hosting, containers and locked-down VMs give the remote side whatever the account's rc files and the
image set: Python variables meant for an interactive prompt, a ``PYTHONHOME`` left from an older install.
The remote side runs through the docker shim (tests/shims/docker), which gives the command the container's
environment (``SYNCO_SHIM_CONTAINER_ENV``); each case runs both ways synco starts there: the remote's own
synco (the one on PATH), and the uploaded zipapp. A pull either works or ends in one line naming the cause on the
server, and leaves nothing in the remote temporary folder.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest
from pull_support import Project, make_project, remote_environment, row_count, run_synco, tree_digest

from synco_core.testing.services import unavailable

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


@pytest.mark.parametrize("how", ["installed", "upload"])
@pytest.mark.parametrize(("limits", "cause"), [
    # ulimit -n 256 and -v 512 MiB, as shared hosting sets them: the pull works within them.
    ({"NOFILE": 256, "AS": 512 << 20}, None),
    # ulimit -t, whose hard end (where ulimit -t puts both ends) is SIGKILL: every process there is killed at
    # once. docker exec ended with 137 and nothing on stderr: the laptop said "exited with status 137", or
    # "cannot run python: it printed nothing".
    ({"CPU": 0}, "killed (SIGKILL: out of memory, the hard end of a CPU time limit (ulimit -t)"),
], ids=["nofile-as", "cpu-hard"])
def test_pull_under_the_accounts_resource_limits(tmp_path: Path, project: Project, how: str,
                                                 limits: dict[str, object], cause: str | None) -> None:
    env = remote_environment(tmp_path, SYNCO_SHIM_CONTAINER_LIMITS=json.dumps(limits))
    if how == "upload":
        env["SYNCO_REMOTE_SYNCO"] = "upload"
    result = run_synco(["pull", f"docker://web{project.root}", "--target", "out"], env, tmp_path)
    if cause is None:
        assert result.returncode == 0, result.stderr
        assert row_count(tmp_path / "out" / "dbDump.sqlite") == project.rows
    else:
        assert result.returncode == 1
        last = result.stderr.strip().splitlines()[-1]
        assert f"docker://web{project.root}" in last and cause in last, last
    assert list(Path(env["TMPDIR"]).iterdir()) == []


#: A python of a host under ``ulimit -t 0``, whose kernel kills each process at its first clock tick: most are
#: killed before they print, one now and then gets its version out (the script that prints the version, not the
#: version check, which prints the bytecode magic number).
_TICK_KILLED_PYTHON = """#!/bin/sh
case "$*" in *"sys.version_info[:2]"*) [ -n "$LUCKY" ] && exec {python} "$@";; esac
kill -9 $$
"""


@pytest.mark.parametrize("how", ["installed", "upload"])
@pytest.mark.parametrize("lucky", ["version-printed", "cut-killed"])
def test_pull_whose_python_is_killed_at_its_first_tick_names_the_kill(tmp_path: Path, project: Project, how: str,
                                                                      lucky: str) -> None:
    """Under the docker shim, a container whose pythons die as under ``ulimit -t 0`` on a loaded host.

    In CI (the cpu-hard case above) the laptop said "cannot run python3: it printed nothing" (the subshell that
    cut the text to one line was killed too) or could have said "python3 >= 3.10 missing (found 3.11)" (the
    version check was killed, the python asked for its version was not).
    """
    bin_dir = tmp_path / "container-bin"
    bin_dir.mkdir()
    (bin_dir / "sh").symlink_to("/bin/sh")
    python = bin_dir / "python3"
    python.write_text(_TICK_KILLED_PYTHON.format(python=shutil.which("python3") or "/usr/bin/python3"))
    cut = bin_dir / "cut"
    cut.write_text("#!/bin/sh\nkill -9 $$\n")
    for tool in (python, cut):
        tool.chmod(0o755)
    container_env: dict[str, str | None] = {"LUCKY": "1" if lucky == "version-printed" else None}
    env = remote_environment(tmp_path, SYNCO_SHIM_CONTAINER_PATH=str(bin_dir),
                             SYNCO_SHIM_CONTAINER_ENV=json.dumps(container_env))
    env.pop("SYNCO_REMOTE_PYTHON", None)
    if how == "upload":
        env["SYNCO_REMOTE_SYNCO"] = "upload"
    result = run_synco(["pull", f"docker://web{project.root}", "--target", "out"], env, tmp_path)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "cannot run python3 on docker://web" in last and "killed (SIGKILL: " in last, last
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


#: Run by the remote synco's channel process only: spends CPU time until its soft limit (1 s) ends it. In sums
#: that hold the GIL for tens of milliseconds each, so that the channel's own work runs a few times slower than
#: the CPU time adds up: the limit comes while the channel is at work, on a quiet machine as on a loaded one,
#: and not after a quick channel (its bytecode compiled) has finished.
SPENDER = """\
import resource, sys, threading
if "_channel" in sys.argv:
    resource.setrlimit(resource.RLIMIT_CPU, (1, 60))
    def spend():
        while True:
            sum(range(1_000_000))
    threading.Thread(target=spend, daemon=True).start()
"""


@pytest.mark.parametrize("how", ["installed", "upload"])
def test_pull_whose_remote_side_runs_out_of_cpu_time_names_it(tmp_path: Path, project: Project, how: str) -> None:
    """The soft end of a CPU time limit (SIGXCPU), wherever the remote side is when it comes."""
    # A limit makes the shim wait for the command and end as docker exec does (128 + the signal).
    env = remote_environment(tmp_path, SYNCO_SHIM_CONTAINER_LIMITS=json.dumps({"CORE": 0}))
    (Path(env["PYTHONPATH"]) / "sitecustomize.py").write_text(SPENDER)
    if how == "upload":
        env["SYNCO_REMOTE_SYNCO"] = "upload"
    result = run_synco(["pull", f"docker://web{project.root}", "--target", "out"], env, tmp_path)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    # Caught where the remote side can (it removes its session folder, and says so), killed where it cannot.
    assert "SIGXCPU: its CPU time limit (ulimit -t) ran out" in last, last
    assert list(Path(env["TMPDIR"]).iterdir()) == []


class _LimitAtEveryWrite(io.BytesIO):
    """The channel's output, where the soft CPU limit comes at each write: the first mid-frame, the next ones
    while the stop is being handled (SIGXCPU comes again at each further second of CPU)."""

    def write(self, data: Any) -> int:
        os.kill(os.getpid(), signal.SIGXCPU)
        return super().write(data)


def test_a_channel_stopped_by_its_cpu_limit_cleans_up_and_says_so_by_its_exit_status() -> None:
    """A frame cut by SIGXCPU leaves the client only the exit status to name the limit by (128 + SIGXCPU, as
    docker exec and a shell report it); the signals that follow the first do not cut the clean-up short."""
    from synco_core.pull.source import run_channel_server

    kept = {signum: signal.getsignal(signum)
            for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGXCPU)}
    try:
        status = run_channel_server(io.BytesIO(), _LimitAtEveryWrite())
    finally:
        for signum, handler in kept.items():
            signal.signal(signum, handler)
    assert status == 128 + signal.SIGXCPU


@pytest.mark.parametrize(("code", "said"), [
    (152, "SIGXCPU: its CPU time limit (ulimit -t) ran out"), (137, "SIGKILL: out of memory"),
    (153, "SIGXFSZ: its file size limit (ulimit -f)"), (139, "SIGSEGV: it crashed"), (128 + 10, "SIGUSR1"),
])
def test_a_remote_side_killed_by_a_signal_is_named_whatever_stderr_said(code: int, said: str) -> None:
    from synco_core.pull.bootstrap import explain_exit
    from synco_core.pull.remote import parse_remote_url

    remote = parse_remote_url("kubectl://shop/web-0/var/www", lambda: set())
    line = explain_exit(code, f"command terminated with exit code {code}", remote)
    assert line.startswith("the remote side on kubectl://shop/web-0/var/www was killed (") and said in line
    assert explain_exit(1, "Error: the database refused", remote) == "the database refused"
    assert explain_exit(128, "", remote).endswith("exited with status 128")


def test_pull_from_a_container_run_as_an_arbitrary_uid_without_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """OpenShift runs images as a random uid with no passwd entry, no HOME, USER or LOGNAME: ``getpass.getuser()``
    and ``~`` cannot be resolved there, and the cache folder is not where a user's would be."""
    if os.geteuid() != 0:
        unavailable("running the remote side as another uid needs root")
    system_python = shutil.which("python3", path="/usr/bin:/bin")
    if system_python is None:
        unavailable("no python3 in /usr/bin that another uid may run")
    # Not under pytest's own folders (0700, root's): the other uid must reach the project and its TMPDIR.
    base = tmp_path_factory.mktemp("uid")
    root = Path(os.path.realpath("/tmp")) / f"synco-h-uid-{base.name}"
    root.mkdir(mode=0o755)
    try:
        project = make_project(root / "app", public_files=3, rows=20)
        env = remote_environment(root, SYNCO_SHIM_CONTAINER_UID="54321", SYNCO_REMOTE_SYNCO="upload",
                                 SYNCO_REMOTE_PYTHON=system_python, SYNCO_SHIM_CONTAINER_ENV=json.dumps(
                                     {"HOME": None, "USER": None, "LOGNAME": None, "XDG_CACHE_HOME": None}))
        for path in [root, *root.rglob("*")]:
            path.chmod(0o777 if path.is_dir() else 0o666)
        # Sticky, as /tmp: a temporary folder anyone may rearrange, or one inside such a folder, is refused
        # (test_remote_temp_folder.py).
        Path(env["TMPDIR"]).chmod(0o1777)
        root.chmod(0o1777)
        result = run_synco(["pull", f"docker://web{project.root}", "--target", str(base / "out")], env, base)
        assert result.returncode == 0, result.stderr
        assert row_count(base / "out" / "dbDump.sqlite") == project.rows
        assert tree_digest(base / "out" / "private") == tree_digest(project.root / "storage")
        assert list(Path(env["TMPDIR"]).iterdir()) == []
    finally:
        shutil.rmtree(root)


def test_pull_whose_remote_side_reaches_the_accounts_process_limit_names_it(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """``ulimit -u`` counts threads too: the remote side said "RuntimeError: can't start new thread"."""
    if os.geteuid() != 0:
        unavailable("a limit on processes binds only another uid than root's")
    system_python = shutil.which("python3", path="/usr/bin:/bin")
    if system_python is None:
        unavailable("no python3 in /usr/bin that another uid may run")
    base = tmp_path_factory.mktemp("nproc")
    root = Path(os.path.realpath("/tmp")) / f"synco-h-nproc-{base.name}"
    root.mkdir(mode=0o755)
    try:
        project = make_project(root / "app", public_files=3, rows=20)
        env = remote_environment(root, SYNCO_SHIM_CONTAINER_UID="54322", SYNCO_REMOTE_SYNCO="upload",
                                 SYNCO_REMOTE_PYTHON=system_python,
                                 SYNCO_SHIM_CONTAINER_LIMITS=json.dumps({"NPROC": 3}))
        for path in [root, *root.rglob("*")]:
            path.chmod(0o777 if path.is_dir() else 0o666)
        # Sticky, as /tmp: a temporary folder anyone may rearrange, or one inside such a folder, is refused
        # (test_remote_temp_folder.py).
        Path(env["TMPDIR"]).chmod(0o1777)
        root.chmod(0o1777)
        result = run_synco(["pull", f"docker://web{project.root}", "--target", str(base / "out")], env, base)
        assert result.returncode == 1
        last = result.stderr.strip().splitlines()[-1]
        assert last == ("Error: cannot start a thread: this account's limit on processes and threads (3) is reached "
                        "(ulimit -u), or the system's"), last
        assert list(Path(env["TMPDIR"]).iterdir()) == []
    finally:
        shutil.rmtree(root)


@pytest.mark.parametrize("said", [
    "sh: 1: Cannot fork", "bash: fork: retry: Resource temporarily unavailable",
    "-bash: fork: Resource temporarily unavailable", "sh: can't fork: Resource temporarily unavailable",
    "zsh: fork failed: resource temporarily unavailable", "bash: fork: retry: No child processes",
], ids=["dash", "bash-retry", "bash", "busybox", "zsh", "bash-no-child"])
@pytest.mark.parametrize("code", [2, 1, 126, 254, 255])
def test_a_remote_shell_that_cannot_fork_names_the_limit_on_processes(said: str, code: int) -> None:
    from synco_core.pull.bootstrap import explain_exit
    from synco_core.pull.remote import parse_remote_url

    for url in ("ssh://deploy@prod.example/srv/app", "docker://web/srv/app"):
        line = explain_exit(code, said, parse_remote_url(url))
        assert line == (f"cannot start a process on {url}: the account's limit on processes and threads there is "
                        f"reached (ulimit -u), or the system's ({said})")


@pytest.mark.parametrize("said", ["MemoryError", "OSError: [Errno 12] Cannot allocate memory: '/usr/lib/python3/email'",
                                  "sh: 1: Cannot allocate memory"])
def test_a_remote_side_out_of_memory_before_synco_could_say_names_the_limit(said: str) -> None:
    from synco_core.pull.bootstrap import explain_exit
    from synco_core.pull.remote import parse_remote_url

    line = explain_exit(1, said, parse_remote_url("ssh://prod.example/srv/app"))
    assert line.startswith("out of memory on ssh://prod.example/srv/app: the account's limit on a process's memory "
                           "there is reached (ulimit -v)"), line


def test_ssh_status_255_is_a_failure_to_connect_only_when_ssh_said_so_before_the_command_ran() -> None:
    from synco_core.pull.bootstrap import explain_exit
    from synco_core.pull.remote import parse_remote_url

    remote = parse_remote_url("ssh://prod.example/srv/app")
    refused = "ssh: connect to host prod.example port 22: Connection refused"
    assert explain_exit(255, refused, remote) == f"cannot reach ssh://prod.example/srv/app: {refused}"
    # Logged in (the launch script spoke), then the connection went: not "cannot reach".
    reset = "Connection to prod.example closed by remote host."
    assert explain_exit(255, reset, remote, started=True) == (
        f"the ssh connection to ssh://prod.example/srv/app ended: {reset}")
    # ssh says nothing at all when the remote command died of a signal, before or after it spoke.
    for started in (False, True):
        assert explain_exit(255, "", remote, started=started).startswith(
            "the remote side on ssh://prod.example/srv/app was killed by a signal (ssh names none")
