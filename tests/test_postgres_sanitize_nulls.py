"""A sanitising rule giving NULL to a NOT NULL column (or one value to two rows of a unique key) made a
dump that every load refused on its first such row (``null value in column ... violates not-null
constraint``): the dump stops instead, in one line naming the rule, whether the rule is ``null``, an
expression NULL for some row, or a parent's rule reaching the rows of its partitions; a rule whose NULLs
land only in nullable columns or in rows a filter leaves out dumps and loads (real PostgreSQL on
127.0.0.1)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from synco_core.cli.main import cli
from synco_core.testing.services import postgres_url_for

pytestmark = pytest.mark.postgres

SCHEMA = """
CREATE SCHEMA bookings;
CREATE TABLE bookings.tickets (ticket_no char(13) PRIMARY KEY, passenger_name text NOT NULL, contact_data jsonb);
INSERT INTO bookings.tickets VALUES ('0005432000987', 'VALERIY TIKHONOV', '{"phone": "+70127117011"}'),
  ('0005432000988', 'EVGENIYA ALEKSEEVA', NULL);
CREATE TABLE flights (id int, flown date NOT NULL, crew text) PARTITION BY RANGE (flown);
CREATE TABLE flights_2017 PARTITION OF flights FOR VALUES FROM ('2017-01-01') TO ('2018-01-01');
INSERT INTO flights VALUES (1, '2017-06-13', 'x'), (2, '2017-06-14', NULL);
"""


def make(factory: Callable[[], str]) -> str:
    name = factory()
    with psycopg.connect(postgres_url_for(name), autocommit=True) as conn:
        conn.execute(SCHEMA.encode())
    return name


@pytest.mark.parametrize("rule", [
    "bookings.tickets.passenger_name=NULL",
    "bookings.tickets.passenger_name=CASE WHEN ticket_no LIKE '%88' THEN NULL ELSE 'x' END",
    "flights.flown=NULLIF(flown, '2017-06-14')",  # the parent's rule, on its partition's rows
])
def test_a_rule_giving_null_to_a_not_null_column_stops_the_dump(
        rule: str, tmp_path: Path, postgres_database_factory: Callable[[], str]) -> None:
    source = make(postgres_database_factory)
    dump_file = tmp_path / "dump.sql"
    result = CliRunner().invoke(cli, ["db", "dump", postgres_url_for(source), "-o", str(dump_file),
                                      "--sanitize", rule])
    assert result.exit_code == 1, result.output
    assert f"gives NULL to {rule.split('=', 1)[0]}, which is NOT NULL" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not dump_file.exists()


def test_nulls_into_nullable_columns_or_rows_left_out_dump_and_load(
        tmp_path: Path, postgres_database_factory: Callable[[], str]) -> None:
    source, target = make(postgres_database_factory), postgres_database_factory()
    dump_file = tmp_path / "dump.sql"
    runner = CliRunner()
    result = runner.invoke(cli, [
        "db", "dump", postgres_url_for(source), "-o", str(dump_file),
        "--sanitize", "bookings.tickets.contact_data=NULL", "--sanitize", "flights.crew=null",
        "--sanitize", "bookings.tickets.passenger_name=CASE WHEN ticket_no LIKE '%88' THEN NULL ELSE 'x' END",
        "--where", "bookings.tickets=ticket_no NOT LIKE '%88'"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["db", "load", postgres_url_for(target), str(dump_file), "--yes"])
    assert result.exit_code == 0, result.output
    with psycopg.connect(postgres_url_for(target)) as conn:
        assert conn.execute("SELECT * FROM bookings.tickets").fetchall() == [("0005432000987", "x", None)]
        assert conn.execute("SELECT crew FROM flights").fetchall() == [(None,), (None,)]


@pytest.mark.parametrize(("rule", "where", "refused"), [
    ("bookings.tickets.ticket_no='0005432000000'", None, True),              # the primary key
    ("bookings.tickets.ticket_no=left(ticket_no, 12)", None, True),          # '000543200098' twice
    ("bookings.tickets.ticket_no=left(ticket_no, 12)", "ticket_no LIKE '%7'", False),
    ("bookings.tickets.ticket_no=reverse(ticket_no)", None, False),
    ("bookings.tickets.passenger_name='x'", None, False),                    # no unique key
])
def test_a_rule_giving_two_rows_one_unique_key_stops_the_dump(
        rule: str, where: str | None, refused: bool, tmp_path: Path,
        postgres_database_factory: Callable[[], str]) -> None:
    """``fixed:``, ``truncate:`` or an expression giving two rows of a unique key the same value made a dump
    whose load failed building the index (``could not create unique index``)."""
    source = make(postgres_database_factory)
    dump_file = tmp_path / "dump.sql"
    args = ["--sanitize", rule] + (["--where", f"bookings.tickets={where}"] if where else [])
    result = CliRunner().invoke(cli, ["db", "dump", postgres_url_for(source), "-o", str(dump_file), *args])
    if refused:
        assert result.exit_code == 1, result.output
        assert "gives two rows of bookings.tickets the same unique key (ticket_no)" in result.output
        assert not dump_file.exists()
        return
    assert result.exit_code == 0, result.output
    target = postgres_database_factory()
    result = CliRunner().invoke(cli, ["db", "load", postgres_url_for(target), str(dump_file), "--yes"])
    assert result.exit_code == 0, result.output
