"""The copy checks of sanitising rules on MariaDB's system-versioned tables, with and without their history.

A table versioned by timestamps is dumped with its history (``FOR SYSTEM_TIME ALL``), and the server makes
every unique key of such a table hold its row-end column too, so a row's versions may share a key; the hidden
``row_end`` of ``WITH SYSTEM VERSIONING`` is not named among the key's columns in information_schema. The
unique check grouped the history by the key alone: ``CONCAT('user', id, ...)``, the very rule its advice
suggests, was refused on the versions of one row. A table versioned by transaction ids is dumped without its
history (``--skip-unsupported``): its period columns were taken for generated columns and computed as
``(ROW START)``, a syntax error that failed every sanitised dump of it. Now the history's keys hold the row
end, as the server's do, and a table without its history is checked on its current rows alone.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from test_sanitize_constraints import rows_of

from synco_core import DumpOptions, SanitizeRule
from synco_core.engines.dispatch import dump_with_engine
from synco_core.errors import ConfigError
from synco_core.testing.services import database_from_script, install_into_empty_copy

pytestmark = pytest.mark.mysql

BY_KEY = SanitizeRule("users", "email", expression="CONCAT('user', id, '@example.invalid')")
#: One value for the old addresses only: the history rows of one UPDATE (which share a row end) collide.
OLD_ALIKE = SanitizeRule("users", "email", expression="IF(email LIKE '%@old.example', 'same', CONCAT('user', id))")
SAME = SanitizeRule("users", "email", transform="fixed:same")

TIMESTAMPS = "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(60) NOT NULL UNIQUE) WITH SYSTEM VERSIONING"
TRANSACTIONS = ("CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(60) NOT NULL UNIQUE, "
                "s BIGINT UNSIGNED GENERATED ALWAYS AS ROW START INVISIBLE, "
                "e BIGINT UNSIGNED GENERATED ALWAYS AS ROW END INVISIBLE, PERIOD FOR SYSTEM_TIME(s, e)) "
                "WITH SYSTEM VERSIONING ENGINE=InnoDB")
ROWS = ["INSERT INTO users (id, email) VALUES (1, 'ann@old.example'), (2, 'bob@old.example')",
        # One statement: both history rows end at the same moment.
        "UPDATE users SET email = REPLACE(email, '@old.', '@new.')"]


def _dump(create: str, rule: SanitizeRule, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Dump (and load) the table with the rule; the copy's database."""
    source = database_from_script("mysql", [create, *ROWS], request, tmp_path / "source.db")
    dump = tmp_path / "dump"
    with dump.open("wb") as out:
        result = dump_with_engine(source, out, DumpOptions(sanitize=(rule,), skip_unsupported=True))
    return install_into_empty_copy(source, dump, result, request, tmp_path / "copy.db").database


def test_a_rule_by_the_key_passes_on_the_versions_of_one_row(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    copy = _dump(TIMESTAMPS, BY_KEY, tmp_path, request)
    assert rows_of("mysql", copy, "SELECT id, email FROM users FOR SYSTEM_TIME ALL ORDER BY id, row_end") == [
        (1, "user1@example.invalid"), (1, "user1@example.invalid"),
        (2, "user2@example.invalid"), (2, "user2@example.invalid")]


@pytest.mark.parametrize("rule", [OLD_ALIKE, SAME], ids=["history", "current"])
def test_history_rows_sharing_a_row_end_and_a_key_are_refused(rule: SanitizeRule, tmp_path: Path,
                                                              request: pytest.FixtureRequest) -> None:
    source = database_from_script("mysql", [TIMESTAMPS, *ROWS], request, tmp_path / "source.db")
    with pytest.raises(ConfigError, match=r"gives two rows of users the same unique key \(email\)"):
        dump_with_engine(source, io.BytesIO(), DumpOptions(sanitize=(rule,)))


def test_a_table_without_its_history_is_checked_on_its_current_rows(tmp_path: Path,
                                                                   request: pytest.FixtureRequest) -> None:
    copy = _dump(TRANSACTIONS, OLD_ALIKE, tmp_path, request)
    assert rows_of("mysql", copy, "SELECT id, email FROM users FOR SYSTEM_TIME ALL ORDER BY id") == [
        (1, "user1"), (2, "user2")]
    source = database_from_script("mysql", [TRANSACTIONS, *ROWS], request, tmp_path / "again.db")
    with pytest.raises(ConfigError, match=r"gives two rows of users the same unique key \(email\)"):
        dump_with_engine(source, io.BytesIO(), DumpOptions(sanitize=(SAME,), skip_unsupported=True))
