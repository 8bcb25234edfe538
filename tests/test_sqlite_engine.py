"""The SQLite engine: Chinook round trips (file and SQL), snapshots under concurrent writes, install/rollback."""

from __future__ import annotations

import contextlib
import hashlib
import io
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from synco_core.cli.main import cli
from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, inspect_with_engine, install_with_engine, rollback_with_engine
from synco_core.errors import ConfigError, DatabaseError, SyncoError
from synco_core.values import DumpOptions, InstallOptions, SanitizeRule

CHINOOK = Path(__file__).parent / "data" / "chinook" / "Chinook_Sqlite.sql"


def make_chinook(path: Path) -> Path:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(CHINOOK.read_text(encoding="utf-8-sig"))
    return path


def fingerprints(path: Path) -> dict[str, tuple[int, str]]:
    """Per table: row count and md5 over the rows sorted by their text form (independent of synco's checksum)."""
    result = {}
    with contextlib.closing(sqlite3.connect(path)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for table in tables:
            rows = sorted(repr(row) for row in conn.execute(f'SELECT * FROM "{table}"'))
            result[table] = (len(rows), hashlib.md5("\n".join(rows).encode()).hexdigest())
    return result


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def test_chinook_round_trip_as_database_file(tmp_path: Path, plugin_manager: object) -> None:
    source = make_chinook(tmp_path / "chinook.db")
    dump = tmp_path / "dump.sqlite"
    runner = CliRunner()
    outcome = runner.invoke(cli, ["db", "dump", url(source), "-o", str(dump)])
    assert outcome.exit_code == 0, outcome.output
    assert dump.read_bytes()[:16] == b"SQLite format 3\x00"
    target = tmp_path / "app" / "target.db"
    outcome = runner.invoke(cli, ["db", "load", url(target), str(dump), "--yes"])
    assert outcome.exit_code == 0, outcome.output
    assert fingerprints(target) == fingerprints(source)
    assert fingerprints(source)["Track"][0] == 3503


def test_chinook_round_trip_as_sql(tmp_path: Path, plugin_manager: object) -> None:
    source = make_chinook(tmp_path / "chinook.db")
    dump = tmp_path / "dump.sql"
    runner = CliRunner()
    outcome = runner.invoke(cli, ["db", "dump", url(source), "--sql", "-o", str(dump)])
    assert outcome.exit_code == 0, outcome.output
    text = dump.read_text(encoding="utf-8")
    assert "CREATE TABLE" in text and "INSERT INTO" in text
    target = tmp_path / "target.db"
    outcome = runner.invoke(cli, ["db", "load", url(target), str(dump), "--yes"])
    assert outcome.exit_code == 0, outcome.output
    assert fingerprints(target) == fingerprints(source)


def test_manifest_is_verified_on_install(tmp_path: Path, plugin_manager: object) -> None:
    source = make_chinook(tmp_path / "chinook.db")
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(url(source)), out, DumpOptions())
    assert result.wire_type == "SqliteDump" and result.format == "sqlite"
    assert result.tables["Artist"].rows == 275
    target = tmp_path / "target.db"
    install_with_engine(parse_database_url(url(target)), io.BytesIO(out.getvalue()),
                        InstallOptions(format="sqlite", yes=True, manifest=result.tables))
    wrong = dict(result.tables)
    wrong["Artist"] = type(wrong["Artist"])(rows=274, checksum=wrong["Artist"].checksum)
    with pytest.raises(DatabaseError, match="Artist"):
        install_with_engine(parse_database_url(url(target)), io.BytesIO(out.getvalue()),
                            InstallOptions(format="sqlite", yes=True, manifest=wrong))


#: Writes until its standard input is closed (not for a fixed time: a loaded machine may start it late or
#: run the dumps slowly), saying "writing" once its first transaction is in.
WRITER = """
import os, sqlite3, sys, threading
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("PRAGMA journal_mode = WAL")
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
i = 0
while not stop.is_set():
    # Two rows per transaction: a consistent snapshot always holds an even number, and matching sums.
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO ledger (amount, note) VALUES (?, randomblob(200))", (i,))
    conn.execute("INSERT INTO ledger (amount, note) VALUES (?, randomblob(200))", (-i,))
    conn.execute("COMMIT")
    i += 1
    if i == 1:
        print("writing", flush=True)
print(i)
"""


def _rows(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
        return int(conn.execute("SELECT count(*) FROM ledger").fetchone()[0])


def test_dump_while_another_process_writes_is_consistent(tmp_path: Path, plugin_manager: object) -> None:
    source = tmp_path / "busy.db"
    with contextlib.closing(sqlite3.connect(source)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE ledger (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL, note BLOB)")
        conn.executemany("INSERT INTO ledger (amount, note) VALUES (?, zeroblob(500))", [(1,), (-1,)] * 2000)
        conn.commit()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(source)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdin is not None and writer.stdout is not None
    try:
        assert writer.stdout.readline() == "writing\n"
        counts = []
        for attempt in range(5):
            dump = tmp_path / f"snapshot{attempt}.sqlite"
            with dump.open("wb") as out:
                result = dump_with_engine(parse_database_url(url(source)), out, DumpOptions())
            with contextlib.closing(sqlite3.connect(dump)) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                count, total = conn.execute("SELECT count(*), sum(amount) FROM ledger").fetchone()
            assert count % 2 == 0 and total == 0
            assert result.tables["ledger"].rows == count
            counts.append(count)
            # The next dump starts once the writer has committed past this snapshot (however slowly a
            # loaded machine runs it), so each snapshot must be a newer one.
            deadline = time.monotonic() + 60
            while _rows(source) <= count:
                assert writer.poll() is None and time.monotonic() < deadline, "the writer stopped writing"
                time.sleep(0.01)
    finally:
        written = int(writer.communicate("", timeout=60)[0].split()[-1])
    assert written > 0
    # The writer kept going between the dumps: each snapshot holds more rows than the one before.
    assert counts == sorted(set(counts)), counts


def test_install_and_rollback_swap_files(tmp_path: Path, plugin_manager: object) -> None:
    target = tmp_path / "app.db"
    with contextlib.closing(sqlite3.connect(target)) as conn:
        conn.execute("CREATE TABLE marker (v TEXT)")
        conn.execute("INSERT INTO marker VALUES ('old')")
        conn.commit()
    source = make_chinook(tmp_path / "chinook.db")
    out = io.BytesIO()
    dump_with_engine(parse_database_url(url(source)), out, DumpOptions())
    database = parse_database_url(url(target))

    with pytest.raises(SyncoError, match="--yes"):
        install_with_engine(database, io.BytesIO(out.getvalue()), InstallOptions(format="sqlite"))
    result = install_with_engine(database, io.BytesIO(out.getvalue()),
                                 InstallOptions(format="sqlite", confirm=lambda question: "app.db" in question))
    assert result.backup == str(target) + ".synco-previous"
    assert fingerprints(target) == fingerprints(source)
    assert fingerprints(Path(result.backup))["marker"][0] == 1

    rollback_with_engine(database, InstallOptions(yes=True))
    assert "marker" in fingerprints(target)
    # The replaced content became the backup: rolling back again restores the install.
    rollback_with_engine(database, InstallOptions(yes=True))
    assert fingerprints(target) == fingerprints(source)


def test_bad_dumps_leave_the_target_untouched(tmp_path: Path, plugin_manager: object) -> None:
    target = tmp_path / "app.db"
    with contextlib.closing(sqlite3.connect(target)) as conn:
        conn.execute("CREATE TABLE marker (v TEXT)")
        conn.commit()
    before = target.read_bytes()
    source = make_chinook(tmp_path / "chinook.db")
    out = io.BytesIO()
    dump_with_engine(parse_database_url(url(source)), out, DumpOptions())
    database = parse_database_url(url(target))
    truncated = out.getvalue()[: len(out.getvalue()) // 2]
    with pytest.raises(DatabaseError):
        install_with_engine(database, io.BytesIO(truncated), InstallOptions(format="sqlite", yes=True))
    with pytest.raises(DatabaseError, match="not a database file"):
        install_with_engine(database, io.BytesIO(b"<html>oops</html>"), InstallOptions(format="sqlite", yes=True))
    with pytest.raises(DatabaseError, match="truncated"):
        install_with_engine(database, io.BytesIO(b"CREATE TABLE t (a);\nINSERT INTO t VALUES ('x"),
                            InstallOptions(format="sql", yes=True))
    with pytest.raises(DatabaseError, match="line 2"):
        install_with_engine(database, io.BytesIO(b"CREATE TABLE t (a);\nINSERT INTO nope VALUES (1);\n"),
                            InstallOptions(format="sql", yes=True))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db", "chinook.db"]
    with pytest.raises(SyncoError, match="nothing to roll back"):
        rollback_with_engine(database, InstallOptions(yes=True))


def test_sanitising_works_on_a_copy_and_leaves_no_trace(tmp_path: Path, plugin_manager: object) -> None:
    source = make_chinook(tmp_path / "chinook.db")
    original = source.read_bytes()
    options = DumpOptions(
        exclude_tables=("InvoiceLine",),
        where={"Invoice": "Total > 10", "PlaylistTrack": "TrackId >= 3404"},  # the tracks keep_newest keeps
        keep_newest={"Track": ("TrackId", 100)},
        sanitize=(SanitizeRule("Customer", "Email", transform="email"),
                  SanitizeRule("Customer", "Phone", transform="null"),
                  SanitizeRule("Customer", "LastName", transform="hash"),
                  SanitizeRule("Customer", "Address", expression="'hidden'"),
                  SanitizeRule("Employee", "Email", transform="fixed:staff@example.invalid"),
                  SanitizeRule("Customer", "Fax", transform="fixed:0000")),
    )
    dump = tmp_path / "dump.sqlite"
    with dump.open("wb") as out:
        result = dump_with_engine(parse_database_url(url(source)), out, options)
    assert source.read_bytes() == original
    assert result.tables["InvoiceLine"].rows == 0
    assert any("Customer.Email -> email" in rule for rule in result.applied_rules)
    data = dump.read_bytes()
    # A real customer's address and e-mail are in the source file but nowhere in the dump, not even in free pages.
    assert b"luisg@embraer.com.br" in original and b"luisg@embraer.com.br" not in data
    with contextlib.closing(sqlite3.connect(dump)) as conn:
        emails = [row[0] for row in conn.execute("SELECT Email FROM Customer")]
        assert len(set(emails)) == len(emails) == 59 and all(e.endswith("@example.invalid") for e in emails)
        assert conn.execute("SELECT count(*) FROM Customer WHERE Phone IS NOT NULL").fetchone()[0] == 0
        assert conn.execute("SELECT min(Total) FROM Invoice").fetchone()[0] > 10
        assert conn.execute("SELECT count(*), min(TrackId) FROM Track").fetchone() == (100, 3404)
        assert len(conn.execute("SELECT LastName FROM Customer").fetchone()[0]) == 64
        assert {row[0] for row in conn.execute("SELECT Address FROM Customer")} == {"hidden"}
        # fixed: replaces every value but leaves NULL as NULL (Chinook has 47 customers without a fax).
        assert conn.execute("SELECT Fax, count(*) FROM Customer GROUP BY Fax ORDER BY Fax").fetchall() == [
            (None, 47), ("0000", 12)]

    for bad, message in ((DumpOptions(where={"Nope": "1"}), "Nope"),
                         (DumpOptions(sanitize=(SanitizeRule("Customer", "Nope", transform="null"),)), "Nope"),
                         (DumpOptions(sanitize=(SanitizeRule("Customer", "Email", transform="rot13"),)), "rot13")):
        with pytest.raises(ConfigError, match=message):
            dump_with_engine(parse_database_url(url(source)), io.BytesIO(), bad)


def test_inspect_and_missing_file(tmp_path: Path, plugin_manager: object) -> None:
    source = make_chinook(tmp_path / "chinook.db")
    inventory = inspect_with_engine(parse_database_url(url(source)))
    names = {t.name: t for t in inventory.tables}
    assert "Track" in names and "Milliseconds" in names["Track"].columns
    assert inventory.tables_ignore_case and inventory.columns_ignore_case, "SQLite finds TRACK.milliseconds"
    with pytest.raises(ConfigError, match="not found"):
        dump_with_engine(parse_database_url(url(tmp_path / "missing.db")), io.BytesIO(), DumpOptions())


def test_cli_loads_a_compressed_database_file_and_rolls_back(tmp_path: Path, plugin_manager: object) -> None:
    import zstandard

    source = make_chinook(tmp_path / "chinook.db")
    out = io.BytesIO()
    dump_with_engine(parse_database_url(url(source)), out, DumpOptions())
    compressed = tmp_path / "dump.sqlite.zst"
    compressed.write_bytes(zstandard.ZstdCompressor(level=3).compress(out.getvalue()))
    target = tmp_path / "app.db"
    with contextlib.closing(sqlite3.connect(target)) as conn:
        conn.execute("CREATE TABLE marker (v TEXT)")
        conn.commit()
    runner = CliRunner()
    outcome = runner.invoke(cli, ["db", "load", url(target), str(compressed), "--yes"])
    assert outcome.exit_code == 0, outcome.output
    assert "synco-previous" in outcome.output
    assert fingerprints(target) == fingerprints(source)
    outcome = runner.invoke(cli, ["db", "rollback", url(target), "--yes"])
    assert outcome.exit_code == 0, outcome.output
    assert list(fingerprints(target)) == ["marker"]
