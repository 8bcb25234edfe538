"""A model of re-syncs: whatever happens on the server and in the local folder between two receives, the
set's folder ends up holding exactly the server's files (bytes, and mtimes in whole seconds), plus the
local files the server does not have unless ``--delete``; nothing half-written; and a receive of an
unchanged set fetches no file.

The rules change the server's set (add, delete, rewrite with the same size, with the same size *and*
mtime, touch, rename, rename by case, a file becoming a folder or a link and back, sizes on both sides of
the pack threshold, the set emptied) and the local folder (edit, delete, add, touch, chmod, a file
replaced by a folder, the whole folder removed so that the next receive is a first one through the
staging folder); then a serve (a new session, or the same one again) and a receive (with or without
``--delete``). After every receive the folder is compared with what the server's folder held when the
session was built. Each example runs with serve's walk worker, receive's pack workers and its index
worker either off or lowered to a file or two, so that the multi-process paths run at these sizes; the
transports are Python's static server, a real nginx and ``serve --listen``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from test_transfer_support import MARKER, FixturePlugin, publish, static_server

from synco_core import workerframes
from synco_core.cli.main import cli
from synco_core.detection import detect
from synco_core.index import hashcache, packs
from synco_core.receive import indexprocess, public, workers
from synco_core.serve import walkprocess
from synco_core.serve.build import BuildOptions
from synco_core.serve.runner import PublishedSession, ServeOptions, serve
from synco_core.testing.services import nginx

#: A few names, some differing only in case, so that paths collide, nest and get renamed by case, and one that
#: a URL must quote.
SEGMENTS = ("a", "A", "b", "c.txt", "C.txt", "d", "ü e%41#?")
#: Sizes around the pack threshold (a packed file is at most SMALL_FILE_MAX bytes), empty, and large.
SIZES = (0, 1, 100, packs.SMALL_FILE_MAX - 1, packs.SMALL_FILE_MAX, packs.SMALL_FILE_MAX + 1, 40_000)
#: mtimes in nanoseconds: whole seconds, a fraction of one, and one 1 s apart (the same within a tick?).
MTIMES = (1_600_000_000_000_000_000, 1_700_000_000_000_000_000, 1_700_000_000_500_000_000,
          1_700_000_001_000_000_000)

paths = st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=3).map("/".join)
#: Which of the existing files a change takes (modulo their number).
picks = st.integers(min_value=0, max_value=10_000)

#: name -> strategy of the keyword arguments of every change (:func:`change`).
CHANGES: dict[str, Any] = {}


def change(**arguments: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a method of the model as a change of the server or the local folder, with the strategies of
    its arguments: a step of the model is a few changes, then a receive."""
    def register(method: Callable[..., None]) -> Callable[..., None]:
        CHANGES[method.__name__] = st.fixed_dictionaries(arguments)
        return method
    return register


def changes() -> Any:
    return st.lists(st.one_of(*(st.tuples(st.just(name), kwargs) for name, kwargs in CHANGES.items())),
                    max_size=4)


@dataclass(frozen=True)
class Found:
    """A file as the comparison sees it: its content's SHA-256 and whole-second mtime."""

    sha256: str
    mtime: int


def content(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def server_files(root: Path) -> dict[str, Found]:
    """What a receive must bring: every file of the set, links followed as the web server does (a link to
    something that is not a file, or to nothing, is left out)."""
    found: dict[str, Found] = {}
    for current, dirs, names in os.walk(root):
        dirs[:] = [name for name in dirs if not os.path.islink(os.path.join(current, name))]
        for name in names:
            path = Path(current) / name
            try:
                info = path.stat()
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                found[path.relative_to(root).as_posix()] = Found(hashlib.sha256(path.read_bytes()).hexdigest(),
                                                                 int(info.st_mtime))
    return found


def local_files(root: Path) -> dict[str, Found]:
    """Everything in the local folder; anything but a regular file or a folder is a failure of its own."""
    found: dict[str, Found] = {}
    for current, _dirs, names in os.walk(root):
        for name in names:
            path = Path(current) / name
            info = path.lstat()
            assert stat.S_ISREG(info.st_mode), f"{path} is not a regular file"
            mode = stat.S_IMODE(info.st_mode)
            if not mode & 0o400:
                os.chmod(path, mode | 0o400)
            found[path.relative_to(root).as_posix()] = Found(hashlib.sha256(path.read_bytes()).hexdigest(),
                                                             int(info.st_mtime))
            if not mode & 0o400:
                os.chmod(path, mode)
    return found


def local_folders(root: Path) -> set[str]:
    """The folders below ``root`` (not through links)."""
    return {(Path(current) / name).relative_to(root).as_posix()
            for current, dirs, _names in os.walk(root) for name in dirs
            if not os.path.islink(os.path.join(current, name))}


def _prefixes(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:depth]) for depth in range(1, len(parts))]


def collides(path: str, others: dict[str, Found]) -> bool:
    """True when ``path`` cannot be a file beside ``others``: one of them lies below it, or it below one."""
    parts = path.split("/")
    prefixes = {"/".join(parts[:depth]) for depth in range(1, len(parts))}
    return any(other.startswith(path + "/") or other in prefixes for other in others)


@dataclass
class Transport:
    """How sessions reach the receiver: ``publish`` builds one, ``receive`` runs the CLI against it."""

    name: str
    app: Path
    target: Path
    url: str = ""
    requests: Callable[[], list[str]] | None = None
    sessions: int = 0
    extra: list[str] = field(default_factory=list)


class ResyncModel(RuleBasedStateMachine):
    """The server's set, the local folder, and what each receive must leave there."""

    transport_name = "static"
    start_transport: Callable[[Path, Path], Any] | None = None

    def __init__(self) -> None:
        super().__init__()
        self.work = Path(tempfile.mkdtemp(prefix="synco-resync-model-"))
        self.app = self.work / "app"
        self.uploads = self.app / "web" / "uploads"
        self.uploads.mkdir(parents=True)
        (self.app / MARKER).write_text("fixture\n")
        (self.app / "data.db").write_bytes(b"db")
        self.target = self.work / "out"
        self.local = self.target / "uploads"
        self.session = ""
        self.key: Any = None
        self.published: dict[str, Found] | None = None
        self.received = False
        self.seed = 0
        #: path -> (bytes, mtime in ns) before the server's last rewrite of it.
        self.history: dict[str, tuple[bytes, int]] = {}
        self._stack = contextlib.ExitStack()
        self._saved: list[tuple[Any, str, Any]] = []
        self._env: dict[str, str | None] = {}
        self.url = ""
        self.requests: Callable[[], list[str]] = list
        self.clear_requests: Callable[[], None] = lambda: None

    # ------------------------------------------------------------------------------------------ set-up

    @initialize(serve_worker=st.sampled_from(["0", "1", "3"]), receive_workers=st.booleans(),
                index_worker=st.booleans())
    def start(self, serve_worker: str, receive_workers: bool, index_worker: bool) -> None:
        self._setenv(walkprocess.MIN_FILES_ENV, serve_worker)
        # The cache trusts a file recorded before the serve started; files written a moment before it are
        # hashed again (their times could hide a change in the same clock tick): a short window keeps the
        # cache in play at these speeds without opening that hole.
        self._setattr(hashcache, "RACY_SECONDS", 0.05)
        if receive_workers:
            self._setattr(workers, "MIN_FILES", 1)
            self._setattr(public, "PACK_TASK_FILES", 2)
        if index_worker:
            self._setattr(indexprocess, "MIN_FILES", 1)
        if receive_workers or index_worker:
            self._setattr(workerframes, "usable_cores", lambda: 2)
        self._start_transport()

    def _setenv(self, name: str, value: str) -> None:
        self._env.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def _setattr(self, owner: Any, name: str, value: Any) -> None:
        self._saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def _start_transport(self) -> None:
        web = self.app / "web"
        if self.transport_name == "static":
            url, behaviour = self._stack.enter_context(static_server(web))
            self.url = url
            self.requests = lambda: list(behaviour.requests)
            self.clear_requests = behaviour.requests.clear
        elif self.transport_name == "nginx":
            server = self._stack.enter_context(nginx(web, self.work / "nginx", laravel=False))
            self.url = server.url
            self.requests = lambda: [line[1] for line in server.requests()]
            self.clear_requests = lambda: None

    def teardown(self) -> None:
        self._stack.close()
        for owner, name, value in reversed(self._saved):
            setattr(owner, name, value)
        for name, value in self._env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for current, dirs, _names in os.walk(self.work):
            for name in dirs:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(current, name), 0o700)
        shutil.rmtree(self.work, ignore_errors=True)

    # ---------------------------------------------------------------------------------------- helpers

    def server_paths(self) -> list[str]:
        return sorted(server_files(self.uploads))

    def local_paths(self) -> list[str]:
        return sorted(local_files(self.local)) if self.local.is_dir() else []

    def _write(self, root: Path, path: str, size: int, mtime_ns: int) -> None:
        """Write a file at ``path`` below ``root``, whatever is in the way (a file where a folder must be, a
        folder or a link where the file goes)."""
        self.seed += 1
        parts = path.split("/")
        for depth in range(1, len(parts)):
            above = root.joinpath(*parts[:depth])
            if above.is_symlink() or above.is_file():
                above.unlink()
        place = root / path
        if place.is_symlink() or place.is_file():
            place.unlink()
        elif place.is_dir():
            shutil.rmtree(place)
        place.parent.mkdir(parents=True, exist_ok=True)
        place.write_bytes(content(self.seed, size))
        os.utime(place, ns=(mtime_ns, mtime_ns))

    def _changed(self) -> None:
        self.published = None

    # ---------------------------------------------------------------------------------- server rules

    @change(path=paths, size=st.sampled_from(SIZES), mtime=st.sampled_from(MTIMES))
    def server_add(self, path: str, size: int, mtime: int) -> None:
        self._write(self.uploads, path, size, mtime)
        self._changed()

    @change(pick=picks)
    def server_delete(self, pick: int) -> None:
        found = self.server_paths()
        if found:
            (self.uploads / found[pick % len(found)]).unlink()
            self._changed()

    @change(pick=picks, keep_mtime=st.booleans(), mtime=st.sampled_from(MTIMES))
    def server_rewrite_same_size(self, pick: int, keep_mtime: bool, mtime: int) -> None:
        """New bytes of the same length; with ``keep_mtime`` the mtime put back as it was (``cp -p``, ``touch
        -r``, a deploy giving every file one mtime): only the ctime and the content tell."""
        found = [path for path in self.server_paths() if not (self.uploads / path).is_symlink()]
        if not found:
            return
        path = found[pick % len(found)]
        place = self.uploads / path
        info = place.stat()
        self.history[path] = (place.read_bytes(), info.st_mtime_ns)
        self.seed += 1
        new = content(self.seed, info.st_size)
        with open(place, "r+b") as handle:
            handle.write(new)
        os.utime(place, ns=(info.st_atime_ns, info.st_mtime_ns if keep_mtime else mtime))
        self._changed()

    @change(pick=picks)
    def server_roll_back(self, pick: int) -> None:
        """A file rewritten before gets its earlier bytes and mtime back (a deploy rolled back)."""
        found = [path for path in sorted(self.history) if (self.uploads / path).is_file()
                 and not (self.uploads / path).is_symlink()]
        if not found:
            return
        path = found[pick % len(found)]
        held, mtime = self.history.pop(path)
        self._write(self.uploads, path, 0, mtime)
        (self.uploads / path).write_bytes(held)
        os.utime(self.uploads / path, ns=(mtime, mtime))
        self._changed()

    @change(pick=picks, mtime=st.sampled_from(MTIMES))
    def server_touch(self, pick: int, mtime: int) -> None:
        found = self.server_paths()
        if found:
            os.utime(self.uploads / found[pick % len(found)], ns=(mtime, mtime))
            self._changed()

    @change(pick=picks, new=paths)
    def server_rename(self, pick: int, new: str) -> None:
        found = self.server_paths()
        if not found:
            return
        old = found[pick % len(found)]
        if new == old or new.startswith(old + "/") or old.startswith(new + "/"):
            return
        held = (self.uploads / old).read_bytes()
        mtime = (self.uploads / old).stat().st_mtime_ns
        (self.uploads / old).unlink()
        self._write(self.uploads, new, 0, mtime)
        (self.uploads / new).write_bytes(held)
        os.utime(self.uploads / new, ns=(mtime, mtime))
        self._changed()

    @change(pick=picks)
    def server_rename_case(self, pick: int) -> None:
        found = [path for path in self.server_paths() if path.rsplit("/", 1)[-1].swapcase() != path.rsplit("/", 1)[-1]]
        if not found:
            return
        old = found[pick % len(found)]
        head, _, name = old.rpartition("/")
        new = f"{head}/{name.swapcase()}" if head else name.swapcase()
        if new in found or collides(new, server_files(self.uploads)):
            return
        os.rename(self.uploads / old, self.uploads / new)
        self._changed()

    @change(pick=picks, size=st.sampled_from(SIZES), mtime=st.sampled_from(MTIMES))
    def server_file_to_folder(self, pick: int, size: int, mtime: int) -> None:
        found = self.server_paths()
        if found:
            path = found[pick % len(found)]
            self._write(self.uploads, f"{path}/{SEGMENTS[pick % len(SEGMENTS)]}", size, mtime)
            self._changed()

    @change(pick=picks)
    def server_file_to_link(self, pick: int) -> None:
        """A file replaced by a link to another file of the set (served, and listed, as that file)."""
        found = [path for path in self.server_paths() if not (self.uploads / path).is_symlink()]
        if len(found) < 2:
            return
        path = found[pick % len(found)]
        others = [other for other in found if other != path]
        to = others[(pick // 7) % len(others)]
        place = self.uploads / path
        place.unlink()
        place.symlink_to(os.path.relpath(self.uploads / to, place.parent))
        self._changed()

    @change()
    def server_empty(self) -> None:
        shutil.rmtree(self.uploads)
        self.uploads.mkdir()
        self._changed()

    # ----------------------------------------------------------------------------------- local rules

    @change(pick=picks, mtime=st.sampled_from(MTIMES), grow=st.booleans())
    def local_edit(self, pick: int, mtime: int, grow: bool) -> None:
        """A local edit that changes the size or the mtime (one that keeps both is not seen, as with rsync)."""
        found = self.local_paths()
        if not found:
            return
        place = self.local / found[pick % len(found)]
        os.chmod(place, 0o600)
        before = place.stat()
        place.write_bytes(place.read_bytes() + b"x" if grow else b"local edit")
        if place.stat().st_size == before.st_size:
            mtime = before.st_mtime_ns + 7_000_000_000
        os.utime(place, ns=(mtime, mtime))

    @change(pick=picks)
    def local_delete(self, pick: int) -> None:
        found = self.local_paths()
        if found:
            (self.local / found[pick % len(found)]).unlink()

    @change(path=paths, size=st.sampled_from((0, 5, 20_000)), mtime=st.sampled_from(MTIMES))
    def local_add(self, path: str, size: int, mtime: int) -> None:
        found = local_files(self.local) if self.local.is_dir() else {}
        if path in found or collides(path, found) or (self.local / path).is_dir():
            return
        self._write(self.local, path, size, mtime)

    @change(pick=picks, mtime=st.sampled_from(MTIMES))
    def local_touch(self, pick: int, mtime: int) -> None:
        found = self.local_paths()
        if found:
            os.utime(self.local / found[pick % len(found)], ns=(mtime, mtime))

    @change(pick=picks, mode=st.sampled_from((0o444, 0o600, 0o000)))
    def local_chmod(self, pick: int, mode: int) -> None:
        found = self.local_paths()
        if found:
            os.chmod(self.local / found[pick % len(found)], mode)

    @change(pick=picks, empty=st.booleans())
    def local_file_to_folder(self, pick: int, empty: bool) -> None:
        found = self.local_paths()
        if not found:
            return
        place = self.local / found[pick % len(found)]
        place.unlink()
        place.mkdir()
        if not empty:
            (place / "mine.txt").write_bytes(b"a local file in a local folder")

    @change(path=paths, nested=st.booleans())
    def local_add_folder(self, path: str, nested: bool) -> None:
        """A folder of the user's that never held a file the server sent (empty, or of empty folders)."""
        found = local_files(self.local) if self.local.is_dir() else {}
        if path in found or collides(path, found):
            return
        with contextlib.suppress(OSError):
            (self.local / path / ("deeper" if nested else "")).mkdir(parents=True, exist_ok=True)

    @change()
    def local_remove_set(self) -> None:
        """The set's folder gone: the next receive is a first one again (the staging folder)."""
        if self.local.exists():
            shutil.rmtree(self.local)

    # ---------------------------------------------------------------------------------------- receive

    def _publish(self) -> None:
        self.published = server_files(self.uploads)
        self.session = f"synco-resyncmodel{len(self.session_names):08d}"
        self.session_names.append(self.session)
        self.key = publish(self.app, self.session, only=("uploads",))

    @property
    def session_names(self) -> list[str]:
        names: list[str] = self.__dict__.setdefault("_session_names", [])
        return names

    def _cli_receive(self, delete: bool, max_delete: int | None = None) -> Any:
        self.clear_requests()
        argv = ["receive", self.session, self.key.secret, "--base-url", self.url, "--target", str(self.target),
                "--only", "uploads", "--jobs", "3"]
        limit = ["--max-delete", str(max_delete)] if max_delete is not None else []
        return CliRunner().invoke(cli, [*argv, *(["--delete"] if delete else []), *limit])

    def _refused(self, before: dict[str, Found], delete: bool, max_delete: int | None) -> bool:
        """Whether the receive refuses the set's deletions, changing nothing of it: ``--max-delete N`` and more
        than N local files gone from the server, or, without it, a set the server lists no file in while the
        folder holds some (an unmounted share looks like that; emptied on purpose, it takes the option)."""
        assert self.published is not None
        removing = len(set(before) - set(self.published))
        if not delete:
            return False
        if max_delete is not None:
            return removing > max_delete
        return not self.published and removing > 0

    def _blocked(self, before: dict[str, Found]) -> set[str]:
        """The server's files a receive without ``--delete`` cannot write: a local file not on the server is in
        the way of one of its folders, or a local folder holding files of its own is where it goes."""
        assert self.published is not None
        return {path for path in self.published
                if any(other.startswith(path + "/") for other in before)
                or any(prefix in before and prefix not in self.published for prefix in _prefixes(path))}

    def _expected(self, before: dict[str, Found], delete: bool) -> dict[str, Found]:
        assert self.published is not None
        if delete:
            return dict(self.published)
        blocked = self._blocked(before)
        expected = {path: found for path, found in self.published.items() if path not in blocked}
        for path, found in before.items():
            if path not in self.published and not collides(path, expected):
                expected[path] = found
        return expected

    def _check(self, result: Any, before: dict[str, Found], delete: bool, max_delete: int | None = None) -> None:
        if self._refused(before, delete, max_delete):
            assert result.exit_code == 1, result.output
            assert "refused" in result.output or "--max-delete" in result.output, result.output
            assert "nothing was received or changed" in result.output, result.output
            folders = local_folders(self.local)
            assert local_files(self.local) == before, result.output
            # Nothing at all changed: not even the folders --delete would have removed.
            assert local_folders(self.local) == folders
            self.received = True
            return
        blocked = set() if delete else self._blocked(before)
        if blocked:
            assert result.exit_code == 1, result.output
            for path in blocked:
                assert f"failed: {path}: a f" in result.output, result.output
            assert "receive with --delete" in result.output, result.output
        else:
            assert result.exit_code == 0, result.output
        self.received = True
        expected = self._expected(before, delete)
        assert local_files(self.local) == expected, result.output
        if delete:
            # rsync's --delete: no folder the server does not have is left, empty or emptied.
            assert local_folders(self.local) == {prefix for path in expected for prefix in _prefixes(path)}, \
                result.output
        if self.transport_name == "static":
            # Only what changed is downloaded: no file the folder held as the server has it is fetched (the
            # files out of packs come by ranges of the session's packs, not by their own URLs).
            fetched = {unquote(path.removeprefix("/uploads/")) for path in self.requests()
                       if path.startswith("/uploads/")}
            assert self.published is not None
            needless = sorted(path for path in fetched if path in before and before[path] == self.published.get(path))
            assert not needless, f"fetched again though current: {needless}"
        leftovers = [name for name in os.listdir(self.target)
                     if name.startswith(".synco-index-") or name.endswith(".synco-new")]
        assert not leftovers, leftovers

    @rule(steps=st.deferred(changes), delete=st.booleans(), new_session=st.booleans(),
          max_delete=st.sampled_from((None, None, 0, 1, 3, 10_000)))
    def receive(self, steps: list[tuple[str, dict[str, Any]]], delete: bool, new_session: bool,
                max_delete: int | None = None) -> None:
        for name, kwargs in steps:
            getattr(self, name)(**kwargs)
        before = local_files(self.local) if self.local.is_dir() else {}
        if self.transport_name == "listen":
            self._receive_listen(before, delete, again=False, max_delete=max_delete)
            return
        if self.published is None or new_session:
            self._publish()
        self._check(self._cli_receive(delete, max_delete), before, delete, max_delete)

    @precondition(lambda self: self.received)
    @rule(new_session=st.booleans())
    def receive_unchanged(self, new_session: bool) -> None:
        """Received with ``--delete`` and nothing changed since: a receive fetches no file."""
        before = local_files(self.local) if self.local.is_dir() else {}
        if self.transport_name == "listen":
            self._receive_listen(before, True, again=True)
            return
        if self.published is None or new_session:
            self._publish()
        self._check(self._cli_receive(True), before, True)
        if self.transport_name == "static":
            self.clear_requests()
            self._check(self._cli_receive(True), local_files(self.local), True)
            fetched = [path for path in self.requests() if not path.startswith(f"/{self.session}/")]
            assert not fetched, f"an unchanged set fetched {fetched}"

    def _receive_listen(self, before: dict[str, Found], delete: bool, again: bool,
                        max_delete: int | None = None) -> None:
        seen: list[str] = []

        def on_request(_method: str, path: str, _status: int) -> None:
            seen.append(path)

        def on_ready(published: PublishedSession) -> None:
            assert published.base_url is not None
            self.session, self.key, self.url = published.session, published.key, published.base_url
            self._check(self._cli_receive(delete, max_delete), before, delete, max_delete)
            if again:
                seen.clear()
                self._check(self._cli_receive(True), local_files(self.local), True)
                fetched = [path for path in seen if f"/{self.session}/" not in path]
                assert not fetched, f"an unchanged set fetched {fetched}"

        self.published = server_files(self.uploads)
        serve(detect(self.app), ServeOptions(listen="127.0.0.1:0", keep=True, on_request=on_request,
                                             build=BuildOptions(only=("uploads",))),
              echo=lambda _line: None, on_ready=on_ready)

    @invariant()
    def nothing_half_written(self) -> None:
        if self.target.is_dir():
            for current, _dirs, names in os.walk(self.target):
                parts = [name for name in names if ".synco-part" in name or name.endswith(".tmp")]
                assert not parts, f"left in {current}: {parts}"


#: Bounded so that the three transports take well under a minute together (a step is a serve and a receive).
MODEL_SETTINGS = settings(max_examples=12, stateful_step_count=8, deadline=None,
                          suppress_health_check=list(HealthCheck))


def run_model(transport: str, **overrides: Any) -> None:
    model = type(f"ResyncModel_{transport}", (ResyncModel,), {"transport_name": transport})
    run_state_machine_as_test(model, settings=settings(MODEL_SETTINGS, **overrides))


@pytest.fixture
def fixture_plugin(register_plugin: Any) -> Iterator[None]:
    register_plugin(FixturePlugin(), "fixture")
    yield


def test_resync_model_static_server(fixture_plugin: None) -> None:
    run_model("static")


def test_resync_model_nginx(fixture_plugin: None) -> None:
    run_model("nginx", max_examples=4)


def test_resync_model_listen(fixture_plugin: None) -> None:
    run_model("listen", max_examples=4)


# ------------------------------------------------------------------------------ explicit regressions


@contextlib.contextmanager
def model(transport: str = "static", **start: Any) -> Iterator[ResyncModel]:
    """One run of the model driven by hand (the examples the state machine found, kept whatever it draws)."""
    machine = type(f"ResyncModel_{transport}", (ResyncModel,), {"transport_name": transport})()
    try:
        machine.start(**{"serve_worker": "0", "receive_workers": False, "index_worker": False, **start})
        yield machine
    finally:
        machine.teardown()


A, B = MTIMES[0], MTIMES[1]


@pytest.mark.parametrize("size", [5, 40_000])
def test_a_file_the_server_turned_into_a_folder_arrives_with_delete(fixture_plugin: None, size: int) -> None:
    """The received file ``a`` is in the way of the server's new ``a/b``: ``--delete`` removes it before the
    fetch, where it used to remove it after, once ``a/b`` had failed (at every receive)."""
    with model() as machine:
        machine.receive([("server_add", {"path": "a", "size": size, "mtime": A})], delete=False, new_session=True)
        machine.receive([("server_file_to_folder", {"pick": 0, "size": size, "mtime": B})], delete=True,
                        new_session=True)
        assert (machine.local / "a").is_dir()


@pytest.mark.parametrize("size", [5, 40_000])
def test_a_folder_the_server_turned_into_a_file_arrives_with_delete(fixture_plugin: None, size: int) -> None:
    """The server's ``d/x`` became the file ``d``: ``--delete`` removes ``d/x`` and the folder it leaves empty
    before ``d`` is written."""
    with model() as machine:
        machine.receive([("server_add", {"path": "d/x", "size": size, "mtime": A})], delete=False, new_session=True)
        machine.receive([("server_add", {"path": "d", "size": size, "mtime": B})], delete=True, new_session=True)
        assert (machine.local / "d").is_file()


def test_delete_removes_the_folders_it_empties(fixture_plugin: None) -> None:
    """rsync's --delete removes folders the source does not have; the index lists files only, so a folder left
    holding none of them goes with its last file."""
    with model() as machine:
        machine.receive([("server_add", {"path": "d/b/x", "size": 5, "mtime": A}),
                         ("server_add", {"path": "a", "size": 5, "mtime": A})], delete=False, new_session=True)
        machine.receive([("server_delete", {"pick": 1})], delete=True, new_session=True)
        assert sorted(os.listdir(machine.local)) == ["a"]


@pytest.mark.parametrize("nested", [False, True])
def test_delete_removes_folders_that_never_held_a_file(fixture_plugin: None, nested: bool) -> None:
    """A local folder the server never had, empty or of empty folders, goes with --delete (rsync's --delete
    removes extraneous folders, not only the files in them); the set's own folder stays, even emptied (a set
    emptied on purpose takes ``--max-delete``: without it, the receive refuses to empty it, changing nothing)."""
    with model() as machine:
        machine.receive([("server_add", {"path": "d/x", "size": 5, "mtime": A})], delete=False, new_session=True)
        machine.receive([("local_add_folder", {"path": "e", "nested": nested}),
                         ("local_add_folder", {"path": "d/b", "nested": nested})], delete=False, new_session=False)
        assert (machine.local / "e").is_dir() and (machine.local / "d" / "b").is_dir()
        machine.receive([], delete=True, new_session=False)
        assert sorted(os.listdir(machine.local)) == ["d"] and os.listdir(machine.local / "d") == ["x"]
        machine.receive([("server_delete", {"pick": 0}), ("local_add_folder", {"path": "e", "nested": nested})],
                        delete=True, new_session=True)
        assert sorted(os.listdir(machine.local)) == ["d", "e"] and os.listdir(machine.local / "d") == ["x"]
        machine.receive([], delete=True, new_session=False, max_delete=1)
        assert machine.local.is_dir() and os.listdir(machine.local) == []


def test_delete_does_not_follow_a_link_to_a_folder(fixture_plugin: None, tmp_path: Path) -> None:
    """A local link to a folder elsewhere is removed as the link it is; the empty folders it points to stay."""
    outside = tmp_path / "elsewhere"
    (outside / "empty" / "deeper").mkdir(parents=True)
    with model() as machine:
        machine.receive([("server_add", {"path": "a", "size": 5, "mtime": A})], delete=False, new_session=True)
        (machine.local / "link").symlink_to(outside, target_is_directory=True)
        machine.receive([], delete=True, new_session=False)
        assert not os.path.lexists(machine.local / "link")
        assert (outside / "empty" / "deeper").is_dir()


@pytest.mark.parametrize("size", [5, 40_000])
@pytest.mark.parametrize("delete", [False, True])
def test_an_empty_local_folder_where_a_file_goes_is_replaced(fixture_plugin: None, size: int, delete: bool) -> None:
    """An empty folder holds nobody's data: it makes way for the server's file (rsync's behaviour), where it used
    to fail that file at every receive, and leave its part file behind."""
    with model() as machine:
        machine.receive([("server_add", {"path": "c.txt", "size": size, "mtime": A})], delete=False, new_session=True)
        machine.receive([("local_file_to_folder", {"pick": 0, "empty": True}),
                         ("server_touch", {"pick": 0, "mtime": B})], delete=delete, new_session=True)
        assert (machine.local / "c.txt").is_file()


def test_a_local_folder_of_local_files_where_a_file_goes_fails_that_file_and_names_delete(
        fixture_plugin: None) -> None:
    """Without --delete a folder holding local files is kept (as rsync without --force): that file fails, the
    message says what frees it, and nothing of it is left half-written; with --delete it arrives."""
    with model() as machine:
        machine.receive([("server_add", {"path": "c.txt", "size": 40_000, "mtime": A})], delete=False,
                        new_session=True)
        machine.receive([("local_file_to_folder", {"pick": 0, "empty": False}),
                         ("server_touch", {"pick": 0, "mtime": B})], delete=False, new_session=True)
        machine.receive([], delete=True, new_session=False)
        assert (machine.local / "c.txt").is_file()


def test_a_local_folder_of_empty_folders_where_a_file_goes_is_replaced(fixture_plugin: None) -> None:
    """Found by the model: the local files below ``a`` deleted, ``a/A`` left, and the server's ``a`` became a
    file. Folders holding no file are nobody's data."""
    with model() as machine:
        machine.receive([("server_add", {"path": "a/A/d", "size": 100, "mtime": A})], delete=False,
                        new_session=True)
        machine.receive([("local_delete", {"pick": 0}), ("server_add", {"path": "a", "size": 16383, "mtime": B})],
                        delete=False, new_session=True)
        assert (machine.local / "a").is_file()


@pytest.mark.parametrize(("old", "new"), [(1_700_000_000, 1_700_000_001), (1_000_000_000, 1_000_000_001)])
def test_a_server_touch_by_one_second_is_received(fixture_plugin: None, old: int, new: int) -> None:
    """Found by the model: a server file touched from an even second to the next odd one looked current on any
    file system (FAT's rounding was allowed for everywhere), and kept its old mtime for ever."""
    with model() as machine:
        machine.receive([("server_add", {"path": "c.txt", "size": 100, "mtime": old * 10**9})], delete=False,
                        new_session=True)
        machine.receive([("server_touch", {"pick": 0, "mtime": new * 10**9})], delete=False, new_session=True)
        assert int((machine.local / "c.txt").stat().st_mtime) == new


@pytest.mark.parametrize("new_session", [False, True])
def test_a_local_touch_back_by_one_second_is_undone(fixture_plugin: None, new_session: bool) -> None:
    """The quick re-sync's digest rounded mtimes to FAT's even seconds on every file system: a local file
    touched from an odd second back to the even one before it passed for the index's, and kept that mtime."""
    with model() as machine:
        machine.receive([("server_add", {"path": "c.txt", "size": 100, "mtime": 1_700_000_001 * 10**9})],
                        delete=True, new_session=True)
        machine.receive([("local_touch", {"pick": 0, "mtime": 1_700_000_000 * 10**9})], delete=True,
                        new_session=new_session)
        assert int((machine.local / "c.txt").stat().st_mtime) == 1_700_000_001


@pytest.mark.parametrize("size", [100, packs.SMALL_FILE_MAX, 40_000])
@pytest.mark.parametrize("serve_worker", ["0", "1"])
def test_a_server_rewrite_keeping_size_and_mtime_is_served_and_received(fixture_plugin: None, size: int,
                                                                        serve_worker: str) -> None:
    """The serve's cache (hashes, and small files' contents) must not trust size and mtime alone, as rsync's
    quick check does: ``cp -p``, ``touch -r`` or a deploy giving every file one mtime change a file and keep
    both. Its change time tells (no tool can set it), so the next session lists and packs the new bytes, and
    the receive (whose local file has the old size and mtime) fetches them by their hash."""
    with model(serve_worker=serve_worker) as machine:
        machine.receive([("server_add", {"path": "a/c.txt", "size": size, "mtime": A}),
                         ("server_add", {"path": "b", "size": size, "mtime": A})], delete=False, new_session=True)
        time.sleep(hashcache.RACY_SECONDS)
        # A second serve of the unchanged set: now it is in the cache.
        machine.receive([], delete=False, new_session=True)
        machine.receive([("server_rewrite_same_size", {"pick": 0, "keep_mtime": True, "mtime": B})],
                        delete=False, new_session=True)


def test_the_hashes_of_a_receive_that_failed_in_part_are_not_trusted_later(fixture_plugin: None) -> None:
    """A receive that fails one file (a local folder in its way) still brings the others: ``x`` arrives in its
    new version of the same size and mtime. The hashes noted by the last complete receive say ``x`` is the
    old one; once the server has that old version back, they must not pass the new bytes for it."""
    with model() as machine:
        machine.receive([("server_add", {"path": "x", "size": 100, "mtime": A}),
                         ("server_add", {"path": "y", "size": 100, "mtime": A})], delete=False, new_session=True)
        old = (machine.uploads / "x").read_bytes()
        machine.receive([("server_rewrite_same_size", {"pick": 0, "keep_mtime": True, "mtime": B}),
                         ("local_file_to_folder", {"pick": 1, "empty": False}),
                         ("server_touch", {"pick": 1, "mtime": B})], delete=False, new_session=True)
        assert (machine.local / "x").read_bytes() != old
        (machine.uploads / "x").write_bytes(old)
        os.utime(machine.uploads / "x", ns=(A, A))
        machine.published = None
        machine.receive([], delete=True, new_session=True)
        assert (machine.local / "x").read_bytes() == old


def test_a_set_with_a_file_failing_for_good_does_not_fetch_the_rest_again_and_again(fixture_plugin: None) -> None:
    """The hashes a receive that failed in part keeps mark the files it was to fetch as pending: the next
    receive reads those that look current to tell, and fetches none of them while another file keeps failing
    (a local folder of local files in its way)."""
    with model() as machine:
        machine.receive([("server_add", {"path": "x", "size": 40_000, "mtime": A}),
                         ("server_add", {"path": "y", "size": 100, "mtime": A})], delete=False, new_session=True)
        machine.receive([("server_touch", {"pick": 0, "mtime": B}),
                         ("local_file_to_folder", {"pick": 1, "empty": False}),
                         ("server_touch", {"pick": 1, "mtime": B})], delete=False, new_session=True)
        machine.clear_requests()
        machine.receive([], delete=False, new_session=False)
        fetched = [path for path in machine.requests() if not path.startswith(f"/{machine.session}/")]
        assert not fetched, fetched


@pytest.mark.parametrize("how", ["left behind", "made locally"])
def test_a_local_file_synco_did_not_receive_is_not_taken_for_the_server_one_by_size_and_mtime(
        fixture_plugin: None, how: str) -> None:
    """Found by the model: a file the set left behind (the server emptied, received without --delete), or one
    made locally, of the very size and mtime the server's new file has, passed for it. The hashes of the last
    receive have no line for it, so it was never received as any version: its bytes tell."""
    with model() as machine:
        machine.receive([("server_add", {"path": "x", "size": 100, "mtime": A}),
                         ("server_add", {"path": "y", "size": 5, "mtime": A})], delete=False, new_session=True)
        if how == "left behind":
            machine.receive([("server_delete", {"pick": 0})], delete=False, new_session=True)
            machine.receive([("server_add", {"path": "x", "size": 100, "mtime": A})], delete=True, new_session=True)
        else:
            machine.receive([("local_add", {"path": "z", "size": 5, "mtime": B}),
                             ("server_add", {"path": "z", "size": 5, "mtime": B})], delete=False, new_session=True)
