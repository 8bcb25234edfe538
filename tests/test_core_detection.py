"""Choosing the framework: none, one, several, ``--framework``, and what ``synco detect`` prints."""

from __future__ import annotations

import json
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from synco_core import DatabaseConfig, DumpOptions, FileSet, FileSetOptions, Framework, hookimpl
from synco_core.cli.main import cli
from synco_core.detection import detect, list_file_sets
from synco_core.errors import ConfigError
from synco_core.plugins import SyncoPluginManager

Register = Callable[[object, str], None]
PASSWORD = "Sup3r$ecret/pw"


def marker_plugin(plugin: str, marker: str, priority: int = 0, **extra: Any) -> object:
    """A framework plugin that recognises a project by the file ``marker``."""

    @hookimpl
    def detect_framework(project_dir: Path) -> Framework | None:
        if not (project_dir / marker).exists():
            return None
        return Framework(name=plugin.title(), plugin=plugin, project_dir=project_dir, priority=priority,
                         reason=f"{marker} found", **extra)

    return types.SimpleNamespace(detect_framework=detect_framework)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


@pytest.mark.hook("detect_framework")
def test_nothing_matched_is_one_line_error(plugin_manager: SyncoPluginManager, register_plugin: Register,
                                           tmp_path: Path) -> None:
    register_plugin(marker_plugin("alpha", "alpha.txt"), "alpha")
    result = run("detect", str(tmp_path))
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: no framework detected in ")
    assert "alpha" in lines[0] and "--framework" in lines[0] and "Traceback" not in result.stderr
    # The plugins asked are the framework plugins; the built-in database engines recognise no framework.
    asked = lines[0].split("framework plugins asked: ", 1)[1].split(")", 1)[0]
    assert asked == "alpha", lines[0]


def test_several_matches_name_candidates(plugin_manager: SyncoPluginManager, register_plugin: Register,
                                         tmp_path: Path) -> None:
    register_plugin(marker_plugin("alpha", "alpha.txt"), "alpha")
    register_plugin(marker_plugin("beta", "beta.txt"), "beta")
    (tmp_path / "alpha.txt").touch()
    (tmp_path / "beta.txt").touch()
    result = run("detect", str(tmp_path))
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert "alpha: alpha.txt found" in line and "beta: beta.txt found" in line and "--framework" in line

    chosen = run("detect", "--json", "--framework", "beta", str(tmp_path))
    assert chosen.exit_code == 0, chosen.output
    assert json.loads(chosen.stdout)["plugin"] == "beta"
    # The display name is accepted too, in any case.
    assert detect(tmp_path, "ALPHA", plugin_manager).plugin == "alpha"


def test_higher_priority_wins(plugin_manager: SyncoPluginManager, register_plugin: Register, tmp_path: Path) -> None:
    register_plugin(marker_plugin("guess", "app.txt"), "guess")
    register_plugin(marker_plugin("explicit", "app.txt", priority=1), "explicit")
    (tmp_path / "app.txt").touch()
    assert detect(tmp_path, manager=plugin_manager).plugin == "explicit"


def test_framework_not_detected_names_what_was_found(plugin_manager: SyncoPluginManager, register_plugin: Register,
                                                     tmp_path: Path) -> None:
    register_plugin(marker_plugin("alpha", "alpha.txt"), "alpha")
    register_plugin(marker_plugin("zeta", "zeta.txt"), "zeta")
    (tmp_path / "alpha.txt").touch()
    with pytest.raises(ConfigError, match=r"framework 'zeta' not detected .*found: alpha \(alpha.txt found\)"):
        detect(tmp_path, "zeta", plugin_manager)
    # A name no installed plugin has is a typo or a missing package, not the project's fault: the names are listed.
    with pytest.raises(ConfigError, match=r"no installed plugin detects a framework named 'omega' "
                                          r"\(framework plugins: alpha, zeta\); "
                                          r"detected in .*: alpha \(alpha.txt found\)"):
        detect(tmp_path, "omega", plugin_manager)


def test_missing_directory(plugin_manager: SyncoPluginManager, tmp_path: Path) -> None:
    result = run("detect", str(tmp_path / "nope"))
    assert result.exit_code != 0
    assert "Traceback" not in result.output


def test_detect_json_masks_password(plugin_manager: SyncoPluginManager, register_plugin: Register,
                                    tmp_path: Path) -> None:
    database = DatabaseConfig(engine="mysql", name="shop", host="db.internal", port=3306, user="shop",
                              password=PASSWORD, source=".env")
    register_plugin(marker_plugin("alpha", "alpha.txt", database=database, web_root=tmp_path / "public"), "alpha")
    (tmp_path / "alpha.txt").touch()
    result = run("detect", "--json", str(tmp_path))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["database"]["password"] == "***"
    assert data["database"]["url"] == "mysql://shop:***@db.internal:3306/shop"
    assert data["webRoot"] == str(tmp_path / "public")
    for text in (result.stdout, run("detect", str(tmp_path)).stdout):
        assert PASSWORD not in text and "Sup3r" not in text


@pytest.mark.hook("detect_framework")
def test_detect_shows_every_row_the_dump_leaves_out(plugin_manager: SyncoPluginManager, register_plugin: Register,
                                                   tmp_path: Path) -> None:
    """The text output listed only exclude_tables: the smart transfer's tables and filters and the row filters of
    a profile were in --json alone, so a user reading ``synco detect`` believed those rows were sent."""
    import sqlite3

    with sqlite3.connect(tmp_path / "app.db") as conn:
        for table in ("sessions", "report_event", "orders", "quote", "log"):
            conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, created INTEGER)")
    options = DumpOptions(exclude_tables=("sessions",), smart_exclude_tables=("report_event",),
                          where={"orders": "id > 10"}, smart_where={"quote": "created > 0"},
                          keep_newest={"log": ("created", 100)})
    register_plugin(marker_plugin("alpha", "alpha.txt", dump_options=options,
                                  database=DatabaseConfig(engine="sqlite", name=str(tmp_path / "app.db"))), "alpha")
    (tmp_path / "alpha.txt").touch()
    result = run("detect", str(tmp_path))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for line in ("No rows:    sessions", "No rows:    report_event (smart transfer; --all ships them)",
                 "Rows where: orders: id > 10",
                 "Rows where: quote: created > 0 (smart transfer; --all ships every row)",
                 "Rows:       log: the newest 100 by created"):
        assert line in lines, result.stdout


@pytest.mark.hook("amend_framework")
def test_amend_framework_runs_after_choice(plugin_manager: SyncoPluginManager, register_plugin: Register,
                                           tmp_path: Path) -> None:
    seen: list[str] = []

    @hookimpl
    def amend_framework(framework: Framework) -> None:
        seen.append(framework.plugin)
        framework.dump_options.exclude_tables += ("cache",)

    register_plugin(marker_plugin("alpha", "alpha.txt"), "alpha")
    register_plugin(types.SimpleNamespace(amend_framework=amend_framework), "amender")
    (tmp_path / "alpha.txt").touch()
    framework = detect(tmp_path, manager=plugin_manager)
    assert seen == ["alpha"]
    assert framework.dump_options.exclude_tables == ("cache",)


@pytest.mark.hook("list_file_sets")
def test_list_file_sets_joins_plugins_and_filters(plugin_manager: SyncoPluginManager, register_plugin: Register,
                                                  tmp_path: Path) -> None:
    @hookimpl
    def first(framework: Framework, options: FileSetOptions) -> list[FileSet]:
        return [FileSet(name="uploads", kind="public", description="framework"),
                FileSet(name="private", kind="private")]

    # Sets from implementations called later replace earlier ones; trylast is how an override (synco-generic's
    # .synco.yml) makes sure it is called after the framework plugins.
    @hookimpl(trylast=True)
    def second(framework: Framework, options: FileSetOptions) -> list[FileSet]:
        return [FileSet(name="uploads", kind="public", description="override")]

    register_plugin(types.SimpleNamespace(list_file_sets=second), "second")
    register_plugin(types.SimpleNamespace(list_file_sets=first), "first")
    framework = Framework(name="X", plugin="x", project_dir=tmp_path)
    sets = {s.name: s for s in list_file_sets(framework, FileSetOptions(), plugin_manager)}
    assert set(sets) == {"uploads", "private"}
    assert sets["uploads"].description == "override"
    only = list_file_sets(framework, FileSetOptions(only=("private",)), plugin_manager)
    assert [s.name for s in only] == ["private"]
    with pytest.raises(ConfigError, match="unknown file set\\(s\\): nope; available: uploads, private"):
        list_file_sets(framework, FileSetOptions(only=("nope",)), plugin_manager)


class SideRecorder:
    """A framework plugin that records the ``side`` of every detection it is asked for."""

    def __init__(self) -> None:
        self.sides: list[str] = []

    @hookimpl
    def detect_framework(self, project_dir: Path, side: str) -> Framework | None:
        self.sides.append(side)
        return Framework(name="Sided", plugin="sided", project_dir=project_dir, reason=f"asked for the {side}")


@pytest.mark.hook("detect_framework")
def test_detection_tells_the_side(plugin_manager: SyncoPluginManager, register_plugin: Register,
                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What is sent is detected for the source; where received content goes, for the destination."""
    recorder = SideRecorder()
    register_plugin(recorder, "sided")
    assert detect(tmp_path).reason == "asked for the source"
    assert detect(tmp_path, side="destination").reason == "asked for the destination"
    received = tmp_path / "received"
    received.mkdir()
    (received / ".synco-received.json").write_text('{"version": 1, "session": "s", "fileSets": []}')
    recorder.sides.clear()
    assert run("detect", str(tmp_path)).exit_code == 0
    assert recorder.sides == ["source"]
    recorder.sides.clear()
    result = run("install", str(received), "--project", str(tmp_path), "--plan")
    assert result.exit_code == 0, result.output
    assert recorder.sides == ["destination"]
    recorder.sides.clear()
    monkeypatch.chdir(tmp_path)
    run("db", "rollback", "--yes")
    assert recorder.sides == ["destination"], "rollback puts back the local (destination) project's content"


def test_a_plugin_without_side_still_detects(plugin_manager: SyncoPluginManager, register_plugin: Register,
                                             tmp_path: Path) -> None:
    """``side`` is an addition: implementations that do not name it keep working on both sides."""
    register_plugin(marker_plugin("alpha", "alpha.txt"), "alpha")
    (tmp_path / "alpha.txt").touch()
    assert detect(tmp_path, side="destination").plugin == "alpha"


@pytest.mark.hook("detect_framework")
def test_framework_option_takes_the_entry_point_name_of_a_misnamed_plugin(
    plugin_manager: SyncoPluginManager, register_plugin: Register, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """Entry point ``magento2`` whose Framework says ``plugin="magento"``: ``--framework magento2`` (the name
    ``synco plugins`` shows) failed with "framework 'magento2' not detected ...; found: magento". It selects the
    plugin now, as does the name the plugin wrote, and the core warns of the mismatch once."""
    (tmp_path / "app" / "etc").mkdir(parents=True)
    register_plugin(marker_plugin("magento", "app/etc"), "magento2")
    register_plugin(marker_plugin("beta", "beta.txt"), "beta")
    (tmp_path / "beta.txt").touch()
    listed = run("plugins", "--json")
    assert "magento2" in listed.stdout
    caplog.set_level("WARNING")
    for name in ("magento2", "magento", "MAGENTO2"):
        result = run("detect", str(tmp_path), "--framework", name, "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["framework"] == "Magento"
    assert detect(tmp_path, "magento2").plugin == "magento"
    warned = [r.getMessage() for r in caplog.records if "Framework.plugin='magento'" in r.getMessage()]
    assert warned == ["plugin magento2 answered detect_framework with Framework.plugin='magento'; it should be its "
                      "entry-point name 'magento2' (--framework accepts both)"], warned
    # Without --framework the two tie, and the choice names the entry point, which --framework takes.
    with pytest.raises(ConfigError, match=r"several frameworks match \(.*magento2: app/etc found.*\)"):
        detect(tmp_path)
    missing = run("detect", str(tmp_path / "app"), "--framework", "magento2")
    assert missing.exit_code == 1
    assert "framework 'magento2' not detected" in missing.stderr, missing.output
