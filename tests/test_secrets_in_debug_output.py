"""The main commands, run with ``--debug`` on a project full of distinctive secrets, show none of them.

Every secret has its own recognisable value: the database password (in the URL of ``.synco.yml``, plain and
URL-encoded), the ``hash`` transform's key, the session key, the basic-auth password of the web server
(and the ``Authorization`` header made of it), a token in a URL's query string. ``detect``, ``serve``,
``receive`` (with its worker processes), ``decrypt``, ``db dump`` and ``db load`` run with ``--debug``; their
output (stdout, stderr, the workers' stderr) and every file receive writes are searched for each secret. The
one place a session key is meant to be seen is the receive command serve prints.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from pull_support import make_project, remote_environment, run_synco

from synco_core.cli.main import cli
from synco_core.redaction import register_secret
from synco_core.testing.services import MYSQL_HOST, MYSQL_PORT, mysql_admin_connection, unique_name

PREFIX = "synco_test_secret_edges"
#: A password with characters URL encoding changes, so both forms are looked for.
DB_PASSWORD = "Db-pw/7Kq+Zt@x9!secret"
HASH_KEY = "hash-key-4f7c2a9e1b8d3c6f5a0e"
BASIC_PASSWORD = "Basic-pw-8Jd2Lq0vWz"
TOKEN = "tok-3Hs8Pq1Xc7Vb2Nm5"


@pytest.fixture
def mysql_app() -> Iterator[tuple[str, str]]:
    """A MariaDB user with a distinctive password and its own database with a users table: (user, database)."""
    name, user = unique_name(PREFIX), unique_name(PREFIX)
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
            cur.execute(f"CREATE TABLE `{name}`.users (id int PRIMARY KEY, email varchar(100))")
            cur.execute(f"INSERT INTO `{name}`.users VALUES (1, 'alice@example.com'), (2, 'bob@example.com')")
            for host in ("%", "localhost", "127.0.0.1"):
                cur.execute(f"CREATE USER '{user}'@'{host.replace('%', '%%')}' IDENTIFIED BY %s", (DB_PASSWORD,))
                cur.execute(f"GRANT ALL ON `{name}`.* TO '{user}'@'{host}'")
            # db load makes a scratch database beside the target, and keeps the previous one.
            for host in ("%", "localhost", "127.0.0.1"):
                cur.execute(f"GRANT ALL ON `{name}\\_\\_synco%`.* TO '{user}'@'{host}'")
        yield user, name
    finally:
        with conn.cursor() as cur:
            for host in ("%", "localhost", "127.0.0.1"):
                cur.execute(f"DROP USER IF EXISTS '{user}'@'{host}'")
            cur.execute("SHOW DATABASES")
            for (database,) in cur.fetchall():
                if database.startswith(name):
                    cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
        conn.close()


@pytest.fixture
def pinned_registered_hash_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every engine's ``hash`` key fixed to :data:`HASH_KEY`, registered as new_hash_key registers its own."""

    def pinned() -> str:
        register_secret(HASH_KEY)
        return HASH_KEY

    for module in ("synco_core.engines.mysql.dump", "synco_core.engines.postgresql.dataplan",
                   "synco_core.engines.sqlite.dump"):
        monkeypatch.setattr(f"{module}.new_hash_key", pinned)
    return HASH_KEY


def _forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote(secret)}


def _leaks(text: str, secrets: dict[str, set[str]]) -> list[str]:
    return sorted(name for name, forms in secrets.items() if any(form in text for form in forms))


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None,
         stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a subprocess: its workers' stderr is captured with its own."""
    return subprocess.run([sys.executable, "-m", "synco_core", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, input=stdin, timeout=600, check=False)


@pytest.mark.mysql
def test_debug_output_of_the_main_commands_holds_no_secret(mysql_app: tuple[str, str], tmp_path: Path,
                                                            pinned_registered_hash_key: str,
                                                            web_server: Callable[[Path], str],
                                                            capfd: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    user, name = mysql_app
    url = f"mysql://{user}:{quote(DB_PASSWORD, safe='')}@{MYSQL_HOST}:{MYSQL_PORT}/{name}"
    app = tmp_path / "app"
    (app / "public" / "media").mkdir(parents=True)
    (app / "public" / "media" / "a.txt").write_text("public file\n")
    (app / "storage").mkdir()
    (app / "storage" / "b.txt").write_text("private file\n")
    (app / ".synco.yml").write_text(
        "serve:\n"
        "  name: Leaky\n"
        f"  database: {url}?charset=utf8mb4\n"
        "  web_root: public\n"
        "  file_sets:\n"
        "    - {name: media, path: public/media, public: true, url: media/}\n"
        "    - {name: private, path: storage}\n"
        "  sanitize:\n"
        "    columns:\n"
        "      users.email: hash\n")
    outputs: list[str] = []

    detected = _run(["--debug", "detect", "--json"], app)
    assert detected.returncode == 0, detected.stderr
    outputs += [detected.stdout, detected.stderr]

    # serve runs in this process, so the hash key is the pinned one; the output of its worker processes is
    # what capfd reads from the file descriptors.
    monkeypatch.chdir(app)
    served = CliRunner().invoke(cli, ["--debug", "serve", "--keep", "--id", "leaks"])
    monkeypatch.chdir(tmp_path)
    assert served.exit_code == 0, served.output
    match = re.search(r"synco receive (synco-\S+) (AGE-SECRET-KEY-1\S+)", served.stdout)
    assert match, served.output
    session, key = match.groups()
    command_line = match.group(0)
    outputs += [served.stdout.replace(command_line, "<the receive command>"), served.stderr]
    assert served.stdout.count(key) == 1, "the key is in the printed command, once"

    root = web_server(app / "public")
    base = root.replace("http://", f"http://someone:{BASIC_PASSWORD}@") + f"?token={TOKEN}"
    received = _run(["--debug", "receive", session, "-", "--base-url", base, "--all", "--target",
                     str(tmp_path / "out"), "--timeout", "60"], tmp_path, stdin=key + "\n")
    assert received.returncode == 0, received.stderr
    outputs += [received.stdout, received.stderr]
    # The same receive again: what it finds on the laptop (records, parts) it reads and may log too.
    again = _run(["--debug", "receive", session, "--base-url", base, "--all", "--target", str(tmp_path / "out"),
                  "--timeout", "60"], tmp_path, env={"SYNCO_KEY": key})
    assert again.returncode == 0, again.stderr
    outputs += [again.stdout, again.stderr]

    artifact = next((app / "public" / session).glob("dump*.enc"))
    decrypted = _run(["--debug", "decrypt", str(artifact), "-o", str(tmp_path / "dump.plain")], tmp_path,
                     env={"SYNCO_KEY": key})
    assert decrypted.returncode == 0, decrypted.stderr
    outputs += [decrypted.stdout, decrypted.stderr]
    wrong = _run(["--debug", "decrypt", str(artifact), "-o", str(tmp_path / "wrong.plain")], tmp_path,
                 env={"SYNCO_KEY": key[:-6] + "qqqqqq"})
    assert wrong.returncode == 1
    outputs += [wrong.stdout, wrong.stderr]

    dumped = _run(["--debug", "db", "dump", url, "-o", str(tmp_path / "db.sql")], tmp_path)
    assert dumped.returncode == 0, dumped.stderr
    outputs += [dumped.stdout, dumped.stderr]
    refused = _run(["--debug", "db", "dump", url.replace(quote(DB_PASSWORD, safe=""), quote(DB_PASSWORD[::-1],
                                                                                         safe="")),
                    "-o", str(tmp_path / "refused.sql")], tmp_path)
    assert refused.returncode == 1
    outputs += [refused.stdout, refused.stderr]
    loaded = _run(["--debug", "db", "load", url, str(tmp_path / "db.sql"), "--yes"], tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    outputs += [loaded.stdout, loaded.stderr]
    outputs.append(capfd.readouterr().out + capfd.readouterr().err)

    secrets = {
        "database password": _forms(DB_PASSWORD),
        "wrong database password": _forms(DB_PASSWORD[::-1]),
        "hash key": _forms(HASH_KEY),
        "session key": _forms(key) | {key[16:40]},
        "basic-auth password": _forms(BASIC_PASSWORD),
        "Authorization header": {base64.b64encode(f"someone:{BASIC_PASSWORD}".encode()).decode()},
        "query token": _forms(TOKEN),
    }
    leaked = {index: _leaks(text, secrets) for index, text in enumerate(outputs) if _leaks(text, secrets)}
    assert not leaked, leaked
    # Nothing receive writes on the laptop (records, locks, parts, the files themselves) holds one, in its
    # name or its content.
    for path in (tmp_path / "out").rglob("*"):
        assert not _leaks(str(path.relative_to(tmp_path)), secrets), path
        if path.is_file():
            assert not _leaks(path.read_bytes().decode("utf-8", "replace"), secrets), path


#: Loaded by every Python process of a pull (the local one, its workers, the channel's shim, the remote side):
#: writes each process's own command line, and that of every process it starts, to $SYNCO_TEST_ARGV_LOG.
ARGV_RECORDER = """\
import json, os, sys
_log = os.environ.get("SYNCO_TEST_ARGV_LOG")
if _log:
    def _write(kind, argv):
        with open(_log, "a") as handle:
            handle.write(json.dumps([kind, [os.fsdecode(a) if isinstance(a, (str, bytes)) else str(a)
                                            for a in argv]]) + "\\n")
    _write("start", sys.orig_argv)
    def _hook(event, args):
        if event in ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn"):
            for value in args:
                if isinstance(value, (list, tuple)):
                    _write(event, value)
                    break
                if isinstance(value, (str, bytes)) and event == "subprocess.Popen" and value is args[1]:
                    _write(event, [value])
                    break
    sys.addaudithook(_hook)
"""


@pytest.mark.mysql
def test_pull_shows_no_secret_and_puts_none_in_a_command_line(mysql_app: tuple[str, str], tmp_path: Path) -> None:
    """``pull --debug --install``: the key the remote side makes reaches the local receive in the process and
    its workers through their pipes; no process of the pull, on either side, ever has it (or the database
    password) in its command line, and no output or file of the pull shows them."""
    user, name = mysql_app
    url = f"mysql://{user}:{quote(DB_PASSWORD, safe='')}@{MYSQL_HOST}:{MYSQL_PORT}/{name}"
    project = make_project(tmp_path / "app", public_files=4)
    (project.root / "synco-pulltest.json").write_text(json.dumps({"database_url": url}))
    recorder = tmp_path / "recorder"
    recorder.mkdir()
    (recorder / "sitecustomize.py").write_text(ARGV_RECORDER)
    env = remote_environment(tmp_path)
    argv_log = tmp_path / "argv.log"
    env.update(PYTHONPATH=f"{recorder}{os.pathsep}{env['PYTHONPATH']}", SYNCO_TEST_ARGV_LOG=str(argv_log))
    pulled = run_synco(["--debug", "pull", f"docker://web-1{project.root}", "--target", "out"], env, tmp_path,
                       timeout=300)
    assert pulled.returncode == 0, pulled.stderr
    lines = [json.loads(line) for line in argv_log.read_text().splitlines()]
    # The recorder saw the processes of both sides: the channel it started, and the remote side it ran.
    assert any(kind == "subprocess.Popen" and argv[:2] == ["docker", "exec"] for kind, argv in lines), lines
    assert any(kind == "start" and "_channel" in argv for kind, argv in lines), lines
    secrets = {"database password": _forms(DB_PASSWORD), "a session key": {"AGE-SECRET-KEY-1"}}
    everything = [pulled.stdout, pulled.stderr, argv_log.read_text(), Path(env["SYNCO_SHIM_LOG"]).read_text()]
    leaked = {index: _leaks(text, secrets) for index, text in enumerate(everything) if _leaks(text, secrets)}
    assert not leaked, leaked
    for path in (tmp_path / "out").rglob("*"):
        assert not _leaks(str(path), secrets), path
        if path.is_file():
            assert not _leaks(path.read_bytes().decode("utf-8", "replace"), secrets), path
