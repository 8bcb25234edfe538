"""synco's records on the laptop written by another synco: a newer one's is refused, an older one's is read.

``.synco-received.json``, ``.synco-install.json`` and ``.synco-install-journal.json`` carry ``"version"``
(see ``synco_core/recordversion.py``). Every synco so far wrote 1, and the readers never looked at it: a
record of a newer format (a user downgraded, or runs two installs of synco) was acted on as if it were of
this one. Here the newer record is made by counting up the version of a record this synco wrote, as a newer
synco would; each command must stop in one line naming the file and the upgrade, before changing anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_install_journal import Scene, install, scene_fixture, sqlite_state, synco  # noqa: F401
from test_receive_bad_input import build, receive
from test_transfer_support import fixture_app_fixture, static_server, tree_digest  # noqa: F401

from synco_core.install.journal import JOURNAL_VERSION
from synco_core.recordversion import RECORD_VERSION

NEWER = RECORD_VERSION + 1


def set_version(record: Path, version: Any) -> None:
    data = json.loads(record.read_text())
    if version is None:
        data.pop("version")
    else:
        data["version"] = version
    record.write_text(json.dumps(data))


def one_error_line(result: Any) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return str(lines[0])


def snapshot(scene: Scene) -> tuple[dict[str, str], str | None, dict[str, str]]:
    # The project with its records (their bytes are compared too) and the database by content. The lock
    # file a killed install left is the command's own: it takes the lock, and drops the file when done.
    files = {name: digest for name, digest in tree_digest(scene.project).items() if name != ".synco-install.lock"}
    return scene.tree() | {".synco-install.lock": ""}, sqlite_state(scene.database), files


def test_install_refuses_a_newer_receive_record(scene: Scene) -> None:
    record = scene.received / ".synco-received.json"
    set_version(record, NEWER)
    before = snapshot(scene)
    line = one_error_line(install(scene))
    assert f"{record} was written by a newer synco (receive record version {NEWER};" in line
    assert line.endswith("upgrade synco on this machine")
    assert snapshot(scene) == before


def test_rollback_refuses_a_newer_install_record(scene: Scene) -> None:
    assert install(scene).returncode == 0
    record = scene.project / ".synco-install.json"
    set_version(record, NEWER)
    before = snapshot(scene)
    line = one_error_line(synco("db", "rollback", "--yes", cwd=scene.project))
    assert f"{record} was written by a newer synco (install record version {NEWER};" in line
    assert snapshot(scene) == before


@pytest.mark.parametrize("command", [["db", "rollback", "--yes"], ["install"]])
def test_a_newer_install_journal_is_not_recovered(scene: Scene, command: list[str]) -> None:
    """An install a newer synco left unfinished is for that synco to undo: this one would guess at its steps."""
    assert install(scene, kill_at="install:journal:files-started#1").returncode != 0
    journal = scene.project / ".synco-install-journal.json"
    set_version(journal, JOURNAL_VERSION + 1)
    before = snapshot(scene)
    if command == ["install"]:
        command = ["install", str(scene.received), "--project", str(scene.project), "--yes"]
    line = one_error_line(synco(*command, cwd=scene.project))
    assert f"{journal} was written by a newer synco (install journal version {JOURNAL_VERSION + 1};" in line
    assert snapshot(scene) == before


@pytest.mark.parametrize("version", [1, None], ids=["version-1", "no-version"])
def test_records_of_earlier_synco_are_read(scene: Scene, version: int | None) -> None:
    """Version 1 is what every synco so far wrote; a record without a version reads as the first format."""
    set_version(scene.received / ".synco-received.json", version)
    assert install(scene).returncode == 0
    set_version(scene.project / ".synco-install.json", version)
    rolled = synco("db", "rollback", "--yes", cwd=scene.project)
    assert rolled.returncode == 0, rolled.stderr
    assert sqlite_state(scene.database) == scene.original


@pytest.mark.parametrize("version", ["2", 0, True, 1.5])
def test_a_malformed_version_is_refused_in_one_line(scene: Scene, version: Any) -> None:
    assert install(scene).returncode == 0
    record = scene.project / ".synco-install.json"
    set_version(record, version)
    before = snapshot(scene)
    line = one_error_line(synco("db", "rollback", "--yes", cwd=scene.project))
    assert f"{record} is not a synco install record (its version is {version!r}, not a whole number from 1)" in line
    assert snapshot(scene) == before


def test_receive_refuses_a_target_with_a_newer_record(fixture_app: Path, tmp_path: Path) -> None:
    """Receiving into it would carry the newer record's entries, unread, into a record of this version."""
    key = build(fixture_app)
    target = tmp_path / "t"
    with static_server(fixture_app / "web") as (url, _):
        assert receive(url, key.secret, target).exit_code == 0
        record = target / ".synco-received.json"
        set_version(record, NEWER)
        before = tree_digest(target)
        result = receive(url, key.secret, target)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: {record} was written by a newer synco (receive record version {NEWER}; synco "
                      f"{__import__('synco_core').__version__} reads version {RECORD_VERSION}): upgrade synco on "
                      "this machine"], result.output
    assert tree_digest(target) == before
