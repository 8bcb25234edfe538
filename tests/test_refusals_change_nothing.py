"""Every refusal that depends on a session's meta comes before anything local changes, in every receiving
command: the local database's rows, every file of the local project (the receive folder inside it, synco's
records and kept copies) and synco's cache folder (the seen-sessions record) are as they were.

The matrix: another project's session, a ``mustUnderstand`` name this synco does not know (the session's or
one set's), an expired session, a meta of a newer format (an unknown state, an unknown compression), a set
the server could not read (``unavailable``), each through ``receive``, ``receive --delete``, ``receive
--plan`` and ``receive --install --yes``, into a folder an earlier receive and install of the same project
filled. ``pull --install --yes`` (whose dump streams in and loads before the meta is read) is
tests/test_pull_other_project_install.py's. Then the refusals of deletions (``--max-delete`` as a total over
the run, a set listed empty the laptop would lose every file of), which come before anything arrives too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_receive_install import make_local
from test_receive_support import LocalProject
from test_transfer_support import FixturePlugin, make_app, publish, static_server, tree_digest

from synco_core import age
from synco_core.cli.main import cli
from synco_core.receive.meta import identities_for
from synco_core.serve import SessionFolder, SessionKey
from synco_core.wire import META_FILE

SESSION = "synco-refusalmatrix0123456"
HOUR = 3600


def entry(data: dict[str, Any], detail: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in data["fileSets"] if detail in s)
    return found


def expired(data: dict[str, Any]) -> None:
    now = int(time.time())
    data.update(createdAt=now - 3 * HOUR, expiresAt=now - 2 * HOUR)


REFUSALS: dict[str, Callable[[dict[str, Any]], None]] = {
    "other-project": lambda d: d.update(project={"id": "blake2b:" + "ab" * 12,
                                                 "name": "Fixture project of the sqlite database 'other.sqlite'"}),
    "must-understand": lambda d: d.update(mustUnderstand=["deltaIndex"]),
    "expired": expired,
    "newer-state": lambda d: d.update(state="Sealed"),
    "newer-compression": lambda d: entry(d, "sqliteDump")["sqliteDump"].update(compression="brotli"),
    "dump-set-must-understand": lambda d: entry(d, "sqliteDump").update(mustUnderstand=["deltaIndex"]),
    "files-set-must-understand": lambda d: entry(d, "publicFiles").update(mustUnderstand=["partialIndex"]),
    # A set whose folder serve could not read (an unmounted share): the other sets are not received either.
    "unavailable-set": lambda d: entry(d, "publicFiles").update(unavailable="folder /srv/app/web/uploads does "
                                                                           "not exist"),
}

#: The refusals of one set (the others are received; the plan lists it as refused), and where its copy is.
SET_ONLY = {"dump-set-must-understand": "received/dbDump", "files-set-must-understand": "received/uploads/"}

COMMANDS: dict[str, tuple[str, ...]] = {
    "receive": (),
    "receive --delete": ("--delete",),
    "receive --plan": ("--plan",),
    "receive --install --yes": ("--install", "--yes"),
}


def rewrite_meta(web: Path, key: SessionKey, change: Callable[[dict[str, Any]], None]) -> None:
    """The session's meta as a hostile, newer or later server would write it (same key, same artifacts)."""
    folder = SessionFolder(web / SESSION, key.recipients)
    data = json.loads(age.decrypt_bytes((folder.path / META_FILE).read_bytes(), identities_for(key.secret)))
    change(data)
    folder.write_small(META_FILE, json.dumps(data).encode())


def local_data(local: Path, cache: Path) -> tuple[object, ...]:
    with contextlib.closing(sqlite3.connect(local / "local.sqlite")) as conn:
        rows = conn.execute("SELECT * FROM items ORDER BY id").fetchall()
    return (hashlib.sha256(repr(rows).encode()).hexdigest(), tree_digest(local),
            tree_digest(cache) if cache.exists() else {})


def run(url: str, key: str, target: Path, local: Path, *extra: str, session: str = SESSION) -> Any:
    return CliRunner().invoke(cli, ["receive", session, key, "--base-url", url, "--target", str(target),
                                    "--project", str(local), "--all", *extra])


@dataclass
class Site:
    """The fixture application published as :data:`SESSION`, and the laptop's project on SQLite."""

    app: Path
    key: SessionKey
    local: Path
    #: The receive folder inside the project, as .synco.yml's default puts it: its records count too.
    target: Path
    #: The test's own cache (serve's hash cache, the sessions seen): what a refusal must not change either.
    cache: Path


def site(tmp_path: Path, register_plugin: Callable[[object, str], None], monkeypatch: pytest.MonkeyPatch,
         all_sets: bool = False) -> Site:
    """:class:`Site` (every set published with ``all_sets``, the thumbnails that are smart-skipped too)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("SYNCO_CACHE_DIR", str(cache))
    register_plugin(FixturePlugin(engine="sqlite"), "fixture")
    register_plugin(LocalProject(), "localproject")
    app = make_app(tmp_path / "app")
    key = publish(app, SESSION, all=all_sets)
    local = make_local(tmp_path / "local")
    return Site(app, key, local, local / "received", cache)


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_a_refused_session_changes_nothing_local(refusal: str, command: str, tmp_path: Path,
                                                 register_plugin: Callable[[object, str], None],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    made = site(tmp_path, register_plugin, monkeypatch)
    app, key, local, target, cache = made.app, made.key, made.local, made.target, made.cache
    with static_server(app / "web") as (url, _):
        first = run(url, key.secret, target, local, "--install", "--yes")
        assert first.exit_code == 0, first.output
        # The laptop's own file in a set's folder: --delete would take it, were the refusal late.
        (target / "uploads" / "laptop only.bin").write_bytes(b"the laptop's own")
        # Received once more as it is now, so that a receive of the same sets has nothing left to note.
        again = run(url, key.secret, target, local)
        assert again.exit_code == 0, again.output
        rewrite_meta(app / "web", key, REFUSALS[refusal])
        before = local_data(local, cache)
        result = run(url, key.secret, target, local, *COMMANDS[command])
    after = local_data(local, cache)
    assert after[0] == before[0], result.output
    changed = []
    for was, now in zip(before[1:], after[1:], strict=True):
        assert isinstance(was, dict) and isinstance(now, dict)
        changed += sorted(name for name in was.keys() | now.keys() if was.get(name) != now.get(name))
    if refusal in SET_ONLY and command in ("receive", "receive --delete"):
        # One set refused, the others received as usual (their records noted again, --delete applied to them):
        # the refused set's copy is what must stay.
        assert [name for name in changed if name.startswith(SET_ONLY[refusal])] == [], result.output
    else:
        assert changed == [], result.output
    # The plan too, of a set the receive would fail (it ended with status 0 before, the receive with 1).
    assert result.exit_code == 1, result.output


def _emptied(app: Path) -> tuple[str, ...]:
    """The uploads share not mounted on the server: its folder there holds no file."""
    for path in sorted((app / "web" / "uploads").rglob("*"), reverse=True):
        if path.is_file():
            path.unlink()
    return ()


def _few_gone(app: Path) -> tuple[str, ...]:
    """One upload and the one thumbnail deleted on the server: with the laptop's own file in uploads, three
    deletions in two sets, each set under the limit of two, the run over it."""
    for path in sorted(path for path in (app / "web" / "uploads").rglob("*.bin"))[:1]:
        path.unlink()
    (app / "web" / "thumbs" / "t.jpg").unlink()
    return ("--max-delete", "2")


#: What the server's sets become, and the options that then make --delete refuse the run.
DELETIONS: dict[str, Callable[[Path], tuple[str, ...]]] = {"emptied-set": _emptied, "over-max-delete": _few_gone}

DELETING: dict[str, tuple[str, ...]] = {
    "receive --delete": ("--delete",),
    "receive --plan --delete": ("--plan", "--delete"),
    "receive --install --yes": ("--install", "--yes"),
}


@pytest.mark.parametrize("command", list(DELETING))
@pytest.mark.parametrize("deletion", list(DELETIONS))
def test_a_refused_deletion_changes_nothing_local(deletion: str, command: str, tmp_path: Path,
                                                  register_plugin: Callable[[object, str], None],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``--delete`` (implied by ``--install``) over ``--max-delete`` in all, or emptying a set the server lists
    no file in, is refused before the database or any set arrives: the receive folder, its record, the project
    and its database are as they were, and the plan ends with the same status 1. Before, the database and the
    sets before the refused one arrived, and a limit was counted per set, so 2 + 1 deletions passed a limit
    of 2."""
    # Every set, the thumbnails (smart-skipped by default) too: two public sets to count deletions in.
    made = site(tmp_path, register_plugin, monkeypatch, all_sets=True)
    app, key, local, target, cache = made.app, made.key, made.local, made.target, made.cache
    with static_server(app / "web") as (url, _):
        first = run(url, key.secret, target, local, "--install", "--yes")
        assert first.exit_code == 0, first.output
        assert (local / "web" / "thumbs" / "t.jpg").is_file()
        (target / "uploads" / "laptop only.bin").write_bytes(b"the laptop's own")
        extra = DELETIONS[deletion](app)
        # The database changed too: a receive that went on would bring it.
        with contextlib.closing(sqlite3.connect(app / "app.sqlite")) as conn, conn:
            conn.execute("DELETE FROM items WHERE id > 10")
        later = publish(app, SESSION[:-1] + "9", all=True)
        before = local_data(local, cache)
        result = run(url, later.secret, target, local, *DELETING[command], *extra, session=SESSION[:-1] + "9")
    after = local_data(local, cache)
    assert result.exit_code == 1, result.output
    assert "Error: " in result.stderr and ("more than --max-delete 2" in result.stderr
                                          or "pass --max-delete" in result.stderr), result.output
    assert after == before, result.output


def test_receive_install_counts_each_file_once(tmp_path: Path, register_plugin: Callable[[object, str], None],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """``receive --install --max-delete N``: a file the server deleted goes from the receive folder and then
    from the project, one file to the user, counted once; what only the install takes (a file of the project
    the receive folder never had) counts on top, and over N the install changes nothing of the project."""
    made = site(tmp_path, register_plugin, monkeypatch, all_sets=True)
    app, key, local, target = made.app, made.key, made.local, made.target
    with static_server(app / "web") as (url, _):
        assert run(url, key.secret, target, local, "--install", "--yes").exit_code == 0
        _few_gone(app)
        (local / "web" / "uploads" / "project only.txt").write_text("the project's own, not received")
        later = publish(app, SESSION[:-1] + "8", all=True)

        def receive(limit: int) -> Any:
            return run(url, later.secret, target, local, "--install", "--yes", "--max-delete", str(limit),
                       session=SESSION[:-1] + "8")

        project = tree_digest(local / "web")
        # Two by the receive (each also in the project), one more by the install: three.
        refused = receive(2)
        assert refused.exit_code == 1, refused.output
        assert ("installing would remove 1 local file(s) of the project in all (uploads 1) after the 2 the receive "
                "removed, more than --max-delete 2; nothing was installed") in refused.output
        assert tree_digest(local / "web") == project
        done = receive(3)
    assert done.exit_code == 0, done.output
    assert not (local / "web" / "thumbs" / "t.jpg").exists()
    assert not (local / "web" / "uploads" / "project only.txt").exists()
