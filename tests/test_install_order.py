"""A SQLite database inside a folder a file set replaces (Rails 7.1+ keeps ``storage/development.sqlite3``
in Active Storage's root) is in place before that folder is swapped, even while it loads in the background.

``receive --install --yes`` starts loading the database as soon as it has arrived and installs the files
meanwhile; a files step that swapped the folder holding the database file while the engine was still
writing it would lose the new database (or put it into the replaced folder). The install waits for that
database first. The database load is slowed down here, so the order is what decides, not the timing.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from click.testing import CliRunner

from synco_core import (
    DatabaseConfig,
    ExcludeMatcher,
    FileSet,
    FileSetOptions,
    FilesInstallResult,
    Framework,
    InstallOptions,
    ReceivedFileSet,
    hookimpl,
    install_tree,
)
from synco_core.cli.main import cli
from synco_core.plugins import SyncoPluginManager

Register = Callable[[object, str], None]
SQLITE = "*.db*"


class StorageApp:
    """An application whose SQLite database lives in ``storage/``, the folder of its private file set."""

    def __init__(self) -> None:
        self.loading_when_swapped: bool | None = None

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        if not (project_dir / "storage-app").exists():
            return None
        return Framework(name="StorageApp", plugin="storage-app", project_dir=project_dir, reason="storage-app",
                         database=DatabaseConfig(engine="sqlite", name=str(project_dir / "storage/app.db")),
                         web_root=project_dir / "public")

    @hookimpl
    def list_file_sets(self, framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
        if framework.plugin != "storage-app":
            return None
        return [FileSet(name="blobs", kind="private", root=framework.project_dir / "storage",
                        relative_base_path="storage", exclude=(SQLITE,))]

    @hookimpl(tryfirst=True)
    def install_files(self, framework: Framework, file_set: ReceivedFileSet,
                      source_dir: Path) -> FilesInstallResult | None:
        if framework.plugin != "storage-app" or file_set.name != "blobs":
            return None
        self.loading_when_swapped = any(t.name == "synco-install-database" and t.is_alive()
                                        for t in threading.enumerate())
        destination = framework.project_dir / "storage"
        matcher = ExcludeMatcher((SQLITE,))
        return install_tree(source_dir, destination, [p.name for p in destination.iterdir() if matcher(p.name)])


class SlowDatabaseInstall:
    """Holds every database install back for a moment, as a big dump would."""

    @hookimpl(wrapper=True)
    def install_database(self, database: DatabaseConfig, dump: BinaryIO, options: InstallOptions) -> Iterator[Any]:
        time.sleep(1.0)
        return (yield)


def project(root: Path, label: str) -> Path:
    (root / "storage/ab").mkdir(parents=True)
    (root / "public").mkdir()
    (root / "storage-app").touch()
    (root / f"storage/ab/blob-{label}").write_text(f"blob of {label}\n")
    with sqlite3.connect(root / "storage/app.db") as conn:
        conn.execute("CREATE TABLE items (name TEXT)")
        conn.execute("INSERT INTO items VALUES (?)", (f"item of {label}",))
    conn.close()
    return root


def test_files_wait_for_a_sqlite_database_loading_inside_them(plugin_manager: SyncoPluginManager,
                                                              register_plugin: Register, tmp_path: Path,
                                                              web_server: Callable[[Path], str],
                                                              monkeypatch: Any) -> None:
    app = StorageApp()
    register_plugin(app, "storage-app")
    register_plugin(SlowDatabaseInstall(), "slow-install")
    source, local = project(tmp_path / "source", "source"), project(tmp_path / "local", "local")
    monkeypatch.chdir(source)
    served = CliRunner().invoke(cli, ["serve", "--keep"])
    assert served.exit_code == 0, served.output
    match = re.search(r"synco receive (\S+) (AGE-SECRET-KEY-\S+)", served.output)
    assert match
    monkeypatch.chdir(local)
    got = CliRunner().invoke(cli, ["receive", match.group(1), match.group(2), "--base-url",
                                   web_server(source / "public"), "--all", "--target", str(tmp_path / "received"),
                                   "--install", "--yes"])
    assert got.exit_code == 0, got.output
    assert app.loading_when_swapped is False, "the folder was swapped while its database was still loading"
    with sqlite3.connect(local / "storage/app.db") as conn:
        assert conn.execute("SELECT name FROM items").fetchall() == [("item of source",)]
    conn.close()
    assert (local / "storage/ab/blob-source").read_text() == "blob of source\n"
    assert not (local / "storage/ab/blob-local").exists()
