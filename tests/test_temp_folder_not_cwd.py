"""Nothing synco writes for itself lands in the current directory when no temporary folder is writable.

``tempfile.gettempdir()`` falls back to the current directory when ``$TMPDIR``, ``/tmp``, ``/var/tmp`` and
``/usr/tmp`` are all unwritable: a pull built its zipapp (several MB) in the project, serve made its scratch
folder and allow lists in the web root. Each is refused in one line instead, unless ``$TMPDIR`` names that
directory on purpose (``synco_core.tempfolder``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from synco_core.errors import ConfigError
from synco_core.pull.zipapp import build_zipapp
from synco_core.scratch import temporary_scratch
from synco_core.serve.server import AllowList
from synco_core.tempfolder import NO_TEMP_FOLDER_HERE


def _zipapp(tmp_path: Path) -> object:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    # The cache folder cannot be made (a file is in its way), so the build falls back to the temporary folder.
    return build_zipapp(cache=blocker / "cache")


def _scratch(tmp_path: Path) -> object:
    scratch = temporary_scratch()
    scratch.remove()
    return scratch


def _allow_list(tmp_path: Path) -> object:
    allowed = AllowList(None)
    allowed.add_set_path("uploads", "/uploads/a.png")
    return allowed


WRITERS: dict[str, Callable[[Path], object]] = {"zipapp": _zipapp, "scratch": _scratch, "allow list": _allow_list}


@pytest.mark.parametrize("writer", WRITERS)
def test_the_current_directory_is_never_the_temporary_folder(
    writer: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    # What gettempdir() answers when none of its candidates is writable.
    monkeypatch.setattr(tempfile, "tempdir", str(project))
    monkeypatch.delenv("TMPDIR", raising=False)
    with pytest.raises(ConfigError) as refused:
        WRITERS[writer](tmp_path)
    assert str(refused.value) == NO_TEMP_FOLDER_HERE
    assert list(project.iterdir()) == []


def test_a_tmpdir_naming_the_current_directory_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    scratch = temporary_scratch()
    assert scratch.path.parent == tmp_path
    scratch.remove()


@pytest.mark.parametrize("writer", WRITERS)
def test_no_writable_folder_at_all_is_the_same_one_line(
    writer: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # When not even the current directory is writable, gettempdir() raises FileNotFoundError ("No usable
    # temporary directory found in [...]"); tests/test_pull_ssh_account.py reaches it for real on a read-only /tmp.
    def nowhere() -> str:
        raise FileNotFoundError(2, "No usable temporary directory found in ['/tmp', '/var/tmp', '/usr/tmp']")

    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setattr(tempfile, "_get_default_tempdir", nowhere)
    with pytest.raises(ConfigError) as refused:
        WRITERS[writer](tmp_path)
    assert str(refused.value) == NO_TEMP_FOLDER_HERE
