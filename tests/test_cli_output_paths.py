"""Paths given to ``synco db dump -o``, ``synco decrypt -o`` and ``synco db load FILE`` that are not plain files.

A FIFO or character device named as an output is written into in place (the atomic rename replaced it with a
regular file: as root, ``-o /dev/null`` replaced ``/dev/null`` itself); a folder, a path under a file or a
broken link is refused in one line that says which, with exit status 1 and nothing written. ``db load`` names
what FILE is when it is not a regular file, instead of saying it is not found. The engine does not matter
(the CLI is shared): SQLite needs no server.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from synco_core import age
from synco_core.testing.services import unavailable


def run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-c", "from synco_core.cli.main import main; main()", *args],
                          capture_output=True, check=False, timeout=60)


def one_line_error(result: subprocess.CompletedProcess[bytes]) -> str:
    message = result.stderr.decode()
    assert result.returncode == 1 and message.startswith("Error: ") and message.count("\n") == 1, message
    return message


@pytest.fixture
def source(tmp_path: Path) -> str:
    path = tmp_path / "source.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (a INTEGER)")
        conn.execute("INSERT INTO t VALUES (42)")
    conn.close()
    return f"sqlite:///{path}"


def _read_fifo(path: Path) -> tuple[threading.Thread, list[bytes]]:
    received: list[bytes] = []

    def read() -> None:
        with path.open("rb") as fh:
            received.append(fh.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader, received


def test_dump_into_a_fifo_writes_through_it(source: str, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader, received = _read_fifo(fifo)
    result = run("db", "dump", source, "--sql", "-o", str(fifo))
    reader.join(30)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert b"42" in received[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe", "source.db"]  # no pipe.part either


def test_dump_into_a_character_device_keeps_the_device(source: str, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        unavailable("making a character device (mknod) needs root")
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    null.chmod(0o666)  # mknod applies the umask
    result = run("db", "dump", source, "--sql", "-o", str(null))
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(null.lstat().st_mode) and stat.S_IMODE(null.lstat().st_mode) == 0o666


@pytest.mark.parametrize("where", ["folder", "under a file", "broken link"])
def test_dump_to_a_path_that_cannot_be_a_file_is_refused(where: str, source: str, tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "plain").write_text("kept")
    (tmp_path / "link").symlink_to(tmp_path / "nowhere" / "x.sql")
    output = {"folder": tmp_path / "folder", "under a file": tmp_path / "plain" / "sub" / "x.sql",
              "broken link": tmp_path / "link"}[where]
    message = one_line_error(run("db", "dump", source, "-o", str(output)))
    expected = {"folder": "it is a folder", "under a file": "plain is not a folder",
                "broken link": "it is a broken symbolic link"}[where]
    assert f"cannot write {output}: " in message and expected in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "link", "plain", "source.db"]
    assert list((tmp_path / "folder").iterdir()) == [] and (tmp_path / "plain").read_text() == "kept"


def test_decrypt_to_a_fifo_or_a_folder(tmp_path: Path) -> None:
    identity = age.generate_identity()
    artifact = tmp_path / "a.age"
    artifact.write_bytes(age.encrypt_bytes(b"plain text", [identity.recipient()]))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader, received = _read_fifo(fifo)
    result = run("decrypt", "--key", identity.to_string(), str(artifact), "-o", str(fifo))
    reader.join(30)
    assert result.returncode == 0, result.stderr
    assert received == [b"plain text"] and stat.S_ISFIFO(fifo.lstat().st_mode)
    (tmp_path / "folder").mkdir()
    message = one_line_error(run("decrypt", "--key", identity.to_string(), str(artifact), "-o",
                                 str(tmp_path / "folder")))
    assert "it is a folder" in message


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/target.db", "mysql://root@127.0.0.1:1/target",
                                 "postgresql://postgres@127.0.0.1:1/target"])
@pytest.mark.parametrize("what", ["folder", "fifo", "/dev/null"])
def test_load_names_what_the_file_is(url: str, what: str, tmp_path: Path) -> None:
    path = {"folder": tmp_path / "folder", "fifo": tmp_path / "pipe", "/dev/null": Path("/dev/null")}[what]
    if what == "folder":
        path.mkdir()
    elif what == "fifo":
        os.mkfifo(path)
    message = one_line_error(run("db", "load", url.format(tmp=tmp_path), str(path), "--yes"))
    assert "not found" not in message
    assert {"folder": "it is a folder", "fifo": "it is a FIFO (named pipe); give - to read",
            "/dev/null": "it is a character device"}[what] in message
    assert not (tmp_path / "target.db").exists()


def test_user_output_still_replaces_a_regular_file_atomically(tmp_path: Path) -> None:
    from synco_core.fsutil import user_output

    target = tmp_path / "new" / "out.sql"
    with user_output(target, private=True) as out:
        out.write(b"data")
        assert not target.exists()
    assert target.read_bytes() == b"data" and stat.S_IMODE(target.stat().st_mode) == 0o600
