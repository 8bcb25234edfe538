"""Benchmark: what ``--max-delete N`` costs a re-sync with ``--delete``.

    python3 benchmarks/bench_max_delete.py [--files 30000] [--repeat 5]

A public set of ``--files`` files of 300 bytes is published (the tests' fixture plugin, in
``benchmarks/.data/max_delete/``) and received once; then 1 % of the files are deleted and 1 % rewritten on
the server and a second session is published. Each measured run copies the first receive's folder afresh
(not timed) and receives the second session into it in a process of its own, through ``DirectoryTransport``:
``--delete`` alone and ``--delete --max-delete 1000``, in turns. The number is the CPU seconds (user +
system) of that process and its children (the index worker) spent in ``receive_session``, without the
interpreter's start; the median and the range of ``--repeat`` runs are printed.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from common import DATA_DIR  # noqa: E402

ROOT = DATA_DIR / "max_delete"
FIRST, SECOND = "synco-maxdeletebench1", "synco-maxdeletebench2"


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _receive(session: str, target: Path, max_delete: int | None) -> float:
    """Receive ``session`` into ``target``; returns the CPU seconds it took (this process and its children)."""
    from synco_core.plugins import build_plugin_manager, set_plugin_manager
    from synco_core.receive import ReceiveOptions, receive_session
    from synco_core.receive.directory import DirectoryTransport

    set_plugin_manager(build_plugin_manager(load_entrypoints=False))
    key = (ROOT / f"{session}.key").read_text()
    options = ReceiveOptions(target=target, all=True, only=("uploads",), delete=True, max_delete=max_delete)
    before = _cpu()
    summary = receive_session(DirectoryTransport(ROOT / "app" / "web"), session, key, options)
    spent = _cpu() - before
    assert summary.ok, [(s.name, s.status, s.detail) for s in summary.sets]
    return spent


def _publish(session: str) -> None:
    from test_transfer_support import FixturePlugin, publish

    from synco_core.plugins import build_plugin_manager, set_plugin_manager

    manager = build_plugin_manager(load_entrypoints=False)
    manager.register(FixturePlugin(), "fixture")
    set_plugin_manager(manager)
    shutil.rmtree(ROOT / "app" / "web" / session, ignore_errors=True)
    key = publish(ROOT / "app", session)
    (ROOT / f"{session}.key").write_text(key.secret)


def prepare(files: int) -> None:
    from test_transfer_support import make_app

    shutil.rmtree(ROOT, ignore_errors=True)
    (ROOT / "app" / "web" / "uploads").mkdir(parents=True)
    app = make_app(ROOT / "app", files=0)
    uploads = app / "web" / "uploads"
    rng = random.Random(16)
    paths = [uploads / f"{n % 100:02d}" / f"file-{n:06d}.bin" for n in range(files)]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(300))
    _publish(FIRST)
    _helper("receive", FIRST, str(ROOT / "received"), "-")
    changed = rng.sample(paths, files // 50)
    for path in changed[: files // 100]:
        path.unlink()
    for path in changed[files // 100:]:
        path.write_bytes(rng.randbytes(300))
    _publish(SECOND)


def _helper(*arguments: str, code: str | None = None) -> str:
    environment = dict(os.environ)
    if code:
        # Another checkout's synco_core (the reference), found before the installed one.
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [code, environment.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, __file__, "--helper", *arguments], check=True, capture_output=True,
                          text=True, env=environment)
    return done.stdout.strip()


def measure(max_delete: int | None, code: str | None = None) -> float:
    work = ROOT / "work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(ROOT / "received", work, symlinks=True)
    try:
        return float(_helper("receive", SECOND, str(work), "-" if max_delete is None else str(max_delete),
                             code=code))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reference", metavar="DIR",
                        help="a folder holding another version's synco_core, measured in turns with this one")
    parser.add_argument("--helper", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.helper:
        _command, session, target, limit = args.helper
        print(_receive(session, Path(target), None if limit == "-" else int(limit)))
        return
    prepare(args.files)
    codes: dict[str, str | None] = {"": None}
    if args.reference:
        codes = {"reference ": args.reference, "this ": None}
    cases = {"--delete": None, "--delete --max-delete 1000": 1000}
    results: dict[str, list[float]] = {who + name: [] for who in codes for name in cases}
    for _round in range(args.repeat):
        for who, code in codes.items():
            for name, limit in cases.items():
                results[who + name].append(measure(limit, code))
    print(f"re-sync of {args.files} files (1 % deleted, 1 % rewritten), CPU seconds of receive_session:")
    for name, values in results.items():
        print(f"  {name:38} median {statistics.median(values):.3f}  "
              f"({min(values):.3f}-{max(values):.3f}; {', '.join(f'{v:.3f}' for v in values)})")


if __name__ == "__main__":
    main()
