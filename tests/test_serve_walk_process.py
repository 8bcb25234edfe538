"""serve's worker process for large walked sets (``synco_core.serve.walkprocess``): the session it helps
write is the one a single process writes, byte for byte in every index field and pack, the hash cache it
is handed is kept whole, and every way it can fail ends the serve with one line or falls back to the
single process.

``SYNCO_SERVE_WORKER_FILES`` makes the handover come after a few files, so small trees cross it.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_serve_content_cache import cache_file, packed_files
from test_serve_public_index import Session, build
from test_transfer_support import fixture_app_fixture  # noqa: F401

from synco_core.errors import ConfigError, SyncoError
from synco_core.index import hashcache, packs
from synco_core.index.order import sorted_walk_lstat
from synco_core.serve import walkprocess
from synco_core.testing.services import unavailable

WORKER_ENV = walkprocess.MIN_FILES_ENV


def odd_tree(uploads: Path) -> None:
    """Files of every kind the pipeline treats apart, spread so that the handover falls among them."""
    for number in range(40):
        folder = uploads / f"f{number % 4}" / ("a" if number % 3 else "a-b")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{number:02d}.txt").write_bytes(os.urandom(20 + number))
    (uploads / "f3" / "empty.txt").write_bytes(b"")
    (uploads / "f3" / "big.bin").write_bytes(os.urandom(packs.SMALL_FILE_MAX + 10))
    (uploads / "f3" / "linked.txt").symlink_to("empty.txt")
    (uploads / "f3" / ".hidden").write_bytes(b"dotfile")
    (uploads / "f3" / "skip.tmp").write_bytes(b"excluded by the set")
    (uploads / "f3" / "back\\slash.txt").write_bytes(b"a name no receiver accepts")
    (uploads / "f3" / "ünï cødé.txt").write_bytes(b"quoted in its URL")
    # A session folder published inside the set is never part of it.
    session = uploads / "f3" / "synco-0123456789abcdef"
    session.mkdir()
    (session / "meta.json.enc").write_bytes(b"x")


def session_contents(session: Session) -> tuple[list[Any], dict[str, bytes]]:
    return [(path, tuple(entry)) for path, entry in session.index("uploads")], packed_files(session)


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written a moment ago count as settled, so that the cache records them."""
    monkeypatch.setattr(hashcache, "RACY_SECONDS", 0.0)


@pytest.mark.parametrize("handover", ["1", "7", "39", "1000"])
def test_a_session_written_with_the_worker_is_the_one_process_writes(
        fixture_app: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, handover: str) -> None:
    odd_tree(fixture_app / "web" / "uploads")
    monkeypatch.setenv(WORKER_ENV, "0")
    alone = session_contents(build(fixture_app, name="synco-alone"))
    monkeypatch.setenv(WORKER_ENV, handover)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        helped = session_contents(build(fixture_app, name="synco-helped"))
    assert helped == alone
    paths = [path for path, _entry in helped[0]]
    assert "f3/linked.txt" in paths and "f3/big.bin" in paths and "f3/ünï cødé.txt" in paths
    assert not [path for path in paths if "synco-" in path or ".hidden" in path or path.endswith(".tmp")]
    # The worker's warning about the name it leaves out is logged by the serve, as its own would be.
    assert any("back\\\\slash.txt" in record.getMessage() for record in caplog.records), caplog.text


def test_the_cache_handed_over_is_kept_whole(fixture_app: Path, monkeypatch: pytest.MonkeyPatch, settled: None,
                                             caplog: pytest.LogCaptureFixture) -> None:
    odd_tree(fixture_app / "web" / "uploads")
    monkeypatch.setenv(WORKER_ENV, "0")
    build(fixture_app, name="synco-one")
    alone = cache_file().read_bytes()
    # Only the lines of the builds counted (another test may have left the logger at DEBUG).
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="synco_core.serve.build"):
        build(fixture_app, name="synco-again")
    counted = re.findall(r"uploads: \d+ files hashed, \d+ hashes from the cache", caplog.text)
    cache_file().unlink()
    monkeypatch.setenv(WORKER_ENV, "9")
    first = build(fixture_app, name="synco-two")
    assert cache_file().read_bytes() == alone, "the two processes wrote the cache one process writes"
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="synco_core.serve.build"):
        second = build(fixture_app, name="synco-three")
    assert session_contents(second) == session_contents(first)
    # The empty file is "hashed" at every serve (it has nothing worth caching); everything else comes from the
    # cache, on both sides of the handover, as in one process.
    assert counted == ["uploads: 1 files hashed, 56 hashes from the cache"]
    assert re.findall(r"uploads: \d+ files hashed, \d+ hashes from the cache", caplog.text) == counted
    # A change after the handover point is seen by the worker, from the cache's point of view too.
    changed = fixture_app / "web" / "uploads" / "f3" / "a" / "39.txt"
    changed.write_bytes(b"new content")
    third = build(fixture_app, name="synco-four")
    assert packed_files(third)["f3/a/39.txt"] == b"new content"


def test_a_worker_that_cannot_start_leaves_the_set_to_this_process(
        fixture_app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    odd_tree(fixture_app / "web" / "uploads")
    monkeypatch.setenv(WORKER_ENV, "0")
    alone = session_contents(build(fixture_app, name="synco-alone"))
    monkeypatch.setenv(WORKER_ENV, "5")
    monkeypatch.setattr(walkprocess, "_command", lambda: (["/nonexistent/python"], dict(os.environ)))
    assert session_contents(build(fixture_app, name="synco-helped")) == alone


@pytest.mark.parametrize("script, message", [
    ("import sys; sys.exit(3)", "(exit status 3)"),
    ("import sys; sys.stdin.buffer.read(); sys.exit(4)", "ended before the set did (exit status 4)"),
    ("import sys, marshal; sys.stdin.buffer.read(); block = marshal.dumps(('error', 'disk on fire', []));"
     "sys.stdout.buffer.write(len(block).to_bytes(8, 'little') + block)", "listing the public files: disk on fire"),
])
def test_a_failing_worker_ends_the_serve_with_one_line(fixture_app: Path, monkeypatch: pytest.MonkeyPatch,
                                                       script: str, message: str) -> None:
    odd_tree(fixture_app / "web" / "uploads")
    monkeypatch.setenv(WORKER_ENV, "5")
    monkeypatch.setattr(walkprocess, "_command", lambda: ([sys.executable, "-c", script], dict(os.environ)))
    with pytest.raises(SyncoError) as raised:
        build(fixture_app, name="synco-failed")
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_failed_serve_ends_its_worker(fixture_app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for number in range(300):
        (fixture_app / "web" / "uploads" / f"{number:03d}.txt").write_bytes(b"x" * 30)
    monkeypatch.setenv(WORKER_ENV, "10")
    started: list[subprocess.Popen[bytes]] = []
    original_start = walkprocess.WalkWorker.start

    def recording(self: walkprocess.WalkWorker) -> bool:
        result = original_start(self)
        assert self.process is not None
        started.append(self.process)
        return result

    added = 0
    original_add = packs.PackWriter.add

    def failing(self: packs.PackWriter, content: bytes) -> tuple[int, int]:
        nonlocal added
        added += 1
        if added == 50:
            raise KeyboardInterrupt
        return original_add(self, content)

    monkeypatch.setattr(walkprocess.WalkWorker, "start", recording)
    monkeypatch.setattr(packs.PackWriter, "add", failing)
    with pytest.raises(KeyboardInterrupt):
        build(fixture_app, name="synco-stopped")
    assert len(started) == 1 and started[0].poll() is not None, "the worker ended with the serve"


@pytest.mark.parametrize("raw", ["many", "-1", "1.5", "nan", str(10**30)])
def test_a_bad_worker_threshold_is_one_line(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(WORKER_ENV, raw)
    with pytest.raises(ConfigError, match=f"{WORKER_ENV} should be a whole number of files"):
        walkprocess.min_files()


def test_serve_hands_over_through_the_command_line(tmp_path: Path) -> None:
    """The worker is started the way serve starts it (this interpreter, ``-m synco_core.serve.worker``, its
    import path given), not only through a test's monkeypatches."""
    command, env = walkprocess._command()
    root = tmp_path / "set"
    for number in range(30):
        (root / f"d{number % 3}").mkdir(parents=True, exist_ok=True)
        (root / f"d{number % 3}" / f"{number:02d}").write_bytes(bytes([number]) * (number + 1))
    worker = walkprocess.WalkWorker()
    assert worker.start()
    header = {"root": str(root), "url_prefix": "files/", "exclude": [".*"], "skip_synco_folders": True,
              "after": "d1/10", "cache": None, "packs": True, "hash_large": True, "debug": False}
    try:
        rows = list(worker.rows(header))
    finally:
        worker.close()
    assert command[-1] == "synco_core.serve.worker" and env["PYTHONPATH"]
    expected = sorted(f"d{number % 3}/{number:02d}" for number in range(30))
    assert [row[0] for row in rows] == [path for path in expected if path > "d1/10"]
    assert all(row[7] == bytes([int(row[0][-2:])]) * (int(row[0][-2:]) + 1) for row in rows)


def tricky_tree(root: Path) -> list[str]:
    """Names whose order differs between plain string order and a naive folder-by-folder walk."""
    names = ["a", "a-b", "a.b", "a0", "a/b", "a/b-c", "a/b/c", "a/b/c/d", "a/b0", "a-b/x", "b", "b/a/a/a",
             "c.d/e", "z", "é/f", "é-g"]
    files = []
    for name in names:
        path = root / name
        if any(other.startswith(name + "/") for other in names):
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
        files.append(name)
    (root / "skip").mkdir()
    (root / "skip" / "inside").write_text("excluded")
    return sorted(files)


def test_a_walk_resumes_after_any_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "tree"
    files = tricky_tree(root)
    full = [relative for relative, entry, _info in sorted_walk_lstat(root, ["skip"]) if not entry.is_dir()]
    assert full == files
    listed: list[str] = []
    original = os.scandir

    def recording(path: Any = ".") -> Any:
        listed.append(os.fspath(path))
        return original(path)

    monkeypatch.setattr(os, "scandir", recording)
    points = ["", "\U0010ffff", *files, *(name + "\x00" for name in files), *(name[:-1] for name in files),
              *(name + "/" for name in files)]
    for after in points:
        listed.clear()
        resumed = [(relative, info) for relative, entry, info in sorted_walk_lstat(root, ["skip"], after=after)
                   if not entry.is_dir()]
        assert [relative for relative, _info in resumed] == [name for name in files if name > after], after
        assert all(info is not None for _relative, info in resumed)
        # A folder whose whole content comes before the point is not even listed.
        for folder in listed:
            relative = Path(folder).relative_to(root).as_posix() if folder != str(root) else ""
            assert not relative or any(name.startswith(relative + "/") and name > after for name in files) \
                or after.startswith(relative + "/"), (after, relative)


def test_a_serve_from_a_zipapp_starts_its_worker(tmp_path: Path) -> None:
    """``pull`` runs serve from an uploaded zipapp that is installed nowhere: the worker finds synco through
    the import path it is given. Run by the base interpreter, which has no synco of its own, with the compiled
    packages' folder on its path as a host's system packages would be."""
    import site
    import zipfile

    archive = tmp_path / "synco.pyz"
    source = Path(__file__).resolve().parents[1] / "synco_core"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in source.rglob("*.py"):
            bundle.write(path, Path("synco_core") / path.relative_to(source))
    root = tmp_path / "set"
    root.mkdir()
    for number in range(5):
        (root / f"{number}.txt").write_text(str(number))
    packages = [path for path in site.getsitepackages() if Path(path).is_dir()]
    script = (
        "import sys\n"
        f"sys.path[:0] = [{str(archive)!r}, *{packages!r}]\n"
        "from synco_core.serve import walkprocess\n"
        f"assert walkprocess.__file__.startswith({str(archive)!r}), walkprocess.__file__\n"
        "worker = walkprocess.WalkWorker()\n"
        "assert worker.start()\n"
        f"header = dict(root={str(root)!r}, url_prefix='', exclude=[], skip_synco_folders=False, after='1.txt',\n"
        "              cache=None, packs=True, hash_large=True, debug=False)\n"
        "rows = list(worker.rows(header))\n"
        "worker.close()\n"
        "print(','.join(row[0] for row in rows))\n"
    )
    base = getattr(sys, "_base_executable", sys.executable)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    # -S: no site-packages processed, so neither the parent nor (without the path it is given) the worker
    # could import synco from anywhere but the zipapp.
    done = subprocess.run([base, "-S", "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2.txt,3.txt,4.txt"


def _reading_its_input(pid: int) -> bool:
    """True once process ``pid`` waits in read(2) on descriptor 0 (Linux's /proc tells)."""
    try:
        return Path(f"/proc/{pid}/syscall").read_text().split()[:2] == ["0", "0x0"]
    except OSError:
        return False


@pytest.mark.parametrize("started", [False, True])
def test_ctrl_c_ends_the_worker_without_a_traceback(started: bool) -> None:
    """Ctrl-C reaches the whole process group: the serve reports it; its worker ends quietly, whether it is
    still starting or waiting for its header."""
    import signal
    import time

    command, env = walkprocess._command()
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env)
    if started:
        if not Path("/proc/self/syscall").exists():
            unavailable("no /proc/<pid>/syscall here to tell when the worker waits for its header")
        # Waiting for its header, whatever the machine's load (a fixed second was not always enough).
        deadline = time.monotonic() + 60
        while not _reading_its_input(process.pid):
            assert process.poll() is None and time.monotonic() < deadline, "the worker never read its input"
            time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=30)
    # A signal before the interpreter set up its handler ends the process the default way, silently too.
    assert process.returncode in ((130,) if started else (130, -2)) and b"Traceback" not in err, err.decode()
