"""The crafted-session server itself: its sessions are valid for a receiver, its replies are what they say."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from pathlib import Path

import zstandard
from click.testing import CliRunner
from crafted_session import (
    CraftedServer,
    CraftedSession,
    Reply,
    directory,
    endless,
    file,
    rle,
    symlink,
    tar_bytes,
    zstd_frame,
)

from synco_core.cli.main import cli


def test_zstd_frame_decodes_to_its_parts() -> None:
    frame = zstd_frame(b"head", rle(300_000, b"x"), b"tail")
    out = zstandard.ZstdDecompressor().decompressobj().decompress(frame)
    assert out == b"head" + b"x" * 300_000 + b"tail"
    assert len(zstd_frame(rle(4 << 30))) < 140_000, "a 4 GiB bomb stays small"


def test_a_crafted_session_receives(crafted_any_key: CraftedSession, crafted_server: Callable[..., CraftedServer],
                                    tmp_path: Path) -> None:
    session = crafted_any_key
    tar = tar_bytes(directory("d"), file("d/a.txt", b"hello"), symlink("d/link", "a.txt"))
    public = session.folder.parent / "pub" / "x.txt"
    public.parent.mkdir(parents=True)
    public.write_bytes(b"public!")
    session.ready(
        session.dump_set(b"SELECT 1;\n"),
        session.private_set(tar),
        session.public_set({"x.txt": {"sizeBytes": 7, "mTime": 1_700_000_000, "publicUri": "pub/x.txt"}}),
    )
    server = crafted_server(session.web_root)
    target = tmp_path / "t"
    result = CliRunner().invoke(cli, ["receive", session.session_id, session.key, "--base-url", server.url,
                                      "--target", str(target), "--all"])
    assert result.exit_code == 0, result.output
    assert (target / "dbDump.sql").read_bytes() == b"SELECT 1;\n"
    assert (target / "files/d/a.txt").read_bytes() == b"hello"
    assert (target / "public/x.txt").read_bytes() == b"public!"


def test_replies_and_counting(crafted_server: Callable[..., CraftedServer], tmp_path: Path) -> None:
    server = crafted_server(tmp_path)
    (tmp_path / "f.txt").write_bytes(b"0123456789")
    server.reply("/endless", Reply(body=endless(total=1_000_000), length=None))
    server.redirect("/moved", "http://elsewhere.invalid/x")
    conn = http.client.HTTPConnection("127.0.0.1", server.port)
    conn.request("GET", "/f.txt", headers={"Range": "bytes=4-"})
    response = conn.getresponse()
    assert (response.status, response.read()) == (206, b"456789")
    conn.request("GET", "/moved")
    response = conn.getresponse()
    response.read()
    assert (response.status, response.getheader("Location")) == (302, "http://elsewhere.invalid/x")
    conn.request("GET", "/endless", headers={"Authorization": "Basic eDp5"})
    assert len(conn.getresponse().read()) == 1_000_000
    conn.close()
    assert server.sent["/endless"] == 1_000_000
    assert server.requests_for("/endless")[0].headers["Authorization"] == "Basic eDp5"
    assert json.dumps([r.path for r in server.requests]) == '["/f.txt", "/moved", "/endless"]'
