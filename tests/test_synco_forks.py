"""The tests' way of stopping a process at a step sends the signal to its main thread, not to any thread.

A process stopped at a step (``SYNCO_DEBUG_STOP_AT``) and sent SIGTERM with ``kill`` takes it, on SIGCONT,
in whichever of its threads runs first; a worker thread taking it lets the main thread run on past the step
before Python's handler raises (a CI failure of ``test_install_killed_while_held``: the stop landed in the
database's swap). ``signal_main_thread`` makes it the main thread's own pending signal, which the kernel
shows apart from the process's shared ones (``SigPnd`` of the thread, ``ShdPnd`` of the process).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from synco_forks import run_synco, signal_main_thread

#: Blocks SIGTERM (so it stays pending, to be seen), starts a thread (inheriting the mask), says so, waits.
HOLDER = """
import signal, sys, threading, time
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
print("ready", flush=True)
time.sleep(60)
"""


def _pending(status: Path, field: str) -> int:
    for line in status.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no {field} in {status}")


def test_the_signal_is_the_main_threads_own() -> None:
    process = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        signal_main_thread(process.pid, signal.SIGTERM)
        bit = 1 << (signal.SIGTERM - 1)
        deadline = time.monotonic() + 10
        while not _pending(Path(f"/proc/{process.pid}/task/{process.pid}/status"), "SigPnd") & bit:
            assert time.monotonic() < deadline, "SIGTERM is not pending for the main thread"
            time.sleep(0.01)
        assert not _pending(Path(f"/proc/{process.pid}/status"), "ShdPnd") & bit, "sent to the whole process"
    finally:
        process.kill()
        process.wait()


#: Blocks SIGTERM in both its threads, stops itself, and says (once let go on) where SIGTERM is pending.
STOPS_ITSELF = """
import os, signal, threading, time
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
os.kill(os.getpid(), signal.SIGSTOP)
fields = {}
for status in (f"/proc/self/task/{os.getpid()}/status", "/proc/self/status"):
    for line in open(status):
        name, _, value = line.partition(":")
        fields.setdefault(name, int(value.split()[0], 16) if name in ("SigPnd", "ShdPnd") else 0)
bit = 1 << (signal.SIGTERM - 1)
print(bool(fields["SigPnd"] & bit), bool(fields["ShdPnd"] & bit))
"""


def test_the_fork_helper_sends_what_a_test_asks_for_to_the_main_thread() -> None:
    forked = run_synco([], env={}, script=STOPS_ITSELF, when_stopped=(signal.SIGTERM,), timeout=60)
    assert forked.stopped
    assert forked.stdout == "True False\n", forked.stderr
