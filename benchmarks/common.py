"""Shared helpers for the benchmark scripts: timing with medians, peak memory, ratio tables.

A benchmark measures synco and a reference tool doing the same work, several times each, and prints
medians side by side with the ratio synco / reference (below 1.0 means synco is faster). Peak memory is
the largest resident set of the measured process tree, sampled every 20 ms from /proc.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(__file__).parent / ".data"

#: The database benchmarks' shared dataset (issues 5 and 6 measure the same one): per size, the number of
#: mixed "order" rows and of 4 KiB random blobs. ``full`` is the issues' size, about 1.2 GB of SQL.
DATASET_SIZES = {"small": (100_000, 2_500), "medium": (500_000, 12_500), "full": (2_000_000, 50_000)}
BLOB_SIZE = 4096


@dataclass
class Measurement:
    label: str
    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    #: CPU seconds (user + system) of the command's process, where measured: steadier than the wall time
    #: on a machine shared with other work.
    cpu_seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")


def _tree_rss_kb(root_pid: int) -> int:
    """Resident memory (KiB) of ``root_pid`` and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ppid = int(fields[1])
            rss[int(entry)] = int(fields[21]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def machine_cpu_seconds() -> float:
    """CPU seconds (user, nice, system, irq, softirq) every core of the machine has spent since boot.

    The difference around a run counts both ends of a transfer, the web server or sshd included, which a
    command's own ``rusage`` never sees; it only means something on a machine doing nothing else.
    """
    with open("/proc/stat") as fh:
        fields = fh.readline().split()
    user, nice, system, _idle, _iowait, irq, softirq = (int(value) for value in fields[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


#: CPU seconds (user + system) of the last command run_capture ran, for callers that want them.
last_cpu_seconds = 0.0



def task_cpu_seconds(task: int) -> float | None:
    """Seconds the process or thread ``task`` has spent on a core (``/proc/<task>/schedstat``), None once gone."""
    try:
        with open(f"/proc/{task}/schedstat") as fh:
            return int(fh.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def record_tasks(list_tasks: Callable[[], Sequence[int]], stop: threading.Event,
                 seen: dict[int, list[float]]) -> None:
    """Every 10 ms until ``stop`` is set: for each server process or thread ``list_tasks`` names, its first
    reading (its baseline: a pooled thread carries what it did before) and its last, into ``seen``."""
    while not stop.is_set():
        for task in list_tasks():
            now = task_cpu_seconds(int(task))
            if now is not None:
                seen.setdefault(int(task), [now, now])[1] = now
        time.sleep(0.01)


def recorded_cpu_seconds(seen: dict[int, list[float]]) -> float:
    """The CPU seconds the tasks of :func:`record_tasks` spent since their first reading."""
    total = 0.0
    for task, (first, last) in seen.items():
        final = task_cpu_seconds(task)
        total += (final if final is not None and final >= last else last) - first
    return total


@dataclass
class ServerUsage:
    """What one case of a client/server benchmark cost over its runs: the client's CPU (its process tree), the
    server's CPU (:func:`recorded_cpu_seconds`), the clock, and the client's peak memory."""

    label: str
    client: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    peak_mb: float = 0.0

    def total(self) -> list[float]:
        """Client plus server CPU of each run."""
        return [c + s for c, s in zip(self.client, self.server, strict=True)]

def run_command(argv: Sequence[str] | str, *, shell: bool = False, env: dict[str, str] | None = None,
                cwd: Path | None = None) -> tuple[float, float]:
    """Run a command to completion; return (seconds, peak RSS MB of its process tree)."""
    seconds, peak, _output = run_capture(argv, shell=shell, env=env, cwd=cwd, capture=False)
    return seconds, peak


def run_capture(argv: Sequence[str] | str, *, shell: bool = False, env: dict[str, str] | None = None,
                cwd: Path | None = None, capture: bool = True) -> tuple[float, float, str]:
    """Run a command to completion; return (seconds, peak RSS MB of its process tree, its standard output).

    The peak is the larger of the sampled tree (children included) and the kernel's own high-water mark of
    the command's process (``wait4``), which a short command can reach between two samples.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(argv, shell=shell, env=env, cwd=cwd,
                            stdout=subprocess.PIPE if capture else subprocess.DEVNULL)
    chunks: list[bytes] = []
    reader = None
    if capture:
        assert proc.stdout is not None
        stream = proc.stdout
        reader = threading.Thread(target=lambda: chunks.append(stream.read()), daemon=True)
        reader.start()
    peak = 0
    status = None
    while status is None:
        peak = max(peak, _tree_rss_kb(proc.pid))
        pid, code, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status = os.waitstatus_to_exitcode(code)
            # ru_maxrss is in KiB on Linux. A child started by vfork (as subprocess does) shares this
            # process's memory until its exec, and the kernel carries that memory's high-water mark over
            # the exec: a mark no higher than this process's own may be ours, not the command's (every
            # row of the small-files case read 192 MB, the benchmark's own size), so only the samples
            # count then.
            if usage.ru_maxrss > resource.getrusage(resource.RUSAGE_SELF).ru_maxrss:
                peak = max(peak, usage.ru_maxrss)
            global last_cpu_seconds
            last_cpu_seconds = usage.ru_utime + usage.ru_stime
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    proc.returncode = status
    if reader is not None:
        reader.join()
    if status != 0:
        raise RuntimeError(f"benchmark command failed ({status}): {argv}")
    return elapsed, peak / 1024, b"".join(chunks).decode(errors="replace")


def run_callable(fn: Callable[[], object]) -> tuple[float, float]:
    """Run ``fn`` in this process; return (seconds, peak RSS MB of this process during the call)."""
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kb(os.getpid()))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        fn()
    finally:
        elapsed = time.perf_counter() - start
        done.set()
        sampler.join()
    return elapsed, peak / 1024


@dataclass
class Case:
    """One command to time: an argv list, a shell string, or a callable, with what to do before each run."""

    label: str
    work: Sequence[str] | str | Callable[[], object]
    setup: Callable[[], object] | None = None
    env: dict[str, str] | None = None
    cwd: Path | None = None
    shell: bool | None = None

    def run_once(self, result: Measurement) -> None:
        if self.setup is not None:
            self.setup()
        if callable(self.work):
            seconds, peak = run_callable(self.work)
        else:
            use_shell = isinstance(self.work, str) if self.shell is None else self.shell
            seconds, peak = run_command(self.work, shell=use_shell, env=self.env, cwd=self.cwd)
            result.cpu_seconds.append(last_cpu_seconds)
        result.seconds.append(seconds)
        result.peak_rss_mb = max(result.peak_rss_mb, peak)
        print(f"  {self.label}: {seconds:.2f}s, peak {peak:.0f} MB", file=sys.stderr)


def measure(label: str, work: Sequence[str] | str | Callable[[], object], repeat: int = 3, *,
            shell: bool | None = None, setup: Callable[[], object] | None = None,
            env: dict[str, str] | None = None, cwd: Path | None = None) -> Measurement:
    """Time ``work`` (an argv list, a shell string, or a callable) ``repeat`` times after ``setup`` each time."""
    return measure_interleaved([Case(label, work, setup, env, cwd, shell)], repeat)[0]


def measure_interleaved(cases: Sequence[Case], repeat: int = 3) -> list[Measurement]:
    """Time each case ``repeat`` times, taking turns (A B A B ...), so that a machine that gets slower or
    faster during the benchmark (other work on a shared host) weighs on every case alike."""
    results = [Measurement(case.label) for case in cases]
    for _ in range(repeat):
        for case, result in zip(cases, results, strict=True):
            case.run_once(result)
    return results


def print_table(title: str, rows: Sequence[tuple[str, Measurement, Measurement]]) -> None:
    """Print (case, synco, reference) rows as medians with the synco / reference ratio."""
    print(f"\n{title}")
    width = max([34, *(len(case) for case, _synco, _reference in rows)])
    header = f"{'case':<{width}} {'synco s':>9} {'ref s':>9} {'ratio':>7} {'synco MB':>9} {'ref MB':>8}  reference"
    print(header)
    print("-" * len(header))
    for case, synco, reference in rows:
        ratio = synco.median / reference.median if reference.median else float("nan")
        print(f"{case:<{width}} {synco.median:>9.2f} {reference.median:>9.2f} {ratio:>7.2f} "
              f"{synco.peak_rss_mb:>9.0f} {reference.peak_rss_mb:>8.0f}  {reference.label}")


class Trash:
    """Where a benchmark parks the trees of earlier runs instead of deleting them between runs.

    Deleting ten thousand files makes the file system discard their blocks in the background (this
    machine's root is mounted with ``discard``), and the next run, whichever tool it is, pays for it.
    Parked trees are deleted once, at the end (:meth:`empty`); :meth:`settle` flushes what the setup
    wrote, so each timed run starts from a quiet disk.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def park(self, path: Path) -> None:
        if path.exists() or path.is_symlink():
            self.folder.mkdir(parents=True, exist_ok=True)
            self.count += 1
            path.rename(self.folder / f"{self.count:05d}-{path.name}")

    @staticmethod
    def settle() -> None:
        os.sync()
        time.sleep(1.0)

    def empty(self) -> None:
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


def have(tool: str) -> bool:
    from shutil import which

    return which(tool) is not None


def plain_size(artifact: Path, key_file: Path) -> int:
    """Bytes of plain text inside a ``zstd | age`` artifact of the reference pipelines (decrypted by the
    ``age`` CLI, counted without writing it anywhere)."""
    pipeline = f"age -d -i {key_file} {artifact} | zstd -d -q -c | wc -c"
    return int(subprocess.run(pipeline, shell=True, check=True, capture_output=True, text=True).stdout)
