"""A session key, a passphrase or a database password never stays in a command line other users can read.

A command line is readable by every user of the machine (``ps``, ``/proc/PID/cmdline``) for as long as the
process runs, and ``synco receive SESSION KEY`` can run for minutes. The key can come from a file
(``--key-file``, refused when other users may read it, as ssh refuses such a private key), from standard input
(``-``) or from ``SYNCO_KEY``; one given as an argument anyway (and every other registered secret: a database
URL's password, ``serve --password``) is rewritten out of the visible command line as soon as it is read, on
Linux. ``serve --key-on-stdin`` prints a receive command that hands the key over on standard input.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_transfer_support import fixture_app_fixture, tree_digest  # noqa: F401

from synco_core import age
from synco_core.cli.main import cli
from synco_core.testing.services import unavailable

IDENTITY = age.generate_identity()
KEY = IDENTITY.to_string()
DATA = b"the plaintext of an artifact\n" * 100


def _linux_proc() -> None:
    if not Path("/proc/self/cmdline").exists() or not sys.platform.startswith("linux"):
        unavailable("the command line is rewritten on Linux only (/proc)")


def _synco(*args: str, **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "synco_core", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kwargs)  # type: ignore[call-overload]


def _command_line(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


@contextlib.contextmanager
def _listener() -> Iterator[socket.socket]:
    """A TCP socket on 127.0.0.1 that accepts and never answers: a client connected to it is past its start-up."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        # A bound on the wait, not a measurement: the connection comes as soon as the command has started.
        server.settimeout(120)
        yield server


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.communicate()


@pytest.mark.parametrize("secret", [
    "AGE-SECRET-KEY-1QQQSYNCOTESTKEYPARTXYZ",
    "pass word with spaces",
    "pw+/with?url&chars=",
    "ünïcødé-pässwörd",
], ids=["key", "spaces", "url characters", "non-ascii"])
def test_a_registered_secret_leaves_the_visible_command_line(secret: str, tmp_path: Path) -> None:
    """Whatever registers a secret takes it out of /proc/PID/cmdline, in the form typed and URL-encoded."""
    _linux_proc()
    from urllib.parse import quote

    script = ("import sys\nfrom synco_core.redaction import register_secret\nregister_secret(sys.argv[1])\n"
              "sys.stdout.buffer.write(open('/proc/self/cmdline', 'rb').read())\n")
    url = f"mysql://user:{quote(secret, safe='')}@db.example/app"
    shown = subprocess.run([sys.executable, "-c", script, secret, "--keep-me", url], capture_output=True,
                           check=True, cwd=tmp_path).stdout
    args = shown.rstrip(b"\0").split(b"\0")
    assert secret.encode() not in shown and quote(secret, safe="").encode() not in shown, shown
    assert args[-3:] == [b"***", b"--keep-me", b"mysql://user:***@db.example/app"], args


def test_receive_takes_its_key_argument_out_of_its_command_line(tmp_path: Path) -> None:
    _linux_proc()
    with _listener() as server:
        port = server.getsockname()[1]
        process = _synco("receive", "synco-0123456789abcdef01234567", KEY, "--base-url",
                         f"http://someone:Basic-pw-8Jd2@127.0.0.1:{port}/?token=Tok-in-argv-5Hq9", "--all",
                         "--target", str(tmp_path / "out"), "--timeout", "60")
        try:
            connection, _ = server.accept()
            with connection:
                shown = _command_line(process.pid)
                assert b"receive" in shown and b"synco-0123456789abcdef01234567" in shown
                assert KEY.encode() not in shown
                # The credentials of the --base-url too: its basic-auth password and a token in its query.
                assert b"Basic-pw-8Jd2" not in shown and b"Tok-in-argv-5Hq9" not in shown, shown
        finally:
            _stop(process)


def test_db_dump_takes_the_urls_password_out_of_its_command_line(tmp_path: Path) -> None:
    _linux_proc()
    password = "Dump-pw-in-argv-7731"
    with _listener() as server:
        port = server.getsockname()[1]
        process = _synco("db", "dump", f"mysql://someone:{password}@127.0.0.1:{port}/app", "-o",
                         str(tmp_path / "dump.sql"))
        try:
            connection, _ = server.accept()
            with connection:
                shown = _command_line(process.pid)
                assert b"dump" in shown and password.encode() not in shown, shown
        finally:
            _stop(process)


def test_decrypt_takes_its_key_out_of_its_command_line(tmp_path: Path) -> None:
    _linux_proc()
    fifo = tmp_path / "artifact.enc"
    os.mkfifo(fifo)
    process = _synco("decrypt", "--key", KEY, str(fifo), "-o", str(tmp_path / "plain"))
    try:
        # Opening a FIFO waits for its reader: once it returns, decrypt has read its options.
        with open(fifo, "wb") as writer:
            shown = _command_line(process.pid)
            assert b"decrypt" in shown and KEY.encode() not in shown, shown
            writer.write(age.encrypt_bytes(DATA, [IDENTITY.recipient()]))
        _out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert (tmp_path / "plain").read_bytes() == DATA
    finally:
        if process.poll() is None:
            _stop(process)


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    path = tmp_path / "dump.sql.enc"
    path.write_bytes(age.encrypt_bytes(DATA, [IDENTITY.recipient()]))
    return path


def _key_file(path: Path, text: str, mode: int) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("text", [
    KEY + "\n",
    f"# created: 2026-01-01T00:00:00Z\n# public key: {IDENTITY.recipient().to_string()}\n{KEY}\n",
    f"\n  {KEY}  \r\n\n",
], ids=["the key", "an age identity file", "spaces around"])
@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_decrypt_reads_the_key_from_a_file_of_its_owner(artifact: Path, tmp_path: Path, text: str,
                                                        mode: int) -> None:
    key_file = _key_file(tmp_path / "key.txt", text, mode)
    result = CliRunner().invoke(cli, ["decrypt", "--key-file", str(key_file), str(artifact), "-o",
                                      str(tmp_path / "plain")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "plain").read_bytes() == DATA


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o620, 0o602, 0o610, 0o601])
@pytest.mark.parametrize("command", ["decrypt", "receive"])
def test_a_key_file_other_users_may_read_or_change_is_refused(artifact: Path, tmp_path: Path, mode: int,
                                                              command: str) -> None:
    key_file = _key_file(tmp_path / "key.txt", KEY + "\n", mode)
    args = (["decrypt", "--key-file", str(key_file), str(artifact), "-o", str(tmp_path / "plain")]
            if command == "decrypt" else
            ["receive", "synco-0123456789abcdef01234567", "--key-file", str(key_file), "--base-url",
             "http://127.0.0.1:9/", "--all", "--target", str(tmp_path / "out")])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1 and f"mode {mode:04o}" in result.stderr and "chmod 600" in result.stderr
    assert KEY not in result.output and not (tmp_path / "plain").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("text, message", [
    ("# only a comment\n\n", "holds no key"),
    (f"{KEY}\n{KEY}\n", "holds 2 lines that are not comments"),
])
def test_a_key_file_without_exactly_one_key_is_one_line_without_it(artifact: Path, tmp_path: Path, text: str,
                                                                    message: str) -> None:
    key_file = _key_file(tmp_path / "key.txt", text, 0o600)
    result = CliRunner().invoke(cli, ["decrypt", "--key-file", str(key_file), str(artifact)])
    assert result.exit_code == 1 and message in result.stderr and result.stderr.count("\n") == 1
    assert KEY not in result.output


def test_the_key_is_given_once(artifact: Path, tmp_path: Path) -> None:
    key_file = _key_file(tmp_path / "key.txt", KEY, 0o600)
    both = CliRunner().invoke(cli, ["decrypt", "--key", KEY, "--key-file", str(key_file), str(artifact)])
    assert both.exit_code == 2 and "give the key once" in both.output
    # SYNCO_KEY exported in the shell does not stand in the way of a key file.
    from_env = CliRunner().invoke(cli, ["decrypt", "--key-file", str(key_file), str(artifact), "-o",
                                        str(tmp_path / "plain")], env={"SYNCO_KEY": "not-the-key-at-all"})
    assert from_env.exit_code == 0, from_env.output
    from_stdin = CliRunner().invoke(cli, ["decrypt", "--key", "-", str(artifact), "-o", str(tmp_path / "stdin.plain")],
                                    input=f"# a comment\n{KEY}\n")
    assert from_stdin.exit_code == 0, from_stdin.output
    assert (tmp_path / "stdin.plain").read_bytes() == DATA
    stdin_twice = CliRunner().invoke(cli, ["decrypt", "--key", "-", "-"], input=KEY)
    assert stdin_twice.exit_code == 2 and "both read standard input" in stdin_twice.output


def _served(app: Path, *extra: str) -> tuple[str, str]:
    """``synco serve --keep`` in ``app``: (its output, the session id)."""
    previous = Path.cwd()
    os.chdir(app)
    try:
        served = CliRunner().invoke(cli, ["serve", "--keep", "--only", "private", *extra])
    finally:
        os.chdir(previous)
    assert served.exit_code == 0, served.output
    session = re.search(r"synco receive (synco-\S+)", served.output)
    assert session, served.output
    return served.output, session.group(1)


@pytest.mark.parametrize("how", ["key file", "standard input", "argument"])
def test_receive_opens_the_session_with_the_key_from_each_source(fixture_app: Path, web_server: object,
                                                                 tmp_path: Path, how: str) -> None:
    output, session = _served(fixture_app)
    key = re.search(r"(AGE-SECRET-KEY-1\S+)", output)
    assert key
    base = web_server(fixture_app / "web")  # type: ignore[operator]
    args = ["receive", session, "--base-url", base, "--all", "--target", str(tmp_path / "out"), "--timeout", "30"]
    stdin = None
    if how == "key file":
        args[2:2] = ["--key-file", str(_key_file(tmp_path / "key", key.group(1) + "\n", 0o600))]
    elif how == "standard input":
        args[2:2] = ["-"]
        stdin = key.group(1) + "\n"
    else:
        args[2:2] = [key.group(1)]
    result = CliRunner().invoke(cli, args, input=stdin)
    assert result.exit_code == 0, result.output
    assert tree_digest(tmp_path / "out" / "private") == tree_digest(fixture_app / "private")


def test_serve_prints_a_receive_command_with_the_key_on_stdin(fixture_app: Path, web_server: object,
                                                             tmp_path: Path) -> None:
    """The printed form works as printed, in sh, and no process of it has the key in its command line."""
    shell = shutil.which("sh")
    if shell is None:
        unavailable("no sh")
    base = web_server(fixture_app / "web")  # type: ignore[operator]
    output, session = _served(fixture_app, "--key-on-stdin")
    line = next(line.strip() for line in output.splitlines() if "synco receive" in line)
    assert re.fullmatch(rf"echo AGE-SECRET-KEY-1\S+ \| synco receive {session} -", line), line
    command = f"{line} --base-url {base} --all --target {tmp_path / 'out'} --timeout 30"
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "synco").exists()
    done = subprocess.run([shell, "-c", command], capture_output=True, text=True, check=False,
                          env={**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"})
    assert done.returncode == 0, done.stderr
    assert tree_digest(tmp_path / "out" / "private") == tree_digest(fixture_app / "private")


def _core_limit(pid: int) -> str:
    line = next(line for line in Path(f"/proc/{pid}/limits").read_text().splitlines()
                if line.startswith("Max core file size"))
    return line.split()[4]


def test_a_running_receive_writes_no_core_dump(tmp_path: Path) -> None:
    """A crash (in a driver's native code, say) would write the process's memory, key and passwords included,
    to a core file: synco sets its core size limit to 0, for its workers too."""
    _linux_proc()
    import resource

    resource_limits = resource.getrlimit(resource.RLIMIT_CORE)

    def allow_core_dumps() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (resource_limits[1], resource_limits[1]))

    if resource_limits[1] == 0:
        unavailable("core dumps are turned off for this user already (hard limit 0)")
    with _listener() as server:
        port = server.getsockname()[1]
        process = _synco("receive", "synco-0123456789abcdef01234567", KEY, "--base-url",
                         f"http://127.0.0.1:{port}", "--all", "--target", str(tmp_path / "out"), "--timeout", "60",
                         preexec_fn=allow_core_dumps)
        try:
            connection, _ = server.accept()
            with connection:
                assert _core_limit(process.pid) == "0"
        finally:
            _stop(process)
