"""Every parameter of every command, fed values of the wrong shape: one error, never a traceback, nothing changed.

The commands and their parameters come from the click objects themselves, so a new option is swept without
anyone adding it here. Each run happens in a small SQLite project (synco-generic, no PHP to start) and must
end either with click's usage error (exit 2: ``Usage:`` first, one ``Error:`` line last, as
docs/configuration.md promises for a value of the wrong shape) or with synco's one-line ``Error:`` (exit 1),
never with the form the CLI keeps for exceptions nobody expected (``Error: ValueError: ...``), and with every
file of the project, of its temporary folder and of the system's temporary folder as it was.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from synco_core.bounded import MAX_WAIT_SECONDS, SETTINGS, Setting
from synco_core.cli.main import cli
from synco_core.cli.options import KeyType, ListenType, NamesType, PassphraseType, SessionIdType

KEY = "AGE-SECRET-KEY-1GQ9778VQXMMJVE8SK7J6VT8UJ4HDQAJUVSFCWCM02D8GEWQ72PVQ2Y5J33"

#: Arguments that make each command end quickly, writing nothing in the project: the swept parameter is
#: added to (an option) or put in place of (an argument) these. {out} is a folder outside the project.
BASE: dict[tuple[str, ...], list[str]] = {
    ("plugins",): [],
    ("detect",): [],
    ("serve",): ["--plan"],
    ("receive",): ["synco-probe", KEY, "--base-url", "http://127.0.0.1:9/", "--plan"],
    ("pull",): ["no-such-remote"],
    ("install",): ["no-such-dump"],
    ("db", "dump"): ["sqlite:///app.db", "-o", "{out}/dump.sql"],
    ("db", "load"): ["sqlite:///{out}/scratch.db", "{out}/missing.sql", "--yes"],
    ("db", "rollback"): ["sqlite:///{out}/scratch.db", "--yes"],
    ("decrypt",): ["--key", KEY, "{out}/missing.age", "-o", "{out}/plain"],
}
#: The remote side of pull, started by pull itself over its channel: it reads frames on stdin, not people.
INTERNAL = {("_channel",)}

NUMBERS = ["", " ", "nan", "inf", "-inf", "-1", "1e30", str(10**30), "abc", "\x00", "9" * 100_000]
#: Per parameter type, the values of the wrong shape for it (a long passphrase is a good one, a long URL not).
NAMES = ["", " ", "\t\n", "\x00", ",", " , "]
KEYS = ["", " ", "\t\n", "\x00", "\udcff\udcfe"]
LISTEN = ["", " ", "\x00", "abc", "h:99999", "h:-1", "[::1", "::1:80", "[::1]:abc", "a" * 100_000 + ":80",
          "\udcff:80", "h :80"]
SESSION_IDS = ["", " ", "\x00", "../x", "a" * 300, "-x", "x/y", "\udcff"]
TEXT = ["", " ", "\t\n", "\x00", "a" * 100_000, "%zz", "http://[::1", "http://h:0/", "http://h:65536/",
        "http://h:abc/", "http://u:p@[::1/", "http://" + "a" * 70 + ".example/", "\udcff\udcfe." + "b" * 300]


def commands() -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(cli)

    def walk(command: click.Command, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], click.Command]]:
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                yield from walk(sub, (*path, name))
        else:
            yield path, command

    yield from walk(cli, ())


def swept() -> list[tuple[tuple[str, ...], str]]:
    found = []
    for path, command in commands():
        if path in INTERNAL:
            continue
        assert path in BASE, f"synco {' '.join(path)} is new: give it arguments that end quickly in BASE"
        for param in command.params:
            if not (isinstance(param, click.Option) and param.is_flag) and param.name != "debug":
                found.append((path, str(param.name)))
    return found


def bad_values(param: click.Parameter, tmp: Path) -> list[str]:
    if isinstance(param.type, (click.types.IntParamType, click.types.FloatParamType)):
        values = NUMBERS + (["1.5"] if isinstance(param.type, click.types.IntParamType) else [])
        if isinstance(param.type, click.types.FloatParamType):
            values.append(str(MAX_WAIT_SECONDS * 2))
        return values
    if isinstance(param.type, click.Path):
        writes = param.name in ("output", "target")
        # An output may be a new file, and a FIFO is written into or read from as it is (``<(...)``), as
        # documented: not wrong shapes. A FIFO where a folder is wanted is one.
        paths = [str(tmp / "dir"), str(tmp / "dangling"), str(tmp / "file" / "under")]
        if not writes:
            paths += [str(tmp / "missing"), str(tmp / "unreadable")]
        if not param.type.file_okay:
            paths.append(str(tmp / "fifo"))
        return ["", " ", "\t\n", "\x00", "a" * 300, "a/" * 3000, *paths]
    by_type = {NamesType: NAMES, PassphraseType: [*KEYS, " padded "], KeyType: KEYS, ListenType: LISTEN,
               SessionIdType: SESSION_IDS}
    return by_type.get(type(param.type), TEXT)


def snapshot(root: Path) -> dict[str, str]:
    state = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "other"
            if kind == "other" and path.is_file():
                kind = hashlib.sha256(path.read_bytes()).hexdigest()
            state[str(path.relative_to(root))] = kind
    return state


def make_project(tmp: Path) -> Path:
    project = tmp / "project"
    (project / "public" / "media").mkdir(parents=True)
    (project / "var" / "private").mkdir(parents=True)
    (project / "public" / "media" / "a.txt").write_text("a")
    (project / "var" / "private" / "b.txt").write_text("b")
    with sqlite3.connect(project / "app.db") as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    (project / ".synco.yml").write_text(
        "serve:\n  database: sqlite:///app.db\n  web_root: public\n  file_sets:\n"
        "    - {name: media, path: public/media, public: true, url: media/}\n"
        "    - {name: private, path: var/private}\n")
    (tmp / "out").mkdir()
    (tmp / "system-tmp").mkdir()
    (tmp / "dir").mkdir()
    (tmp / "file").write_text("x")
    (tmp / "dangling").symlink_to(tmp / "nowhere")
    os.mkfifo(tmp / "fifo")
    (tmp / "unreadable").write_text("x")
    (tmp / "unreadable").chmod(0)
    return project


def arguments(path: tuple[str, ...], command: click.Command, param: click.Parameter, value: str,
              out: Path) -> list[str]:
    args = [word.format(out=out) for word in BASE[path]]
    if isinstance(param, click.Option):
        return [*args, param.opts[-1], value]
    position = [p for p in command.params if isinstance(p, click.Argument)].index(param)
    positional = [i for i, word in enumerate(args) if not word.startswith("-") and
                  (i == 0 or not args[i - 1].startswith("-") or args[i - 1] in ("--yes", "--plan"))]
    if position < len(positional):
        args[positional[position]] = value
    else:
        args.append(value)
    return args


def check_outcome(result: click.testing.Result, what: str) -> None:
    err = result.stderr
    lines = err.splitlines()
    assert result.exc_info is None or result.exc_info[0] is SystemExit, \
        f"{what}: {result.exc_info[0].__name__}: {result.exc_info[1]}"
    assert "Traceback" not in err, f"{what}: {err}"
    assert result.exit_code in (1, 2), f"{what}: exit {result.exit_code} (bad value accepted): {err[:300]!r}"
    if result.exit_code == 2:
        assert lines and lines[0].startswith("Usage:"), f"{what}: {err[:300]!r}"
        errors = [line for line in lines if line.startswith("Error:")]
        assert errors == [lines[-1]], f"{what}: {err[:300]!r}"
    else:
        assert len(lines) == 1 and lines[0].startswith("Error: "), f"{what}: {err[:300]!r}"
    # The form kept for exceptions nobody expected: a library's exception reached the user.
    assert not re.match(r"Error: [A-Z]\w*(Error|Exception): ", lines[-1]), f"{what}: {lines[-1][:300]}"


@pytest.mark.parametrize(("path", "name"), swept(),
                         ids=lambda item: "-".join(item) if isinstance(item, tuple) else item)
def test_a_bad_value_is_one_error_and_changes_nothing(path: tuple[str, ...], name: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    command = dict(commands())[path]
    param = next(p for p in command.params if p.name == name)
    project = make_project(tmp_path)
    monkeypatch.chdir(project)
    for variable in ("SYNCO_KEY", "SYNCO_PASSWORD", "SYNCO_DATABASE_URL", "DATABASE_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("SYNCO_LOAD_PLUGINS", "generic")
    # The system's temporary folder too: a scratch copy left behind there counts as a change.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "system-tmp"))
    before = snapshot(tmp_path)
    for value in bad_values(param, tmp_path):
        args = [*path, *arguments(path, command, param, value, tmp_path / "out")]
        what = f"synco {' '.join(path)} {name}={value[:40]!r}"
        check_outcome(CliRunner().invoke(cli, args), what)
        assert snapshot(tmp_path) == before, f"{what} changed files"


def test_every_command_is_swept() -> None:
    """A command added without a base in BASE fails here, by name, instead of going unswept."""
    assert {path for path, _ in commands()} - INTERNAL == set(BASE)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda setting: setting.name)
def test_a_bad_numeric_variable_stops_every_command_before_it_starts(setting: Setting, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Read where first needed, SYNCO_CACHE_CONTENT_MB=nan ended a serve whose dump was already written."""
    project = make_project(tmp_path)
    monkeypatch.chdir(project)
    monkeypatch.setenv("SYNCO_LOAD_PLUGINS", "generic")
    before = snapshot(tmp_path)
    for path in BASE:
        for value in ("nan", "inf", "-inf", "1e30", str(10**30), "-1", "abc", "1.5" if setting.whole else "-0.5"):
            monkeypatch.setenv(setting.name, value)
            result = CliRunner().invoke(cli, [*path, *(word.format(out=tmp_path / "out") for word in BASE[path])])
            what = f"{setting.name}={value} synco {' '.join(path)}"
            check_outcome(result, what)
            assert result.exit_code == 1 and setting.name in result.stderr, f"{what}: {result.stderr[:300]!r}"
            assert snapshot(tmp_path) == before, f"{what} changed files"
