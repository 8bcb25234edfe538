"""serve's cache of small files' contents: an unchanged packed file comes out of the cache after one lstat
instead of an open and a read, and the cache never puts stale or damaged bytes into a pack.

Every test reads each packed file back out of its pack, the way a receiver does, and compares it with the
file on disk: a cache that served the old bytes of a file would show there.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_serve_public_index import Session, build
from test_transfer_support import fixture_app_fixture  # noqa: F401

from synco_core.errors import ConfigError
from synco_core.index import hashcache, packs
from synco_core.serve import public_set as public_set_module
from synco_core.testing.services import unavailable


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The small files serve opens (the relative names under the uploads folder), in order."""
    seen: list[str] = []
    original = public_set_module._open_small

    def counting(item: public_set_module.Candidate) -> Any:
        assert item.source is not None
        seen.append(item.source.split("/uploads/", 1)[-1])
        return original(item)

    monkeypatch.setattr(public_set_module, "_open_small", counting)
    # Files written by the test a moment ago count as settled.
    monkeypatch.setattr(hashcache, "RACY_SECONDS", 0.0)
    return seen


def packed_files(session: Session, name: str = "uploads") -> dict[str, bytes]:
    """Every packed file of the set, read back out of its pack."""
    table = session.packs(name)
    found = {}
    for path, entry in session.index(name):
        if entry.pack is not None and entry.pack_offset is not None:
            content = session.packed_content(table[entry.pack], entry.pack_offset, entry.size_bytes)
            assert hashlib.sha256(content).hexdigest() == entry.sha256, path
            found[path] = content
    return found


def on_disk(uploads: Path) -> dict[str, bytes]:
    """The files of the set that belong in packs (the fixture's set leaves ``*.tmp`` out)."""
    return {path.relative_to(uploads).as_posix(): path.read_bytes() for path in uploads.rglob("*")
            if path.is_file() and not path.is_symlink() and 0 < path.stat().st_size <= packs.SMALL_FILE_MAX
            and path.suffix != ".tmp"}


def cache_file() -> Path:
    (found,) = Path(os.environ["SYNCO_CACHE_DIR"]).rglob("*.bin")
    return found


def small_files(uploads: Path, count: int) -> list[Path]:
    paths = [uploads / "small" / f"{number:03d}.txt" for number in range(count)]
    paths[0].parent.mkdir(exist_ok=True)
    for number, path in enumerate(paths):
        path.write_bytes(os.urandom(50 + number))
    return paths


def test_unchanged_small_files_are_not_opened_again(fixture_app: Path, opened: list[str]) -> None:
    uploads = fixture_app / "web" / "uploads"
    small_files(uploads, 30)
    first = build(fixture_app, name="synco-one")
    assert packed_files(first) == on_disk(uploads)
    assert len(opened) >= 30
    # A file the walk's lstat shows is too large to pack is hashed, never opened to find that out.
    assert not [name for name in opened if (uploads / name).stat().st_size > packs.SMALL_FILE_MAX]
    opened.clear()
    second = build(fixture_app, name="synco-two")
    assert opened == [], "a re-serve of unchanged small files opens none of them"
    assert packed_files(second) == on_disk(uploads)
    # The cache is private, and holds the set's contents once, not once per serve.
    assert (cache_file().stat().st_mode & 0o777) == 0o600
    assert not list(cache_file().parent.glob("*.tmp"))


def test_every_kind_of_change_is_seen(fixture_app: Path, opened: list[str]) -> None:
    uploads = fixture_app / "web" / "uploads"
    paths = small_files(uploads, 12)
    build(fixture_app, name="synco-one")
    # Same size and same mtime, other bytes: only the change time tells.
    info = paths[1].stat()
    with paths[1].open("r+b") as handle:
        handle.write(b"X")
    os.utime(paths[1], ns=(info.st_atime_ns, info.st_mtime_ns))
    # Replaced by another file of the same size and mtime: a new inode.
    replacement = paths[2].with_name("replacement")
    replacement.write_bytes(os.urandom(info.st_size + 1)[: paths[2].stat().st_size])
    os.utime(replacement, ns=(paths[2].stat().st_atime_ns, paths[2].stat().st_mtime_ns))
    os.replace(replacement, paths[2])
    paths[3].write_bytes(b"grown " * 100)
    paths[4].unlink()
    # A link where a packed file was: never packed (a link may point anywhere on the server).
    paths[5].unlink()
    paths[5].symlink_to(paths[6])
    # Grown past the pack threshold: no longer packed, and not kept with its content.
    paths[7].write_bytes(os.urandom(packs.SMALL_FILE_MAX + 1))
    paths[8].write_bytes(b"")
    (uploads / "small" / "new.txt").write_bytes(b"new file")
    opened.clear()
    session = build(fixture_app, name="synco-two")
    assert packed_files(session) == on_disk(uploads)
    by_path = dict(session.index("uploads"))
    assert by_path["small/005.txt"].pack is None and by_path["small/007.txt"].pack is None
    assert by_path["small/008.txt"].pack is None and "small/004.txt" not in by_path
    # Opened again: the changed, the empty and the new files; the grown file goes straight to its hash, the
    # link to the hash of what it points to.
    changed = {f"small/{number:03d}.txt" for number in (1, 2, 3, 8)} | {"small/new.txt"}
    assert set(opened) == changed


def test_random_changes_never_leave_stale_bytes_in_a_pack(fixture_app: Path, opened: list[str]) -> None:
    """Rounds of random edits, each followed by a serve: every pack always holds the files as they are."""
    uploads = fixture_app / "web" / "uploads"
    paths = small_files(uploads, 40)
    rng = random.Random(11)
    for round_number in range(6):
        for path in rng.sample(paths, 8):
            action = rng.choice(("rewrite", "same-size", "delete", "touch", "grow"))
            if action == "delete":
                path.unlink(missing_ok=True)
            elif action == "same-size" and path.exists():
                info = path.stat()
                path.write_bytes(os.urandom(info.st_size))
                os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
            elif action == "touch" and path.exists():
                os.utime(path)
            elif action == "grow":
                path.write_bytes(os.urandom(rng.randint(1, 3000)))
            else:
                path.write_bytes(os.urandom(rng.randint(1, 200)))
        session = build(fixture_app, name=f"synco-{round_number}")
        assert packed_files(session) == on_disk(uploads), f"round {round_number}"


def test_a_damaged_record_is_never_used(fixture_app: Path, opened: list[str]) -> None:
    uploads = fixture_app / "web" / "uploads"
    small_files(uploads, 20)
    build(fixture_app, name="synco-one")
    data = bytearray(cache_file().read_bytes())
    # One bit of one file's content in the middle of the cache: its record, and those after it, are not
    # trusted (the cache ends there); the files are read again.
    spot = data.index(Path(uploads / "small" / "010.txt").read_bytes()[:16])
    data[spot + 3] ^= 0x01
    cache_file().write_bytes(bytes(data))
    opened.clear()
    session = build(fixture_app, name="synco-two")
    assert packed_files(session) == on_disk(uploads)
    assert "small/010.txt" in opened and "small/000.txt" not in opened
    # Cut short in the middle of a record: the same.
    cache_file().write_bytes(cache_file().read_bytes()[:-7])
    session = build(fixture_app, name="synco-three")
    assert packed_files(session) == on_disk(uploads)


#: Five bytes whose bits are the CRC-32 polynomial (x^32 first, in zlib's bit order): XORed into a message at
#: any place, they leave its CRC-32 as it was. Damage of that shape passes any CRC-32 check.
CRC32_BLIND = (1 | (0xEDB88320 << 1)).to_bytes(5, "little")


@pytest.mark.parametrize("spot", ["a small file's hash", "a small file's content", "a large file's hash"])
def test_damage_a_crc32_cannot_see_never_reaches_a_session(fixture_app: Path, opened: list[str], spot: str) -> None:
    """Damage that leaves the record's own CRC-32 as it was: no hash the file does not have gets into the
    index, and no bytes the file does not hold into a pack (each record is checked by more than a CRC-32,
    and a kept content is checked against its hash before it is packed)."""
    uploads = fixture_app / "web" / "uploads"
    paths = small_files(uploads, 20)
    large = uploads / "large.bin"
    large.write_bytes(os.urandom(packs.SMALL_FILE_MAX + 100))
    build(fixture_app, name="synco-one")
    data = bytearray(cache_file().read_bytes())
    target = large if spot == "a large file's hash" else paths[10]
    if spot == "a small file's content":
        at = data.index(target.read_bytes()) + 3
    else:
        at = data.index(hashlib.sha256(target.read_bytes()).digest())
    for number, byte in enumerate(CRC32_BLIND):
        data[at + number] ^= byte
    cache_file().write_bytes(bytes(data))
    for name in ("synco-two", "synco-three"):
        session = build(fixture_app, name=name)
        assert packed_files(session) == on_disk(uploads)
        for path, entry in session.index("uploads"):
            assert entry.sha256 == hashlib.sha256((uploads / path).read_bytes()).hexdigest(), path


@pytest.mark.parametrize("fails", ["while records are written", "at the end"])
def test_a_cache_that_cannot_be_written_never_fails_the_serve(fixture_app: Path, opened: list[str],
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture, fails: str) -> None:
    """The cache's disk is full (the new cache is written to /dev/full, which answers every write with
    ENOSPC): the serve is whole all the same, says the cache was not kept, leaves no temporary file, and
    the old cache stays usable."""
    if not os.path.exists("/dev/full"):
        unavailable("/dev/full (a device that is always full) is not on this machine")
    uploads = fixture_app / "web" / "uploads"
    small_files(uploads, 40)
    build(fixture_app, name="synco-one")
    kept = cache_file().read_bytes()
    # Small blocks: records are written during the walk, not only when the cache is saved.
    monkeypatch.setattr(hashcache, "BLOCK", 256 if fails == "while records are written" else 1 << 30)
    original_init = hashcache.HashCache.__init__

    def on_a_full_disk(self: hashcache.HashCache, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if self._new is not None:
            self._new.close()
            self._new = open("/dev/full", "wb")  # noqa: SIM115 (closed by the cache)

    monkeypatch.setattr(hashcache.HashCache, "__init__", on_a_full_disk)
    for name in ("synco-two", "synco-three"):
        (uploads / "small" / f"{name}.txt").write_bytes(os.urandom(100))
        session = build(fixture_app, name=name)
        assert packed_files(session) == on_disk(uploads)
    assert "could not be written (No space left on device)" in caplog.text
    assert cache_file().read_bytes() == kept and not list(cache_file().parent.glob("*.tmp"))
    monkeypatch.setattr(hashcache.HashCache, "__init__", original_init)
    opened.clear()
    assert packed_files(build(fixture_app, name="synco-four")) == on_disk(uploads)
    assert sorted(opened) == ["small/synco-three.txt", "small/synco-two.txt"]


def test_contents_kept_within_the_budget(fixture_app: Path, opened: list[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    uploads = fixture_app / "web" / "uploads"
    paths = small_files(uploads, 20)
    budget = sum(path.stat().st_size for path in paths[:5])
    monkeypatch.setenv(hashcache.CONTENT_BUDGET_ENV, str(budget / 1024 / 1024))
    build(fixture_app, name="synco-one")
    opened.clear()
    session = build(fixture_app, name="synco-two")
    assert packed_files(session) == on_disk(uploads)
    # The first files in index order fit; the others are read at every serve, and hashed by the cache only.
    assert "small/000.txt" not in opened and "small/019.txt" in opened
    assert cache_file().stat().st_size < budget + 40_000
    monkeypatch.setenv(hashcache.CONTENT_BUDGET_ENV, "0")
    build(fixture_app, name="synco-three")
    assert not any(path.read_bytes() in cache_file().read_bytes() for path in paths)
    monkeypatch.setenv(hashcache.CONTENT_BUDGET_ENV, "lots")
    with pytest.raises(ConfigError, match=f"{hashcache.CONTENT_BUDGET_ENV} should be a number of megabytes"):
        hashcache.content_budget()


def test_a_killed_serve_leaves_no_lasting_copy(fixture_app: Path, opened: list[str]) -> None:
    uploads = fixture_app / "web" / "uploads"
    small_files(uploads, 5)
    build(fixture_app, name="synco-one")
    cache = cache_file()
    # A serve killed before it could rename its new cache (its process is gone), and the first format's file.
    gone = cache.with_name(f"{cache.name}.{2 ** 22 + 12345}.tmp")
    gone.write_bytes(b"x" * 1000)
    legacy = cache.with_suffix(".zst")
    legacy.write_bytes(b"old")
    build(fixture_app, name="synco-two")
    assert not gone.exists() and not legacy.exists()


def test_releases_sharing_their_uploads_share_the_cache(fixture_app: Path, opened: list[str], tmp_path: Path) -> None:
    """A deploy tool makes a new release folder at every deploy, its uploads a link to the same shared folder:
    the first serve after a deploy finds the shared files in the cache, as a re-serve of the same release does."""
    uploads = fixture_app / "web" / "uploads"
    small_files(uploads, 30)
    shared = tmp_path / "shared" / "uploads"
    shared.parent.mkdir()
    uploads.rename(shared)
    uploads.symlink_to(shared)
    first = build(fixture_app, name="synco-one")
    assert packed_files(first) == on_disk(shared) and len(opened) >= 30
    opened.clear()
    release = tmp_path / "releases" / "2"
    shutil.copytree(fixture_app, release, symlinks=True)
    second = build(release, name="synco-two")
    assert opened == [], "the next release's serve opens none of the shared files again"
    assert packed_files(second) == on_disk(shared)


@pytest.mark.parametrize("budget_files", [None, 25])
def test_the_one_step_reuse_of_unchanged_files_writes_what_the_long_way_does(
        fixture_app: Path, opened: list[str], monkeypatch: pytest.MonkeyPatch, budget_files: int | None) -> None:
    """An unchanged small file is taken from the cache and its record copied in one step
    (``HashCache.take_content``): through rounds of random edits (same size and mtime kept, touched, grown
    past the threshold, deleted, new), with larger files being hashed ahead among them (rows waiting) and a
    content budget that runs out part way, the session (index and packs) and the new cache are byte for
    byte what the long way (look up, then record) writes, and no pack ever holds stale bytes."""
    uploads = fixture_app / "web" / "uploads"
    paths = small_files(uploads, 40)
    for number in range(0, 40, 9):
        (uploads / "small" / f"{number:03d}-big.bin").write_bytes(os.urandom(packs.SMALL_FILE_MAX + 1 + number))
    if budget_files is not None:
        budget = sum(path.stat().st_size for path in paths[:budget_files])
        monkeypatch.setenv(hashcache.CONTENT_BUDGET_ENV, str(budget / 1024 / 1024))
    build(fixture_app, name="synco-first")
    rng = random.Random(16)
    one_step = hashcache.HashCache.take_content
    taken: list[str] = []

    def counted(cache: hashcache.HashCache, path: str, info: os.stat_result,
                source: str | None = None) -> tuple[str, bytes] | None:
        found = one_step(cache, path, info, source)
        if found is not None:
            taken.append(path)
        return found

    for round_number in range(4):
        for path in rng.sample(paths, 6):
            action = rng.choice(("rewrite", "same-size", "delete", "touch", "grow"))
            if action == "delete":
                path.unlink(missing_ok=True)
            elif action == "same-size" and path.exists():
                info = path.stat()
                path.write_bytes(os.urandom(info.st_size))
                os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
            elif action == "touch" and path.exists():
                os.utime(path)
            elif action == "grow":
                path.write_bytes(os.urandom(packs.SMALL_FILE_MAX + 1))
            else:
                path.write_bytes(os.urandom(rng.randint(1, 200)))
        old = cache_file().read_bytes()
        monkeypatch.setattr(hashcache.HashCache, "take_content", lambda *_args: None)
        long_way = build(fixture_app, name=f"synco-long-{round_number}")
        long_cache = cache_file().read_bytes()
        cache_file().write_bytes(old)
        taken.clear()
        monkeypatch.setattr(hashcache.HashCache, "take_content", counted)
        one_step_way = build(fixture_app, name=f"synco-one-step-{round_number}")
        assert taken, "the one-step reuse was not used"
        assert cache_file().read_bytes() == long_cache, f"round {round_number}"
        assert list(one_step_way.index("uploads")) == list(long_way.index("uploads"))
        assert packed_files(one_step_way) == packed_files(long_way) == on_disk(uploads)
