"""Ctrl-C during a receive, measured on a real process against a real nginx that sends slowly.

A receive is interrupted (SIGINT, as Ctrl-C sends it) once while the dump downloads and once while a
large public file does: each time it must end at once, with one Ctrl-C (its downloads cut short),
keeping what is complete and leaving what is partial as a part file. The next run asks nginx only for the
rest of each (``Range``, answered 206), and its summary counts only the bytes that came over the network
this time.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from synco_core.sizes import human_size
from synco_core.testing.services import nginx

SYNCO = [sys.executable, "-m", "synco_core"]
BIG = 16 * 1024 * 1024
#: nginx sends each connection this fast: the large artifacts take seconds, long enough to interrupt.
RATE = "4m"
#: Ctrl-C must end a receive within this many seconds, whatever is downloading. That it stopped the
#: download, rather than waited for its end, is shown by what is left (a part file, short of the whole);
#: this bound only catches a receive that hangs, and is wide so that a loaded machine does not fail it.
STOP_WITHIN = 10.0


def make_site(root: Path, url: str) -> None:
    """A project of synco-generic: a SQLite database of 12 MB (incompressible) and a public set whose one
    large file takes seconds at :data:`RATE`, beside small ones."""
    rng = random.Random(7)
    (root / "public" / "media").mkdir(parents=True)
    with sqlite3.connect(root / "app.sqlite") as conn:
        conn.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")
        conn.executemany("INSERT INTO blobs (data) VALUES (?)", [(rng.randbytes(1024 * 1024),) for _ in range(12)])
    conn.close()
    (root / "public" / "media" / "big.bin").write_bytes(rng.randbytes(BIG))
    for number in range(20):
        (root / "public" / "media" / f"small-{number}.txt").write_text(f"small file {number}\n")
    (root / ".synco.yml").write_text(
        "serve:\n  database: sqlite:///app.sqlite\n  web_root: public\n  file_sets:\n"
        "    - name: media\n      path: public/media\n      public: true\n"
        f"hosts: [{url}]\n")


def start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([*SYNCO, *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"receive ended before {what}: {process.communicate()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"no {what} after a minute: {process.communicate()}")
        time.sleep(0.02)


def interrupt(process: subprocess.Popen[str]) -> tuple[float, str]:
    """Ctrl-C once; (seconds until the process ended, its output)."""
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError("one Ctrl-C did not stop the receive") from None
    elapsed = time.monotonic() - sent
    out, err = process.communicate()
    assert process.returncode == 130, out + err
    return elapsed, out + err


def largest(folder: Path, pattern: str) -> int:
    sizes = [path.stat().st_size for path in folder.glob(pattern)]
    return max(sizes, default=0)


@pytest.mark.slow
def test_ctrl_c_stops_receive_at_once_and_the_next_run_resumes(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    with nginx(site / "public", tmp_path / "nginx", limit_rate=RATE) as server:
        make_site(site, server.url)
        served = subprocess.run([*SYNCO, "serve", "--keep"], cwd=site, capture_output=True, text=True, timeout=120)
        assert served.returncode == 0, served.stdout + served.stderr
        line = next(line.split() for line in served.stdout.splitlines() if line.strip().startswith("synco receive"))
        assert line[-2:] == ["--base-url", server.url], "the site's URL comes from hosts: in .synco.yml"
        receive = [*line[1:], "--target", str(tmp_path / "dump")]
        laptop = tmp_path / "laptop"
        laptop.mkdir()
        dump = tmp_path / "dump"

        # 1. Ctrl-C while the database downloads (in the main thread).
        process = start(receive, laptop)
        wait_for(lambda: largest(dump, "dbDump.sqlite.*.enc.part") > 1024 * 1024, process, "dump bytes")
        elapsed, output = interrupt(process)
        assert elapsed < STOP_WITHIN, f"{elapsed:.2f} s to stop during the dump: {output}"
        held_dump = largest(dump, "dbDump.sqlite.*.enc.part")
        assert 0 < held_dump < 12 * 1024 * 1024 and not (dump / "dbDump.sqlite").exists()
        assert "Traceback" not in output

        # 2. Ctrl-C while the large public file downloads (in the download threads). The set arrives for the
        # first time, so into its staging folder: the set's own folder appears only once it is complete.
        process = start(receive, laptop)
        def part_size() -> int:
            return largest(dump / ".media.synco-new", "big.bin.*.synco-part")

        wait_for(lambda: part_size() > 1024 * 1024, process, "public file bytes")
        elapsed, output = interrupt(process)
        assert elapsed < STOP_WITHIN, f"{elapsed:.2f} s to stop during a public file: {output}"
        assert (dump / "dbDump.sqlite").exists(), "the dump completed in the second run"
        held = part_size()
        assert 0 < held < BIG and not (dump / "media").exists()
        assert "Traceback" not in output
        resumed_dump = [entry for entry in server.requests() if entry[4] and "dump" in entry[1]]
        assert resumed_dump and resumed_dump[0][2] == 206 and resumed_dump[0][4].startswith("bytes=")
        assert int(resumed_dump[0][4][len("bytes="):-1]) >= held_dump > 0

        # 3. The rest: only what is missing comes over the network.
        logged = len(server.requests())
        finished = subprocess.run([*SYNCO, *receive], cwd=laptop, stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, timeout=120)
        assert finished.returncode == 0, finished.stdout + finished.stderr
        assert (dump / "media" / "big.bin").read_bytes() == (site / "public" / "media" / "big.bin").read_bytes()
        assert not list(dump.rglob("*.synco-part")) and not list(dump.glob("*.enc.part"))
        assert not (dump / ".media.synco-new").exists(), "the staging folder became the set's folder"
        third = server.requests()[logged:]
        big = [entry for entry in third if entry[1] == "/media/big.bin"]
        assert len(big) == 1 and big[0][2] == 206 and big[0][4] == f"bytes={held}-", third
        assert big[0][3] == BIG - held
        media = sum(size for _method, path, _status, size, _range in third if path.startswith("/media/"))
        assert re.search(rf"\b{re.escape(human_size(media))} downloaded in ", finished.stdout), finished.stdout
