"""The dump streamed during a pull's build (:class:`synco_core.pull.dumpstream.DumpStream`), without a channel.

The encrypted chunks come from a real session artifact (the session folder's tee, as the remote side
sends them); they are fed to the stream as the channel would, in another thread, while a reader takes
the plaintext as it arrives. Checked: the reader gets every byte and its end only once the whole dump is
in and matches the source's meta; a damaged, cut off or mismatching stream makes the reader fail (so an
install reading it never swaps anything in), leaves no file behind and never blocks the channel.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synco_core.errors import TransferError
from synco_core.pull.dumpstream import QUEUE_CHUNKS, DumpStream
from synco_core.serve.folder import SessionFolder
from synco_core.serve.keys import SessionKey
from synco_core.wire import DumpInfo, WireFileSet

SESSION = "synco-streamtest"


class Artifact:
    """A dump artifact as the remote side writes it: its encrypted chunks (as teed) and its meta entry."""

    def __init__(self, folder: Path, plain: bytes) -> None:
        key = SessionKey.generate()
        self.chunks: list[bytes] = []
        session = SessionFolder(folder, key.recipients, artifact_tee=lambda name: self.chunks.append)
        session.create()
        with session.artifact("dump.enc") as (out, stats):
            # Written in pieces, as a dumper does.
            for start in range(0, len(plain), 100_000):
                out.write(plain[start:start + 100_000])
        self.key = key.secret
        self.plain = plain
        self.file_set = WireFileSet(name="dbDump", type="MysqlDump", dump=DumpInfo(
            file_name="dump.sql.zst.enc", size_bytes=stats[0].size_bytes, sha256=stats[0].sha256,
            compression="zstd", engine="mysql", format="sql"))
        # The tee saw exactly the bytes of the file.
        assert b"".join(self.chunks) == (folder / "dump.enc").read_bytes()

    def announcement(self) -> dict[str, Any]:
        return {"set": "dbDump", "session": SESSION, "key": self.key, "encrypted": True, "compression": "zstd",
                "engine": "mysql", "format": "sql"}


@pytest.fixture
def artifact(tmp_path: Path) -> Artifact:
    # Random bytes between text: several STREAM chunks, not all of them compressible.
    plain = b"".join(os.urandom(50_000) + b"INSERT INTO t VALUES (1);\n" * 2000 for _ in range(6))
    return Artifact(tmp_path / "remote", plain)


def feed(stream: DumpStream, chunks: list[bytes], close: dict[str, Any] | None, pause: float = 0.0) -> threading.Thread:
    """The channel's side, in a thread: the chunks, then the end of the stream (or nothing: cut off)."""

    def run() -> None:
        for chunk in chunks:
            stream.data(chunk)
            if pause:
                time.sleep(pause)
        if close is not None:
            stream.close(close)
        else:
            stream.abort("the channel closed")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def read_all(stream: DumpStream) -> bytes:
    with stream.reader() as reader:
        return reader.read()


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "dump"
    yield folder
    # Whatever happened, nothing but taken files stays behind.
    assert not list(folder.glob("*.stream.part")) if folder.exists() else True


def test_the_reader_gets_the_dump_while_it_arrives(artifact: Artifact, target: Path) -> None:
    opened: list[DumpStream] = []
    stream = DumpStream(target, on_open=opened.append)
    stream.open(artifact.announcement())
    assert opened == [stream]
    feeder = feed(stream, artifact.chunks, {"fileSet": artifact.file_set.to_json()}, pause=0.005)
    # The reader starts before most of the dump is there and waits for the rest.
    assert read_all(stream) == artifact.plain
    feeder.join(5)
    assert stream.size == len(artifact.plain)
    assert stream.sha256 == hashlib.sha256(artifact.plain).hexdigest()
    path = stream.take(artifact.file_set)
    assert path is not None and path.read_bytes() == artifact.plain
    path.rename(target / "dbDump.sql")
    stream.discard()
    assert (target / "dbDump.sql").read_bytes() == artifact.plain


def test_the_manifest_is_filled_before_the_end_is_reported(artifact: Artifact, target: Path) -> None:
    from synco_core.values import TableManifest

    assert artifact.file_set.dump is not None
    artifact.file_set.dump.tables = {"t": TableManifest(rows=12000, checksum="crc32sum:1")}
    stream = DumpStream(target)
    stream.open(artifact.announcement())
    manifest = stream.manifest
    feeder = feed(stream, artifact.chunks, {"fileSet": artifact.file_set.to_json()})
    with stream.reader() as reader:
        while reader.read(65536):
            pass
        # An engine reads options.manifest after the dump's end: by then it is there.
        assert manifest == {"t": TableManifest(rows=12000, checksum="crc32sum:1")}
    feeder.join(5)
    stream.discard()


def test_take_ignores_other_sets_and_a_meta_that_differs(artifact: Artifact, target: Path) -> None:
    stream = DumpStream(target)
    stream.open(artifact.announcement())
    feed(stream, artifact.chunks, {"fileSet": artifact.file_set.to_json()}).join(5)
    other = WireFileSet(name="uploads", type="PublicFiles")
    assert stream.take(other) is None
    assert artifact.file_set.dump is not None
    differs = WireFileSet.from_json(artifact.file_set.to_json())
    assert differs.dump is not None
    differs.dump.sha256 = "0" * 64
    assert stream.take(differs) is None
    stream.discard()


def _flip(chunks: list[bytes], index: int) -> list[bytes]:
    damaged = list(chunks)
    chunk = bytearray(damaged[index])
    chunk[len(chunk) // 2] ^= 0x01
    damaged[index] = bytes(chunk)
    return damaged


@pytest.mark.parametrize("case", ["damaged chunk", "cut off", "wrong sha256", "wrong size", "other set"])
def test_a_bad_stream_fails_the_reader_and_leaves_nothing(artifact: Artifact, target: Path, case: str) -> None:
    chunks = artifact.chunks
    end: dict[str, Any] | None = {"fileSet": artifact.file_set.to_json()}
    assert end is not None
    if case == "damaged chunk":
        chunks = _flip(chunks, len(chunks) // 2)
    elif case == "cut off":
        chunks, end = chunks[: len(chunks) // 2], None
    elif case == "wrong sha256":
        end["fileSet"]["mysqlDump"]["sha256"] = "0" * 64
    elif case == "wrong size":
        end["fileSet"]["mysqlDump"]["sizeBytes"] += 1
    else:
        end["fileSet"]["name"] = "otherDump"
    stream = DumpStream(target)
    stream.open(artifact.announcement())
    feeder = feed(stream, chunks, end)
    with pytest.raises(TransferError, match="the database stream broke off"):
        read_all(stream)
    feeder.join(5)
    assert not feeder.is_alive()
    assert stream.failed
    assert stream.take(artifact.file_set) is None
    stream.discard()


def test_a_malformed_announcement_fails_without_raising_into_the_channel(artifact: Artifact, target: Path) -> None:
    stream = DumpStream(target)
    stream.open({"set": "dbDump", "session": SESSION})  # no key
    assert stream.failed
    # The channel goes on handing over frames; none of this may raise or block.
    for chunk in artifact.chunks:
        stream.data(chunk)
    stream.close({"fileSet": artifact.file_set.to_json()})
    assert stream.take(artifact.file_set) is None
    with pytest.raises(TransferError):
        stream.reader()
    stream.discard()


def test_the_channel_never_blocks_on_a_failed_stream(artifact: Artifact, target: Path) -> None:
    stream = DumpStream(target)
    stream.open(artifact.announcement())
    # Garbage first: the decoder fails at once, then many more chunks than the queue holds follow.
    feeder = feed(stream, [b"not age at all"] + [b"x" * 1000] * (QUEUE_CHUNKS * 3), None)
    feeder.join(10)
    assert not feeder.is_alive(), "the channel's side blocked on a stream that had failed"
    stream.discard()
    assert stream.failed


def test_an_unsafe_stream_name_is_refused(artifact: Artifact, target: Path) -> None:
    stream = DumpStream(target)
    stream.open({**artifact.announcement(), "session": "../escape"})
    assert stream.failed
    assert not (target.parent / "escape").exists()
    stream.discard()


@pytest.mark.parametrize("field, value", [("session", "a\nb"), ("set", ".synco-received"), ("set", "x" * 101),
                                          ("session", "synco-x.part"), ("set", "a/../b")])
def test_stream_names_follow_the_one_naming_rule(artifact: Artifact, target: Path, field: str, value: str) -> None:
    """The remote side's names become a file name: the rule of synco_core.names, as for a meta."""
    stream = DumpStream(target)
    stream.open({**artifact.announcement(), field: value})
    assert stream.failed
    assert not list(target.iterdir()) if target.exists() else True
    stream.discard()


def test_the_streamed_dump_is_for_its_owner_alone(artifact: Artifact, target: Path) -> None:
    old = os.umask(0)
    try:
        stream = DumpStream(target)
        stream.open(artifact.announcement())
    finally:
        os.umask(old)
    assert stream.path is not None and stream.path.stat().st_mode & 0o777 == 0o600
    assert target.stat().st_mode & 0o777 == 0o700
    feed(stream, artifact.chunks, {"fileSet": artifact.file_set.to_json()}).join(5)
    assert read_all(stream) == artifact.plain
    stream.discard()


def test_the_end_of_the_dump_waits_for_the_end_of_the_stream(artifact: Artifact, target: Path) -> None:
    # An engine that stops reading after the last statement (never asking for the end) must still only
    # have all of the dump once the stream is complete and checked, with the manifest filled in.
    stream = DumpStream(target)
    stream.open(artifact.announcement())
    for chunk in artifact.chunks:
        stream.data(chunk)
    reader = stream.reader()
    got = bytearray()
    done = threading.Event()

    def read_exactly() -> None:
        while len(got) < len(artifact.plain):
            got.extend(reader.read1(65536))
        done.set()

    threading.Thread(target=read_exactly, daemon=True).start()
    assert not done.wait(0.5), "the whole dump was handed out before the stream was complete"
    assert 0 < len(got) < len(artifact.plain), "the reader should follow the stream as it arrives"
    stream.close({"fileSet": artifact.file_set.to_json()})
    assert done.wait(5)
    assert bytes(got) == artifact.plain
    reader.close()
    stream.discard()
