"""serve's memory does not grow with the number of public files (issue 16).

The same serve runs on a set of 25,000 small files and on one of 100,000 (the first a quarter of the
second; both past the 20,000 files after which a worker process walks the rest), each in a process of its
own, with ``--listen`` so that the server's allow list is built too. The kernel's high-water mark of each
process (``ru_maxrss`` from ``wait4``, not sampled, so a loaded machine cannot make it miss a peak) may differ
by a few MB of allocator noise, not by the 75,000 files' worth (an index held in memory costs about 1 KB per
file: 75 MB, seven times the slack).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

FILES = 100_000
PART = 25_000
PER_FOLDER = 500
#: Growth allowed between the two runs: allocator noise, never per-file state (75,000 files * 128 bytes).
SLACK_MB = 10

CONFIG = """\
serve:
  name: Many files
  web_root: web
  file_sets:
    - name: part
      path: web/files/a0
      public: true
    - name: all
      path: web/files
      public: true
"""


def make_tree(project: Path) -> None:
    rng = random.Random(3)
    files = project / "web" / "files"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for number in range(FILES):
        folder = files / f"a{number // PART}" / f"b{number // PER_FOLDER:04d}"
        if number % PER_FOLDER == 0:
            folder.mkdir(parents=True)
        fd = os.open(folder / f"f{number:06d}.jpg", flags, 0o644)
        os.write(fd, rng.randbytes(rng.randint(200, 500)))
        os.close(fd)
    (project / ".synco.yml").write_text(CONFIG)


def peak_rss_mb(project: Path, only: str) -> float:
    """Run ``synco serve --keep --listen`` for one set; the process's peak resident memory in MB."""
    process = subprocess.Popen(
        [sys.executable, "-m", "synco_core", "serve", "--keep", "--listen", "127.0.0.1:0", "--only", only,
         "--ttl", "5"],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, output.decode(errors="replace")
    assert b"synco receive" in output
    return usage.ru_maxrss / 1024


@pytest.mark.timeout(900)
def test_serve_memory_is_flat_in_the_number_of_files(tmp_path: Path) -> None:
    project = tmp_path / "project"
    make_tree(project)
    small = peak_rss_mb(project, "part")
    large = peak_rss_mb(project, "all")
    assert large - small < SLACK_MB, \
        f"serve's peak grew from {small:.0f} MB at {PART} files to {large:.0f} MB at {FILES}"
