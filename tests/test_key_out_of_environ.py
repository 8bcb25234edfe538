"""A secret synco takes from its environment does not stay in ``/proc/PID/environ`` while the command runs.

``SYNCO_KEY``, ``SYNCO_PASSWORD`` and ``SYNCO_DATABASE_URL`` keep a secret out of the command line, which every
user sees; the environment is readable by the same user (and root) only, but for the whole run: a receive takes
minutes, and any process of that user (a compromised editor plugin, a build script) read the session key there.
Python reads its environment into ``os.environ`` when it starts, so synco blanks the original values as soon
as its command begins (``synco_core.cmdline.hide_environment``); every other variable stays as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

from test_key_out_of_argv import DATA, IDENTITY, KEY, _linux_proc, _listener, _stop, _synco

from synco_core import age


def _environment(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


def _environment_of(variable: str, value: str, *args: str, tmp_path: Path) -> bytes:
    """What /proc/PID/environ of ``synco *args`` shows once it connected to a server that never answers."""
    with _listener() as server:
        port = server.getsockname()[1]
        env = {**os.environ, variable: value.replace("PORT", str(port)), "SYNCO_TEST_MARKER": "kept-as-it-is"}
        process = _synco(*[arg.replace("PORT", str(port)) for arg in args], env=env, cwd=tmp_path)
        try:
            connection, _ = server.accept()
            with connection:
                return _environment(process.pid)
        finally:
            _stop(process)


def test_receive_blanks_synco_key_in_its_environment(tmp_path: Path) -> None:
    _linux_proc()
    shown = _environment_of(
        "SYNCO_KEY",
        KEY,
        "receive",
        "synco-0123456789abcdef01234567",
        "--base-url",
        "http://127.0.0.1:PORT/",
        "--all",
        "--target",
        str(tmp_path / "out"),
        "--timeout",
        "60",
        tmp_path=tmp_path,
    )
    assert KEY.encode() not in shown
    assert b"\0SYNCO_TEST_MARKER=kept-as-it-is\0" in shown


def test_db_dump_blanks_synco_database_url_in_its_environment(tmp_path: Path) -> None:
    _linux_proc()
    password = "Env-dump-pw-4417"
    shown = _environment_of(
        "SYNCO_DATABASE_URL",
        f"mysql://someone:{password}@127.0.0.1:PORT/app",
        "db",
        "dump",
        "-o",
        str(tmp_path / "dump.sql"),
        tmp_path=tmp_path,
    )
    assert password.encode() not in shown and b"127.0.0.1" not in shown
    assert b"\0SYNCO_TEST_MARKER=kept-as-it-is\0" in shown


def test_decrypt_still_uses_the_key_it_blanked(tmp_path: Path) -> None:
    _linux_proc()
    fifo = tmp_path / "artifact.enc"
    os.mkfifo(fifo)
    process = _synco("decrypt", str(fifo), "-o", str(tmp_path / "plain"), env={**os.environ, "SYNCO_KEY": KEY})
    try:
        # Opening a FIFO waits for its reader: once it returns, decrypt has read its options.
        with open(fifo, "wb") as writer:
            assert KEY.encode() not in _environment(process.pid)
            writer.write(age.encrypt_bytes(DATA, [IDENTITY.recipient()]))
        _out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert (tmp_path / "plain").read_bytes() == DATA
    finally:
        if process.poll() is None:
            _stop(process)
