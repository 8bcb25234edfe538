"""Undoing an install whose files a third-party plugin put in place (not through ``install_tree``), or that an
older synco journaled without noting its files, never removes what the application wrote meanwhile.

``install_tree`` notes what it puts into a folder before the folder goes live; a plugin that moves files
itself notes nothing. The core notes it once the plugin returns: the entries that are as in the received
folder (a copy or a link of it), so an upload the application wrote meanwhile is never taken for the
install's. Where there is no note at all (a journal of an older synco, an install killed before the core's
note), the undo still puts the previous content back, and keeps all of the install's content aside, saying
so, rather than remove it blind.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_install_app_writes import assert_kept, write_uploads
from test_install_journal import Scene
from test_install_journal import scene_fixture as scene_fixture  # the fixture, by its name

from synco_core import hookimpl
from synco_core.cli.main import cli
from synco_core.engines import crashpoints
from synco_core.errors import SyncoError
from synco_core.install import journal, owned
from synco_core.install.journal import JournalStep, prepare_folder, undo_folder
from synco_core.plugins import SyncoPluginManager, build_plugin_manager, set_plugin_manager
from synco_core.values import FilesInstallResult, Framework, ReceivedFileSet


class CopyingPlugin:
    """A third-party ``install_files`` as writing-a-plugin.md allows: ``media`` is copied by the plugin
    itself, the replaced folder kept under a name of its own; installing ``private`` fails, once the
    application has written uploads into the live ``media``."""

    def __init__(self) -> None:
        self.written: dict[str, bytes] = {}

    @hookimpl(tryfirst=True)
    def install_files(
        self, framework: Framework, file_set: ReceivedFileSet, source_dir: Path
    ) -> FilesInstallResult | None:
        media = framework.project_dir / "public" / "media"
        if file_set.name == "media":
            backup = media.with_name(".media.plugin-old")
            media.rename(backup)
            shutil.copytree(source_dir, media, symlinks=True)
            return FilesInstallResult(destination=media, files=3, backup=backup)
        self.written = write_uploads(media, "plugin")
        raise SyncoError(f"disk full while installing {file_set.name}")


@pytest.fixture
def plugin() -> Iterator[CopyingPlugin]:
    manager: SyncoPluginManager = build_plugin_manager()
    made = CopyingPlugin()
    manager.register(made, "copying")
    set_plugin_manager(manager)
    yield made
    set_plugin_manager(None)


def test_a_plugins_install_undone_keeps_the_uploads_written_into_it(
    scene: Scene, plugin: CopyingPlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The install fails after the plugin's folder went live and the application wrote into it: the undo
    refuses to put the folder back while it holds the uploads (they stay where the application put them),
    and goes through once they are moved out, the project exactly as before."""
    runner = CliRunner()
    failed = runner.invoke(cli, ["install", str(scene.received), "--project", str(scene.project), "--yes"])
    assert failed.exit_code == 1, failed.output
    assert plugin.written
    media = scene.project / "public" / "media"
    assert_kept(scene.project, plugin.written, "the failed install's undo")
    for relative in plugin.written:
        assert (media / relative).exists(), f"{relative} is no longer where the application wrote it"

    for relative in plugin.written:
        os.unlink(media / relative)
    os.rmdir(media / "thumbs")
    monkeypatch.chdir(scene.project)
    rolled = runner.invoke(cli, ["db", "rollback", "--yes"])
    assert rolled.exit_code == 0, rolled.output
    assert scene.tree() == scene.before


def _older_journal_step(root: Path) -> tuple[JournalStep, Path, dict[str, bytes]]:
    """A folder step as an older synco journaled it: the new content live at ``media`` (uploads written into
    it since), the previous one kept, and no note of what the install put there."""
    media, kept = root / "media", root / ".media.synco-previous"
    kept.mkdir(parents=True)
    (kept / "old.txt").write_text("previous content")
    media.mkdir()
    (media / "new.txt").write_text("installed")
    written = write_uploads(media, "since")
    step = JournalStep("files", "media", state="done", path=media, backup=kept, existed=True)
    return step, kept, written


def test_an_undo_without_a_note_puts_back_and_keeps_all_the_install_content(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    step, kept, written = _older_journal_step(tmp_path)
    media = step.path
    assert media is not None
    with caplog.at_level(logging.WARNING):
        undo_folder(step)
    assert (media / "old.txt").read_text() == "previous content"
    assert not os.path.lexists(kept)
    discard = tmp_path / ".media.synco-discard"
    for relative, data in written.items():
        assert (discard / relative).read_bytes() == data
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(discard) in warnings[0] and "\n" not in warnings[0], warnings
    # The next install of the folder stops in one line until the kept content is dealt with.
    with pytest.raises(owned.ForeignFilesError) as refused:
        prepare_folder(JournalStep("files", "media", path=media, backup=kept, existed=True))
    assert str(discard) in str(refused.value) and "\n" not in str(refused.value)
    assert (discard / "new.txt").read_text() == "installed"


class Killed(BaseException):
    """Stands for ``kill -9`` at a crash point: nothing after it runs."""


@pytest.mark.parametrize("exchanges", [True, False], ids=["exchange", "two-renames"])
def test_an_undo_without_a_note_cut_short_is_finished_without_swapping_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchanges: bool
) -> None:
    """Killed right after its swap, the undo's next run must tell which folder is which without a note of the
    install's files: it swaps nothing back (the live folder keeps the previous content), and the install's
    content, uploads included, is kept."""
    step, _kept, written = _older_journal_step(tmp_path)
    media = step.path
    assert media is not None
    if not exchanges:
        monkeypatch.setattr(owned, "exchange", lambda _first, _second: False)

    def kill(point: str) -> None:
        if point == "files:undo:exchanged":
            raise Killed(point)

    if exchanges:
        monkeypatch.setattr(crashpoints, "reached", kill)
        with pytest.raises(Killed):
            undo_folder(step)
    else:
        # Where names cannot be exchanged, killed between the two renames: the new content is aside.
        real_replace = os.replace

        def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
            real_replace(source, target)
            if Path(target) == tmp_path / ".media.synco-discard":
                raise Killed("between the renames")

        monkeypatch.setattr(journal.os, "replace", replace)
        with pytest.raises(Killed):
            undo_folder(step)
        monkeypatch.setattr(journal.os, "replace", real_replace)
    monkeypatch.setattr(crashpoints, "reached", lambda _point: None)
    undo_folder(step)
    undo_folder(step)  # and again: the undo is done, nothing moves
    assert (media / "old.txt").read_text() == "previous content"
    assert sorted(os.listdir(media)) == ["old.txt"]
    discard = tmp_path / ".media.synco-discard"
    for relative, data in written.items():
        assert (discard / relative).read_bytes() == data


def test_the_core_notes_only_what_is_as_received(tmp_path: Path) -> None:
    """The note of a plugin's folder, written once it is live: an upload written before the note, or an
    installed file the application replaced, is not the install's."""
    from synco_core.install.run import note_plugin_install

    received, live = tmp_path / "received", tmp_path / "live"
    (received / "img").mkdir(parents=True)
    (received / "img" / "a.jpg").write_bytes(b"a")
    (received / "b.txt").write_bytes(b"b")
    shutil.copytree(received, live)
    (live / "upload.jpg").write_bytes(b"the application's")
    (live / "b.txt").write_bytes(b"replaced by the application")
    note_plugin_install(live, received)
    manifest = owned.read_manifest(owned.manifest_path(live))
    assert manifest is not None
    foreign = owned.foreign_entries(live, manifest)
    assert sorted(foreign.first) == ["b.txt", "upload.jpg"]
    stays = owned.remove_owned(live, manifest)
    assert stays.count == 2 and not (live / "img").exists()
