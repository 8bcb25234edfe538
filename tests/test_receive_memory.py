"""receive's memory does not grow with the number of public files (issue 16).

One serve (``--keep``, web-root mode) publishes two sets of small files: one of 25,000 and one of 100,000.
Each is then received by a process of its own reading the session folder as a web root
(:class:`DirectoryTransport`, the same code path as HTTP from the index on), and the kernel's high-water
mark of that process (``ru_maxrss`` from ``wait4``: not sampled, so a loaded machine cannot hide a peak)
is compared. An index held in memory costs about 1 KB per file, so holding the set would show as 75 MB
more for the larger one; allocator noise is a few MB. The larger set is received a second time (nothing
changed but one file touched locally): the re-sync's merge of index and folder must be flat as well, and so
must the re-sync after it (nothing changed at all), which only walks the folder. Both sets are large enough for
worker processes (packed files from 20,000, and the larger one's index from 100,000): the highest peak among them
(``RUSAGE_CHILDREN``, reported by the receive process) must be flat too.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_serve_memory import FILES, PART, SLACK_MB, make_tree

from synco_core.receive import indexprocess, workers

RECEIVE = """
import sys
from pathlib import Path
from synco_core.receive.session import ReceiveOptions, receive_session
from synco_core.receive.directory import DirectoryTransport

web, session, key, target, only = sys.argv[1:]
summary = receive_session(DirectoryTransport(Path(web)), session, key,
                          ReceiveOptions(target=Path(target), only=(only,), jobs=4))
outcome = summary.sets[0]
import resource
print("workers", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(outcome.status, outcome.files_downloaded, outcome.files_skipped, len(outcome.files_failed))
sys.exit(0 if summary.ok else 1)
"""


def received(project: Path, session: str, key: str, target: Path, only: str) -> tuple[float, float, str]:
    """Receive set ``only`` in a process of its own; (its peak resident memory in MB, the highest peak of
    its worker processes in MB, its one-line report)."""
    process = subprocess.Popen([sys.executable, "-c", RECEIVE, str(project / "web"), session, key, str(target), only],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    output = process.stdout.read().decode(errors="replace")
    _pid, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, output
    lines = output.strip().splitlines()
    workers = next(int(line.split()[1]) for line in lines if line.startswith("workers "))
    return usage.ru_maxrss / 1024, workers / 1024, lines[-1]


@pytest.mark.timeout(1500)
def test_receive_memory_is_flat_in_the_number_of_files(tmp_path: Path) -> None:
    # Both sets take the worker processes' path (the packed files'; the larger set's index too).
    assert PART >= workers.MIN_FILES and FILES >= indexprocess.MIN_FILES
    project = tmp_path / "project"
    make_tree(project)
    served = subprocess.run([sys.executable, "-m", "synco_core", "serve", "--keep", "--all"], cwd=project,
                            capture_output=True, text=True, timeout=900)
    assert served.returncode == 0, served.stdout + served.stderr
    match = re.search(r"synco receive (\S+) (AGE-SECRET-KEY-\S+)", served.stdout)
    assert match, served.stdout
    session, key = match.groups()
    small, small_workers, report = received(project, session, key, tmp_path / "small", "part")
    assert report == f"downloaded {PART} 0 0", report
    large, large_workers, report = received(project, session, key, tmp_path / "large", "all")
    assert report == f"downloaded {FILES} 0 0", report
    # One file touched locally: the re-sync merges the whole index with the folder again (without it, the
    # receive would only walk the folder, see test_receive_tree_digest.py), which must stay flat too.
    touched = tmp_path / "large" / "all" / "a0" / "b0000" / "f000000.jpg"
    os.utime(touched, (1_000_000_000, 1_000_000_000))
    again, again_workers, report = received(project, session, key, tmp_path / "large", "all")
    assert report == f"downloaded 1 {FILES - 1} 0", report
    # Nothing changed since: the folder's walk alone, flat as well.
    quick, _quick_workers, report = received(project, session, key, tmp_path / "large", "all")
    assert report == f"skipped 0 {FILES} 0", report
    assert quick - small < SLACK_MB, \
        f"a re-sync's walk grew from {small:.0f} MB at {PART} files to {quick:.0f} MB at {FILES}"
    assert small_workers > 0 and large_workers > 0 and again_workers > 0, "worker processes took part"
    assert max(large_workers, again_workers) - small_workers < SLACK_MB, \
        f"the workers' peak grew from {small_workers:.0f} MB at {PART} files to {large_workers:.0f} MB / " \
        f"{again_workers:.0f} MB at {FILES}"
    assert large - small < SLACK_MB, \
        f"receive's peak grew from {small:.0f} MB at {PART} files to {large:.0f} MB at {FILES}"
    assert again - small < SLACK_MB, \
        f"a re-sync's peak grew from {small:.0f} MB at {PART} files to {again:.0f} MB at {FILES}"
    # Spot check that what arrived is what was served (the end-to-end tests check whole trees).
    rng = random.Random(11)
    for number in rng.sample(range(FILES), 50):
        relative = Path(f"a{number // PART}") / f"b{number // 500:04d}" / f"f{number:06d}.jpg"
        assert (tmp_path / "large" / "all" / relative).read_bytes() == \
            (project / "web" / "files" / relative).read_bytes()
