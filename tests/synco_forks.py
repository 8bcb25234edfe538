"""Run ``synco`` commands as real processes of their own, forked from one that has imported synco already.

The crash tests kill ``synco db load`` / ``synco install`` / ``synco db rollback`` with SIGKILL at each named
step and then run the recovery, hundreds of commands in all. Started as ``python -m synco_core``, each paid
about half a CPU-second for the interpreter and the imports of the core and of every plugin, most of those
files' cost. Here a helper process imports all of that once (it never runs a command, opens no connection
and starts no thread, so it is safe to fork) and forks a child per command: the child is a process of its
own, with its own pid, standard streams, environment, working folder and connections, that runs
``synco_core.cli.main.main`` as ``python -m synco_core`` would and ends the way that would (its exit status,
or killed by the signal that killed it). What a kill leaves behind is therefore exactly what it leaves when
the command was started afresh; only the imports were done before the fork.

``python -m synco_core`` itself (its start, the re-exec in UTF-8 mode) is what the other end-to-end tests
run, and the crash files keep one case each through it.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The helper: reads one JSON request a line on stdin, answers each with one line (the child's pid, then its
#: exit status as subprocess reports it: negative for a signal).
_SERVER = r"""
import ctypes, gc, importlib, json, os, signal, sys, traceback
from importlib.metadata import entry_points

from synco_core.cli.main import main
from synco_core.plugins import DEFAULT_PLUGINS, PROJECT

# What a command would import on its first steps, imported once here (failures are the child's to report).
for _, module_name in DEFAULT_PLUGINS:
    try:
        importlib.import_module(module_name)
    except Exception:
        pass
for ep in entry_points(group=PROJECT):
    try:
        ep.load()
    except Exception:
        pass

# The children share the imported objects' pages: kept out of the collector's sweeps, which would write
# to (and so copy) every one of them in each child.
gc.freeze()
requests, answers = sys.stdin.buffer, sys.stdout.buffer
control = (0, 1)
libc = ctypes.CDLL(None, use_errno=True)


def child(request):
    stdin = os.open(os.devnull, os.O_RDONLY)
    stdout = os.open(request["stdout"], os.O_WRONLY)
    stderr = os.open(request["stderr"], os.O_WRONLY)
    for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    if request["cwd"] is not None:
        os.chdir(request["cwd"])
    if request["script"] is None:
        sys.argv = ["synco", *request["args"]]
        main()
    else:
        # As python -c SCRIPT ARGS... runs it.
        sys.argv = ["-c", *request["args"]]
        exec(compile(request["script"], "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})


for line in requests:
    request = json.loads(line)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            child(request)
        except SystemExit:
            raise
        except BaseException:
            traceback.print_exc()
            sys.exit(1)
        sys.exit(0)
    answers.write(json.dumps({"pid": pid}).encode() + b"\n")
    answers.flush()
    stopped = False
    while True:
        _, status = os.waitpid(pid, os.WUNTRACED if request["when_stopped"] else 0)
        if not os.WIFSTOPPED(status):
            break
        # Stopped by itself at a step (SYNCO_DEBUG_STOP_AT): sent what the test asked for, then let go on.
        stopped = True
        for signum in request["when_stopped"]:
            # To the child's main thread (see signal_main_thread), where the stop is.
            if libc.tgkill(pid, pid, signum) != 0:
                os.kill(pid, signum)
        os.kill(pid, signal.SIGCONT)
    answer = {"status": os.waitstatus_to_exitcode(status), "stopped": stopped}
    answers.write(json.dumps(answer).encode() + b"\n")
    answers.flush()
"""


class _Server:
    def __init__(self) -> None:
        # The environment the imports see is the test process's; each command gets the one it is given.
        self.process = subprocess.Popen([sys.executable, "-c", _SERVER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=None, env=dict(os.environ), bufsize=0)
        self.lock = threading.Lock()

    def answer(self, deadline: float | None) -> dict[str, int]:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            raise TimeoutError
        # Unbuffered: a line read ahead into a buffer would not wake select() when it is wanted.
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the synco fork helper ended (exit {self.process.wait()})")
        answer: dict[str, int] = json.loads(line)
        return answer

    def run(self, request: Mapping[str, Any], timeout: float) -> Forked:
        assert self.process.stdin is not None
        with self.lock, tempfile.TemporaryDirectory(prefix="synco-fork-") as folder:
            out, err = Path(folder, "stdout"), Path(folder, "stderr")
            out.touch()
            err.touch()
            request = {**request, "stdout": str(out), "stderr": str(err)}
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
            pid = self.answer(None)["pid"]
            deadline = time.monotonic() + timeout
            try:
                answer = self.answer(deadline)
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                self.answer(None)
                raise subprocess.TimeoutExpired(request["args"], timeout, out.read_text(), err.read_text()) from None
            return Forked(request["args"], answer["status"], out.read_text(errors="replace"),
                          err.read_text(errors="replace"), stopped=bool(answer["stopped"]))

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def signal_main_thread(pid: int, signum: int) -> None:
    """Send ``signum`` to the main thread of process ``pid``, stopped by itself at a step (SYNCO_DEBUG_STOP_AT).

    Sent to the process (``kill``), the signal waits while it is stopped, and on SIGCONT whichever of its threads
    runs first takes it: a worker thread's C handler may then set Python's flag only after the main thread
    (which alone raises KeyboardInterrupt) has gone on past the step, into the next one (the swap of the
    database, which gives up the kept copy the test expects to find). Sent to the main thread (``tgkill``), it
    is that thread's own pending signal, taken as it leaves the stop: the stop lands at the step, always.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.tgkill(pid, pid, signum) != 0:
        raise OSError(ctypes.get_errno(), f"tgkill({pid}, {signum})")


class Forked(subprocess.CompletedProcess[str]):
    """What ``subprocess.run(..., capture_output=True, text=True)`` gives, and whether the process stopped itself."""

    def __init__(self, args: list[str], returncode: int, stdout: str, stderr: str, *, stopped: bool) -> None:
        super().__init__(args, returncode, stdout, stderr)
        self.stopped = stopped


_server: _Server | None = None


def run_synco(args: list[str], *, env: Mapping[str, str], cwd: Path | None = None, script: str | None = None,
              when_stopped: tuple[int, ...] = (), timeout: float = 180) -> Forked:
    """``subprocess.run(["synco", *args], capture_output=True, text=True, stdin=DEVNULL, env=env, cwd=cwd)``, in a
    process forked from the warm helper (started on first use, ended with the test process).

    With ``script``, the child runs ``python -c script *args`` instead. With ``when_stopped``, a child that stops
    itself (SIGSTOP) is sent those signals, then SIGCONT; ``stopped`` says whether it did.
    """
    global _server
    if _server is None or _server.process.poll() is not None:
        _server = _Server()
        atexit.register(_server.close)
    request = {"args": list(args), "env": dict(env), "cwd": None if cwd is None else str(cwd), "script": script,
               "when_stopped": [int(signum) for signum in when_stopped]}
    return _server.run(request, timeout)
