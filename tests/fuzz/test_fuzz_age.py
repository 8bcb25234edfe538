"""Fuzzing the age layer as a hostile server's files reach it: headers of any shape (stanzas, base64 bodies
and arguments of any length and alphabet, scrypt work factors of any text), then payloads of any bytes."""

from __future__ import annotations

import io

from fuzzing import FUZZ, only_synco_errors
from hypothesis import given
from hypothesis import strategies as st

from synco_core import age
from synco_core.age.header import b64encode, parse_header

IDENTITY = age.generate_identity()
RECIPIENT = IDENTITY.recipient()
#: Low, so that a stanza the fuzzer makes acceptable costs little to derive.
MAX_WORK_FACTOR = 6

args = st.one_of(
    st.sampled_from(
        [
            "X25519",
            "scrypt",
            "ssh-ed25519",
            "",
            "=",
            "A" * 43,
            "A" * 44,
            "AAAA=",
            "18",
            "6",
            "99",
            "0",
            "07",
            "-1",
            "1e3",
            b64encode(bytes(16)),
            b64encode(bytes(32)),
        ]
    ),
    st.binary(max_size=40).map(b64encode),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20),
)


@st.composite
def headers(draw: st.DrawFn) -> bytes:
    lines = [draw(st.sampled_from([b"age-encryption.org/v1", b"age-encryption.org/v2", b"", b"<html>"]))]
    for _ in range(draw(st.integers(0, 3))):
        words = [draw(st.sampled_from(["X25519", "scrypt", "other"])), *draw(st.lists(args, max_size=3))]
        lines.append(b"-> " + " ".join(words).encode())
        body = b64encode(draw(st.one_of(st.binary(max_size=80), st.sampled_from([bytes(32), bytes(31)]))))
        body_lines = [body[i : i + 64] for i in range(0, len(body), 64)] or [""]
        if len(body_lines[-1]) == 64:
            body_lines.append("")
        lines += [line.encode() for line in body_lines]
    lines.append(b"--- " + draw(args).encode())
    raw = b"\n".join(lines) + b"\n"
    return raw + draw(st.binary(max_size=120))


@FUZZ
@given(raw=headers(), noise=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=3))
def test_any_header_is_read_or_refused_in_one_line(raw, noise):
    damaged = bytearray(raw)
    for at, value in noise:
        if at < len(damaged):
            damaged[at] = value
    scrypt = age.ScryptIdentity("crafted-passphrase", max_work_factor=MAX_WORK_FACTOR)
    header = only_synco_errors(lambda: parse_header(io.BytesIO(bytes(damaged))))
    if not isinstance(header, Exception):
        only_synco_errors(lambda: IDENTITY.unwrap(header.stanzas))
        only_synco_errors(lambda: scrypt.unwrap(header.stanzas))
    only_synco_errors(lambda: age.decrypt_bytes(bytes(damaged), [IDENTITY, scrypt]))
    assert scrypt.derivations <= 1


@FUZZ
@given(plain=st.binary(max_size=200), cut=st.integers(0, 400), tail=st.binary(max_size=40), flip=st.integers(0, 400))
def test_any_payload_is_read_or_refused_in_one_line(plain, cut, tail, flip):
    """A valid header followed by a payload cut, extended or with a byte changed: refused in one line, or
    (untouched) read back as it was."""
    sealed = bytearray(age.encrypt_bytes(plain, [RECIPIENT]))
    changed = bytes(sealed[:cut] if cut < len(sealed) else sealed) + tail
    if flip < len(changed):
        changed = changed[:flip] + bytes([changed[flip] ^ 0x01]) + changed[flip + 1 :]
    result = only_synco_errors(lambda: age.decrypt_bytes(changed, [IDENTITY]))
    if not isinstance(result, Exception):
        assert result == plain
