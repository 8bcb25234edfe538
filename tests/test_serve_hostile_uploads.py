"""What whoever can write the uploads folder (the web server's user, or an upload bug) can make synco's own
servers send: ``serve --listen`` runs as the deploy user, who can read ``.env`` and ``~/.ssh``.

Every test puts something in an indexed file's place after serve indexed it, the way an attacker who knows
their own upload's URL would, and fetches that URL.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest
from test_transfer_support import fixture_app_fixture  # noqa: F401

from synco_core.detection import detect
from synco_core.serve.runner import PublishedSession, ServeOptions, serve

SECRET = b"DB_PASSWORD=hunter2\n"


@pytest.mark.parametrize("worker_after", ["0", "3"], ids=["walked here", "walked by a worker process"])
def test_listen_sends_only_the_files_it_indexed_whatever_is_put_in_their_place(
        fixture_app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, worker_after: str) -> None:
    """A file replaced by a link to the application's secrets, a folder replaced by a link to a folder of
    secrets with the same names, a file replaced by a hard link to a secret: 404. A file rewritten in place, and the
    others, are still sent. The same for the files a worker process indexed (past the first three)."""
    monkeypatch.setenv("SYNCO_SERVE_WORKER_FILES", worker_after)
    secrets = tmp_path / "home-deploy"
    secrets.mkdir()
    (secrets / "file 1.bin").write_bytes(SECRET)
    (secrets / "env").write_bytes(SECRET)
    uploads = fixture_app / "web" / "uploads"
    answers: dict[str, tuple[int, bytes]] = {}

    def on_ready(published: PublishedSession) -> None:
        assert published.base_url is not None
        (uploads / "dir0" / "file 0.bin").unlink()
        (uploads / "dir0" / "file 0.bin").symlink_to(secrets / "env")
        shutil.rmtree(uploads / "dir1")
        (uploads / "dir1").symlink_to(secrets)
        (uploads / "dir2" / "file 2.bin").unlink()
        os.link(secrets / "env", uploads / "dir2" / "file 2.bin")
        with (uploads / "dir2" / "file 5.bin").open("r+b") as handle:
            handle.write(b"rewritten in place")
        with httpx.Client(base_url=published.base_url) as client:
            for name in ("dir0/file%200.bin", "dir1/file%201.bin", "dir2/file%202.bin", "dir2/file%205.bin",
                         "dir0/file%203.bin"):
                response = client.get(f"uploads/{name}")
                answers[name] = response.status_code, response.content

    serve(detect(fixture_app), ServeOptions(listen="127.0.0.1:0", keep=True), echo=lambda _line: None,
          on_ready=on_ready)
    assert answers["dir0/file%200.bin"][0] == 404
    assert answers["dir1/file%201.bin"][0] == 404
    assert answers["dir2/file%202.bin"][0] == 404
    assert answers["dir2/file%205.bin"] == (200, (uploads / "dir2" / "file 5.bin").read_bytes())
    assert answers["dir0/file%203.bin"] == (200, (uploads / "dir0" / "file 3.bin").read_bytes())
    assert all(SECRET not in content for _status, content in answers.values())
