"""A large public index read by a worker process (``synco_core.receive.indexprocess``).

The worker must give exactly what the in-process reader gives (the same entries, the same checks), and
every way an index can be wrong must fail the receive with the same kind of error and message as it does
in-process: an unsafe path, entries out of order, more plaintext than declared, a damaged payload, bytes
that are not zstd, and a worker that dies.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import zstandard
from click.testing import CliRunner
from test_transfer_support import FixturePlugin, make_app, publish, static_server, tree_digest

from synco_core import age, workerframes
from synco_core.age.random_access import open_payload
from synco_core.cli.main import cli
from synco_core.index.stream import IndexWriter, read_index
from synco_core.receive import indexprocess, public_index, workers
from synco_core.receive.directory import DirectoryTransport
from synco_core.receive.limits import CappedReader
from synco_core.receive.treedigest import IndexSummary, TreeDigest, local_tree_digest
from synco_core.wire import INDEX_FORMAT_LINES, PUBLIC_FILES, PublicFilesInfo, PublicIndexEntry, WireFileSet

ENTRIES = [
    ("a/b c.jpg", PublicIndexEntry(10, 1_700_000_000, "files/a/b%20c.jpg", sha256="ab" * 32, pack=0, pack_offset=0)),
    ("a/ünï.txt", PublicIndexEntry(0, -5, "files/a/%C3%BC", sha1="cd" * 20)),
    ("cdn/x.png", PublicIndexEntry(7, 3, "https://cdn.example/x.png", is_absolute_url=True)),
] + [(f"d/f{number:05d}", PublicIndexEntry(number, number, f"files/d/f{number:05d}", sha256=f"{number:064x}",
                                           pack=number // 100, pack_offset=number)) for number in range(5000)]


def plaintext(entries: list[tuple[str, PublicIndexEntry]]) -> bytes:
    out = io.BytesIO()
    writer = IndexWriter(out)
    for path, entry in entries:
        writer.add(path, entry)
    writer.close()
    return out.getvalue()


def spooled(tmp_path: Path, plain: bytes, compress: bool = True) -> tuple[Path, Any]:
    identity = age.generate_identity()
    spool = tmp_path / "index.enc"
    with open(spool, "wb") as raw, age.encrypt_writer(raw, [identity.recipient()]) as sealed:
        sealed.write(zstandard.ZstdCompressor().compress(plain) if compress else plain)
    return spool, identity


def through_process(tmp_path: Path, spool: Path, identity: Any, limit: int = 1 << 30,
                    compression: str | None = "zstd") -> list[tuple[str, PublicIndexEntry]]:
    with open(spool, "rb") as handle:
        key, offset = open_payload(handle, [identity])
    public = PublicFilesInfo(index_file_name="i", size_bytes=0, compression=compression,
                             index_format=INDEX_FORMAT_LINES)
    return list(indexprocess.entries_from_process(spool, key, offset, public, limit, "i: the content", "declared",
                                                  tmp_path))


def in_process(spool: Path, identity: Any, limit: int = 1 << 30) -> list[tuple[str, PublicIndexEntry]]:
    with open(spool, "rb") as handle:
        plain = zstandard.ZstdDecompressor().stream_reader(age.decrypt_reader(handle, [identity]))
        reader = io.BufferedReader(CappedReader(plain, limit, "i: the content"))
        return list(read_index(reader, INDEX_FORMAT_LINES))


def test_the_worker_gives_what_the_reader_in_process_gives(tmp_path: Path) -> None:
    spool, identity = spooled(tmp_path, plaintext(sorted(ENTRIES)))
    got = through_process(tmp_path, spool, identity)
    assert got == in_process(spool, identity) and len(got) == len(ENTRIES)


def test_the_worker_makes_the_tree_digest_the_merge_would_make(tmp_path: Path) -> None:
    """The digest of every entry (path, size, mtime) comes from the worker with the entries; none when an
    entry has a SHA-1, as in-process (``treedigest.py``)."""
    with_sha1 = sorted(ENTRIES)
    without = [(path, entry._replace(sha1=None)) for path, entry in with_sha1]
    for entries, digest_expected in ((with_sha1, False), (without, True)):
        spool, identity = spooled(tmp_path, plaintext(entries))
        summary = IndexSummary()
        with open(spool, "rb") as handle:
            key, offset = open_payload(handle, [identity])
        public = PublicFilesInfo(index_file_name="i", size_bytes=0, compression="zstd",
                                 index_format=INDEX_FORMAT_LINES)
        got = list(indexprocess.entries_from_process(spool, key, offset, public, 1 << 30, "i: the content",
                                                     "declared", tmp_path, summary))
        assert got == entries and summary.complete
        if not digest_expected:
            assert summary.tree is None
            continue
        local = TreeDigest()
        for path, entry in entries:
            local.add(path, entry.size_bytes, entry.mtime)
        assert summary.tree is not None
        assert (summary.tree.hexdigest(), summary.tree.files, summary.tree.bytes) == \
            (local.hexdigest(), local.files, local.bytes)


def bad_index(kind: str) -> tuple[bytes, int]:
    """(plaintext, plain limit) of an index that is wrong in the way ``kind`` says."""
    good = plaintext(sorted(ENTRIES))
    if kind == "unsafe path":
        return good.replace(b'"a/b c.jpg"', b'"../b c.jpg"'), 1 << 30
    if kind == "out of order":
        lines = good.split(b",\n")
        lines[10], lines[11] = lines[11], lines[10]
        return b",\n".join(lines), 1 << 30
    if kind == "too long":
        return good, len(good) - 100
    return good[:-2], 1 << 30


@pytest.mark.parametrize("kind", ["unsafe path", "out of order", "too long", "truncated"])
def test_a_bad_index_fails_as_it_does_in_process(tmp_path: Path, kind: str) -> None:
    plain, limit = bad_index(kind)
    spool, identity = spooled(tmp_path, plain)
    with pytest.raises(Exception) as expected:
        in_process(spool, identity, limit)
    with pytest.raises(Exception) as got:
        through_process(tmp_path, spool, identity, limit)
    assert type(got.value) is type(expected.value) and str(got.value) == str(expected.value)


def test_a_damaged_payload_and_bytes_that_are_not_zstd_fail(tmp_path: Path) -> None:
    spool, identity = spooled(tmp_path, plaintext(sorted(ENTRIES)))
    data = bytearray(spool.read_bytes())
    data[-40] ^= 1
    spool.write_bytes(bytes(data))
    with pytest.raises(age.PayloadError):
        through_process(tmp_path, spool, identity)
    spool, identity = spooled(tmp_path, plaintext(sorted(ENTRIES)), compress=False)
    with pytest.raises(Exception, match="not valid zstd after decryption"):
        through_process(tmp_path, spool, identity)


def test_a_worker_that_dies_fails_the_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool, identity = spooled(tmp_path, plaintext(sorted(ENTRIES)))
    monkeypatch.setattr(indexprocess, "worker_command", lambda: [sys.executable, "-c", "import sys; sys.exit(7)"])
    with pytest.raises(Exception, match=r"ended before the index did \(exit status 7\)"):
        through_process(tmp_path, spool, identity)


def test_the_key_goes_down_the_pipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool, identity = spooled(tmp_path, plaintext(sorted(ENTRIES)))
    started: list[list[str]] = []
    real = subprocess.Popen

    def recording(args: list[str], **kwargs: Any) -> Any:
        assert not set(kwargs["env"]) & {"SYNCO_KEY", "SYNCO_PASSWORD", "SYNCO_DATABASE_URL"}
        started.append(list(args))
        return real(args, **kwargs)

    monkeypatch.setattr(indexprocess.subprocess, "Popen", recording)
    with open(spool, "rb") as handle:
        key, _offset = open_payload(handle, [identity])
    through_process(tmp_path, spool, identity)
    assert started == [workers.worker_command()]
    assert key.hex() not in " ".join(started[0]) and key.hex() not in " ".join(os.environ.values())


def test_a_receive_and_a_plan_read_a_large_index_in_a_worker(tmp_path: Path, register_plugin: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    register_plugin(FixturePlugin(), "fixture")
    app = make_app(tmp_path / "app", files=40)
    key = publish(app, "synco-indexprocess012345", only=("uploads",))
    used: list[int] = []
    real = indexprocess.entries_from_process

    def counting(*args: Any) -> Any:
        used.append(1)
        return real(*args)

    monkeypatch.setattr(indexprocess, "MIN_FILES", 1)
    monkeypatch.setattr(workerframes, "usable_cores", lambda: 2)
    import synco_core.receive.public_index as public_index

    monkeypatch.setattr(public_index, "entries_from_process", counting)
    target = tmp_path / "t"
    with static_server(app / "web") as (url, _behaviour):
        args = ["receive", "synco-indexprocess012345", key.secret, "--base-url", url, "--target", str(target),
                "--all"]
        planned = CliRunner().invoke(cli, [*args, "--plan"])
        assert planned.exit_code == 0, planned.output
        done = CliRunner().invoke(cli, args)
        assert done.exit_code == 0, done.output
    assert len(used) == 2
    expected = tree_digest(app / "web" / "uploads")
    del expected["skip.tmp"]
    assert tree_digest(target / "uploads") == expected
    # The receive kept the worker's digest of the index, which is the folder's own: the next receive of the
    # same index takes the quick path.
    record = json.loads((target / ".synco-received.json").read_text())
    (uploads,) = [entry for entry in record["fileSets"] if entry["name"] == "uploads"]
    local = local_tree_digest(target / "uploads")
    assert local is not None and uploads["tree"]["sha256"] == local.hexdigest()
    assert uploads["tree"]["files"] == local.files


#: An index whose full URLs name three origins, each first met in another block of the worker's.
URL_ENTRIES = sorted([
    (f"u/{number:05d}", PublicIndexEntry(number, number, f"https://{host}/x/{number}", is_absolute_url=absolute)
     if host else PublicIndexEntry(number, number, f"files/u/{number:05d}"))
    for number in range(3 * indexprocess.BLOCK + 10)
    for host, absolute in [(("cdn.example" if number % 7 == 0 and number > 5 else
                             "img.example:8443" if number % 11 == 0 and number > indexprocess.BLOCK else
                             "late.example" if number == 3 * indexprocess.BLOCK + 3 else ""), number % 2 == 0)]])


class _Refused(Exception):
    pass


class _Recording:
    """A URL policy that notes what it is asked and refuses one origin."""

    def __init__(self, refused: str | None = None) -> None:
        self.asked: list[str] = []
        self.refused = refused

    def check(self, uri: str) -> None:
        self.asked.append(uri)
        if self.refused is not None and uri.startswith(self.refused):
            raise _Refused(f"{uri}: not an origin of this session")


def test_full_urls_are_checked_by_origin_as_in_process(tmp_path: Path) -> None:
    """The worker path asks the receive's URL policy about the same URLs, in the same order, as the in-process
    reader's check of every entry (the first of each origin, Go synco's URLs without the flag included)."""
    spool, identity = spooled(tmp_path, plaintext(URL_ENTRIES))
    in_this_process = _Recording()
    expected = list(public_index._checked(iter(in_process(spool, identity)), in_this_process))  # type: ignore[arg-type]
    worker = _Recording()
    with open(spool, "rb") as handle:
        key, offset = open_payload(handle, [identity])
    public = PublicFilesInfo(index_file_name="i", size_bytes=0, compression="zstd", index_format=INDEX_FORMAT_LINES)
    got = list(indexprocess.entries_from_process(spool, key, offset, public, 1 << 30, "i: the content", "declared",
                                                 tmp_path, check_url=worker.check))
    assert got == expected and len(got) == len(URL_ENTRIES)
    assert worker.asked == in_this_process.asked and len(worker.asked) == 3


def test_a_refused_origin_stops_the_entries_before_its_block(tmp_path: Path) -> None:
    """An origin the policy refuses fails the index before any entry of the block that names it first."""
    spool, identity = spooled(tmp_path, plaintext(URL_ENTRIES))
    with open(spool, "rb") as handle:
        key, offset = open_payload(handle, [identity])
    public = PublicFilesInfo(index_file_name="i", size_bytes=0, compression="zstd", index_format=INDEX_FORMAT_LINES)
    policy = _Recording(refused="https://late.example")
    handed: list[str] = []
    with pytest.raises(_Refused, match=r"late\.example"):
        for path, _entry in indexprocess.entries_from_process(spool, key, offset, public, 1 << 30, "i: the content",
                                                              "declared", tmp_path, check_url=policy.check):
            handed.append(path)
    late = next(number for number, (_path, entry) in enumerate(URL_ENTRIES) if "late.example" in entry.public_uri)
    assert len(handed) == late // indexprocess.BLOCK * indexprocess.BLOCK


def test_the_receive_process_looks_at_no_entry_for_its_url_when_a_worker_reads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the index read by a worker, the receive process (the merge's critical path) does not look at every
    entry for a full URL (a generator layer and a property call each: 0.4 µs a file); the worker sends the
    URLs to check. The in-process reader still checks every entry on its way."""
    wrapped: list[int] = []
    real = public_index._checked

    def counting(entries: Any, policy: Any) -> Any:
        wrapped.append(1)
        return real(entries, policy)

    monkeypatch.setattr(public_index, "_checked", counting)
    monkeypatch.setattr(workerframes, "usable_cores", lambda: 2)
    spool, identity = spooled(tmp_path, plaintext(URL_ENTRIES))
    plain = plaintext(URL_ENTRIES)
    for minimum, expected_wraps in ((1, 0), (10**9, 1)):
        monkeypatch.setattr(indexprocess, "MIN_FILES", minimum)
        wrapped.clear()
        public = PublicFilesInfo(index_file_name="index.enc", size_bytes=0, compression="zstd",
                                 index_format=INDEX_FORMAT_LINES, file_count=len(URL_ENTRIES),
                                 index_size_bytes=len(plain), encrypted_size_bytes=spool.stat().st_size,
                                 url_origins=["https://cdn.example", "https://img.example:8443",
                                              "https://late.example"])
        file_set = WireFileSet(name="uploads", type=PUBLIC_FILES, public=public)
        scratch = tmp_path / f"scratch-{minimum}"
        scratch.mkdir()
        with public_index.open_index(DirectoryTransport(tmp_path), ".", file_set, [identity], scratch) as entries:
            got = list(entries)
        assert got == URL_ENTRIES and wrapped == [1] * expected_wraps
