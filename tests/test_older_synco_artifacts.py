"""What an older synco left on a laptop, read by this one: its install is rolled back, its killed install
undone, its received folder installed.

The artifacts are real: ``tests/data/older_synco/make_artifacts.py`` ran each older synco (its tree taken
from git at that commit) through ``serve``, ``receive --install`` and an install killed half-way, and packed
the laptop's folders. They are of the first day's synco (``fcba3c4``: an install record with no
``namedDatabases``, ``createdDatabases`` or ``left``, and no journal at all), of 2026-12-05 (``780b3b4``)
and of 2026-12-06 (``92c3c1a``: the last before the record versions were checked). A user who upgrades
synco between an install and its rollback must get back exactly what that install replaced.

``<commit>-mysql.sql`` and ``<commit>-postgresql.sql`` are the dumps two of those syncos wrote (``serve
--keep`` of a project whose ``.synco.yml`` names a MariaDB 10.11 or PostgreSQL 15 database, received by
today's synco, which keeps the plaintext as ``dbDump.sql``): a server not upgraded yet keeps sending them.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "older_synco"
COMMITS = ["fcba3c4", "780b3b4", "92c3c1a"]
ROOT_MARK = b"@ROOT@"


def unpack(commit: str, root: Path) -> Path:
    with tarfile.open(DATA / f"{commit}.tar.gz") as tar:
        tar.extractall(root, filter="data")
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".yml"):
            path.write_bytes(path.read_bytes().replace(ROOT_MARK, str(root).encode()))
    return root


def synco(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "synco_core", *args], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=180, check=False)


def content(project: Path) -> tuple[list[tuple[int, str]], list[str], list[str]]:
    """The project's database rows and its two sets' files (the kept copies beside them are not compared)."""
    with contextlib.closing(sqlite3.connect(f"{(project / 'db' / 'app.db').as_uri()}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT id, title FROM posts").fetchall()

    def files(folder: Path) -> list[str]:
        return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())

    return rows, files(project / "public" / "media"), files(project / "var" / "storage")


SERVER = ([(1, "server")], ["a.txt", "img/logo.png"], ["invoice.pdf"])


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.mark.parametrize("commit", COMMITS)
def test_an_older_synco_install_is_rolled_back_and_forth(commit: str, tmp_path: Path) -> None:
    laptop = unpack(commit, tmp_path) / "laptop"
    assert content(laptop) == SERVER
    ok(synco("db", "rollback", "--yes", cwd=laptop))
    assert content(laptop) == ([(1, "laptop")], ["mine.txt"], ["local.pdf"])
    ok(synco("db", "rollback", "--yes", cwd=laptop))  # a rollback is undone by the next one
    assert content(laptop) == SERVER


@pytest.mark.parametrize("commit", COMMITS)
def test_an_install_an_older_synco_left_unfinished_is_undone(commit: str, tmp_path: Path) -> None:
    """The first day's synco had no journal: its killed install ran to the end, and is rolled back instead."""
    killed = unpack(commit, tmp_path) / "killed"
    said = ok(synco("db", "rollback", "--yes", cwd=killed))
    if commit != "fcba3c4":
        assert "was interrupted before it finished" in said
    assert content(killed) == ([(1, "killed")], ["mine.txt"], ["local.pdf"])
    assert not (killed / ".synco-install-journal.json").exists()


@pytest.mark.parametrize("commit", COMMITS)
def test_a_folder_an_older_synco_received_is_installed(commit: str, tmp_path: Path) -> None:
    root = unpack(commit, tmp_path)
    laptop = root / "laptop"
    ok(synco("db", "rollback", "--yes", cwd=laptop))
    ok(synco("install", str(root / "dump"), "--yes", cwd=laptop))
    assert content(laptop) == SERVER
    ok(synco("db", "rollback", "--yes", cwd=laptop))
    assert content(laptop) == ([(1, "laptop")], ["mine.txt"], ["local.pdf"])


#: What the older dumps hold (made by ``serve`` of fcba3c4 and 780b3b4 from a MariaDB 10.11 and a PostgreSQL 15
#: table with text, JSON, a decimal, bytes and a view over it; kept as the older receive wrote them).
DUMPED = [(1, "héllo", "12.50", b"\x00\xff"), (2, "tab\there", None, None)]


@pytest.mark.parametrize("commit", ["fcba3c4", "780b3b4"])
def test_an_older_synco_mysql_dump_loads(commit: str, mysql_url: str) -> None:
    ok(synco("db", "load", mysql_url, str(DATA / f"{commit}-mysql.sql"), "--yes", cwd=DATA))
    from synco_core.testing.services import mysql_admin_connection

    conn = mysql_admin_connection(mysql_url.rsplit("/", 1)[1])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, title, CAST(amount AS CHAR), data FROM posts ORDER BY id")
            assert [tuple(row) for row in cur.fetchall()] == DUMPED
            cur.execute("SELECT COUNT(*) FROM v")
            assert cur.fetchone()[0] == 2
    finally:
        conn.close()


@pytest.mark.parametrize("commit", ["fcba3c4", "780b3b4"])
def test_an_older_synco_postgresql_dump_loads(commit: str, postgres_url: str) -> None:
    ok(synco("db", "load", postgres_url, str(DATA / f"{commit}-postgresql.sql"), "--yes", cwd=DATA))
    from synco_core.testing.services import postgres_admin_connection

    with postgres_admin_connection(postgres_url.rsplit("/", 1)[1]) as conn:
        rows = conn.execute("SELECT id, title, amount::text, data FROM posts ORDER BY id").fetchall()
        assert [(r[0], r[1], r[2], bytes(r[3]) if r[3] is not None else None) for r in rows] == DUMPED
        assert conn.execute("SELECT count(*) FROM v").fetchone()[0] == 2


@pytest.mark.parametrize("commit", COMMITS)
def test_the_part_files_a_receive_left_are_not_installed(commit: str, tmp_path: Path) -> None:
    """A download cut short leaves its part file in the received set: ``<file>.synco-part`` (the older receives'
    name), ``<file>.<tag>.synco-part`` and ``.synco-<hash>.<tag>.synco-part`` (since 2026-12-05, the last for a long
    name). An install (after ``--allow-missing``, or of a folder an older receive filled) copied them into
    the application's folder as if they were uploads."""
    root = unpack(commit, tmp_path)
    laptop, media = root / "laptop", root / "dump" / "media"
    (media / "img" / "logo.png.synco-part").write_bytes(b"half of an older receive's")
    (media / "b.txt.0123456789ab.synco-part").write_bytes(b"half of today's")
    (media / "img" / f".synco-{'f' * 32}.0123456789ab.synco-part").write_bytes(b"half of a long name")
    ok(synco("db", "rollback", "--yes", cwd=laptop))
    ok(synco("install", str(root / "dump"), "--yes", cwd=laptop))
    assert content(laptop) == SERVER
    assert not [p for p in laptop.rglob("*.synco-part") if ".synco-previous" not in p.as_posix()]
