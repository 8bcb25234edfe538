"""Plugins that misbehave at run time: wrong answers, answers that fail half-way, output on stdout.

A broken plugin is named in one warning and left out; the other plugins and the command's own output
(``--json`` on stdout) are unaffected.
"""

from __future__ import annotations

import dataclasses
import logging
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from synco_core import FileSet, FileSetOptions, Framework, hookimpl
from synco_core.detection import detect_candidates, list_file_sets
from synco_core.plugins import SyncoPluginManager


def _plugin(**hooks: Callable[..., Any]) -> object:
    return types.SimpleNamespace(**{name: hookimpl(function) for name, function in hooks.items()})


@dataclasses.dataclass
class LookAlikeFramework:
    """A Framework of another version: the same fields, another class."""

    name: str
    plugin: str
    project_dir: Path
    reason: str = ""
    priority: int = 0


def _half_then_raise(project_dir: Path) -> Iterator[FileSet]:
    yield FileSet(name="half", kind="private", root=project_dir, relative_base_path="half")
    raise RuntimeError("generator broke half-way")


WRONG_FRAMEWORKS: dict[str, Callable[[Path], object]] = {
    "a string": lambda project_dir: "Hugo",
    "a list": lambda project_dir: [Framework(name="X", plugin="bad", project_dir=project_dir, reason="x")],
    "a dict": lambda project_dir: {"name": "X", "plugin": "bad"},
    "another version's Framework": lambda project_dir: LookAlikeFramework("X", "bad", project_dir, "x", 5),
}


@pytest.mark.hook("detect_framework")
@pytest.mark.parametrize("answer", WRONG_FRAMEWORKS, ids=list(WRONG_FRAMEWORKS))
def test_wrong_detect_framework_answer_is_refused_and_named(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
    caplog: pytest.LogCaptureFixture, answer: str,
) -> None:
    def fine(project_dir: Path) -> Framework:
        return Framework(name="Fine", plugin="fine", project_dir=project_dir, reason="always")

    register_plugin(_plugin(detect_framework=WRONG_FRAMEWORKS[answer]), "bad")
    register_plugin(_plugin(detect_framework=fine), "fine")
    with caplog.at_level(logging.WARNING, logger="synco_core.plugins"):
        found = detect_candidates(tmp_path, plugin_manager)
    assert [f.plugin for f in found] == ["fine"]
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith("plugin bad answered detect_framework with ") and warning.endswith(
        "not a Framework; ignored"), warning
    assert "\n" not in warning


WRONG_FILE_SETS: dict[str, Callable[[Path], object]] = {
    "a string": lambda project_dir: "static",
    "a FileSet, not a list": lambda project_dir: FileSet(name="one", kind="private", root=project_dir,
                                                         relative_base_path="one"),
    "a list holding a string": lambda project_dir: [
        FileSet(name="ok", kind="private", root=project_dir, relative_base_path="ok"), "static"],
    "a mapping": lambda project_dir: {"static": project_dir},
    "a generator raising half-way": _half_then_raise,
}


@pytest.mark.hook("list_file_sets")
@pytest.mark.parametrize("answer", WRONG_FILE_SETS, ids=list(WRONG_FILE_SETS))
def test_wrong_list_file_sets_answer_is_refused_whole_and_named(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
    caplog: pytest.LogCaptureFixture, answer: str,
) -> None:
    def bad(framework: Framework, options: FileSetOptions) -> object:
        return WRONG_FILE_SETS[answer](framework.project_dir)

    def fine(framework: Framework, options: FileSetOptions) -> list[FileSet]:
        return [FileSet(name="fine", kind="private", root=framework.project_dir, relative_base_path="fine")]

    register_plugin(_plugin(list_file_sets=bad), "bad")
    register_plugin(_plugin(list_file_sets=fine), "fine")
    framework = Framework(name="Fine", plugin="fine", project_dir=tmp_path, reason="test")
    with caplog.at_level(logging.WARNING, logger="synco_core.plugins"):
        sets = list_file_sets(framework, FileSetOptions())
    # Nothing of a broken answer is used, not even the sets it gave before it failed.
    assert [s.name for s in sets] == ["fine"]
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith("plugin bad ") and "list_file_sets" in warning and "\n" not in warning, warning


@pytest.mark.hook("list_file_sets")
def test_generator_answer_is_accepted(plugin_manager: SyncoPluginManager,
                                      register_plugin: Callable[[object, str], None], tmp_path: Path) -> None:
    """Any iterable of FileSet is an answer (the hook says list, a generator or tuple is as good)."""
    def sets(framework: Framework, options: FileSetOptions) -> Iterator[FileSet]:
        yield FileSet(name="a", kind="private", root=framework.project_dir, relative_base_path="a")
        yield FileSet(name="b", kind="private", root=framework.project_dir, relative_base_path="b")

    register_plugin(_plugin(list_file_sets=sets), "gen")
    framework = Framework(name="Gen", plugin="gen", project_dir=tmp_path, reason="test")
    assert [s.name for s in list_file_sets(framework, FileSetOptions())] == ["a", "b"]


def _raising(exc: Exception) -> Callable[..., object]:
    def hook(**kwargs: object) -> object:
        raise exc
    return hook


@pytest.mark.hook("install_files")
@pytest.mark.parametrize("hook", ["install_files", "dump_database", "check_install_target", "inspect_database"])
def test_third_party_firstresult_hook_that_raises_is_named(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path, hook: str,
) -> None:
    """An unexpected exception in a third-party firstresult hook becomes one line naming the plugin and the hook
    (the original stays chained for --debug); the built-in engines' own exceptions are left as they are."""
    import inspect

    from synco_core import SyncoError, hookspecs

    names = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    original = KeyError("no_such_key")

    def failing(*args: object) -> object:
        raise original

    # The implementation must name the hook's arguments (pluggy passes them by name).
    namespace: dict[str, Any] = {"failing": failing}
    exec(f"def {hook}({', '.join(names)}):\n    return failing()\n", namespace)
    register_plugin(types.SimpleNamespace(**{hook: hookimpl(tryfirst=True)(namespace[hook])}), "bad")
    kwargs = {name: object() for name in names}
    with pytest.raises(SyncoError) as caught:
        getattr(plugin_manager.hook, hook)(**kwargs)
    assert str(caught.value) == f"plugin bad failed in {hook}: KeyError: 'no_such_key'"
    assert caught.value.__cause__ is original


@pytest.mark.hook("install_files")
def test_syncoerror_from_a_firstresult_hook_is_the_users_answer(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
) -> None:
    from synco_core import ConfigError

    refusal = ConfigError("content/files is a link out of the project")

    def install_files(framework: object, file_set: object, source_dir: object) -> object:
        raise refusal

    register_plugin(types.SimpleNamespace(install_files=hookimpl(tryfirst=True)(install_files)), "strict")
    with pytest.raises(ConfigError) as caught:
        plugin_manager.hook.install_files(framework=None, file_set=None, source_dir=None)
    assert caught.value is refusal


@pytest.mark.hook("detect_framework")
def test_plugin_cannot_change_cwd_environment_or_signal_handlers(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A hook that chdirs (receive would then write its download elsewhere), edits os.environ or installs a
    signal handler (Ctrl-C would no longer clean up) has it undone, with a warning naming the plugin."""
    import os
    import signal

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNCO_TEST_KEPT", "kept")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before_int = signal.getsignal(signal.SIGINT)
    before_term = signal.getsignal(signal.SIGTERM)

    def meddling(project_dir: Path) -> None:
        os.chdir(elsewhere)
        os.environ["SYNCO_TEST_ADDED"] = "secret-value-7"
        os.environ["SYNCO_TEST_KEPT"] = "changed"
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *a: None)

    def fine(project_dir: Path) -> Framework:
        return Framework(name="Fine", plugin="fine", project_dir=project_dir, reason="always")

    register_plugin(_plugin(detect_framework=meddling), "meddler")
    register_plugin(_plugin(detect_framework=fine), "fine")
    with caplog.at_level(logging.WARNING, logger="synco_core"):
        found = detect_candidates(tmp_path, plugin_manager)
    assert [f.plugin for f in found] == ["fine"]
    assert Path.cwd() == tmp_path
    assert "SYNCO_TEST_ADDED" not in os.environ and os.environ["SYNCO_TEST_KEPT"] == "kept"
    assert signal.getsignal(signal.SIGINT) is before_int and signal.getsignal(signal.SIGTERM) is before_term
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3, warnings
    assert all(w.startswith("plugin meddler changed ") and "detect_framework" in w for w in warnings), warnings
    # Names of variables, never their values (a plugin may have put a password there).
    assert "plugin meddler changed the environment in detect_framework (SYNCO_TEST_ADDED, SYNCO_TEST_KEPT); put back" \
        in warnings
    assert not any("secret-value-7" in w for w in warnings), warnings


@pytest.mark.hook("detect_framework")
def test_plugin_stuck_in_detect_is_named_while_it_blocks(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A hook that should take a moment but blocks (a network mount, a console waiting for input) cannot be
    interrupted safely, but the user is told which plugin is holding synco up, while it does."""
    import threading

    import synco_core.plugins

    monkeypatch.setattr(synco_core.plugins, "SLOW_HOOK_SECONDS", 0.2)
    warned = threading.Event()
    warnings: list[str] = []

    class Flag(logging.Handler):
        # Its own handler, not caplog: the record comes from the timer's thread, and is complete once here.
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno == logging.WARNING:
                warnings.append(record.getMessage())
                warned.set()

    handler = Flag()
    logging.getLogger("synco_core.plugins").addHandler(handler)

    def stuck(project_dir: Path) -> None:
        # Blocks until the warning has been given (or 10 s pass): the warning comes while the hook runs.
        warned.wait(10)

    def quick(project_dir: Path) -> None:
        return None

    register_plugin(_plugin(detect_framework=stuck), "stuck")
    register_plugin(_plugin(detect_framework=quick), "quick")
    try:
        detect_candidates(tmp_path, plugin_manager)
    finally:
        logging.getLogger("synco_core.plugins").removeHandler(handler)
    assert warned.is_set()
    assert warnings == ["plugin stuck is still in detect_framework after 0.2 s "
                        "(SYNCO_DISABLE_PLUGINS=stuck leaves it out)"], warnings


@pytest.mark.hook("detect_framework")
@pytest.mark.parametrize("claimed", [2, 100, 10**9, -50])
def test_priority_outside_the_scale_cannot_outrank_explicit_configuration(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
    caplog: pytest.LogCaptureFixture, claimed: int,
) -> None:
    """The scale is -1 (fallback), 0 (a framework's guess), 1 (explicit configuration). A plugin claiming every
    project with priority 100 would silently beat a .synco.yml; it is counted at the nearest end of the scale,
    so against explicit configuration it ties, and the tie error names both."""
    from synco_core import ConfigError
    from synco_core.detection import detect

    def greedy(project_dir: Path) -> Framework:
        return Framework(name="Greedy", plugin="greedy", project_dir=project_dir, reason="always mine",
                         priority=claimed)

    def configured(project_dir: Path) -> Framework:
        return Framework(name="Configured", plugin="configured", project_dir=project_dir, reason=".synco.yml",
                         priority=1 if claimed > 0 else -1)

    register_plugin(_plugin(detect_framework=greedy), "greedy")
    register_plugin(_plugin(detect_framework=configured), "configured")
    with caplog.at_level(logging.WARNING, logger="synco_core"), pytest.raises(ConfigError) as refused:
        detect(tmp_path, manager=plugin_manager)
    assert "several frameworks match" in str(refused.value) and "greedy" in str(refused.value)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"plugin greedy answered detect_framework with priority {claimed}; counted as "
                        f"{1 if claimed > 0 else -1} (the scale is -1 to 1)"], warnings


FIRSTRESULT_WRONG: dict[str, tuple[str, object]] = {
    "install_files": ("FilesInstallResult", {"destination": "content/files"}),
    "dump_database": ("DumpResult", "done"),
    "install_database": ("InstallResult", ["ok"]),
    "rollback_database": ("InstallResult", 1),
    "inspect_database": ("DatabaseInventory", {"tables": []}),
    "connect_database": ("DatabaseReader", object()),
    "check_install_target": ("bool", "yes"),
    "discard_kept_database": ("bool", 1),
}


@pytest.mark.hook("install_files")
@pytest.mark.parametrize("hook", sorted(FIRSTRESULT_WRONG))
def test_wrong_firstresult_answer_is_refused_naming_the_plugin(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], hook: str,
) -> None:
    """A third-party engine or file installer answering with the wrong type stops the command in one line
    naming it and the hook, instead of an AttributeError somewhere in the core afterwards."""
    import inspect

    from synco_core import SyncoError, hookspecs

    expected, answer = FIRSTRESULT_WRONG[hook]
    names = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    namespace: dict[str, Any] = {"answer": answer}
    exec(f"def {hook}({', '.join(names)}):\n    return answer\n", namespace)
    register_plugin(types.SimpleNamespace(**{hook: hookimpl(tryfirst=True)(namespace[hook])}), "wrongtype")
    with pytest.raises(SyncoError) as caught:
        getattr(plugin_manager.hook, hook)(**{name: object() for name in names})
    message = str(caught.value)
    assert message.startswith(f"plugin wrongtype answered {hook} with a ") and message.endswith(
        f"not a {expected}"), message


BAD_FIELDS: dict[str, tuple[str, object]] = {
    "web_root a str": ("web_root", "public"),
    "project_dir a str": ("project_dir", "/srv/app"),
    "database a URL": ("database", "mysql://u@h/db"),
    "dump_options a dict": ("dump_options", {"exclude_tables": ["cache"]}),
    "priority a str": ("priority", "high"),
    "settings a list": ("settings", ["a"]),
    "name None": ("name", None),
}


@pytest.mark.hook("detect_framework")
@pytest.mark.parametrize("bad", BAD_FIELDS, ids=list(BAD_FIELDS))
def test_framework_with_a_field_of_the_wrong_type_is_refused(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
    caplog: pytest.LogCaptureFixture, bad: str,
) -> None:
    field_name, value = BAD_FIELDS[bad]

    def sloppy(project_dir: Path) -> Framework:
        framework = Framework(name="Sloppy", plugin="sloppy", project_dir=project_dir, reason="x", priority=1)
        setattr(framework, field_name, value)
        return framework

    def fine(project_dir: Path) -> Framework:
        return Framework(name="Fine", plugin="fine", project_dir=project_dir, reason="always")

    register_plugin(_plugin(detect_framework=sloppy), "sloppy")
    register_plugin(_plugin(detect_framework=fine), "fine")
    with caplog.at_level(logging.WARNING, logger="synco_core.plugins"):
        found = detect_candidates(tmp_path, plugin_manager)
    assert [f.plugin for f in found] == ["fine"]
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith(f"plugin sloppy answered detect_framework with a Framework whose {field_name} is "), \
        warning


@pytest.mark.hook("amend_framework")
@pytest.mark.parametrize("bad", BAD_FIELDS, ids=list(BAD_FIELDS))
def test_amend_leaving_a_field_of_the_wrong_type_is_named(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path, bad: str,
) -> None:
    from synco_core import SyncoError
    from synco_core.detection import detect

    field_name, value = BAD_FIELDS[bad]

    def fine(project_dir: Path) -> Framework:
        return Framework(name="Fine", plugin="fine", project_dir=project_dir, reason="always")

    def amend_framework(framework: Framework) -> None:
        setattr(framework, field_name, value)

    register_plugin(_plugin(detect_framework=fine), "fine")
    register_plugin(_plugin(amend_framework=amend_framework), "amender")
    with pytest.raises(SyncoError) as refused:
        detect(tmp_path, manager=plugin_manager)
    assert str(refused.value).startswith(f"plugin amender left Framework.{field_name} ")
