"""Two synco processes at once in one project, or into one receive folder: the second refuses in one line.

Without a lock the second install would take the first one's journal for a killed install's and undo the
first while it runs, or both would swap the same database and folders in turn. The first process here is
a real ``synco install`` (or ``synco db rollback``) waiting at its question in a terminal, that is, in the
middle of its work; the second is started then and must stop with exit 1 and one ``Error:`` line naming the
other process, before it changes anything, and the first then goes on unharmed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from synco_forks import run_synco
from test_receive_support import PtyProcess

from synco_core.testing.services import require_module

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "laravel-app"
SYNCO = [sys.executable, "-m", "synco_core"]
QUESTION = "Replace this local content?"


def synco(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``synco`` in a process of its own, forked from a helper that has imported it already (synco_forks.py)."""
    return run_synco(list(args), env=os.environ, cwd=cwd, timeout=120)


def refused(proc: subprocess.CompletedProcess[str]) -> str:
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert proc.returncode == 1 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return errors[0]


def fingerprint(project: Path) -> dict[str, str]:
    """Every file of the project (the lock file aside) with a digest of its content."""
    return {str(path.relative_to(project)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(project.rglob("*")) if path.is_file() and not path.name.endswith(".lock")}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    yield from served_session(tmp_path_factory)


def served_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """(session id, key, base URL) of a session ``synco serve --listen`` publishes from the example app."""
    require_module("synco_laravel", "these tests install into the Laravel example: nox -s tests")
    server = tmp_path_factory.mktemp("server") / "app"
    shutil.copytree(EXAMPLE, server, symlinks=True)
    serving = subprocess.Popen([*SYNCO, "serve", "--listen", "127.0.0.1:0", "--ttl", "10"], cwd=server,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        assert serving.stdout is not None
        for line in serving.stdout:
            if line.strip().startswith("synco receive "):
                words = line.split()
                yield words[2], words[3], words[words.index("--base-url") + 1]
                break
        else:
            pytest.fail(f"serve printed no receive command: {serving.stderr.read() if serving.stderr else ''}")
    finally:
        os.killpg(serving.pid, signal.SIGTERM)
        serving.wait(timeout=30)


@pytest.fixture
def laptop(tmp_path: Path, session: tuple[str, str, str]) -> Path:
    """A copy of the example with the session received into ``dump`` (not installed)."""
    project = tmp_path / "laptop"
    shutil.copytree(EXAMPLE, project, symlinks=True)
    name, key, url = session
    received = synco("receive", name, key, "--base-url", url, "--all", cwd=project)
    assert received.returncode == 0, received.stderr
    return project


def waiting_install(project: Path, *args: str) -> PtyProcess:
    """``synco ARGS`` in a terminal, stopped at its question with its project lock held."""
    first = PtyProcess([*SYNCO, *args], cwd=project)
    first.expect(QUESTION)
    return first


@pytest.mark.parametrize("second", [["install", "--yes"], ["db", "rollback", "--yes"]],
                         ids=["install", "rollback"])
def test_second_install_refuses_while_the_first_runs(laptop: Path, second: list[str]) -> None:
    synco("install", "--yes", cwd=laptop)  # so that there is something to roll back
    before = fingerprint(laptop)
    first = waiting_install(laptop, "install")
    try:
        line = refused(synco(*second, cwd=laptop))
        # Its command, never its arguments (a receive's key, a database URL's password would be there).
        assert f"(process {first.proc.pid}: synco install) is installing into {laptop.resolve()}" in line, line
        assert (laptop / ".synco-install.lock").read_text().splitlines()[2] == "synco install"
        assert fingerprint(laptop) == before
        first.send("y\r")
        assert first.wait() == 0, first.output
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
            first.wait()
    assert "Installed database" in first.output
    # Released with the first process, and its file gone: the next install runs.
    assert not (laptop / ".synco-install.lock").exists()
    assert synco("install", "--yes", cwd=laptop).returncode == 0


def test_receive_install_refuses_before_downloading_while_an_install_runs(
        laptop: Path, session: tuple[str, str, str]) -> None:
    name, key, url = session
    before = fingerprint(laptop)
    first = waiting_install(laptop, "install")
    try:
        line = refused(synco("receive", name, key, "--base-url", url, "--all", "--target", "dump2", "--install",
                             "--yes", cwd=laptop))
        assert "is installing into" in line, line
        assert not (laptop / "dump2").exists()
        assert fingerprint(laptop) == before
        first.send("n\r")
        first.wait()
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
            first.wait()
    assert fingerprint(laptop) == before
    assert not (laptop / ".synco-install.lock").exists()


HOLD = """
import socket
import sys
from pathlib import Path
from synco_core import folderlock
if len(sys.argv) > 2:
    socket.gethostname = lambda: sys.argv[2]  # a synco on another host sharing the folder (NFS)
folderlock.acquire(Path(sys.argv[1]), folderlock.RECEIVE_LOCK, "using")
print("held", flush=True)
sys.stdin.read()
"""


def test_second_receive_into_one_folder_refuses(laptop: Path, session: tuple[str, str, str]) -> None:
    """A receive holds its target: another process that holds it (as a running receive does) stops this one."""
    name, key, url = session
    before = fingerprint(laptop)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(laptop / "dump")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        line = refused(synco("receive", name, key, "--base-url", url, "--all", "--delete", cwd=laptop))
        assert f"(process {holder.pid}) is using {(laptop / 'dump').resolve()}" in line, line
        assert fingerprint(laptop) == before
    finally:
        holder.kill()
        holder.wait()
    assert synco("receive", name, key, "--base-url", url, "--all", cwd=laptop).returncode == 0
    assert not (laptop / "dump" / ".synco-receive.lock").exists()


def test_install_refuses_while_a_receive_writes_its_folder(laptop: Path) -> None:
    """``synco install`` of the folder a receive is still writing would install half of the new session."""
    before = fingerprint(laptop)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(laptop / "dump")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        line = refused(synco("install", "--yes", cwd=laptop))
        assert f"(process {holder.pid}) is using {(laptop / 'dump').resolve()}" in line, line
        assert fingerprint(laptop) == before and not (laptop / ".synco-install.lock").exists()
    finally:
        holder.kill()
        holder.wait()
    # Held from another host, the pid names a process there: the line says which host.
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(laptop / "dump"), "nfs-peer"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        line = refused(synco("install", "--yes", cwd=laptop))
        assert f"(process {holder.pid} on host nfs-peer) is using {(laptop / 'dump').resolve()}" in line, line
        assert fingerprint(laptop) == before and not (laptop / ".synco-install.lock").exists()
    finally:
        holder.kill()
        holder.wait()
    assert synco("install", "--yes", cwd=laptop).returncode == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGXCPU],
                         ids=["SIGTERM", "SIGHUP", "SIGXCPU"])
@pytest.mark.parametrize("command", ["install", "receive-install"])
def test_terminated_at_the_question_cleans_up_and_says_so(laptop: Path, session: tuple[str, str, str],
                                                          signum: int, command: str) -> None:
    """SIGTERM (kill, a service manager) or SIGHUP (the terminal closed) stops like Ctrl-C: one line, the
    project as it was, no lock or journal left behind, and the next run works."""
    name, key, url = session
    args = ["install"] if command == "install" else ["receive", name, key, "--base-url", url, "--all", "--install"]
    def project() -> dict[str, str]:
        # The receive folder holds what arrived (a receive stopped later keeps it, to resume); the rest is the
        # local project the install must leave alone.
        return {path: digest for path, digest in fingerprint(laptop).items() if not path.startswith("dump/")}

    before = project()
    first = waiting_install(laptop, *args)
    for _ in range(10):
        os.kill(first.proc.pid, signum)
        # A signal that lands after Python's last check and before its read() of the terminal stays pending
        # until the next one (CPython's own race, Ctrl-C's too): repeated, as a user or a service manager would.
        with contextlib.suppress(subprocess.TimeoutExpired):
            first.proc.wait(timeout=5)
            break
    code = first.wait()
    assert code == 128 + signum, first.output
    errors = [line.strip() for line in first.output.splitlines() if line.startswith("Error:")]
    meaning = ": its CPU time limit (ulimit -t) ran out" if signum == signal.SIGXCPU else ""
    reason = signal.Signals(signum).name + meaning
    assert errors == [f"Error: stopped by {reason}"], first.output
    assert "Traceback" not in first.output
    assert project() == before
    assert not list(laptop.glob(".synco-install*")) and not (laptop / "dump" / ".synco-receive.lock").exists()
    again = synco(*args, "--yes", cwd=laptop)
    assert again.returncode == 0, again.stderr
