"""The CLI's error policy: one ``Error:`` line and exit 1; tracebacks only under ``--debug``; secrets masked."""

from __future__ import annotations

import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from synco_core import Framework, hookimpl
from synco_core.cli.main import cli
from synco_core.errors import DatabaseError
from synco_core.plugins import SyncoPluginManager
from synco_core.redaction import register_secret

SECRET = "pw-Kq81-zzTop-secret"


def leaky_plugin(message: str) -> object:
    """A framework plugin whose detection fails with a SyncoError quoting ``message``."""

    @hookimpl
    def detect_framework(project_dir: Path) -> Framework | None:
        raise DatabaseError(message)

    return types.SimpleNamespace(detect_framework=detect_framework)


@pytest.fixture
def boom_command() -> Iterator[Callable[[BaseException], None]]:
    """Adds a throw-away ``boom`` command raising a chosen exception, removed after the test."""
    raised: list[BaseException] = []

    @click.command("boom")
    def boom() -> None:
        raise raised[0]

    def arm(exc: BaseException) -> None:
        raised.append(exc)

    cli.add_command(boom)
    yield arm
    cli.commands.pop("boom", None)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def test_synco_error_is_one_line_without_traceback(plugin_manager: SyncoPluginManager,
                                                   register_plugin: Callable[[object, str], None],
                                                   tmp_path: Path) -> None:
    register_secret(SECRET)
    register_plugin(leaky_plugin(f"cannot connect to\nmysql://app:{SECRET}@db/app"), "leaky")
    result = run("detect", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr == "Error: cannot connect to mysql://app:***@db/app\n"
    assert SECRET not in result.output


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_traceback_with_secret_masked(plugin_manager: SyncoPluginManager,
                                                  register_plugin: Callable[[object, str], None],
                                                  tmp_path: Path, where: str) -> None:
    register_secret(SECRET)
    register_plugin(leaky_plugin(f"login failed for app:{SECRET}"), "leaky")
    args = ["--debug", "detect", str(tmp_path)] if where == "before" else ["detect", str(tmp_path), "--debug"]
    result = run(*args)
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "DatabaseError: login failed for app:***" in result.stderr
    assert result.stderr.rstrip().endswith("Error: login failed for app:***")
    assert SECRET not in result.stderr and SECRET not in result.stdout


REFUSED_URL = f"mysql://root:{SECRET}@127.0.0.1:1/nothing"  # port 1: a real, immediate connection refusal


@pytest.mark.parametrize("args", [
    ["--debug", "db", "dump", REFUSED_URL],
    ["db", "--debug", "dump", REFUSED_URL],
    ["db", "dump", REFUSED_URL, "--debug"],
], ids=["before-group", "on-db-group", "after-command"])
def test_debug_anywhere_around_the_db_group(args: list[str]) -> None:
    register_secret(SECRET)
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("Error: cannot connect to 127.0.0.1:1")
    assert SECRET not in result.stderr
    plain = run("db", "dump", REFUSED_URL)
    assert plain.exit_code == 1 and plain.stderr.count("\n") == 1 and "Traceback" not in plain.stderr


def test_unexpected_error_is_one_line(boom_command: Callable[[BaseException], None]) -> None:
    register_secret(SECRET)
    boom_command(RuntimeError(f"something odd with {SECRET}"))
    result = run("boom")
    assert result.exit_code == 1
    assert result.stderr == "Error: RuntimeError: something odd with ***\n"


def test_unexpected_error_traceback_under_debug(boom_command: Callable[[BaseException], None]) -> None:
    register_secret(SECRET)
    boom_command(KeyError(SECRET))
    result = run("--debug", "boom")
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert SECRET not in result.stderr


def test_keyboard_interrupt_exits_130(boom_command: Callable[[BaseException], None]) -> None:
    boom_command(KeyboardInterrupt())
    result = run("boom")
    assert result.exit_code == 130
    assert result.stderr == "Error: interrupted\n"


def test_usage_errors_stay_clicks(tmp_path: Path) -> None:
    result = run("detect", "--no-such-option")
    assert result.exit_code == 2
    assert "No such option" in result.stderr


def test_console_script_version_and_help() -> None:
    """The installed entry point itself (not only the click group) answers."""
    code = "from synco_core.cli.main import main; main()"
    version = subprocess.run([sys.executable, "-c", code, "--version"], capture_output=True, text=True, check=False)
    assert version.returncode == 0 and version.stdout.strip() == "synco, version 0.1.0"
    helped = subprocess.run([sys.executable, "-c", code, "-h"], capture_output=True, text=True, check=False)
    assert helped.returncode == 0
    for name in ("detect", "plugins", "db"):
        assert name in helped.stdout


@pytest.mark.parametrize("command", [["plugins", "--json"], ["--version"]])
def test_output_that_cannot_be_written_fails_the_command_in_one_line(command: list[str]) -> None:
    """A command that succeeded but whose output did not arrive (stdout on a full disk) fails with one line,
    not with a traceback from the last flush, nor with status 0."""
    import os

    from synco_core.testing.services import unavailable

    if not os.path.exists("/dev/full"):
        unavailable("/dev/full (a device that is always full) is not on this machine")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "synco_core", *command], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and last.endswith("No space left on device"), done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [
    ["detect"], ["detect", "--json"], ["plugins", "--json"], ["serve", "--plan"], ["db", "dump", "--sql", "{db}"],
    ["db", "dump", "{db}"], ["--help"], ["--version"], ["detect", "--framework", "nope"],
])
def test_a_reader_gone_fails_the_command_in_one_line(command: list[str], tmp_path: Path) -> None:
    """``synco detect | head -1`` and the like: the reader of stdout has gone before synco wrote. One line says
    the output could not be written (not "BrokenPipeError: [Errno 32]"), status 1, and a command that failed
    for its own reason keeps its own message."""
    import os
    import shutil

    project = tmp_path / "app"
    shutil.copytree(Path(__file__).parents[1] / "examples" / "laravel-app", project,
                    ignore=shutil.ignore_patterns("vendor", "node_modules"))
    database = f"sqlite:///{project / 'database' / 'database.sqlite'}"
    read, write = os.pipe()
    os.close(read)  # Python ignores SIGPIPE: every write to this pipe fails with EPIPE
    try:
        done = subprocess.run([sys.executable, "-m", "synco_core", *(a.replace("{db}", database) for a in command)],
                              stdout=write, stderr=subprocess.PIPE, text=True, cwd=project, timeout=120, check=False)
    finally:
        os.close(write)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    if command[-1] == "nope":
        assert lines[-1].startswith("Error: no installed plugin detects a framework named 'nope'"), done.stderr
    else:
        assert lines == ["Error: cannot write synco's output: Broken pipe"], done.stderr


@pytest.mark.parametrize(("exc", "line"), [
    (PermissionError(13, "Permission denied", "/srv/closed/app.db"),
     "Error: cannot use /srv/closed/app.db: Permission denied"),
    (OSError(36, "File name too long", "a" * 10), "Error: cannot use aaaaaaaaaa: File name too long"),
    (IsADirectoryError(21, "Is a directory", b"/srv/\xff"), "Error: cannot use /srv/\\udcff: Is a directory"),
    (FileNotFoundError(2, "No such file or directory", "/tmp/x\n\x1b[31mforged"),
     "Error: cannot use /tmp/x\\u000a\\u001b[31mforged: No such file or directory"),
    (OSError("no file named"), "Error: OSError: no file named"),
])
def test_a_refused_path_is_named_without_the_exception_class(boom_command: Callable[[BaseException], None],
                                                              exc: OSError, line: str) -> None:
    """A system call refusing a path (a folder this user may not enter) reached the user as 'Error:
    PermissionError: [Errno 13] ...', the form kept for exceptions nobody expected."""
    boom_command(exc)
    result = run("boom")
    assert result.exit_code == 1
    assert result.stderr == line + "\n"
