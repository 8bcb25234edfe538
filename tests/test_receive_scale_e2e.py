"""A public set of 20,000 small files through a plain nginx: received, changed, received again (issue 16).

serve packs the small files; receive takes them out of the packs with ranged reads. Round one must give
the exact tree (SHA-256 of every file); it is a first sync of 20,000 packed files, so worker processes
write them into the set's staging folder (``synco_core.receive.workers``, ``.staging``). Then 1 % of the
files change (in runs of neighbours, as edits and new uploads cluster in real folders), some are added and
some deleted, and a new session is served:
round two (without ``--delete``) must give the new tree plus the deleted files, asking nginx for no
unchanged file and reading far fewer pack bytes than round one; round three (``--delete``, same session)
fetches nothing and removes the deleted files. nginx's access log is the witness of what was asked.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from synco_core.testing.services import nginx

SYNCO = [sys.executable, "-m", "synco_core"]
FILES = 20_000
PER_FOLDER = 400
#: A few files too large for a pack: they keep coming from their own URL.
LARGE = 6
CHANGED_RUNS, RUN_LENGTH = 20, 10  # 200 files: 1 %
ADDED, DELETED = 60, 60


def tree(folder: Path) -> dict[str, str]:
    digests = {}
    for path in folder.rglob("*"):
        if path.is_file():
            digests[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def name(number: int) -> str:
    return f"d{number // PER_FOLDER:03d}/f{number:06d}.txt"


def make_project(project: Path, url: str) -> None:
    rng = random.Random(16)
    files = project / "web" / "files"
    for number in range(FILES):
        path = files / name(number)
        if number % PER_FOLDER == 0:
            path.parent.mkdir(parents=True)
        path.write_bytes(rng.randbytes(rng.randint(100, 2000)))
    for number in range(LARGE):
        (files / f"large-{number}.bin").write_bytes(rng.randbytes(40_000 + number))
    (project / ".synco.yml").write_text(
        "serve:\n  name: Many files\n  web_root: web\n  file_sets:\n"
        "    - name: files\n      path: web/files\n      public: true\n"
        f"hosts: [{url}]\n")


def serve(project: Path) -> list[str]:
    """``synco serve --keep``; the receive command it prints (without the leading ``synco``).

    The walk hands the set to serve's worker process after a quarter of it (``synco_core.serve.walkprocess``),
    so both rounds check a session made by two processes, the second with the cache handed over.
    """
    served = subprocess.run([*SYNCO, "serve", "--keep", "--all"], cwd=project, capture_output=True, text=True,
                            timeout=600, env={**os.environ, "SYNCO_SERVE_WORKER_FILES": str(FILES // 4)})
    assert served.returncode == 0, served.stdout + served.stderr
    match = re.search(r"synco (receive \S+ AGE-SECRET-KEY-\S+.*)$", served.stdout, re.MULTILINE)
    assert match, served.stdout
    return match.group(1).split()


def receive(command: list[str], target: Path, *extra: str) -> str:
    done = subprocess.run([*SYNCO, *command, "--target", str(target), "--all", *extra], capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def pack_bytes(requests: list[tuple[str, str, int, int, str]]) -> int:
    return sum(size for _method, path, _status, size, _range in requests if ".pack-" in path)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_many_small_files_received_changed_and_received_again(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "web").mkdir(parents=True)
    target = tmp_path / "received"
    with nginx(project / "web", tmp_path / "nginx") as server:
        make_project(project, server.url)
        source = project / "web" / "files"

        first = serve(project)
        output = receive(first, target, "--debug")
        assert "worker process(es) take the packed files" in output, \
            "a first sync of this many packed files takes them out of the packs in worker processes"
        assert tree(target / "files") == tree(source), "round one: the exact tree"
        assert not (target / ".files.synco-new").exists(), "the staging folder became the set's folder"
        round_one = server.requests()
        assert pack_bytes(round_one) > 0, "small files came out of packs"
        url_files = {path for _m, path, _s, _n, _r in round_one if path.startswith("/files/")}
        assert url_files == {f"/files/large-{number}.bin" for number in range(LARGE)}, \
            "only the files too large for a pack came by their URL"

        rng = random.Random(17)
        changed = sorted({start + offset for start in rng.sample(range(FILES - RUN_LENGTH), CHANGED_RUNS)
                          for offset in range(RUN_LENGTH)})
        for number in changed:
            path = source / name(number)
            path.write_bytes(rng.randbytes(rng.randint(100, 2000)))
            os.utime(path, (1_800_000_000, 1_800_000_000))
        deleted = rng.sample(sorted(set(range(FILES)) - set(changed)), DELETED)
        for number in deleted:
            (source / name(number)).unlink()
        added = [f"new/{number:03d}.txt" for number in range(ADDED)]
        (source / "new").mkdir()
        for relative in added:
            (source / relative).write_bytes(rng.randbytes(rng.randint(100, 2000)))

        logged = len(server.requests())
        second = serve(project)
        receive(second, target)
        expected = tree(source)
        got = tree(target / "files")
        gone = {name(number) for number in deleted}
        assert set(got) == set(expected) | gone, "round two: the new tree, deleted files kept without --delete"
        assert {path: got[path] for path in expected} == expected
        round_two = server.requests()[logged:]
        assert not [path for _m, path, _s, _n, _r in round_two if path.startswith("/files/")], \
            "no file came by its URL: the changed and added ones are all small"
        packs = [entry for entry in round_two if ".pack-" in entry[1]]
        assert packs and all(status == 206 and asked.startswith("bytes=") for _m, _p, status, _n, asked in packs), \
            "packs are read in ranges"
        assert pack_bytes(round_two) < pack_bytes(round_one) / 2, (pack_bytes(round_two), pack_bytes(round_one))

        logged = len(server.requests())
        receive(second, target, "--delete")
        assert tree(target / "files") == expected, "round three: --delete removes what the server no longer has"
        round_three = server.requests()[logged:]
        assert not [path for _m, path, _s, _n, _r in round_three if path.startswith("/files/") or ".pack-" in path]
