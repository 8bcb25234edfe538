"""Fuzzing the private set's tar as receive extracts it (synco_core.receive.tarsafe): hostile member headers.

tarfile reads a member's extended header (a PAX header, a GNU long name or link) whole into memory and a
GNU sparse map entry by entry, before the member is handed to synco's checks: their size was bounded only
by the archive's declared size, which the server chooses (a 4 GiB PAX header of a zstd frame of a few
kilobytes). Sparse maps in their PAX 1.0 form also raised ValueError, not a TarError.
"""

from __future__ import annotations

import io
import tarfile
import tracemalloc
from pathlib import Path

import pytest
from fuzzing import FUZZ, only_synco_errors
from hypothesis import given
from hypothesis import strategies as st

from synco_core.receive.limits import NotDeclaredError
from synco_core.receive.tarheaders import MAX_EXTENDED_HEADER
from synco_core.receive.tarsafe import extract_stream

BLOCK = tarfile.BLOCKSIZE


class Stream(io.RawIOBase):
    """``head``, then ``filler`` repeated up to ``size`` bytes, made as it is read (nothing of it held)."""

    def __init__(self, head: bytes, size: int, filler: bytes = b"1 a=b\n") -> None:
        self._head, self._size, self._filler, self._at = head, size, filler, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        count = min(len(buffer), len(self._head) + self._size - self._at)
        if count <= 0:
            return 0
        data = bytearray()
        while len(data) < count:
            at = self._at + len(data)
            if at < len(self._head):
                data += self._head[at : at + count - len(data)]
            else:
                data += self._filler * ((count - len(data)) // len(self._filler) + 1)
        buffer[:count] = data[:count]
        self._at += count
        return count


def header(name: str, kind: bytes, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    return info.tobuf(format=tarfile.GNU_FORMAT)


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK])
def test_an_extended_header_is_read_only_up_to_its_bound(kind, tmp_path: Path):
    size = 64 * 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(NotDeclaredError, match="archive is damaged"):
            extract_stream(io.BufferedReader(Stream(header("x", kind, size), size + 4 * BLOCK)), tmp_path / "out")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * MAX_EXTENDED_HEADER, f"{peak} bytes held for a {size}-byte header"


def test_global_headers_do_not_add_up(tmp_path: Path):
    """Each PAX global header's records are kept for the rest of the archive: many, each under the bound,
    held them all."""
    archive = b""
    for first in range(0, 180_000, 60_000):
        records = b"".join(b"%d k%07d=v\n" % (len(b"k0000000=v\n") + 3, n) for n in range(first, first + 60_000))
        assert len(records) < MAX_EXTENDED_HEADER
        archive += header("g", tarfile.XGLTYPE, len(records)) + records + b"\0" * (-len(records) % BLOCK)
    with pytest.raises(NotDeclaredError, match="archive is damaged"):
        extract_stream(io.BytesIO(archive + b"\0" * 2 * BLOCK), tmp_path / "out")


def sparse_pax(headers: dict[str, str], body: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("a")
        info.size, info.pax_headers = len(body), headers
        tar.addfile(info, io.BytesIO(body))
    return out.getvalue()


SPARSE_10 = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "a", "GNU.sparse.realsize": "9"}


@pytest.mark.parametrize(
    "archive",
    [
        sparse_pax(SPARSE_10, b"x" * BLOCK),
        sparse_pax(SPARSE_10, b"99999999999\n" + b"0\n" * 250),
        sparse_pax({"GNU.sparse.map": "0,1," * 10, "GNU.sparse.size": "9"}, b"x"),
        header("a", tarfile.GNUTYPE_SPARSE, 0),
    ],
    ids=["pax-1.0-no-map", "pax-1.0-endless-map", "pax-0.1", "gnu"],
)
def test_sparse_members_are_refused_in_one_line(archive, tmp_path: Path):
    """No synco or Go serve writes sparse members; tarfile reads their maps without a bound (a GNU map's
    extension blocks, a PAX 1.0 map's count) and raised ValueError for a PAX 1.0 map it could not split."""
    with pytest.raises(NotDeclaredError, match="archive is damaged"):
        extract_stream(io.BytesIO(archive + b"\0" * 2 * BLOCK), tmp_path / "out")


def tar_of(members: list[tuple[str, bytes, dict[str, str], bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, pax, body in members:
            info = tarfile.TarInfo(name)
            info.type, info.pax_headers = kind, pax
            info.size = len(body) if kind in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
            info.linkname = body.decode("latin-1") if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
            tar.addfile(info, io.BytesIO(body))
    return out.getvalue()


names = st.one_of(st.sampled_from(["a", "b/c", "../x", "/abs", "a/", "l/x", ".", "a" * 300]), st.text(max_size=10))
kinds = st.sampled_from(
    [
        tarfile.REGTYPE,
        tarfile.DIRTYPE,
        tarfile.SYMTYPE,
        tarfile.LNKTYPE,
        tarfile.FIFOTYPE,
        tarfile.CHRTYPE,
        tarfile.CONTTYPE,
        b"Z",
    ]
)
pax = st.dictionaries(
    st.sampled_from(
        [
            "path",
            "linkpath",
            "size",
            "mtime",
            "uid",
            "GNU.sparse.major",
            "GNU.sparse.minor",
            "GNU.sparse.map",
            "hdrcharset",
            "comment",
        ]
    ),
    st.text(max_size=12),
    max_size=3,
)
members = st.lists(st.tuples(names, kinds, pax, st.binary(max_size=40)), max_size=4)


@FUZZ
@given(archive=members.map(tar_of), flips=st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), max_size=4))
def test_any_archive_is_extracted_or_refused_in_one_line(archive, flips, tmp_path_factory):
    damaged = bytearray(archive)
    for at, value in flips:
        if at < len(damaged):
            damaged[at] = value
    folder = tmp_path_factory.mktemp("set")
    only_synco_errors(lambda: extract_stream(io.BytesIO(bytes(damaged)), folder / "out"))
    assert [path.name for path in folder.iterdir()] == ["out"], "written beside the set's folder"


def test_a_pax_header_tarfile_cannot_decode_is_a_damaged_archive(tmp_path: Path):
    """tarfile decodes a PAX ``hdrcharset`` record as UTF-8 without a handler: a byte that is not raised
    UnicodeDecodeError (found by the fuzz test below), which no TarError handler took."""
    record = b"17 hdrcharset=\x80\n"
    archive = header("x", tarfile.XHDTYPE, len(record)) + record + b"\0" * (-len(record) % BLOCK)
    archive += header("a", tarfile.REGTYPE, 0) + b"\0" * 2 * BLOCK
    with pytest.raises(NotDeclaredError, match="archive is damaged"):
        extract_stream(io.BytesIO(archive), tmp_path / "out")
