"""Fault sweep of ``synco receive --install --yes``: each file system call failing in turn, under strace.

    python benchmarks/fault_sweep.py [--calls write,fsync,rename] [--errors EIO,ENOSPC,EINTR] [--every K]

Not a benchmark (``run.py`` runs only ``bench_*.py``): a tester's tool, too slow for the suite (a few
seconds per case). It serves the Laravel example with ``synco serve --listen``, then for each call kind,
each error and each n (every K-th) receives it into a fresh copy of the example that has local changes,
with ``strace -f -e inject=CALL:error=ERR:when=n`` (counted per thread, as strace does). After each run:

- EINTR must never be reported (Python retries it; a library that does not is a finding);
- exit 0 and the project holds the session's content, or exit 1, one ``Error:`` line (or receive's own
  "Not installing" line), no traceback, and the project as it was, database and files;
- the same command run afterwards exits 0, installs exactly, and leaves no ``*.synco-*`` temporary behind.

One JSON line per case that hit an injection; cases with problems keep their folder under ``--work``.
Needs root only where strace does (ptrace of its own children works for any user). Artifacts of strace,
not of synco: EINTR injected into connect(2) or rename(2) (the kernel never interrupts these on a local
file system; the injection skips the call itself), and failures in the dynamic loader or in ``php``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "laravel-app"
DATABASE = "database/database.sqlite"
#: Names synco gives its temporary and kept files.
TEMPORARY = re.compile(r"\.synco-|\.part$|\.lock$|-journal$|-wal$|-shm$")
#: What an install keeps on purpose: the replaced content, its records, the served session's folder.
KEPT = re.compile(r"\.synco-previous$|^public/synco-[0-9a-f]+(/|$)|\.synco-install\.json$|\.synco-received\.json$")
State = tuple[dict[str, str], str]


def files(root: Path) -> dict[str, str]:
    """Every file under ``root`` outside synco's own names, with a digest of its content."""
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(TEMPORARY.search(part) for part in relative.parts) or str(relative) == DATABASE:
            continue
        if path.is_file() and not path.is_symlink() and not KEPT.search(str(relative)):
            found[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def temporaries(root: Path) -> list[str]:
    """synco's temporary files and folders under ``root`` (not those inside one, nor what it keeps)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if TEMPORARY.search(p.name) and not KEPT.search(str(p.relative_to(root)))
                  and not any(KEPT.search(part) or TEMPORARY.search(part) for part in p.relative_to(root).parts[:-1]))


def database(path: Path) -> str:
    if not path.exists():
        return "<missing>"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
    finally:
        conn.close()


def state(project: Path) -> State:
    return files(project), database(project / DATABASE)


def local_project(folder: Path) -> Path:
    """The example with changes of its own, in its database and in a files set."""
    shutil.rmtree(folder, ignore_errors=True)
    project = folder / "laptop"
    shutil.copytree(EXAMPLE, project, symlinks=True)
    conn = sqlite3.connect(project / DATABASE)
    with conn:
        conn.execute("INSERT INTO migrations (migration, batch) VALUES ('local_only', 9)")
    conn.close()
    (project / "storage" / "app" / "public" / "local-only.txt").write_text("made on the laptop\n")
    return project


def receive(session: list[str], project: Path, inject: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "synco_core", "receive", *session, "--all", "--target",
            str(project.parent / "received"), "--install", "--yes"]
    if inject:
        call = inject.split(":")[0]
        argv = ["strace", "-f", "-qq", "-o", str(project.parent / "strace.log"), "-e", f"trace={call}",
                "-e", f"inject={inject}", "--", *argv]
    return subprocess.run(argv, cwd=project, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)


def count_calls(session: list[str], work: Path, calls: list[str]) -> dict[str, int]:
    """The most calls of each kind one thread of a whole run makes (strace counts per thread)."""
    project = local_project(work / "count")
    log = work / "count" / "all.log"
    argv = [sys.executable, "-m", "synco_core", "receive", *session, "--all", "--target",
            str(work / "count" / "received"), "--install", "--yes"]
    subprocess.run(["strace", "-f", "-qq", "-o", str(log), "-e", f"trace={','.join(calls)}", "--", *argv],
                   cwd=project, capture_output=True, check=True, timeout=300)
    counts: dict[tuple[str, str], int] = {}
    for line in log.read_text(errors="replace").splitlines():
        match = re.match(r"(\d+)\s+(\w+)\(", line)
        if match:
            key = (match.group(1), match.group(2))
            counts[key] = counts.get(key, 0) + 1
    shutil.rmtree(work / "count")
    return {call: max((n for (_, c), n in counts.items() if c == call), default=0) for call in calls}


def check(result: subprocess.CompletedProcess[str], error: str, project: Path, before: State, after: State,
          session: list[str]) -> list[str]:
    """What is wrong after the faulted run ``result``, and after the same command run again."""
    problems = []
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    now = state(project)
    if error == "EINTR" and result.returncode != 0:
        problems.append(f"EINTR reported (exit {result.returncode})")
    elif result.returncode == 0:
        if now != after:
            problems.append("exit 0 without the session's content")
    else:
        if result.returncode != 1 or "Traceback" in result.stderr:
            problems.append(f"exit {result.returncode}" + (" with a traceback" if "Traceback" in result.stderr else ""))
        if not lines or not lines[-1].startswith(("Error:", "Not installing")):
            problems.append("no one-line error at the end")
        if now != before:
            problems.append("failed, and the project changed: " + ("database " if now[1] != before[1] else "")
                            + ("files" if now[0] != before[0] else ""))
    after_run = receive(session, project)
    if after_run.returncode != 0:
        problems.append(f"the run after it failed: {after_run.stderr.strip()[-300:]}")
    elif state(project) != after:
        problems.append("the run after it did not install exactly")
    left = temporaries(project) + [f"received/{t}" for t in temporaries(project.parent / "received")]
    if left:
        problems.append(f"left behind: {left[:6]}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", default="write,fsync,rename,mkdir,unlink,utimensat,fchmod,linkat,ftruncate")
    parser.add_argument("--errors", default="EIO,ENOSPC")
    parser.add_argument("--every", type=int, default=1, help="only every K-th call of each kind")
    parser.add_argument("--work", type=Path, default=Path("/tmp/synco-fault-sweep"))
    args = parser.parse_args()
    if shutil.which("strace") is None:
        print("strace is needed: apt-get install strace", file=sys.stderr)
        return 1
    args.work.mkdir(parents=True, exist_ok=True)
    server = args.work / "server"
    shutil.rmtree(server, ignore_errors=True)
    shutil.copytree(EXAMPLE, server, symlinks=True)
    serving = subprocess.Popen([sys.executable, "-m", "synco_core", "serve", "--listen", "127.0.0.1:0", "--ttl", "120"],
                               cwd=server, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, start_new_session=True)
    try:
        assert serving.stdout is not None
        words = next(line.split() for line in serving.stdout if line.strip().startswith("synco receive "))
        session = [words[2], words[3], "--base-url", words[words.index("--base-url") + 1]]
        reference = local_project(args.work / "reference")
        before = state(reference)
        if receive(session, reference).returncode != 0:
            print("the run without faults failed", file=sys.stderr)
            return 1
        after = state(reference)
        counts = count_calls(session, args.work, args.calls.split(","))
        found = 0
        for call, most in counts.items():
            for error in args.errors.split(","):
                for number in range(1, most + 1, args.every):
                    case = f"{call}-{error}-{number}"
                    project = local_project(args.work / case)
                    result = receive(session, project, f"{call}:error={error}:when={number}")
                    log = project.parent / "strace.log"
                    injected = [line.strip()[:200] for line in log.read_text(errors="replace").splitlines()
                                if "INJECTED" in line]
                    if not injected:
                        shutil.rmtree(project.parent)
                        continue
                    problems = check(result, error, project, before, after, session)
                    found += bool(problems)
                    print(json.dumps({"case": case, "exit": result.returncode, "problems": problems,
                                      "stderr": result.stderr.strip().splitlines()[-1:], "injected": injected[:2]}),
                          flush=True)
                    if not problems:
                        shutil.rmtree(project.parent)
        return 1 if found else 0
    finally:
        os.killpg(serving.pid, signal.SIGTERM)
        serving.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
