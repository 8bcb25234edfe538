"""``synco decrypt``: output to a file or stdout, the key from --key or SYNCO_KEY, one-line errors, no leftovers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from synco_core import age
from synco_core.age.stream import CHUNK_SIZE
from synco_core.cli.main import cli

IDENTITY = age.generate_identity()
DATA = os.urandom(3 * CHUNK_SIZE + 99)


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    path = tmp_path / "dump.sql.enc"
    path.write_bytes(age.encrypt_bytes(DATA, [IDENTITY.recipient()]))
    return path


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """The real console entry point in a subprocess, so stdout is a real binary stream."""
    return subprocess.run(
        [sys.executable, "-c", "from synco_core.cli.main import main; main()", *args],
        capture_output=True, env={**os.environ, **(env or {})}, check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[bytes], *fragments: str) -> str:
    assert result.returncode == 1
    message = result.stderr.decode()
    assert message.startswith("Error: ") and message.count("\n") == 1, message
    for fragment in fragments:
        assert fragment in message
    return message


def test_decrypt_to_file(artifact: Path, tmp_path: Path) -> None:
    output = tmp_path / "out" / "dump.sql"
    result = run("decrypt", "--key", IDENTITY.to_string(), str(artifact), "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert output.read_bytes() == DATA
    assert list(output.parent.iterdir()) == [output]


def test_decrypt_to_stdout_with_key_from_environment(artifact: Path) -> None:
    result = run("decrypt", str(artifact), env={"SYNCO_KEY": IDENTITY.to_string()})
    assert result.returncode == 0, result.stderr
    assert result.stdout == DATA


def test_write_error_on_stdout_is_one_line(artifact: Path) -> None:
    # A failing write (disk full) ends the command with one line, like any other error.
    with open("/dev/full", "wb") as full:
        result = subprocess.run(
            [sys.executable, "-c", "from synco_core.cli.main import main; main()", "decrypt",
             "--key", IDENTITY.to_string(), str(artifact)],
            stdout=full, stderr=subprocess.PIPE, check=False, timeout=60,
        )
    assert_one_line_error(result, "No space left on device")


def test_decrypt_from_stdin_with_passphrase(tmp_path: Path) -> None:
    encrypted = age.encrypt_bytes(b"hello", [age.ScryptRecipient("a long passphrase", work_factor=4)])
    result = subprocess.run(
        [sys.executable, "-c", "from synco_core.cli.main import main; main()", "decrypt", "--key",
         "a long passphrase", "-"],
        input=encrypted, capture_output=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"hello"


def test_wrong_key_is_one_line_without_output_or_key(artifact: Path, tmp_path: Path) -> None:
    wrong = age.generate_identity().to_string()
    output = tmp_path / "dump.sql"
    message = assert_one_line_error(run("decrypt", "--key", wrong, str(artifact), "-o", str(output)), "does not open")
    assert wrong not in message
    assert list(tmp_path.iterdir()) == [artifact]


def test_wrong_passphrase_is_not_printed(artifact: Path, tmp_path: Path) -> None:
    result = run("decrypt", str(artifact), "-o", str(tmp_path / "x"), env={"SYNCO_KEY": "hunter2-secret"})
    message = assert_one_line_error(result, "does not open")
    assert "hunter2-secret" not in message


@pytest.mark.parametrize("cut", [CHUNK_SIZE + 16, 2 * (CHUNK_SIZE + 16) + 1, 5])
def test_truncated_file_leaves_no_output(artifact: Path, tmp_path: Path, cut: int) -> None:
    artifact.write_bytes(artifact.read_bytes()[:-cut])
    output = tmp_path / "dump.sql"
    result = run("decrypt", "--key", IDENTITY.to_string(), str(artifact), "-o", str(output))
    assert_one_line_error(result, "damaged or truncated payload")
    assert sorted(p.name for p in tmp_path.iterdir()) == [artifact.name]


def flip_payload_byte(encrypted: bytes) -> bytes:
    """A bit flipped in the third chunk, so two good chunks reach the output before the damage shows."""
    position = len(encrypted) - 99 - 16 - 5
    return encrypted[:position] + bytes([encrypted[position] ^ 0x01]) + encrypted[position + 1 :]


def flip_mac_character(encrypted: bytes) -> bytes:
    """The first base64 character of the header MAC replaced by another one (still canonical base64)."""
    position = encrypted.index(b"\n--- ") + 5
    other = b"B" if encrypted[position : position + 1] == b"A" else b"A"
    return encrypted[:position] + other + encrypted[position + 1 :]


@pytest.mark.parametrize(("damage", "fragments"), [
    (flip_payload_byte, ("damaged or truncated payload",)),
    (flip_mac_character, ("damaged header", "MAC")),
])
def test_damaged_artifact_is_reported_and_leaves_no_output(
    artifact: Path, tmp_path: Path, damage: Callable[[bytes], bytes], fragments: tuple[str, ...]
) -> None:
    artifact.write_bytes(damage(artifact.read_bytes()))
    output = tmp_path / "dump.sql"
    result = run("decrypt", "--key", IDENTITY.to_string(), str(artifact), "-o", str(output))
    message = assert_one_line_error(result, *fragments)
    assert "does not open" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == [artifact.name]


def test_scrypt_work_factor_above_limit_is_refused_quickly(tmp_path: Path) -> None:
    # Written at factor 4, then the stanza claims 23: reading must refuse before deriving (2^23 would take
    # gigabytes and minutes), so this returns at once with a header error, not a wrong-key error.
    encrypted = age.encrypt_bytes(b"x", [age.ScryptRecipient("a long passphrase", work_factor=4)])
    stanza_end = encrypted.index(b"\n", encrypted.index(b"-> scrypt "))
    assert encrypted[stanza_end - 2 : stanza_end] == b" 4"
    path = tmp_path / "meta.json.enc"
    path.write_bytes(encrypted[: stanza_end - 1] + b"23" + encrypted[stanza_end:])
    result = run("decrypt", str(path), "-o", str(tmp_path / "meta.json"), env={"SYNCO_KEY": "a long passphrase"})
    message = assert_one_line_error(result, "damaged header", "work factor 23", "above the limit")
    assert "a long passphrase" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_damaged_header_is_reported(tmp_path: Path) -> None:
    page = tmp_path / "meta.json.enc"
    page.write_bytes(b"<html><body>404</body></html>\n")
    result = run("decrypt", "--key", IDENTITY.to_string(), str(page), "-o", str(tmp_path / "meta.json"))
    assert_one_line_error(result, "damaged header")
    assert not (tmp_path / "meta.json").exists()


def test_missing_key_and_missing_file(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["decrypt", str(tmp_path / "nothing.enc")], env={"SYNCO_KEY": ""})
    assert result.exit_code == 1
    assert "no key" in result.output
    result = runner.invoke(cli, ["decrypt", "--key", IDENTITY.to_string(), str(tmp_path / "nothing.enc")])
    assert result.exit_code == 1
    assert "cannot read" in result.output
    assert IDENTITY.to_string() not in result.output


def test_malformed_identity_is_one_line_without_the_key(artifact: Path) -> None:
    broken = IDENTITY.to_string()[:-3] + "QQQ"
    message = assert_one_line_error(run("decrypt", "--key", broken, str(artifact)), "the key is mistyped")
    assert broken not in message
