"""An install whose database was replaced in place (a PostgreSQL role that owns its database but may not create
one: no copy is kept) and whose later files step fails: the folders are put back, and the one error line says
exactly what the database now holds and how to get the old content back (real PostgreSQL on 127.0.0.1, a real
role with exactly these rights, ``synco install`` run as a process)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from test_install_journal import KILLED, leftovers
from test_install_journal_servers import Scene, install, make_scene, rollback
from test_postgres_without_createdb import owner_without_createdb

from synco_core.detection import detect
from synco_core.install.plan import ReceivedSet
from synco_core.install.streamed import EarlyDatabaseInstall
from synco_core.testing.services import postgres_admin_connection

__all__ = ["make_scene", "owner_without_createdb"]  # the fixtures, taken from their modules

pytestmark = pytest.mark.postgres


def in_place_scene(make_scene: Callable[[str, bool], Scene], role: str) -> Scene:
    """The journal tests' project and session, its database owned by ``role``, which the project connects as."""
    scene = make_scene("postgresql", True)
    admin = postgres_admin_connection()
    try:
        admin.execute(f'ALTER DATABASE "{scene.target}" OWNER TO "{role}"')
    finally:
        admin.close()
    conn = postgres_admin_connection(scene.target)
    try:
        conn.execute(f'ALTER TABLE parent OWNER TO "{role}"')
    finally:
        conn.close()
    config = scene.project / ".synco.yml"
    config.write_text(config.read_text().replace("postgresql://root@", f"postgresql://{role}@")
                      .replace("postgresql://postgres@", f"postgresql://{role}@"))
    assert f"postgresql://{role}@" in config.read_text()
    scene.before = scene.tree()
    return scene


def test_a_failed_files_step_leaves_an_in_place_database_as_it_was(
        owner_without_createdb: str, make_scene: Callable[[str, bool], Scene]) -> None:
    """The undo asked the engine to roll the database back, which had nothing to put back: an error line that
    'could not put everything back' ('nothing to roll back'), the journal left behind, and the next command
    saying it had put everything back. Then the folders went back and the error line said that the database
    kept what the install loaded. Now the databases go in after the folders: the database is as it was, and the
    one error line names the folder."""
    scene = in_place_scene(make_scene, owner_without_createdb)
    original = scene.server.content(scene.target)
    (scene.project / "var").write_text("a file where the private set's parent folder goes")
    scene.before = scene.tree()
    failed = install(scene)
    assert failed.returncode == 1
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1, failed.stderr
    assert lines[0].startswith("Error: cannot ") and "/var" in lines[0]
    assert "replaced in place" not in lines[0], lines[0]
    assert scene.tree() == scene.before
    assert leftovers(scene.project) == []
    assert scene.server.content(scene.target) == original
    # Nothing is left for a later command to undo again, or to claim it put back.
    again = rollback(scene)
    assert "interrupted" not in again.stderr + again.stdout


def test_an_install_killed_after_its_in_place_database_is_not_said_to_have_put_it_back(
        owner_without_createdb: str, make_scene: Callable[[str, bool], Scene]) -> None:
    """Killed once the database was replaced in place: the next command in the project put back the folders
    and said it had put back 'dbDump' too; now it says that the database keeps what the install loaded."""
    scene = in_place_scene(make_scene, owner_without_createdb)
    # The database goes in last: killed once it is in, before the install is recorded.
    assert install(scene, kill_at="install:journal:database-done").returncode == KILLED
    rolled = rollback(scene)
    assert rolled.returncode == 0, rolled.stderr
    said = rolled.stdout + rolled.stderr
    assert "was interrupted before it finished: put back what it had replaced (media, private); the database of " \
           "dbDump keeps what the install loaded: it was replaced in place" in said, said
    assert scene.tree() == scene.before
    assert leftovers(scene.project) == []
    assert scene.server.content(scene.target) == {"fresh": [(1,), (2,), (3,)]}


def test_a_database_loaded_in_place_while_the_files_arrive_is_named_when_the_receive_fails(
        owner_without_createdb: str, make_scene: Callable[[str, bool], Scene],
        caplog: pytest.LogCaptureFixture) -> None:
    """receive --install --yes loads the database while the files arrive; when the transfer then fails, the
    undo asked the engine for a rollback it could not do ('could not roll the database back ... nothing to
    roll back'). Now one error line says that the database keeps what was loaded, and the journal is closed."""
    scene = in_place_scene(make_scene, owner_without_createdb)
    framework = detect(scene.project, side="destination")
    item = ReceivedSet("dbDump", "database", scene.received / "dbDump.sql", engine="postgresql")
    early = EarlyDatabaseInstall(framework, item)
    early.start()
    assert early.wait().replaced_in_place
    with caplog.at_level(logging.ERROR):
        early.rollback()  # what the receive does when a set fails to arrive
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == ["The database of dbDump keeps what the install loaded: it was replaced in place, and no copy "
                      "of its previous content was kept (the role may not create databases), so only a backup of "
                      "your own brings that back (synco db load); let the role create databases (ALTER ROLE ... "
                      "CREATEDB) and installs keep a copy"], errors
    assert leftovers(scene.project) == []
    assert scene.server.content(scene.target) == {"fresh": [(1,), (2,), (3,)]}
