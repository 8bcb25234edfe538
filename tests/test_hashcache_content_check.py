"""serve's hash cache (format 4): each record's check covers its kept content too, so a record read from the
cache is whole, content included, and an unchanged small file is taken with one hash (the check), not two
(the third format's check of the fields, then a SHA-256 of the content).

The checks of the cache's other guarantees (a damaged record never used, the byte match deciding as the parsed
records do) are in test_hashcache_bytes_match.py and test_serve_content_cache.py.
"""

from __future__ import annotations

import hashlib
import os
import random
import struct
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from synco_core.index import hashcache
from synco_core.index.hashcache import HashCache


def _files(folder: Path, rng: random.Random, count: int = 30) -> list[Path]:
    paths = [folder / f"{number:03d}.jpg" for number in range(count)]
    for path in paths:
        path.write_bytes(rng.randbytes(rng.randint(1, 300)))
    return paths


def _first_serve(cache: Path, paths: list[Path]) -> None:
    serving = HashCache(cache)
    for path in paths:
        content = path.read_bytes()
        serving.record(path.name, os.lstat(path), hashlib.sha256(content).hexdigest(), content)
    serving.commit()


def _contents(data: bytes) -> list[tuple[str, int, int]]:
    """(name, start, end) of every record's content in a cache file."""
    found = []
    at = len(hashcache.HEADER)
    while at < len(data):
        *_, path_length, content_length = hashcache.RECORD.unpack_from(data, at)
        name_at = at + hashcache.RECORD.size
        found.append((data[name_at:name_at + path_length].decode(), name_at + path_length,
                      name_at + path_length + content_length))
        at = name_at + path_length + content_length
    return found


@pytest.mark.parametrize("seed", range(8))
def test_a_record_is_read_only_with_its_content_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      seed: int) -> None:
    """One bit of any record's content flipped: the records read from the cache (the parsed way every lookup
    but the byte match goes) end right before that record, as for damage in any other field."""
    monkeypatch.setattr(hashcache, "RACY_SECONDS", -60.0)
    rng = random.Random(seed)
    folder = tmp_path / "files"
    folder.mkdir()
    paths = _files(folder, rng)
    cache = tmp_path / "cache" / "set.bin"
    _first_serve(cache, paths)
    whole = cache.read_bytes()
    records = _contents(whole)
    for number in rng.sample(range(len(records)), 6):
        name, start, end = records[number]
        data = bytearray(whole)
        data[rng.randrange(start, end)] ^= 1 << rng.randrange(8)
        cache.write_bytes(data)
        handle = HashCache._open_old(cache)
        assert handle is not None
        read = [entry[0] for entry in hashcache._OldRecords(cache, handle)]
        assert read == [record[0] for record in records[:number]], name


def test_an_unchanged_file_is_taken_without_a_sha256_of_its_content(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The cost the fourth format saves: taking the unchanged files of a set from the cache computes no SHA-256
    (the record's one check covers the content), and hands out each file's content and hash as they are."""
    monkeypatch.setattr(hashcache, "RACY_SECONDS", -60.0)
    folder = tmp_path / "files"
    folder.mkdir()
    paths = _files(folder, random.Random(5), 200)
    cache = tmp_path / "cache" / "set.bin"
    _first_serve(cache, paths)
    old = cache.read_bytes()
    serving = HashCache(cache)
    infos = [(path.name, os.lstat(path), os.fspath(path)) for path in paths]
    hashed: list[str] = []

    def watch(_frame: FrameType, event: str, arg: Any) -> None:
        # C functions only (blake2b, the check, is a type, not one): OpenSSL's and hashlib's SHA-256 are.
        if event == "c_call" and "sha256" in getattr(arg, "__name__", ""):
            hashed.append(arg.__name__)

    taken = []
    sys.setprofile(watch)
    try:
        for name, info, source in infos:
            taken.append(serving.take_content(name, info, source))
    finally:
        sys.setprofile(None)
    serving.commit()
    assert hashed == []
    assert taken == [(hashlib.sha256(path.read_bytes()).hexdigest(), path.read_bytes()) for path in paths]
    assert cache.read_bytes() == old


def test_a_cache_of_the_third_format_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A record of the third format (its check over the fields and path alone) that matches the file in every
    field is not used: its content was never covered by a check of the record, so the cache starts over."""
    monkeypatch.setattr(hashcache, "RACY_SECONDS", -60.0)
    folder = tmp_path / "files"
    folder.mkdir()
    path = folder / "a.jpg"
    path.write_bytes(b"the file as it is")
    info = os.lstat(path)
    stale = b"other bytes, same len"[:info.st_size]
    name = b"a.jpg"
    fields = struct.pack("<QqqQQ32sII", info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev,
                         hashlib.sha256(stale).digest(), len(name), len(stale)) + name
    cache = tmp_path / "cache" / "set.bin"
    cache.parent.mkdir(mode=0o700)
    cache.write_bytes(b"synco-hash-cache 3\n" + hashlib.blake2b(fields, digest_size=8).digest() + fields + stale)
    serving = HashCache(cache)
    assert serving.take_content("a.jpg", info, os.fspath(path)) is None
    assert serving.lookup_content("a.jpg", info) is None
    serving.discard()
