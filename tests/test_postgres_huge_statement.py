"""A plain PostgreSQL script's huge statement: bounded and refused in one line, while COPY data is not.

PostgreSQL takes a statement in one message, which the driver sends from one buffer, so a statement of a
plain script (``pg_dump --inserts``: one row per INSERT, a huge value in one literal) is held whole. It had
no bound: a 300 MB INSERT took 1.5 GB at peak, its buffer copied at every 1 MiB read. Now a statement past
``script.MAX_STATEMENT`` (256 MiB) is refused in one line naming its line and what to do, before it is read
on, and the target is left as it was; ``COPY`` data is read in pieces whatever a row's length, and loads.
(The bound is made small here: the test is about the refusal, not about memory.)
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from synco_core.engines.postgresql import script
from synco_core.testing import cli

SIZE = 3 << 20


def _tables(url: str) -> list[tuple[str, int]]:
    with psycopg.connect(url) as connection:
        return [(name, count) for name, count in connection.execute(
            "SELECT c.relname, (xpath('/row/n/text()', query_to_xml("
            "format('SELECT count(*) AS n FROM %I', c.relname), false, true, '')))[1]::text::int "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1").fetchall()]


def test_a_statement_past_the_bound_is_refused_and_copy_data_is_not(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(script, "MAX_STATEMENT", 2 << 20)
    copy = tmp_path / "copy.sql"
    copy.write_bytes(b"CREATE TABLE blobs (id int PRIMARY KEY, data text);\nCOPY public.blobs (id, data) FROM stdin;\n"
                     b"1\t" + b"c" * SIZE + b"\n\\.\n")
    loaded = CliRunner().invoke(cli, ["db", "load", postgres_url, str(copy), "--yes"])
    assert loaded.exit_code == 0, loaded.output
    assert _tables(postgres_url) == [("blobs", 1)]
    inserts = tmp_path / "inserts.sql"
    inserts.write_bytes(b"CREATE TABLE other (id int PRIMARY KEY, data text);\n\n"
                        b"INSERT INTO public.other VALUES (1, '" + b"v" * SIZE + b"');\n")
    refused = CliRunner().invoke(cli, ["db", "load", postgres_url, str(inserts), "--yes"])
    assert refused.exit_code == 1, refused.output
    said = refused.output.strip()
    assert "\n" not in said and "line 3" in said and "2 MiB" in said and "COPY" in said, said
    assert "vvvv" not in said
    assert _tables(postgres_url) == [("blobs", 1)]
