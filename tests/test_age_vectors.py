"""The C2SP CCTV age test vectors (tests/data/age-cctv): every applicable vector, one test each.

Success vectors must decrypt to the stated SHA-256; failure vectors must fail with the matching error class.
Vectors for features synco does not implement (ASCII armor, post-quantum and plugin recipients) must be
refused with an age error: such a file is never decrypted, nor half read.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from synco_core.age import (
    AgeError,
    HeaderError,
    HMACError,
    Identity,
    NoIdentityMatchError,
    PayloadError,
    ScryptIdentity,
    X25519Identity,
    decrypt_reader,
)

VECTORS = Path(__file__).parent / "data" / "age-cctv"

EXPECTED_ERRORS: dict[str, type[AgeError]] = {
    "no match": NoIdentityMatchError,
    "HMAC failure": HMACError,
    "header failure": HeaderError,
    "payload failure": PayloadError,
}


@dataclass
class Vector:
    name: str
    expect: str = ""
    payload_sha256: str | None = None
    identities: list[str] = field(default_factory=list)
    passphrases: list[str] = field(default_factory=list)
    armored: bool = False
    compressed: bool = False
    body: bytes = b""


def load_vector(path: Path) -> Vector:
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n\n")
    vector = Vector(path.name)
    for line in head.decode("utf-8").splitlines():
        key, _, value = line.partition(": ")
        if key == "expect":
            vector.expect = value
        elif key == "payload":
            vector.payload_sha256 = value
        elif key == "identity":
            vector.identities.append(value)
        elif key == "passphrase":
            vector.passphrases.append(value)
        elif key == "armored":
            vector.armored = value == "yes"
        elif key == "compressed":
            vector.compressed = value == "zlib"
    vector.body = zlib.decompress(body) if vector.compressed else body
    return vector


def vector_paths() -> list[Path]:
    return sorted(p for p in VECTORS.iterdir() if p.name not in ("LICENSE", "SOURCE.md"))


def unsupported(vector: Vector) -> str | None:
    if vector.armored or vector.name.startswith("armor_"):
        return "ASCII armor is not implemented (synco artifacts are binary)"
    if any(i.startswith("AGE-SECRET-KEY-PQ-") for i in vector.identities) or vector.name.startswith("hybrid"):
        return "post-quantum (mlkem768x25519) recipients are not implemented"
    if any(i.startswith("AGE-PLUGIN-") for i in vector.identities):
        return "plugin recipients are not implemented"
    return None


def test_every_vector_is_present() -> None:
    # The suite is only as good as its vectors: guard against an accidental deletion or empty copy.
    assert len(vector_paths()) == 143
    assert (VECTORS / "LICENSE").is_file()


@pytest.mark.parametrize("path", vector_paths(), ids=lambda p: p.name)
def test_vector(path: Path) -> None:
    vector = load_vector(path)
    def decrypt() -> bytes:
        identities: list[Identity] = [X25519Identity.from_string(i) for i in vector.identities]
        identities += [ScryptIdentity(p) for p in vector.passphrases]
        with decrypt_reader(io.BytesIO(vector.body), identities) as reader:
            return reader.read()

    if unsupported(vector):
        # Not implemented on purpose: refused with one clear error, whatever the vector expects.
        with pytest.raises(AgeError) as refused:
            decrypt()
        assert "\n" not in str(refused.value)
        return

    if vector.expect == "success":
        assert hashlib.sha256(decrypt()).hexdigest() == vector.payload_sha256
        return
    error = EXPECTED_ERRORS[vector.expect]
    with pytest.raises(AgeError) as caught:
        decrypt()
    # Exact class, not a subclass: an HMAC failure is a HeaderError too, but a header failure must not
    # be reported as an HMAC mismatch, and vice versa.
    assert type(caught.value) is error, f"{type(caught.value).__name__}: {caught.value}"
    assert "\n" not in str(caught.value)
