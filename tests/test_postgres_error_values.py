"""A PostgreSQL dump whose filter or sanitising rule fails on a row's value does not quote that value.

PostgreSQL's messages of a data exception quote the value refused (``invalid input syntax for type integer:
"+49 30 ..."``). Such a message became the dump's one-line error, and under ``--debug`` the traceback of the
driver's exception too: the raw production value a rule was there to mask, on serve's terminal, on the
laptop through ``pull``, in a CI log. Now the value is left out of both (``"..."``), whatever fails on it: a
rule's value the column's type refuses (an integer, an enum, a date), a filter's cast.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from synco_core.cli.main import cli
from synco_core.engines.postgresql.quotedvalues import without_value
from synco_core.testing.services import database_from_script

SECRET = "+49 30 s3cr3t"
SCRIPT = [
    "CREATE TYPE mood AS ENUM ('ok')",
    "CREATE TABLE users (id INTEGER PRIMARY KEY, phone VARCHAR(40), n INTEGER, mood mood, born DATE)",
    f"INSERT INTO users VALUES (1, '{SECRET}', 1, 'ok', '2000-01-01')",
]
#: Per case, the options of ``db dump`` and words its error says.
CASES = {
    "rule cast": (["--sanitize", "users.n=CAST(phone AS INTEGER)"], "invalid input syntax for type integer"),
    "rule enum": (["--sanitize", "users.mood=phone"], "invalid input value for enum"),
    "rule date": (["--sanitize", "users.born=phone"], "users.born"),
    "filter cast": (["--where", "users=phone::int > 3"], "invalid input syntax for type integer"),
    "filter on a range": (["--where", "users=int4range(1, length(phone)) @> phone::int"], "integer"),
}


@pytest.mark.parametrize("case", CASES)
def test_the_value_a_dump_fails_on_is_not_quoted(case: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    source = database_from_script("postgresql", SCRIPT, request, tmp_path / "unused.db")
    options, words = CASES[case]
    result = CliRunner().invoke(cli, ["db", "dump", source.url(), "-o", str(tmp_path / "dump.sql"), "--debug",
                                      *options])
    assert result.exit_code == 1, result.output
    said = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert words in said, said
    for part in ("s3cr3t", "+49 30"):
        assert part not in said, said


def test_only_a_data_exception_loses_its_quotes() -> None:
    assert without_value('invalid input syntax for type integer: "a " b"', "22P02") == \
        'invalid input syntax for type integer: "..."'
    assert without_value('value "99999999999" is out of range for type integer', "22003") == \
        'value "..." is out of range for type integer'
    assert without_value("division by zero", "22012") == "division by zero"
    named = 'new row for relation "users" violates check constraint "users_n_check"'
    assert without_value(named, "23514") == named
    assert without_value(named, None) == named
