"""A SQLite target whose file name is long: the files an install makes beside it (``.<name>.synco-new`` and
SQLite's ``-journal`` of it, ``<name>.synco-previous``, ``.synco-keep``, ``.synco-swap``) fit in a file name.

Before, from about 237 bytes on, ``.<name>.synco-new-journal`` passed the 255 bytes a file name may have and the
load failed late, as "the statement ending at line 1 of the SQLite dump failed: unable to open database file";
from 241 bytes on the kept copy's name did not fit either. Now such names are shortened with a hash of the
target's whole name, and a target SQLite itself could not journal (its ``-journal`` would not fit) is refused
first, in one line, with nothing written.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from synco_core.cli.main import cli

NAME_MAX = 255
#: The longest target name SQLite can still journal beside it (``NAME-journal``).
LONGEST = NAME_MAX - len("-journal")


def _name(length: int, char: str) -> str:
    """A name of exactly ``length`` bytes (``.db`` at the end), made of ``char`` (1 to 3 bytes) and ASCII."""
    width = len(char.encode())
    body = char * ((length - 3) // width)
    return body + "x" * (length - 3 - len(body.encode())) + ".db"


def _dump(folder: Path, value: str) -> Path:
    script = folder / f"dump-{value}.sql"
    script.write_text(f"CREATE TABLE t (v TEXT);\nINSERT INTO t VALUES ('{value}');\n", encoding="utf-8")
    return script


def _value(path: Path) -> str:
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as conn:
        return str(conn.execute("SELECT v FROM t").fetchone()[0])


def _synco(*arguments: str) -> tuple[int, str]:
    outcome = CliRunner().invoke(cli, list(arguments))
    return outcome.exit_code, outcome.output


@pytest.mark.parametrize("char", ["a", "é", "語"])
def test_every_target_name_length_installs_and_rolls_back_or_is_refused_first(char: str, tmp_path: Path) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    first, second = _dump(dumps, "first"), _dump(dumps, "second")
    for length in range(228, NAME_MAX + 1):
        folder = tmp_path / f"n{length}"
        folder.mkdir()
        target = folder / _name(length, char)
        assert len(target.name.encode()) == length
        url = f"sqlite:///{target}"
        status, output = _synco("db", "load", url, str(first), "--yes")
        if length > LONGEST:
            assert status == 1, output
            lines = output.strip().splitlines()
            assert len(lines) == 1 and f"{length} bytes" in lines[0] and "nothing was changed" in lines[0], output
            assert os.listdir(folder) == [], "nothing may be left behind"
            continue
        assert status == 0, f"{length}: {output}"
        status, output = _synco("db", "load", url, str(second), "--yes")
        assert status == 0, f"{length}: {output}"
        assert _value(target) == "second"
        status, output = _synco("db", "rollback", url, "--yes")
        assert status == 0, f"{length}: {output}"
        assert _value(target) == "first"
        names = os.listdir(folder)
        assert all(len(name.encode()) <= NAME_MAX for name in names), names
        assert len(names) == 2 and target.name in names, f"only the target and its kept copy stay: {names}"


def test_two_long_targets_alike_but_for_their_end_keep_copies_of_their_own(tmp_path: Path) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    head = "b" * 240
    one, two = tmp_path / f"{head}1.db", tmp_path / f"{head}2.db"
    for target in (one, two):
        for value in (f"old-{target.name[-4]}", f"new-{target.name[-4]}"):
            status, output = _synco("db", "load", f"sqlite:///{target}", str(_dump(dumps, value)), "--yes")
            assert status == 0, output
    for target in (one, two):
        status, output = _synco("db", "rollback", f"sqlite:///{target}", "--yes")
        assert status == 0, output
        assert _value(target) == f"old-{target.name[-4]}"
    assert len(os.listdir(tmp_path)) == 5, os.listdir(tmp_path)
