"""What whoever can write the uploads folder (the web server's user, or an upload bug) can make synco's own
servers send: ``serve --listen`` runs as the deploy user, who can read ``.env`` and ``~/.ssh``.

Every test puts something in an indexed file's place after serve indexed it, the way an attacker who knows
their own upload's URL would, and fetches that URL.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_transfer_support import fixture_app_fixture  # noqa: F401

from synco_core.detection import detect
from synco_core.pull.client import ChannelClient
from synco_core.pull.source import PullSource
from synco_core.serve.public_set import SetWriteResult, hashed_rows, public_candidates
from synco_core.serve.runner import PublishedSession, ServeOptions, serve
from synco_core.values import FileSet, PublicFile
from synco_core.wire import PublicFilesInfo

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


def test_pull_sends_only_the_files_serve_indexed_whatever_is_put_in_their_place(
        fixture_app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over pull's channel: an indexed file replaced by a link to the project's ``.env`` (inside the project,
    which the channel's public space allows), or by a FIFO after it was checked, is refused, never sent and
    never waited for; the other files still come."""
    (fixture_app / ".env").write_bytes(SECRET)
    uploads = fixture_app / "web" / "uploads"
    monkeypatch.chdir(fixture_app)
    to_server, from_client = os.pipe()
    to_client, from_server = os.pipe()
    source = PullSource(os.fdopen(to_server, "rb"), os.fdopen(from_server, "wb"))

    def run() -> None:
        source.server.serve()
        if source.server.closed_by_client:
            source.server.acknowledge_bye()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    client = ChannelClient(os.fdopen(to_client, "rb"), os.fdopen(from_client, "wb"))
    try:
        client.handshake()
        client.build({"only": ["uploads"]})
        (uploads / "dir0" / "file 0.bin").unlink()
        (uploads / "dir0" / "file 0.bin").symlink_to(fixture_app / ".env")
        public = source.server.spaces["public"]
        real_resolve = public.resolve

        def fifo_once_checked(path: str) -> Path:
            # The file passed every check by its path; a FIFO takes its place before it is opened.
            resolved = real_resolve(path)
            if "/dir1/" in path:
                resolved.unlink()
                os.mkfifo(resolved)
            return resolved

        monkeypatch.setattr(public, "resolve", fifo_once_checked)
        answers = {}
        for name in ("uploads/dir0/file%200.bin", "uploads/dir1/file%201.bin", "uploads/dir0/file%203.bin"):
            with client.get("public", name) as response:
                answers[name] = response.ok, b"".join(response.iter_chunks()) if response.ok else b""
        client.bye()
    finally:
        thread.join(10)
        source.cleanup()
    assert answers["uploads/dir0/file%200.bin"] == (False, b"")
    assert answers["uploads/dir1/file%201.bin"] == (False, b"")
    assert answers["uploads/dir0/file%203.bin"] == (True, (uploads / "dir0" / "file 3.bin").read_bytes())


def test_listen_sends_the_session_it_made_not_a_folder_put_in_its_place(fixture_app: Path, tmp_path: Path) -> None:
    """A web root the web server's user may write (WordPress's often is): that user sees the session's name,
    renames the folder and puts one of their own under it, with a link to a secret of the deploy user's.
    The server still sends the session serve made, and nothing through the link."""
    secret = tmp_path / "id_rsa"
    secret.write_bytes(SECRET)
    answers: dict[str, tuple[int, bytes]] = {}

    def on_ready(published: PublishedSession) -> None:
        assert published.base_url is not None
        folder = published.folder
        meta = (folder / "meta.json.enc").read_bytes()
        folder.rename(folder.with_name("aside"))
        folder.mkdir()
        (folder / "leak").symlink_to(secret)
        (folder / "meta.json.enc").symlink_to(secret)
        with httpx.Client(base_url=published.base_url) as client:
            for name in ("leak", "meta.json.enc"):
                response = client.get(f"{published.session}/{name}")
                answers[name] = response.status_code, response.content
        answers["expected meta"] = 200, meta
        shutil.rmtree(folder)
        folder.with_name("aside").rename(folder)

    serve(detect(fixture_app), ServeOptions(listen="127.0.0.1:0", keep=True), echo=lambda _line: None,
          on_ready=on_ready)
    assert answers["leak"][0] == 404
    assert answers["meta.json.enc"] == answers["expected meta"]


def test_a_plugins_entries_below_its_set_are_never_hashed_through_a_link(tmp_path: Path) -> None:
    """A plugin that lists its set's files itself (a set served from a CDN) names a file an uploader made a
    link to a secret, or whose folder they made a link to a folder of secrets: its entry stays listed as the
    plugin gave it, without the secret's hash or size."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "big.jpg").write_bytes(SECRET * 1000)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "link.jpg").symlink_to(secrets / "big.jpg")
    (uploads / "folder").symlink_to(secrets)
    (uploads / "plain.jpg").write_bytes(b"plain")

    def entries() -> Iterator[PublicFile]:
        for name in ("folder/big.jpg", "link.jpg", "plain.jpg"):
            yield PublicFile(path=name, size=5, mtime=0, uri=f"https://cdn.example/{name}", is_absolute_url=True,
                             source=str(uploads / name))

    file_set = FileSet(name="cdn", kind="public", root=uploads, entries=entries)
    counts = SetWriteResult(PublicFilesInfo(index_file_name="", size_bytes=0))
    rows = {row[0]: row for row in hashed_rows(public_candidates(file_set), None, None, None, counts)}
    assert rows.keys() == {"folder/big.jpg", "link.jpg", "plain.jpg"}
    assert rows["folder/big.jpg"][1:7:5] == rows["link.jpg"][1:7:5] == (5, None)
    assert rows["plain.jpg"][6] == hashlib.sha256(b"plain").hexdigest()
