"""Intervals at their edges come back from a dump and load exactly, wherever the dump writes them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from synco_core.cli.main import cli
from synco_core.engines.postgresql import connection
from synco_core.testing.services import postgres_url_for

pytestmark = pytest.mark.postgres

SMALLEST = "-9223372036854775808 microseconds"
SOURCE = f"""
    CREATE TABLE spans (id int, span interval, spans interval[], bounded interval DEFAULT '{SMALLEST}');
    INSERT INTO spans VALUES (1, '{SMALLEST}', ARRAY['{SMALLEST}'::interval, '1 mon -1 day 0.5 sec']),
        (2, '-2147483648 mons -2147483648 days {SMALLEST}', NULL), (3, '1 mon -1 days -0.000001 sec', NULL),
        (4, '2147483647 mons 2147483647 days 9223372036854775807 microseconds', '{{}}');
    CREATE VIEW shortest AS SELECT '{SMALLEST}'::interval AS span;
"""
#: Every interval as the server holds it (months, days and microseconds each), and the defaults and views.
READ = """
    SELECT id::text, span::text, spans::text, bounded::text FROM spans
    UNION ALL SELECT 'view', span::text, NULL, NULL FROM shortest
    ORDER BY 1"""


def _read(name: str) -> list[tuple[str | None, ...]]:
    with psycopg.connect(postgres_url_for(name), autocommit=True) as conn:
        conn.execute("SET IntervalStyle = iso_8601")
        return conn.execute(READ).fetchall()


def _round_trip(database: Callable[..., str], tmp_path: Path, script: str = SOURCE) -> None:
    source, target = database(script), database()
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "dump", postgres_url_for(source), "-o", str(tmp_path / "dump.sql")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["db", "load", postgres_url_for(target), str(tmp_path / "dump.sql"), "--yes"])
    assert result.exit_code == 0, result.output
    assert _read(target) == _read(source)


def test_the_smallest_interval_comes_back_in_rows_arrays_defaults_and_views(
        postgres_database_factory: Callable[..., str], tmp_path: Path) -> None:
    """PostgreSQL prints -2^63 microseconds as ``-2562047788:00:54.775808`` in its other styles, which it
    cannot read back: the install failed on the row, the default and the view."""
    _round_trip(postgres_database_factory, tmp_path)
    assert b"-2562047788:00:54.775808" not in (tmp_path / "dump.sql").read_bytes()


def test_a_dump_written_in_the_postgres_interval_style_still_loads(
        postgres_database_factory: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dumps written before intervals were ISO 8601 load as they did (every value but the smallest one)."""
    monkeypatch.setattr(connection, "SESSION_SETTINGS", tuple(
        "SET IntervalStyle = 'postgres'" if s.startswith("SET IntervalStyle") else s
        for s in connection.SESSION_SETTINGS))
    _round_trip(postgres_database_factory, tmp_path,
                SOURCE.replace("-9223372036854775808 micro", "-9223372036854775807 micro"))
    assert b" mons " in (tmp_path / "dump.sql").read_bytes()
