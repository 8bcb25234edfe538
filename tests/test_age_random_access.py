"""Random access into age payloads (``synco_core.age.random_access``), checked against the ``age`` command.

Files written by ``age -e`` are opened chunk range by chunk range and must give exactly the bytes of the
plaintext; files written here with the payload key recorded are opened the same way without their header.
Every way of handing over the wrong bytes (another chunk, a changed byte, a short range, the wrong final
flag) must fail authentication instead of returning plaintext.
"""

from __future__ import annotations

import io
import itertools
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synco_core import age
from synco_core.age.random_access import (
    ChunkDecryptor,
    chunk_count,
    chunk_span,
    encrypted_size,
    encrypted_span,
    merge_spans,
)
from synco_core.age.stream import CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE
from synco_core.testing.services import unavailable

SIZES = [0, 1, 1000, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 3 * CHUNK_SIZE + 1234]


@pytest.fixture(scope="module")
def age_keys() -> tuple[str, str]:
    """(secret, public) from ``age-keygen``."""
    if shutil.which("age") is None or shutil.which("age-keygen") is None:
        unavailable("the age command is not installed (apt-get install age)")
    keygen = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True)
    secret = next(line for line in keygen.stdout.splitlines() if line.startswith("AGE-SECRET-KEY-1"))
    public = next(line.split(": ")[1] for line in keygen.stdout.splitlines() if line.startswith("# public key"))
    return secret, public


def encrypt_with_age_cli(tmp_path: Path, data: bytes, public: str) -> bytes:
    plain = tmp_path / "plain"
    plain.write_bytes(data)
    out = tmp_path / "data.age"
    subprocess.run(["age", "-r", public, "-o", str(out), str(plain)], check=True)
    return out.read_bytes()


def ranges(size: int) -> list[tuple[int, int]]:
    """Ranges that start, end and cross chunk boundaries, plus the whole payload."""
    found = {(0, size), (0, min(size, 1)), (max(0, size - 1), min(size, 1))}
    for boundary in range(CHUNK_SIZE, size, CHUNK_SIZE):
        found |= {(boundary - 1, 2), (boundary, min(10, size - boundary)), (boundary - 5, 5)}
    return sorted((offset, length) for offset, length in found if offset + length <= size)


@pytest.mark.parametrize("size", SIZES)
def test_ranges_of_an_age_cli_file(tmp_path: Path, age_keys: tuple[str, str], size: int) -> None:
    secret, public = age_keys
    data = os.urandom(size)
    encrypted = encrypt_with_age_cli(tmp_path, data, public)
    key, offset = age.open_payload(io.BytesIO(encrypted), [age.parse_identity(secret)])
    # The offset is where age's payload really starts: the header and nonce make up the rest of the size.
    assert encrypted_size(size, offset) == len(encrypted)
    decryptor = ChunkDecryptor(key, size, offset)
    calls: list[tuple[int, int]] = []

    def fetch(start: int, stop: int) -> bytes:
        calls.append((start, stop))
        return encrypted[start:stop]

    for plain_offset, length in ranges(size):
        calls.clear()
        assert decryptor.read(plain_offset, length, fetch) == data[plain_offset : plain_offset + length]
        first, last = chunk_span(plain_offset, length)
        # One fetch, of exactly the chunks needed.
        assert calls == [encrypted_span(first, last, offset, size)]
        assert calls[0][1] - calls[0][0] <= (last - first + 1) * ENCRYPTED_CHUNK_SIZE


@pytest.mark.parametrize("size", [0, 5, CHUNK_SIZE, 2 * CHUNK_SIZE + 7])
def test_own_file_opens_by_its_recorded_key_and_with_age(tmp_path: Path, age_keys: tuple[str, str],
                                                         size: int) -> None:
    """A writer that records its payload key (a pack) still writes a plain age file for the age command."""
    secret, _public = age_keys
    identity = age.parse_identity(secret)
    assert isinstance(identity, age.X25519Identity)
    data = os.urandom(size)
    raw = io.BytesIO()
    writer = age.encrypt_writer(raw, [identity.recipient()])
    offset = raw.tell()
    writer.write(data)
    writer.close()
    encrypted = raw.getvalue()
    decryptor = ChunkDecryptor(writer.payload_key, size, offset)
    for plain_offset, length in ranges(size):
        assert decryptor.read(plain_offset, length, lambda a, b: encrypted[a:b]) == \
            data[plain_offset : plain_offset + length]
    assert age.open_payload(io.BytesIO(encrypted), [identity]) == (writer.payload_key, offset)
    (tmp_path / "key.txt").write_text(secret + "\n")
    (tmp_path / "data.age").write_bytes(encrypted)
    result = subprocess.run(["age", "-d", "-i", str(tmp_path / "key.txt"), str(tmp_path / "data.age")],
                            capture_output=True, check=False)
    assert result.returncode == 0 and result.stdout == data


def _sealed(size: int) -> tuple[bytes, ChunkDecryptor, bytes]:
    identity = age.generate_identity()
    data = os.urandom(size)
    raw = io.BytesIO()
    writer = age.encrypt_writer(raw, [identity.recipient()])
    offset = raw.tell()
    writer.write(data)
    writer.close()
    return raw.getvalue(), ChunkDecryptor(writer.payload_key, size, offset), data


def test_wrong_bytes_never_decrypt() -> None:
    size = 3 * CHUNK_SIZE + 100
    encrypted, decryptor, data = _sealed(size)
    offset = decryptor.payload_offset
    start, stop = encrypted_span(1, 1, offset, size)
    assert decryptor.decrypt(1, encrypted[start:stop]) == data[CHUNK_SIZE : 2 * CHUNK_SIZE]
    # Chunk 2's bytes presented as chunk 1: the counter in the nonce differs.
    other_start, other_stop = encrypted_span(2, 2, offset, size)
    with pytest.raises(age.PayloadError, match="chunk 1 failed authentication"):
        decryptor.decrypt(1, encrypted[other_start:other_stop])
    changed = bytearray(encrypted[start:stop])
    changed[100] ^= 1
    with pytest.raises(age.PayloadError, match="failed authentication"):
        decryptor.decrypt(1, bytes(changed))
    with pytest.raises(age.PayloadError, match="truncated"):
        decryptor.decrypt(1, encrypted[start : stop - 1])
    # The final chunk must carry the final flag: a reader told the payload is longer rejects it.
    last_start, last_stop = encrypted_span(3, 3, offset, size)
    longer = ChunkDecryptor(decryptor.key, size + CHUNK_SIZE, offset)
    with pytest.raises(age.PayloadError):
        longer.decrypt(3, encrypted[last_start:last_stop])
    # ... and one told it is shorter finds that chunk 2 is not the final one.
    shorter = ChunkDecryptor(decryptor.key, 3 * CHUNK_SIZE, offset)
    with pytest.raises(age.PayloadError, match="chunk 2 failed authentication"):
        shorter.decrypt(2, encrypted[other_start:other_stop])
    with pytest.raises(age.PayloadError, match="outside"):
        decryptor.decrypt(4, b"")
    with pytest.raises(age.PayloadError, match="past the final chunk"):
        decryptor.decrypt(3, encrypted[last_start:last_stop] + b"x" * 17)
    with pytest.raises(age.PayloadError, match="missing"):
        decryptor.decrypt(0, b"")
    wrong_key = ChunkDecryptor(os.urandom(32), size, offset)
    with pytest.raises(age.PayloadError):
        wrong_key.decrypt(1, encrypted[start:stop])


def test_span_arithmetic_edges() -> None:
    assert chunk_count(0) == 1 and chunk_count(1) == 1 and chunk_count(CHUNK_SIZE) == 1
    assert chunk_count(CHUNK_SIZE + 1) == 2
    assert chunk_span(0, 0) == (0, 0)
    assert chunk_span(CHUNK_SIZE, 0) == (1, 1)
    assert chunk_span(CHUNK_SIZE - 1, 2) == (0, 1)
    assert encrypted_span(0, 0, 100, 0) == (100, 116)
    with pytest.raises(ValueError):
        encrypted_span(0, 1, 100, CHUNK_SIZE)
    with pytest.raises(ValueError):
        chunk_span(-1, 1)
    with pytest.raises(ValueError):
        ChunkDecryptor(b"short", 1)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 4 * CHUNK_SIZE + 3), data=st.data())
def test_any_range_reads_back(size: int, data: st.DataObject) -> None:
    encrypted, decryptor, plain = _sealed(size)
    offset = data.draw(st.integers(0, size))
    length = data.draw(st.integers(0, size - offset))
    assert decryptor.read(offset, length, lambda a, b: encrypted[a:b]) == plain[offset : offset + length]
    with pytest.raises(ValueError):
        decryptor.read(offset, size - offset + 1, lambda a, b: encrypted[a:b])


@pytest.mark.parametrize("size", [0, CHUNK_SIZE, 2 * CHUNK_SIZE])
def test_an_empty_read_at_the_end_reads_nothing(size: int) -> None:
    """At the end of a payload of whole chunks, an empty range falls in no chunk (found by the property above)."""
    encrypted, decryptor, _ = _sealed(size)
    calls: list[tuple[int, int]] = []

    def fetch(start: int, stop: int) -> bytes:
        calls.append((start, stop))
        return encrypted[start:stop]

    assert decryptor.read(size, 0, fetch) == b""
    # One fetch of the last chunk, which is authenticated like any other.
    last = max(0, size - 1) // CHUNK_SIZE
    assert calls == [encrypted_span(last, last, len(encrypted) - encrypted_size(size, 0), size)]
    with pytest.raises(ValueError):
        decryptor.read(size, 1, lambda a, b: encrypted[a:b])


@settings(max_examples=100, deadline=None)
@given(spans=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 5)).map(lambda p: (p[0], p[0] + p[1]))),
       gap=st.integers(0, 3))
def test_merged_spans_cover_exactly_what_was_asked_plus_small_gaps(spans: list[tuple[int, int]], gap: int) -> None:
    merged = merge_spans(spans, gap)
    wanted = {chunk for first, last in spans for chunk in range(first, last + 1)}
    covered = {chunk for first, last in merged for chunk in range(first, last + 1)}
    assert wanted <= covered
    # Sorted, apart by more than the gap, and nothing fetched that is not within a gap of a wanted chunk.
    assert all(later[0] > earlier[1] + 1 + gap for earlier, later in itertools.pairwise(merged))
    assert all(min(abs(chunk - other) for other in wanted) <= gap for chunk in covered)
