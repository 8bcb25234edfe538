"""``synco pull``'s limit on a remote side that never greets (``--connect-timeout``, ``SYNCO_CONNECT_TIMEOUT``).

A channel that connects but never speaks hung pull forever. ``tests/shims/stalling-ssh`` behaves like an
ssh that is still connecting or logging in (silent, stdin and stdout open) for as long as asked, then runs
the command as sshd would; a fake remote synco that waits on its input stands for a remote command that
runs but never greets.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pull_support import SHIMS, Project, make_project, remote_environment, row_count, run_synco

from synco_core.errors import ConfigError, TransferError
from synco_core.pull.greeting import GreetingWatch, connect_timeout
from synco_core.pull.remote import Remote
from synco_core.pull.run import PullOptions, pull

STALLING_SSH = str(SHIMS / "stalling-ssh")


@pytest.fixture
def remote_env(tmp_path: Path) -> dict[str, str]:
    return remote_environment(tmp_path, SYNCO_SSH_COMMAND=STALLING_SSH)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "app", public_files=3, rows=20)


def _silent_synco(tmp_path: Path) -> str:
    """A remote "synco" that runs but waits on its input instead of greeting (a login script reading stdin)."""
    fake = tmp_path / "silent-synco"
    fake.write_text("#!/bin/sh\nread anything\n")
    fake.chmod(0o755)
    return str(fake)


def _last_error(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


def test_an_ssh_that_never_logs_in_is_one_line_after_the_limit(remote_env: dict[str, str], project: Project,
                                                              tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_synco(["pull", f"ssh://deploy@prod.example:2222{project.root}", "--connect-timeout", "1",
                        "--target", "out"], remote_env, tmp_path, timeout=60)
    assert time.monotonic() - started < 20
    assert result.returncode == 1
    assert _last_error(result.stderr) == (
        f"Error: no answer from ssh://deploy@prod.example:2222{project.root} within 1s (ssh is still connecting "
        "or logging in, or a login file there (.bashrc, .profile) reads its input or starts another shell); check "
        "that `ssh -p 2222 deploy@prod.example true` returns without a prompt, or raise --connect-timeout or "
        "SYNCO_CONNECT_TIMEOUT if it is just slow")
    assert "Traceback" not in result.stderr
    # ssh itself also gets the limit for the network part.
    calls = [json.loads(line) for line in Path(remote_env["SYNCO_SHIM_LOG"]).read_text().splitlines()]
    assert "ConnectTimeout=1" in calls[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_users_own_connect_timeout_wins_for_ssh(remote_env: dict[str, str], project: Project,
                                                    tmp_path: Path) -> None:
    env = dict(remote_env, SYNCO_SSH_OPTIONS="-o ConnectTimeout=7", SYNCO_CONNECT_TIMEOUT="1")
    result = run_synco(["pull", f"ssh://prod{project.root}", "--target", "out"], env, tmp_path)
    assert result.returncode == 1 and "within 1s" in result.stderr
    argv = json.loads(Path(remote_env["SYNCO_SHIM_LOG"]).read_text().splitlines()[0])
    # ssh keeps the first value it reads: the user's comes first.
    assert argv.index("ConnectTimeout=7") < argv.index("ConnectTimeout=1")


@pytest.mark.parametrize("kind", ["docker", "kubectl", "ssh"])
def test_a_remote_command_that_runs_but_never_greets_is_one_line(remote_env: dict[str, str], project: Project,
                                                                 tmp_path: Path, kind: str) -> None:
    url = {"docker": f"docker://web{project.root}", "kubectl": f"kubectl://ns/pod-1{project.root}",
           "ssh": f"ssh://prod{project.root}"}[kind]
    env = dict(remote_env, SYNCO_REMOTE_SYNCO=_silent_synco(tmp_path), SYNCO_CONNECT_TIMEOUT="1",
               SYNCO_SHIM_SSH_STALL="0")
    started = time.monotonic()
    result = run_synco(["pull", url, "--target", "out"], env, tmp_path)
    assert time.monotonic() - started < 20
    assert result.returncode == 1
    where = {"kubectl": f"kubectl://ns/pod-1{project.root}"}.get(kind, url)
    assert _last_error(result.stderr) == (
        f"Error: the remote command on {where} started but did not greet within 1s (a login script waiting on "
        "input, a hung python or synco there?); run the pull with --debug to see its output, or raise "
        "--connect-timeout or SYNCO_CONNECT_TIMEOUT if it is just slow")


def test_a_slow_login_is_waited_for_when_a_person_may_be_answering(remote_env: dict[str, str], project: Project,
                                                                   tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A prompt or a security key is on the terminal, not the channel: in a terminal the limit only adds a note."""
    for name in ("PATH", "PYTHONPATH", "TMPDIR", "SYNCO_SHIM_LOG"):
        monkeypatch.setenv(name, remote_env[name])
    # The limit leaves the remote synco time to start on a busy test machine once it runs.
    monkeypatch.setenv("SYNCO_SHIM_SSH_STALL", "7")
    remote = Remote(kind="ssh", host="prod", path=str(project.root))
    said: list[str] = []
    options = PullOptions(target=tmp_path / "out", connect_timeout=3, person_can_answer=True)
    result = pull(remote, options, echo=said.append, env=remote_env)
    assert result.summary.ok
    assert row_count(tmp_path / "out" / "dbDump.sqlite") == project.rows
    assert [line for line in said if "still waiting for ssh to log in" in line] == [
        f"  still waiting for ssh to log in to ssh://prod{project.root} after 3s (a prompt or a security key "
        "waiting for you, or a login file there (.bashrc, .profile) reads its input or starts another shell? "
        "Ctrl-C stops)"]
    # Without anyone to answer, the same login is cut at the limit (a shorter one: the cut is what is checked).
    with pytest.raises(TransferError, match=r"no answer from ssh://prod.* within 1s"):
        pull(remote, PullOptions(target=tmp_path / "out2", connect_timeout=1), echo=said.append, env=remote_env)


def test_building_and_sending_the_zipapp_does_not_count(remote_env: dict[str, str], project: Project,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from synco_core.pull.zipapp import build_zipapp

    for name in ("PATH", "PYTHONPATH", "TMPDIR"):
        monkeypatch.setenv(name, remote_env[name])
    archive = build_zipapp()
    # The limit is well above what the remote python takes to start and greet after the upload, even on a
    # machine loaded by a whole test suite (3 s was not); the build alone takes longer than it.
    limit = 10

    def slow_zipapp(cache: Path | None = None, *, bytecode: bool = False) -> Path:
        time.sleep(limit + 1.5)
        return archive

    monkeypatch.setattr("synco_core.pull.zipapp.build_zipapp", slow_zipapp)
    env = dict(remote_env, SYNCO_REMOTE_SYNCO="upload")
    result = pull(Remote(kind="docker", host="web", path=str(project.root)),
                  PullOptions(target=tmp_path / "out", connect_timeout=limit), echo=lambda _line: None, env=env)
    assert result.summary.ok and result.how.startswith("uploaded zipapp")


def test_no_limit_with_zero(remote_env: dict[str, str], project: Project, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PATH", "PYTHONPATH", "TMPDIR", "SYNCO_SHIM_LOG"):
        monkeypatch.setenv(name, remote_env[name])
    monkeypatch.setenv("SYNCO_SHIM_SSH_STALL", "1.5")
    env = dict(remote_env, SYNCO_CONNECT_TIMEOUT="0")
    result = pull(Remote(kind="ssh", host="prod", path=str(project.root)), PullOptions(target=tmp_path / "out"),
                  echo=lambda _line: None, env=env)
    assert result.summary.ok
    assert not any("ConnectTimeout" in word for word in json.loads(
        Path(remote_env["SYNCO_SHIM_LOG"]).read_text().splitlines()[0]))


@pytest.mark.parametrize("raw", ["soon", "-1", "inf", "nan", "1e30"])
def test_a_bad_setting_is_one_line(raw: str) -> None:
    with pytest.raises(ConfigError, match=rf"^SYNCO_CONNECT_TIMEOUT should be a number of seconds \(0: no limit\), "
                                          rf"from 0 to 604800, not '{raw}'$"):
        connect_timeout(None, {"SYNCO_CONNECT_TIMEOUT": raw})
    assert connect_timeout(5, {"SYNCO_CONNECT_TIMEOUT": raw}) == 5


def test_the_watch_never_fires_while_paused_and_restarts_after() -> None:
    fired = threading.Event()
    fired_at: list[float] = []

    def fire() -> None:
        fired_at.append(time.monotonic())
        fired.set()

    with GreetingWatch(0.3, Remote(kind="docker", host="web"), fire, person_can_answer=False) as watch:
        watch.command_running()
        watch.pause()
        assert not fired.wait(0.8)
        resumed = time.monotonic()
        watch.resume()
        assert fired.wait(30)
    # A whole limit after the resume, not at once for the deadline passed while paused. A lower bound on the
    # clock, which a loaded machine can only lengthen (a "not within 0.15 s" wait begun late saw it fire).
    assert fired_at[0] - resumed >= 0.3, fired_at[0] - resumed
    assert watch.message is not None and "started but did not greet within 0.3s" in watch.message


def test_the_note_waits_for_a_question_on_the_terminal_and_is_not_lost(tmp_path: Path) -> None:
    """The note went into the middle of ssh's question; now it waits until none has been there for the limit."""
    from synco_core.pull.askpass import PROMPT_LOCK
    from synco_core.pull.prompts import NOTE_RETRY_SECONDS, TerminalPrompts

    lock = tmp_path / PROMPT_LOCK
    lock.touch()
    shown: list[str] = []
    gate = TerminalPrompts({}, lock)
    # A question is on the terminal (its askpass program holds the lock): not now, and again soon.
    held = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert gate.show_note("note", 5.0, shown.append) == NOTE_RETRY_SECONDS
    finally:
        os.close(held)
    # Just answered: the rest of the quiet time first.
    os.utime(lock)
    assert 4.0 < gate.show_note("note", 5.0, shown.append) <= 5.0
    assert shown == []
    # Quiet for long enough.
    past = time.time() - 6
    os.utime(lock, (past, past))
    assert gate.show_note("note", 5.0, shown.append) == 0.0
    assert shown == ["note"]

    class Gate:
        calls = 0

        def show_note(self, line: str, quiet_for: float, show: Callable[[str], None]) -> float:
            self.calls += 1
            if self.calls < 3:
                return 0.2
            show(line)
            return 0.0

    said: list[str] = []
    fired = threading.Event()
    with GreetingWatch(0.3, Remote(kind="ssh", host="h"), fired.set, person_can_answer=True, note=said.append,
                       terminal=Gate()):
        deadline = time.monotonic() + 10
        while not said and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(said) == 1 and "still waiting for ssh to log in" in said[0]
    assert not fired.is_set()
