"""Packs that cannot give their files: every such file comes from its own URL, and the tree is still exact.

A pack can be damaged (a byte flipped on the server: its chunk fails authentication), gone (removed from
the web root), or its table unreadable; and a packed file's content may not match its hash in the index.
None of it may cost a file or leave a wrong one: the files fall back to their ``publicUri``, are checked
by their SHA-256 like every file, and the receive succeeds. The packs the fallbacks replaced are asked for
once (no retry loop), and the URLs of the files they hold are asked for instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner
from test_transfer_support import fixture_app_fixture, publish, static_server, tree_digest  # noqa: F401

from synco_core.cli.main import cli
from synco_core.index.packs import SMALL_FILE_MAX

SESSION = "synco-packstest0123456789"


def expected(app: Path) -> dict[str, str]:
    digests = tree_digest(app / "web" / "uploads")
    del digests["skip.tmp"]
    return digests


def small_files(app: Path) -> set[str]:
    uploads = app / "web" / "uploads"
    return {path.relative_to(uploads).as_posix() for path in uploads.rglob("*")
            if path.is_file() and path.stat().st_size <= SMALL_FILE_MAX and path.name != "skip.tmp"}


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-20] ^= 0x01
    path.write_bytes(bytes(data))


DAMAGES: dict[str, Callable[[Path], None]] = {
    "pack damaged": lambda session: [flip_a_byte(pack) for pack in session.glob("*.pack-*.enc")] and None,
    "pack gone": lambda session: [pack.unlink() for pack in session.glob("*.pack-*.enc")] and None,
    "pack table gone": lambda session: [table.unlink() for table in session.glob("*.packs.json.enc")] and None,
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_files_of_a_pack_that_cannot_give_them_come_from_their_urls(fixture_app: Path, tmp_path: Path,
                                                                    damage: str) -> None:
    key = publish(fixture_app, SESSION, only=("uploads",))
    small = small_files(fixture_app)
    assert small, "the fixture has files small enough to pack"
    DAMAGES[damage](fixture_app / "web" / SESSION)
    target = tmp_path / "t"
    with static_server(fixture_app / "web") as (url, behaviour):
        result = CliRunner().invoke(cli, ["receive", SESSION, key.secret, "--base-url", url, "--target",
                                          str(target), "--all"])
    assert result.exit_code == 0, result.output
    assert tree_digest(target / "uploads") == expected(fixture_app)
    fetched = {unquote(path.removeprefix("/uploads/")) for path in behaviour.requests if path.startswith("/uploads/")}
    assert small <= fetched, "every small file came by its URL"
    assert all(count == 1 for path, count in behaviour.requests.items() if ".pack-" in path), behaviour.requests


def test_a_packed_file_whose_bytes_do_not_match_its_hash_comes_from_its_url(
        fixture_app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pack decrypts (its chunks are authentic) but hands out other bytes than the index's hash: as a
    pack built from a file that changed between hashing and packing would."""
    import synco_core.receive.packfetch as packfetch

    key = publish(fixture_app, SESSION, only=("uploads",))
    real = packfetch.ChunkDecryptor.decrypt

    def garbled(self: packfetch.ChunkDecryptor, first_chunk: int, data: bytes | memoryview) -> bytes:
        plain = bytearray(real(self, first_chunk, data))
        plain[0] ^= 0xFF
        return bytes(plain)

    monkeypatch.setattr(packfetch.ChunkDecryptor, "decrypt", garbled)
    target = tmp_path / "t"
    with static_server(fixture_app / "web") as (url, behaviour):
        result = CliRunner().invoke(cli, ["receive", SESSION, key.secret, "--base-url", url, "--target",
                                          str(target), "--all"])
    assert result.exit_code == 0, result.output
    assert tree_digest(target / "uploads") == expected(fixture_app)
    # The first file of the first chunk had wrong bytes: it (and only files like it) came by URL.
    assert any(path.startswith("/uploads/") for path in behaviour.requests)
