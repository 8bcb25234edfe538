"""A plain PostgreSQL script's huge statement: bounded and refused in one line, while COPY data is not.

PostgreSQL takes a statement in one message, which the driver sends from one buffer, so a statement of a
plain script (``pg_dump --inserts``: one row per INSERT, a huge value in one literal) is held whole. It had
no bound: a 300 MB INSERT took 1.5 GB at peak, its buffer copied at every 1 MiB read. Now a statement past
``script.MAX_STATEMENT`` (256 MiB) is refused in one line naming its line and what to do, before it is read
on, and the target is left as it was; ``COPY`` data is read in pieces whatever a row's length, and loads.
(The bound is made small here: the test is about the refusal, not about memory.)
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from synco_core.engines.postgresql import script
from synco_core.testing import cli
from synco_core.testing.services import postgres_url_for

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


#: Runs ``synco db load`` in a child and prints its exit status and peak resident size (KiB) on the last line.
PEAK = """
import resource, subprocess, sys
done = subprocess.run([sys.executable, "-m", "synco_core", *sys.argv[1:]], capture_output=True, text=True)
sys.stdout.write(done.stdout + done.stderr)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _peak_kib(url: str, dump: Path) -> int:
    done = subprocess.run([sys.executable, "-c", PEAK, "db", "load", url, str(dump), "--yes"],
                          capture_output=True, text=True, timeout=600)
    *said, last = done.stdout.strip().splitlines()
    status, peak = (int(value) for value in last.split())
    assert status == 0, "\n".join(said)
    return peak


def _insert_script(path: Path, size: int) -> Path:
    with path.open("wb") as out:
        out.write(b"CREATE TABLE big (id int PRIMARY KEY, data text);\nINSERT INTO public.big VALUES (1, '")
        piece = b"0123456789abcdef" * 4096
        for _ in range(size // len(piece)):
            out.write(piece)
        out.write(b"');\nSELECT 1;\n")
    return path


def test_a_long_statement_is_held_about_three_times_at_the_peak(
        tmp_path: Path, postgres_database_factory: Callable[[], str]) -> None:
    """A statement under the bound is held whole, and that much is needed: PostgreSQL takes it in one message.
    It was held about five times over: the read buffer kept it while it ran, the buffer grew to twice what it
    held, and the check for pg_dump 17's ``SET transaction_timeout`` copied it three times before a server
    older than 17. Now the peak is the read buffer and the statement cut from it, then the statement and the
    driver's message (peak resident size of the ``synco db load`` child, less that of a tiny statement's)."""
    size = 64 << 20
    tiny = _peak_kib(postgres_url_for(postgres_database_factory()), _insert_script(tmp_path / "tiny.sql", 1 << 16))
    peak = _peak_kib(postgres_url_for(postgres_database_factory()), _insert_script(tmp_path / "big.sql", size))
    held = (peak - tiny) * 1024 / size
    print(f"a {size >> 20} MiB statement: peak {peak >> 10} MiB, {held:.1f} times the statement above a tiny one's")
    assert held < 4, f"held {held:.1f} times"
