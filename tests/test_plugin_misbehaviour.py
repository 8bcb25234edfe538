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

from synco_core import DatabaseConfig, DumpOptions, FileSet, FileSetOptions, Framework, hookimpl
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


#: FileSet fields holding the wrong type (or an unusable value): field -> (value, what the warning says of it).
WRONG_FILE_SET_FIELDS: dict[str, tuple[str, object, str]] = {
    # Taken as the patterns "*", ".", "l" ...: "*" excluded every file and the set was published empty.
    "exclude a str": ("exclude", "*.log", "exclude is a str"),
    "exclude holding a Path": ("exclude", (Path("cache"),), "exclude holds a pathlib.PosixPath"),
    "root relative": ("root", Path("media"), "root is a relative path ('media')"),
    "root a str": ("root", "/srv/media", "root is a str, not a Path"),
    "kind capitalised": ("kind", "Public", "kind is 'Public', not 'public' or 'private'"),
    "url_prefix None": ("url_prefix", None, "url_prefix is a NoneType"),
    "relative_base_path absolute": ("relative_base_path", "/etc", "relative_base_path is unsafe: "),
    "relative_base_path leaving the project": ("relative_base_path", "../shared", "relative_base_path is unsafe: "),
    "entries a list": ("entries", [], "entries is a list, not a function"),
    "smart_skip a str": ("smart_skip", "yes", "smart_skip is a str"),
    "name empty": ("name", "", "name is empty"),
}


@pytest.mark.hook("list_file_sets")
@pytest.mark.parametrize("wrong", WRONG_FILE_SET_FIELDS, ids=list(WRONG_FILE_SET_FIELDS))
def test_file_set_holding_the_wrong_types_is_refused_and_named(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
    caplog: pytest.LogCaptureFixture, wrong: str,
) -> None:
    """The fields of a FileSet were read far from the plugin, failing there or silently doing the wrong thing;
    the answer is refused where it is given, naming the plugin, the set and the field."""
    field_name, value, problem = WRONG_FILE_SET_FIELDS[wrong]

    def sloppy(framework: Framework, options: FileSetOptions) -> list[FileSet]:
        file_set = FileSet(name="media", kind="public", root=framework.project_dir / "media",
                           relative_base_path="media", url_prefix="media")
        setattr(file_set, field_name, value)
        return [file_set]

    def fine(framework: Framework, options: FileSetOptions) -> list[FileSet]:
        return [FileSet(name="fine", kind="private", root=framework.project_dir, relative_base_path="fine")]

    register_plugin(_plugin(list_file_sets=sloppy), "sloppy")
    register_plugin(_plugin(list_file_sets=fine), "fine")
    framework = Framework(name="Fine", plugin="fine", project_dir=tmp_path, reason="test")
    with caplog.at_level(logging.WARNING, logger="synco_core.plugins"):
        sets = list_file_sets(framework, FileSetOptions())
    assert [s.name for s in sets] == ["fine"]
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    set_name = value if field_name == "name" else "media"
    assert warning.startswith(f"plugin sloppy answered list_file_sets with a FileSet {set_name!r} whose {problem}"), \
        warning


def _entries_failing(how: str) -> Callable[[], Iterator[object]]:
    def entries() -> Iterator[object]:
        from synco_core import PublicFile

        yield PublicFile(path="a.txt", size=1, mtime=1_700_000_000, uri="media/a.txt")
        if how == "raises":
            raise KeyError("storage_path")
        if how == "yields a str":
            yield "b.txt"
        if how == "calls sys.exit(0)":
            raise SystemExit(0)
    return entries


ENTRIES_FAILURES = {
    "raises": "KeyError: 'storage_path'",
    "yields a str": "it yielded a str, not a PublicFile",
    "calls sys.exit(0)": "called sys.exit(0)",
}


@pytest.mark.hook("list_file_sets")
@pytest.mark.parametrize("how", ENTRIES_FAILURES, ids=list(ENTRIES_FAILURES))
def test_entries_generator_failing_in_serve_names_the_plugin(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, how: str,
) -> None:
    """A public set's ``entries`` runs long after ``list_file_sets`` returned, outside any hook: a generator that
    raised stopped serve with 'Error: KeyError: ...' naming no plugin, one yielding something else with an
    AttributeError, and one calling sys.exit(0) ended serve with status 0 after publishing nothing."""
    from click.testing import CliRunner

    from synco_core.cli.main import cli

    def detect_framework(project_dir: Path) -> Framework:
        return Framework(name="Shop", plugin="shop", project_dir=project_dir, web_root=project_dir / "public",
                         reason="always")

    def sets(framework: Framework, options: FileSetOptions) -> list[FileSet]:
        return [FileSet(name="media", kind="public", relative_base_path="public/media",
                        entries=_entries_failing(how))]  # type: ignore[arg-type]

    register_plugin(_plugin(detect_framework=detect_framework, list_file_sets=sets), "shop")
    (tmp_path / "public").mkdir()
    monkeypatch.chdir(tmp_path)
    failure = f"plugin shop failed in the entries of file set 'media': {ENTRIES_FAILURES[how]}"
    result = CliRunner().invoke(cli, ["serve", "--ttl", "1"])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines()[-1] == f"Error: {failure}"
    assert list((tmp_path / "public").iterdir()) == []
    # The plan reports each set's failure on that set's line.
    plan = CliRunner().invoke(cli, ["serve", "--plan"])
    assert f"media                    public   included; {failure}" in plan.stdout, plan.output


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
        # Each hook call starts a timer of 0.2 s here; on a loaded machine one may fire after its call returned,
        # and its warning would land in the next test's log: they end with this test.
        for thread in threading.enumerate():
            if isinstance(thread, threading.Timer):
                thread.cancel()
                thread.join(10)
        logging.getLogger("synco_core.plugins").removeHandler(handler)
    assert warned.is_set()
    # (On a loaded machine the quick plugin may take 0.2 s too, and be named as well.)
    assert "plugin stuck is still in detect_framework after 0.2 s (SYNCO_DISABLE_PLUGINS=stuck leaves it out)" \
        in warnings, warnings


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
    # A relative folder is one below wherever synco was started: serve published the session there.
    "web_root relative": ("web_root", Path("public")),
    "project_dir relative": ("project_dir", Path(".")),
    "post_install a command line": ("post_install", ["php bin/magento cache:flush"]),
    "post_install holding a Path": ("post_install", [[Path("/usr/bin/php"), "artisan"]]),
    "post_install_env a list": ("post_install_env", [("APP_ENV", "prod")]),
    "post_install_env holding a number": ("post_install_env", {"DB_PORT": 5432}),
    "databases holding a URL": ("databases", {"reports": "mysql://u@h/reports"}),
    "public_prefixes holding a Path": ("public_prefixes", (Path("/media"),)),
    "dump_options.exclude_tables a str": ("dump_options", DumpOptions(exclude_tables="sessions")),  # type: ignore[arg-type]
    # Read from a configuration file as text: the MySQL driver's "port should be of type int" named nobody.
    "database.port a str": ("database", DatabaseConfig(engine="mysql", name="shop", port="3306")),  # type: ignore[arg-type]
    "database.options holding a bool": ("database", DatabaseConfig(engine="mysql", name="shop",
                                                                   options={"ssl_verify_cert": False})),  # type: ignore[dict-item]
    "databases[...].user an int": ("databases", {"reports": DatabaseConfig(engine="postgresql", name="r", user=0)}),  # type: ignore[arg-type]
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
    assert warning.startswith(f"plugin sloppy answered detect_framework with a Framework whose {field_name}"), \
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
    assert str(refused.value).startswith(f"plugin amender left Framework.{field_name}")


def _exit(exc: BaseException) -> Callable[..., Any]:
    def raising(*args: Any, **kwargs: Any) -> None:
        raise exc
    return raising


#: What plugin code may raise that is not an Exception but is no reason for synco to stop: a plugin's failure.
PLUGIN_EXITS: dict[str, Callable[[], BaseException]] = {
    "sys.exit(0)": lambda: SystemExit(0),
    "sys.exit(3)": lambda: SystemExit(3),
    "sys.exit('bye')": lambda: SystemExit("bye"),
    "GeneratorExit": GeneratorExit,
}
PLUGIN_EXIT_REASONS = {"sys.exit(0)": "called sys.exit(0)", "sys.exit(3)": "called sys.exit(3)",
                       "sys.exit('bye')": "called sys.exit('bye')", "GeneratorExit": "raised GeneratorExit"}


@pytest.mark.hook("detect_framework")
@pytest.mark.parametrize("raised", PLUGIN_EXITS, ids=list(PLUGIN_EXITS))
def test_plugin_exit_in_a_collecting_hook_is_that_plugins_failure(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
    caplog: pytest.LogCaptureFixture, raised: str,
) -> None:
    """sys.exit() (or a stray GeneratorExit) in a hook every plugin is asked ended synco on the spot, with the
    plugin's status (0: success, having done nothing) and no word; it is that plugin's failure, named once."""
    def quitting(project_dir: Path) -> None:
        raise PLUGIN_EXITS[raised]()

    def fine(project_dir: Path) -> Framework:
        return Framework(name="Fine", plugin="fine", project_dir=project_dir, reason="always")

    register_plugin(_plugin(detect_framework=quitting), "quitter")
    register_plugin(_plugin(detect_framework=fine), "fine")
    with caplog.at_level(logging.WARNING, logger="synco_core"):
        found = detect_candidates(tmp_path, plugin_manager)
    assert [f.plugin for f in found] == ["fine"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"plugin quitter failed in detect_framework: {PLUGIN_EXIT_REASONS[raised]}"]


@pytest.mark.hook("install_files")
@pytest.mark.parametrize("raised", PLUGIN_EXITS, ids=list(PLUGIN_EXITS))
def test_plugin_exit_in_a_firstresult_hook_is_one_line_naming_it(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], raised: str,
) -> None:
    """In a firstresult hook (or a worker thread, where SystemExit ends the thread silently) the exit becomes
    the PluginError any other exception becomes, the original chained for --debug."""
    import threading

    from synco_core.plugins import PluginError

    exc = PLUGIN_EXITS[raised]()
    register_plugin(types.SimpleNamespace(install_files=hookimpl(tryfirst=True)(_exit(exc))), "quitter")
    with pytest.raises(PluginError) as caught:
        plugin_manager.hook.install_files(framework=None, file_set=None, source_dir=None)
    assert str(caught.value) == f"plugin quitter failed in install_files: {PLUGIN_EXIT_REASONS[raised]}"
    assert caught.value.__cause__ is exc

    outcome: list[BaseException] = []

    def worker() -> None:
        try:
            plugin_manager.hook.install_files(framework=None, file_set=None, source_dir=None)
        except Exception as error:
            outcome.append(error)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert [type(error) for error in outcome] == [PluginError]


@pytest.mark.hook("detect_framework")
@pytest.mark.parametrize("hook", ["detect_framework", "install_files"])
def test_ctrl_c_in_plugin_code_still_stops_synco(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path, hook: str,
) -> None:
    """KeyboardInterrupt is not taken for a plugin's failure: Ctrl-C while a plugin runs must stop synco."""
    interrupt = KeyboardInterrupt()
    register_plugin(types.SimpleNamespace(**{hook: hookimpl(tryfirst=True)(_exit(interrupt))}), "slow")
    with pytest.raises(KeyboardInterrupt) as caught:
        if hook == "detect_framework":
            detect_candidates(tmp_path, plugin_manager)
        else:
            plugin_manager.hook.install_files(framework=None, file_set=None, source_dir=None)
    assert caught.value is interrupt


IMPORT_EXITS = {
    "sys.exit(0)": ("import sys\nsys.exit(0)\n", "called sys.exit(0)"),
    "raise SystemExit('no')": ("raise SystemExit('no')\n", "called sys.exit('no')"),
    "GeneratorExit": ("raise GeneratorExit\n", "raised GeneratorExit"),
}


@pytest.mark.parametrize("case", IMPORT_EXITS, ids=list(IMPORT_EXITS))
def test_plugin_exit_at_import_is_a_load_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 case: str) -> None:
    """A plugin module calling sys.exit() while imported ended every synco command (``synco plugins``
    included) with status 0 and no output; it is listed as failed to load, and the other plugins load."""
    from synco_core.plugins import build_plugin_manager
    from synco_core.testing import write_distribution

    source, reason = IMPORT_EXITS[case]
    monkeypatch.syspath_prepend(str(tmp_path))
    write_distribution(tmp_path, "synco-quitter", {"quitter": "synco_quitter_plugin"}, {"synco_quitter_plugin": source})
    write_distribution(tmp_path, "synco-fine", {"fine": "synco_fine_plugin"},
                       {"synco_fine_plugin": "from synco_core import hookimpl\n\n@hookimpl\n"
                                             "def detect_framework(project_dir):\n    return None\n"})
    manager = build_plugin_manager()
    assert [(f.name, f.distribution, f.reason) for f in manager.failures] == [("quitter", "synco-quitter", reason)]
    assert "fine" in manager.infos


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise ValueError("no text")


@pytest.mark.hook("detect_framework")
def test_exception_whose_str_fails_is_still_reported_naming_the_plugin(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An exception class whose __str__ raises made the report of the plugin's failure raise in turn: the
    command ended with 'Error: ValueError: no text', naming nothing. Its type is reported, in every place a
    plugin's exception is turned into a line: a collecting hook, a firstresult hook, loading, the CLI."""
    from click.testing import CliRunner

    from synco_core.cli.main import cli
    from synco_core.plugins import PluginError, build_plugin_manager
    from synco_core.redaction import error_line
    from synco_core.testing import write_distribution

    shown = "_Unprintable: <message not readable: its __str__ raised ValueError>"
    assert error_line(_Unprintable()) == shown

    def unprintable(project_dir: Path) -> None:
        raise _Unprintable()

    def fine(project_dir: Path) -> Framework:
        return Framework(name="Fine", plugin="fine", project_dir=project_dir, reason="always")

    register_plugin(_plugin(detect_framework=unprintable), "mute")
    register_plugin(_plugin(detect_framework=fine), "fine")
    with caplog.at_level(logging.WARNING, logger="synco_core"):
        found = detect_candidates(tmp_path, plugin_manager)
    assert [f.plugin for f in found] == ["fine"]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"plugin mute failed in detect_framework: {shown}"]

    register_plugin(types.SimpleNamespace(install_files=hookimpl(tryfirst=True)(_exit(_Unprintable()))), "mute2")
    with pytest.raises(PluginError) as caught:
        plugin_manager.hook.install_files(framework=None, file_set=None, source_dir=None)
    assert str(caught.value) == f"plugin mute2 failed in install_files: {shown}"

    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    write_distribution(site, "synco-mute", {"mute": "synco_mute_plugin"}, {
        "synco_mute_plugin": "class Unprintable(Exception):\n    def __str__(self):\n        raise ValueError\n\n"
                             "raise Unprintable()\n"})
    [failure] = build_plugin_manager().failures
    assert failure.reason == "Unprintable: <message not readable: its __str__ raised ValueError>"

    # The CLI's last resort, for an exception from anywhere.
    monkeypatch.setattr("synco_core.cli.detect_cmd.detect", _exit(_Unprintable()))
    result = CliRunner().invoke(cli, ["detect", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {shown}"


@pytest.mark.hook("detect_framework")
@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_plugins_own_error_quoting_a_password_is_masked(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
    output_and_logging_kept: None, debug: bool,
) -> None:
    """A plugin's ConfigError quoting its database's URL (whose password it never registered) was printed as it
    was, password and all; a plugin's other exceptions and log records were masked already."""
    from click.testing import CliRunner

    from synco_core import ConfigError
    from synco_core.cli.main import cli

    def detect_framework(project_dir: Path) -> None:
        raise ConfigError("app/etc/env.php: cannot use mysql://shop:hunter2-secret@db/shop "
                          "(password='hunter2-secret')")

    register_plugin(_plugin(detect_framework=detect_framework), "leaky")
    result = CliRunner().invoke(cli, ["detect", str(tmp_path), *(["--debug"] if debug else [])])
    assert result.exit_code == 1
    assert "hunter2" not in result.output
    assert result.stderr.strip().splitlines()[-1] == \
        "Error: app/etc/env.php: cannot use mysql://shop:***@db/shop (password=***)"


def _basic_config_to_stdout() -> None:
    import sys

    logging.basicConfig(stream=sys.stdout, level=logging.DEBUG, force=True)


def _dict_config() -> None:
    import logging.config

    logging.config.dictConfig({"version": 1})  # disable_existing_loggers defaults to True


def _replace_stdout() -> None:
    import io
    import sys

    sys.stdout = io.StringIO()


def _replace_stderr() -> None:
    import io
    import sys

    sys.stderr = io.StringIO()


#: What a plugin may do to the process's output and logging, and what the warning then says it changed.
MEDDLING: dict[str, tuple[Callable[[], None], str]] = {
    "basicConfig(force=True)": (_basic_config_to_stdout, "changed the logging configuration in detect_framework "
                                "(the root logger's handlers; the root logger's level)"),
    "logging.disable": (lambda: logging.disable(logging.CRITICAL),
                        "changed the logging configuration in detect_framework (logging.disable)"),
    "dictConfig": (_dict_config, "changed the logging configuration in detect_framework ("),
    "sys.stdout replaced": (_replace_stdout, "replaced sys.stdout in detect_framework"),
    "sys.stderr replaced": (_replace_stderr, "replaced sys.stderr in detect_framework"),
}


@pytest.fixture
def output_and_logging_kept() -> Iterator[None]:
    """Puts sys.stdout/stderr and the logging configuration back after the test, whether synco did or not."""
    import sys

    root = logging.getLogger()
    saved = (sys.stdout, sys.stderr, list(root.handlers), root.level)
    flags = {name: logger.disabled for name, logger in list(logging.root.manager.loggerDict.items())
             if isinstance(logger, logging.Logger)}
    yield
    sys.stdout, sys.stderr, root.handlers[:], level = saved
    root.setLevel(level)
    logging.disable(logging.NOTSET)
    for name, disabled in flags.items():
        logging.getLogger(name).disabled = disabled


@pytest.mark.hook("detect_framework")
@pytest.mark.parametrize("meddling", MEDDLING, ids=list(MEDDLING))
def test_plugin_cannot_take_over_output_or_logging(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
    caplog: pytest.LogCaptureFixture, output_and_logging_kept: None, meddling: str,
) -> None:
    """A plugin that replaced sys.stdout swallowed the command's output (``synco plugins --json`` printed
    nothing, status 0); one that configured logging removed the handler that redacts secrets (a URL's password
    then shown, debug records without --debug) or silenced every warning, those naming broken plugins too.
    The change is put back when the plugin's code returns, with a warning naming it."""
    import sys

    change, what = MEDDLING[meddling]
    root = logging.getLogger()
    plugins_logger = logging.getLogger("synco_core.plugins")

    def meddler(project_dir: Path) -> None:
        change()

    def failing(project_dir: Path) -> None:
        raise RuntimeError("later plugin broke")

    register_plugin(_plugin(detect_framework=failing), "later")
    # Once first: the first plugin code run puts synco's own stand-in for sys.stdout in place, for good.
    detect_candidates(tmp_path, plugin_manager)
    register_plugin(_plugin(detect_framework=meddler), "meddler")
    with caplog.at_level(logging.WARNING, logger="synco_core"):
        before = (sys.stdout, sys.stderr, list(root.handlers), root.level, logging.root.manager.disable)
        detect_candidates(tmp_path, plugin_manager)
        after = (sys.stdout, sys.stderr, list(root.handlers), root.level, logging.root.manager.disable)
    assert after == before
    assert not plugins_logger.disabled
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(w.startswith(f"plugin meddler {what}") for w in warnings), warnings
    # The later plugin's failure is still told.
    assert "plugin later failed in detect_framework: RuntimeError: later plugin broke" in warnings


def test_plugin_replacing_stdout_at_import_leaves_json_output_intact(tmp_path: Path) -> None:
    """The whole family through a real process: ``synco plugins --json`` with a plugin that swaps sys.stdout,
    one that calls basicConfig(force=True) and one that raises with a URL password while it is imported."""
    import json
    import os
    import subprocess
    import sys

    from synco_core.testing import write_distribution

    site = tmp_path / "site"
    write_distribution(site, "synco-swap", {"swap": "synco_swap_plugin"},
                       {"synco_swap_plugin": "import io, sys\nsys.stdout = io.StringIO()\n"})
    write_distribution(site, "synco-loud", {"loud": "synco_loud_plugin"},
                       {"synco_loud_plugin": "import logging\nlogging.basicConfig(level=logging.DEBUG, force=True)\n"})
    write_distribution(site, "synco-leaky", {"leaky": "synco_leaky_plugin"}, {
        "synco_leaky_plugin": "from synco_core import hookimpl\n\n@hookimpl\ndef detect_framework(project_dir):\n"
                              "    raise RuntimeError('cannot reach postgres://app:hunter2-x@db/app')\n"})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    code = "from synco_core.cli.main import main; main()"
    listing = subprocess.run([sys.executable, "-c", code, "plugins", "--json"], capture_output=True, text=True,
                             env=env, check=False, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert {"swap", "loud", "leaky"} <= {p["name"] for p in json.loads(listing.stdout)["plugins"]}
    assert "plugin swap replaced sys.stdout while loading; put back" in listing.stderr
    detect = subprocess.run([sys.executable, "-c", code, "detect", str(tmp_path)], capture_output=True, text=True,
                            env=env, check=False, timeout=120)
    assert "plugin leaky failed in detect_framework" in detect.stderr
    assert "hunter2" not in detect.stdout + detect.stderr
    assert "DEBUG" not in detect.stderr


@pytest.mark.hook("list_file_sets")
@pytest.mark.parametrize("endless", ["generator", "list"])
def test_list_file_sets_answer_without_end_is_refused_without_reading_it_all(
    plugin_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None], tmp_path: Path,
    caplog: pytest.LogCaptureFixture, endless: str,
) -> None:
    """A generator that never ends (itertools.count() gone wrong) was read until the memory ran out, synco
    hanging meanwhile; an answer is read to MAX_FILE_SETS + 1 sets at most and refused beyond, naming the plugin.
    The generator here stops after a few more, so that without the bound this test fails instead of hanging."""
    from synco_core.pluginanswers import MAX_FILE_SETS

    pulled = 0

    def sets(project_dir: Path) -> Iterator[FileSet]:
        nonlocal pulled
        for i in range(MAX_FILE_SETS + 50):
            pulled += 1
            yield FileSet(name=f"s{i}", kind="private", root=project_dir, relative_base_path=f"s{i}")
        raise RuntimeError("read to the end")

    def bad(framework: Framework, options: FileSetOptions) -> object:
        generator = sets(framework.project_dir)
        return generator if endless == "generator" else [next(generator) for _ in range(MAX_FILE_SETS + 1)]

    def fine(framework: Framework, options: FileSetOptions) -> list[FileSet]:
        return [FileSet(name="fine", kind="private", root=framework.project_dir, relative_base_path="fine")]

    register_plugin(_plugin(list_file_sets=bad), "endless")
    register_plugin(_plugin(list_file_sets=fine), "fine")
    framework = Framework(name="Fine", plugin="fine", project_dir=tmp_path, reason="test")
    with caplog.at_level(logging.WARNING, logger="synco_core.plugins"):
        found = list_file_sets(framework, FileSetOptions())
    assert [s.name for s in found] == ["fine"]
    assert pulled == MAX_FILE_SETS + 1
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"plugin endless answered list_file_sets with more than {MAX_FILE_SETS:,} file sets; ignored"]


def test_a_quick_hooks_watchdog_is_gone_when_the_call_returns(tmp_path: Path, plugin_manager: SyncoPluginManager,
                                                              register_plugin: Callable[[object, str], None],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The slow-hook warning's timer ends with the hook call, not a moment later: a command stopped right after
    a detection (tests/test_pull_install_stopped.py saw one as "Thread-7" still alive, under load) leaves no
    thread of it running. A timer slow to wind down once cancelled (as on a loaded machine) shows it."""
    import threading
    import time

    import synco_core.plugins

    class SlowToEnd(threading.Timer):
        def run(self) -> None:
            super().run()
            time.sleep(0.3)  # a cancelled timer's thread not scheduled at once

    monkeypatch.setattr(synco_core.plugins.threading, "Timer", SlowToEnd)
    register_plugin(_plugin(detect_framework=lambda project_dir: None), "quick")
    detect_candidates(tmp_path, plugin_manager)
    left = [thread.name for thread in threading.enumerate() if isinstance(thread, SlowToEnd) and thread.is_alive()]
    assert left == [], "the watchdog's thread outlived the hook call"
