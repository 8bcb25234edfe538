"""Helpers for the ``synco pull`` tests: a fixture project, a test plugin the remote side can load, and sshd.

The remote side of a pull is another process (started through ssh, or a docker/kubectl shim), so the test
framework plugin cannot be registered in-process: it is written as a tiny distribution (a module plus a
``.dist-info`` with an entry point in the ``synco`` group) into a folder that goes on the remote side's
``PYTHONPATH``. Its project is marked by ``synco-pulltest.json`` and has a SQLite database (and the named
ones its ``named`` lists), public files under ``public/uploads`` and private files under ``storage``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from synco_core.testing.services import free_port, listens, require_tool, unavailable

SHIMS = Path(__file__).parent / "shims"

PLUGIN_SOURCE = '''\
"""Test framework plugin of the pull tests: a project marked by synco-pulltest.json."""
import json
from synco_core import DatabaseConfig, FileSet, Framework, hookimpl
from synco_core.dburl import parse_database_url

MARKER = "synco-pulltest.json"


@hookimpl
def detect_framework(project_dir):
    marker = project_dir / MARKER
    if not marker.is_file():
        return None
    config = json.loads(marker.read_text())
    if "sqlite" in config:
        database = DatabaseConfig(engine="sqlite", name=str(project_dir / config["sqlite"]))
    else:
        database = parse_database_url(config["database_url"])
    named = {name: DatabaseConfig(engine="sqlite", name=str(project_dir / path))
             for name, path in config.get("named", {}).items()}
    return Framework(name="PullTest", plugin="pulltest", project_dir=project_dir, database=database,
                     databases=named, web_root=project_dir / "public", priority=1, reason=MARKER)


@hookimpl
def list_file_sets(framework):
    if framework.plugin != "pulltest":
        return None
    root = framework.project_dir
    # Exclude rules of both kinds, when the marker names them (the tests of what a laptop keeps).
    config = json.loads((root / MARKER).read_text())
    rules = {"exclude": tuple(config.get("exclude", ())), "regenerated": tuple(config.get("regenerated", ()))}
    return [
        FileSet(name="uploads", kind="public", root=root / "public" / "uploads", url_prefix="uploads/",
                relative_base_path="public/uploads", **rules),
        FileSet(name="private", kind="private", root=root / "storage", relative_base_path="storage", **rules),
    ]
'''


def write_plugin(folder: Path) -> Path:
    """Write the test plugin distribution into ``folder``; returns the folder (for PYTHONPATH)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "synco_pulltest.py").write_text(PLUGIN_SOURCE)
    info = folder / "synco_pulltest-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: synco-pulltest\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[synco]\npulltest = synco_pulltest\n")
    return folder


def remote_environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment of a pull whose remote side runs here through the shims: the test plugin on its path,
    a fresh temporary folder, this interpreter as the remote python; ``settings`` added or replaced."""
    remote_tmp = tmp_path / "remote-tmp"
    remote_tmp.mkdir()
    return {
        **os.environ,
        "PATH": f"{SHIMS}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(write_plugin(tmp_path / "plugin")),
        "TMPDIR": str(remote_tmp),
        "SYNCO_SHIM_LOG": str(tmp_path / "shim.log"),
        # The remote side runs this interpreter's synco module (no reliance on a synco script on PATH).
        "SYNCO_REMOTE_PYTHON": sys.executable,
        **settings,
    }


@dataclass
class Project:
    """A fixture application on the "remote" side."""

    root: Path
    rows: int

    @property
    def database(self) -> Path:
        return self.root / "db.sqlite"

    def public_files(self) -> dict[str, bytes]:
        base = self.root / "public" / "uploads"
        return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}

    def private_files(self) -> dict[str, bytes]:
        base = self.root / "storage"
        return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def make_project(root: Path, public_files: int = 5, rows: int = 500, blob_bytes: int = 0,
                 private_bytes: int = 2000) -> Project:
    """A SQLite app with public and private files (binary content, odd names, nested folders)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "synco-pulltest.json").write_text('{"sqlite": "db.sqlite"}')
    uploads = root / "public" / "uploads"
    (uploads / "nested" / "deeper").mkdir(parents=True, exist_ok=True)
    for i in range(public_files):
        folder = uploads / ("nested/deeper" if i % 3 == 2 else "nested" if i % 3 == 1 else "")
        (folder / f"file {i}.bin").write_bytes(os.urandom(1000 + i * 37) + bytes(range(256)))
    (root / "public" / ".env").write_text("SECRET=do-not-serve\n")
    (root / "public" / "index.php").write_text("<?php echo 'hi';\n")
    storage = root / "storage" / "app"
    storage.mkdir(parents=True, exist_ok=True)
    (storage / "invoice.pdf").write_bytes(os.urandom(private_bytes))
    (storage / "notes ü.txt").write_text("private notes\n")
    (root / ".env").write_text("APP_KEY=base64:secret\n")
    connection = sqlite3.connect(root / "db.sqlite")
    with connection:
        connection.execute("CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT, body BLOB)")
        connection.executemany(
            "INSERT INTO posts (title, body) VALUES (?, ?)",
            ((f"post {i}", os.urandom(blob_bytes) if blob_bytes else b"\x00\x01binary") for i in range(rows)),
        )
    connection.close()
    return Project(root=root, rows=rows)


def tree_digest(folder: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file below ``folder``."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def row_count(database: Path) -> int:
    connection = sqlite3.connect(database)
    try:
        return int(connection.execute("SELECT COUNT(*) FROM posts").fetchone()[0])
    finally:
        connection.close()


@dataclass
class Sshd:
    """A running sshd on 127.0.0.1 and the client settings to reach it."""

    port: int
    key: Path
    remote_tmp: Path
    plugin_dir: Path
    user: str

    @property
    def ssh_command(self) -> str:
        return (f"ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "
                f"-i {self.key}")

    def url(self, path: Path | str) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{path}"

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env["SYNCO_SSH_COMMAND"] = self.ssh_command
        env.pop("SYNCO_SSH_OPTIONS", None)
        env.update(extra)
        return env


def wait_listening(process: subprocess.Popen[bytes], port: int, name: str) -> str | None:
    """None once ``process`` listens on ``port``, else what it said before it ended."""
    # The bound only catches a hang: a loaded machine may take seconds to start a server.
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            if process.stdout is not None:
                process.stdout.close()
            return output.strip() or f"it ended with status {process.returncode}"
        # Its own listener, not another server's that took the port first.
        if listens(process.pid, port):
            return None
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"{name} did not start listening within 30 s")
        time.sleep(0.05)


def start_on_free_port(start: Callable[[int], subprocess.Popen[bytes]],
                       name: str) -> tuple[subprocess.Popen[bytes], int]:
    """The server ``start(port)`` launches, listening on a free port of 127.0.0.1, and that port.

    A port found free may be taken by another test's server before this one binds it: a few attempts, each on
    another port; any other failure to start is raised at once."""
    said: str | None = "no attempt"
    for _attempt in range(5):
        port = free_port()
        process = start(port)
        said = wait_listening(process, port, name)
        if said is None:
            return process, port
        if "Address already in use" not in said:
            break
    raise RuntimeError(f"{name} did not start: {said}")


@contextlib.contextmanager
def run_sshd(base: Path, plugin_dir: Path, wrapper: Sequence[str] = (), listen: str = "127.0.0.1",
             settings: str = "") -> Iterator[Sshd]:
    """Start sshd with its own host key, client key and config in ``base``, listening on ``listen`` (``::1`` for
    IPv6), with ``settings`` (sshd_config lines) added; stop it afterwards.

    ``wrapper``: words run in front of sshd, which must exec it in the end (``unshare -m sh -c '...; exec "$@"'``
    gives its sessions their own mounts)."""
    binary = require_tool("sshd", "openssh-server")
    base.mkdir(parents=True, exist_ok=True)
    host_key = base / "host_ed25519"
    client_key = base / "client_ed25519"
    for key in (host_key, client_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    (base / "authorized_keys").write_text((base / "client_ed25519.pub").read_text())
    os.chmod(base / "authorized_keys", 0o600)
    remote_tmp = base / "remote-tmp"
    remote_tmp.mkdir()
    user = os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    config = base / "sshd_config"
    # PATH: the remote login sees the interpreter that runs the tests first (its synco, when installed).
    remote_path = f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)

    def launch(port: int) -> subprocess.Popen[bytes]:
        config.write_text(
            f"Port {port}\nListenAddress {listen}\nHostKey {host_key}\nPidFile {base / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {base / 'authorized_keys'}\nStrictModes no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin yes\nUsePAM no\n"
            f"SetEnv PYTHONPATH={plugin_dir} TMPDIR={remote_tmp} PATH={remote_path}\n"
            "PermitUserEnvironment no\nLogLevel ERROR\n" + settings
        )
        return subprocess.Popen([*wrapper, binary, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    process, port = start_on_free_port(launch, "sshd")
    try:
        yield Sshd(port=port, key=client_key, remote_tmp=remote_tmp, plugin_dir=plugin_dir, user=user)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def run_synco(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``synco ARGS`` in a subprocess (the real console entry point of this interpreter)."""
    return subprocess.run([sys.executable, "-c", "from synco_core.cli.main import main; main()", *args],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def latin1_locale(folder: Path, language: str = "de_DE") -> dict[str, str]:
    """The environment of a host whose locale is ISO-8859-1, built into ``folder`` (no system change)."""
    localedef = require_tool("localedef", "libc-bin")
    name = f"{language}.ISO-8859-1"
    folder.mkdir()
    result = subprocess.run([localedef, "-i", language, "-f", "ISO-8859-1", str(folder / name)],
                            capture_output=True, text=True, check=False)
    if not (folder / name).is_dir():
        unavailable(f"cannot build an ISO-8859-1 locale (the Debian package locales has its sources): "
                    f"{result.stderr.strip()}")
    return {"LOCPATH": str(folder), "LANG": name, "LC_ALL": name}
