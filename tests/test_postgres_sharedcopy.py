"""Big COPY blocks shared with a second connection (synco_core/engines/postgresql/sharedcopy.py).

The threshold and the read size are made tiny here, so that every COPY block of the fixtures is shared
and cut into many pieces: the round trips must stay exact, and a failure on either connection must fail
the install cleanly, target untouched.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from test_postgres_support import (
    CHINOOK,
    FIDELITY,
    databases_like,
    fingerprints,
    load_fixture,
    pg_dump_plain,
    sequences,
)

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.engines.postgresql import loader, sharedcopy
from synco_core.engines.postgresql import script as script_reader
from synco_core.engines.postgresql.connection import connect
from synco_core.errors import DatabaseError
from synco_core.testing.services import postgres_url_for
from synco_core.values import DumpOptions, DumpResult, InstallOptions

pytestmark = pytest.mark.postgres


@pytest.fixture
def shared_copies(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[sharedcopy.SharedCopy]]:
    """Share every COPY block from its first row on, read the dump 4 KiB at a time, and record the shares."""
    started: list[sharedcopy.SharedCopy] = []

    class Recorded(sharedcopy.SharedCopy):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            started.append(self)

    monkeypatch.setattr(loader, "SHARE_AFTER", 0)
    monkeypatch.setattr(script_reader, "READ_SIZE", 4096)
    monkeypatch.setattr(loader, "SharedCopy", Recorded)
    yield started


def _dump(url: str, path: Path) -> DumpResult:
    with path.open("wb") as out:
        return dump_with_engine(parse_database_url(url), out, DumpOptions())


def _install(url: str, path: Path, result: DumpResult | None) -> None:
    with path.open("rb") as dump:
        install_with_engine(parse_database_url(url), dump,
                            InstallOptions(yes=True, manifest=result.tables if result else {}))


@pytest.mark.parametrize("fixture", [FIDELITY, CHINOOK], ids=["fidelity", "chinook"])
def test_shared_copy_round_trip_is_exact(fixture: Path, shared_copies: list[sharedcopy.SharedCopy],
                                         postgres_database_factory: Callable[[], str], tmp_path: Path,
                                         plugin_manager: object) -> None:
    source, target = postgres_database_factory(), postgres_database_factory()
    load_fixture(postgres_url_for(source), fixture)
    shared_copies.clear()
    dump = tmp_path / "dump.sql"
    result = _dump(postgres_url_for(source), dump)
    # The install verifies row counts (as the two backends report them) and checksums against the manifest.
    _install(postgres_url_for(target), dump, result)

    assert len(shared_copies) >= 5, "the COPY blocks were not shared"
    assert sum(copy.stored for copy in shared_copies) > 0, "the second connection stored no rows"
    assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))
    assert sequences(postgres_url_for(target)) == sequences(postgres_url_for(source))


def test_pg_dump_output_is_shared_too(shared_copies: list[sharedcopy.SharedCopy],
                                      postgres_database_factory: Callable[[], str], tmp_path: Path,
                                      plugin_manager: object) -> None:
    """pg_dump's own session settings (search_path = '', ...) are repeated on the second connection."""
    source, target = postgres_database_factory(), postgres_database_factory()
    load_fixture(postgres_url_for(source), FIDELITY)
    shared_copies.clear()
    dump = tmp_path / "pg_dump.sql"
    pg_dump_plain(source, dump)
    _install(postgres_url_for(target), dump, None)

    assert shared_copies
    assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))


def _numbers(url: str, rows: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE numbers (n integer NOT NULL, label text NOT NULL)")
        conn.execute("INSERT INTO numbers SELECT g, 'row ' || g FROM generate_series(1, %s) g", (rows,))


def _target_with_content(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('the developer''s local data')")


def _content(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT v FROM kept").fetchall()


@pytest.mark.parametrize("failing", ["first", "second"])
def test_a_bad_row_on_either_connection_fails_the_install_and_keeps_the_target(
        failing: str, shared_copies: list[sharedcopy.SharedCopy], monkeypatch: pytest.MonkeyPatch,
        postgres_database_factory: Callable[[], str], tmp_path: Path, plugin_manager: object) -> None:
    source, target = postgres_database_factory(), postgres_database_factory()
    _numbers(postgres_url_for(source), 5000)
    _target_with_content(postgres_url_for(target))
    dump = tmp_path / "dump.sql"
    _dump(postgres_url_for(source), dump)
    bad_row = memoryview(b"not a number\tx\n")
    if failing == "second":
        # The second connection's first piece starts with a row its backend refuses.
        original_put = sharedcopy.SharedCopy.put
        sent: list[bool] = []

        def put(self: sharedcopy.SharedCopy, piece: bytes | memoryview) -> None:
            if not sent:
                sent.append(True)
                original_put(self, bad_row)
            original_put(self, piece)

        monkeypatch.setattr(sharedcopy.SharedCopy, "put", put)
    else:
        original = loader._put
        seen: list[bool] = []

        def first_put(pgconn: object, data: bytes | memoryview, line: int) -> None:
            if shared_copies and not seen:
                seen.append(True)
                original(pgconn, bad_row, line)  # type: ignore[arg-type]
            original(pgconn, data, line)  # type: ignore[arg-type]

        monkeypatch.setattr(loader, "_put", first_put)

    with pytest.raises(DatabaseError, match="invalid input syntax for type integer") as failure:
        _install(postgres_url_for(target), dump, None)
    assert "\n" not in str(failure.value)
    assert shared_copies, "the block was not shared"
    assert _content(postgres_url_for(target)) == [("the developer's local data",)]
    assert databases_like(target + "__synco") == []


def test_only_plain_text_copies_are_shared() -> None:
    assert sharedcopy.shareable(b"COPY public.t (a, b) FROM stdin;")
    assert sharedcopy.shareable(b'COPY "Mixed"."T" FROM STDIN;')
    # A CSV or binary COPY can have rows over several lines, or no lines at all.
    assert not sharedcopy.shareable(b"COPY t FROM stdin WITH (FORMAT csv);")
    assert not sharedcopy.shareable(b"COPY t FROM stdin (FORMAT binary);")
    assert not sharedcopy.shareable(b"COPY t FROM stdin CSV HEADER;")
    assert not sharedcopy.shareable(b"COPY t FROM stdin DELIMITER ',';")
    assert not sharedcopy.shareable(b"COPY t FROM '/tmp/file';")


def test_session_settings_are_remembered_for_the_second_connection() -> None:
    second = sharedcopy.SecondConnection(lambda: None)
    for statement in (b"SET client_encoding = 'UTF8';", b"SELECT pg_catalog.set_config('search_path', '', false);",
                      b"SET LOCAL work_mem = '1MB';", b"CREATE TABLE t (a int);", b"SET TRANSACTION READ ONLY;"):
        second.remember(statement)
    assert second.settings == [b"SET client_encoding = 'UTF8';",
                               b"SELECT pg_catalog.set_config('search_path', '', false);"]


@pytest.mark.parametrize("options", ["", " WITH (FORMAT csv)"], ids=["text", "csv"])
def test_line_numbers_after_a_copy_block_stay_right(options: str, postgres_database_factory: Callable[[], str]
                                                    ) -> None:
    """A text COPY's lines are counted from the rows the server stored, a CSV one's from the data itself:
    either way the statement after the block is named by its real line."""
    rows = b"1\ta\n2\tb\n3\tc\n" if not options else b'1,"two\nlines"\n2,b\n'
    script = (b"CREATE TABLE t (n integer, v text);\n"
              b"COPY t (n, v) FROM stdin" + options.encode() + b";\n" + rows + b"\\.\n"
              b"SELECT 1;\n"
              b"SELECT no_such_column FROM t;\n")
    failing_line = script[:script.index(b"SELECT no_such_column")].count(b"\n") + 1
    conn = connect(parse_database_url(postgres_url_for(postgres_database_factory())))
    try:
        with pytest.raises(DatabaseError, match=rf"statement at line {failing_line} of the dump failed"):
            loader.load_script(conn.pgconn, io.BytesIO(script))
    finally:
        conn.close()


@pytest.mark.parametrize("end", ["abort", "finish"])
def test_a_wake_up_cut_short_by_a_signal_does_not_hang_the_end_of_a_shared_copy(
        end: str, postgres_database_factory: Callable[[], str]) -> None:
    """Ctrl-C during ``synco db load`` of a big table once hung the load for ever, its clean-up joining the
    second connection's thread, which waited for a queued item nobody woke it for. A wake-up cut short is
    what an interrupted wait leaves behind (a waiter of nobody's, locked, ahead of the thread's own): the
    end of the copy, abort or finish, must still come."""
    database = parse_database_url(postgres_url_for(postgres_database_factory()))
    conn = connect(database)
    try:
        conn.execute("CREATE TABLE t (n integer)")
        shared = sharedcopy.SharedCopy(conn.pgconn, b"COPY t (n) FROM stdin;", 1)
        shared.put(b"1\n2\n3\n")
        not_empty = shared._pieces.not_empty
        while not (shared._pieces.empty() and not_empty._waiters):  # type: ignore[attr-defined]
            threading.Event().wait(0.01)
        with not_empty:
            stale = threading.Lock()
            stale.acquire()
            not_empty._waiters.appendleft(stale)  # type: ignore[attr-defined]
        ended = threading.Thread(target=shared.abort if end == "abort" else shared.finish, daemon=True)
        ended.start()
        ended.join(HANG)
        assert not ended.is_alive(), f"the shared copy's {end} hung"
        stored = conn.execute("SELECT count(*) FROM t").fetchone()
        assert stored == ((0,) if end == "abort" else (3,))
    finally:
        conn.close()


#: Seconds after which the end of a shared copy counts as hung (it takes milliseconds).
HANG = 30.0
