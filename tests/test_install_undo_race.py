"""The filtered removal of an install's undo against an application writing into the folder meanwhile.

Undoing an install removes only the entries the install put into a live folder (``owned.remove_owned``):
each is checked against the install's note, then removed. An unlink by name removes whatever the name
holds at that moment, so an upload renamed over one of the install's files between the check and the
unlink (an image regenerated, a file saved through a temporary name) was lost. The removal now takes the
checked entry aside under a name of its own and checks again what it took: whatever the application wrote,
before or after the check, is still there afterwards, under its own name.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from synco_core.install import owned
from synco_core.trees import ASIDE_PREFIX


def _installed(folder: Path, count: int) -> owned.Manifest:
    """``folder`` as an install put it there: ``count`` files, noted."""
    folder.mkdir(parents=True)
    (folder / "img").mkdir()
    for index in range(count):
        (folder / "img" / f"{index}.jpg").write_bytes(b"installed %d" % index)
    note = owned.write_manifest(folder, owned.manifest_path(folder))
    return note


def _write_as_the_application(path: Path, content: bytes) -> None:
    """As applications save a file: a temporary name beside it, renamed over it."""
    temp = path.with_name(path.name + ".tmp-app")
    temp.write_bytes(content)
    os.replace(temp, path)


def _left(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


@pytest.mark.parametrize("how", ["renamed over", "removed and written again"])
def test_an_upload_written_between_the_check_and_the_removal_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """The application writes ``img/1.jpg`` right after the undo judged the install's ``img/1.jpg`` its own."""
    folder = tmp_path / "uploads"
    note = _installed(folder, 3)
    judged = owned.Manifest.owns

    def owns_then_the_application_writes(self: owned.Manifest, relative: str, info: os.stat_result) -> bool:
        answer = judged(self, relative, info)
        if relative == "img/1.jpg" and answer and not (folder / "img" / "1.jpg.written").exists():
            (folder / "img" / "1.jpg.written").touch()
            if how == "removed and written again":
                (folder / "img" / "1.jpg").unlink()
                (folder / "img" / "1.jpg").write_bytes(b"the application's new 1.jpg")
            else:
                _write_as_the_application(folder / "img" / "1.jpg", b"the application's new 1.jpg")
        return answer

    monkeypatch.setattr(owned.Manifest, "owns", owns_then_the_application_writes)
    stays = owned.remove_owned(folder, note)
    assert _left(folder) == {"img/1.jpg": b"the application's new 1.jpg", "img/1.jpg.written": b""}
    assert "img/1.jpg" in stays.first


def test_uploads_written_all_through_an_undo_all_stay(tmp_path: Path) -> None:
    """A writer thread saves new versions of the install's files, one after another, while the undo runs:
    every version it wrote last is there afterwards, and no aside name is left."""
    folder = tmp_path / "uploads"
    count = 3000
    note = _installed(folder, count)
    written: dict[str, bytes] = {}
    stop = threading.Event()

    def application() -> None:
        index = 0
        while not stop.is_set() and index < count:
            relative = f"img/{(index * 7) % count}.jpg"
            content = b"the application's %d" % index
            _write_as_the_application(folder / relative, content)
            written[relative] = content
            index += 1

    writer = threading.Thread(target=application)
    writer.start()
    try:
        owned.remove_owned(folder, note)
    finally:
        stop.set()
        writer.join()
    left = _left(folder)
    assert written, "the writer wrote nothing while the undo ran"
    assert {relative: left.get(relative) for relative in written} == written
    assert not [path for path in folder.rglob("*") if path.name.startswith(ASIDE_PREFIX)]
