"""synco's records on the laptop cut short (a power loss, a full disk) or damaged: refused in one line that
says what to do, with nothing changed; or, where the record only speeds things up, not needed.

``.synco-install.json`` and ``.synco-install-journal.json`` are the only account of what an install replaced
(nothing else says which folders it swapped), so a rollback or an undo that cannot read them must not guess:
it stops, names the file and points to the kept copies, which stay as they are. ``.synco-received.json``
says what a receive put in its folder: an install refuses it, saying to receive again. The tests cut each
record a synco really wrote at several points (the whole family of truncations, not one) and hold every
command that reads it to that.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_install_journal import Scene, install, scene_fixture, sqlite_state, synco  # noqa: F401
from test_receive_bad_input import build, receive
from test_record_versions import one_error_line, snapshot
from test_transfer_support import fixture_app_fixture, static_server, tree_digest  # noqa: F401

#: Where the records are cut: nothing left, one byte, a third, all but the last two bytes.
CUTS = [0, 1, 1 / 3, -2]

#: The words each record's refusal ends with (what to do), after ``<file> is unreadable (...)``.
WHAT_TO_DO = {
    ".synco-install.json": "synco cannot tell what the last install replaced; its kept copies are still there",
    ".synco-install-journal.json": "synco cannot tell what the interrupted install replaced: move ",
    ".synco-received.json": "run synco receive into ",
}


def cut(record: Path, where: float) -> None:
    data = record.read_bytes()
    at = int(len(data) * where) if isinstance(where, float) else (where if where >= 0 else len(data) + where)
    record.write_bytes(data[:at])


def assert_refused(result: Any, record: Path) -> None:
    line = one_error_line(result)
    assert line.startswith(f"Error: {record} is "), line
    assert WHAT_TO_DO[record.name] in line, line


@pytest.mark.parametrize("where", CUTS)
def test_a_cut_install_record_stops_the_rollback_and_says_what_to_do(scene: Scene, where: float) -> None:
    assert install(scene).returncode == 0
    record = scene.project / ".synco-install.json"
    cut(record, where)
    before = snapshot(scene)
    assert_refused(synco("db", "rollback", "--yes", cwd=scene.project), record)
    assert snapshot(scene) == before


@pytest.mark.parametrize("where", CUTS)
def test_a_cut_install_journal_stops_every_command_and_says_what_to_do(scene: Scene, where: float) -> None:
    assert install(scene, kill_at="install:journal:files-started#1").returncode != 0
    journal = scene.project / ".synco-install-journal.json"
    cut(journal, where)
    before = snapshot(scene)
    assert_refused(synco("db", "rollback", "--yes", cwd=scene.project), journal)
    assert_refused(install(scene), journal)
    assert snapshot(scene) == before


@pytest.mark.parametrize("where", CUTS)
def test_a_cut_receive_record_stops_the_install_and_says_to_receive_again(scene: Scene, where: float) -> None:
    record = scene.received / ".synco-received.json"
    cut(record, where)
    before = snapshot(scene)
    assert_refused(install(scene), record)
    assert snapshot(scene) == before


@pytest.mark.parametrize(("name", "damage"), [
    (".synco-install.json", {"folders": "public/media"}),
    (".synco-install.json", {"left": [{"kind": "bucket", "name": "x"}]}),
    (".synco-install-journal.json", {"steps": [{"kind": "bucket", "name": "x", "state": "started"}]}),
    (".synco-install-journal.json", {"steps": [{"kind": "files", "name": "x", "state": "paused"}]}),
], ids=["folders-not-a-list", "unknown-left-kind", "unknown-step-kind", "unknown-step-state"])
def test_a_record_of_another_shape_is_refused_with_what_to_do(scene: Scene, name: str, damage: dict[str, Any]) -> None:
    """JSON that is not of the record's shape (a value of the version-1 format's enums it does not have, a
    field of another type): a newer synco writing such a value counts the version up, so this is damage."""
    if name == ".synco-install.json":
        assert install(scene).returncode == 0
    else:
        assert install(scene, kill_at="install:journal:files-started#1").returncode != 0
    record = scene.project / name
    record.write_text(json.dumps(json.loads(record.read_text()) | damage))
    before = snapshot(scene)
    line = one_error_line(synco("db", "rollback", "--yes", cwd=scene.project))
    assert line.startswith(f"Error: {record} is not a synco install "), line
    assert WHAT_TO_DO[name] in line, line
    assert snapshot(scene) == before


def test_the_journal_moved_away_as_told_lets_the_database_be_put_back(scene: Scene) -> None:
    """What the journal's refusal says to do works: with the journal moved away, ``synco db rollback
    DATABASE_URL`` puts the database back from the engine's kept copy (killed once the database was swapped: the
    folders go in first, so a kill before that leaves the database as it was)."""
    assert install(scene, kill_at="install:journal:database-done").returncode != 0
    assert sqlite_state(scene.database) != scene.original
    journal = scene.project / ".synco-install-journal.json"
    cut(journal, 1 / 3)
    journal.rename(scene.project.parent / "journal.damaged")
    rolled = synco("db", "rollback", f"sqlite:///{scene.database}", "--yes", cwd=scene.project)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert sqlite_state(scene.database) == scene.original


@pytest.mark.parametrize("where", CUTS)
def test_receive_takes_a_cut_receive_record_for_none_and_writes_a_whole_one(
        fixture_app: Path, tmp_path: Path, where: float) -> None:
    """To receive, the record only saves work: a cut one is no record, the folder is compared as it is, and a
    whole record replaces it (the next install reads it)."""
    key = build(fixture_app)
    target = tmp_path / "t"
    with static_server(fixture_app / "web") as (url, _):
        assert receive(url, key.secret, target).exit_code == 0
        record = target / ".synco-received.json"
        whole = json.loads(record.read_text())
        files = {name: digest for name, digest in tree_digest(target).items() if name != record.name}
        cut(record, where)
        again = receive(url, key.secret, target)
    assert again.exit_code == 0, again.output
    rewritten = json.loads(record.read_text())
    assert [s["name"] for s in rewritten["fileSets"]] == [s["name"] for s in whole["fileSets"]]
    assert rewritten["version"] == whole["version"]
    assert {name: digest for name, digest in tree_digest(target).items() if name != record.name} == files
