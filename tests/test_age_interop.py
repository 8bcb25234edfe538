"""Interoperability with the reference ``age`` command (Debian package ``age``).

Files synco encrypts must open with ``age -d`` and files ``age -e`` writes must open with synco, for both
X25519 keys and scrypt passphrases. ``age`` reads passphrases only from the terminal, so those cases run it
under a pseudo-terminal and answer its prompts.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
from pathlib import Path

import pytest

from synco_core import age
from synco_core.age.stream import CHUNK_SIZE
from synco_core.testing.services import require_tool

LENGTHS = [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 1234]


@pytest.fixture(scope="module", autouse=True)
def age_binary() -> str:
    require_tool("age-keygen", "age")
    return require_tool("age", "age")


def run_with_terminal(argv: list[str], passphrase: str, timeout: float = 60.0) -> int:
    """Run ``argv`` on a new pseudo-terminal, typing ``passphrase`` at each passphrase prompt; its exit status."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child only execs
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    transcript = b""
    answered = 0
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                os.kill(pid, 9)
                raise AssertionError(f"{argv[0]} did not finish; terminal said {transcript!r}")
            try:
                data = os.read(fd, 1024)
            except OSError:  # EIO: the child closed the terminal and exited.
                break
            if not data:
                break
            transcript += data
            # Answer each prompt once, when it has been printed in full (it ends with a colon and a space).
            if transcript.lower().count(b"passphrase") > answered and transcript.rstrip().endswith(b":"):
                os.write(fd, passphrase.encode() + b"\n")
                answered += 1
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.parametrize("length", LENGTHS)
def test_synco_x25519_file_opens_with_age(tmp_path: Path, length: int) -> None:
    identity = age.generate_identity()
    data = os.urandom(length)
    (tmp_path / "key.txt").write_text(identity.to_string() + "\n")
    encrypted = tmp_path / "data.age"
    with encrypted.open("wb") as raw, age.encrypt_writer(raw, [identity.recipient()]) as writer:
        writer.write(data)
    result = subprocess.run(
        ["age", "-d", "-i", str(tmp_path / "key.txt"), str(encrypted)], capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == data


def test_synco_multi_recipient_file_opens_with_age(tmp_path: Path) -> None:
    first, second = age.generate_identity(), age.generate_identity()
    encrypted = tmp_path / "data.age"
    encrypted.write_bytes(age.encrypt_bytes(b"for two", [first.recipient(), second.recipient()]))
    (tmp_path / "key.txt").write_text(second.to_string() + "\n")
    result = subprocess.run(["age", "-d", "-i", str(tmp_path / "key.txt"), str(encrypted)], capture_output=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"for two"


@pytest.mark.parametrize("length", LENGTHS)
def test_age_x25519_file_opens_with_synco(tmp_path: Path, length: int) -> None:
    keygen = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True)
    secret = next(line for line in keygen.stdout.splitlines() if line.startswith("AGE-SECRET-KEY-1"))
    public = next(line.split(": ")[1] for line in keygen.stdout.splitlines() if line.startswith("# public key"))
    identity = age.X25519Identity.from_string(secret)
    # Our public key derivation and bech32 encoding must agree with age-keygen's.
    assert identity.recipient().to_string() == public
    data = os.urandom(length)
    plain = tmp_path / "plain"
    plain.write_bytes(data)
    subprocess.run(["age", "-r", public, "-o", str(tmp_path / "data.age"), str(plain)], check=True)
    with (tmp_path / "data.age").open("rb") as raw, age.decrypt_reader(raw, [age.parse_identity(secret)]) as reader:
        assert reader.read() == data


def test_synco_scrypt_file_opens_with_age(tmp_path: Path) -> None:
    data = os.urandom(CHUNK_SIZE + 10)
    encrypted = tmp_path / "data.age"
    # A low work factor keeps the test fast; age accepts any factor up to its own limit.
    encrypted.write_bytes(age.encrypt_bytes(data, [age.ScryptRecipient("tr0ub4dor & 3", work_factor=10)]))
    output = tmp_path / "out"
    status = run_with_terminal(["age", "-d", "-o", str(output), str(encrypted)], "tr0ub4dor & 3")
    assert status == 0
    assert output.read_bytes() == data


def test_synco_scrypt_file_with_wrong_passphrase_fails_in_age(tmp_path: Path) -> None:
    encrypted = tmp_path / "data.age"
    encrypted.write_bytes(age.encrypt_bytes(b"x", [age.ScryptRecipient("right", work_factor=10)]))
    status = run_with_terminal(["age", "-d", "-o", str(tmp_path / "out"), str(encrypted)], "wrong")
    assert status != 0


def test_age_scrypt_file_opens_with_synco(tmp_path: Path) -> None:
    # age always uses its default work factor (18) here: this is the one test that pays a full derivation.
    data = os.urandom(2 * CHUNK_SIZE)
    plain = tmp_path / "plain"
    plain.write_bytes(data)
    encrypted = tmp_path / "data.age"
    status = run_with_terminal(["age", "-p", "-o", str(encrypted), str(plain)], "correct horse battery")
    assert status == 0
    assert b"-> scrypt " in encrypted.read_bytes()[:100]
    assert age.decrypt_bytes(encrypted.read_bytes(), [age.parse_identity("correct horse battery")]) == data
    with pytest.raises(age.NoIdentityMatchError):
        age.decrypt_bytes(encrypted.read_bytes(), [age.ScryptIdentity("wrong horse battery")])
