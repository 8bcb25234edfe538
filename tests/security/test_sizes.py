"""Issue 14, item 5: nothing bigger than declared reaches memory or disk.

The meta declares each artifact's encrypted and plain sizes (``encryptedSizeBytes``, ``sizeBytes``,
``indexSizeBytes``); downloads, decryption and decompression stop at the first byte past them while the
stream flows, and a public file's body is cut off as soon as it passes the index's size. The bombs are
zstd frames of run-length blocks (a 128 KiB frame expands to 4 GiB); the receives that must not fill memory
or disk run in a child process whose address space or file size is capped, so a receiver that did not stop
would fail there instead of exhausting the machine.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard
from crafted_session import (
    CraftedServer,
    CraftedSession,
    Reply,
    child_env,
    endless,
    limited,
    receive_argv,
    rle,
    run_receive,
    tar_header,
    zstd_frame,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from synco_core import age
from synco_core.receive.limits import (
    UNDECLARED_INDEX_LIMIT,
    CappedReader,
    SizeExceededError,
    age_size_bound,
    encrypted_bound,
    zstd_size_bound,
)

GiB = 1 << 30
MiB = 1 << 20


def _child_receive(crafted: CraftedSession, url: str, target: Path, *, memory: int | None = None,
                   file_size: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(receive_argv(crafted.session_id, url, target), env=child_env(SYNCO_KEY=crafted.key),
                          preexec_fn=limited(memory, file_size), capture_output=True, text=True, timeout=240)


@pytest.mark.parametrize("declared", [64, None], ids=["declared", "undeclared"])
def test_an_index_bomb_stops_at_the_declared_size(crafted: CraftedSession,
                                                  crafted_server: Callable[..., CraftedServer],
                                                  tmp_path: Path, declared: int | None) -> None:
    """About 130 KB of index that expands to 4 GiB of (valid JSON) spaces: stopped, in 2 GiB of memory."""
    bomb = zstd_frame(rle(4 * GiB), b"{}")
    assert len(bomb) < 140_000
    crafted.ready(crafted.public_set(frame=bomb, indexSizeBytes=declared))
    result = _child_receive(crafted, crafted_server(crafted.web_root).url, tmp_path / "t", memory=2 * GiB)
    assert result.returncode == 1, result.stdout + result.stderr
    expected = (f"more than the {declared} bytes declared" if declared is not None
                else f"more than the {UNDECLARED_INDEX_LIMIT} bytes allowed when the meta declares no size")
    assert expected in result.stdout, result.stdout + result.stderr
    assert "MemoryError" not in result.stdout + result.stderr


def test_a_dump_bomb_stops_at_the_declared_size(crafted: CraftedSession, crafted_server: Callable[..., CraftedServer],
                                               tmp_path: Path) -> None:
    """65 KB that expand to 2 GiB: no more than the declared 65,536 bytes reach the disk (files capped at 32 MiB)."""
    crafted.ready(crafted.dump_set(frame=zstd_frame(rle(2 * GiB)), sizeBytes=65_536))
    target = tmp_path / "t"
    result = _child_receive(crafted, crafted_server(crafted.web_root).url, target, file_size=32 * MiB)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "more than the 65536 bytes declared" in result.stdout, result.stdout + result.stderr
    assert "File too large" not in result.stdout + result.stderr
    assert [p.name for p in target.iterdir() if p.name != ".synco-received.json"] == [], "no dump, no part file"


def test_a_tar_bomb_stops_at_the_declared_size(crafted: CraftedSession, crafted_server: Callable[..., CraftedServer],
                                              tmp_path: Path) -> None:
    member = tarfile.TarInfo("big.bin")
    member.size = 2 * GiB
    frame = zstd_frame(tar_header(member), rle(2 * GiB, b"\0"), rle(1024, b"\0"))
    crafted.ready(crafted.private_set(frame=frame, sizeBytes=10_240))
    target = tmp_path / "t"
    result = _child_receive(crafted, crafted_server(crafted.web_root).url, target, file_size=32 * MiB)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "more than the 10240 bytes declared" in result.stdout, result.stdout + result.stderr
    assert not (target / "files").exists() and not list(target.glob("files.synco-part"))


@pytest.mark.parametrize("declared", ["encrypted", "go"])
def test_an_artifact_longer_than_declared_is_cut_off_as_it_arrives(crafted: CraftedSession,
                                                                   crafted_server: Callable[..., CraftedServer],
                                                                   tmp_path: Path, declared: str) -> None:
    """A valid 64 MiB artifact whose meta says 4 KiB (or, Go-style, only a 4 KiB plain size): not downloaded."""
    plain = os.urandom(64 * MiB)
    if declared == "encrypted":
        dump = crafted.dump_set(plain, compress=False, encryptedSizeBytes=4096)
        expected = "more than the 4096 bytes declared"
    else:
        dump = crafted.dump_set(plain, compress=False, sizeBytes=4096, encryptedSizeBytes=None, sha256=None)
        expected = f"more than the {age_size_bound(4096)} bytes allowed for its declared plain size"
    crafted.ready(dump)
    server = crafted_server(crafted.web_root)
    target = tmp_path / "t"
    result = run_receive(crafted, server.url, target)
    assert result.exit_code == 1, result.output
    assert expected in result.output, result.output
    # A client that hangs up during the server's first write leaves nothing counted: 0 bytes sent.
    assert server.sent.get(f"/{crafted.session_id}/dump.sql.zst.enc", 0) < 24 * MiB, "the rest was never read"
    assert not list(target.glob("*.part")), "an artifact larger than declared is not kept to resume"


@pytest.mark.parametrize("length", [None, "honest"], ids=["no-content-length", "content-length"])
def test_a_public_file_body_past_its_size_is_cut_off(crafted: CraftedSession,
                                                     crafted_server: Callable[..., CraftedServer],
                                                     tmp_path: Path, length: str | None) -> None:
    total = 512 * MiB
    crafted.ready(crafted.public_set({"small.txt": {"sizeBytes": 10, "mTime": 1_700_000_000,
                                                    "publicUri": "small.txt"}}))
    server = crafted_server(crafted.web_root)
    server.reply("/small.txt", Reply(body=endless(total=total), length=total if length else None))
    target = tmp_path / "t"
    result = run_receive(crafted, server.url, target, "--jobs", "1")
    assert result.exit_code == 1, result.output
    assert "failed: small.txt" in result.output and "more than the 10 bytes declared" in result.output, result.output
    assert server.sent.get("/small.txt", 0) < 64 * MiB, "the body was not read to its end"
    assert not (target / "public" / "small.txt").exists()
    assert not list(target.rglob("*.synco-part"))
    assert "run the same command again" not in result.output


# ------------------------------------------------------------------------------------------ properties


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 300_000), st.booleans())
def test_the_derived_bounds_hold_for_real_artifacts(size: int, compress: bool) -> None:
    """What a Go session's artifact may take is never less than what a real one of that plain size takes."""
    plain = os.urandom(size)
    data = zstandard.ZstdCompressor(level=1).compress(plain) if compress else plain
    assert len(data) <= zstd_size_bound(size) or not compress
    encrypted = age.encrypt_bytes(data, [age.ScryptRecipient("p", work_factor=1)])
    assert len(encrypted) <= encrypted_bound(size, "zstd" if compress else None)


@given(st.integers(0, 5000), st.integers(0, 5000), st.integers(1, 3000))
def test_a_capped_reader_hands_out_no_byte_past_its_limit(size: int, limit: int, read_size: int) -> None:
    reader = CappedReader(io.BytesIO(b"x" * size), limit, "stream")
    handed = 0
    try:
        while chunk := reader.read(read_size):
            handed += len(chunk)
    except SizeExceededError:
        assert size > limit
    else:
        assert size <= limit and handed == size
    assert handed <= limit
