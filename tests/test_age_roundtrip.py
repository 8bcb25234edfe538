"""Round trips and tamper detection of synco's age implementation (property tests with hypothesis).

Lengths around the 64 KiB chunk boundary matter most: the final chunk may be full, and an empty final
chunk is only allowed for an empty payload, so 0, 1, 65535, 65536, 65537 and multiples of 64 KiB are
always tried besides random lengths.
"""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from synco_core import age
from synco_core.age import (
    AgeError,
    HeaderError,
    HMACError,
    NoIdentityMatchError,
    PayloadError,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    X25519Recipient,
)
from synco_core.age.stream import CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, TAG_SIZE

IDENTITY = age.generate_identity()
RECIPIENT = IDENTITY.recipient()
EDGE_LENGTHS = [0, 1, 65535, 65536, 65537, 2 * CHUNK_SIZE, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 1]

lengths = st.one_of(st.sampled_from(EDGE_LENGTHS), st.integers(0, 4 * CHUNK_SIZE + 100))
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def payload(length: int) -> bytes:
    return os.urandom(length)


def header_length(data: bytes) -> int:
    """Bytes of header plus payload nonce at the start of an age file."""
    return data.index(b"\n---") + len(b"\n--- ") + 43 + 1 + 16


@pytest.mark.parametrize("length", EDGE_LENGTHS)
def test_edge_lengths_round_trip_and_chunk_layout(length: int) -> None:
    data = payload(length)
    encrypted = age.encrypt_bytes(data, [RECIPIENT])
    assert age.decrypt_bytes(encrypted, [IDENTITY]) == data
    # The payload is exactly ceil(n / 64 KiB) chunks (at least one) with a 16-byte tag each.
    chunks = max(1, -(-length // CHUNK_SIZE))
    assert len(encrypted) - header_length(encrypted) == length + 16 * chunks


@FAST
@given(length=lengths, write_size=st.integers(1, 3 * CHUNK_SIZE), read_size=st.integers(1, 3 * CHUNK_SIZE))
def test_streaming_round_trip_any_write_and_read_sizes(length: int, write_size: int, read_size: int) -> None:
    data = payload(length)
    out = io.BytesIO()
    with age.encrypt_writer(out, [RECIPIENT]) as writer:
        for start in range(0, length, write_size):
            assert writer.write(memoryview(data)[start : start + write_size]) == min(write_size, length - start)
    assert not out.closed
    out.seek(0)
    parts = []
    with age.decrypt_reader(out, [IDENTITY]) as reader:
        while True:
            part = reader.read(read_size)
            if not part:
                break
            assert len(part) <= read_size
            parts.append(part)
    assert b"".join(parts) == data


@FAST
@given(length=lengths, size=st.integers(1, 2 * CHUNK_SIZE))
def test_readinto_and_read1(length: int, size: int) -> None:
    data = payload(length)
    encrypted = age.encrypt_bytes(data, [RECIPIENT])
    reader = age.decrypt_reader(io.BytesIO(encrypted), [IDENTITY])
    buffer = bytearray(size)
    received = bytearray()
    while count := reader.readinto(buffer):
        received += buffer[:count]
    assert bytes(received) == data
    reader = age.decrypt_reader(io.BytesIO(encrypted), [IDENTITY])
    received = bytearray()
    while part := reader.read1(size):
        assert len(part) <= min(size, CHUNK_SIZE)
        received += part
    assert bytes(received) == data


# Where the flip/cut lands is drawn as an offset and taken modulo the file length (negative counts from
# the end), so explicit examples can name the spots that matter at each boundary length: the first payload
# byte, the last byte, and the start of the final chunk (a cut there leaves only authentic, non-final chunks).
offsets = st.integers(-5 * ENCRYPTED_CHUNK_SIZE, 5 * ENCRYPTED_CHUNK_SIZE)
BOUNDARY_LENGTHS = [0, 1, 65535, 65536, 65537, 2 * CHUNK_SIZE]
HEADER_LENGTH = header_length(age.encrypt_bytes(b"", [RECIPIENT]))


def final_chunk_size(length: int) -> int:
    """Bytes of the sealed final chunk for a plaintext of ``length`` (an empty payload has one empty chunk)."""
    return (length - CHUNK_SIZE * max(0, -(-length // CHUNK_SIZE) - 1)) + TAG_SIZE


def boundary_examples(*offsets_for: Callable[[int], int]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """An ``@example`` for every boundary length and every offset computed from it."""

    def decorate(test: Callable[..., None]) -> Callable[..., None]:
        for length in BOUNDARY_LENGTHS:
            for offset_for in offsets_for:
                test = example(length=length, offset=offset_for(length), bit=0)(test)
        return test

    return decorate


@FAST
@boundary_examples(lambda n: HEADER_LENGTH, lambda n: -1, lambda n: -final_chunk_size(n))
@given(length=lengths, offset=offsets, bit=st.integers(0, 7))
def test_any_flipped_byte_is_detected(length: int, offset: int, bit: int) -> None:
    encrypted = bytearray(age.encrypt_bytes(payload(length), [RECIPIENT]))
    encrypted[offset % len(encrypted)] ^= 1 << bit
    with pytest.raises(AgeError):
        age.decrypt_bytes(bytes(encrypted), [IDENTITY])


@FAST
@boundary_examples(lambda n: -1, lambda n: -TAG_SIZE, lambda n: -final_chunk_size(n), lambda n: HEADER_LENGTH)
@given(length=lengths, offset=offsets, bit=st.just(0))
def test_any_truncation_is_detected(length: int, offset: int, bit: int) -> None:
    encrypted = age.encrypt_bytes(payload(length), [RECIPIENT])
    cut = offset % len(encrypted)
    with pytest.raises(AgeError):
        age.decrypt_bytes(encrypted[:cut], [IDENTITY])


def test_boundary_examples_hit_the_chunk_boundaries() -> None:
    # Guards the examples above: the final-chunk offset must land exactly on a chunk start.
    for length in BOUNDARY_LENGTHS:
        size = len(age.encrypt_bytes(payload(length), [RECIPIENT]))
        start_of_final = size - final_chunk_size(length)
        assert (start_of_final - HEADER_LENGTH) % ENCRYPTED_CHUNK_SIZE == 0
    assert final_chunk_size(0) == TAG_SIZE and final_chunk_size(65537) == 1 + TAG_SIZE
    assert final_chunk_size(2 * CHUNK_SIZE) == ENCRYPTED_CHUNK_SIZE


@FAST
@given(length=lengths, extra=st.binary(min_size=1, max_size=ENCRYPTED_CHUNK_SIZE + 1))
def test_trailing_data_is_detected(length: int, extra: bytes) -> None:
    encrypted = age.encrypt_bytes(payload(length), [RECIPIENT])
    with pytest.raises(PayloadError):
        age.decrypt_bytes(encrypted + extra, [IDENTITY])


def test_truncated_payload_raises_payload_error_only_at_the_end() -> None:
    data = payload(3 * CHUNK_SIZE)
    encrypted = age.encrypt_bytes(data, [RECIPIENT])
    # Drop the final chunk exactly: every remaining chunk is authentic, only the end is missing.
    reader = age.decrypt_reader(io.BytesIO(encrypted[:-(CHUNK_SIZE + 16)]), [IDENTITY])
    assert reader.read(2 * CHUNK_SIZE) == data[: 2 * CHUNK_SIZE]
    with pytest.raises(PayloadError, match="final chunk is missing"):
        reader.read(1)


def test_chunk_reordering_is_detected() -> None:
    encrypted = age.encrypt_bytes(payload(3 * CHUNK_SIZE + 5), [RECIPIENT])
    start = header_length(encrypted)
    first = encrypted[start : start + ENCRYPTED_CHUNK_SIZE]
    second = encrypted[start + ENCRYPTED_CHUNK_SIZE : start + 2 * ENCRYPTED_CHUNK_SIZE]
    swapped = encrypted[:start] + second + first + encrypted[start + 2 * ENCRYPTED_CHUNK_SIZE :]
    with pytest.raises(PayloadError):
        age.decrypt_bytes(swapped, [IDENTITY])


def test_wrong_key_and_header_errors() -> None:
    encrypted = age.encrypt_bytes(b"secret", [RECIPIENT])
    with pytest.raises(NoIdentityMatchError, match="does not open"):
        age.decrypt_bytes(encrypted, [age.generate_identity()])
    with pytest.raises(NoIdentityMatchError):
        age.decrypt_bytes(encrypted, [ScryptIdentity("password")])
    with pytest.raises(HeaderError, match="not an age file"):
        age.decrypt_bytes(b"<html>not found</html>\n", [IDENTITY])
    with pytest.raises(HeaderError, match="not an age file"):
        age.decrypt_bytes(b"\x89PNG" + bytes(range(256)) * 100, [IDENTITY])
    with pytest.raises(HeaderError, match="truncated"):
        age.decrypt_bytes(b"age-encryption.org/v1\n-> X25519 abc", [IDENTITY])
    with pytest.raises(HeaderError, match="empty"):
        age.decrypt_bytes(b"", [IDENTITY])
    mac_at = encrypted.index(b"\n--- ") + 5
    tampered = encrypted[:mac_at] + (b"A" if encrypted[mac_at:mac_at + 1] != b"A" else b"B") + encrypted[mac_at + 1 :]
    with pytest.raises((HMACError, HeaderError)):
        age.decrypt_bytes(tampered, [IDENTITY])


def test_header_mac_covers_the_stanzas() -> None:
    encrypted = age.encrypt_bytes(b"secret", [RECIPIENT, age.generate_identity().recipient()])
    first = encrypted.index(b"\n-> ")
    second = encrypted.index(b"\n-> ", first + 1) + 1
    mac_line = encrypted.index(b"\n---") + 1
    dropped = encrypted[:second] + encrypted[mac_line:]
    assert age.decrypt_bytes(encrypted, [IDENTITY]) == b"secret"
    # Dropping the second recipient's stanza keeps the first one usable, so only the MAC can notice.
    with pytest.raises(HMACError):
        age.decrypt_bytes(dropped, [IDENTITY])


def test_multiple_recipients_and_identities() -> None:
    other = age.generate_identity()
    encrypted = age.encrypt_bytes(b"both", [RECIPIENT, other.recipient()])
    assert age.decrypt_bytes(encrypted, [other]) == b"both"
    assert age.decrypt_bytes(encrypted, [age.generate_identity(), IDENTITY]) == b"both"


def test_scrypt_round_trip_and_limits() -> None:
    encrypted = age.encrypt_bytes(b"pass", [ScryptRecipient("correct horse", work_factor=4)])
    assert b"-> scrypt " in encrypted and encrypted.count(b"\n-> ") == 1
    assert age.decrypt_bytes(encrypted, [ScryptIdentity("correct horse")]) == b"pass"
    assert age.decrypt_bytes(encrypted, [age.parse_identity("correct horse")]) == b"pass"
    with pytest.raises(NoIdentityMatchError):
        age.decrypt_bytes(encrypted, [ScryptIdentity("wrong horse")])
    with pytest.raises(HeaderError, match="above the limit"):
        age.decrypt_bytes(encrypted, [ScryptIdentity("correct horse", max_work_factor=3)])
    with pytest.raises(ValueError, match="only recipient"):
        age.encrypt_bytes(b"", [ScryptRecipient("a", 4), RECIPIENT])
    with pytest.raises(ValueError):
        age.encrypt_bytes(b"", [])


def test_key_strings_round_trip_and_parse() -> None:
    text = IDENTITY.to_string()
    assert text.startswith("AGE-SECRET-KEY-1") and text.isupper()
    assert RECIPIENT.to_string().startswith("age1")
    assert X25519Identity.from_string(text).to_string() == text
    assert X25519Identity.from_string(text.lower()).to_string() == text
    assert X25519Recipient.from_string(RECIPIENT.to_string()) == RECIPIENT
    assert isinstance(age.parse_identity(text), X25519Identity)
    assert age.recipient_for_key(text) == RECIPIENT
    assert isinstance(age.recipient_for_key("a passphrase", work_factor=5), ScryptRecipient)
    assert text not in repr(IDENTITY)
    broken = text[:-1] + ("Q" if text[-1] != "Q" else "P")
    with pytest.raises(AgeError, match="the key is mistyped") as caught:
        age.parse_identity(broken)
    assert broken not in str(caught.value)
    with pytest.raises(AgeError, match="post-quantum"):
        age.parse_identity("AGE-SECRET-KEY-PQ-1ABC")
    with pytest.raises(AgeError):
        X25519Recipient.from_string("age1notakey")


def test_known_key_pair() -> None:
    # The identity/recipient pair of the CCTV vectors pins the bech32 encoding and the public key derivation.
    identity = X25519Identity.from_string("AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0")
    assert identity.to_string() == "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0"
    recipient = identity.recipient().to_string()
    assert recipient.startswith("age1") and len(recipient) == 62
    assert X25519Recipient.from_string(recipient) == identity.recipient()


def test_is_age_header() -> None:
    assert age.is_age_header(age.encrypt_bytes(b"", [RECIPIENT])[:64])
    assert age.is_age_header(age.AGE_MAGIC + b"\n")
    assert not age.is_age_header(b"age-encryption.org/v1")
    assert not age.is_age_header(b"<!DOCTYPE html>")


def test_writer_semantics() -> None:
    out = io.BytesIO()
    writer = age.encrypt_writer(out, [RECIPIENT])
    assert writer.writable() and not writer.readable()
    writer.write(b"x" * 10)
    writer.close()
    writer.close()  # closing twice must not write a second final chunk
    assert not out.closed
    assert age.decrypt_bytes(out.getvalue(), [IDENTITY]) == b"x" * 10
    with pytest.raises(ValueError):
        writer.write(b"more")


def test_writer_failing_block_leaves_a_truncated_file() -> None:
    out = io.BytesIO()
    with pytest.raises(RuntimeError), age.encrypt_writer(out, [RECIPIENT]) as writer:
        writer.write(b"y" * (2 * CHUNK_SIZE + 3))
        raise RuntimeError("dump failed")
    with pytest.raises(PayloadError):
        age.decrypt_bytes(out.getvalue(), [IDENTITY])


def test_abandoned_writer_is_not_sealed_by_garbage_collection() -> None:
    out = io.BytesIO()
    writer = age.encrypt_writer(out, [RECIPIENT])
    writer.write(b"z" * 100)
    del writer
    with pytest.raises(PayloadError):
        age.decrypt_bytes(out.getvalue(), [IDENTITY])


def test_reader_does_not_close_input_and_reads_from_pipe_like_streams() -> None:
    data = payload(2 * CHUNK_SIZE + 7)
    encrypted = age.encrypt_bytes(data, [RECIPIENT])

    class Trickle(io.RawIOBase):
        """Returns at most 1000 bytes per read, like a socket, to exercise short reads."""

        def __init__(self, content: bytes) -> None:
            self._inner = io.BytesIO(content)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            chunk = self._inner.read(min(len(buffer), 1000))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    source = io.BufferedReader(Trickle(encrypted), buffer_size=512)
    with age.decrypt_reader(source, [IDENTITY]) as reader:
        assert reader.readable()
        assert reader.read() == data
    assert not source.closed


class GeneratedSource(io.RawIOBase):
    """``size`` bytes produced on the fly from a counter, so the plaintext never exists in memory whole."""

    def __init__(self, size: int) -> None:
        self._left = size
        self._block = bytes(range(256)) * 256

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self._left, len(self._block))
        buffer[:count] = self._block[:count]
        self._left -= count
        return count


class HashingSink(io.RawIOBase):
    """Counts and hashes what is written and keeps none of it."""

    def __init__(self) -> None:
        self.size = 0
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, buffer: memoryview) -> int:  # type: ignore[override]
        self.size += len(buffer)
        self.digest.update(buffer)
        return len(buffer)


def copy(source: io.RawIOBase | io.BufferedIOBase, sink: io.RawIOBase | io.BufferedIOBase) -> None:
    buffer = bytearray(256 * 1024)
    view = memoryview(buffer)
    while count := source.readinto(view):
        sink.write(view[:count])


def expected_digest(size: int) -> str:
    sink = HashingSink()
    copy(GeneratedSource(size), sink)
    return sink.digest.hexdigest()


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def test_streaming_memory_is_flat(tmp_path: Path, traced: None) -> None:
    # 32 MiB through encrypt and back through decrypt, with the ciphertext on disk and the plaintext made
    # and checked on the fly: whatever age holds beyond a few chunk buffers shows up in the traced peak.
    size = 32 * 1024 * 1024
    encrypted = tmp_path / "big.enc"
    tracemalloc.reset_peak()
    with encrypted.open("wb", buffering=0) as raw, age.encrypt_writer(raw, [RECIPIENT]) as writer:
        copy(GeneratedSource(size), writer)
    encrypt_peak = tracemalloc.get_traced_memory()[1]
    sink = HashingSink()
    tracemalloc.reset_peak()
    with encrypted.open("rb", buffering=0) as raw, age.decrypt_reader(raw, [IDENTITY]) as reader:
        copy(reader, sink)
    decrypt_peak = tracemalloc.get_traced_memory()[1]
    assert encrypted.stat().st_size > size
    assert sink.size == size and sink.digest.hexdigest() == expected_digest(size)
    assert encrypt_peak < 2 * 1024 * 1024, encrypt_peak
    assert decrypt_peak < 2 * 1024 * 1024, decrypt_peak


BECH32_CHARSET = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"


@settings(max_examples=300, deadline=None)
@given(position=st.integers(min_value=len("AGE-SECRET-KEY-1"), max_value=73), edit=st.sampled_from("cdi"),
       char=st.sampled_from(BECH32_CHARSET))
def test_any_typo_in_a_key_is_called_mistyped(position: int, edit: str, char: str) -> None:
    """A changed, dropped or added character anywhere in the key part says "mistyped", in words, never
    "bech32" or "checksum" jargon alone, and never repeats the key."""
    text = IDENTITY.to_string()
    position = min(position, len(text) - 1)
    if edit == "c":
        if text[position] == char:
            return
        typo = text[:position] + char + text[position + 1:]
    elif edit == "d":
        typo = text[:position] + text[position + 1:]
    else:
        typo = text[:position] + char + text[position:]
    with pytest.raises(AgeError) as caught:
        age.parse_identity(typo)
    message = str(caught.value)
    assert message.startswith("the key is mistyped:") and "bech32" not in message
    assert typo not in message and text not in message
