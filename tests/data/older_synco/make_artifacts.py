"""Make the laptop-side artifacts of an older synco, for tests/test_older_synco_artifacts.py.

Run from a checkout with its virtual environment: ``.venv/bin/python tests/data/older_synco/make_artifacts.py
COMMIT...``. For each commit, the older synco's tree is taken out of git (``git archive``, no worktree) and
run with its own core and plugins first on ``PYTHONPATH`` (the environment's packages for the rest): it
serves a small SQLite project, and a laptop project receives and installs it (``receive --install``), and
installs it once more killed half-way (a journal left). The laptop and receive folders are packed into
``<commit>.tar.gz`` with the absolute root written as ``@ROOT@``, which the tests put back.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT_MARK = "@ROOT@"
#: Where the older synco's install is killed for the journal it leaves (a point every version with a journal has).
KILL_POINT = "install:journal:files-started#1"


def run(source: Path, *args: str, cwd: Path, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SYNCO_DEBUG_KILL_AT"}
    env["PYTHONPATH"] = os.pathsep.join([str(source), *(str(p) for p in sorted((source / "plugins").iterdir()))])
    if kill_at:
        env["SYNCO_DEBUG_KILL_AT"] = kill_at
    return subprocess.run([sys.executable, "-m", "synco_core", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=300, check=False)


def project(folder: Path, title: str, media: dict[str, str], private: dict[str, str]) -> None:
    database = folder / "db" / "app.db"
    database.parent.mkdir(parents=True)
    with contextlib.closing(sqlite3.connect(database)) as conn:
        conn.execute("CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT)")
        conn.execute("INSERT INTO posts VALUES (1, ?)", (title,))
        conn.commit()
    for base, files in (("public/media", media), ("var/storage", private)):
        for name, text in files.items():
            (folder / base / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / base / name).write_text(text)
    (folder / ".synco.yml").write_text(
        f"serve:\n  database: sqlite:///{database}\n  web_root: public\n  file_sets:\n"
        "    - name: media\n      path: public/media\n      public: true\n"
        "    - name: private\n      path: var/storage\n")


@contextlib.contextmanager
def web_server(root: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def make(commit: str) -> Path:
    with tempfile.TemporaryDirectory(prefix="synco-older-") as scratch:
        source, root = Path(scratch, "source"), Path(scratch, "root")
        source.mkdir()
        # From the checkout's root: git archive run in a subfolder packs only that folder.
        archive = subprocess.run(["git", "-C", str(HERE.parents[2]), "archive", commit], capture_output=True,
                                 check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(source, filter="data")
        server, laptop = root / "server", root / "laptop"
        project(server, "server", {"a.txt": "a from the server", "img/logo.png": "logo"}, {"invoice.pdf": "pdf"})
        project(laptop, "laptop", {"mine.txt": "the laptop's own"}, {"local.pdf": "the laptop's pdf"})
        served = run(source, "serve", "--keep", "--id", "older", "--password", "older-pw", cwd=server)
        assert served.returncode == 0, served.stderr
        with web_server(server / "public") as url:
            received = run(source, "receive", "synco-older", "older-pw", "--base-url", url, "--all", "--target",
                           str(root / "dump"), "--install", "--yes", cwd=laptop)
        assert received.returncode == 0, received.stderr
        # A second project, its install killed half-way by the older synco: its journal is left.
        killed = root / "killed"
        project(killed, "killed", {"mine.txt": "the killed project's own"}, {"local.pdf": "its pdf"})
        run(source, "install", str(root / "dump"), "--yes", cwd=killed, kill_at=KILL_POINT)
        out = HERE / f"{commit}.tar.gz"
        with tarfile.open(out, "w:gz") as tar:
            for folder in ("laptop", "dump", "killed"):
                for path in sorted((root / folder).rglob("*")):
                    name = path.relative_to(root).as_posix()
                    info = tar.gettarinfo(path, name)
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    info.mtime = int(info.mtime)
                    if path.is_file() and not path.is_symlink() and path.suffix in ("", ".json", ".yml"):
                        data = path.read_bytes().replace(str(root).encode(), ROOT_MARK.encode())
                        info.size = len(data)
                        tar.addfile(info, io.BytesIO(data))
                    else:
                        tar.addfile(info, path.open("rb") if info.isfile() else None)
        shutil.rmtree(root)
    return out


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(make(name))
