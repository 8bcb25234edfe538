"""What serve leaves out of a set, or lists without a hash, is counted in one line, not told a line per file.

A real server's uploads can hold thousands of files the serve user may not read (``www-data``'s 0600
uploads while serve runs as the deploy user): serve wrote one warning per file, 3,000 lines for 3,000
files, and no count. Now the first :data:`leftout.SHOWN` of a set are named, and one line counts them all,
whether the set is walked here or partly by serve's worker process.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from test_serve_public_index import Session
from test_serve_wild_trees import as_unprivileged, build
from test_transfer_support import FixturePlugin, fixture_app_fixture  # noqa: F401

from synco_core import leftout
from synco_core.index import hashcache
from synco_core.serve import SessionKey, walkprocess
from synco_core.testing.services import unavailable

#: More than are named, fewer than make a slow test.
MANY = 3 * leftout.SHOWN + 7


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def warnings_of(action: object) -> list[str]:
    """The warnings synco logs while ``action()`` runs."""
    kept = _Kept()
    root = logging.getLogger("synco_core")
    root.addHandler(kept)
    try:
        assert callable(action)
        action()
    finally:
        root.removeHandler(kept)
    return kept.lines


def per_set(lines: list[str], needle: str) -> list[str]:
    return [line for line in lines if needle in line]


@pytest.mark.parametrize("worker_after", ["0", "5"])
def test_names_no_receiver_could_take_are_counted_in_one_line(fixture_app: Path, monkeypatch: pytest.MonkeyPatch,
                                                              worker_after: str) -> None:
    """Names that are not UTF-8 (left out of both kinds of set): the first few named, then one count, also
    when serve's worker process (``SYNCO_SERVE_WORKER_FILES`` files on) walks most of the set."""
    monkeypatch.setenv(walkprocess.MIN_FILES_ENV, worker_after)
    uploads, private = os.fsencode(fixture_app / "web" / "uploads"), os.fsencode(fixture_app / "private")
    for folder in (uploads, private):
        for number in range(MANY):
            with open(os.path.join(folder, b"z-bad-\xff-%d.jpg" % number), "wb") as handle:
                handle.write(b"x")
    key = SessionKey.generate()
    lines = warnings_of(lambda: build(fixture_app, key))
    for where in ("/web/uploads/", "/private/"):
        assert len(per_set(lines, where)) == leftout.SHOWN, lines
    for name in ("uploads", "private"):
        assert f"{name}: {MANY} files or folders left out; the first {leftout.SHOWN} are named above, --debug " \
               "names every one" in lines, lines
    assert len(lines) == 2 * leftout.SHOWN + 2, lines
    session = Session(fixture_app / "web" / "synco-wild", key)
    assert not any(path.startswith("z-bad-") for path, _entry in session.index("uploads"))


def test_files_serve_cannot_read_are_counted_in_one_line(fixture_app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Uploads of another user, mode 0600: listed without a hash (the web server may read them), private
    ones left out; each kind counted per set."""
    if os.geteuid() != 0 and os.access("/", os.W_OK):
        unavailable("files this user may not read need a user that permissions bind")
    uploads, private = fixture_app / "web" / "uploads" / "closed", fixture_app / "private" / "closed"
    for folder in (uploads, private):
        folder.mkdir()
        for number in range(MANY):
            (folder / f"f{number}.jpg").write_bytes(b"y" * (number + 1))
    monkeypatch.setenv(hashcache.CACHE_ENV, str(fixture_app / "cache"))
    key = SessionKey.generate()

    def serve_it() -> list[str]:
        for folder in (uploads, private):
            for path in folder.iterdir():
                path.chmod(0)
        return warnings_of(lambda: build(fixture_app, key))

    lines = as_unprivileged(fixture_app, serve_it)
    assert isinstance(lines, list)
    assert len(per_set(lines, "/uploads/closed/")) == len(per_set(lines, "/private/closed/")) == leftout.SHOWN, lines
    assert f"uploads: {MANY} files listed without a content hash; the first {leftout.SHOWN} are named above, " \
           "--debug names every one" in lines, lines
    assert f"private: {MANY} files or folders left out; the first {leftout.SHOWN} are named above, " \
           "--debug names every one" in lines, lines
    entries = dict(Session(fixture_app / "web" / "synco-wild", key).index("uploads"))
    assert sum(path.startswith("closed/") and entry.sha256 is None for path, entry in entries.items()) == MANY


def test_a_few_are_each_named_without_a_count(fixture_app: Path) -> None:
    for number in range(leftout.SHOWN):
        with open(os.path.join(os.fsencode(fixture_app / "web" / "uploads"), b"bad-\xfe-%d" % number), "wb"):
            pass
    lines = warnings_of(lambda: build(fixture_app, SessionKey.generate()))
    assert len(lines) == leftout.SHOWN and not any("named above" in line for line in lines), lines


def test_the_worker_process_says_which_warnings_count() -> None:
    """Its warnings carry their kind; a warning of another kind is logged as it was."""
    collector = walkprocess._Warnings(logging.INFO)
    logger = logging.getLogger("synco_core.test_left_out")
    logger.addHandler(collector)
    logger.setLevel(logging.INFO)
    try:
        leftout.skipped(logger, "skipping %s", "a")
        leftout.unhashed(logger, "not hashing %s", "b")
        logger.warning("something else")
    finally:
        logger.removeHandler(collector)
    assert collector.take() == [(logging.WARNING, "skipping a", leftout.SKIPPED),
                                (logging.WARNING, "not hashing b", leftout.UNHASHED),
                                (logging.WARNING, "something else", None)]
