"""``synco install``: a received folder into a local project, all or nothing, with the SQLite engine."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from synco_core import Framework, ReceivedFileSet, hookimpl
from synco_core.cli.main import cli
from synco_core.dburl import parse_database_url
from synco_core.errors import ConfigError, SyncoError
from synco_core.install import install_received, load_received, plan_install


def _make_db(path: Path, rows: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO items (name) VALUES (?)", [(f"item {i}",) for i in range(rows)])
    conn.commit()
    conn.close()


def _count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])
    finally:
        conn.close()


class LocalApp:
    """A test framework: a marker file, an SQLite database and two file folders."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.fail_on = fail_on

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        if not (project_dir / "localapp.marker").exists():
            return None
        database = parse_database_url("sqlite:///app.db", base_dir=project_dir)
        return Framework(name="LocalApp", plugin="localapp", project_dir=project_dir, database=database,
                         reason="localapp.marker", post_install=[["sh", "-c", "echo done > post-install.txt"]])

    @hookimpl(tryfirst=True)
    def install_files(self, framework: Framework, file_set: ReceivedFileSet, source_dir: Path) -> None:
        if file_set.name == self.fail_on:
            raise SyncoError(f"disk full while installing {file_set.name}")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "files" / "public").mkdir(parents=True)
    (project / "localapp.marker").write_text("")
    (project / "files" / "public" / "old.txt").write_text("old public")
    (project / "private").mkdir()
    (project / "private" / "old-secret.txt").write_text("old private")
    _make_db(project / "app.db", 3)
    return project


@pytest.fixture
def received(tmp_path: Path) -> Path:
    folder = tmp_path / "dump"
    (folder / "Uploads").mkdir(parents=True)
    (folder / "Uploads" / "new.txt").write_text("new public")
    (folder / "Private").mkdir()
    (folder / "Private" / "new-secret.txt").write_text("new private")
    _make_db(folder / "dbDump.sqlite", 5)
    record: dict[str, Any] = {
        "version": 1,
        "session": "abc",
        "frameworkName": "LocalApp",
        "fileSets": [
            {"name": "dbDump", "kind": "database", "path": "dbDump.sqlite", "engine": "sqlite", "format": "sqlite",
             "tables": {"items": {"rows": 5}}, "sanitizeRules": ["users.email -> email"]},
            {"name": "Uploads", "kind": "public", "path": "Uploads", "relativeBasePath": "files/public"},
            {"name": "Private", "kind": "private", "path": "Private", "relativeBasePath": "private"},
        ],
    }
    (folder / ".synco-received.json").write_text(json.dumps(record))
    return folder


def test_install_replaces_database_and_files(plugin_manager: Any, register_plugin: Any, project: Path,
                                             received: Path) -> None:
    register_plugin(LocalApp(), "localapp")
    lines: list[str] = []
    report = install_received(received, project, yes=True, echo=lines.append)
    assert _count(project / "app.db") == 5
    assert (project / "files" / "public" / "new.txt").read_text() == "new public"
    assert not (project / "files" / "public" / "old.txt").exists()
    assert (project / "private" / "new-secret.txt").exists()
    assert report.database is not None and report.database.backup
    assert len(report.files) == 2
    # Post-install steps are printed, not run, unless asked for.
    assert not (project / "post-install.txt").exists()
    assert any("post-install" in line for line in lines)


def test_install_runs_post_install_when_asked(plugin_manager: Any, register_plugin: Any, project: Path,
                                              received: Path) -> None:
    register_plugin(LocalApp(), "localapp")
    install_received(received, project, yes=True, post_install=True, echo=lambda _: None)
    assert (project / "post-install.txt").read_text().strip() == "done"


def test_failed_install_leaves_everything_as_it_was(plugin_manager: Any, register_plugin: Any, project: Path,
                                                     received: Path) -> None:
    register_plugin(LocalApp(fail_on="Private"), "localapp")
    with pytest.raises(SyncoError, match="disk full"):
        install_received(received, project, yes=True, echo=lambda _: None)
    # The database was installed first and the public files second: both are put back.
    assert _count(project / "app.db") == 3
    assert (project / "files" / "public" / "old.txt").read_text() == "old public"
    assert not (project / "files" / "public" / "new.txt").exists()
    assert (project / "private" / "old-secret.txt").exists()


def test_install_asks_and_refuses_without_confirmation(plugin_manager: Any, register_plugin: Any, project: Path,
                                                        received: Path) -> None:
    register_plugin(LocalApp(), "localapp")
    questions: list[str] = []

    def no(question: str) -> bool:
        questions.append(question)
        return False

    with pytest.raises(SyncoError, match="not confirmed"):
        install_received(received, project, confirm=no, echo=lambda _: None)
    assert "replace database" in questions[0] and "sanitised at the source" in questions[0]
    assert _count(project / "app.db") == 3
    with pytest.raises(SyncoError, match="--yes"):
        install_received(received, project, confirm=None, echo=lambda _: None)


def test_install_refuses_a_remote_database(plugin_manager: Any, register_plugin: Any, project: Path,
                                           received: Path) -> None:
    class RemoteApp(LocalApp):
        @hookimpl
        def detect_framework(self, project_dir: Path) -> Framework | None:
            database = parse_database_url("mysql://app:secret@db.example.com/app")
            return Framework(name="RemoteApp", plugin="remoteapp", project_dir=project_dir, database=database,
                             reason="test")

    register_plugin(RemoteApp(), "remoteapp")
    with pytest.raises(ConfigError, match="force-remote-target") as info:
        install_received(received, project, framework_name="remoteapp", yes=True, echo=lambda _: None)
    assert "secret" not in str(info.value)


def test_plan_lists_steps_and_missing_data_is_an_error(plugin_manager: Any, register_plugin: Any, project: Path,
                                                       received: Path) -> None:
    register_plugin(LocalApp(), "localapp")
    from synco_core.detection import detect

    framework = detect(project)
    plan = plan_install(load_received(received), framework)
    assert [s.kind for s in plan.steps] == ["database", "files", "files"]
    assert plan.to_json()["steps"][1]["target"].endswith("files/public")
    (received / "Uploads" / "new.txt").unlink()
    (received / "Uploads").rmdir()
    with pytest.raises(ConfigError, match="Uploads"):
        plan_install(load_received(received), framework)


def test_install_cli(plugin_manager: Any, register_plugin: Any, project: Path, received: Path) -> None:
    register_plugin(LocalApp(), "localapp")
    runner = CliRunner()
    result = runner.invoke(cli, ["install", str(received), "--project", str(project), "--plan", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["framework"] == "LocalApp"
    result = runner.invoke(cli, ["install", str(received), "--project", str(project), "--yes"])
    assert result.exit_code == 0, result.output
    assert _count(project / "app.db") == 5
    result = runner.invoke(cli, ["install", str(project / "nothing"), "--project", str(project), "--yes"])
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error:") and len(result.output.strip().splitlines()) == 1
