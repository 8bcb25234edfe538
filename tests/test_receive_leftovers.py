"""What a receive leaves in its target for sets the server no longer publishes (renamed or removed).

Each receive keeps files of its own beside the sets: the hashes a public set was received as
(``.synco-known-<key>.sha256``), a first receive's staging folder, part files of dumps and private tars, a
private set's extraction folder. For a set gone from the session nothing ever reads or continues them again,
and they stayed for good (a half-received copy of production among them). The receive now removes them at
its end, and only them: the sets' own content (the user's copy), names synco never makes, the staging of a
set still in the session but not chosen this time, and ``.synco-received.json`` stay.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from test_transfer_support import FixturePlugin, make_app, publish_and_receive, tree_digest

from synco_core import hookimpl
from synco_core.receive import ReceiveSummary
from synco_core.receive.knownhashes import known_hashes_file
from synco_core.values import FileSet, FileSetOptions, Framework

SESSION = "synco-leftovers0123456789"


class RenamingPlugin(FixturePlugin):
    """The fixture app, its public uploads set published under ``self.uploads``."""

    def __init__(self) -> None:
        super().__init__()
        self.uploads = "uploads"

    @hookimpl
    def list_file_sets(self, framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
        found = super().list_file_sets(framework, options)
        if found is None:
            return None
        for file_set in found:
            if file_set.name == "uploads":
                file_set.name = self.uploads
        return found


def receive(app: Path, target: Path, only: list[str] | None = None, delete: bool = False,
            serve: dict[str, Any] | None = None) -> ReceiveSummary:
    """Serve ``app`` (``serve``: the build options; every set by default, so a set missing from the session is
    one the server no longer has) and receive ``only`` of it into ``target``."""
    summary: ReceiveSummary = publish_and_receive(app, SESSION, target, {"all": True} | (serve or {}),
                                                  only=tuple(only or ()), delete=delete)
    return summary


def _ok(summary: ReceiveSummary) -> None:
    assert all(outcome.status in ("downloaded", "skipped") for outcome in summary.sets), summary.sets


def test_a_renamed_sets_leftovers_go_and_nothing_else(tmp_path: Path, register_plugin: Any) -> None:
    plugin = RenamingPlugin()
    register_plugin(plugin, "fixture")
    app, target = make_app(tmp_path / "app"), tmp_path / "received"
    _ok(receive(app, target, ["dbDump", "uploads", "private"]))
    old_known = known_hashes_file(target, "uploads")
    assert old_known.is_file()
    received_uploads = tree_digest(target / "uploads")
    # What killed receives of sets that are then gone from the server left, and what synco never writes.
    litter = {
        ".gone.synco-new": "folder", "gone.synco-part": "folder", "gone.tar.synco-0123abcd.enc.part": "file",
        "gone.sqlite.synco-0123abcd.enc.part": "file", f"{old_known.name}.t0123456789abcdef.part": "file",
    }
    for name, kind in litter.items():
        if kind == "folder":
            (target / name / "half").mkdir(parents=True)
            (target / name / "half" / "row.bin").write_bytes(b"production data, half received")
        else:
            (target / name).write_bytes(b"production data, half received")
    users = {"notes.part": b"mine", ".mine.synco-new.bak": b"mine", "gone.sqlite.synco-old": b"kept",
             "uploads.part": b"mine"}
    for name, content in users.items():
        (target / name).write_bytes(content)
    # The private set is in the session, not chosen: its staging is continued by a later receive.
    (target / ".private.synco-new").mkdir()
    (target / ".private.synco-new" / "a.txt").write_bytes(b"pri")

    plugin.uploads = "media"
    _ok(receive(app, target, ["dbDump", "media"]))

    assert not [name for name in litter if (target / name).exists()]
    assert known_hashes_file(target, "media").is_file()
    assert {name: (target / name).read_bytes() for name in users} == users
    assert (target / ".private.synco-new" / "a.txt").read_bytes() == b"pri"
    # The set's content is the user's copy: never removed, whatever the server publishes now.
    assert tree_digest(target / "uploads") == received_uploads
    assert tree_digest(target / "media") == received_uploads
    assert (target / ".synco-received.json").is_file()
    # The old set's hashes describe the old folder: they go with it.
    assert old_known.is_file()
    shutil.rmtree(target / "uploads")
    _ok(receive(app, target, ["dbDump"]))
    assert not old_known.exists() and known_hashes_file(target, "media").is_file()


def test_known_hashes_live_as_long_as_the_copy_they_describe(tmp_path: Path, register_plugin: Any) -> None:
    """The uploads set not chosen, then gone from the session: its hashes stay while its folder does (they
    describe that copy), and go with the next receive once the user deleted the folder."""
    plugin = RenamingPlugin()
    register_plugin(plugin, "fixture")
    app, target = make_app(tmp_path / "app"), tmp_path / "received"
    _ok(receive(app, target, ["uploads"]))
    known = known_hashes_file(target, "uploads")
    _ok(receive(app, target, ["private"]))
    assert known.is_file()
    plugin.uploads = "media"
    _ok(receive(app, target, ["private"]))
    assert known.is_file()
    shutil.rmtree(target / "uploads")
    _ok(receive(app, target, ["private"]))
    assert not known.exists()


@pytest.mark.parametrize("delete", [False, True], ids=["keep", "delete"])
@pytest.mark.parametrize("serve", [{"only": ("dbDump",)}, {"all": False}, {"only": ("dbDump", "private")}],
                         ids=["serve-only-db", "serve-skips-a-set", "serve-only-db-private"])
def test_a_session_of_some_sets_disturbs_no_other_set(tmp_path: Path, register_plugin: Any, delete: bool,
                                                      serve: dict[str, Any]) -> None:
    """A session that does not hold every set (``serve --only``, a set left out by default) says nothing about
    the sets it lacks: the first receive of thumbs another session started, stopped half way, is continued
    after it, and the other sets' folders and parts are as they were, with ``--delete`` too."""
    register_plugin(RenamingPlugin(), "fixture")
    app, target = make_app(tmp_path / "app"), tmp_path / "received"
    (app / "web" / "thumbs").mkdir(parents=True, exist_ok=True)
    (app / "web" / "thumbs" / "t.jpg").write_bytes(b"thumb")
    _ok(receive(app, target, ["uploads"]))
    uploads = tree_digest(target / "uploads")
    staging = target / ".thumbs.synco-new"
    staging.mkdir()
    (staging / "t.jpg").write_bytes(b"thu")
    others = {known_hashes_file(target, "thumbs").name: b"the hashes of the staged files",
              known_hashes_file(target, "uploads").name: (target / known_hashes_file(target, "uploads").name)
              .read_bytes(),
              "private.tar.synco-other0123.enc.part": b"another session's private tar, half received"}
    if "private" in serve.get("only", ("private",)):
        # The session's own private set: its download starts again in this session.
        others.pop("private.tar.synco-other0123.enc.part")
    for name, content in others.items():
        (target / name).write_bytes(content)

    _ok(receive(app, target, ["dbDump"], delete=delete, serve=serve))

    assert (staging / "t.jpg").read_bytes() == b"thu"
    assert {name: (target / name).read_bytes() for name in others if (target / name).exists()} == others
    assert tree_digest(target / "uploads") == uploads
    # The stopped first receive of thumbs goes on from where it was.
    _ok(receive(app, target, ["thumbs"], delete=delete))
    assert not staging.exists() and (target / "thumbs" / "t.jpg").read_bytes() == b"thumb"
