"""``synco pull ssh://...`` against a real sshd on 127.0.0.1 (own keys and config in a temp dir).

Covered: the remote synco (installed), the uploaded zipapp run by an interpreter that cannot see
site-packages (no cryptography, no zstandard: the fallbacks), a pull killed in the middle of the transfer
and then run again, ``--via-http``, and the remote side being cleaned up every time.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pull_support import Project, Sshd, make_project, row_count, run_sshd, run_synco, write_plugin

from synco_core.engines.mysql.swap import OWN_TABLES
from synco_core.testing.services import (
    mysql_admin_connection,
    mysql_url_for,
    needs_tool,
    postgres_admin_connection,
    postgres_url_for,
)

pytestmark = [needs_tool("sshd", "openssh-server"), needs_tool("ssh", "openssh-client"),
              needs_tool("ssh-keygen", "openssh-client")]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    base = tmp_path_factory.mktemp("sshd")
    plugin_dir = write_plugin(base / "plugin")
    with run_sshd(base / "server", plugin_dir) as server:
        yield server


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "remote app", public_files=7)


def _assert_received(target: Path, project: Project) -> None:
    assert row_count(target / "dbDump.sqlite") == project.rows
    uploads = target / "uploads"
    received = {p.relative_to(uploads).as_posix(): p.read_bytes() for p in uploads.rglob("*") if p.is_file()}
    assert received == project.public_files()
    private = target / "private"
    received_private = {p.relative_to(private).as_posix(): p.read_bytes() for p in private.rglob("*") if p.is_file()}
    assert received_private == project.private_files()


def _leftovers(sshd: Sshd) -> list[str]:
    """What the remote side left in its TMPDIR (temp session folders, uploaded zipapps)."""
    return sorted(p.name for p in sshd.remote_tmp.iterdir())


def _wait_clean(sshd: Sshd, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while _leftovers(sshd) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _leftovers(sshd)


def test_pull_over_ssh_with_synco_installed_remotely(sshd: Sshd, project: Project, tmp_path: Path) -> None:
    local = tmp_path / "laptop"
    local.mkdir()
    result = run_synco(["pull", sshd.url(project.root), "--target", "dump"], sshd.env(), local)
    assert result.returncode == 0, result.stderr
    assert "synco installed at" in result.stderr or "synco_core module" in result.stderr
    assert "without the age layer" not in result.stderr
    _assert_received(local / "dump", project)
    # Dotfiles of the application never travel: only the file sets' content does.
    assert not list((local / "dump").rglob(".env"))
    assert _wait_clean(sshd) == []
    # Nothing was written into the application's web root.
    assert sorted(p.name for p in (project.root / "public").iterdir()) == [".env", "index.php", "uploads"]


def test_pull_over_ssh_uploads_zipapp_when_synco_is_missing(sshd: Sshd, project: Project, tmp_path: Path) -> None:
    local = tmp_path / "laptop"
    local.mkdir()
    # "-S": the remote interpreter sees no site-packages, so neither synco nor cryptography/zstandard exist there.
    env = sshd.env(SYNCO_REMOTE_SYNCO="upload", SYNCO_REMOTE_PYTHON=f"{sys.executable} -S")
    result = run_synco(["pull", sshd.url(project.root), "--target", "dump"], env, local)
    assert result.returncode == 0, result.stderr
    assert "uploaded zipapp" in result.stderr
    assert "without the age layer" in result.stderr
    _assert_received(local / "dump", project)
    assert _wait_clean(sshd) == []

    # A second pull of the unchanged application skips everything it already has.
    again = run_synco(["pull", sshd.url(project.root), "--target", "dump"], env, local)
    assert again.returncode == 0, again.stderr
    assert "already received" in again.stdout
    assert "7 up to date" in again.stdout


def test_pull_only_database(sshd: Sshd, project: Project, tmp_path: Path) -> None:
    result = run_synco(["pull", sshd.url(project.root), "--only", "dbDump", "--target", "dump"], sshd.env(),
                       tmp_path)
    assert result.returncode == 0, result.stderr
    assert row_count(tmp_path / "dump" / "dbDump.sqlite") == project.rows
    assert not (tmp_path / "dump" / "uploads").exists()


def test_pull_missing_directory_is_one_line(sshd: Sshd, tmp_path: Path) -> None:
    result = run_synco(["pull", sshd.url(tmp_path / "nope")], sshd.env(), tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: the directory") and "does not exist" in lines[-1]


def test_pull_unreachable_host_is_one_line(sshd: Sshd, tmp_path: Path) -> None:
    result = run_synco(["pull", f"ssh://{sshd.user}@127.0.0.1:1/srv/app"], sshd.env(), tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: cannot reach ssh://")


THROTTLE = '''\
"""Runs the real ssh command with its stdout slowed to ~RATE bytes/s, so a test can stop a pull midway."""
import os, subprocess, sys, time
rate = int(os.environ["THROTTLE_RATE"])
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
out = sys.stdout.buffer
while True:
    chunk = proc.stdout.read1(16384)
    if not chunk:
        break
    out.write(chunk)
    out.flush()
    time.sleep(len(chunk) / rate)
sys.exit(proc.wait())
'''


def _interrupt_throttled_pull(sshd: Sshd, tmp_path: Path, cwd: Path, args: list[str], part_pattern: str,
                              part_bytes: int, check: Callable[[], None] | None = None, **env: str) -> None:
    """Run ``synco pull ARGS`` through a channel throttled to ~1 MB/s and press Ctrl-C once a part file in
    ``dump/`` matching ``part_pattern`` holds ``part_bytes``; the pull must fail."""
    throttle = tmp_path / "throttle.py"
    throttle.write_text(THROTTLE)
    environment = sshd.env(SYNCO_SSH_COMMAND=f"{sys.executable} {throttle} {sshd.ssh_command}",
                           THROTTLE_RATE="1000000", **env)
    process = subprocess.Popen(
        [sys.executable, "-c", "from synco_core.cli.main import main; main()", "pull", *args],
        env=environment, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    target = cwd / "dump"
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            parts = [p for p in target.glob(part_pattern) if p.stat().st_size > part_bytes] if target.exists() else []
            if parts or process.poll() is not None:
                break
            time.sleep(0.01)
        assert process.poll() is None, "the pull finished before it could be interrupted"
        if check is not None:
            check()
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    # (stderr shown on failure: once, on a loaded machine, an interrupted pull exited 0)
    assert process.returncode != 0, err


def test_pull_killed_mid_transfer_then_resumed(sshd: Sshd, tmp_path: Path) -> None:
    # A database with 4 MB of incompressible rows, sent at ~1 MB/s: there is time to stop it midway (with
    # 2 MB a starved test process once sent its Ctrl-C only as the finished pull was exiting).
    project = make_project(tmp_path / "app", public_files=4, rows=64, blob_bytes=64 * 1024)
    local = tmp_path / "laptop"
    local.mkdir()
    # Stop it once part of the database artifact has arrived (a *.part file with some bytes in it).
    _interrupt_throttled_pull(sshd, tmp_path, local, [sshd.url(project.root), "--target", "dump"], "*.part", 100_000)
    target = local / "dump"
    # Nothing half-written under a final name.
    assert not (target / "dbDump.sqlite").exists()
    assert not (target / "private").exists()
    # The remote side removed its temporary session.
    assert _wait_clean(sshd) == []

    rerun = run_synco(["pull", sshd.url(project.root), "--target", "dump"], sshd.env(), local)
    assert rerun.returncode == 0, rerun.stderr
    _assert_received(target, project)
    connection = sqlite3.connect(target / "dbDump.sqlite")
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    connection.close()
    assert not list(target.glob("*.part"))


def test_pull_via_http(sshd: Sshd, project: Project, tmp_path: Path) -> None:
    result = run_synco(["pull", sshd.url(project.root), "--via-http", "--remote-listen", "127.0.0.1:0",
                        "--target", "dump"], sshd.env(), tmp_path)
    assert result.returncode == 0, result.stderr
    _assert_received(tmp_path / "dump", project)
    # The published session folder is gone from the web root again.
    assert not [p for p in (project.root / "public").iterdir() if p.name.startswith("synco-")]


def test_ssh_options_from_synco_yml(sshd: Sshd, project: Project, tmp_path: Path) -> None:
    (tmp_path / ".synco.yml").write_text(
        "remotes:\n"
        "  production:\n"
        f"    url: {sshd.url(project.root)}\n"
        f"    ssh_options: -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i {sshd.key}\n"
    )
    env = dict(os.environ)
    env.pop("SYNCO_SSH_COMMAND", None)
    env.pop("SYNCO_SSH_OPTIONS", None)
    result = run_synco(["pull", "production", "--only", "dbDump", "--target", "dump"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert row_count(tmp_path / "dump" / "dbDump.sqlite") == project.rows


def test_env_values_reach_the_remote_synco_over_ssh_and_stay_out_of_ssh_s_command_line(
        sshd: Sshd, project: Project, tmp_path: Path) -> None:
    """env: values are read from the channel by the launch script (after the login shell), not put in ssh's argv."""
    seen = tmp_path / "seen"
    wrapper = tmp_path / "remote-synco"
    wrapper.write_text(f"#!/bin/sh\nprintf '%s' \"$DB_PASSWORD\" > '{seen}'\n"
                       f"exec {sys.executable} -m synco_core \"$@\"\n")
    wrapper.chmod(0o755)
    value = "ssh-env-secret 'q\" $(id) \\ é\nline two\n"
    (tmp_path / ".synco.yml").write_text(json.dumps({"remotes": {"production": {
        "url": sshd.url(project.root), "env": {"DB_PASSWORD": value}}}}))
    recorder = tmp_path / "ssh-argv"
    env = sshd.env(SYNCO_REMOTE_SYNCO=str(wrapper),
                   SYNCO_SSH_COMMAND=f"sh -c 'printf \"%s\\n\" \"$@\" >> {recorder}; exec \"$0\" \"$@\"' "
                                     + sshd.ssh_command)
    result = run_synco(["pull", "production", "--only", "dbDump", "--target", "dump"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert seen.read_text() == value
    assert recorder.exists() and "ssh-env-secret" not in recorder.read_text()


def test_pull_install_into_local_project(sshd: Sshd, project: Project, tmp_path: Path) -> None:
    # The laptop's own copy of the application: an older database and other files.
    local = make_project(tmp_path / "laptop app", public_files=2, rows=3)
    stale = local.root / "public" / "uploads" / "only-local.bin"
    stale.write_bytes(b"old")
    env = sshd.env(PYTHONPATH=str(sshd.plugin_dir))
    result = run_synco(["pull", sshd.url(project.root), "--install", "--yes", "--target", "dump"], env, local.root)
    assert result.returncode == 0, result.stderr
    assert "Installed database" in result.stderr
    assert row_count(local.database) == project.rows
    assert local.public_files() == project.public_files()
    assert local.private_files() == project.private_files()
    assert not stale.exists()


def test_pull_install_refuses_a_remote_local_database_before_transferring(sshd: Sshd, project: Project,
                                                                           tmp_path: Path) -> None:
    local = make_project(tmp_path / "laptop app", public_files=1, rows=1)
    (local.root / "synco-pulltest.json").write_text('{"database_url": "mysql://app:s3cretpw@db.example.com/shop"}')
    env = sshd.env(PYTHONPATH=str(sshd.plugin_dir))
    result = run_synco(["pull", sshd.url(project.root), "--install", "--yes", "--target", "dump"], env, local.root)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: refusing to replace mysql database 'shop'")
    assert "s3cretpw" not in result.stderr
    assert not (local.root / "dump").exists(), "refused before anything was transferred"
    assert "Starting synco" not in result.stderr


def test_pull_install_options_need_install(tmp_path: Path) -> None:
    result = run_synco(["pull", "ssh://example.invalid/app", "--post-install"], dict(os.environ), tmp_path)
    assert result.returncode == 2 and "go with --install" in result.stderr


# ------------------------------------------------------------------ the MySQL dump streamed during the build


def _mysql_projects(tmp_path: Path, create: Callable[[], str], rows: int,
                    blob_bytes: int) -> tuple[Project, Project, str, str]:
    """A remote app on one throw-away database and a laptop project on another (with older content)."""
    source, target = create(), create()
    conn = mysql_admin_connection(source)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE posts (id INT PRIMARY KEY, title VARCHAR(100), body LONGBLOB)")
        # Values a statement splitter could trip over, in every row.
        cur.executemany("INSERT INTO posts VALUES (%s, %s, %s)",
                        [(i, f"post {i}; it's\n);\n", os.urandom(blob_bytes)) for i in range(rows)])
    conn.commit()
    conn.close()
    conn = mysql_admin_connection(target)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE laptop_only (id INT PRIMARY KEY)")
    conn.commit()
    conn.close()
    remote, local = _projects_on(tmp_path, mysql_url_for(source), mysql_url_for(target))
    return remote, local, source, target


def _projects_on(tmp_path: Path, source_url: str, target_url: str) -> tuple[Project, Project]:
    """The remote app on the database at ``source_url``, the laptop project on the one at ``target_url``."""
    remote = make_project(tmp_path / "remote app", public_files=3)
    (remote.root / "synco-pulltest.json").write_text(json.dumps({"database_url": source_url}))
    local = make_project(tmp_path / "laptop app", public_files=1, rows=1)
    (local.root / "synco-pulltest.json").write_text(json.dumps({"database_url": target_url}))
    return remote, local


def _tables(database: str) -> dict[str, Any]:
    conn = mysql_admin_connection(database)
    with conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        names = sorted(row[0] for row in cur.fetchall() if row[0] not in OWN_TABLES)  # not the kept copy's journal
        content = {}
        for name in names:
            cur.execute(f"SELECT * FROM `{name}` ORDER BY 1")
            content[name] = cur.fetchall()
    conn.close()
    return content


def _databases_named(prefix: str) -> list[str]:
    conn = mysql_admin_connection()
    with conn.cursor() as cur:
        cur.execute("SHOW DATABASES")
        names = sorted(row[0] for row in cur.fetchall() if row[0].startswith(prefix))
    conn.close()
    return names


def test_pull_install_loads_the_mysql_dump_while_it_streams_in(sshd: Sshd, tmp_path: Path,
                                                                mysql_database_factory: Callable[[], str]) -> None:
    remote, laptop, source, target = _mysql_projects(tmp_path, mysql_database_factory, rows=3000, blob_bytes=700)
    local = laptop.root
    env = sshd.env(PYTHONPATH=str(sshd.plugin_dir))
    result = run_synco(["pull", sshd.url(remote.root), "--install", "--yes", "--target", "dump", "--debug"],
                       env, local)
    assert result.returncode == 0, result.stderr
    assert "installing dbDump while it streams in" in result.stderr
    assert "dbDump: downloaded streamed while the source dumped it" in result.stderr
    assert _tables(target) == _tables(source)
    # The laptop's database is kept for rollback, the dump lands as a file as with any pull.
    assert list(_tables(f"{target}__synco_prev")) == ["laptop_only"]
    dump = (local / "dump" / "dbDump.sql").read_bytes()
    assert dump.startswith(b"-- synco MySQL/MariaDB dump") and b"-- synco-dump-complete" in dump
    assert not list((local / "dump").glob("*.part"))
    assert laptop.public_files() == remote.public_files()
    assert _wait_clean(sshd) == []


def test_pull_without_install_keeps_the_streamed_dump(sshd: Sshd, tmp_path: Path,
                                                      mysql_database_factory: Callable[[], str]) -> None:
    remote, laptop, _source, target = _mysql_projects(tmp_path, mysql_database_factory, rows=500, blob_bytes=100)
    local = laptop.root
    result = run_synco(["pull", sshd.url(remote.root), "--target", "dump", "--debug"], sshd.env(), local)
    assert result.returncode == 0, result.stderr
    assert "dbDump: downloaded streamed while the source dumped it" in result.stderr
    assert "installing dbDump" not in result.stderr
    assert b"INSERT INTO `posts`" in (local / "dump" / "dbDump.sql").read_bytes()
    assert list(_tables(target)) == ["laptop_only"]
    assert not list((local / "dump").glob("*.part"))


def test_pull_install_interrupted_while_streaming_leaves_the_local_database(
        sshd: Sshd, tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    # About 8 MB of SQL (4 MB of random blobs as hex, 4 MB compressed) at ~1 MB/s: the load is under way when
    # Ctrl-C comes, with seconds to spare.
    remote, laptop, _source, target = _mysql_projects(tmp_path, mysql_database_factory, rows=800, blob_bytes=5000)
    local = laptop.root

    def load_started() -> None:
        assert _databases_named(f"{target}__synco_new"), "the load had not started"

    _interrupt_throttled_pull(sshd, tmp_path, local, [sshd.url(remote.root), "--install", "--yes", "--target", "dump"],
                              "*.stream.part", 300_000, load_started, PYTHONPATH=str(sshd.plugin_dir))
    dump = local / "dump"
    assert list(_tables(target)) == ["laptop_only"]
    assert _databases_named(target) == [target]
    assert not list(dump.glob("*.part"))
    assert _wait_clean(sshd) == []


def test_pull_install_loads_a_postgresql_dump_while_it_streams_in(
        sshd: Sshd, tmp_path: Path, postgres_database_factory: Callable[[], str]) -> None:
    source, target = postgres_database_factory(), postgres_database_factory()
    with postgres_admin_connection(source) as conn:
        conn.execute("CREATE TABLE posts (id int PRIMARY KEY, title text, body bytea)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO posts VALUES (%s, %s, %s)",
                            [(i, f"post {i};\n\\.\n", os.urandom(300)) for i in range(2000)])
    with postgres_admin_connection(target) as conn:
        conn.execute("CREATE TABLE laptop_only (id int)")
    remote, local = _projects_on(tmp_path, postgres_url_for(source), postgres_url_for(target))
    result = run_synco(["pull", sshd.url(remote.root), "--install", "--yes", "--target", "dump", "--debug"],
                       sshd.env(PYTHONPATH=str(sshd.plugin_dir)), local.root)
    assert result.returncode == 0, result.stderr
    assert "installing dbDump while it streams in" in result.stderr

    def posts(database: str) -> list[tuple[Any, ...]]:
        with postgres_admin_connection(database) as conn:
            return conn.execute("SELECT id, title, body FROM posts ORDER BY id").fetchall()

    assert posts(target) == posts(source)
    assert len(posts(target)) == 2000
    assert local.public_files() == remote.public_files()


def test_pull_reports_a_failed_remote_dump_in_one_line(sshd: Sshd, tmp_path: Path,
                                                        mysql_database_factory: Callable[[], str]) -> None:
    remote, laptop, source, target = _mysql_projects(tmp_path, mysql_database_factory, rows=10, blob_bytes=10)
    # The dump fails on the remote side (the database is gone), while the files travel.
    (remote.root / "synco-pulltest.json").write_text(json.dumps(
        {"database_url": mysql_url_for(source + "_missing")}))
    result = run_synco(["pull", sshd.url(remote.root), "--install", "--yes", "--target", "dump"],
                       sshd.env(PYTHONPATH=str(sshd.plugin_dir)), laptop.root)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and source + "_missing" in last, result.stderr
    assert "Traceback" not in result.stderr
    assert list(_tables(target)) == ["laptop_only"]
    assert _wait_clean(sshd) == []


def test_pull_through_an_ssh_that_allocates_a_terminal_is_one_line(sshd: Sshd, project: Project,
                                                                   tmp_path: Path) -> None:
    # ssh -tt in the user's options gives the remote command a terminal, which turns line ends into CR LF and
    # interprets ^C in the upload: said at once, with nothing uploaded.
    for synco in ("", "upload"):
        env = sshd.env(SYNCO_SSH_OPTIONS="-tt", SYNCO_REMOTE_SYNCO=synco)
        result = run_synco(["pull", sshd.url(project.root), "--target", "dump"], env, tmp_path)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines()[-1] == (
            f"Error: the channel to {sshd.url(project.root)} is a terminal (-tt in the ssh options, docker or "
            "kubectl exec -t), which would change the bytes synco sends; run it without one")
        assert _leftovers(sshd) == []
