"""Shared pieces of the receive --install / --plan / chooser tests.

- :class:`LocalProject`: a local project recognised by a marker file that holds its database URL, so a
  test can point the local instance at any throw-away database; it can be told to fail while installing
  one file set (to break an install in the middle).
- :class:`MysqlSource`: a source application on a real MariaDB database, with one public file set and a
  sanitising rule, dumped by the built-in MySQL engine.
- :class:`PtyProcess`: the real ``synco`` process on a pseudo-terminal, driven by key presses, for the
  interactive parts (checkbox chooser, confirmation prompts) that only exist in a terminal.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
import time
from pathlib import Path

from test_transfer_support import FixturePlugin  # noqa: F401 - re-exported for the scripts below

from synco_core import hookimpl
from synco_core.dburl import parse_database_url
from synco_core.errors import SyncoError
from synco_core.values import (
    DumpOptions,
    FileSet,
    FileSetOptions,
    FilesInstallResult,
    Framework,
    ReceivedFileSet,
    SanitizeRule,
)

LOCAL_MARKER = "local-project.url"
MYSQL_MARKER = "mysql-source.url"


class LocalProject:
    """The laptop's project: ``local-project.url`` holds the database URL (relative SQLite paths allowed)."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.fail_on = fail_on

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        marker = project_dir / LOCAL_MARKER
        if not marker.exists():
            return None
        database = parse_database_url(marker.read_text().strip(), base_dir=project_dir)
        return Framework(name="LocalProject", plugin="localproject", project_dir=project_dir, database=database,
                         reason=f"{LOCAL_MARKER} found",
                         post_install=[[sys.executable, "-c", "open('post-install.txt', 'w').write('done')"]])

    @hookimpl
    def list_file_sets(self, framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
        # Where this project keeps the sets the test sources send: an install puts them nowhere else.
        if framework.plugin != "localproject":
            return None
        web = framework.project_dir / "web"
        return [FileSet(name="uploads", kind="public", root=web / "uploads", relative_base_path="web/uploads"),
                FileSet(name="thumbs", kind="public", root=web / "thumbs", relative_base_path="web/thumbs"),
                FileSet(name="private", kind="private", root=framework.project_dir / "private",
                        relative_base_path="private")]

    @hookimpl(tryfirst=True)
    def install_files(self, framework: Framework, file_set: ReceivedFileSet,
                      source_dir: Path) -> FilesInstallResult | None:
        if file_set.name == self.fail_on:
            raise SyncoError(f"disk full while installing {file_set.name}")
        return None  # The built-in files installer does the real work.


class MysqlSource:
    """A source app on MariaDB: ``mysql-source.url`` holds the URL; ``users.email`` is sanitised."""

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        marker = project_dir / MYSQL_MARKER
        if not marker.exists():
            return None
        return Framework(
            name="MysqlSource", plugin="mysqlsource", project_dir=project_dir,
            database=parse_database_url(marker.read_text().strip()), web_root=project_dir / "web",
            reason=f"{MYSQL_MARKER} found",
            dump_options=DumpOptions(sanitize=(SanitizeRule("users", "email", transform="email"),)),
        )

    @hookimpl
    def list_file_sets(self, framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
        if framework.plugin != "mysqlsource":
            return None
        return [FileSet(name="uploads", kind="public", root=framework.project_dir / "web" / "uploads",
                        url_prefix="uploads/", relative_base_path="web/uploads")]


# --------------------------------------------------------------------------------------------- pty

SYNCO_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from synco_core.plugins import build_plugin_manager, set_plugin_manager
from test_receive_support import LocalProject
manager = build_plugin_manager(load_entrypoints=False)
manager.register(LocalProject(), "localproject")
set_plugin_manager(manager)
from synco_core.cli.main import cli
cli(sys.argv[1:], prog_name="synco")
"""


def synco_argv(*args: str) -> list[str]:
    """``synco ARGS`` in a subprocess, with the :class:`LocalProject` plugin registered."""
    return [sys.executable, "-c", SYNCO_SCRIPT.format(tests=str(Path(__file__).parent)), *args]


class PtyProcess:
    """A process whose stdin, stdout and stderr are one pseudo-terminal; everything it prints is collected."""

    def __init__(self, argv: list[str], cwd: Path, term: str = "xterm") -> None:
        master, slave = pty.openpty()
        env = dict(os.environ, TERM=term, COLUMNS="120", LINES="40")
        env.pop("CI", None)  # Some libraries turn terminal features off under CI.
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                                     start_new_session=True)
        os.close(slave)
        self.master = master
        self._output = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO: the other side is closed.
                return
            if not chunk:
                return
            with self._lock:
                self._output.extend(chunk)

    @property
    def output(self) -> str:
        with self._lock:
            return self._output.decode("utf-8", "replace")

    def expect(self, text: str, timeout: float = 30.0) -> None:
        """Wait until ``text`` has been printed (fails with everything printed so far)."""
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.proc.poll() is not None and text not in self.output:
                self._reader.join(timeout=2)
                if text in self.output:
                    return
                raise AssertionError(f"process ended ({self.proc.returncode}) before {text!r}:\n{self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {text!r}:\n{self.output}")
            time.sleep(0.02)

    def send(self, data: str) -> None:
        os.write(self.master, data.encode())

    def wait(self, timeout: float = 60.0) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        os.close(self.master)
        return code


def test_pty_process_sees_a_terminal(tmp_path: Path) -> None:
    process = PtyProcess([sys.executable, "-c", "import sys; print(sys.stdin.isatty(), sys.stderr.isatty()); "
                          "print(input('name? '))"], tmp_path)
    process.expect("name? ")
    process.send("synco\r")
    assert process.wait() == 0
    assert "True True" in process.output and "synco" in process.output.split("name? ", 1)[1]
