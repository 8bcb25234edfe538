"""Benchmark: where a 1 % re-sync of many small files spends its CPU, process by process, and what running
its serve and its receive at once could save.

    python3 benchmarks/bench_resync_processes.py [--files 100000] [--repeat 6]

The tree of ``bench_transfer.py --case small-files`` (``--files`` files of 200-500 bytes, kept in ``--dir``,
by default ``benchmarks/.data/resync_processes/``, between runs) is served (``synco serve --keep``, the
benchmark's serve helper) in two states 1 % apart, X and Y, and received once. Each round then turns the
tree to the other state and measures two ways, in turns:

- **one after the other**: a serve of the tree (a 1 % re-serve: the hash cache holds the other state),
  then a receive of the session of the other state into the copy (a 1 % re-sync: the full comparison);
- **at once**: the same serve and the same receive started together. Nothing couples them, so this is the
  best a session received while serve writes it could do on this machine (option (a) of issue 16).

For each, the CPU seconds (user + system) of the serve process (and of it before it handed the rest of the
set to its walk worker), of the walk worker, of the receive process and of its index worker, and the wall
time of the pair. The wall times mean something only on a quiet machine; the CPU seconds everywhere.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from common import DATA_DIR  # noqa: E402

ROOT = DATA_DIR / "resync_processes"
#: What each measured process reports, in this order.
COLUMNS = ("wall", "serve", "head", "walker", "receive", "index worker")


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def serve_child(out: Path) -> None:
    """``synco serve --keep`` of the project in the current folder; its CPU seconds (its own, before the
    handover, its children's: the walk worker) written to ``out`` at exit."""
    import atexit

    import bench_transfer

    from synco_core.serve import walkprocess

    handover: list[float] = []
    rows = walkprocess.WalkWorker.rows

    def timed_rows(self: walkprocess.WalkWorker, header: dict[str, Any]) -> Any:
        handover.append(time.process_time())
        return rows(self, header)

    walkprocess.WalkWorker.rows = timed_rows  # type: ignore[method-assign]

    def report() -> None:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        out.write_text(json.dumps({"serve": _cpu(own), "head": handover[0] if handover else _cpu(own),
                                   "walker": _cpu(children)}))

    atexit.register(report)
    bench_transfer.serve_helper(["--keep", "--ttl", "600"])


def receive_child(web: Path, session: str, key: str, target: Path, out: Path) -> None:
    """Receive ``session`` from the web root ``web`` into ``target`` (a folder transport, ``--jobs 8``)."""
    from synco_core.plugins import build_plugin_manager, set_plugin_manager
    from synco_core.receive import ReceiveOptions, receive_session
    from synco_core.receive.directory import DirectoryTransport

    set_plugin_manager(build_plugin_manager(load_entrypoints=False))
    summary = receive_session(DirectoryTransport(web), session, key,
                              ReceiveOptions(target=target, all=True, only=("files",)))
    if not summary.ok:
        raise SystemExit(f"receive failed: {[(s.name, s.status, s.detail) for s in summary.sets]}")
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    out.write_text(json.dumps({"receive": _cpu(own), "index worker": _cpu(children)}))


def _start_serve(project: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, "--serve-child", str(out)], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _served(process: subprocess.Popen[str]) -> tuple[str, str]:
    output = process.communicate()[0]
    found = re.search(r"synco receive (\S+) (\S+)", output)
    if process.returncode != 0 or found is None:
        raise SystemExit(f"serve failed:\n{output}")
    return found.group(1), found.group(2)


def _start_receive(project: Path, session: tuple[str, str], target: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, "--receive-child", str(project / "web"), *session, str(target),
                             str(out)], text=True)


def _received(process: subprocess.Popen[str]) -> None:
    if process.wait() != 0:
        raise SystemExit("receive failed")


def _remove_session(project: Path, session: tuple[str, str]) -> None:
    name = session[0] if session[0].startswith("synco-") else f"synco-{session[0]}"
    shutil.rmtree(project / "web" / name, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=6)
    parser.add_argument("--dir", type=Path, default=ROOT, help="where the tree and the copy are kept")
    parser.add_argument("--serve-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--receive-child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_child:
        serve_child(args.serve_child)
        return
    if args.receive_child:
        web, session, key, target, out = args.receive_child
        receive_child(Path(web), session, key, Path(target), Path(out))
        return
    import bench_transfer

    project = args.dir / "project"
    root = bench_transfer.generate_small(project, args.files)
    rng = random.Random(16)
    changed = [bench_transfer.small_file_path(root, number)
               for number in rng.sample(range(args.files), max(1, args.files // 100))]
    states = [{path: path.read_bytes() for path in changed},
              {path: rng.randbytes(rng.randint(200, 500)) for path in changed}]

    def turn_to(state: int) -> None:
        for path, content in states[state].items():
            path.write_bytes(content)

    serve_out, receive_out, target = args.dir / "serve.json", args.dir / "receive.json", args.dir / "received"
    sessions = []
    for state in (0, 1):
        turn_to(state)
        sessions.append(_served(_start_serve(project, serve_out)))
    shutil.rmtree(target, ignore_errors=True)
    _received(_start_receive(project, sessions[0], target, receive_out))
    held, state = 0, 1
    results: dict[str, list[dict[str, float]]] = {"one after the other": [], "at once": []}
    try:
        for round_number in range(args.repeat):
            ways = list(results)
            for way in ways if round_number % 2 == 0 else ways[::-1]:
                state ^= 1
                turn_to(state)
                started = time.monotonic()
                if way == "at once":
                    serving = _start_serve(project, serve_out)
                    _received(_start_receive(project, sessions[held ^ 1], target, receive_out))
                    new = _served(serving)
                else:
                    new = _served(_start_serve(project, serve_out))
                    _received(_start_receive(project, sessions[held ^ 1], target, receive_out))
                wall = time.monotonic() - started
                held ^= 1
                _remove_session(project, new)
                row = {"wall": wall, **json.loads(serve_out.read_text()), **json.loads(receive_out.read_text())}
                results[way].append(row)
                print(f"{way}: " + ", ".join(f"{name} {row[name]:.2f}" for name in COLUMNS), file=sys.stderr)
    finally:
        turn_to(0)
        for session in sessions:
            _remove_session(project, session)
        shutil.rmtree(target, ignore_errors=True)
    print(f"\n1 % re-sync of {args.files} small files: medians of {args.repeat} (wall s; the rest CPU s)")
    print(f"{'':22}" + "".join(f"{name:>14}" for name in COLUMNS))
    for way, rows in results.items():
        print(f"{way:22}" + "".join(f"{statistics.median(row[name] for row in rows):>14.2f}" for name in COLUMNS))


if __name__ == "__main__":
    main()
