"""Disks that fill up under the files a command writes itself, on real small file systems (tmpfs of a given
size): ``-o`` of ``db dump`` and ``decrypt``, and the private copy of a SQLite database a dump works on in
TMPDIR (``db dump``, serve). One line naming the disk's folder and what needed the space, exit status 1,
nothing under the final name, nothing left to eat the space, the file that was there before untouched.

Before, ``-o`` on a full disk said ``Error: OSError: [Errno 28] No space left on device`` (no path), a full
TMPDIR said ``cannot back up SQLite database <the production database>: database or disk is full`` (the
database read was blamed), and with a filter or a sanitising rule, ``cannot read SQLite database ...: cannot
rollback - no transaction is active`` (SQLite had rolled back itself; the ROLLBACK's error hid the reason).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_serve_wild_trees import small_file_system

from synco_core.sizes import human_size
from synco_core.testing.services import require_module

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "laravel-app"
SYNCO = [sys.executable, "-m", "synco_core"]


def synco(*args: str, cwd: Path, tmpdir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TMPDIR=str(tmpdir)) if tmpdir is not None else None
    return subprocess.run([*SYNCO, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
                          check=False, cwd=cwd, env=env)


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert [line for line in lines if line.startswith("Error:")] == lines[-1:], result.stderr
    return lines[-1]


def database(folder: Path, megabytes: int = 1) -> Path:
    """A SQLite database of about ``megabytes`` MB of incompressible rows, with tables to filter."""
    path = folder / "app.sqlite"
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB)")
        conn.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, payload TEXT)")
        conn.executemany("INSERT INTO blobs (body) VALUES (?)", [(os.urandom(50_000),) for _ in range(20 * megabytes)])
        conn.executemany("INSERT INTO jobs (payload) VALUES (?)", [("x" * 100,) for _ in range(100)])
    conn.close()
    return path


def test_db_dump_output_on_a_full_disk_keeps_the_file_there(tmp_path: Path) -> None:
    source = database(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "dump.sqlite").write_bytes(b"the dump of yesterday")
    with small_file_system(out, "256k"):
        line = one_error(synco("db", "dump", f"sqlite:///{source}", "-o", str(out / "dump.sqlite"), cwd=tmp_path))
        assert line.startswith(f"Error: no space left on the disk that holds {out}: dump.sqlite needs more "), line
        assert sorted(os.listdir(out)) == ["dump.sqlite"]
        assert (out / "dump.sqlite").read_bytes() == b"the dump of yesterday"


def test_decrypt_output_on_a_full_disk_keeps_the_file_there(tmp_path: Path) -> None:
    from synco_core import age

    secret = age.generate_identity()
    encrypted = tmp_path / "dump.enc"
    with encrypted.open("wb") as raw:
        writer = age.encrypt_writer(raw, [secret.recipient()])
        writer.write(os.urandom(1024 * 1024))
        writer.close()
    out = tmp_path / "out"
    out.mkdir()
    (out / "dump.sql").write_bytes(b"kept")
    with small_file_system(out, "256k"):
        line = one_error(synco("decrypt", "--key", secret.to_string(), str(encrypted), "-o", str(out / "dump.sql"),
                               cwd=tmp_path))
        assert line.startswith(f"Error: no space left on the disk that holds {out}: dump.sql needs more "), line
        assert sorted(os.listdir(out)) == ["dump.sql"]
        assert (out / "dump.sql").read_bytes() == b"kept"


# 64k holds no copy of the 1 MB database; 1200k holds the copy, but not the VACUUM that follows leaving out a
# small table's rows, nor the journal of leaving out the large table's (where SQLite rolls back by itself).
@pytest.mark.parametrize("size", ["64k", "1200k"])
@pytest.mark.parametrize("rules", [[], ["--exclude-table", "jobs"], ["--exclude-table", "blobs"]],
                         ids=["plain", "small-table-left-out", "large-table-left-out"])
def test_db_dump_with_a_full_tmpdir_names_it(tmp_path: Path, size: str, rules: list[str]) -> None:
    source = database(tmp_path)
    before = source.read_bytes()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with small_file_system(scratch, size):
        result = synco("db", "dump", *rules, f"sqlite:///{source}", "-o", str(tmp_path / "dump.sqlite"),
                       cwd=tmp_path, tmpdir=scratch)
        if result.returncode == 0:
            assert not rules and size == "1200k", "only a plain dump fits in 1200k"
            return
        line = one_error(result)
        assert line.startswith(f"Error: no space left on the disk that holds {scratch} (TMPDIR): the private copy "
                               f"of SQLite database {source} that is dumped"), line
        needed = human_size(len(before) * (2 if rules else 1))
        assert f"needs about {needed} there" in line, line
        assert os.listdir(scratch) == []
        assert not (tmp_path / "dump.sqlite").exists()
        assert source.read_bytes() == before


def test_serve_with_a_full_tmpdir_leaves_no_session(tmp_path: Path) -> None:
    require_module("synco_laravel", "serve the Laravel example: nox -s tests")
    project = tmp_path / "app"
    shutil.copytree(EXAMPLE, project, symlinks=True)
    database(project / "database").replace(project / "database" / "database.sqlite")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with small_file_system(scratch, "256k"):
        line = one_error(synco("serve", "--keep", cwd=project, tmpdir=scratch))
        assert line.startswith(f"Error: no space left on the disk that holds {scratch} (TMPDIR): the private copy "
                               "of SQLite database "), line
        assert os.listdir(scratch) == []
        assert not list((project / "public").glob("synco-*"))


@pytest.mark.parametrize("form", [[], ["--sql"]], ids=["database-file", "sql-script"])
def test_db_load_on_a_full_disk_keeps_the_database(tmp_path: Path, form: list[str]) -> None:
    """The loaded copy does not fit beside the database: the line names the disk and the copy, the database
    is as it was, and neither the copy nor a kept one is left."""
    source = database(tmp_path)
    dump = tmp_path / "dump"
    assert synco("db", "dump", *form, f"sqlite:///{source}", "-o", str(dump), cwd=tmp_path).returncode == 0
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    shutil.copy(EXAMPLE / "database" / "database.sqlite", laptop / "db.sqlite")
    before = (laptop / "db.sqlite").read_bytes()
    with small_file_system(laptop, "512k"):
        line = one_error(synco("db", "load", "--yes", f"sqlite:///{laptop / 'db.sqlite'}", str(dump), cwd=tmp_path))
        assert line.startswith(f"Error: no space left on the disk that holds {laptop}: the loaded copy of SQLite "
                               "database db.sqlite needs more "), line
        assert os.listdir(laptop) == ["db.sqlite"]
        assert (laptop / "db.sqlite").read_bytes() == before


@pytest.mark.parametrize("where", ["tmpdir", "spill-dir"])
def test_external_sort_on_a_full_disk_names_it_and_leaves_no_runs(tmp_path: Path, where: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The sorted runs of a long list (serve's entries of a plugin, receive's index) fill their disk: one line
    naming it (TMPDIR, or the folder given), and no run left there to eat the space until the process ends."""
    import tempfile

    from synco_core.errors import SyncoError
    from synco_core.index.extsort import external_sort

    disk = tmp_path / "disk"
    disk.mkdir()
    with small_file_system(disk, "64k"):
        monkeypatch.setattr(tempfile, "tempdir", str(disk) if where == "tmpdir" else str(tmp_path))
        records = (f"{number:08d}-{'x' * 100}" for number in range(100_000, 0, -1))
        with pytest.raises(SyncoError) as failed:
            list(external_sort(records, key=str, encode=str.encode, decode=bytes.decode, run_size=100,
                               spill_dir=None if where == "tmpdir" else disk))
        named = f"{disk} (TMPDIR)" if where == "tmpdir" else str(disk)
        assert str(failed.value).startswith(f"no space left on the disk that holds {named}: the sorted runs of a "
                                            "long list of files needs more than "), failed.value
        assert os.listdir(disk) == []


def test_a_huge_rows_spool_on_a_full_tmpdir_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MySQL's dump holds a huge row in TMPDIR until its size is known: a full TMPDIR is named, with the row's
    bytes so far, not as a database error."""
    import tempfile

    from synco_core.engines.mysql import sealedspool
    from synco_core.nospace import NoSpaceError

    disk = tmp_path / "disk"
    disk.mkdir()
    with small_file_system(disk, "64k"):
        monkeypatch.setattr(tempfile, "tempdir", str(disk))
        monkeypatch.setattr(sealedspool, "BLOCK_BYTES", 16 * 1024)
        spool = sealedspool.SealedSpool()
        try:
            with pytest.raises(NoSpaceError) as failed:
                for _ in range(20):
                    spool.write(os.urandom(16 * 1024))
        finally:
            spool.close()
        assert str(failed.value).startswith(f"no space left on the disk that holds {disk} (TMPDIR): a huge row of "
                                            "the dump (held there, sealed, until its size is known) needs more than "
                                            ), failed.value
        assert os.listdir(disk) == []


@pytest.fixture(params=["mysql", "postgresql"])
def server_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a database of about 700 KB on the shared MySQL or PostgreSQL server, dropped afterwards."""
    import uuid

    from synco_core.testing import services

    name = f"synco_test_disk_full_{uuid.uuid4().hex[:12]}"
    rows = "SELECT REPEAT(MD5(seq), 200) FROM seq_1_to_110"
    if request.param == "mysql":
        conn = services.mysql_admin_connection()
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE `{name}`")
                cur.execute(f"CREATE TABLE `{name}`.t (id INT AUTO_INCREMENT PRIMARY KEY, b LONGTEXT)")
                cur.execute(f"INSERT INTO `{name}`.t (b) {rows.replace('seq_1', f'`{name}`.seq_1')}")
            conn.commit()
            yield services.mysql_url_for(name)
        finally:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            conn.close()
    else:
        admin = services.postgres_admin_connection()
        try:
            admin.execute(f'CREATE DATABASE "{name}"')
            with services.postgres_admin_connection(name) as conn:
                conn.execute("CREATE TABLE t (id serial PRIMARY KEY, b text)")
                conn.execute("INSERT INTO t (b) SELECT repeat(md5(g::text), 200) FROM generate_series(1, 110) g")
            yield services.postgres_url_for(name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.close()


def test_server_dump_output_on_a_full_disk_keeps_the_file_there(tmp_path: Path, server_database: str) -> None:
    """A MySQL or PostgreSQL dump written with -o onto a full disk: the same line (no engine wraps the
    output's error into its own words), the file that was there kept."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "dump.sql").write_bytes(b"the dump of yesterday")
    with small_file_system(out, "256k"):
        line = one_error(synco("db", "dump", server_database, "-o", str(out / "dump.sql"), cwd=tmp_path))
        assert line.startswith(f"Error: no space left on the disk that holds {out}: dump.sql needs more than 2"), line
        assert sorted(os.listdir(out)) == ["dump.sql"]
        assert (out / "dump.sql").read_bytes() == b"the dump of yesterday"


def test_a_scratch_folder_on_a_disk_without_inodes_is_not_left_behind(tmp_path: Path) -> None:
    """The folder is made, its owner lock is not (no inode left): the lockless folder, which no later run
    would ever remove, goes at once, and the line says why."""
    from synco_core.nospace import NoSpaceError
    from synco_core.scratch import make_scratch_folder

    disk = tmp_path / "disk"
    disk.mkdir()
    with small_file_system(disk, "1m,nr_inodes=2"):
        with pytest.raises(NoSpaceError) as failed:
            make_scratch_folder(str(disk))
        assert str(failed.value).startswith(f"no space left on the disk that holds {disk}: a scratch folder of "
                                            "synco's needs more space than is left there (no file can be created "
                                            "there: its inodes are used up)"), failed.value
        assert os.listdir(disk) == []
