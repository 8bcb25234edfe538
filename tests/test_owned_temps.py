"""Temporary files beside a cache (the hash cache's, receive's known hashes, pull's zipapp) belong to whoever
holds their lock, not to a process id: across pid namespaces (containers sharing a folder) a pid names another
process, so a killed run's file (the hash cache may hold small files' contents) lived for ever, and two runs
with one pid number wrote the same file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from synco_core.fsutil import TEMP_GRACE, create_owned_temp, remove_temps_of_dead_processes
from synco_core.index.hashcache import HashCache
from synco_core.receive.knownhashes import KnownHashes

#: Each user of the temporary files: the code a child runs to leave one behind (it is then killed), the
#: suffix, and how a later run of the same code makes its own (which cleans up first).
MAKERS = {
    "hashcache": ("from synco_core.index.hashcache import HashCache\nkept = HashCache(path, 1 << 20)\n", ".tmp",
                  lambda path: HashCache(path, 1 << 20)),
    "knownhashes": ("from synco_core.receive.knownhashes import KnownHashes\nkept = KnownHashes(path)\n", ".part",
                    lambda path: KnownHashes(path)),
}


def leave_temp_of_killed_run(code: str, path: Path, pid_number: int) -> None:
    """Run ``code`` in a child that believes its pid is ``pid_number`` (another pid namespace), then SIGKILL it."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        from pathlib import Path
        real = os.getpid()
        os.getpid = lambda: {pid_number}
        path = Path(sys.argv[1])
    """) + code + "\nos.kill(real, signal.SIGKILL)\n"
    result = subprocess.run([sys.executable, "-c", script, str(path)], check=False)
    assert result.returncode == -signal.SIGKILL


def temps(path: Path, suffix: str) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.*{suffix}"))


def age(files: list[Path]) -> None:
    for file in files:
        os.utime(file, (0, 0), follow_symlinks=False)


@pytest.mark.parametrize("maker", sorted(MAKERS))
def test_a_killed_runs_temp_goes_though_its_pid_is_a_live_process(maker: str, tmp_path: Path) -> None:
    code, suffix, make = MAKERS[maker]
    path = tmp_path / "cache"
    # Its pid is this (live) process's, as in another container's namespace.
    leave_temp_of_killed_run(code, path, os.getpid())
    left = temps(path, suffix)
    assert left
    age(left)
    live = make(path)
    assert not any(file.exists() for file in left), left
    assert temps(path, suffix), "the live run's own temp was removed"
    del live


@pytest.mark.parametrize("maker", sorted(MAKERS))
def test_two_runs_with_one_pid_number_write_their_own_files(maker: str, tmp_path: Path) -> None:
    code, suffix, make = MAKERS[maker]
    path = tmp_path / "cache"
    mine = make(path)
    before = {file: file.stat().st_ino for file in temps(path, suffix)}
    leave_temp_of_killed_run(code, path, os.getpid())
    assert all(file.exists() and file.stat().st_ino == ino for file, ino in before.items())
    assert len(temps(path, suffix)) > len(before)
    del mine


def test_a_live_owners_temp_stays_however_old(tmp_path: Path) -> None:
    path = tmp_path / "cache"
    script = textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from synco_core.fsutil import create_owned_temp
        temp, fd = create_owned_temp(Path(sys.argv[1]), ".tmp")
        print(temp, flush=True)
        sys.stdin.read()
    """)
    child = subprocess.Popen([sys.executable, "-c", script, str(path)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        temp = Path(child.stdout.readline().strip())
        age([temp])
        remove_temps_of_dead_processes(path, ".tmp")
        assert temp.exists()
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait()
    remove_temps_of_dead_processes(path, ".tmp")
    assert not temp.exists()


def test_a_young_unlocked_temp_or_a_link_stays(tmp_path: Path) -> None:
    path = tmp_path / "cache"
    temp, fd = create_owned_temp(path, ".tmp")
    os.close(fd)  # unlocked, but just born (its owner may not have locked it yet)
    remove_temps_of_dead_processes(path, ".tmp")
    assert temp.exists()
    target = tmp_path / "precious"
    target.write_bytes(b"x")
    link = tmp_path / "cache.tdeadbeef.tmp"
    link.symlink_to(target)
    age([temp, target, link])
    remove_temps_of_dead_processes(path, ".tmp")
    assert not temp.exists()
    assert link.is_symlink() and target.read_bytes() == b"x"
    assert TEMP_GRACE > 0


def test_the_zipapps_temp_of_a_killed_build_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from synco_core.pull import zipapp

    target = tmp_path / "synco-0123.pyz"
    leave_temp_of_killed_run(
        "from synco_core.fsutil import create_owned_temp\nkept = create_owned_temp(path, '.part')\n", target,
        os.getpid())
    left = temps(target, ".part")
    age(left)
    plan = zipapp.plan_zipapp()
    zipapp.write_zipapp(plan, target)
    assert target.is_file() and not any(file.exists() for file in left)
    assert temps(target, ".part") == []


