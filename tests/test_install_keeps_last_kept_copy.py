"""An install that fails keeps the last install's kept copies and record: `synco db rollback` still works.

`receive --install --yes` and `pull --install --yes` load the database while the files still arrive. Before,
that early load gave up the last install's kept database copy (and its record) as it began, and swapped at
once: any failure after it (the receive of a set broken, a public file missing, a refusal of the install, a
files step failing, a stop) put the previous database back but left nothing to roll back to ("nothing to
roll back"). Now the load goes as far as the dump's end and waits there for the rest of the install; a
failure before the swap ends it unswapped. Every step after the early load is failed here in turn, for each
engine: the local database, the whole project tree (kept copies and record included) are as they were, and
`synco db rollback` then puts back what the last install had replaced.
"""

from __future__ import annotations

import contextlib
import errno
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_install_journal import synco
from test_install_journal_servers import ALL_ENGINES, Scene, install, rollback
from test_install_journal_servers import make_scene as make_scene  # the fixture, by its name
from test_receive_install import SESSION, build, flip_a_bit, local_state, make_local, receive
from test_receive_install import rows as receive_rows
from test_receive_support import LocalProject
from test_transfer_support import FixturePlugin, make_app, static_server

from synco_core.cli.main import cli
from synco_core.engines import default_files
from synco_core.errors import SyncoError
from synco_core.install import run
from synco_core.install.state import STATE_FILE
from synco_core.install.streamed import ReceiveInstall

#: The set the local database's content changed by after the last install: told apart from the dump's.
EDITED = ["INSERT INTO fresh VALUES (42)"]


@pytest.fixture
def installed_once(make_scene: Callable[[str, bool], Scene]) -> Iterator[Callable[[str], Scene]]:
    """A scene whose project had one install (its kept copies and record there), then a change of its own."""

    def make(engine: str) -> Scene:
        scene = make_scene(engine, True)
        first = install(scene)
        assert first.returncode == 0, first.stderr
        scene.server.run(scene.target, EDITED)
        return scene

    yield make


def whole_tree(scene: Scene) -> dict[str, str]:
    """Every entry of the project but the SQLite files (compared by content): kept copies and record too."""
    return {name: kind for name, kind in scene.tree().items() if name != ".synco-install.json"}


def fail_receive(installer: ReceiveInstall, scene: Scene) -> None:
    """A set of the session did not arrive whole, or a public file is missing: receive says so and abandons."""
    installer.abandon()


def refuse_install(installer: ReceiveInstall, scene: Scene) -> None:
    """The install refuses once the files are in (a set the session lists is missing from the folder)."""
    with pytest.raises(SyncoError, match="missing its data"):
        (scene.received / "private").rename(scene.received / "private-gone")
        try:
            finish(installer, scene)
        finally:
            (scene.received / "private-gone").rename(scene.received / "private")


def fail_files_step(installer: ReceiveInstall, scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second files set cannot go in (its disk is full), after the first went in."""
    real = default_files.copy_tree

    def full(source: Path, destination: Path, *args: Any, **kwargs: Any) -> int:
        if source.name == "private":
            raise OSError(errno.ENOSPC, "No space left on device", str(destination))
        return real(source, destination, *args, **kwargs)

    monkeypatch.setattr(default_files, "copy_tree", full)
    with pytest.raises(SyncoError, match="no space left on the disk"):
        finish(installer, scene)


def stop_in_files_step(installer: ReceiveInstall, scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM (raised as KeyboardInterrupt in the main thread) lands while the second files set goes in."""
    real = run._install_files

    def stopped(framework: Any, step: Any, undo: Any, manager: Any) -> Any:
        if step.source.name == "private":
            raise KeyboardInterrupt
        return real(framework, step, undo, manager)

    monkeypatch.setattr(run, "_install_files", stopped)
    with pytest.raises(KeyboardInterrupt):
        finish(installer, scene)


def fail_database_verify(installer: ReceiveInstall, scene: Scene) -> None:
    """The folders went in, then the engine's verification of the loaded database (its row counts) fails."""
    with pytest.raises(SyncoError, match=r"verification failed|rows"):
        finish(installer, scene)


def finish(installer: ReceiveInstall, scene: Scene) -> None:
    installer.finish(scene.received, only=("dbDump", "media", "private"), yes=True, echo=lambda line: None)


FAILURES: dict[str, Callable[..., None]] = {
    "receive-failed": fail_receive,
    "install-refused": refuse_install,
    "files-step-failed": fail_files_step,
    "stopped": stop_in_files_step,
    "database-verify-failed": fail_database_verify,
}


@pytest.mark.parametrize("engine", ALL_ENGINES)
@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failure_after_the_early_load_keeps_the_last_install(installed_once: Callable[[str], Scene], engine: str,
                                                               failure: str, monkeypatch: pytest.MonkeyPatch) -> None:
    scene = installed_once(engine)
    edited = scene.server.content(scene.target)
    record = (scene.project / STATE_FILE).read_bytes()
    tree = whole_tree(scene)
    installer = ReceiveInstall(scene.project, yes=True)
    try:
        entry: dict[str, Any] = {"name": "dbDump", "kind": "database", "path": "dbDump.sql", "engine": engine,
                                 "format": "sql"}
        if failure == "database-verify-failed":
            entry["tables"] = {"fresh": {"rows": 99}}  # the dump has 3: the load's verification fails
        installer.set_arrived(scene.received, entry)
        assert installer.database is not None, "the database loads early"
        fail = FAILURES[failure]
        if failure in ("files-step-failed", "stopped"):
            fail(installer, scene, monkeypatch)
        else:
            fail(installer, scene)
        installer.abandon()  # what receive does after any failure (once: a second call changes nothing)
    finally:
        installer.close()
    assert scene.server.content(scene.target) == edited, "the local database is as it was"
    assert (scene.project / STATE_FILE).read_bytes() == record, "the last install's record stays"
    assert {name: kind for name, kind in whole_tree(scene).items() if name != ".synco-install.lock"} == tree, \
        "the project's folders and their kept copies are as they were"
    assert not (scene.project / ".synco-install-journal.json").exists()
    rolled = rollback(scene)
    assert rolled.returncode == 0, rolled.stderr
    assert scene.server.content(scene.target) == {"parent": [(1, "alpha"), (2, "beta")]}
    # The last install created var/ for var/storage: its rollback takes var/storage out, and leaves var/.
    assert {name: kind for name, kind in scene.tree().items()
            if ".synco-previous" not in name and name not in (STATE_FILE, "var")} == scene.before


def rows(path: Path) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT * FROM fresh ORDER BY 1").fetchall()


def test_a_whole_install_after_a_failed_one_replaces_the_last_install(installed_once: Callable[[str], Scene]) -> None:
    """The kept copy a failed install left is the one the next install replaces, as any older kept copy."""
    scene = installed_once("sqlite")
    installer = ReceiveInstall(scene.project, yes=True)
    try:
        installer.set_arrived(scene.received, {"name": "dbDump", "kind": "database", "path": "dbDump.sql",
                                               "engine": "sqlite", "format": "sql"})
        installer.abandon()
    finally:
        installer.close()
    again = install(scene)
    assert again.returncode == 0, again.stderr
    assert scene.server.content(scene.target) == {"fresh": [(1,), (2,), (3,)]}
    rolled = synco("db", "rollback", "--yes", cwd=scene.project)
    assert rolled.returncode == 0, rolled.stderr
    assert scene.server.content(scene.target) == {"fresh": [(1,), (2,), (3,), (42,)]}


def _flip_private(app: Path) -> None:
    flip_a_bit(app / "web" / SESSION / "encrypted-resources-private")


def _remove_a_public_file(app: Path) -> None:
    (app / "web" / "uploads" / "ünïcode & space.txt").unlink()


@pytest.mark.parametrize("break_it", [_flip_private, _remove_a_public_file], ids=["set-broken", "file-missing"])
def test_receive_install_that_does_not_arrive_whole_keeps_the_last_install(
        break_it: Callable[[Path], None], tmp_path: Path, register_plugin: Callable[[object, str], None],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The real command: `receive --install --yes` twice, the second one's session broken after the database
    arrived (and loaded); the project is as the first left it, and `db rollback` undoes the first."""
    register_plugin(FixturePlugin(engine="sqlite"), "fixture")
    register_plugin(LocalProject(), "localproject")
    app = make_app(tmp_path / "app")
    key = build(app, packs=False)  # every public file from its own URL: a missing one is a 404
    local = make_local(tmp_path / "local")
    before_first = local_state(local)
    with static_server(app / "web") as (url, _):
        first = receive(url, key.secret, tmp_path / "first", local, "--all", "--install", "--yes")
        assert first.exit_code == 0, first.output
        with contextlib.closing(sqlite3.connect(local / "local.sqlite")) as conn, conn:
            conn.execute("INSERT INTO items (id, name) VALUES (100000, 'edited after the install')")
        edited = local_state(local)
        break_it(app)
        second = receive(url, key.secret, tmp_path / "second", local, "--all", "--install", "--yes", "--debug")
    assert second.exit_code == 1, second.output
    assert "installing dbDump while the rest arrives" in second.output
    assert "Not installing:" in second.output
    assert local_state(local) == edited, "the database, the folders, their kept copies and the record"
    monkeypatch.chdir(local)
    rolled = CliRunner().invoke(cli, ["db", "rollback", "--yes"])
    assert rolled.exit_code == 0, rolled.output
    assert receive_rows(local / "local.sqlite") == [(1, "local 1"), (2, "local 2")]
    after = local_state(local)
    assert {name: digest for name, digest in after.items() if name in before_first} == before_first


def _refused_by_max_delete(scene: Scene) -> ReceiveInstall:
    (scene.project / "public" / "media" / "gone.txt").write_text("the install takes it out: one file")
    return ReceiveInstall(scene.project, yes=True, max_delete=0)


def _refused_as_emptying(scene: Scene) -> ReceiveInstall:
    for entry in (scene.received / "private").iterdir():
        entry.unlink()  # a set received with no file: the install refuses to empty var/storage
    return ReceiveInstall(scene.project, yes=True)


@pytest.mark.parametrize("engine", ALL_ENGINES)
@pytest.mark.parametrize("refusal", [_refused_by_max_delete, _refused_as_emptying], ids=["max-delete", "emptying"])
def test_the_install_checks_refusing_after_the_early_load_leave_everything(
        installed_once: Callable[[str], Scene], engine: str, refusal: Callable[[Scene], ReceiveInstall]) -> None:
    """--max-delete's count and the refusal to empty a folder come once the files are in: the database still
    loads early (it waits at the dump's end, unswapped), and their refusal leaves the database, the folders,
    the kept copies and the record as they were; `db rollback` then undoes the last install."""
    scene = installed_once(engine)
    edited = scene.server.content(scene.target)
    record = (scene.project / STATE_FILE).read_bytes()
    installer = refusal(scene)
    tree = {name: kind for name, kind in whole_tree(scene).items() if name != ".synco-install.lock"}
    try:
        installer.set_arrived(scene.received, {"name": "dbDump", "kind": "database", "path": "dbDump.sql",
                                               "engine": engine, "format": "sql"})
        assert installer.database is not None, "the database loads early"
        with pytest.raises(SyncoError, match=r"--max-delete|would empty|no file"):
            finish(installer, scene)
        installer.abandon()
    finally:
        installer.close()
    assert scene.server.content(scene.target) == edited, "the local database is as it was"
    assert (scene.project / STATE_FILE).read_bytes() == record, "the last install's record stays"
    assert {name: kind for name, kind in whole_tree(scene).items() if name != ".synco-install.lock"} == tree, \
        "the project's folders and their kept copies are as they were"
    assert not (scene.project / ".synco-install-journal.json").exists()
    rolled = rollback(scene)
    assert rolled.returncode == 0, rolled.stderr
    assert scene.server.content(scene.target) == {"parent": [(1, "alpha"), (2, "beta")]}
