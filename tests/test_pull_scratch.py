"""What a remote side killed with SIGKILL leaves behind (its ``synco-channel-*`` folder) and who removes it.

The next run on the host removes such a folder only when its owner is provably dead: its owner lock can be
taken. Live owners (in this process, in another, across "containers" whose pids mean nothing here), other
users' folders, links and look-alike names are left alone, also when several runs clean at once.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import cast

from pull_support import SHIMS, make_project, row_count, run_synco, write_plugin

from synco_core.pull.bootstrap import LOADER
from synco_core.pull.client import ChannelClient
from synco_core.scratch import (
    OWNER_LOCK,
    PREFIX,
    UPLOAD_GRACE,
    UPLOAD_PREFIX,
    ScratchFolder,
    make_scratch_folder,
    remove_dead_scratch,
)
from synco_core.testing.services import unavailable

_HOLDER = """
import sys, time
from synco_core.scratch import make_scratch_folder
folder = make_scratch_folder(sys.argv[1])
print(folder.path, flush=True)
time.sleep(3600)
"""


def _let_go(folder: ScratchFolder) -> None:
    """As its owner's death does: the lock's descriptor closed, and no clean-up of its own to come."""
    detached = folder._remove.detach()
    assert detached is not None
    os.close(detached[2][1])


def _dead_folder(root: Path) -> Path:
    """A scratch folder exactly as a killed owner leaves it: lock file in place, nobody holding it."""
    folder = make_scratch_folder(str(root))
    (folder.path / "synco-0123456789abcdef01234567").mkdir()
    (folder.path / "synco-0123456789abcdef01234567" / "dump.sql.zst").write_bytes(b"plaintext dump")
    _let_go(folder)
    return folder.path


def _holder(root: Path) -> tuple[subprocess.Popen[str], Path]:
    """Another process that owns a scratch folder until it is killed."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(root)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


def test_only_folders_whose_owner_died_are_removed(tmp_path: Path) -> None:
    dead = _dead_folder(tmp_path)
    live_here = make_scratch_folder(str(tmp_path))
    proc, live_elsewhere = _holder(tmp_path)
    try:
        assert remove_dead_scratch(str(tmp_path)) == [dead]
        assert not dead.exists() and live_here.path.is_dir() and live_elsewhere.is_dir()
        # SIGKILL: no cleanup of its own ran, and the kernel let go of its lock.
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert live_elsewhere.is_dir()
        assert remove_dead_scratch(str(tmp_path)) == [live_elsewhere]
        assert live_here.path.is_dir()
    finally:
        proc.kill()
        proc.wait()
        live_here.remove()
    assert list(tmp_path.iterdir()) == []


def test_a_child_that_inherited_the_lock_keeps_the_folder(tmp_path: Path) -> None:
    """A dumper the owner forked may still write into the folder after the owner itself was killed."""
    folder = make_scratch_folder(str(tmp_path))
    # The child lives until the parent has looked (it reads to the end of a pipe the parent closes then),
    # however late a loaded machine lets the parent look: a fixed sleep let the child go first.
    go_read, go_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child keeps the lock's descriptor, as a forked worker does
        os.close(go_write)
        os.read(go_read, 1)
        os._exit(0)
    os.close(go_read)
    try:
        _let_go(folder)  # the owner is gone
        assert remove_dead_scratch(str(tmp_path)) == []
    finally:
        os.close(go_write)
        os.waitpid(pid, 0)
    assert remove_dead_scratch(str(tmp_path)) == [folder.path]


def test_what_is_not_provably_a_dead_scratch_folder_is_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "tmp"
    root.mkdir()
    outside = _dead_folder(tmp_path)  # a dead folder elsewhere, reachable only through a link
    (root / f"{PREFIX}linkedto").symlink_to(outside)
    no_lock = root / f"{PREFIX}nolock01"  # an older synco's (or one a moment old): nothing proves it dead
    no_lock.mkdir()
    look_alikes = []
    for name in (f"{PREFIX}short", f"{PREFIX}abcdefgh.bak", "synco-channelx-abcdefgh", f"x{PREFIX}abcdefgh"):
        (root / name).mkdir()
        (root / name / OWNER_LOCK).write_bytes(b"")
        look_alikes.append(root / name)
    linked_lock = _dead_folder(root)  # its lock file replaced by a link to a lock nobody holds
    (linked_lock / OWNER_LOCK).unlink()
    (linked_lock / OWNER_LOCK).symlink_to(outside / OWNER_LOCK)
    assert remove_dead_scratch(str(root)) == []
    assert outside.is_dir() and (outside / "synco-0123456789abcdef01234567" / "dump.sql.zst").exists()
    assert no_lock.is_dir() and linked_lock.is_dir() and all(path.is_dir() for path in look_alikes)


def test_another_users_folder_is_left_alone(tmp_path: Path) -> None:
    if os.getuid() != 0:
        unavailable("making a folder another user owns needs root")
    tmp_path.chmod(0o755)
    other = _dead_folder(tmp_path)
    for path in (other, other / OWNER_LOCK):
        os.chown(path, 65534, 65534)
    assert remove_dead_scratch(str(tmp_path)) == []
    assert other.is_dir()


def test_runs_cleaning_at_once_never_remove_a_live_folder(tmp_path: Path) -> None:
    dead = [_dead_folder(tmp_path) for _ in range(20)]
    live = [make_scratch_folder(str(tmp_path)) for _ in range(5)]
    results: list[list[Path]] = []
    barrier = threading.Barrier(6)

    def clean() -> None:
        barrier.wait()
        results.append(remove_dead_scratch(str(tmp_path)))

    threads = [threading.Thread(target=clean) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(path for result in results for path in result) == sorted(dead)
    assert all(folder.path.is_dir() for folder in live) and not any(path.exists() for path in dead)
    for folder in live:
        folder.remove()


def test_the_next_pull_removes_what_a_killed_remote_side_left(tmp_path: Path) -> None:
    """The remote side is killed with SIGKILL in the middle of a pull: its folder (the whole session) stays;
    the next pull on that host removes it, and still works."""
    project = make_project(tmp_path / "app", public_files=3, rows=30)
    remote_tmp = tmp_path / "remote-tmp"
    remote_tmp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(write_plugin(tmp_path / "plugin")), "TMPDIR": str(remote_tmp),
           "PATH": f"{SHIMS}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "SYNCO_REMOTE_PYTHON": sys.executable}
    remote = subprocess.Popen([sys.executable, "-c", "from synco_core.cli.main import main; main()", "_channel"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=project.root, env=env, bufsize=0)
    assert remote.stdin is not None and remote.stdout is not None
    try:
        client = ChannelClient(io.BufferedReader(cast(io.RawIOBase, remote.stdout)), remote.stdin)
        client.handshake()
        client.build({"only": [], "all": False, "mode": "channel"})
        left = [path for path in remote_tmp.iterdir() if path.name.startswith(PREFIX)]
        assert len(left) == 1
        remote.send_signal(signal.SIGKILL)
        remote.wait()
    finally:
        remote.kill()
        remote.wait()
    assert left[0].is_dir() and any(left[0].rglob("*.enc")), "SIGKILL leaves the session behind"
    result = run_synco(["pull", f"docker://web{project.root}", "--target", "out"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert row_count(tmp_path / "out" / "dbDump.sqlite") == project.rows
    assert f"removed 1 leftover(s) in {remote_tmp} of earlier runs that were killed" in result.stderr
    assert list(remote_tmp.iterdir()) == []


# ---------------------------------------------------------------------------------------- the upload


def _sleeping_archive() -> bytes:
    """A zipapp whose main only waits, as a remote side busy with a long dump would."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("__main__.py", "import time\ntime.sleep(3600)\n")
    return buffer.getvalue()


def _loader(root: Path, name: str, data: bytes) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", LOADER, str(len(data)), name], stdin=subprocess.PIPE,
                            env={**os.environ, "TMPDIR": str(root)}, cwd=root.parent)
    assert proc.stdin is not None
    proc.stdin.write(data)
    proc.stdin.flush()
    deadline = time.monotonic() + 10
    while not (root / name).exists() or (root / name).stat().st_size < len(data):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return proc


def _age(path: Path, seconds: float = UPLOAD_GRACE + 60) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_an_upload_whose_loader_was_killed_is_removed_by_the_next_run(tmp_path: Path) -> None:
    root = tmp_path / "tmp"
    root.mkdir()
    data = _sleeping_archive()
    killed = _loader(root, f"{UPLOAD_PREFIX}{'a' * 16}.pyz", data)
    running = _loader(root, f"{UPLOAD_PREFIX}{'b' * 16}.pyz", data)
    try:
        for path in root.iterdir():
            _age(path)
        assert remove_dead_scratch(str(root)) == [], "both loaders hold their archive"
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        left = root / f"{UPLOAD_PREFIX}{'a' * 16}.pyz"
        assert left.exists(), "SIGKILL skips the loader's own removal"
        assert remove_dead_scratch(str(root)) == [left]
        assert sorted(path.name for path in root.iterdir()) == [f"{UPLOAD_PREFIX}{'b' * 16}.pyz"]
    finally:
        for proc in (killed, running):
            proc.kill()
            proc.wait()


def test_young_uploads_and_older_synco_uploads_are_left_alone(tmp_path: Path) -> None:
    young = tmp_path / f"{UPLOAD_PREFIX}{'c' * 16}.pyz"  # unlocked, but perhaps locked a moment from now
    young.write_bytes(b"zip")
    older = tmp_path / f"synco-pull-{'d' * 16}.pyz"  # an older synco's loader locks nothing
    older.write_bytes(b"zip")
    _age(older)
    foreign = tmp_path / f"{UPLOAD_PREFIX}{'e' * 16}.pyz"  # a link, however old and unlocked
    foreign.symlink_to(older)
    assert remove_dead_scratch(str(tmp_path)) == []
    assert young.exists() and older.exists() and foreign.is_symlink()
