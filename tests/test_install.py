"""``synco install``: a received folder into a local project, all or nothing, with the SQLite engine."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from synco_core import FileSet, FileSetOptions, Framework, ReceivedFileSet, hookimpl
from synco_core.cli.main import cli
from synco_core.dburl import parse_database_url
from synco_core.errors import ConfigError, DatabaseError, SyncoError
from synco_core.install.plan import check_target, load_received, plan_install
from synco_core.install.run import install_received
from synco_core.sizes import human_size
from synco_core.testing.services import mysql_admin_connection, unavailable


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

    @hookimpl
    def list_file_sets(self, framework: Framework, options: FileSetOptions) -> list[FileSet]:
        # Where the sets live locally: an install puts a received set there, whatever the session says.
        return [FileSet(name="Uploads", kind="public", relative_base_path="files/public"),
                FileSet(name="Private", kind="private", relative_base_path="private"),
                FileSet(name="Extra", kind="public", relative_base_path="extra")]

    @hookimpl(tryfirst=True)
    def install_files(self, framework: Framework, file_set: ReceivedFileSet, source_dir: Path) -> None:
        if file_set.name == self.fail_on:
            raise SyncoError(f"disk full while installing {file_set.name}")


def local_project(tmp_path: Path) -> Path:
    """A :class:`LocalApp` project: its SQLite database holds ``items`` (3 rows), a public and a private file."""
    project = tmp_path / "project"
    (project / "files" / "public").mkdir(parents=True)
    (project / "localapp.marker").write_text("")
    (project / "files" / "public" / "old.txt").write_text("old public")
    (project / "private").mkdir()
    (project / "private" / "old-secret.txt").write_text("old private")
    _make_db(project / "app.db", 3)
    return project


def received_folder(tmp_path: Path) -> Path:
    """A received session for :class:`LocalApp`: its dump holds ``items`` (5 rows), a public and a private set."""
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


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return local_project(tmp_path)


@pytest.fixture
def received(tmp_path: Path) -> Path:
    return received_folder(tmp_path)


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


def test_install_question_shows_what_is_there_now(plugin_manager: Any, register_plugin: Any, project: Path,
                                                  received: Path) -> None:
    """Beside each incoming size, the size of the local folder or database it replaces (issue 8)."""
    register_plugin(LocalApp(), "localapp")
    (project / "files" / "public" / "sub").mkdir()
    (project / "files" / "public" / "sub" / "more.bin").write_bytes(b"x" * 3000)
    shutil.rmtree(project / "private")
    conn = sqlite3.connect(project / "app.db")
    try:
        db_bytes = sum(size for (size,) in conn.execute("SELECT pgsize FROM dbstat WHERE name = 'items'"))
    except sqlite3.OperationalError:
        unavailable("this SQLite has no dbstat table, so the engine reports no table sizes")
    finally:
        conn.close()
    questions: list[str] = []
    with pytest.raises(SyncoError, match="not confirmed"):
        install_received(received, project, confirm=_declining(questions), echo=lambda _: None)
    lines = questions[0].splitlines()

    def current_of(target: str) -> str:
        [index] = [i for i, line in enumerate(lines) if line.startswith("  replace ") and f" {target}  <- " in line]
        assert lines[index + 1].startswith("      current: "), lines
        return lines[index + 1].removeprefix("      current: ")

    assert current_of(str(project / "files" / "public")) == human_size(len("old public") + 3000)
    assert current_of(str(project / "private")) == "nothing (the folder does not exist yet)"
    assert current_of(f"sqlite:///{project / 'app.db'}") == f"{human_size(db_bytes)} in 1 table"

    # The same numbers in `synco install --plan --json`, which changes nothing.
    result = CliRunner().invoke(cli, ["install", str(received), "--project", str(project), "--plan", "--json"])
    assert result.exit_code == 0, result.output
    steps = {s["name"]: s for s in json.loads(result.stdout)["steps"]}
    assert steps["Uploads"]["currentSizeBytes"] == len("old public") + 3000
    assert steps["Private"]["currentSizeBytes"] == 0
    assert steps["dbDump"]["currentSizeBytes"] == db_bytes
    assert _count(project / "app.db") == 3 and not (project / "private").exists()


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

    # With the flag, the remote target gets through the check and on to the question.
    from synco_core.detection import detect

    check_target(detect(project, "remoteapp"), force_remote_target=True)
    questions: list[str] = []
    with pytest.raises(SyncoError, match=r"not confirmed.*--yes to install"):
        install_received(received, project, framework_name="remoteapp", force_remote_target=True,
                         confirm=_declining(questions), echo=lambda _: None)
    assert "mysql://app:***@db.example.com" in questions[0]
    runner = CliRunner()
    base = ["install", str(received), "--project", str(project), "--framework", "remoteapp"]
    refused = runner.invoke(cli, base)
    assert refused.exit_code == 1 and "refusing to replace" in refused.output
    asked = runner.invoke(cli, [*base, "--force-remote-target"])
    assert asked.exit_code == 1 and "not confirmed" in asked.output and "refusing" not in asked.output


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


@pytest.mark.parametrize(("ddev_folder", "is_ddev_project", "hint"), [
    (".", None, True), ("..", None, True), (".", "true", False), (None, None, False)])
def test_no_local_database_in_a_ddev_project_says_where_to_run_synco(
        plugin_manager: Any, register_plugin: Any, project: Path, received: Path, monkeypatch: pytest.MonkeyPatch,
        ddev_folder: str | None, is_ddev_project: str | None, hint: bool) -> None:
    """On the laptop outside DDEV's containers, the site's settings load no database (DDEV's are included only
    with IS_DDEV_PROJECT=true): the refusal says so and where to run synco, in one line."""
    register_plugin(LocalApp(), "localapp")
    from synco_core.detection import detect

    framework = detect(project)
    framework.database = None
    if ddev_folder is not None:
        (project / ddev_folder / ".ddev").mkdir()
        (project / ddev_folder / ".ddev" / "config.yaml").write_text("name: shop\ntype: wordpress\n")
    monkeypatch.delenv("IS_DDEV_PROJECT", raising=False)
    if is_ddev_project:
        monkeypatch.setenv("IS_DDEV_PROJECT", is_ddev_project)
    with pytest.raises(ConfigError, match="no database configured to install into") as refused:
        plan_install(load_received(received), framework)
    assert ("ddev exec synco" in str(refused.value)) is hint
    assert "\n" not in str(refused.value)


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


def _declining(questions: list[str]) -> Any:
    """A confirm callback that records the question and says no."""

    def no(question: str) -> bool:
        questions.append(question)
        return False

    return no


def _rollback(project: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    """``synco db rollback ARGS`` run in ``project`` (no URL: the project's last install)."""
    monkeypatch.chdir(project)
    return CliRunner().invoke(cli, ["db", "rollback", *args])


def test_rollback_puts_back_the_database_and_the_folders(plugin_manager: Any, register_plugin: Any, project: Path,
                                                         received: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    register_plugin(LocalApp(), "localapp")
    record = json.loads((received / ".synco-received.json").read_text())
    # A set into a folder the project does not have yet: rolling back removes it again.
    record["fileSets"].append({"name": "Extra", "kind": "public", "path": "Uploads", "relativeBasePath": "extra"})
    (received / ".synco-received.json").write_text(json.dumps(record))
    lines: list[str] = []
    install_received(received, project, yes=True, echo=lines.append)
    assert any("synco db rollback" in line for line in lines)
    state = json.loads((project / ".synco-install.json").read_text())
    assert [f["path"] for f in state["folders"]] == ["files/public", "private", "extra"]
    assert (project / "extra" / "new.txt").exists()

    refused = _rollback(project, monkeypatch)
    assert refused.exit_code == 1 and "not confirmed" in refused.output
    assert _count(project / "app.db") == 5 and (project / "files" / "public" / "new.txt").exists()

    result = _rollback(project, monkeypatch, "--yes")
    assert result.exit_code == 0, result.output
    assert _count(project / "app.db") == 3
    assert (project / "files" / "public" / "old.txt").read_text() == "old public"
    assert not (project / "files" / "public" / "new.txt").exists()
    assert (project / "private" / "old-secret.txt").exists() and not (project / "private" / "new-secret.txt").exists()
    assert not (project / "extra").exists()
    assert "files/public" in result.output

    # The install is now the kept copy: a second rollback undoes the first, database and folders alike.
    result = _rollback(project, monkeypatch, "--yes")
    assert result.exit_code == 0, result.output
    assert _count(project / "app.db") == 5
    assert (project / "files" / "public" / "new.txt").exists()
    assert not (project / "files" / "public" / "old.txt").exists()
    assert (project / "extra" / "new.txt").exists()


def test_rollback_with_a_kept_copy_gone_changes_nothing(plugin_manager: Any, register_plugin: Any, project: Path,
                                                         received: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    register_plugin(LocalApp(), "localapp")
    install_received(received, project, yes=True, echo=lambda _: None)
    import shutil

    shutil.rmtree(project / "private" / ".." / ".private.synco-previous")
    result = _rollback(project, monkeypatch, "--yes")
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: cannot put back") and len(result.output.strip().splitlines()) == 1
    assert _count(project / "app.db") == 5, "the database was not rolled back either"
    assert (project / "files" / "public" / "new.txt").exists()


def test_failed_install_keeps_the_last_record(plugin_manager: Any, register_plugin: Any, project: Path,
                                             received: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The install fails before its database is swapped: the last install's record (and the kept copies it
    names) stays as it was, and names nothing of the failed install. Before, it was dropped as the install
    began, leaving `synco db rollback` nothing to put back."""
    register_plugin(LocalApp(fail_on="Private"), "localapp")
    earlier = json.dumps({"version": 1, "database": "x", "folders": []})
    (project / ".synco-install.json").write_text(earlier)
    with pytest.raises(SyncoError, match="disk full"):
        install_received(received, project, yes=True, echo=lambda _: None)
    assert (project / ".synco-install.json").read_text() == earlier
    assert not (project / "files" / ".public.synco-previous").exists(), "the failed install's files are dropped"


def test_rollback_after_a_failed_install_never_puts_in_the_failed_content(
        plugin_manager: Any, register_plugin: Any, project: Path, received: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    app = LocalApp()
    register_plugin(app, "localapp")
    install_received(received, project, yes=True, echo=lambda _: None)
    assert _count(project / "app.db") == 5
    # A second install of other content fails (a files step, before its database goes in), and is undone.
    (received / "dbDump.sqlite").unlink()
    _make_db(received / "dbDump.sqlite", 7)
    record = json.loads((received / ".synco-received.json").read_text())
    record["fileSets"][0]["tables"] = {"items": {"rows": 7}}
    (received / ".synco-received.json").write_text(json.dumps(record))
    app.fail_on = "Private"
    with pytest.raises(SyncoError, match="disk full"):
        install_received(received, project, yes=True, echo=lambda _: None)
    assert _count(project / "app.db") == 5, "the failed install was undone"

    # Its 7 rows were never swapped in: the first install's kept copy and record stay, and a rollback puts back
    # what was there before the first install, never the failed content.
    assert _count(project / "app.db.synco-previous") == 3
    result = _rollback(project, monkeypatch, "--yes")
    assert result.exit_code == 0, result.output
    assert _count(project / "app.db") == 3
    assert (project / "files" / "public" / "old.txt").read_text() == "old public"
    assert not (project / "files" / "public" / "new.txt").exists()


def test_swapping_a_folder_carries_kept_folders_back(tmp_path: Path) -> None:
    from synco_core.engines.default_files import install_tree
    from synco_core.install.state import ReplacedFolder, swap_folder

    destination = tmp_path / "storage" / "app"
    (destination / "public").mkdir(parents=True)
    (destination / "public" / "avatar.png").write_text("other set")
    (destination / "old.txt").write_text("old")
    source = tmp_path / "received"
    source.mkdir()
    (source / "new.txt").write_text("new")
    result = install_tree(source, destination, keep=["public"])
    assert result.kept == ("public",) and result.backup is not None
    folder = ReplacedFolder(destination, result.backup, previous=True, kept=result.kept)
    swapped = swap_folder(folder)
    assert (destination / "old.txt").exists() and (destination / "public" / "avatar.png").exists()
    assert swapped.previous and (swapped.backup / "new.txt").exists()
    swap_folder(swapped)
    assert (destination / "new.txt").exists() and (destination / "public" / "avatar.png").exists()


def test_install_checks_the_received_manifest(plugin_manager: Any, register_plugin: Any, project: Path,
                                              received: Path) -> None:
    """The row counts receive recorded reach the installer: a dump that disagrees is not installed."""
    register_plugin(LocalApp(), "localapp")
    record_file = received / ".synco-received.json"
    record = json.loads(record_file.read_text())
    record["fileSets"][0]["tables"] = {"items": {"rows": 4}}  # the dump holds 5
    record_file.write_text(json.dumps(record))
    with pytest.raises(DatabaseError, match="items"):
        install_received(received, project, yes=True, echo=lambda _: None)
    assert _count(project / "app.db") == 3
    assert (project / "files" / "public" / "old.txt").exists()
    assert not (project / "files" / "public" / "new.txt").exists()
    assert (project / "private" / "old-secret.txt").exists()


@pytest.mark.mysql
def test_mysql_target_question_and_force_remote_target(plugin_manager: Any, register_plugin: Any, tmp_path: Path,
                                                       mysql_database_factory: Any) -> None:
    from test_receive_support import LOCAL_MARKER, LocalProject

    register_plugin(LocalProject(), "localproject")
    target_db = mysql_database_factory()
    project = tmp_path / "mysql-project"
    project.mkdir()
    (project / LOCAL_MARKER).write_text(f"mysql://root@127.0.0.1:3306/{target_db}")
    folder = tmp_path / "mysql-dump"
    folder.mkdir()
    dump = "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20));\nINSERT INTO items VALUES (1, 'a'), (2, 'b');\n"
    (folder / "dbDump.sql").write_text(dump)
    (folder / ".synco-received.json").write_text(json.dumps({"version": 1, "session": "s", "fileSets": [
        {"name": "dbDump", "kind": "database", "path": "dbDump.sql", "engine": "mysql", "format": "sql",
         "tables": {"items": {"rows": 2}}}]}))

    questions: list[str] = []
    with pytest.raises(SyncoError, match="not confirmed"):
        install_received(folder, project, confirm=_declining(questions), echo=lambda _: None)
    assert f"replace database  mysql://root@127.0.0.1:3306/{target_db}" in questions[0]
    assert f"({human_size(len(dump))})" in questions[0]
    assert "      current: an empty database" in questions[0].splitlines()

    # What the local database holds now, as information_schema measures it, is shown beside the incoming size.
    conn = mysql_admin_connection(target_db)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE old_items (id INT PRIMARY KEY, note TEXT)")
        cur.execute("CREATE TABLE old_tags (id INT PRIMARY KEY)")
        cur.execute("INSERT INTO old_items VALUES (1, REPEAT('x', 40000))")
        cur.execute("ANALYZE TABLE old_items, old_tags")
        cur.execute("SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s",
                    (target_db,))
        current_bytes = int(cur.fetchone()[0])
    conn.close()
    questions.clear()
    with pytest.raises(SyncoError, match="not confirmed"):
        install_received(folder, project, confirm=_declining(questions), echo=lambda _: None)
    assert f"      current: {human_size(current_bytes)} in 2 tables" in questions[0].splitlines()

    # A host name this machine resolves to itself, but that synco cannot know is local: a stand-in for a
    # remote server that the test can still reach.
    host = socket.gethostname()
    if not socket.gethostbyname(host).startswith("127."):
        unavailable(f"{host} does not resolve to a loopback address here")
    (project / LOCAL_MARKER).write_text(f"mysql://root@{host}:3306/{target_db}")
    with pytest.raises(ConfigError, match="force-remote-target"):
        install_received(folder, project, yes=True, echo=lambda _: None)
    report = install_received(folder, project, yes=True, force_remote_target=True, echo=lambda _: None)
    assert report.database is not None and report.database.rows == 2


def _link_public(project: Path, tmp_path: Path, where: str) -> tuple[Path, str]:
    """Make the project's files/public a link to a folder holding its old content; (that folder, the link's text)."""
    target = {"inside-relative": project / "shared" / "public", "inside-absolute": project / "shared" / "public",
              "outside": tmp_path / "volumes" / "site-uploads" / "_data"}[where]
    target.parent.mkdir(parents=True)
    shutil.move(project / "files" / "public", target)
    text = "../shared/public" if where == "inside-relative" else str(target)
    (project / "files" / "public").symlink_to(text)
    return target, text


@pytest.mark.parametrize("where", ["inside-relative", "inside-absolute", "outside"])
def test_a_set_folder_that_is_a_link_is_installed_through_it(plugin_manager: Any, register_plugin: Any,
                                                             project: Path, received: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """A deployed laptop copy keeps its uploads in a shared folder or a Docker volume, linked into the project:
    the install fills that folder (as ``rsync -a src/ link/`` does), the link stays, and a rollback puts
    the folder's old content back, link untouched."""
    register_plugin(LocalApp(), "localapp")
    target, text = _link_public(project, tmp_path, where)
    beside_target = set(os.listdir(target.parent))
    install_received(received, project, yes=True, echo=lambda _line: None)
    link = project / "files" / "public"
    assert link.is_symlink() and os.readlink(link) == text
    assert (target / "new.txt").read_text() == "new public" and not (target / "old.txt").exists()
    assert os.listdir(project / "files") == ["public"], "nothing is left beside the link"
    kept = f".{target.name}.synco-previous"
    assert (target.parent / kept / "old.txt").read_text() == "old public"
    # Beside it: the kept copy, and the note of what the install put in (so that no undo removes more).
    assert set(os.listdir(target.parent)) == beside_target | {kept, f".{target.name}.synco-previous.installed"}

    result = _rollback(project, monkeypatch, "--yes")
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == text
    assert (target / "old.txt").read_text() == "old public" and not (target / "new.txt").exists()
    assert _count(project / "app.db") == 3


@pytest.mark.parametrize("leads_to", ["{project}", ".", "..", "{tmp}", "/", "{tmp}/other/vendor", "{tmp}/nowhere",
                                      "{tmp}/afile"])
def test_a_set_folder_linked_where_nothing_is_installed_is_refused(plugin_manager: Any, register_plugin: Any,
                                                                  project: Path, received: Path, tmp_path: Path,
                                                                  leads_to: str) -> None:
    """The link may lead out of the project, but not to the project or a folder above it (replacing it
    would move the project itself aside), not into a folder nothing is installed into, not to a file or
    nowhere: one line naming the set, nothing changed."""
    register_plugin(LocalApp(), "localapp")
    (tmp_path / "other" / "vendor").mkdir(parents=True)
    (tmp_path / "afile").write_text("a file\n")
    shutil.rmtree(project / "files" / "public")
    (project / "files" / "public").symlink_to(leads_to.format(project=project, tmp=tmp_path))
    before = sorted(str(path) for path in tmp_path.rglob("*"))
    with pytest.raises(ConfigError, match=r"^file set 'Uploads': refusing to install into ") as caught:
        install_received(received, project, yes=True, echo=lambda _line: None)
    assert "\n" not in str(caught.value)
    assert sorted(str(path) for path in tmp_path.rglob("*")) == before
    assert _count(project / "app.db") == 3
