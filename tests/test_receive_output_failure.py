"""``synco receive --install --yes`` whose output cannot be written: to a log file on a full disk, or to a pipe
whose reader went away (``synco receive ... | head``).

With ``--yes`` the database is loaded as soon as it has arrived, while the files still download. A failed
write of any line of the receive's output ends the run: it must end like every other failure, with the
database loaded early put back, so that the project is as it was (not a new database beside the old files),
and the same command run again installs everything.

The output goes to a file on a one-page tmpfs, filled beforehand so that exactly the chosen line is the one
that no longer fits: every line of the output is the one that fails once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_install_lock import EXAMPLE, SYNCO, served_session
from test_serve_wild_trees import small_file_system

#: The tmpfs holds one page: writes beyond it fail with ENOSPC.
PAGE = 4096
DATABASE = Path("database") / "database.sqlite"


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    yield from served_session(tmp_path_factory)


def local_project(folder: Path) -> Path:
    """The example with local changes of its own, in the database and in a files set."""
    project = folder / "laptop"
    shutil.copytree(EXAMPLE, project, symlinks=True)
    with sqlite3.connect(project / DATABASE) as conn:
        conn.execute("INSERT INTO migrations (migration, batch) VALUES ('local_only', 9)")
    conn.close()
    (project / "storage" / "app" / "public" / "local-only.txt").write_text("made on the laptop\n")
    return project


def content(project: Path) -> tuple[str, dict[str, str]]:
    """The database's rows and schema, and every other file of the project that is not synco's own."""
    conn = sqlite3.connect(f"file:{project / DATABASE}?mode=ro", uri=True)
    try:
        rows = "\n".join(conn.iterdump())
    finally:
        conn.close()
    files = {str(path.relative_to(project)): hashlib.sha256(path.read_bytes()).hexdigest()
             for path in sorted(project.rglob("*"))
             if path.is_file() and ".synco-" not in str(path.relative_to(project)) and path.name != DATABASE.name}
    return rows, files


def receive(folder: Path, session: tuple[str, str, str], stdout: int | None) -> subprocess.CompletedProcess[str]:
    name, key, url = session
    return subprocess.run([*SYNCO, "receive", name, key, "--base-url", url, "--all", "--target",
                           str(folder / "received"), "--install", "--yes"], cwd=folder / "laptop",
                          stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120,
                          check=False)


@pytest.mark.slow
def test_every_line_of_output_that_cannot_be_written_leaves_the_project_as_it_was(
        tmp_path: Path, session: tuple[str, str, str]) -> None:
    # The reference run, in folders whose names are as long as the faulted runs' ones: its output lines
    # have the lengths theirs will have.
    reference = tmp_path / "run-00"
    project = local_project(reference)
    before = content(project)
    with (reference / "output").open("w") as out:
        assert receive(reference, session, out.fileno()).returncode == 0
    after = content(project)
    assert after != before
    lines = (reference / "output").read_text().splitlines(keepends=True)
    assert len(lines) > 3 and sum(len(line) for line in lines) < PAGE
    for number, line in enumerate(lines, start=1):
        run = tmp_path / f"run-{number:02d}"
        project = local_project(run)
        full = run / "full"
        full.mkdir()
        with small_file_system(full, "4k"):
            # The lines before this one fill the page to its last byte: this one gets ENOSPC. (Not one byte
            # less: Python takes a short write of a line as the whole of it, and only the next line fails.)
            written = sum(len(earlier) for earlier in lines[:number - 1])
            (full / "output").write_bytes(b"#" * (PAGE - written))
            fd = os.open(full / "output", os.O_WRONLY | os.O_APPEND)
            try:
                result = receive(run, session, fd)
            finally:
                os.close(fd)
            shown = (full / "output").read_bytes()[PAGE - written:].decode(errors="replace")
        what = f"line {number} ({line.strip()!r}) could not be written"
        errors = [text for text in result.stderr.splitlines() if text.startswith("Error:")]
        assert result.returncode == 1 and len(errors) == 1, f"{what}: {shown}{result.stderr}"
        assert "Traceback" not in result.stderr, f"{what}: {result.stderr}"
        assert content(project) == before, f"{what}, and the project changed: {shown}{result.stderr}"
        assert not (project / ".synco-install-journal.json").exists(), what
        again = receive(run, session, subprocess.DEVNULL)
        assert again.returncode == 0, f"{what}; the run after it: {again.stderr}"
        assert content(project) == after, what
