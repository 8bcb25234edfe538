"""The application keeps writing uploads while synco installs, undoes or rolls back: none of them is lost.

A real ``synco install`` is stopped (``SYNCO_DEBUG_STOP_AT``: it sends itself SIGSTOP at a named step) or
killed (``SYNCO_DEBUG_KILL_AT``) at each step of its files install, and the test writes into the live
uploads folder exactly then, as the application would (a new upload, a new folder of thumbnails, an edit
of a file synco installed). Whatever synco then does (finishes, fails, undoes the install after the kill,
rolls back), every file the application wrote is still in the project with its content, and a command
that cannot go on safely says so in one line (exit status 1) naming where the files are.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_install_journal import ENVIRONMENT_VARIABLE, KILLED, Scene, install, leftovers, synco
from test_install_journal import scene_fixture as scene_fixture  # the fixture, by its name

STOP_VARIABLE = "SYNCO_DEBUG_STOP_AT"

#: The steps of the first (replaced) set's install, where the application may write at any moment.
FILES_POINTS = [
    "install:journal:files-started#1",
    "files:install:staged#1",
    "files:install:kept#1",
    "files:install:replaced#1",
    "files:install:dotfile-carried#1",
    "install:journal:files-done#1",
]
#: Kills after which the new folder is live: the application writes into it before the undo runs.
LIVE_POINTS = ["files:install:replaced#1", "files:install:dotfile-carried#2", "install:journal:files-done#1",
               "install:journal:files-started#2", "install:journal:recorded"]

UPLOADS = {"fresh-upload.jpg": b"\xff\xd8 an upload made while synco worked",
           "thumbs/fresh-upload-150.jpg": b"\xff\xd8 its thumbnail"}


def write_uploads(media: Path, tag: str) -> dict[str, bytes]:
    """Write the application's uploads into ``media`` (creating it, as an application does); their contents."""
    written = {}
    for relative, data in UPLOADS.items():
        path = media / relative.replace("fresh", f"fresh-{tag}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data + tag.encode())
        written[path.relative_to(media).as_posix()] = data + tag.encode()
    return written


def contents_in(project: Path) -> dict[str, list[str]]:
    """Every regular file's sha256 in the project, with where it lies."""
    found: dict[str, list[str]] = {}
    for folder, _dirs, files in os.walk(project):
        for name in files:
            path = Path(folder, name)
            if path.is_file() and not path.is_symlink():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                found.setdefault(digest, []).append(str(path.relative_to(project)))
    return found


def assert_kept(project: Path, written: dict[str, bytes], when: str) -> None:
    found = contents_in(project)
    lost = [name for name, data in written.items() if hashlib.sha256(data).hexdigest() not in found]
    assert not lost, f"{when}: the application's {lost} are gone from the project"


def one_line_or_success(proc: subprocess.CompletedProcess[str]) -> None:
    if proc.returncode == 0:
        return
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert proc.returncode == 1 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr


def stopped_install(scene: Scene, point: str) -> subprocess.Popen[str]:
    """``synco install`` started with ``SYNCO_DEBUG_STOP_AT=point``, returned once it has stopped there."""
    env = {key: value for key, value in os.environ.items() if key not in (ENVIRONMENT_VARIABLE, STOP_VARIABLE)}
    env[STOP_VARIABLE] = point
    proc = subprocess.Popen([sys.executable, "-m", "synco_core", "install", str(scene.received), "--project",
                             str(scene.project), "--yes"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    _pid, status = os.waitpid(proc.pid, os.WUNTRACED)
    if not os.WIFSTOPPED(status):
        # It ended without reaching the point (waitpid reaped it: Popen no longer can).
        proc.returncode = os.waitstatus_to_exitcode(status)
        raise AssertionError(f"{point} not reached: exit {proc.returncode}")
    return proc


@pytest.mark.parametrize("point", FILES_POINTS)
def test_uploads_written_at_any_step_of_the_install_are_never_lost(scene: Scene, point: str) -> None:
    """The application writes new uploads (recreating the folder if it is not there) at a step of the files
    install; the install finishes or fails in one line, a rollback puts back or refuses in one line: the
    uploads are in the project after each."""
    media = scene.project / "public" / "media"
    proc = stopped_install(scene, point)
    try:
        written = write_uploads(media, "during")
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        _out, err = proc.communicate(timeout=180)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, _out, err)
    one_line_or_success(result)
    assert_kept(scene.project, written, f"install stopped at {point}")
    rolled = synco("db", "rollback", "--yes", cwd=scene.project)
    one_line_or_success(rolled)
    assert_kept(scene.project, written, f"rollback after the install stopped at {point}")
    again = install(scene)
    one_line_or_success(again)
    assert_kept(scene.project, written, f"another install after the install stopped at {point}")


@pytest.mark.parametrize("point", LIVE_POINTS)
def test_an_undo_after_a_kill_never_removes_uploads_written_since(scene: Scene, point: str) -> None:
    """The install is killed once the new folder is live; the application writes into it (new uploads, an
    edit of an installed file); the undo (``synco db rollback``) refuses in one line naming the folder and
    the kept copy, changing nothing, until the application's files are moved out; then it puts back the
    exact project."""
    killed = install(scene, kill_at=point)
    assert killed.returncode == KILLED, killed.stderr
    media = scene.project / "public" / "media"
    written = write_uploads(media, "after")
    edited = media / "new.txt"
    edited.write_text("edited in place by the application")  # a file the install put there, changed since
    written["new.txt"] = edited.read_bytes()
    public = scene.project / "public"
    before_undo = contents_in(public)

    for command in (("db", "rollback", "--yes"), ("install", str(scene.received), "--yes")):
        refused = synco(*command, cwd=scene.project)
        errors = [line for line in refused.stderr.splitlines() if line.startswith("Error:")]
        assert refused.returncode == 1 and len(errors) == 1, refused.stderr
        assert str(media) in errors[0] and "fresh-after-upload.jpg" in errors[0], errors[0]
        assert ".media.synco-previous" in errors[0], errors[0]
        # The folder and its kept copy are as they were (an undo of the other set may have gone through).
        assert contents_in(public) == before_undo, "a refused undo changed the folder or its kept copy"

    # The user moves the application's files somewhere else: the undo then goes through.
    for relative in written:
        os.unlink(media / relative)
    os.rmdir(media / "thumbs")
    rolled = synco("db", "rollback", "--yes", cwd=scene.project)
    assert rolled.returncode == 0, rolled.stderr
    assert scene.tree() == scene.before
    assert leftovers(scene.project) == []


def _folders(root: Path) -> tuple[Path, Path, Path]:
    live, kept, side = root / "media", root / ".media.synco-previous", root / "media.synco-swap"
    return live, kept, side


@pytest.mark.parametrize("cut", ["after-aside", "after-put-back"])
def test_a_rollback_cut_short_between_its_renames_loses_nothing(tmp_path: Path, cut: str) -> None:
    """Where names cannot be exchanged a rollback's swap is three renames (live aside as ``.synco-swap``, kept
    copy in, the one aside to the kept name). Cut short after the first or the second, the next rollback
    moves things back first and swaps: the installed content (with the uploads written into it) is kept,
    never removed."""
    from synco_core.install.state import ReplacedFolder, swap_folder

    live, kept, side = _folders(tmp_path)
    kept.mkdir()
    (kept / "old.txt").write_text("previous content")
    side.mkdir()
    (side / "installed.txt").write_text("installed")
    (side / "upload.jpg").write_text("the application's upload")
    if cut == "after-put-back":
        kept.rename(live)
    folder = ReplacedFolder(live, kept, previous=True)
    swapped = swap_folder(folder)
    assert (live / "old.txt").read_text() == "previous content"
    assert (kept / "upload.jpg").read_text() == "the application's upload"
    assert not side.exists()
    swap_folder(swapped)
    assert (live / "upload.jpg").read_text() == "the application's upload"
    assert (kept / "old.txt").read_text() == "previous content"


def test_a_rollback_finding_all_three_folders_refuses_in_one_line(tmp_path: Path) -> None:
    from synco_core.install.owned import ForeignFilesError
    from synco_core.install.state import ReplacedFolder, swap_folder

    live, kept, side = _folders(tmp_path)
    for folder in (live, kept, side):
        folder.mkdir()
        (folder / "file.txt").write_text(folder.name)
    with pytest.raises(ForeignFilesError) as refused:
        swap_folder(ReplacedFolder(live, kept, previous=True))
    assert str(side) in str(refused.value) and "\n" not in str(refused.value)
    assert all((folder / "file.txt").read_text() == folder.name for folder in (live, kept, side))


@pytest.mark.parametrize("exchanges", [True, False], ids=["exchange", "two-renames"])
def test_the_application_recreating_the_folder_mid_install_loses_nothing(tmp_path: Path, exchanges: bool,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Right after the live folder is moved (or exchanged) the application writes an upload into the folder's
    path, creating it if missing. Where names are exchanged the folder is never missing and the upload lands
    in the new content; where they cannot be, the install stops in one line, the upload, the previous
    content and nothing else where they were."""
    from synco_core.engines import crashpoints, default_files
    from synco_core.errors import SyncoError
    from synco_core.install import owned

    source, live = tmp_path / "received", tmp_path / "site" / "media"
    source.mkdir()
    (source / "new.txt").write_text("new")
    live.mkdir(parents=True)
    (live / "old.txt").write_text("old")
    if not exchanges:
        monkeypatch.setattr(owned, "exchange", lambda _first, _second: False)
    elif not owned.exchange(source, source):
        pytest.fail("this system cannot exchange names")  # Linux always can; the test runs there

    def application(step: str) -> None:
        if step == "files:install:kept":
            live.mkdir(exist_ok=True)
            (live / "upload.jpg").write_text("the application's upload")

    monkeypatch.setattr(crashpoints, "reached", application)
    backup = live.with_name(".media.synco-previous")
    if exchanges:
        result = default_files.install_tree(source, live)
        assert (live / "new.txt").read_text() == "new" and (backup / "old.txt").read_text() == "old"
    else:
        with pytest.raises(SyncoError) as stopped:
            default_files.install_tree(source, live)
        line = str(stopped.value)
        assert "\n" not in line and str(live) in line and str(backup) in line, line
        assert (backup / "old.txt").read_text() == "old"
        result = None
    assert (live / "upload.jpg").read_text() == "the application's upload"
    assert result is None or result.backup == backup


def test_a_first_receive_never_renames_over_a_folder_made_meanwhile(tmp_path: Path) -> None:
    """A set received for the first time is renamed into place whole; a folder with files created under its
    name meanwhile stops that in one line, both kept (the family's receive side: nothing replaced)."""
    from synco_core.errors import TransferError
    from synco_core.receive.staging import put_in_place, staging_folder

    set_dir = tmp_path / "uploads"
    staging = staging_folder(set_dir)
    staging.mkdir()
    (staging / "received.txt").write_text("received")
    set_dir.mkdir()
    (set_dir / "upload.jpg").write_text("the application's upload")
    with pytest.raises(TransferError) as stopped:
        put_in_place(staging, set_dir)
    assert "\n" not in str(stopped.value)
    assert (set_dir / "upload.jpg").read_text() == "the application's upload"
    assert (staging / "received.txt").read_text() == "received"


def test_an_undo_killed_right_after_its_exchange_is_finished_by_the_next_run(scene: Scene) -> None:
    """The undo exchanges the new folder and its kept copy, then removes the install's content: killed in
    between, the next run knows the kept name holds the install's content, not the previous one."""
    assert install(scene, kill_at="install:journal:recorded").returncode == KILLED
    cut = synco("db", "rollback", "--yes", kill_at="files:undo:exchanged", cwd=scene.project)
    assert cut.returncode == KILLED, cut.stderr
    rolled = synco("db", "rollback", "--yes", cwd=scene.project)
    assert rolled.returncode == 0, rolled.stderr
    assert scene.tree() == scene.before
    assert leftovers(scene.project) == []


def test_a_dotfile_carried_over_never_replaces_one_the_application_wrote_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Carrying the project's own dotfiles (and other sets' folders) into the live new content looks whether
    the name is free, then renames: an upload the application writes under that name in between stays, the
    previous one stays in the kept copy (the rename checks in the same step)."""
    from synco_core.engines import default_files

    previous, live = tmp_path / ".media.synco-previous", tmp_path / "media"
    (previous / "img").mkdir(parents=True)
    (previous / "img" / ".htaccess").write_text("the project's own")
    (live / "img").mkdir(parents=True)
    written = live / "img" / ".htaccess"
    renaming = default_files.owned.rename_new

    def rename_new(source: Path, target: Path) -> bool:
        if target == written:  # right before the rename, after the look: the application writes the name
            written.write_text("written by the application")
        return renaming(source, target)

    monkeypatch.setattr(default_files.owned, "rename_new", rename_new)
    assert default_files.carry_dotfiles(previous, live) == []
    assert written.read_text() == "written by the application"
    assert (previous / "img" / ".htaccess").read_text() == "the project's own"
