"""Helpers shared by the PostgreSQL engine tests (no tests here): fixtures, fingerprints, schema dumps."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.postgresql.connection import connect
from synco_core.engines.postgresql.loader import load_script
from synco_core.testing.services import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, require_tool

DATA = Path(__file__).parent / "data"
FIDELITY = DATA / "postgres" / "fidelity.sql"
CHINOOK = DATA / "chinook" / "Chinook_PostgreSql.sql"


def db_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


def load_fixture(url: str, path: Path) -> None:
    """Load an SQL file into the database with synco's loader (it skips CREATE DATABASE and \\c)."""
    conn = connect(parse_database_url(url))
    try:
        with path.open("rb") as fh:
            load_script(conn.pgconn, fh)
    finally:
        conn.close()


def fingerprints(url: str) -> dict[str, tuple[int, str | None]]:
    """Per table (partitions included): row count and md5 over the rows sorted by their text form; and
    under ``<large objects>`` their number and an md5 over each one's OID, data, owner, privileges and
    comment (``pg_dump --schema-only`` shows none of these).

    Sorting by the row text makes the fingerprint independent of physical order, and of synco's own
    checksum scheme, so it checks the round trip from the outside.
    """
    result: dict[str, tuple[int, str | None]] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("SET extra_float_digits = 3")
        tables = conn.execute("""
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'm') AND c.relispopulated AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1""").fetchall()
        for (name,) in tables:
            row = conn.execute(f"SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY t::text)) FROM {name} t"
                               ).fetchone()
            assert row is not None
            result[name] = (int(row[0]), row[1])
        row = conn.execute("""
            SELECT count(*), md5(string_agg(concat_ws(':', m.oid, md5(lo_get(m.oid)), pg_get_userbyid(m.lomowner),
                                                      m.lomacl, obj_description(m.oid, 'pg_largeobject')),
                                            E'\n' ORDER BY m.oid))
            FROM pg_largeobject_metadata m""").fetchone()
        assert row is not None
        result["<large objects>"] = (int(row[0]), row[1])
    return result


def sequences(url: str) -> dict[str, tuple[int, bool]]:
    """Per sequence (serial, identity and stand-alone ones): where ``nextval`` goes on from.

    ``pg_dump --schema-only`` leaves ``setval`` out, and the fingerprints look at rows only, so positions
    are compared here. ``log_cnt`` is left out: it depends on WAL batching, not on the dump.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        names = [row[0] for row in conn.execute("""
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1""")]
        result = {}
        for name in names:
            row = conn.execute(f"SELECT last_value, is_called FROM {name}").fetchone()
            assert row is not None
            result[name] = (int(row[0]), bool(row[1]))
    return result


def require(tool: str) -> str:
    """The path of a PostgreSQL client tool; skipped when missing, but a failure under CI=true."""
    return require_tool(tool, "postgresql-client")


def schema_dump(name: str) -> str:
    """``pg_dump --schema-only`` with the lines that differ between any two runs removed."""
    output = subprocess.run(
        [require("pg_dump"), "--schema-only", "-h", POSTGRES_HOST, "-p", str(POSTGRES_PORT), "-U", POSTGRES_USER, name],
        check=True, capture_output=True, text=True).stdout
    # \restrict carries a random key per run; the header names the versions. Nothing else is normalised.
    return "\n".join(line for line in output.splitlines()
                     if not re.match(r"^\\(un)?restrict ", line) and not line.startswith("-- Dumped "))


def cli_round_trip(source: str, target: str, dump: Path) -> str:
    """``synco db dump`` of ``source`` into ``dump``, then ``synco db load`` into ``target``; the dump's output."""
    from click.testing import CliRunner

    from synco_core.cli.main import cli
    from synco_core.testing.services import postgres_url_for

    runner = CliRunner()
    dumped = runner.invoke(cli, ["db", "dump", postgres_url_for(source), "-o", str(dump)])
    assert dumped.exit_code == 0, dumped.output
    loaded = runner.invoke(cli, ["db", "load", postgres_url_for(target), str(dump), "--yes"])
    assert loaded.exit_code == 0, loaded.output
    return dumped.output


def psql_load(name: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", POSTGRES_HOST, "-p", str(POSTGRES_PORT),
         "-U", POSTGRES_USER, "-d", name, "-f", str(path)],
        capture_output=True, text=True)


def pg_dump_plain(name: str, out: Path) -> None:
    subprocess.run([require("pg_dump"), "-h", POSTGRES_HOST, "-p", str(POSTGRES_PORT), "-U", POSTGRES_USER,
                    "-f", str(out), name], check=True)


def databases_like(prefix: str) -> list[str]:
    with psycopg.connect(f"postgresql://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/postgres",
                         autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY 1",
                            (prefix + "%",)).fetchall()
    return [row[0] for row in rows]


def renames_refused_after_the_first_try(patch: pytest.MonkeyPatch) -> list[int]:
    """The installer's renames, from the second try on, refused at once as the server refuses them while a session
    stays connected: the first try is the server's real refusal (it waits 5 s for the sessions), the later ones
    the same refusal on the same path without that wait. Returns the tries made (one entry each)."""
    from synco_core.engines.postgresql import installer

    rename_all = installer._rename_all
    tries: list[int] = []

    def refused_again(admin: Any, renames: list[tuple[str, str]], step: str) -> None:
        tries.append(1)
        if len(tries) > 1:
            raise psycopg.errors.ObjectInUse(f"database {renames[0][0]!r} is being accessed by other users")
        rename_all(admin, renames, step)

    patch.setattr(installer, "_rename_all", refused_again)
    return tries
