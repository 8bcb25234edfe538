"""Benchmark: CPU seconds of synco's whole-tree operations on one chain of folders far deeper than Python's
recursion limit, beside ``rsync -a`` and ``rm -rf`` on the same tree.

    python3 benchmarks/bench_deep_trees.py [--depth N] [--repeat N] [--dir DIR]

Makes ``--depth`` (default 1,200) nested folders with a small file every ten levels, then measures, in turns
and ``--repeat`` times each, the CPU seconds (user + system, this process's or the child's ``getrusage``) of:
the tree's size, a copy of it (``copy_tree`` with hard links, as an install makes), a tar of it extracted as a
private set is (``extract_stream``), the removal of the copy (``remove_tree``); and of ``rsync -a`` and
``rm -rf`` doing the copy and the removal. Wall time is left out: other work on the machine makes it noisy.
Run it against another checkout's code with ``PYTHONPATH=<checkout>``.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from deeptrees import nest

from synco_core.receive.tarsafe import extract_stream
from synco_core.trees import copy_tree, remove_tree, tree_size


def tar_of(root: Path) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w", format=tarfile.PAX_FORMAT) as tar:
        pending = [""]
        while pending:
            relative = pending.pop()
            folder = root / relative if relative else root
            for name in sorted(os.listdir(folder)):
                path = f"{relative}/{name}" if relative else name
                member = tar.gettarinfo(str(folder / name), arcname=path)
                if member.isdir():
                    tar.addfile(member)
                    pending.append(path)
                else:
                    with open(folder / name, "rb") as file:
                        tar.addfile(member, file)
    return data.getvalue()


def cpu_self(action: Callable[[], object]) -> float:
    before = resource.getrusage(resource.RUSAGE_SELF)
    action()
    after = resource.getrusage(resource.RUSAGE_SELF)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cpu_child(argv: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    # rsync 3.x gives up part way on such a chain ("Cannot allocate memory", exit 23): measured all the same.
    subprocess.run(argv, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=1200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-deep-", dir=args.dir))
    try:
        source = work / "source"
        # A file of about 100 bytes every ten levels (the tag makes up the size).
        nest(source, args.depth, files_every=10, tag="x" * 95)
        archive = tar_of(source) if args.depth * 2 < 4000 else None
        results: dict[str, list[float]] = {}
        rsync = shutil.which("rsync")
        copy, extracted = work / "copy", work / "extracted"
        for _turn in range(args.repeat):
            results.setdefault("tree_size", []).append(cpu_self(lambda: tree_size(source)))
            results.setdefault("copy_tree (links)", []).append(
                cpu_self(lambda: copy_tree(source, copy, lambda src, dst: os.link(src, dst))))
            results.setdefault("remove_tree", []).append(cpu_self(lambda: remove_tree(copy)))
            if archive is not None:
                results.setdefault("extract_stream (private tar)", []).append(
                    cpu_self(lambda: extract_stream(io.BytesIO(archive), extracted)))
                remove_tree(extracted)
            if rsync:
                results.setdefault("rsync -a (copy)", []).append(cpu_child([rsync, "-a", f"{source}/", f"{copy}/"]))
                results.setdefault("rm -rf", []).append(cpu_child(["rm", "-rf", str(copy)]))
        print(f"depth {args.depth}, {args.repeat} turns, CPU seconds (median, min)")
        for name, values in results.items():
            print(f"  {name:30} {statistics.median(values):7.3f} {min(values):7.3f}")
    finally:
        remove_tree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
