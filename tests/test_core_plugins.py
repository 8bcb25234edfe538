"""The plugin manager: built-ins registered like entry points, and broken plugins isolated and reported once."""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from synco_core import Framework, hookimpl
from synco_core.cli.main import cli
from synco_core.detection import detect_candidates
from synco_core.plugins import DEFAULT_PLUGINS, SyncoPluginManager, build_plugin_manager, set_plugin_manager
from synco_core.testing import write_distribution


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on ``sys.path`` for throw-away distributions; the process manager is rebuilt around it."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    set_plugin_manager(None)
    yield site
    set_plugin_manager(None)


BROKEN_MODULE = 'raise ImportError("synco_broken needs the missing library frobnicate")\n'
GOOD_MODULE = '''
from synco_core import hookimpl, Framework

@hookimpl
def detect_framework(project_dir):
    if (project_dir / "good.marker").exists():
        return Framework(name="Good", plugin="good", project_dir=project_dir, reason="good.marker found")
    return None
'''


def test_builtins_registered_like_plugins() -> None:
    manager = build_plugin_manager(load_entrypoints=False)
    assert {name for name, _ in DEFAULT_PLUGINS} == set(manager.infos) | {f.name for f in manager.failures}
    info = manager.infos["default-files"]
    assert info.builtin and info.distribution == "synco" and info.module == "synco_core.engines.default_files"
    assert info.hooks == ["install_files"]
    for failure in manager.failures:
        assert failure.distribution == "synco"


def test_builtin_that_fails_to_import_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("synco_core.plugins.DEFAULT_PLUGINS", (("ghost", "synco_core.engines.no_such_engine"),))
    manager = build_plugin_manager(load_entrypoints=False)
    assert manager.infos == {}
    [failure] = manager.failures
    assert (failure.name, failure.distribution) == ("ghost", "synco")
    assert "ModuleNotFoundError" in failure.reason


def test_entry_point_plugins_are_loaded(fake_site: Path) -> None:
    write_distribution(fake_site, "synco-good", {"good": "synco_good_plugin"}, {"synco_good_plugin": GOOD_MODULE})
    manager = build_plugin_manager()
    info = manager.infos["good"]
    assert (info.distribution, info.version, info.builtin) == ("synco-good", "1.2.3", False)
    assert info.hooks == ["detect_framework"]


CLASS_MODULE = '''
from synco_core import hookimpl, Framework


class GoodPlugin:
    @hookimpl
    def detect_framework(self, project_dir):
        if (project_dir / "good.marker").exists():
            return Framework(name="Good", plugin="classy", project_dir=project_dir, reason="good.marker found")
        return None

    @staticmethod
    @hookimpl
    def list_file_sets(framework):
        return None


plugin = GoodPlugin()
'''


def test_entry_point_naming_a_class_is_listed_as_failed_and_an_instance_works(fake_site: Path,
                                                                              tmp_path: Path) -> None:
    """An entry point naming the class (``module:GoodPlugin``) instead of an instance was loaded and listed as
    fine; every call of its hooks then failed with "missing 1 required positional argument", in a warning that
    never said the entry point was wrong, and the project was "not detected"."""
    write_distribution(fake_site, "synco-classy", {"classy": "synco_classy_plugin:GoodPlugin"},
                       {"synco_classy_plugin": CLASS_MODULE})
    write_distribution(fake_site, "synco-instance", {"instance": "synco_classy_plugin:plugin"}, {})
    manager = build_plugin_manager()
    [failure] = manager.failures
    assert (failure.name, failure.distribution) == ("classy", "synco-classy")
    assert "is the class 'GoodPlugin', whose hook methods (detect_framework) need an instance" in failure.reason
    assert "classy" not in manager.infos
    assert manager.infos["instance"].hooks == ["detect_framework", "list_file_sets"]
    (tmp_path / "good.marker").touch()
    assert [f.name for f in detect_candidates(tmp_path, manager)] == ["Good"]


def test_import_error_is_listed_and_cli_keeps_working(fake_site: Path) -> None:
    write_distribution(fake_site, "synco-broken", {"broken": "synco_broken_plugin"},
                       {"synco_broken_plugin": BROKEN_MODULE})
    write_distribution(fake_site, "synco-good", {"good": "synco_good_plugin"}, {"synco_good_plugin": GOOD_MODULE})
    runner = CliRunner()
    version = runner.invoke(cli, ["--version"])
    assert version.exit_code == 0 and "0.1.0" in version.output

    result = runner.invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    failed = {f["name"]: f for f in data["failed"]}
    assert failed["broken"]["distribution"] == "synco-broken"
    assert "ImportError: synco_broken needs the missing library frobnicate" in failed["broken"]["error"]
    assert "good" in {p["name"] for p in data["plugins"]}
    # The listing is the report: no warning line repeats it on stderr.
    assert "synco-broken" not in result.stderr


def test_failure_reported_once_in_text_listing(fake_site: Path) -> None:
    write_distribution(fake_site, "synco-broken", {"broken": "synco_broken_plugin"},
                       {"synco_broken_plugin": BROKEN_MODULE})
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0
    assert (result.stdout + result.stderr).count("frobnicate") == 1
    assert "FAILED" in result.stdout


def test_failure_warned_once_by_other_commands(fake_site: Path, tmp_path: Path) -> None:
    write_distribution(fake_site, "synco-broken", {"broken": "synco_broken_plugin"},
                       {"synco_broken_plugin": BROKEN_MODULE})
    write_distribution(fake_site, "synco-good", {"good": "synco_good_plugin"}, {"synco_good_plugin": GOOD_MODULE})
    (tmp_path / "good.marker").touch()
    result = CliRunner().invoke(cli, ["detect", "--json", "--framework", "good", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["plugin"] == "good"
    assert result.stderr.count("frobnicate") == 1
    assert "synco-broken" in result.stderr


def test_entry_point_name_clash_is_reported(fake_site: Path) -> None:
    write_distribution(fake_site, "synco-impostor", {"default-files": "synco_good_plugin"},
                       {"synco_good_plugin": GOOD_MODULE})
    manager = build_plugin_manager()
    assert manager.infos["default-files"].distribution == "synco"
    [failure] = [f for f in manager.failures if f.distribution == "synco-impostor"]
    assert "already used by synco" in failure.reason


MISSPELT_MODULE = '''
from synco_core import hookimpl

@hookimpl
def detect_framwork(project_dir):
    raise AssertionError("a hook that matches no spec must never be called")
'''


def test_misspelt_hook_in_an_entry_point_plugin_is_listed_and_warned_once(fake_site: Path, tmp_path: Path) -> None:
    """Loaded through its entry point like a real plugin: failed with its distribution, the rest works."""
    write_distribution(fake_site, "synco-typo", {"typo": "synco_typo_plugin"}, {"synco_typo_plugin": MISSPELT_MODULE})
    write_distribution(fake_site, "synco-good", {"good": "synco_good_plugin"}, {"synco_good_plugin": GOOD_MODULE})
    listing = CliRunner().invoke(cli, ["plugins", "--json"])
    assert listing.exit_code == 0, listing.output
    data = json.loads(listing.stdout)
    [failure] = [f for f in data["failed"] if f["name"] == "typo"]
    assert failure["distribution"] == "synco-typo"
    assert "unknown hook(s): detect_framwork" in failure["error"]
    assert "typo" not in {p["name"] for p in data["plugins"]} and "good" in {p["name"] for p in data["plugins"]}
    assert "detect_framwork" not in listing.stderr

    set_plugin_manager(None)
    (tmp_path / "good.marker").touch()
    detected = CliRunner().invoke(cli, ["detect", "--json", str(tmp_path)])
    assert detected.exit_code == 0, detected.output
    assert json.loads(detected.stdout)["plugin"] == "good"
    assert detected.stderr.count("detect_framwork") == 1 and "synco-typo" in detected.stderr


PLUGIN_DISTRIBUTIONS = ("generic", "laravel", "neos", "symfony")


def test_installed_console_script_lists_every_plugin(tmp_path: Path) -> None:
    """The issue's "done when": the installed ``synco`` script, with every real entry point, no fixture."""
    from importlib.metadata import PackageNotFoundError, distribution, entry_points

    from synco_core.testing.services import unavailable

    [script_entry] = entry_points(group="console_scripts", name="synco")
    assert script_entry.value == "synco_core.cli.main:main"
    missing = []
    for name in PLUGIN_DISTRIBUTIONS:
        try:
            distribution(f"synco-{name}")
        except PackageNotFoundError:
            missing.append(f"synco-{name}")
    if missing:
        unavailable(f"needs every plugin installed (nox -s tests); missing: {', '.join(missing)}")
    script = Path(sys.executable).with_name("synco")
    assert script.exists(), f"the console script is not installed beside {sys.executable}"

    def synco(*args: str) -> subprocess.CompletedProcess[str]:
        # Run from an empty directory so nothing of the checkout's tree shadows what is installed.
        return subprocess.run([str(script), *args], capture_output=True, text=True, check=False, cwd=tmp_path)

    version = synco("--version")
    assert (version.returncode, version.stdout.strip()) == (0, "synco, version 0.1.0")
    listing = synco("plugins", "--json")
    assert listing.returncode == 0, listing.stderr
    data = json.loads(listing.stdout)
    assert data["failed"] == [] and listing.stderr == ""
    plugins = {p["name"]: p for p in data["plugins"]}
    for name in PLUGIN_DISTRIBUTIONS:
        assert plugins[name]["distribution"] == f"synco-{name}" and not plugins[name]["builtin"]
        assert {"detect_framework", "list_file_sets"} <= set(plugins[name]["hooks"]), plugins[name]
    for engine in ("mysql", "postgresql", "sqlite"):
        assert plugins[engine]["builtin"] and plugins[engine]["distribution"] == "synco"
        assert {"dump_database", "install_database"} <= set(plugins[engine]["hooks"]), plugins[engine]

    # With every plugin loaded, the example app must still be unambiguously Laravel on SQLite.
    example = Path(__file__).resolve().parent.parent / "examples" / "laravel-app"
    detected = synco("detect", "--json", str(example))
    assert detected.returncode == 0, detected.stderr
    found = json.loads(detected.stdout)
    assert (found["plugin"], found["database"]["engine"]) == ("laravel", "sqlite")
    assert {s["name"] for s in found["fileSets"]} >= {"public"}


def _plugin(**hooks: Callable[..., Any]) -> object:
    return types.SimpleNamespace(**{name: hookimpl(function) for name, function in hooks.items()})


@pytest.mark.hook("detect_framework")
def test_misspelt_hook_name_fails_registration(plugin_manager: SyncoPluginManager) -> None:
    def detect_framwork(project_dir: Path) -> None:
        return None

    assert not plugin_manager.register(_plugin(detect_framwork=detect_framwork), "typo", distribution="synco-typo")
    [failure] = [f for f in plugin_manager.failures if f.distribution.startswith("synco-")]
    assert (failure.name, failure.distribution) == ("typo", "synco-typo")
    assert "unknown hook(s): detect_framwork" in failure.reason
    assert "typo" not in plugin_manager.infos and plugin_manager.pm.get_plugin("typo") is None


def test_wrong_argument_name_fails_registration_and_is_never_called(plugin_manager: SyncoPluginManager,
                                                                     tmp_path: Path) -> None:
    calls: list[str] = []

    def detect_framework(project_dir: Path) -> Framework:
        calls.append("detect")
        return Framework(name="Half", plugin="half", project_dir=project_dir, reason="always")

    def list_file_sets(framework: Framework, opts: object) -> None:
        return None

    plugin = _plugin(detect_framework=detect_framework, list_file_sets=list_file_sets)
    assert not plugin_manager.register(plugin, "half", distribution="synco-half")
    [failure] = [f for f in plugin_manager.failures if f.distribution.startswith("synco-")]
    assert "opts" in failure.reason and failure.distribution == "synco-half"
    # pluggy had already added the valid detect_framework when list_file_sets failed; it must be gone again.
    assert not plugin_manager.pm.is_registered(plugin)
    assert detect_candidates(tmp_path, plugin_manager) == []
    assert calls == []


@pytest.mark.hook("detect_framework")
def test_plugin_raising_in_detect_framework_does_not_stop_detection(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def exploding(project_dir: Path) -> None:
        raise RuntimeError("kaboom in detection")

    def fine(project_dir: Path) -> Framework:
        return Framework(name="Fine", plugin="fine", project_dir=project_dir, reason="always")

    register_plugin(_plugin(detect_framework=exploding), "exploding")
    register_plugin(_plugin(detect_framework=fine), "fine")
    with caplog.at_level(logging.WARNING, logger="synco_core.plugins"):
        found = detect_candidates(tmp_path, plugin_manager)
    assert [f.plugin for f in found] == ["fine"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["plugin exploding failed in detect_framework: RuntimeError: kaboom in detection"]


def test_manager_unregister_removes_the_plugin(plugin_manager: SyncoPluginManager,
                                              register_plugin: Callable[[object, str], None]) -> None:
    # The fixture's own teardown is tested in test_core_testing.py::test_plugin_author_fixtures_clean_up.
    def fine(project_dir: Path) -> None:
        return None

    register_plugin(_plugin(detect_framework=fine), "fine")
    assert plugin_manager.infos["fine"].hooks == ["detect_framework"]
    plugin_manager.unregister("fine")
    assert "fine" not in plugin_manager.infos and plugin_manager.pm.get_plugin("fine") is None


def test_broken_plugin_in_a_real_process(fake_site: Path) -> None:
    """The same through a fresh interpreter, as a user runs it: the entry point is found on PYTHONPATH."""
    write_distribution(fake_site, "synco-broken", {"broken": "synco_broken_plugin"},
                       {"synco_broken_plugin": BROKEN_MODULE})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(fake_site), os.environ.get("PYTHONPATH")]))}
    code = "from synco_core.cli.main import main; main()"

    def synco(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                              check=False)

    version = synco("--version")
    assert (version.returncode, version.stdout.strip()) == (0, "synco, version 0.1.0")
    listing = synco("plugins", "--json")
    assert listing.returncode == 0, listing.stderr
    [failure] = [f for f in json.loads(listing.stdout)["failed"] if f["name"] == "broken"]
    assert failure["distribution"] == "synco-broken" and "frobnicate" in failure["error"]
    assert "frobnicate" not in listing.stderr


def test_optional_unknown_hook_is_accepted(plugin_manager: SyncoPluginManager) -> None:
    """``optionalhook=True`` lets a plugin implement a hook that only a newer synco declares."""

    def future_hook(project_dir: Path) -> None:
        return None

    plugin = types.SimpleNamespace(future_hook=hookimpl(optionalhook=True)(future_hook))
    assert plugin_manager.register(plugin, "forward-looking")
    assert not [f for f in plugin_manager.failures if f.name == "forward-looking"]


# --- wrappers: refused where answers are collected plugin by plugin, working on the firstresult hooks ----------


@pytest.mark.hook("list_file_sets")
@pytest.mark.parametrize("hook", ["detect_framework", "amend_framework", "default_dump_options", "list_file_sets"])
@pytest.mark.parametrize("style", ["wrapper", "hookwrapper"])
def test_wrapper_on_a_collecting_hook_fails_registration_clearly(plugin_manager: SyncoPluginManager, hook: str,
                                                                 style: str) -> None:
    """A wrapper around a hook synco calls plugin by plugin would see no other plugin's answer, and its generator
    would be taken for an answer: the plugin is refused, with the reason, and never called."""
    from synco_core import hookspecs

    argnames = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    calls: list[str] = []

    def wrapping(**kwargs: Any) -> Iterator[None]:
        calls.append(hook)
        return (yield)

    wrapping.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in argnames])
    plugin = types.SimpleNamespace(**{hook: hookimpl(**{style: True})(wrapping)})
    assert not plugin_manager.register(plugin, "wrapping", distribution="synco-wrapping")
    [failure] = [f for f in plugin_manager.failures if f.name == "wrapping"]
    assert f"implements {hook} as a wrapper" in failure.reason and failure.distribution == "synco-wrapping"
    assert plugin_manager.pm.get_plugin("wrapping") is None and "wrapping" not in plugin_manager.infos


def test_wrapped_list_file_sets_is_listed_as_failed(fake_site: Path) -> None:
    """Through an entry point, as a user meets it: ``synco plugins`` names the plugin and the reason."""
    module = '''
from synco_core import hookimpl

@hookimpl(wrapper=True)
def list_file_sets(framework, options):
    sets = yield
    return sets
'''
    write_distribution(fake_site, "synco-wrapping", {"wrapping": "synco_wrapping_plugin"},
                       {"synco_wrapping_plugin": module})
    listing = CliRunner().invoke(cli, ["plugins", "--json"])
    assert listing.exit_code == 0, listing.output
    [failure] = [f for f in json.loads(listing.stdout)["failed"] if f["name"] == "wrapping"]
    assert "list_file_sets as a wrapper" in failure["error"] and failure["distribution"] == "synco-wrapping"


@pytest.mark.hook("inspect_database")
def test_wrapper_on_a_firstresult_hook_wraps_every_call(plugin_manager: SyncoPluginManager,
                                                        register_plugin: Callable[[object, str], None],
                                                        tmp_path: Path) -> None:
    """On the firstresult hooks pluggy's own call runs, wrappers included: one sees the engine's answer."""
    import sqlite3

    from synco_core.engines.dispatch import inspect_with_engine
    from synco_core.values import DatabaseConfig, DatabaseInventory

    seen: list[str] = []

    class Watch:
        @hookimpl(wrapper=True)
        def inspect_database(self, database: DatabaseConfig) -> Iterator[None]:
            inventory = yield
            assert isinstance(inventory, DatabaseInventory)
            seen.append(",".join(t.name for t in inventory.tables))
            return inventory

    register_plugin(Watch(), "watch")
    path = tmp_path / "app.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE things (id INTEGER PRIMARY KEY)")
    conn.close()
    inventory = inspect_with_engine(DatabaseConfig(engine="sqlite", name=str(path)), plugin_manager)
    assert [t.name for t in inventory.tables] == ["things"] and seen == ["things"]


@pytest.mark.hook("detect_framework")
def test_each_plugin_is_called_through_pluggy(plugin_manager: SyncoPluginManager,
                                              register_plugin: Callable[[object, str], None], tmp_path: Path) -> None:
    """Collecting hooks go through pluggy's hook execution (hook-call monitoring sees one call per plugin), in
    pluggy's order (tryfirst first), each plugin called once."""
    order: list[str] = []

    def answer(name: str) -> Callable[[Path], Framework]:
        def detect_framework(project_dir: Path) -> Framework:
            order.append(name)
            return Framework(name=name, plugin=name, project_dir=project_dir, reason="always")
        return detect_framework

    register_plugin(types.SimpleNamespace(detect_framework=hookimpl(answer("plain"))), "plain")
    register_plugin(types.SimpleNamespace(detect_framework=hookimpl(tryfirst=True)(answer("first"))), "first")
    register_plugin(types.SimpleNamespace(detect_framework=hookimpl(trylast=True)(answer("last"))), "last")
    monitored: list[list[str]] = []
    undo = plugin_manager.pm.add_hookcall_monitoring(
        lambda name, impls, kwargs: monitored.append([impl.plugin_name for impl in impls]) if name ==
        "detect_framework" else None,
        lambda outcome, name, impls, kwargs: None)
    try:
        found = detect_candidates(tmp_path, plugin_manager)
    finally:
        undo()
    assert order == ["first", "plain", "last"]
    assert monitored == [["first"], ["plain"], ["last"]]
    assert [f.plugin for f in found] == ["first", "plain", "last"]


# --- SYNCO_LOAD_PLUGINS / SYNCO_DISABLE_PLUGINS ---------------------------------------------------------------


OTHER_MODULE = GOOD_MODULE.replace("good.marker", "other.marker").replace('"Good"', '"Other"').replace(
    'plugin="good"', 'plugin="other"')


@pytest.fixture
def two_plugins(fake_site: Path) -> Path:
    write_distribution(fake_site, "synco-good", {"good": "synco_good_plugin"}, {"synco_good_plugin": GOOD_MODULE})
    write_distribution(fake_site, "synco-other", {"other": "synco_other_plugin"},
                       {"synco_other_plugin": OTHER_MODULE})
    return fake_site


@pytest.mark.parametrize(("variable", "value", "loaded", "left_out"), [
    ("SYNCO_LOAD_PLUGINS", "good", {"good"}, {"other"}),
    ("SYNCO_LOAD_PLUGINS", "synco-other", {"other"}, {"good"}),
    ("SYNCO_LOAD_PLUGINS", " Synco_Good , other ", {"good", "other"}, set()),
    ("SYNCO_LOAD_PLUGINS", "", set(), {"good", "other"}),
    ("SYNCO_DISABLE_PLUGINS", "good", {"other"}, {"good"}),
    ("SYNCO_DISABLE_PLUGINS", "synco-good,synco-other", set(), {"good", "other"}),
    ("SYNCO_DISABLE_PLUGINS", "", {"good", "other"}, set()),
])
def test_choosing_plugins_by_environment(two_plugins: Path, monkeypatch: pytest.MonkeyPatch, variable: str,
                                         value: str, loaded: set[str], left_out: set[str]) -> None:
    monkeypatch.setenv(variable, value)
    manager = build_plugin_manager()
    names = {"good", "other"}
    assert set(manager.infos) & names == loaded
    assert {s.name for s in manager.skipped} & names == left_out
    assert all(variable in s.reason for s in manager.skipped)
    assert not manager.failures
    # The built-ins are never left out.
    assert {name for name, _ in DEFAULT_PLUGINS} <= set(manager.infos)


def test_disable_wins_over_load(two_plugins: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCO_LOAD_PLUGINS", "good,other")
    monkeypatch.setenv("SYNCO_DISABLE_PLUGINS", "other")
    manager = build_plugin_manager()
    assert "good" in manager.infos and "other" not in manager.infos


def test_unknown_name_to_load_is_reported(two_plugins: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCO_LOAD_PLUGINS", "good,godo")
    listing = CliRunner().invoke(cli, ["plugins", "--json"])
    assert listing.exit_code == 0, listing.output
    data = json.loads(listing.stdout)
    [failure] = data["failed"]
    assert failure["name"] == "godo" and "SYNCO_LOAD_PLUGINS" in failure["error"]
    assert {d["name"] for d in data["disabled"]} & {"good", "other"} == {"other"}


def test_disabled_plugin_is_listed_and_never_used(two_plugins: Path, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    """A broken or unwanted plugin set aside without uninstalling it: listed as DISABLED, never asked."""
    write_distribution(two_plugins, "synco-broken", {"broken": "synco_broken_plugin"},
                       {"synco_broken_plugin": BROKEN_MODULE})
    monkeypatch.setenv("SYNCO_DISABLE_PLUGINS", "broken,good")
    listing = CliRunner().invoke(cli, ["plugins"])
    assert listing.exit_code == 0
    assert "frobnicate" not in listing.output and "FAILED" not in listing.output
    assert re.search(r"^broken\s+DISABLED\s+synco-broken\s+named in SYNCO_DISABLE_PLUGINS$", listing.stdout, re.M)
    set_plugin_manager(None)
    (tmp_path / "good.marker").touch()
    detected = CliRunner().invoke(cli, ["detect", "--json", str(tmp_path)])
    assert detected.exit_code == 1 and "no framework detected" in detected.stderr
    assert "frobnicate" not in detected.stderr


def test_environment_chooses_plugins_in_a_real_process(two_plugins: Path) -> None:
    env = {**os.environ, "SYNCO_LOAD_PLUGINS": "other",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(two_plugins), os.environ.get("PYTHONPATH")]))}
    code = "from synco_core.cli.main import main; main()"
    listing = subprocess.run([sys.executable, "-c", code, "plugins", "--json"], capture_output=True, text=True,
                             env=env, check=False)
    assert listing.returncode == 0, listing.stderr
    data = json.loads(listing.stdout)
    names = {p["name"] for p in data["plugins"]}
    assert "other" in names and "good" not in names and "mysql" in names


# --- hook calls traced under --debug, secrets masked -----------------------------------------------------------


TRACED_SECRET = "trace-Secret-7781-q"


@pytest.mark.hook("amend_framework")
def test_debug_traces_hook_calls_with_secrets_masked(plugin_manager: SyncoPluginManager,
                                                     register_plugin: Callable[[object, str], None],
                                                     tmp_path: Path) -> None:
    from synco_core.redaction import register_secret

    def detect_framework(project_dir: Path) -> Framework:
        register_secret(TRACED_SECRET)
        return Framework(name="Traced", plugin="traced", project_dir=project_dir, reason="always",
                         settings={"s3": {"secret": TRACED_SECRET}})

    def amend_framework(framework: Framework) -> None:
        framework.settings["amended"] = True

    register_plugin(types.SimpleNamespace(detect_framework=hookimpl(detect_framework),
                                          amend_framework=hookimpl(amend_framework)), "traced")
    result = CliRunner().invoke(cli, ["detect", str(tmp_path), "--json", "--debug"])
    assert result.exit_code == 0, result.output
    trace = [line for line in result.stderr.splitlines() if "synco_core.hooks" in line]
    assert any("detect_framework [hook]" in line for line in trace), result.stderr
    assert any("amend_framework [hook]" in line for line in trace)
    assert any("finish detect_framework -->" in line for line in trace)
    assert "***" in result.stderr and TRACED_SECRET not in result.stderr
    plain = CliRunner().invoke(cli, ["detect", str(tmp_path), "--json"])
    assert plain.exit_code == 0 and "synco_core.hooks" not in plain.stderr


PRINTING_MODULE = '''
import subprocess, sys
from synco_core import hookimpl, Framework

print("printed at import")

@hookimpl
def detect_framework(project_dir):
    print("printed in detect_framework")
    sys.stdout.write("written in detect_framework\\n")
    sys.stdout.flush()
    if (project_dir / "noisy.marker").exists():
        return Framework(name="Noisy", plugin="noisy", project_dir=project_dir, reason="noisy.marker found")
    return None

@hookimpl
def list_file_sets(framework, options):
    print("printed in list_file_sets")
    return None
'''


def test_plugin_output_never_reaches_json_on_stdout(fake_site: Path, tmp_path: Path) -> None:
    """``--json`` output stays parseable when a plugin prints at import and in its hooks (it goes to stderr)."""
    write_distribution(fake_site, "synco-noisy", {"noisy": "synco_noisy_plugin"},
                       {"synco_noisy_plugin": PRINTING_MODULE})
    project = tmp_path / "project"
    project.mkdir()
    (project / "noisy.marker").write_text("")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(fake_site), os.environ.get("PYTHONPATH")]))}
    code = "from synco_core.cli.main import main; main()"
    for args in (["plugins", "--json"], ["detect", "--json", "--framework", "noisy", str(project)]):
        run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                             check=False, timeout=120)
        assert run.returncode == 0, run.stderr
        json.loads(run.stdout)
        assert "printed at import" in run.stderr
        if args[0] == "detect":
            assert "printed in detect_framework" in run.stderr and "written in detect_framework" in run.stderr
            assert "printed in list_file_sets" in run.stderr


LEAKY_IMPORT = 'raise RuntimeError("cannot reach mysql://app:hunter2-import@db/app")\n'
LEAKY_HOOK = '''
from synco_core import hookimpl

@hookimpl
def detect_framework(project_dir):
    raise RuntimeError("cannot reach postgres://app:hunter2-detect@db/app")

@hookimpl
def install_files(framework, file_set, source_dir):
    raise RuntimeError("cannot reach postgres://app:hunter2-install@db/app")
'''


def test_plugin_failures_never_show_a_url_password(fake_site: Path, tmp_path: Path) -> None:
    """A plugin's exception quoting a database URL (its password never registered) is reported without the
    password: in the failure listing, the JSON, the warnings, and the --debug traceback."""
    write_distribution(fake_site, "synco-leaky-import", {"leakyimport": "synco_leaky_import"},
                       {"synco_leaky_import": LEAKY_IMPORT})
    write_distribution(fake_site, "synco-leaky-hook", {"leakyhook": "synco_leaky_hook"},
                       {"synco_leaky_hook": LEAKY_HOOK})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(fake_site), os.environ.get("PYTHONPATH")]))}
    code = "from synco_core.cli.main import main; main()"
    runs = [subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                           check=False, timeout=120, cwd=tmp_path)
            for args in (["plugins"], ["plugins", "--json"], ["detect"], ["--debug", "detect"])]
    for run in runs:
        assert "hunter2" not in run.stdout + run.stderr, run.stdout + run.stderr
    assert "mysql://app:***@db/app" in runs[0].stdout
    assert "plugin leakyhook failed in detect_framework: RuntimeError: cannot reach postgres://app:***@db/app" \
        in runs[2].stderr


@pytest.mark.parametrize(("variable", "value", "failures"), [
    # A typo in the names to leave out: the plugin meant would run all the same, without a word.
    ("SYNCO_DISABLE_PLUGINS", "good,othre", [("othre", "named in SYNCO_DISABLE_PLUGINS but not installed")]),
    ("SYNCO_DISABLE_PLUGINS", "Synco-Nope", [("synco-nope", "named in SYNCO_DISABLE_PLUGINS but not installed")]),
    # The built-ins cannot be left out: saying nothing would let the user think they were.
    ("SYNCO_DISABLE_PLUGINS", "MySQL,default_files", [
        ("default-files", "named in SYNCO_DISABLE_PLUGINS, but built-in plugins are always loaded"),
        ("mysql", "named in SYNCO_DISABLE_PLUGINS, but built-in plugins are always loaded")]),
    # ... and naming one to load is no error: it is loaded (it was called 'not installed').
    ("SYNCO_LOAD_PLUGINS", "good,postgresql,synco", []),
    ("SYNCO_LOAD_PLUGINS", "good,godo", [("godo", "named in SYNCO_LOAD_PLUGINS but not installed")]),
])
def test_names_in_the_environment_matching_no_plugin_are_reported(
        two_plugins: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
        failures: list[tuple[str, str]]) -> None:
    monkeypatch.setenv(variable, value)
    manager = build_plugin_manager()
    assert [(f.name, f.reason) for f in manager.failures] == failures
    assert {name for name, _ in DEFAULT_PLUGINS} <= set(manager.infos)
    # The names that do match still choose as they did.
    assert ("good" in manager.infos) == ((variable == "SYNCO_LOAD_PLUGINS") == ("good" in value.split(",")))


DESCRIPTOR_MODULE = '''
import os, subprocess, sys
from synco_core import hookimpl, Framework

os.write(1, b"fd 1 at import\\n")
subprocess.run([sys.executable, "-c", "print('child at import')"], check=True)

@hookimpl
def detect_framework(project_dir):
    os.write(1, b"fd 1 in detect_framework\\n")
    subprocess.run([sys.executable, "-c", "print('child in detect_framework')"], check=True)
    if (project_dir / "noisy.marker").exists():
        return Framework(name="Noisy", plugin="noisy", project_dir=project_dir, reason="noisy.marker found")
    return None
'''


def test_plugin_output_below_python_never_reaches_stdout(fake_site: Path, tmp_path: Path) -> None:
    """What a plugin writes to file descriptor 1 itself (os.write, a C library) or through a program it starts
    without capturing its output (``php artisan ...``) went to stdout, into ``--json`` output and into a dump
    written to stdout (a SQLite file with text in front of it); it goes to stderr, as print() does."""
    import sqlite3

    write_distribution(fake_site, "synco-noisy", {"noisy": "synco_noisy_plugin"},
                       {"synco_noisy_plugin": DESCRIPTOR_MODULE})
    project = tmp_path / "project"
    project.mkdir()
    (project / "noisy.marker").write_text("")
    database = tmp_path / "db.sqlite"
    connection = sqlite3.connect(database)
    with connection:
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        connection.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(5)])
    connection.close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(fake_site), os.environ.get("PYTHONPATH")]))}
    code = "from synco_core.cli.main import main; main()"

    def synco(*args: str) -> subprocess.CompletedProcess[bytes]:
        run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, env=env, check=False,
                             timeout=120, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        assert b"fd 1 at import" in run.stderr and b"child at import" in run.stderr
        return run

    json.loads(synco("plugins", "--json").stdout)
    detected = synco("detect", "--json", "--framework", "noisy", str(project))
    assert json.loads(detected.stdout)["plugin"] == "noisy"
    assert b"fd 1 in detect_framework" in detected.stderr and b"child in detect_framework" in detected.stderr
    dumped = synco("db", "dump", f"sqlite:///{database}").stdout
    assert dumped.startswith(b"SQLite format 3\x00")
    (tmp_path / "copy.sqlite").write_bytes(dumped)
    connection = sqlite3.connect(tmp_path / "copy.sqlite")
    assert connection.execute("SELECT count(*) FROM t").fetchone() == (5,)
    connection.close()


KEYED_LEAK = '''
import logging
from synco_core import hookimpl

logging.getLogger("synco_keyed").warning("connecting with host=db user=app password=hunter2-log dbname=app")

@hookimpl
def detect_framework(project_dir):
    raise RuntimeError("could not connect: host=db password='hunter2 q' PGPASSWORD=hunter2-env "
                       "MYSQL_PWD=\\"hunter2-pwd\\" {'password': 'hunter2-dict', "
                       "\\"db_password\\": \\"hunter2-json\\"}")

@hookimpl(tryfirst=True)
def install_files(framework, file_set, source_dir):
    raise RuntimeError("cannot reach host=db password=hunter2-install")
'''


@pytest.mark.parametrize(("text", "shown"), [
    ("host=db user=app password=hunter2 dbname=app", "host=db user=app password=*** dbname=app"),
    ("password = 'two words' port=5432", "password = *** port=5432"),
    ("PGPASSWORD=x1 MYSQL_PWD=x2, DB_PASSWD=x3;", "PGPASSWORD=*** MYSQL_PWD=***, DB_PASSWD=***;"),
    ("{'password': 'x', \"Password\": \"y\"}", "{'password': ***, \"Password\": ***}"),
    ("mysql://app:hunter2@db/app", "mysql://app:***@db/app"),
    # Words about passwords, without one, stay as they are.
    ("password authentication failed for user app", "password authentication failed for user app"),
    ("set DB_PASSWORD in .env", "set DB_PASSWORD in .env"),
])
def test_keyed_passwords_are_masked(text: str, shown: str) -> None:
    from synco_core.redaction import mask_passwords

    assert mask_passwords(text) == shown


def test_plugin_failures_never_show_a_keyed_password(fake_site: Path, tmp_path: Path) -> None:
    """A plugin's exception or log record quoting a libpq connection string (``password=...``), an environment
    setting or a mapping showed the password: only URLs were masked. In the failure line, its own log record
    and the --debug traceback, it is masked now."""
    write_distribution(fake_site, "synco-keyed", {"keyed": "synco_keyed"}, {"synco_keyed": KEYED_LEAK})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(fake_site), os.environ.get("PYTHONPATH")]))}
    code = "from synco_core.cli.main import main; main()"
    runs = [subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                           check=False, timeout=120, cwd=tmp_path)
            for args in (["detect"], ["--debug", "detect"])]
    for run in runs:
        assert "hunter2" not in run.stdout + run.stderr, run.stdout + run.stderr
        assert "plugin keyed failed in detect_framework: RuntimeError: could not connect: host=db password=***" \
            in run.stderr
        assert "connecting with host=db user=app password=*** dbname=app" in run.stderr
    assert "Traceback" in runs[1].stderr
    set_plugin_manager(None)
    manager = build_plugin_manager()
    with pytest.raises(Exception, match="^plugin keyed failed in install_files: RuntimeError: cannot reach host=db "
                                        r"password=\*\*\*$"):
        manager.hook.install_files(framework=None, file_set=None, source_dir=None)


@pytest.mark.parametrize(("name", "taken", "by"), [
    ("MySQL", "mysql", "synco"),
    ("Default_Files", "default-files", "synco"),
    ("sqlite", "sqlite", "synco"),
])
def test_entry_point_named_like_another_plugin_is_refused(fake_site: Path, name: str, taken: str, by: str) -> None:
    """A plugin named like a built-in but for case or -/_ ("MySQL") was loaded beside it: its warnings read as
    the built-in's, and SYNCO_DISABLE_PLUGINS, which compares names that way, could not tell them apart."""
    write_distribution(fake_site, "synco-good", {"good": "synco_good_plugin"}, {"synco_good_plugin": GOOD_MODULE})
    write_distribution(fake_site, "synco-impostor", {name: "synco_impostor_plugin"},
                       {"synco_impostor_plugin": OTHER_MODULE})
    manager = build_plugin_manager()
    assert manager.infos[taken].distribution == by
    assert not [info for info in manager.infos.values() if info.distribution == "synco-impostor"]
    [failure] = manager.failures
    spelt = "" if name == taken else f" (as {taken!r})"
    assert (failure.name, failure.distribution, failure.reason) == (
        name, "synco-impostor", f"plugin name {name!r} is already used by {by}{spelt}")


def test_two_distributions_with_plugin_names_differing_in_case_load_one(fake_site: Path) -> None:
    write_distribution(fake_site, "synco-good", {"good": "synco_good_plugin"}, {"synco_good_plugin": GOOD_MODULE})
    write_distribution(fake_site, "synco-other", {"Good": "synco_other_plugin"}, {"synco_other_plugin": OTHER_MODULE})
    manager = build_plugin_manager()
    [loaded] = [name for name in manager.infos if name.lower() == "good"]
    [failure] = manager.failures
    assert failure.name == ({"good", "Good"} - {loaded}).pop()
    assert failure.reason.endswith(f"is already used by {manager.infos[loaded].distribution} (as {loaded!r})")


THREAD_MODULE = '''
import threading
from synco_core import hookimpl

def start(name, daemon=False):
    threading.Thread(target=threading.Event().wait, name=name, daemon=daemon).start()

start("poller-at-import")
start("daemon-at-import", daemon=True)

@hookimpl
def detect_framework(project_dir):
    start("poller-in-detect")
    return None
'''


def test_threads_a_plugin_leaves_running_do_not_keep_synco_from_exiting(fake_site: Path, tmp_path: Path) -> None:
    """A plugin starting a thread that never ends (a poller, at import or in a hook) kept synco from exiting
    once its command was done: Python waits for every non-daemon thread, here for ever. synco names each such
    thread and exits with the command's status."""
    write_distribution(fake_site, "synco-poller", {"poller": "synco_poller_plugin"},
                       {"synco_poller_plugin": THREAD_MODULE})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(fake_site), os.environ.get("PYTHONPATH")]))}
    code = "from synco_core.cli.main import main; main()"
    # The timeout only keeps a regression from hanging the test run; synco exits at once.
    listing = subprocess.run([sys.executable, "-c", code, "plugins", "--json"], capture_output=True, text=True,
                             env=env, check=False, timeout=60)
    assert listing.returncode == 0, listing.stderr
    assert "poller" in {p["name"] for p in json.loads(listing.stdout)["plugins"]}
    assert re.findall(r"left the thread '([^']+)' running", listing.stderr) == ["poller-at-import"]
    detect = subprocess.run([sys.executable, "-c", code, "detect", str(tmp_path)], capture_output=True, text=True,
                            env=env, check=False, timeout=60)
    assert detect.returncode == 1 and "no framework detected" in detect.stderr
    assert "plugin poller left the thread 'poller-at-import' running; synco exits without waiting for it" \
        in detect.stderr
    assert "plugin poller left the thread 'poller-in-detect' running" in detect.stderr
