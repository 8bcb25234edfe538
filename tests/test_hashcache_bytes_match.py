"""serve's hash cache matches an unchanged small file's record as bytes where it lies in the buffer
(``_OldRecords.take``) instead of parsing it first: it must decide exactly as the parsed way does.

Through random caches (records of files changed or not since, some of them damaged in any byte, the file cut
short anywhere), and lookups in path order mixing the one-step reuse with the long way (lookups of paths the
cache does not hold, of files changed at the same size and mtime), every answer and the new cache written
are byte for byte those of the same serve with the byte match turned off.
"""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

import pytest

from synco_core.index import hashcache
from synco_core.index.hashcache import HashCache

#: Reads, and the read-ahead of the byte match (the largest content a record may hold), shrunk so that
#: buffer refills fall inside the test's small caches too (its contents are at most 120 bytes).
SMALL_BLOCK = 300
SMALL_CONTENT = 200
#: Damaged copies of each random cache, served both ways.
ROUNDS = 12


def _files(folder: Path, rng: random.Random) -> list[Path]:
    paths = [folder / f"{number:03d}{rng.choice(['', '-é', '.txt'])}" for number in range(rng.randint(1, 40))]
    for path in paths:
        path.write_bytes(os.urandom(rng.randint(1, 120)))
    return sorted(paths, key=lambda path: path.name)


def _fields(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every field of every record of a cache file."""
    fields = []
    at = len(hashcache.HEADER)
    while at < len(data):
        *_, path_length, content_length = hashcache.RECORD.unpack_from(data, at)
        ends = [8, 16, 24, 32, 40, 48, 80, 84, 88, 88 + path_length, 88 + path_length + content_length]
        assert ends[-3] == hashcache.RECORD.size
        fields += [(at + start, at + end) for start, end in zip([0, *ends], ends, strict=False) if end > start]
        at += ends[-1]
    return fields


def _first_serve(cache: Path, folder: Path, paths: list[Path]) -> None:
    serving = HashCache(cache)
    for path in paths:
        info = os.lstat(path)
        content = path.read_bytes()
        serving.record(path.name, info, hashlib.sha256(content).hexdigest(), content)
    serving.commit()


def _serve(cache: Path, paths: list[Path], calls: list[tuple[str, str]]) -> tuple[list[object], bytes]:
    """What a serve making ``calls`` ((kind, name), in order) is answered, and the cache it writes."""
    serving = HashCache(cache)
    answers: list[object] = []
    by_name = {path.name: path for path in paths}
    for kind, name in calls:
        path = by_name.get(name)
        if path is None or not path.exists():
            answers.append(("lookup", serving.lookup(name, os.lstat(cache))))
            continue
        info = os.lstat(path)
        if kind == "take" and (taken := serving.take_content(name, info, os.fspath(path))) is not None:
            answers.append(("taken", taken))
            continue
        found = serving.lookup_content(name, info)
        answers.append(("looked up", found))
        content = path.read_bytes()
        serving.record(name, info, found[0] if found else hashlib.sha256(content).hexdigest(), content)
    serving.commit()
    return answers, cache.read_bytes()


@pytest.mark.parametrize("seed", range(30))
def test_the_byte_match_decides_as_the_parsed_records_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          seed: int) -> None:
    # Every file counts as settled, however the file system's clock ticks: both serves record the same.
    monkeypatch.setattr(hashcache, "RACY_SECONDS", -60.0)
    monkeypatch.setattr(hashcache, "BLOCK", SMALL_BLOCK)
    monkeypatch.setattr(hashcache, "MAX_CONTENT_BYTES", SMALL_CONTENT)
    rng = random.Random(seed)
    folder = tmp_path / "files"
    folder.mkdir()
    paths = _files(folder, rng)
    cache = tmp_path / "cache" / "set.bin"
    _first_serve(cache, folder, paths)
    for path in paths:
        change = rng.random()
        if change < 0.1:
            # Same size, same mtime: only the change time (and the content) tells.
            info = path.stat()
            path.write_bytes(os.urandom(info.st_size))
            os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
        elif change < 0.15:
            path.unlink()
        elif change < 0.2:
            os.utime(path, ns=(1, 10**9 * rng.randint(1, 10**9)))
    first = cache.read_bytes()
    names = sorted({path.name for path in paths} | {f"{rng.randrange(40):03d}-gone" for _ in range(5)})
    for _round in range(ROUNDS):
        data = bytearray(first)
        damage = rng.random()
        if damage < 0.7:
            # One bit of one field of one record: each field is damaged as often as the others, however short.
            start, end = rng.choice(_fields(first))
            data[rng.randrange(start, end)] ^= 1 << rng.randrange(8)
        elif damage < 0.85:
            del data[rng.randrange(len(hashcache.HEADER), len(data) + 1):]
        calls = [(rng.choice(("take", "take", "long")), name) for name in names]
        with monkeypatch.context() as patch:
            cache.write_bytes(data)
            matched = _serve(cache, paths, calls)
            cache.write_bytes(data)
            patch.setattr(hashcache._OldRecords, "take", lambda *_args: None)
            parsed = _serve(cache, paths, calls)
        assert matched == parsed
        # And nothing was taken that the files do not hold now.
        for (_kind, name), (how, found) in zip(calls, matched[0], strict=True):
            if how != "lookup" and found is not None:
                assert isinstance(found, tuple) and found[1] == (folder / name).read_bytes(), name


def test_an_unchanged_set_is_matched_as_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The case the byte match is for: every file of an unchanged set is taken by it, across buffer refills."""
    monkeypatch.setattr(hashcache, "RACY_SECONDS", -60.0)
    monkeypatch.setattr(hashcache, "BLOCK", SMALL_BLOCK)
    monkeypatch.setattr(hashcache, "MAX_CONTENT_BYTES", SMALL_CONTENT)
    folder = tmp_path / "files"
    folder.mkdir()
    paths = _files(folder, random.Random(3))
    cache = tmp_path / "cache" / "set.bin"
    _first_serve(cache, folder, paths)
    by_bytes: list[str] = []
    match = hashcache._OldRecords.take

    def counted(records: hashcache._OldRecords, path: str, name: bytes, fingerprint: bytes, size: int) -> object:
        found = match(records, path, name, fingerprint, size)
        if found is not None:
            by_bytes.append(path)
        return found

    monkeypatch.setattr(hashcache._OldRecords, "take", counted)
    old = cache.read_bytes()
    answers, new = _serve(cache, paths, [("take", path.name) for path in paths])
    assert by_bytes == [path.name for path in paths]
    assert answers == [("taken", (hashlib.sha256(path.read_bytes()).hexdigest(), path.read_bytes())) for path in paths]
    assert new == old


def test_the_byte_match_reads_ahead_only_as_far_as_a_record_reaches(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Every refill of the read buffer carries over what the buffer still holds. The byte match used to ask
    for the largest record a cache may hold (1 MiB) ahead of every file, so each refill copied that megabyte
    again: about three copies of every byte of a 137 MB cache. It asks for the record it matches now; the
    bytes carried over, summed over the whole unchanged set, stay under the cache's own size."""
    monkeypatch.setattr(hashcache, "RACY_SECONDS", -60.0)
    monkeypatch.setattr(hashcache, "BLOCK", 1024)
    monkeypatch.setattr(hashcache, "MAX_CONTENT_BYTES", 16 * 1024)
    folder = tmp_path / "files"
    folder.mkdir()
    rng = random.Random(11)
    paths = [folder / f"{number:04d}.jpg" for number in range(400)]
    for path in paths:
        path.write_bytes(rng.randbytes(rng.randint(100, 300)))
    cache = tmp_path / "cache" / "set.bin"
    _first_serve(cache, folder, paths)
    carried: list[int] = []
    has = hashcache._OldRecords._has

    def counted(records: hashcache._OldRecords, count: int) -> bool:
        if len(records._data) - records._at < count and records._file is not None:
            carried.append(len(records._data) - records._at)
        return has(records, count)

    monkeypatch.setattr(hashcache._OldRecords, "_has", counted)
    old = cache.read_bytes()
    answers, new = _serve(cache, paths, [("take", path.name) for path in paths])
    assert all(answer[0] == "taken" for answer in answers)
    assert new == old
    assert len(carried) >= 5, carried
    assert sum(carried) < len(old), (sum(carried), len(old))
