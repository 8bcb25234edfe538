"""Rows too wide for one COPY message are dumped in pieces (synco_core.engines.postgresql.widerows).

The unit-level tests make "wide" a few kilobytes, so the piecewise path runs on small tables; the slow
test dumps and loads a real 120 MB value in a subprocess and checks its peak memory.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from test_postgres_support import fingerprints, psql_load

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.engines.postgresql import widerows
from synco_core.engines.rewrite import copytext
from synco_core.testing.services import postgres_url_for, require_tool
from synco_core.values import DumpOptions, DumpResult, InstallOptions, SanitizeRule

pytestmark = pytest.mark.postgres

SETUP = r"""
CREATE TABLE wide (
    id int PRIMARY KEY,
    b bytea,
    t text,
    j jsonb,
    a text[],
    note varchar(100000),
    email text,
    at timestamptz DEFAULT '2024-01-02 03:04:05+00'
);
CREATE TABLE small (id int PRIMARY KEY, name text);
INSERT INTO small VALUES (1, E'tab\there'), (2, NULL);
-- Every byte value, repeated; text with everything COPY escapes, and more than one byte per character.
CREATE TEMP VIEW bytes AS SELECT pg_catalog.string_agg(pg_catalog.set_byte('\x00'::bytea, 0, g % 256), ''::bytea
                                                       ORDER BY g) AS v FROM pg_catalog.generate_series(0, 255) g;
INSERT INTO wide (id, b, t, j, a, note, email)
SELECT g,
       CASE WHEN g % 2 = 0 THEN (SELECT pg_catalog.string_agg(v, ''::bytea) FROM bytes, generate_series(1, 40))
            ELSE '\x00ff'::bytea END,
       CASE WHEN g % 3 = 0 THEN repeat(E'tab\there\nnew\\line\rcr\bb\ff\vv üñï 𝄞 "q" ', 400) || g
            ELSE 'short ' || g END,
       CASE WHEN g % 4 = 0
            THEN (SELECT jsonb_agg(jsonb_build_object('k', i, 'v', E'x\ty\n\\ü')) FROM generate_series(1, 300) i)
            ELSE '{"a": 1}' END,
       CASE WHEN g % 5 = 0 THEN (SELECT array_agg(E'el\t"' || i || E'\\,') FROM generate_series(1, 800) i)
            ELSE ARRAY['x', NULL] END,
       'note ' || g,
       'user' || g || '@example.com'
FROM generate_series(1, 30) g;
INSERT INTO wide (id) VALUES (100);  -- all NULL
INSERT INTO wide (id, t) VALUES (101, '');
"""

OPTIONS = DumpOptions(
    where={"wide": "id <> 7"},
    sanitize=(SanitizeRule("wide", "email", transform="email"),
              # A rewritten value that is wide only once rewritten: read through the source query.
              SanitizeRule("wide", "note", expression="CASE WHEN id = 11 THEN repeat(note, 2000) ELSE note END")),
)


def dump_to(url: str, path: Path, options: DumpOptions) -> DumpResult:
    with path.open("wb") as out:
        return dump_with_engine(parse_database_url(url), out, options)


def install_from(url: str, path: Path, result: DumpResult) -> None:
    with path.open("rb") as dump:
        install_with_engine(parse_database_url(url), dump, InstallOptions(yes=True, manifest=result.tables))


def data_lines(path: Path) -> list[bytes]:
    return sorted(path.read_bytes().splitlines())


@pytest.fixture
def source(postgres_database_factory: Callable[[], str]) -> str:
    url = postgres_url_for(postgres_database_factory())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SETUP)
    return url


def test_wide_rows_round_trip_exactly(source: str, postgres_database_factory: Callable[[], str], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    whole = tmp_path / "whole.sql"
    whole_result = dump_to(source, whole, OPTIONS)

    written: list[str] = []
    original = widerows.write_wide_row

    def spy(*args: object, **kwargs: object) -> None:
        written.append(args[5].ctid)  # type: ignore[attr-defined]
        original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(widerows, "write_wide_row", spy)
    monkeypatch.setattr(widerows, "WIDE_ROW", 4000)
    monkeypatch.setattr(widerows, "CHUNK", 1000)  # several pieces per value, cut inside escapes and characters
    pieces = tmp_path / "pieces.sql"
    result = dump_to(source, pieces, OPTIONS)

    # Rows 2, 3, 4, ... have a wide value (7 is filtered out, 11 is wide once sanitised); 1 and 100 are not.
    assert len(written) > 10
    # The same lines, the wide rows after the others; the manifest counts them all.
    assert data_lines(pieces) == data_lines(whole)
    assert pieces.read_bytes() != whole.read_bytes()
    assert {k: v.rows for k, v in result.tables.items()} == {k: v.rows for k, v in whole_result.tables.items()}
    assert result.tables["wide"].rows == 31
    assert result.applied_rules == whole_result.applied_rules

    # synco's loader checks the manifest's checksums; psql loads the same file.
    ours, theirs, reference = (postgres_url_for(postgres_database_factory()) for _ in range(3))
    install_from(ours, pieces, result)
    install_from(reference, whole, whole_result)
    loaded = psql_load(theirs.rsplit("/", 1)[1], pieces)
    assert loaded.returncode == 0, loaded.stderr
    expected = fingerprints(reference)
    assert fingerprints(ours) == expected
    assert fingerprints(theirs) == expected
    with psycopg.connect(ours) as conn:
        row = conn.execute("SELECT count(*) FILTER (WHERE id = 7), max(length(note)),"
                           " count(*) FILTER (WHERE email LIKE 'user%@example.invalid') FROM wide").fetchone()
        assert row == (0, len("note 11") * 2000, 29)  # 100 and 101 have no e-mail


def test_keep_newest_and_custom_copy_sources(source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = DumpOptions(keep_newest={"wide": ("id", 12)})
    whole = tmp_path / "whole.sql"
    dump_to(source, whole, options)
    monkeypatch.setattr(widerows, "WIDE_ROW", 4000)
    monkeypatch.setattr(widerows, "CHUNK", 777)
    pieces = tmp_path / "pieces.sql"
    result = dump_to(source, pieces, options)
    assert data_lines(pieces) == data_lines(whole)
    assert result.tables["wide"].rows == 12


def test_escape_matches_copy() -> None:
    assert copytext.escape(b"a\\b\tc\nd\re\x08f\x0cg\x0bh\x01\xc3\xbc") == (
        b"a\\\\b\\tc\\nd\\re\\bf\\fg\\vh\x01\xc3\xbc")


def _peak_kb(args: list[str], tmp_path: Path) -> int:
    timer = shutil.which("time") or "/usr/bin/time"
    report = tmp_path / "rss"
    run = subprocess.run([timer, "-f", "%M", "-o", str(report), sys.executable, "-c",
                          "from synco_core.cli.main import main; main()", *args],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    return int(report.read_text().split()[-1])


@pytest.mark.slow
def test_a_120_mb_value_is_dumped_and_loaded_in_little_memory(postgres_database_factory: Callable[[], str],
                                                               tmp_path: Path) -> None:
    require_tool("time", "time")
    source, target = postgres_url_for(postgres_database_factory()), postgres_url_for(postgres_database_factory())
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("CREATE TABLE blob (id int PRIMARY KEY, b bytea, t text)")
        # Incompressible bytes (md5 digests), 120 MB: 240 MB of hex digits in the COPY text.
        conn.execute("INSERT INTO blob SELECT 1, decode(string_agg(md5(g::text), ''), 'hex'), 'x' "
                     "FROM generate_series(1, 120 * 1024 * 1024 / 16) g")
        conn.execute("INSERT INTO blob VALUES (2, '\\x00', repeat(E'a\\tb\\n', 4 * 1024 * 1024))")
        expected = conn.execute("SELECT md5(b), md5(t) FROM blob ORDER BY id").fetchall()
    dump = tmp_path / "blob.sql"
    dumped = _peak_kb(["db", "dump", source, "-o", str(dump)], tmp_path)
    loaded = _peak_kb(["db", "load", target, str(dump), "--yes", "--force-remote-target"], tmp_path)
    with psycopg.connect(target) as conn:
        assert conn.execute("SELECT md5(b), md5(t) FROM blob ORDER BY id").fetchall() == expected
    assert dumped < 200 * 1024, f"dump peaked at {dumped // 1024} MB"
    assert loaded < 200 * 1024, f"load peaked at {loaded // 1024} MB"
    # The rows are the lines COPY itself writes (the wide one after the others).
    assert _line_digests(_copy_block(dump)) == _line_digests(_rows(source))


def _line_digests(data: bytes) -> list[str]:
    return sorted(hashlib.sha256(line).hexdigest() for line in data.splitlines())


def _copy_block(dump: Path) -> bytes:
    data = dump.read_bytes()
    start = data.index(b"\n", data.index(b"COPY public.blob")) + 1
    return data[start:data.index(b"\n\\.\n", start) + 1]


def _rows(url: str) -> bytes:
    with psycopg.connect(url) as conn, conn.cursor().copy("COPY blob TO STDOUT") as copy:
        return b"".join(bytes(block) for block in copy)


def test_the_loader_streams_a_long_row_while_sharing_a_block(postgres_database_factory: Callable[[], str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Once a block is shared between two connections, a long row goes on to one of them as it comes
    (before, it was held back whole, and rebuilt for every piece of the dump read)."""
    import io
    import tracemalloc

    from synco_core.engines.postgresql import loader
    from synco_core.engines.postgresql.connection import connect

    monkeypatch.setattr(loader, "SHARE_AFTER", 1 << 20)
    url = postgres_url_for(postgres_database_factory())
    long_row = b"2\t" + b"ab" * (20 << 20) + b"\n"
    script = (b"CREATE TABLE t (id int, v text);\nCOPY public.t (id, v) FROM stdin;\n1\t" + b"x" * (2 << 20)
              + b"\n" + long_row + b"3\tz\n\\.\n")
    database = parse_database_url(url)
    conn = connect(database)
    second = loader.SecondConnection(lambda: connect(database))
    try:
        tracemalloc.start()
        stats = loader.load_script(conn.pgconn, io.BytesIO(script), second)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        second.close()
        conn.close()
    assert stats.stored["t"] == 3
    assert peak < 16 << 20, f"the loader held {peak >> 20} MB"
    with psycopg.connect(url) as check:
        assert check.execute("SELECT md5(v) FROM t WHERE id = 2").fetchone() == (
            hashlib.md5(long_row[2:-1]).hexdigest(),)
