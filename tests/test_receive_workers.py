"""Packed files taken out of their packs by worker processes (``synco_core.receive.workers``).

Workers start only for many packed files (``MIN_FILES``); these tests lower that threshold and split packs
into small tasks, so a set of a few hundred files goes through several workers and tasks. They check the
exact tree for a first sync (staging folder) and an update in place, that the tasks of a worker dying
halfway are done by the receive itself, that the pack keys never reach a command line or
an environment, and that a stop ends workers that hang.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_transfer_support import FixturePlugin, make_app, publish, static_server, tree_digest

from synco_core import workerframes
from synco_core.cli.main import cli
from synco_core.receive import public, workers

SESSION = "synco-workerstest01234567"
FILES = 300


@pytest.fixture
def app(tmp_path: Path, register_plugin: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    register_plugin(FixturePlugin(), "fixture")
    root = make_app(tmp_path / "app", files=3)
    uploads = root / "web" / "uploads"
    for number in range(FILES):
        path = uploads / f"d{number // 40}" / f"f{number:04d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(50 + number % 700))
    monkeypatch.setattr(workers, "MIN_FILES", 1)
    monkeypatch.setattr(public, "PACK_TASK_FILES", 25)
    monkeypatch.setattr(workerframes, "usable_cores", lambda: 2)
    return root


def expected(app: Path) -> dict[str, str]:
    digests = tree_digest(app / "web" / "uploads")
    del digests["skip.tmp"]
    return digests


def receive(url: str, key: Any, target: Path, *extra: str) -> Any:
    return CliRunner().invoke(cli, ["--debug", "receive", SESSION, key.secret, "--base-url", url, "--target",
                                    str(target), "--all", *extra])


def test_workers_take_the_packed_files_of_a_first_sync_and_of_an_update(app: Path, tmp_path: Path) -> None:
    key = publish(app, SESSION, only=("uploads",))
    first, update = tmp_path / "first", tmp_path / "update"
    (update / "uploads").mkdir(parents=True)
    with static_server(app / "web") as (url, behaviour):
        for target in (first, update):
            done = receive(url, key, target)
            assert done.exit_code == 0, done.output
            assert "2 worker process(es) take the packed files" in done.output
            assert tree_digest(target / "uploads") == expected(app)
    assert not list(first.rglob("*.synco-part")) and not list(update.rglob("*.synco-part"))
    assert not [path for path in behaviour.requests if re.fullmatch(r"/uploads/d\d+/f\d+\.txt", path)], \
        "every small file came out of a pack"


FAKE_WORKER = """
import sys
sys.path.insert(0, {src!r})
from synco_core.workerframes import read_frame
stdin = sys.stdin.buffer
read_frame(stdin)  # the header
read_frame(stdin)  # one task, never answered
sys.exit(3)
"""


def test_the_tasks_of_a_worker_that_dies_are_done_by_the_receive_itself(
        app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = publish(app, SESSION, only=("uploads",))
    target = tmp_path / "t"
    src = str(Path(workers.__file__).parents[2])
    monkeypatch.setattr(workers, "worker_command",
                        lambda: [sys.executable, "-c", FAKE_WORKER.format(src=src)])
    with static_server(app / "web") as (url, _behaviour):
        done = receive(url, key, target)
    assert done.exit_code == 0, done.output
    assert "a worker process ended (exit status 3) before" in done.output
    assert tree_digest(target / "uploads") == expected(app)


def test_pack_keys_go_down_the_pipe_never_onto_a_command_line_or_into_the_environment(
        app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = publish(app, SESSION, only=("uploads",))
    # The key as a user gives it to keep it off the command line: the workers get it, before, with the rest
    # of the environment.
    monkeypatch.setenv("SYNCO_KEY", key.secret)
    started: list[tuple[list[str], dict[str, str]]] = []
    real = subprocess.Popen

    def recording(args: list[str], **kwargs: Any) -> Any:
        started.append((list(args), dict(kwargs.get("env") or os.environ)))
        return real(args, **kwargs)

    monkeypatch.setattr(workers.subprocess, "Popen", recording)
    header: list[Any] = []
    real_write = workers.write_frame

    def spy(out: Any, value: Any) -> None:
        if isinstance(value, dict):
            header.append(value)
        real_write(out, value)

    monkeypatch.setattr(workers, "write_frame", spy)
    with static_server(app / "web") as (url, _behaviour):
        done = receive(url, key, tmp_path / "t")
    assert done.exit_code == 0, done.output
    assert len(started) == 2 and header
    secrets = [pack["payloadKey"] for pack in header[0]["packs"]] + [key.secret]
    for args, env in started:
        shown = " ".join(args) + " ".join(f"{name}={value}" for name, value in env.items())
        assert not [secret for secret in secrets if secret in shown]
    assert not [secret for secret in secrets if secret in done.output]


def test_a_stop_ends_workers_that_hang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker stuck in a request: the stopped receive does not wait for it beyond the grace period."""
    from synco_core.receive.directory import DirectoryTransport
    from synco_core.receive.packfetch import PackSource
    from synco_core.wire import PackInfo

    monkeypatch.setattr(workers, "worker_command", lambda: [sys.executable, "-c", "import time; time.sleep(60)"])
    monkeypatch.setattr(workers, "STOP_GRACE", 0.5)
    table = [PackInfo("p.enc", 10, 100, 20, bytes(32), 1)]
    stop = threading.Event()
    pool = workers.PackWorkers(2, DirectoryTransport(tmp_path), PackSource("s", lambda: table), staged=True,
                               jobs=8, on_outcome=lambda _outcome: None, stop=stop)
    processes = [worker.process for worker in pool._workers]
    started = time.monotonic()
    stop.set()
    pool.close(kill=True)
    # The workers sleep for a minute: only killing them ends close() sooner.
    assert time.monotonic() - started < 20
    assert all(process.poll() is not None for process in processes)


def test_frames_round_trip_and_a_frame_cut_short_ends_the_stream() -> None:
    buffer = io.BytesIO()
    workers.write_frame(buffer, ("task", 1, 2, [("a", "/x/a", 3, 4, "u", False, None, "h", 0, 5)]))
    workers.write_frame(buffer, {"packs": [], "staged": True})
    data = buffer.getvalue()
    stream = io.BytesIO(data)
    assert workers.read_frame(stream) == ("task", 1, 2, [("a", "/x/a", 3, 4, "u", False, None, "h", 0, 5)])
    assert workers.read_frame(stream) == {"packs": [], "staged": True}
    with pytest.raises(EOFError):
        workers.read_frame(stream)
    cut = io.BytesIO(data[:-3])
    workers.read_frame(cut)
    with pytest.raises(EOFError):
        workers.read_frame(cut)


RECEIVE_WITH_WORKERS = """
import sys
from synco_core.receive import workers
workers.MIN_FILES = 1
from synco_core.cli.main import main
sys.argv = ["synco", *sys.argv[1:]]
main()
"""


def _worker_processes(group: int) -> list[int]:
    """Processes of process group ``group`` running a synco worker."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[2]) == group and b"synco_core.receive.worker" in command:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_ctrl_c_ends_the_receive_and_its_workers_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a terminal, Ctrl-C reaches the whole process group: the receive and its workers end within a
    second, the set's folder does not exist yet, and the next receive completes the tree."""
    import signal
    import time

    from synco_core.testing.services import nginx

    site = tmp_path / "site"
    files = site / "public" / "files"
    for number in range(400):
        path = files / f"d{number // 100}" / f"f{number:04d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(3000 + number))
    with nginx(site / "public", tmp_path / "nginx", limit_rate="100k") as server:
        (site / ".synco.yml").write_text(
            "serve:\n  web_root: public\n  file_sets:\n    - name: files\n      path: public/files\n"
            f"      public: true\nhosts: [{server.url}]\n")
        served = subprocess.run([sys.executable, "-m", "synco_core", "serve", "--keep", "--all"], cwd=site,
                                capture_output=True, text=True, timeout=120)
        assert served.returncode == 0, served.stdout + served.stderr
        line = next(line.split() for line in served.stdout.splitlines() if line.strip().startswith("synco receive"))
        target = tmp_path / "dump"
        argv = [*line[1:], "--target", str(target), "--all"]
        process = subprocess.Popen([sys.executable, "-c", RECEIVE_WITH_WORKERS, *argv], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)
        staging = target / ".files.synco-new"
        deadline = time.monotonic() + 60
        while not (staging.is_dir() and any(path.is_file() for path in staging.rglob("*"))):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no file arrived within a minute"
            time.sleep(0.02)
        assert _worker_processes(process.pid), "worker processes take the packed files"
        sent = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=30)
        # Wide, for a loaded machine: that the receive stopped rather than finished is the folder not made.
        assert time.monotonic() - sent < 10, output
        assert process.returncode == 130 and "Traceback" not in output, output
        assert not _worker_processes(process.pid), "no worker outlives the receive"
        assert not (target / "files").exists(), "the set's folder appears only once complete"

    # The rest at full speed, from the same files: the slow rate was only there to catch the receive at work.
    with nginx(site / "public", tmp_path / "nginx-fast") as fast:
        again = [fast.url if arg == server.url else arg for arg in argv]
        assert again != argv, "the receive command names the server"
        finished = subprocess.run([sys.executable, "-m", "synco_core", *again], stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=120)
        assert finished.returncode == 0, finished.stdout + finished.stderr
    assert tree_digest(target / "files") == tree_digest(files)
