"""``synco db rollback`` of a MariaDB kept copy made by a synco from before the swap journal (2026-12-05).

The first synco versions (commit fcba3c4 of 2026-11-26, ``synco db load URL dump.sql --yes``) kept the
previous content as ``<db>__synco_prev`` by moving its tables and re-creating its views there, with no
``__synco_journal``; the layout is made below as that version left it. This synco cannot tell what the
copy's views, triggers and routines are to be in the target, so it refuses; the words said only "not a
complete kept copy", not that an older synco made it and which one can put it back.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner

from synco_core.cli.main import cli
from synco_core.testing.services import mysql_admin_connection, mysql_url_for


def _tables(name: str) -> list[tuple[str, str]]:
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(f"SHOW FULL TABLES FROM `{name}`")
            return sorted((str(row[0]), str(row[1])) for row in cur.fetchall())
    finally:
        conn.close()


@pytest.mark.mysql
def test_rollback_names_the_older_synco_of_a_kept_copy_without_journal(
        mysql_database_factory: Callable[[], str]) -> None:
    target = mysql_database_factory()
    kept = f"{target}__synco_prev"
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE TABLE `{target}`.b (id INT PRIMARY KEY, w TEXT)")
            cur.execute(f"INSERT INTO `{target}`.b VALUES (1, 'new')")
            cur.execute(f"CREATE DATABASE `{kept}` CHARACTER SET utf8mb4")
            cur.execute(f"CREATE TABLE `{kept}`.a (id INT PRIMARY KEY, v TEXT)")
            cur.execute(f"INSERT INTO `{kept}`.a VALUES (1, 'original')")
            cur.execute(f"CREATE VIEW `{kept}`.va AS SELECT id, v FROM `{kept}`.a")
    finally:
        conn.close()
    before = (_tables(target), _tables(kept))
    result = CliRunner().invoke(cli, ["db", "rollback", mysql_url_for(target), "--yes"])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.strip()]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    assert f"'{kept}' has no synco journal saying what it holds, as a kept copy made by a synco from before " \
           "2026-12-05" in errors[0]
    assert errors[0].endswith("roll it back with the synco that made it; nothing was changed")
    assert (_tables(target), _tables(kept)) == before
