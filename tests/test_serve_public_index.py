"""What serve writes for a public set: a streamed index in order with a SHA-256 per file, packs of small files,
the hash cache, and none of synco's own folders; and what receive does with the hashes.

Each packed file is read back the way a receiver of phase 2 will read it: from the pack table and the
entry's pack and offset, through the chunk decryptor, and must be the file's bytes and hash.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import signal
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from test_transfer_support import FixturePlugin, fixture_app_fixture, publish, static_server  # noqa: F401

from synco_core import age, hookimpl
from synco_core.cli.main import cli
from synco_core.detection import detect
from synco_core.index import hashcache, packs
from synco_core.index.order import sorted_walk
from synco_core.index.stream import read_index
from synco_core.names import safe_relative_path
from synco_core.serve import BuildOptions, SessionFolder, SessionKey, build_session
from synco_core.serve import public_set as public_set_module
from synco_core.values import FileSet, FileSetOptions, Framework, PublicFile
from synco_core.wire import INDEX_FORMAT_LINES, META_FILE, Meta, PackInfo, PublicIndexEntry, pack_table_from_bytes


class Session:
    """A built session folder, opened with its key."""

    def __init__(self, folder: Path, key: SessionKey) -> None:
        self.folder = folder
        self.identities = [age.parse_identity(key.secret)]
        self.meta = Meta.from_bytes(self.plain(META_FILE))

    def plain(self, name: str, compressed: bool = False) -> bytes:
        data = age.decrypt_bytes((self.folder / name).read_bytes(), self.identities)
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read() if compressed else data

    def index(self, name: str) -> list[tuple[str, PublicIndexEntry]]:
        file_set = self.meta.file_set(name)
        assert file_set is not None and file_set.public is not None
        public = file_set.public
        raw = self.plain(public.index_file_name, public.compression == "zstd")
        assert public.index_size_bytes == len(raw)
        return list(read_index(io.BytesIO(raw), public.index_format))

    def packs(self, name: str) -> list[PackInfo]:
        file_set = self.meta.file_set(name)
        assert file_set is not None and file_set.public is not None
        if file_set.public.packs_file_name is None:
            return []
        return pack_table_from_bytes(self.plain(file_set.public.packs_file_name))

    def packed_content(self, pack: PackInfo, offset: int, length: int) -> bytes:
        encrypted = (self.folder / pack.file_name).read_bytes()
        assert len(encrypted) == pack.encrypted_size_bytes
        decryptor = age.ChunkDecryptor(pack.payload_key, pack.size_bytes, pack.payload_offset)
        return decryptor.read(offset, length, lambda start, stop: encrypted[start:stop])


def build(app: Path, name: str = "synco-test", **options: Any) -> Session:
    framework = detect(app)
    key = SessionKey.generate()
    assert framework.web_root is not None
    folder = framework.web_root / name
    build_session(framework, SessionFolder(folder, key.recipients), BuildOptions(**options))
    return Session(folder, key)


def test_index_in_order_hashed_and_small_files_packed(fixture_app: Path) -> None:
    uploads = fixture_app / "web" / "uploads"
    (uploads / "empty.txt").write_bytes(b"")
    (uploads / "big.bin").write_bytes(os.urandom(packs.SMALL_FILE_MAX + 1))
    (uploads / "linked.txt").symlink_to("dir0/file 0.bin")
    session = build(fixture_app)
    entries = session.index("uploads")
    paths = [path for path, _ in entries]
    assert paths == sorted(paths) and "skip.tmp" not in paths
    table = session.packs("uploads")
    public = session.meta.file_set("uploads").public  # type: ignore[union-attr]
    assert public is not None and public.index_format == INDEX_FORMAT_LINES and public.pack_count == len(table) >= 1
    packed = 0
    for path, entry in entries:
        content = (uploads / path).read_bytes()
        assert entry.sha256 == hashlib.sha256(content).hexdigest(), path
        assert entry.size_bytes == len(content)
        if entry.pack is not None:
            packed += 1
            assert entry.pack_offset is not None
            assert session.packed_content(table[entry.pack], entry.pack_offset, entry.size_bytes) == content
    by_path = dict(entries)
    # Empty files need no pack, larger ones and links keep coming from their URL only.
    assert by_path["empty.txt"].pack is None and by_path["big.bin"].pack is None
    assert by_path["linked.txt"].pack is None and by_path["linked.txt"].sha256 is not None
    assert packed == public.packed_file_count == sum(pack.file_count for pack in table)
    assert public.packed_size_bytes == sum(pack.size_bytes for pack in table)
    # Packs are plain age files too: the session key opens them whole.
    for pack in table:
        assert len(session.plain(pack.file_name)) == pack.size_bytes
    assert not list(session.folder.glob("*.tmp"))


def test_pack_boundaries_keep_index_order(fixture_app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packs, "PACK_MAX_FILES", 3)
    uploads = fixture_app / "web" / "uploads"
    for number in range(20):
        (uploads / "many" / f"{number:02d}.txt").parent.mkdir(exist_ok=True)
        (uploads / "many" / f"{number:02d}.txt").write_bytes(b"%d" % number * (number + 1))
    session = build(fixture_app)
    table = session.packs("uploads")
    assert len(table) >= 7 and all(pack.file_count <= 3 for pack in table)
    positions = [(entry.pack, entry.pack_offset) for _path, entry in session.index("uploads") if entry.pack is not None]
    # Packs follow index order, and so do files within a pack: a receiver reads both in one pass.
    assert positions == sorted(positions)  # type: ignore[type-var]
    for path, entry in session.index("uploads"):
        if entry.pack is not None and entry.pack_offset is not None:
            assert session.packed_content(table[entry.pack], entry.pack_offset, entry.size_bytes) == \
                (uploads / path).read_bytes()


def test_compat_session_has_no_packs_and_a_go_readable_index(fixture_app: Path) -> None:
    session = build(fixture_app, packs=False, compress=False)
    assert session.packs("uploads") == []
    file_set = session.meta.file_set("uploads")
    assert file_set is not None and file_set.public is not None
    # One JSON object, as Go synco v2 parses it.
    document = json.loads(session.plain(file_set.public.index_file_name))
    assert sorted(document) == [path for path, _ in session.index("uploads")]
    assert all("pack" not in entry and len(entry["sha256"]) == 64 for entry in document.values())


class UnorderedPlugin:
    """A framework whose public set comes from the plugin's own entries, in no particular order."""

    def __init__(self, files: Path) -> None:
        self.files = files

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        if not (project_dir / "unordered.txt").exists():
            return None
        return Framework(name="Unordered", plugin="unordered", project_dir=project_dir, web_root=project_dir / "web")

    @hookimpl
    def list_file_sets(self, framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
        def entries() -> Iterator[PublicFile]:
            for name in ("z", "b", "a/x", "a-b", "b"):
                source = self.files / name.replace("/", "_")
                yield PublicFile(path=name, size=source.stat().st_size, mtime=1, uri=f"res/{name}",
                                 source=str(source))
            yield PublicFile(path="remote.jpg", size=7, mtime=2, uri="https://cdn.example/remote.jpg",
                             is_absolute_url=True)

        return [FileSet(name="res", kind="public", entries=entries)]


def test_plugin_entries_are_sorted_and_hashed_from_their_source(tmp_path: Path, register_plugin: Any) -> None:
    app = tmp_path / "app"
    files = tmp_path / "files"
    files.mkdir()
    for name in ("z", "b", "a_x", "a-b"):
        (files / name).write_bytes(name.encode() * 10)
    (app / "web").mkdir(parents=True)
    (app / "unordered.txt").write_text("")
    register_plugin(UnorderedPlugin(files), "unordered")
    session = build(app)
    entries = session.index("res")
    assert [path for path, _ in entries] == ["a-b", "a/x", "b", "remote.jpg", "z"]
    by_path = dict(entries)
    assert by_path["a/x"].sha256 == hashlib.sha256(b"a_x" * 10).hexdigest()
    # Nothing on disk behind a bucket's URL: listed by size only.
    assert by_path["remote.jpg"].sha256 is None and by_path["remote.jpg"].absolute


def test_unusual_files_never_stop_a_serve(fixture_app: Path, caplog: pytest.LogCaptureFixture) -> None:
    uploads = fixture_app / "web" / "uploads"
    os.mkfifo(uploads / "a-fifo")
    (uploads / "dangling").symlink_to("nowhere")
    bad_name = os.fsencode(str(uploads)) + b"/caf\xe9.txt"
    with open(bad_name, "wb") as handle:
        handle.write(b"latin-1 name")
    caplog.set_level(logging.WARNING)
    session = build(fixture_app)
    paths = [path for path, _ in session.index("uploads")]
    # A FIFO would block a plain open(); it is left out, as is a link to nothing and a name no URL can carry.
    assert "a-fifo" not in paths and "dangling" not in paths
    assert not any("caf" in path for path in paths)
    assert "not valid UTF-8" in caplog.text


def test_names_a_receiver_would_refuse_are_left_out_not_the_whole_set(fixture_app: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A control character, a backslash or a drive-letter-like name makes receive refuse an index whole
    (synco_core.names); serve leaves that one file out with a warning, so the rest of the set still arrives."""
    uploads = fixture_app / "web" / "uploads"
    for odd in ("tab\tname.txt", "back\\slash.txt", "C:"):
        (uploads / odd).write_bytes(b"odd")
    caplog.set_level(logging.WARNING)
    session = build(fixture_app)
    paths = [path for path, _ in session.index("uploads")]
    assert paths and not any(odd in paths for odd in ("tab\tname.txt", "back\\slash.txt", "C:"))
    for path in paths:
        safe_relative_path(path)  # every listed name passes the receiver's rule
    assert caplog.text.count("skipping") >= 3


def test_hash_cache_spares_unchanged_files_and_sees_every_change(fixture_app: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashcache, "RACY_SECONDS", 0.0)
    uploads = fixture_app / "web" / "uploads"
    big = [uploads / "large" / f"{number}.bin" for number in range(5)]
    big[0].parent.mkdir()
    for path in big:
        path.write_bytes(os.urandom(packs.SMALL_FILE_MAX + 100))
    hashed: list[str] = []
    original = public_set_module._hash_file

    def counting(item: public_set_module.Candidate, stop: Any = None, known: Any = None) -> Any:
        if "/large/" in (item.source or ""):
            hashed.append(os.path.basename(item.source or ""))
            # Slow hashing: later files' cache hits are looked up while these are still in the workers.
            time.sleep(0.2)
        return original(item, stop, known)

    monkeypatch.setattr(public_set_module, "_hash_file", counting)
    build(fixture_app, name="synco-one")
    assert sorted(hashed) == [f"{number}.bin" for number in range(5)]
    hashed.clear()
    build(fixture_app, name="synco-two")
    assert hashed == [], "a re-serve of unchanged files hashes nothing"
    # Same size, same mtime, other content: the change time (and inode, for a replaced file) still tells.
    stat = big[1].stat()
    with big[1].open("r+b") as handle:
        handle.write(b"changed")
    os.utime(big[1], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    replacement = big[2].with_name("new")
    replacement.write_bytes(os.urandom(packs.SMALL_FILE_MAX + 100))
    os.utime(replacement, ns=(big[2].stat().st_atime_ns, big[2].stat().st_mtime_ns))
    os.replace(replacement, big[2])
    session = build(fixture_app, name="synco-three")
    assert sorted(hashed) == ["1.bin", "2.bin"]
    by_path = dict(session.index("uploads"))
    assert by_path["large/1.bin"].sha256 == hashlib.sha256(big[1].read_bytes()).hexdigest()
    # The cache written while some files were hashed in threads and others came from the cache is whole
    # and in order: the next serve hashes nothing again.
    hashed.clear()
    build(fixture_app, name="synco-four")
    assert hashed == []
    # The cache lives in the private cache folder, never under the web root or the set.
    cache_files = list(Path(os.environ["SYNCO_CACHE_DIR"]).rglob("hashes/*.bin"))
    assert len(cache_files) == 1 and not list((fixture_app / "web").rglob("hashes"))


def test_recently_changed_files_are_not_trusted_from_the_cache(fixture_app: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    big = fixture_app / "web" / "uploads" / "fresh.bin"
    big.write_bytes(os.urandom(packs.SMALL_FILE_MAX + 1))
    hashed: list[str] = []
    original = public_set_module._hash_file
    monkeypatch.setattr(public_set_module, "_hash_file",
                        lambda item, stop=None, known=None: hashed.append(item.source) or original(item, stop, known))
    build(fixture_app, name="synco-one")
    build(fixture_app, name="synco-two")
    # Changed a moment ago: a change within the same clock tick would not show in its times.
    assert hashed.count(str(big)) == 2


def test_damaged_cache_is_ignored(fixture_app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashcache, "RACY_SECONDS", 0.0)
    (fixture_app / "web" / "uploads" / "big.bin").write_bytes(os.urandom(packs.SMALL_FILE_MAX + 1))
    build(fixture_app, name="synco-one")
    (cache,) = Path(os.environ["SYNCO_CACHE_DIR"]).rglob("*.bin")
    cache.write_bytes(hashcache.HEADER + b"garbage\tline\n" * 20)
    session = build(fixture_app, name="synco-two")
    assert dict(session.index("uploads"))["big.bin"].sha256 is not None
    cache.write_bytes(b"not a cache at all")
    build(fixture_app, name="synco-three")
    # The old format (zstd-compressed text lines) is not read: the cache starts over.
    cache.write_bytes(zstandard.ZstdCompressor().compress(b"synco-hash-cache 1\n"))
    build(fixture_app, name="synco-four")
    assert cache.read_bytes().startswith(hashcache.HEADER)
    # The second format (a CRC-32 per record): a record of it that matches the file in every field but its
    # hash is not read either.
    big = fixture_app / "web" / "uploads" / "big.bin"
    info = big.stat()
    name = b"big.bin"
    fields = struct.pack("<QqqQQ32sII", info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev,
                         b"\x01" * 32, len(name), 0) + name
    cache.write_bytes(b"synco-hash-cache 2\n" + struct.pack("<I", zlib.crc32(fields)) + fields)
    session = build(fixture_app, name="synco-five")
    assert dict(session.index("uploads"))["big.bin"].sha256 == hashlib.sha256(big.read_bytes()).hexdigest()
    assert cache.read_bytes().startswith(hashcache.HEADER)


def test_cache_folder_is_private_and_never_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    web = tmp_path / "web"
    web.mkdir()
    monkeypatch.setenv("SYNCO_CACHE_DIR", str(web / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = hashcache.cache_folder([web])
    assert folder == tmp_path / "xdg" / "synco"
    assert "inside the web root" in caplog.text and not (web / "cache").exists()
    assert (folder.stat().st_mode & 0o777) == 0o700 and (folder / hashcache.CACHE_TAG).exists()


@pytest.mark.parametrize("planted", ["link to a folder of this user", "link to nowhere", "file", "fifo"])
def test_shared_cache_folder_is_never_taken_through_what_another_user_put_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, planted: str) -> None:
    """The last candidate lies in a folder anybody may write to (/var/tmp): whatever another user put under
    its name before the first serve is not used, and what it leads to is left as it was (a link there had
    serve chmod the user's folder 0700, tag it CACHEDIR.TAG for backups to skip, and keep the cache in it)."""
    shared = tmp_path / "vartmp"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setattr(hashcache, "SHARED_PARENT", shared)
    # Neither of the user's own candidates can be used (a home that cannot be written).
    monkeypatch.delenv("SYNCO_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "not/absolute")
    victim = tmp_path / "home"
    victim.mkdir()
    victim.chmod(0o755)
    entry = shared / f"synco-cache-{os.getuid()}"
    if planted == "link to a folder of this user":
        entry.symlink_to(victim)
    elif planted == "link to nowhere":
        entry.symlink_to(victim / "made" / "here")
    elif planted == "file":
        entry.write_text("")
    else:
        os.mkfifo(entry)
    assert hashcache.cache_folder([tmp_path / "web"]) is None
    assert (victim.stat().st_mode & 0o777) == 0o755 and list(victim.iterdir()) == []
    assert entry.is_symlink() or not entry.is_dir()
    assert "not a folder of this user" in caplog.text
    # A folder of this user's there (made by the first serve, or now) is used, and made private.
    entry.unlink()
    assert hashcache.cache_folder([tmp_path / "web"]) == entry
    assert (entry.stat().st_mode & 0o777) == 0o700 and (entry / hashcache.CACHE_TAG).exists()


# --------------------------------------------------------------------------- synco's own folders (issue 17)

DJANGO_LIKE = """\
serve:
  name: Django-like
  web_root: media
  file_sets:
    - name: media
      path: media
      public: true
"""


def plant_synco_folders(web: Path, monkeypatch: pytest.MonkeyPatch, elsewhere: Path) -> None:
    """Another serve's session (running: a live process, far from expiring), a half-created one, and synco's
    cache folder from a serve of another project, all inside ``web``."""
    other = web / "synco-0123456789abcdef01234567"
    other.mkdir(parents=True)
    (other / ".synco-ttl").write_text(json.dumps({"expiresAt": 4e9, "pid": os.getpid(), "host": os.uname()[1]}))
    (other / "meta.json.enc").write_bytes(b"age-encryption.org/v1\n...")
    (web / ".synco-creating-synco-abc-1").mkdir()
    (web / ".synco-creating-synco-abc-1" / ".synco-ttl").write_text("{}")
    monkeypatch.setenv("SYNCO_CACHE_DIR", str(elsewhere))
    tagged = web / "synco"
    (tagged / "hashes").mkdir(parents=True)
    (tagged / hashcache.CACHE_TAG).write_text(hashcache.CACHE_TAG_TEXT)
    (tagged / "hashes" / "x.zst").write_bytes(b"cache")


def test_media_root_as_web_root_never_lists_synco_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Django's MEDIA_ROOT served as the web root, as a generic .synco.yml set: the session folder being built,
    other sessions, a half-created one and synco's cache stay out of the index, and the receive is exact
    (it used to index ``synco-<id>/`` itself and fail on the size of ``meta.json.enc``)."""
    project = tmp_path / "project"
    web = project / "media"
    (web / "photos").mkdir(parents=True)
    (web / "photos" / "cat.jpg").write_bytes(os.urandom(3000))
    (web / "robots.txt").write_text("User-agent: *\n")
    (project / ".synco.yml").write_text(DJANGO_LIKE)
    plant_synco_folders(web, monkeypatch, tmp_path / "elsewhere")
    monkeypatch.chdir(project)
    served = CliRunner().invoke(cli, ["serve", "--keep", "--ttl", "5"])
    assert served.exit_code == 0, served.output
    session, key = re.search(r"synco receive (\S+) (\S+)", served.output).groups()  # type: ignore[union-attr]
    listed = Session(web / session, SessionKey(secret=key, recipients=[]))
    paths = [path for path, _ in listed.index("media")]
    assert paths == ["photos/cat.jpg", "robots.txt"]
    target = tmp_path / "received"
    with static_server(web) as (url, _):
        received = CliRunner().invoke(cli, ["receive", session, key, "--base-url", url, "--target", str(target),
                                            "--all"])
    assert received.exit_code == 0, received.output
    got = sorted(p.relative_to(target / "media").as_posix() for p in (target / "media").rglob("*") if p.is_file())
    assert got == paths


class AboveWebRootPlugin:
    """A framework whose public set is the whole project, the web root a folder inside it."""

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        if not (project_dir / "above.txt").exists():
            return None
        return Framework(name="Above", plugin="above", project_dir=project_dir, web_root=project_dir / "public")

    @hookimpl
    def list_file_sets(self, framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
        return [FileSet(name="everything", kind="public", root=framework.project_dir, url_prefix="")]


def test_a_set_above_the_web_root_never_lists_synco_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            register_plugin: Any) -> None:
    project = tmp_path / "project"
    (project / "public" / "img").mkdir(parents=True)
    (project / "public" / "img" / "a.png").write_bytes(b"png")
    (project / "above.txt").write_text("")
    plant_synco_folders(project / "public", monkeypatch, tmp_path / "elsewhere")
    register_plugin(AboveWebRootPlugin(), "above")
    session = build(project, name="synco-above")
    assert [path for path, _ in session.index("everything")] == ["above.txt", "public/img/a.png"]


def test_walk_skips_synco_folders_by_content_not_by_name_alone(tmp_path: Path) -> None:
    from synco_core.serve.ttl import is_synco_folder

    (tmp_path / "synco-photos").mkdir()  # a user's folder that merely starts with "synco-"
    (tmp_path / "synco-photos" / "a.jpg").write_bytes(b"a")
    (tmp_path / "synco").mkdir()  # named like the cache folder, but not tagged as synco's
    (tmp_path / "synco" / "b.jpg").write_bytes(b"b")
    walked = [relative for relative, entry in sorted_walk(tmp_path, skip_folder=is_synco_folder)
              if not entry.is_dir()]
    assert walked == ["synco-photos/a.jpg", "synco/b.jpg"]


# ---------------------------------------------------------------------------- receive checks the content


def test_receive_refuses_a_same_size_swap(fixture_app: Path, tmp_path: Path) -> None:
    """A file replaced after serve by other content of the same size and mtime is not installed (issue 14, 6)."""
    key = publish(fixture_app, "synco-swap")
    victim = fixture_app / "web" / "uploads" / "dir1" / "file 1.bin"
    stat = victim.stat()
    victim.write_bytes(bytes(255 - b for b in victim.read_bytes()))
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    target = tmp_path / "target"
    with static_server(fixture_app / "web") as (url, _):
        result = CliRunner().invoke(cli, ["receive", "synco-swap", key.secret, "--base-url", url, "--target",
                                          str(target), "--only", "uploads"])
    assert result.exit_code == 1
    assert "dir1/file 1.bin: SHA-256 does not match the index" in result.output
    assert not (target / "uploads" / "dir1" / "file 1.bin").exists()
    assert not list((target / "uploads").rglob("*.synco-part"))
    assert (target / "uploads" / "dir0" / "file 0.bin").exists()


def test_ctrl_c_does_not_wait_for_large_files_being_hashed(fixture_app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An interrupted serve stops hashing at the next block instead of reading a large file to its end."""
    monkeypatch.setattr(public_set_module, "HASH_BLOCK", 4096)
    huge = fixture_app / "web" / "uploads" / "a-huge.bin"
    with huge.open("wb") as handle:
        # Sparse: reading it costs no disk, only the per-block work, sixteen million blocks of it (minutes of
        # hashing), so the bound below tells a stop at the next block from a read to the end on any machine.
        handle.truncate(64 * 1024 * 1024 * 1024)
    # A real SIGINT, which the kernel may hand to any thread (a worker, busy hashing, is as likely as any).
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        build(fixture_app, name="synco-interrupted")
    timer.join()
    assert time.monotonic() - started < 20
    assert not list((fixture_app / "web" / "synco-interrupted").glob("*.tmp"))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="aZ09_.-~/+@=, %\\:é\n\x00", min_size=1, max_size=12))
def test_the_plain_url_fast_path_is_a_subset_of_the_full_checks(relative: str) -> None:
    """What the walk's one-regex fast path accepts is ASCII, receivable, and its own URL: exactly what the
    three checks it stands for would have said."""
    if public_set_module.PLAIN_URL_PATH.fullmatch(relative):
        assert relative.isascii() and public_set_module.receivable(relative)
        assert public_set_module._url("files/", relative) == "files/" + relative
