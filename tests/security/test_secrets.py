"""Issue 14, item 12: secrets stay secret.

What receive writes (dumps, part files, its record) and what ``synco decrypt`` writes is for its owner
alone (mode 0600, the receive folder 0700) whatever the umask; passphrases, keys and database URLs can come
from the environment or a hidden prompt instead of the command line; serve warns about a short passphrase
and prints only commands that run this project (PyPI's ``synco`` is somebody else's).
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from crafted_session import CraftedServer, CraftedSession, Reply, run_receive, umask
from test_receive_support import PtyProcess, synco_argv
from test_transfer_support import fixture_app_fixture  # noqa: F401

from synco_core.cli.main import cli
from synco_core.serve import keys

SECRET_SQL = b"INSERT INTO users VALUES ('alice@example.com');\n"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_received_files_are_for_their_owner_alone(crafted: CraftedSession,
                                                  crafted_server: Callable[..., CraftedServer],
                                                  tmp_path: Path) -> None:
    crafted.ready(crafted.dump_set(SECRET_SQL))
    target = tmp_path / "t"
    with umask(0):
        result = run_receive(crafted, crafted_server(crafted.web_root).url, target)
    assert result.exit_code == 0, result.output
    assert _mode(target) == 0o700
    assert _mode(target / "dbDump.sql") == 0o600
    assert _mode(target / ".synco-received.json") == 0o600


def test_a_part_file_left_by_an_interrupted_download_is_private(crafted: CraftedSession,
                                                               crafted_server: Callable[..., CraftedServer],
                                                               tmp_path: Path) -> None:
    dump = crafted.dump_set(os.urandom(300_000), compress=False)
    crafted.ready(dump)
    server = crafted_server(crafted.web_root)
    artifact = crafted.folder / "dump.sql.zst.enc"
    data = artifact.read_bytes()
    server.reply(f"/{crafted.session_id}/{artifact.name}", Reply(body=data[: len(data) // 2], length=len(data),
                                                                 times=1))
    target = tmp_path / "t"
    target.mkdir(mode=0o755)
    with umask(0):
        result = run_receive(crafted, server.url, target)
    assert result.exit_code == 1, result.output
    [part] = target.glob("*.enc.part")
    assert _mode(part) == 0o600


def test_synco_decrypt_writes_the_plaintext_for_its_owner_alone(crafted: CraftedSession, tmp_path: Path) -> None:
    crafted.artifact("secret.enc", SECRET_SQL)
    out = tmp_path / "plain.sql"
    with umask(0):
        result = CliRunner().invoke(cli, ["decrypt", "--key", crafted.key, "-o", str(out),
                                          str(crafted.folder / "secret.enc")])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == SECRET_SQL
    assert _mode(out) == 0o600


def test_serve_takes_the_passphrase_from_the_environment(fixture_app: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "SCRYPT_WORK_FACTOR", 10)
    monkeypatch.chdir(fixture_app)
    passphrase = "env-passphrase-0123456789abcdef"
    served = CliRunner().invoke(cli, ["serve", "--keep", "--only", "dbDump", "--id", "synco-fromenv01234567"],
                                env={"SYNCO_PASSWORD": passphrase})
    assert served.exit_code == 0, served.output
    assert "AGE-SECRET-KEY" not in served.output, "the passphrase was used, not a new key"
    with CraftedServer(fixture_app / "web") as server:
        session = CraftedSession.__new__(CraftedSession)
        session.session_id, session.key = "synco-fromenv01234567", passphrase
        result = run_receive(session, server.url, tmp_path / "t")
    assert result.exit_code == 0, result.output


def test_serve_asks_for_the_passphrase_and_warns_when_it_is_short(fixture_app: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "SCRYPT_WORK_FACTOR", 10)
    monkeypatch.chdir(fixture_app)
    result = CliRunner().invoke(cli, ["serve", "--keep", "--only", "dbDump", "--ask-password"], input="short\nshort\n")
    assert result.exit_code == 0, result.output
    assert "the passphrase is short (5 characters)" in result.output
    assert "synco receive synco-" in result.output


def test_serve_prints_only_commands_that_run_this_project(fixture_app: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """``uvx --from synco`` would run PyPI's unrelated ``synco`` with the session key."""
    monkeypatch.chdir(fixture_app)
    result = CliRunner().invoke(cli, ["serve", "--keep", "--only", "dbDump"])
    assert result.exit_code == 0, result.output
    assert "uvx" not in result.output and "pip install" not in result.output
    commands = [line.strip() for line in result.output.splitlines() if line.startswith("    ")]
    assert commands and all(command.startswith("synco receive ") for command in commands), commands


def test_db_commands_take_the_url_from_the_environment(tmp_path: Path) -> None:
    database = tmp_path / "app.sqlite"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
    env = {"SYNCO_DATABASE_URL": f"sqlite:///{database}"}
    dump = tmp_path / "dump.sqlite"
    with umask(0):
        result = CliRunner().invoke(cli, ["db", "dump", "-o", str(dump)], env=env)
    assert result.exit_code == 0, result.output
    assert _mode(dump) == 0o600, "a dump is the database's content: for its owner alone"
    copy = tmp_path / "copy.sqlite"
    result = CliRunner().invoke(cli, ["db", "load", str(dump), "--yes"], env={"SYNCO_DATABASE_URL": f"sqlite:///{copy}"})
    assert result.exit_code == 0, result.output
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_receive_asks_for_the_key_in_a_terminal(crafted: CraftedSession,
                                                crafted_server: Callable[..., CraftedServer],
                                                tmp_path: Path) -> None:
    crafted.ready(crafted.dump_set(SECRET_SQL))
    server = crafted_server(crafted.web_root)
    env_key = os.environ.pop("SYNCO_KEY", None)
    try:
        process = PtyProcess(synco_argv("receive", crafted.session_id, "--base-url", server.url, "--target",
                                        str(tmp_path / "t"), "--all"), tmp_path)
        process.expect("Session key or passphrase")
        process.send(crafted.key + "\r")
        code = process.wait()
    finally:
        if env_key is not None:
            os.environ["SYNCO_KEY"] = env_key
    assert code == 0, process.output
    assert crafted.key not in process.output, "the key is not echoed"
    assert (tmp_path / "t" / "dbDump.sql").read_bytes() == SECRET_SQL


def _unused(*_args: Any) -> None:
    """Keeps the fixture import (``fixture_app``) visibly used for linters that do not know pytest."""


@pytest.mark.parametrize("mask", [0o000, 0o002])
def test_what_serve_publishes_is_writable_by_its_owner_alone(fixture_app: Path, monkeypatch: pytest.MonkeyPatch,
                                                             mask: int) -> None:
    """Under umask 000 the session folder in the web root was 0777 and its files 0666: another user of the server
    could add a script to it, which the web server would run under the site's name, or rewrite its marker."""
    monkeypatch.chdir(fixture_app)
    with umask(mask):
        result = CliRunner().invoke(cli, ["serve", "--keep", "--all", "--id", "synco-modes0123456789ab"])
        assert os.umask(mask) == mask, "the umask is the user's again after serve"
    assert result.exit_code == 0, result.output
    folder = fixture_app / "web" / "synco-modes0123456789ab"
    paths = [folder, *folder.rglob("*")]
    assert len(paths) > 3
    writable = {str(path.relative_to(folder)): oct(_mode(path)) for path in paths if _mode(path) & 0o022}
    assert not writable
    # The web server still reads them; the marker is serve's alone (receive never reads it), and is not published.
    assert all(_mode(path) & 0o004 for path in paths if path.name != ".synco-ttl"), "the web server still reads them"
    assert _mode(folder / ".synco-ttl") & 0o077 == 0


@pytest.mark.parametrize(("mask", "root_mode", "readable"), [
    # A hardened account's umask 077 under a 0755 web root that nginx (www-data) reads as "other": the
    # session was 0700 and its files 0600, and receive only heard "refused by the server ... (HTTP 403)".
    (0o077, 0o755, 0o004),
    (0o027, 0o755, 0o004),
    # A web server in the site's group (web root 0750): the group reads the session, others still do not.
    (0o077, 0o750, 0o040),
    # A web root only its owner reads: the web server runs as that user, and the umask is left as it was.
    (0o077, 0o700, 0o000),
], ids=["077-under-0755", "027-under-0755", "077-under-0750", "077-under-0700"])
def test_what_serve_publishes_the_web_server_reads_whatever_the_umask(fixture_app: Path,
                                                                      monkeypatch: pytest.MonkeyPatch, mask: int,
                                                                      root_mode: int, readable: int) -> None:
    monkeypatch.chdir(fixture_app)
    web = fixture_app / "web"
    web.chmod(root_mode)
    with umask(mask):
        result = CliRunner().invoke(cli, ["serve", "--keep", "--all", "--id", "synco-readable0123456789"])
        assert os.umask(mask) == mask, "the umask is the user's again after serve"
    assert result.exit_code == 0, result.output
    folder = web / "synco-readable0123456789"
    paths = [path for path in [folder, *folder.rglob("*")] if path.name != ".synco-ttl"]
    assert len(paths) > 3
    for path in paths:
        mode = _mode(path)
        # What the web root lets group and other read (and search, for folders), and no more.
        bits = 0o055 if path.is_dir() else 0o044
        assert mode & bits == root_mode & bits, (path.name, oct(mode))
        assert bool(mode & 0o044) == bool(readable), (path.name, oct(mode))
        # Never more than the web root gives, and never writable but by the owner.
        assert mode & 0o022 == 0 and mode & ~root_mode & 0o077 == 0, (path.name, oct(mode))
    assert _mode(folder / ".synco-ttl") & 0o077 == 0
