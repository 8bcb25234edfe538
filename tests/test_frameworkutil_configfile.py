"""How every configuration file is read from a project: bounded, devices refused, named pipes read with a
timeout (``synco_core.frameworkutil.configfile``), and the core's own readers (``.env``, PHP configuration,
``getenv_docker`` secret files, ``.synco.yml`` for ``pull`` and ``receive``) going through it.

The readers run in a child process with a time and memory limit: without the bound a ``/dev/zero`` link
would fill the memory and a pipe hang the suite, so a regression fails here instead.
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from synco_core.errors import ConfigError
from synco_core.frameworkutil.configfile import MAX_CONFIG_BYTES, pipe_timeout, read_config_file, read_config_text
from synco_core.testing import HOSTILE_CASES, assert_refused, hostile_file, run_cli


def test_regular_files_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_bytes(b"a" * MAX_CONFIG_BYTES)
    assert len(read_config_file(path)) == MAX_CONFIG_BYTES
    path.write_bytes(b"a" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(ConfigError, match=r"app\.yaml is too large to be a YAML file \(over 1048576 bytes\)$"):
        read_config_file(path, kind="YAML file")
    assert read_config_file(path, limit=MAX_CONFIG_BYTES + 1) == b"a" * (MAX_CONFIG_BYTES + 1)
    with pytest.raises(FileNotFoundError):
        read_config_file(tmp_path / "missing.yaml")


def test_text_must_be_utf8_unless_told(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ConfigError, match=r"latin\.yaml is not UTF-8 text \(byte 9\)"):
        read_config_text(path)
    assert read_config_text(path, errors="replace") == "name: caf\ufffd\n"


def test_devices_and_folders_are_refused_by_type(tmp_path: Path) -> None:
    (tmp_path / "zero").symlink_to("/dev/zero")
    with pytest.raises(ConfigError, match=r"zero is a character device, not a \.env file$"):
        read_config_file(tmp_path / "zero", kind=".env file")
    with pytest.raises(ConfigError, match=r"is a folder, not a configuration file$"):
        read_config_file(tmp_path)


def test_a_pipe_nobody_writes_to_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCO_PIPE_TIMEOUT", "0.3")
    os.mkfifo(tmp_path / ".env")
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"\.env is a named pipe that delivered nothing within 0\.3 s"):
        read_config_file(tmp_path / ".env", kind=".env file")
    assert time.monotonic() - started < 5


def _write_later(path: Path, data: bytes, delay: float = 0.2) -> threading.Thread:
    def write() -> None:
        time.sleep(delay)
        # BrokenPipeError: the reader stopped at its bound and closed its end.
        with contextlib.suppress(BrokenPipeError), path.open("wb") as pipe:
            pipe.write(data)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_a_pipe_with_a_writer_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A password manager serving .env through a named pipe: read, within the bound, once the writer closes."""
    monkeypatch.setenv("SYNCO_PIPE_TIMEOUT", "5")
    pipe = tmp_path / ".env"
    os.mkfifo(pipe)
    _write_later(pipe, b"DATABASE_URL=mysql://app:pw@db/app\n" * 5000)
    assert read_config_text(pipe) == "DATABASE_URL=mysql://app:pw@db/app\n" * 5000
    _write_later(pipe, b"x" * (MAX_CONFIG_BYTES + 100_000), delay=0)
    with pytest.raises(ConfigError, match="is too large to be a configuration file"):
        read_config_file(pipe)


@pytest.mark.parametrize(("value", "expected"), [("", 10.0), ("2.5", 2.5), ("0", None), ("soon", None),
                                                   ("nan", None), ("1e30", None)])
def test_pipe_timeout_setting(monkeypatch: pytest.MonkeyPatch, value: str, expected: float | None) -> None:
    monkeypatch.setenv("SYNCO_PIPE_TIMEOUT", value)
    if expected is None:
        with pytest.raises(ConfigError, match="SYNCO_PIPE_TIMEOUT should be a number of seconds, more than 0 "):
            pipe_timeout()
    else:
        assert pipe_timeout() == expected


# ----------------------------------------------------------------------------------- the core's readers

#: Each core reader, called on ``path`` in a child process; a SyncoError is printed as the CLI prints it.
READERS = {
    "dotenv": "from synco_core import load_dotenv_files as r; r([path], environ={})",
    "php": "from synco_core import read_php_config as r; r(path)",
    "getenv_docker": ("from synco_core import parse_php_config as p; "
                      "p(\"<?php $x = getenv_docker('DB_PASSWORD', '');\", environ={'DB_PASSWORD_FILE': str(path)})"),
    "synco.yml (receive)": "from synco_core.receive.locate import configured_hosts as r; r(path.parent)",
    "synco.yml (pull)": "from synco_core.pull.remote import load_remotes as r; r(path)",
}
NAMES = {"dotenv": ".env", "php": "settings.php", "getenv_docker": "db_password",
         "synco.yml (receive)": ".synco.yml", "synco.yml (pull)": ".synco.yml"}


def run_reader(reader: str, path: Path) -> subprocess.CompletedProcess[str]:
    code = ("import sys; from pathlib import Path; from synco_core.errors import SyncoError\n"
            f"path = Path({str(path)!r})\n"
            f"try:\n    {READERS[reader]}\nexcept SyncoError as exc:\n"
            "    print(f'Error: {exc}', file=sys.stderr); sys.exit(1)\n")

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20,
                          env={**os.environ, "SYNCO_PIPE_TIMEOUT": "1"}, preexec_fn=limit_memory)


@pytest.mark.parametrize("reader", list(READERS))
def test_core_reader_reads_a_normal_file(tmp_path: Path, reader: str) -> None:
    path = tmp_path / NAMES[reader]
    path.write_text({".env": "A=1\n", "settings.php": "<?php $a = 1;\n", "db_password": "secret\n",
                     ".synco.yml": "hosts: [https://shop.example]\nremotes: {live: 'ssh://shop.example/srv'}\n"}[path.name])
    result = run_reader(reader, path)
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("case", list(HOSTILE_CASES))
@pytest.mark.parametrize("reader", list(READERS))
def test_core_reader_refuses_a_hostile_file(tmp_path: Path, reader: str, case: str) -> None:
    path = tmp_path / NAMES[reader]
    hostile_file(path, case)
    assert_refused(run_reader(reader, path), path, case)


@pytest.mark.parametrize("case", list(HOSTILE_CASES))
def test_pull_refuses_a_hostile_synco_yml(tmp_path: Path, case: str) -> None:
    """``synco pull NAME`` looks the remote up in .synco.yml: a hostile one is one line, not a hang."""
    hostile_file(tmp_path / ".synco.yml", case)
    assert_refused(run_cli(["pull", "live"], cwd=tmp_path), ".synco.yml", case)
