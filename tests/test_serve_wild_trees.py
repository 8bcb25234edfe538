"""serve on trees as they are on real servers: files serve may not read, names and links a receiver refuses,
files replaced or cut short between the walk and the read, times beyond 64-bit nanoseconds.

Whatever the tree, the session serve publishes is one that receive accepts whole, and every entry of it
says what the file holds; or serve refuses with one line naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import hashlib
import io
import os
import pickle
import shutil
import stat
import subprocess
import tarfile
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_serve_public_index import Session
from test_transfer_support import FixturePlugin, fixture_app_fixture  # noqa: F401

from synco_core import age
from synco_core.detection import detect
from synco_core.errors import SyncoError
from synco_core.index import hashcache
from synco_core.index.order import sorted_walk
from synco_core.receive.tarsafe import extract_stream
from synco_core.serve import BuildOptions, SessionFolder, SessionKey, build_session
from synco_core.serve import build as build_module
from synco_core.serve import public_set as public_set_module
from synco_core.serve.plan import build_plan
from synco_core.serve.runner import ServeOptions, serve
from synco_core.serve.ttl import cleanup_all, cleanup_expired, write_marker
from synco_core.testing.services import unavailable
from synco_core.values import FileSet
from synco_core.wire import META_FILE

#: Whom the tests that need files serve cannot read run as, when the tests run as root (root reads anything).
NOBODY = 65534


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A temporary folder outside pytest's own root, which any pytest session starting on the machine sets
    back to mode 0700: the ``nobody`` child of :func:`as_unprivileged` would find itself shut out mid-test."""
    folder = Path(tempfile.mkdtemp(prefix="synco-wild-trees-"))
    folder.chmod(0o711)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def build(app: Path, key: SessionKey, name: str = "synco-wild") -> None:
    framework = detect(app)
    assert framework.web_root is not None
    build_session(framework, SessionFolder(framework.web_root / name, key.recipients), BuildOptions())


def as_unprivileged(tree: Path, action: Callable[[], object], give: bool = True) -> object:
    """``action()`` run by a user who is denied what mode 000 denies: this process when it is not root, else
    a forked child that became ``nobody`` (``tree`` is given to that user first, unless not ``give``)."""
    if os.geteuid() != 0:
        return action()
    for folder in tree.parents:
        # The child must reach the tree: the test's own temporary folders get o+x (search only). Every one is
        # looked at, each time: pytest takes o+x off /tmp/pytest-of-<user> whenever a session starts (another
        # run on the machine, an xdist worker), so a folder below it made searchable earlier proves nothing.
        info = folder.stat()
        if info.st_uid == 0 and not info.st_mode & stat.S_IXOTH:
            folder.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXOTH)
    for current, folders, files in os.walk(tree) if give else ():
        for name in [current, *(os.path.join(current, n) for n in folders + files)]:
            os.chown(name, NOBODY, NOBODY, follow_symlinks=False)
    reading, writing = os.pipe()
    # Earlier tests leave multi-threaded zstd compressors as garbage: collected in the child, whose copy has
    # none of their threads, one waits for them forever. Collect them here, and never in the child.
    gc.collect()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        gc.freeze()
        status = 0
        try:
            os.close(reading)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            outcome: object = ("ok", action())
        except BaseException as exc:  # everything goes back to the test
            outcome, status = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"), 1
        with os.fdopen(writing, "wb") as out:
            out.write(pickle.dumps(outcome))
        os._exit(status)
    os.close(writing)
    with os.fdopen(reading, "rb") as source:
        kind, value = pickle.loads(source.read())
    os.waitpid(pid, 0)
    assert kind == "ok", value
    return value


def received_private(session: Session, name: str, into: Path) -> dict[str, str]:
    """Extract private set ``name`` as receive does (refusing it whole for one bad member); path -> content."""
    file_set = session.meta.file_set(name)
    assert file_set is not None and file_set.private is not None
    tar = session.plain(file_set.private.tar_uri, file_set.private.compression == "zstd")
    extract_stream(io.BytesIO(tar), into)
    found = {}
    for current, _folders, files in os.walk(into):
        for leaf in files:
            path = Path(current) / leaf
            relative = path.relative_to(into).as_posix()
            found[relative] = ("link:" + os.readlink(path) if path.is_symlink()
                               else path.read_bytes().decode(errors="replace"))
    return found


def test_files_serve_cannot_read_never_break_the_session(fixture_app: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A public file serve may not read is listed by its real size without a hash (the web server may read
    it); a private one is left out. Before, the public entry said size -1 and receive refused the whole
    index, and the private one ended the serve."""
    uploads, private = fixture_app / "web" / "uploads", fixture_app / "private"
    big = os.urandom(public_set_module.SMALL_FILE_MAX + 10)
    for folder in (uploads, private):
        (folder / "denied-small.txt").write_bytes(b"small and closed")
        (folder / "denied-big.bin").write_bytes(big)
    # The cache folder must belong to whoever serves: it is in the tree handed over.
    monkeypatch.setenv(hashcache.CACHE_ENV, str(fixture_app / "cache"))
    key = SessionKey.generate()

    def serve_it() -> None:
        for folder in (uploads, private):
            (folder / "denied-small.txt").chmod(0)
            (folder / "denied-big.bin").chmod(0)
        build(fixture_app, key)

    as_unprivileged(fixture_app, serve_it)
    session = Session(fixture_app / "web" / "synco-wild", key)
    entries = dict(session.index("uploads"))
    for name, content in (("denied-small.txt", b"small and closed"), ("denied-big.bin", big)):
        assert entries[name].size_bytes == len(content)
        assert entries[name].sha256 is None and entries[name].pack is None
    for path, entry in entries.items():
        assert entry.size_bytes == (uploads / path).stat().st_size >= 0, path
    received = received_private(session, "private", tmp_path / "private")
    assert "a.txt" in received and not any(name.startswith("denied") for name in received)


def test_names_and_links_a_receiver_refuses_are_left_out_of_a_private_set(fixture_app: Path, tmp_path: Path) -> None:
    """Receive refuses a private tar whole for one member it would not write; serve leaves that member out."""
    private = fixture_app / "private"
    for odd in (b"back\\slash", b"new\nline", b"tab\tname", b"C:drive", b"caf\xe9", b"folder\xff"):
        with open(os.path.join(os.fsencode(private), odd), "wb") as handle:
            handle.write(b"odd")
    os.mkdir(os.path.join(os.fsencode(private), b"dir\xff"))
    (private / "abs-link").symlink_to("/etc/hostname")
    (private / "out-link").symlink_to("../web/index.php")
    (private / "nested" / "climb").symlink_to("../../..")
    (private / "loop-a").symlink_to("loop-b")
    (private / "loop-b").symlink_to("loop-a")
    (private / "up-link").symlink_to("nested/../a.txt")
    (private / "dangling").symlink_to("not-there")
    key = SessionKey.generate()
    build(fixture_app, key)
    session = Session(fixture_app / "web" / "synco-wild", key)
    received = received_private(session, "private", tmp_path / "got")
    assert received["a.txt"] == "private a\n"
    assert received["up-link"] == "link:nested/../a.txt" and received["dangling"] == "link:not-there"
    assert received["link-inside"] == "link:a.txt"
    leftover = {"back\\slash", "new\nline", "tab\tname", "C:drive", "abs-link", "out-link", "nested/climb"}
    assert not leftover & set(received)
    # serve --plan counts the files serve packs, not those it leaves out.
    planned = {part.name: part for part in build_plan(detect(fixture_app), BuildOptions()).file_sets}
    private_set = session.meta.file_set("private")
    assert private_set is not None and private_set.private is not None
    assert planned["private"].file_count == private_set.private.file_count == sum(
        not content.startswith("link:") for content in received.values())


#: What happens to a file between the walk and the read, by its name's prefix.
def _replace_with_fifo(path: Path, _outside: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _replace_with_link(path: Path, outside: Path) -> None:
    path.unlink()
    path.symlink_to(outside)


def _remove(path: Path, _outside: Path) -> None:
    path.unlink()


def _replace_with_folder(path: Path, _outside: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "inside.txt").write_text("in a folder that was a file")


def _grow(path: Path, _outside: Path) -> None:
    with path.open("ab") as handle:
        handle.write(b"+" * 50_000)


CHANGES: dict[str, Callable[[Path, Path], None]] = {
    "tofifo": _replace_with_fifo, "tolink": _replace_with_link, "gone": _remove, "grow": _grow,
    "todir": _replace_with_folder,
}


def _changing(walk: Callable[..., Iterator[Any]], outside: Path) -> Callable[..., Iterator[Any]]:
    """``walk`` whose files named ``<change>-...`` are changed right after the walk saw them."""

    def changed(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for item in walk(*args, **kwargs):
            entry = item[1]
            change = CHANGES.get(entry.name.split("-")[0])
            if change is not None and not entry.is_dir(follow_symlinks=False):
                change(Path(entry.path), outside)
            yield item

    return changed


def _plant(folder: Path) -> None:
    for change in CHANGES:
        (folder / f"{change}-small.txt").write_bytes(b"s" * 100)
        (folder / f"{change}-large.bin").write_bytes(b"L" * (public_set_module.SMALL_FILE_MAX + 100))


@pytest.mark.timeout(60)
def test_files_changed_between_walk_and_read(fixture_app: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A file replaced by a FIFO or a link, removed, or grown after the walk saw it: serve neither hangs nor
    packs what a link points to, and every public entry says what the file now holds."""
    outside = tmp_path / "outside-secret.txt"
    outside.write_text("not part of any set")
    uploads, private = fixture_app / "web" / "uploads", fixture_app / "private"
    _plant(uploads)
    _plant(private)
    monkeypatch.setattr(public_set_module, "sorted_walk_lstat", _changing(public_set_module.sorted_walk_lstat, outside))
    monkeypatch.setattr(build_module, "_walk", _changing(build_module._walk, outside))
    # A FIFO opened for reading without O_NONBLOCK waits for a writer for ever (the timeout ends the test).
    key = SessionKey.generate()
    build(fixture_app, key)
    session = Session(fixture_app / "web" / "synco-wild", key)
    table = session.packs("uploads")
    entries = dict(session.index("uploads"))
    assert not any(path.startswith(("tofifo-", "gone-", "todir-")) for path in entries)
    for path, entry in entries.items():
        content = (uploads / path).read_bytes()
        assert entry.size_bytes == len(content), path
        assert entry.sha256 in (None, hashlib.sha256(content).hexdigest()), path
        if entry.pack is not None:
            assert entry.pack_offset is not None and not (uploads / path).is_symlink()
            assert session.packed_content(table[entry.pack], entry.pack_offset, entry.size_bytes) == content
    received = received_private(session, "private", tmp_path / "got")
    assert not any(path.startswith(("tofifo-", "gone-", "todir-")) for path in received)
    assert "not part of any set" not in received.values()
    assert received["grow-small.txt"].startswith("s" * 100)


def test_a_private_file_cut_short_while_packed_is_named(fixture_app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that shrinks between its stat and the end of its copy cannot be a tar member (the header says
    more); serve stops with one line naming it, and nothing is left under a final name."""
    victim = fixture_app / "private" / "nested" / "b.bin"
    real_addfile = tarfile.TarFile.addfile

    def shrinking(self: tarfile.TarFile, member: tarfile.TarInfo, fileobj: Any = None) -> None:
        if member.name == "nested/b.bin":
            os.truncate(victim, 1000)
        real_addfile(self, member, fileobj)

    monkeypatch.setattr(tarfile.TarFile, "addfile", shrinking)
    key = SessionKey.generate()
    with pytest.raises(SyncoError, match=r"'.*nested/b\.bin' got shorter while it was packed") as caught:
        build(fixture_app, key)
    assert "\n" not in str(caught.value)
    assert not list((fixture_app / "web" / "synco-wild").glob("encrypted-resources-*"))


def test_times_beyond_64_bit_nanoseconds_keep_the_hash_cache_working(fixture_app: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """ext4 keeps times up to 2446 (and before 1677), beyond what a 64-bit count of nanoseconds holds: such a
    file is hashed every time instead of breaking every serve after the first that wrote a cache."""
    monkeypatch.setenv(hashcache.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(hashcache, "RACY_SECONDS", 0.0)
    uploads = fixture_app / "web" / "uploads"
    for name, seconds in (("far-future.txt", 2**34), ("far-past.txt", -(2**34))):
        (uploads / name).write_text(name)
        try:
            os.utime(uploads / name, (seconds, seconds))
        except OSError:
            pytest.fail("this file system does not take times beyond 64-bit nanoseconds")
    if (uploads / "far-future.txt").stat().st_mtime_ns < 2**63:
        pytest.fail("the file system clamped the time: nothing is tested")
    for number in range(2):
        key = SessionKey.generate()
        build(fixture_app, key, f"synco-wild{number}")
        entries = dict(Session(fixture_app / "web" / f"synco-wild{number}", key).index("uploads"))
        assert entries["far-future.txt"].sha256 == hashlib.sha256(b"far-future.txt").hexdigest()
        assert entries["far-past.txt"].sha256 == hashlib.sha256(b"far-past.txt").hexdigest()


def test_sessions_of_another_user_neither_stop_a_cleanup_nor_pass_for_removed(tmp_path: Path) -> None:
    """A shared web root holds a session this user cannot remove (root's, Go synco's run by another user):
    ``serve --cleanup`` removes the others and names it; the expired-session sweep at every serve's start
    warns and goes on. Before, both ended at it with a PermissionError."""
    web = tmp_path / "web"
    mine_expired, mine = web / "synco-mine-old", web / "synco-mine"
    for folder in (mine_expired, mine):
        folder.mkdir(parents=True)
        (folder / META_FILE).write_bytes(b"x")
    write_marker(mine_expired, -10)
    write_marker(mine, 3600)

    def cleanups() -> tuple[list[Path], list[Path], list[tuple[Path, str]]]:
        expired = cleanup_expired(web)
        removed, failed, _served = cleanup_all(web)
        return expired, removed, failed

    def foreign_sessions() -> None:
        for name, closed in (("synco-theirs-old", False), ("synco-theirs", True)):
            folder = web / name
            folder.mkdir()
            (folder / META_FILE).write_bytes(b"x")
            write_marker(folder, -10)
            os.chown(folder, 0, 0)
            for inside in folder.iterdir():
                os.chown(inside, 0, 0)
            if closed:
                folder.chmod(0o700)

    if os.geteuid() != 0:
        unavailable("a session of another user needs root to make")
    as_unprivileged(web, lambda: None)
    foreign_sessions()
    expired, removed, failed = cast(tuple[list[Path], list[Path], list[tuple[Path, str]]],
                                    as_unprivileged(web, cleanups, give=False))
    assert expired == [mine_expired] and removed == [mine]
    assert [folder.name for folder, _reason in failed] == ["synco-theirs", "synco-theirs-old"]
    assert all("Permission denied" in reason and "\n" not in reason for _folder, reason in failed)
    assert (web / "synco-theirs" / META_FILE).exists() and (web / "synco-theirs-old" / META_FILE).exists()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("replacement", ["fifo", "link", "folder"])
def test_a_cache_file_that_is_not_a_regular_file_is_not_read(fixture_app: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, replacement: str) -> None:
    """The hash cache replaced by a FIFO (open() would wait for a writer for ever), a link (to a cache made
    for other files) or a folder: the serve hashes every file and writes a new cache."""
    monkeypatch.setenv(hashcache.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(hashcache, "RACY_SECONDS", 0.0)
    build(fixture_app, SessionKey.generate(), "synco-first")
    (cache,) = (tmp_path / "cache" / "hashes").glob("*.bin")
    kept = tmp_path / "elsewhere.bin"
    cache.rename(kept)
    if replacement == "fifo":
        os.mkfifo(cache)
    elif replacement == "link":
        cache.symlink_to(kept)
    else:
        cache.mkdir()
    hashed: list[str] = []
    original = public_set_module._hash_file
    monkeypatch.setattr(public_set_module, "_hash_file",
                        lambda item, stop=None, known=None: hashed.append(item.source) or original(item, stop, known))
    key = SessionKey.generate()
    build(fixture_app, key, "synco-second")
    entries = dict(Session(fixture_app / "web" / "synco-second", key).index("uploads"))
    uploads = fixture_app / "web" / "uploads"
    assert all(entry.sha256 == hashlib.sha256((uploads / path).read_bytes()).hexdigest()
               for path, entry in entries.items())
    # Nothing came from the planted file: every file larger than a pack's was hashed again.
    assert sorted(hashed) == sorted(str(uploads / path) for path, entry in entries.items()
                                    if entry.size_bytes > public_set_module.SMALL_FILE_MAX)


@contextlib.contextmanager
def small_file_system(folder: Path, size: str, read_only: bool = False) -> Iterator[None]:
    """``folder`` (its content kept) on a tmpfs of ``size`` for the length of the block, mounted read-only
    once filled when ``read_only`` (an application root as Platform.sh mounts it); root only."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        unavailable("a full file system is made with mount -t tmpfs, which needs root")
    aside = folder.with_name(folder.name + "-aside")
    folder.rename(aside)
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        folder.rmdir()
        aside.rename(folder)
        unavailable(f"mount -t tmpfs failed here: {mounted.stderr.strip()}")
    try:
        for child in aside.iterdir():
            shutil.move(child, folder / child.name)
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)
        folder.rmdir()
        aside.rename(folder)


def test_a_full_disk_is_named_and_leaves_no_session(fixture_app: Path) -> None:
    """The web root's file system fills up while the private tar is written: one line naming the file that
    could not be written (not a bare ``OSError: [Errno 28]``), and the session folder is gone."""
    (fixture_app / "private" / "large.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    lines: list[str] = []
    with small_file_system(fixture_app / "web", "1m"), \
            pytest.raises(SyncoError, match=r"no space left on the disk that holds .*/synco-full: "
                                            r"encrypted-resources-private needs more ") \
            as caught:
        serve(detect(fixture_app), ServeOptions(keep=True, session_id="full"), echo=lines.append)
    assert "\n" not in str(caught.value)
    assert not (fixture_app / "web" / "synco-full").exists()


def test_a_read_only_application_root_is_named_with_the_way_out(fixture_app: Path) -> None:
    """Platform.sh and Upsun mount the application read-only (only declared mounts are writable): serve says
    so in one line and points to pull, which needs no web root; its plan still works, writing nothing."""
    lines: list[str] = []
    with small_file_system(fixture_app, "16m", read_only=True):
        with pytest.raises(SyncoError) as caught:
            serve(detect(fixture_app), ServeOptions(keep=True, session_id="ro"), echo=lines.append)
        assert build_plan(detect(fixture_app), BuildOptions()).file_sets
    assert str(caught.value) == (f"cannot create the session folder in the web root {fixture_app / 'web'}: Read-only "
                                 "file system (a web root serve cannot write into: run 'synco pull' on the laptop "
                                 "instead, which writes only to a temporary folder here)")
    assert not list((fixture_app / "web").glob("*synco-*"))


def test_a_web_root_serve_may_not_write_is_named(fixture_app: Path) -> None:
    web = fixture_app / "web"

    def serve_it() -> str:
        web.chmod(0o555)
        try:
            serve(detect(fixture_app), ServeOptions(keep=True, session_id="ro"), echo=lambda _line: None)
        except SyncoError as exc:
            return str(exc)
        finally:
            web.chmod(0o755)
        return "served"

    said = as_unprivileged(fixture_app, serve_it)
    assert said == (f"cannot create the session folder in the web root {web}: Permission denied (a web root serve "
                    "cannot write into: run 'synco pull' on the laptop instead, which writes only to a temporary "
                    "folder here)")


def test_links_are_judged_as_the_receiver_sees_them_while_extracting(fixture_app: Path, tmp_path: Path) -> None:
    """A receiver resolves a link against what it extracted so far (the tar is in index order): a name that
    comes later in the tar does not exist yet, and ``..`` after it is refused. serve judges each link the
    same way, so a link that is fine on the server but not at that point of the extraction is left out
    instead of making the receiver refuse the whole set; the same link through names already there stays."""
    private = fixture_app / "private"
    (private / "zz-folder").mkdir()
    (private / "aa-later").symlink_to("zz-folder/../a.txt")  # zz-folder comes after it in the tar
    (private / "zz-sooner").symlink_to("nested/../a.txt")  # nested/ comes before it
    (private / "zz-folder" / "in-link").symlink_to("../nested/deeper/../b.bin")
    key = SessionKey.generate()
    build(fixture_app, key)
    received = received_private(Session(fixture_app / "web" / "synco-wild", key), "private", tmp_path / "got")
    assert "aa-later" not in received
    assert received["zz-sooner"] == "link:nested/../a.txt"
    assert received["zz-folder/in-link"] == "link:../nested/deeper/../b.bin"


_NAMES = ("a", "b", "a-b", "b0")
_TREE_ENTRIES = st.lists(
    st.tuples(
        st.lists(st.sampled_from(_NAMES), min_size=1, max_size=3).map("/".join),
        st.one_of(st.just("folder"), st.just("file"),
                  st.lists(st.sampled_from((*_NAMES, "..", ".")), min_size=1, max_size=4).map("/".join)),
    ),
    max_size=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=_TREE_ENTRIES)
def test_any_tree_of_links_makes_a_tar_the_receiver_extracts_whole(tmp_path_factory: pytest.TempPathFactory,
                                                                   entries: list[tuple[str, str]]) -> None:
    """Folders, files and links with any mix of names, ``.`` and ``..`` (chains, loops, links through links):
    whatever serve packs, the receiver extracts without refusing, and every regular file arrives as it is."""
    base = tmp_path_factory.mktemp("tree")
    root = base / "set"
    root.mkdir()
    for relative, kind in entries:
        path = root / relative
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            if kind == "folder":
                path.mkdir()
            elif kind == "file":
                path.write_text(relative)
            else:
                path.symlink_to(kind)
    key = SessionKey.generate()
    folder = SessionFolder(base / "session", key.recipients)
    folder.path.mkdir()
    written = build_module.write_private_tar(FileSet(name="p", kind="private", root=root), folder, BuildOptions())
    assert written.private is not None
    tar = age.decrypt_bytes((folder.path / written.private.tar_uri).read_bytes(), [age.parse_identity(key.secret)])
    plain = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(tar)).read()
    extract_stream(io.BytesIO(plain), base / "got")
    files = [relative for relative, entry in sorted_walk(root) if entry.is_file(follow_symlinks=False)]
    assert all((base / "got" / relative).read_bytes() == (root / relative).read_bytes() for relative in files)


@pytest.mark.parametrize("which", ["private", "uploads"])
def test_a_set_folder_serve_cannot_read_is_never_an_empty_set(fixture_app: Path, which: str) -> None:
    """Not packed or indexed as an empty set (which would replace the receiver's folder with an empty one, or
    have ``--delete`` empty it): a private set is left out of the session, a public one is published as
    unavailable (:mod:`synco_core.serve.setroot`), with a warning naming the folder; the rest is served (a
    private one stopped the whole serve before)."""
    folder = fixture_app / ("private" if which == "private" else "web/uploads")

    def serve_it() -> object:
        folder.chmod(0)
        try:
            framework = detect(fixture_app)
            assert framework.web_root is not None
            meta = build_session(framework, SessionFolder(framework.web_root / "synco-wild",
                                                          SessionKey.generate().recipients), BuildOptions())
        except SyncoError as exc:
            return str(exc)
        finally:
            folder.chmod(0o755)
        return [(s.name, s.unavailable) for s in meta.file_sets], meta.whole_project

    said = as_unprivileged(fixture_app, serve_it)
    assert isinstance(said, tuple), said
    sets, whole = said
    assert not whole
    assert not list((fixture_app / "web" / "synco-wild").glob("encrypted-resources-private*")) or which != "private"
    names = dict(sets)
    if which == "private":
        assert "private" not in names and "uploads" in names and names["uploads"] is None
    else:
        assert names["uploads"] == f"folder {folder} cannot be listed: Permission denied"
        assert "private" in names


@pytest.mark.parametrize("worker", ["0", "1"], ids=["in-process", "worker"])
@pytest.mark.parametrize("shared_link", ["relative", "absolute"])
def test_a_public_set_is_its_linked_folder_without_the_links_that_leave_it(
        fixture_app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, worker: str, shared_link: str) -> None:
    """A deployed release's uploads folder is a link into the deploy tool's shared folder: its files are the
    set. Links inside it are judged as a private set's are: one that stays inside the set is listed, one
    that leads out of it (to /etc, to the application's code, up through a chain) is not, so neither the
    index nor synco's own servers (``--listen``, ``pull``), which only send what the index lists, hand it
    out."""
    monkeypatch.setenv("SYNCO_SERVE_WORKER_FILES", worker)
    uploads = fixture_app / "web" / "uploads"
    shared = tmp_path / "shared" / "uploads"
    shared.parent.mkdir()
    shutil.move(uploads, shared)
    uploads.symlink_to(shared if shared_link == "absolute" else os.path.relpath(shared, uploads.parent))
    (shared / "etc-hostname").symlink_to("/etc/hostname")
    (shared / "etc").symlink_to("/etc")
    (shared / "code.txt").symlink_to(fixture_app / "web" / "index.php")
    (shared / "up.txt").symlink_to("dir0/../../../shared/../app/web/index.php")
    (shared / "dir1" / "climb.txt").symlink_to("../../uploads/../../app/data.db")
    (shared / "hop").symlink_to("dir0")
    (shared / "chain-out.txt").symlink_to("hop/../../../app/web/index.php")
    (shared / "same.txt").symlink_to("dir0/file 0.bin")
    (shared / "dir2" / "sibling.txt").symlink_to("../dir0/file 3.bin")
    (shared / "via-hop.txt").symlink_to("hop/file 6.bin")
    session = build_session_of(fixture_app)
    listed = {path for path, _entry in session.index("uploads")}
    assert {"same.txt", "dir2/sibling.txt", "via-hop.txt", "dir0/file 0.bin"} <= listed
    assert not listed & {"etc-hostname", "code.txt", "up.txt", "dir1/climb.txt", "chain-out.txt"}
    assert not any(path.startswith("etc/") or path.startswith("hop/") for path in listed)
    planned = {part.name: part for part in build_plan(detect(fixture_app), BuildOptions()).file_sets}
    assert planned["uploads"].file_count == len(listed)


def build_session_of(app: Path) -> Session:
    key = SessionKey.generate()
    build(app, key)
    return Session(app / "web" / "synco-wild", key)


def _exhausted(name: str) -> OSError:
    return OSError(errno.EMFILE, os.strerror(errno.EMFILE), name)


@pytest.mark.parametrize("where", ["folder listing", "private lstat", "private open", "private link",
                                   "public open and stat"])
def test_a_file_serve_ran_out_of_descriptors_for_stops_the_serve_instead_of_being_left_out(
        fixture_app: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """Too many open files says nothing about the file: left out as unreadable, the session would lack a file
    that exists and a receive with --delete would remove the laptop's copy. serve stops, naming it."""
    uploads, private = fixture_app / "web" / "uploads", fixture_app / "private"
    for folder in (uploads, private):
        (folder / "victim").mkdir()
        (folder / "victim" / "f.txt").write_text("still there")
    (private / "victim" / "link").symlink_to("f.txt")
    real_scandir, real_lstat, real_open, real_stat, real_readlink = (os.scandir, os.lstat, os.open, os.stat,
                                                                     os.readlink)

    def failing(real: Callable[..., Any], hit: Callable[[str], bool]) -> Callable[..., Any]:
        def call(path: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(path, (str, Path)):
                full = os.fspath(path)
                if kwargs.get("dir_fd") is not None:
                    # Relative to a folder serve holds open: judged by the folder's path.
                    full = os.path.join(real_readlink(f"/proc/self/fd/{kwargs['dir_fd']}"), full)
                if hit(full):
                    raise _exhausted(full)
            return real(path, *args, **kwargs)
        return call

    private_victim = (str(private / "victim") + "/", os.path.realpath(private / "victim") + "/")

    def in_private(path: str) -> bool:
        return path.startswith(private_victim)

    if where == "folder listing":
        monkeypatch.setattr(os, "scandir", failing(real_scandir, lambda path: path.endswith("/victim")))
    elif where == "private lstat":
        monkeypatch.setattr(os, "lstat", failing(real_lstat, in_private))
    elif where == "private open":
        monkeypatch.setattr(os, "open", failing(real_open, in_private))
    elif where == "private link":
        monkeypatch.setattr(os, "readlink", failing(real_readlink, in_private))
    else:
        in_public = (str(uploads / "victim") + "/", os.path.realpath(uploads / "victim") + "/")
        monkeypatch.setattr(os, "open", failing(real_open, lambda path: path.startswith(in_public)))
        monkeypatch.setattr(os, "stat", failing(real_stat, lambda path: path.startswith(in_public)))
        monkeypatch.setattr(os, "lstat", failing(real_lstat, lambda path: path.startswith(in_public)))
    with pytest.raises(OSError) as caught:
        build_session_of(fixture_app)
    assert caught.value.errno == errno.EMFILE and "victim" in str(caught.value.filename)
    assert not list((fixture_app / "web" / "synco-wild").glob("encrypted-resources-*"))


def test_the_command_line_says_what_to_do_when_descriptors_ran_out() -> None:
    from synco_core.cli.main import _short_of

    assert "ulimit -n" in _short_of(_exhausted("/srv/app/uploads/a"))
    assert _short_of(OSError(errno.EACCES, "Permission denied", "/x")) == ""


def _swapping_folders(walk: Callable[..., Iterator[Any]], outside: Path) -> Callable[..., Iterator[Any]]:
    """``walk`` whose folders named ``swap*`` are replaced by a link to ``outside`` right after the walk saw a
    file in them, and whose links named ``retarget*`` are pointed at ``outside``'s secret meanwhile (an
    uploader racing serve)."""

    def swapped(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for item in walk(*args, **kwargs):
            path = Path(item[1].path)
            if path.parent.name.startswith("swap") and not path.parent.is_symlink():
                shutil.rmtree(path.parent)
                path.parent.symlink_to(outside)
            if path.name.startswith("retarget") and path.is_symlink():
                path.unlink()
                path.symlink_to(outside / "secret.txt")
            yield item

    return swapped


def test_a_folder_swapped_for_a_link_after_the_walk_is_never_read_through(fixture_app: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """An uploader replaces a folder serve has listed with a link to a folder of secrets holding the same
    names, or points a link serve judged harmless elsewhere: neither a pack, nor a tar member, nor a hash
    or size in the index comes from outside the set."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = b"DB_PASSWORD=hunter2\n"
    large_secret = b"K" * (public_set_module.SMALL_FILE_MAX + 100)
    (outside / "secret.txt").write_bytes(secret)
    (outside / "big.bin").write_bytes(large_secret)
    for base in (fixture_app / "web" / "uploads", fixture_app / "private"):
        (base / "swap").mkdir()
        (base / "swap" / "secret.txt").write_bytes(b"decoy")
        (base / "swapbig").mkdir()
        (base / "swapbig" / "big.bin").write_bytes(b"d" * (public_set_module.SMALL_FILE_MAX + 100))
        (base / "inside.txt").write_bytes(b"harmless")
        (base / "retarget.txt").symlink_to("inside.txt")
    monkeypatch.setattr(public_set_module, "sorted_walk_lstat",
                        _swapping_folders(public_set_module.sorted_walk_lstat, outside))
    monkeypatch.setattr(build_module, "_walk", _swapping_folders(build_module._walk, outside))
    key = SessionKey.generate()
    build(fixture_app, key)
    session = Session(fixture_app / "web" / "synco-wild", key)
    table = session.packs("uploads")
    entries = dict(session.index("uploads"))
    hashes = {hashlib.sha256(secret).hexdigest(), hashlib.sha256(large_secret).hexdigest()}
    for path, entry in entries.items():
        assert entry.sha256 not in hashes, path
        assert entry.size_bytes not in (len(secret), len(large_secret)) or not path.startswith(("swap", "retarget"))
        if entry.pack is not None:
            assert session.packed_content(table[entry.pack], entry.pack_offset, entry.size_bytes) != secret
    assert "inside.txt" in entries
    received = received_private(session, "private", tmp_path / "got")
    assert secret.decode() not in received.values() and large_secret.decode() not in received.values()
    assert received["inside.txt"] == "harmless"


def test_a_public_file_that_grows_without_end_is_not_read_past_its_size(fixture_app: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """An uploader appending to a large file faster than serve hashes it: serve reads no more than the size
    the file had when it was opened, and lists it without a hash, instead of reading for ever."""
    victim = fixture_app / "web" / "uploads" / "growing.bin"
    size = public_set_module.SMALL_FILE_MAX + 100
    victim.write_bytes(b"g" * size)
    inode = victim.stat().st_ino
    fed = [0]

    class Appending(io.FileIO):
        """The victim read as a writer that always stays ahead would have it: every read appends a block (at
        most 64 times, so that the test ends without the fix too)."""

        def readinto(self, buffer: Any) -> int:
            count = super().readinto(buffer) or 0
            fed[0] += count
            if fed[0] < 64 * public_set_module.HASH_BLOCK:
                with victim.open("ab") as handle:
                    handle.write(b"+" * public_set_module.HASH_BLOCK)
            return count

    def opening(file: Any, mode: str = "r", buffering: int = -1, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, int) and os.fstat(file).st_ino == inode and buffering == 0:
            return Appending(file, "rb")
        return open(file, mode, buffering, *args, **kwargs)

    monkeypatch.setattr(public_set_module, "open", opening, raising=False)
    key = SessionKey.generate()
    build(fixture_app, key)
    entries = dict(Session(fixture_app / "web" / "synco-wild", key).index("uploads"))
    assert fed[0] <= size
    assert entries["growing.bin"].sha256 is None
