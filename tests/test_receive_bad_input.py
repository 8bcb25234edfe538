"""Receive refuses bad input with a one-line error, exit status 1, and nothing left under a final name."""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_transfer_support import StaticBehaviour, fixture_app_fixture, publish, static_server, tree_digest  # noqa: F401

from synco_core import age
from synco_core.cli.main import cli
from synco_core.errors import CryptoError, TransferError
from synco_core.receive import HttpTransport, ReceiveOptions, receive_session
from synco_core.receive.locate import find_session
from synco_core.receive.meta import identities_for
from synco_core.receive.transport import Response, Transport
from synco_core.serve import SessionFolder, SessionKey
from synco_core.serve.server import start_server
from synco_core.wire import META_FILE, Meta, PrivateFilesInfo, PublicFilesInfo, WireFileSet

SESSION = "synco-badinput0123456789"


def build(app: Path, **options: Any) -> SessionKey:
    key: SessionKey = publish(app, SESSION, **options)
    return key


def receive(url: str, key: str, target: Path, *extra: str) -> Any:
    return CliRunner().invoke(cli, ["receive", SESSION, key, "--base-url", url, "--target", str(target), "--all",
                                    *extra])


def final_names(target: Path) -> set[str]:
    return {p.name for p in target.iterdir()} if target.exists() else set()


def test_wrong_key(fixture_app: Path, tmp_path: Path) -> None:
    build(fixture_app)
    other = age.generate_identity().to_string()
    with static_server(fixture_app / "web") as (url, _):
        result = receive(url, other, tmp_path / "t")
    assert result.exit_code == 1
    assert "this key does not open session" in result.output
    assert other not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "t" / "dbDump.sqlite").exists()


def _flip_mac_character(data: bytes) -> bytes:
    """The header MAC with its first base64 character changed to another valid one (still canonical)."""
    start = data.index(b"\n--- ") + len(b"\n--- ")
    changed = b"B" if data[start:start + 1] != b"B" else b"C"
    return data[:start] + changed + data[start + 1:]


@pytest.mark.parametrize("damage, reason", [
    ("mac", "damaged header: the header MAC does not match"),
    ("payload", "damaged or truncated payload"),
])
def test_damaged_meta_is_reported_as_damage_not_as_a_wrong_key(fixture_app: Path, tmp_path: Path, damage: str,
                                                               reason: str) -> None:
    key = build(fixture_app, only=("dbDump",))
    meta = fixture_app / "web" / SESSION / META_FILE
    data = meta.read_bytes()
    # The MAC ends the header; the last byte belongs to the final chunk's authentication tag.
    data = _flip_mac_character(data) if damage == "mac" else data[:-1] + bytes([data[-1] ^ 0x01])
    meta.write_bytes(data)
    with static_server(fixture_app / "web") as (url, _):
        result = receive(url, key.secret, tmp_path / "t")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert f"{SESSION}/{META_FILE}: {reason}" in lines[0]
    assert "does not open" not in result.output
    assert key.secret not in result.output


def _damage(artifact: Path, damage: str) -> int:
    """Flip a byte in the middle of ``artifact`` or cut it in half; returns its new size."""
    data = bytearray(artifact.read_bytes())
    if damage == "tampered":
        data[len(data) // 2] ^= 0x01
    else:
        del data[len(data) // 2:]
    artifact.write_bytes(bytes(data))
    return len(data)


def failed_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.lstrip().startswith("failed ")]


@pytest.mark.parametrize("damage", ["tampered", "truncated"])
def test_damaged_dump_artifact(fixture_app: Path, tmp_path: Path, damage: str) -> None:
    key = build(fixture_app, only=("dbDump",))
    artifact = next((fixture_app / "web" / SESSION).glob("dump.*.enc"))
    original = artifact.stat().st_size
    size = _damage(artifact, damage)
    target = tmp_path / "t"
    with static_server(fixture_app / "web") as (url, _):
        result = receive(url, key.secret, target)
    assert result.exit_code == 1, result.output
    [line] = failed_lines(result.output)
    assert "dbDump (SqliteDump) - " in line
    if damage == "tampered":
        assert "damaged or truncated payload: chunk 2 failed authentication" in line
    else:
        # Served whole with its Content-Length: the server's file is this short, and running again gets the same.
        assert (f"the server's file is shorter than the session says: {SESSION}/{artifact.name} ends after {size} "
                f"of the {original} encrypted bytes the meta records") in line
        assert "run the same command again" not in result.output
    assert "dbDump.sqlite" not in final_names(target)
    assert not list(target.glob("*.part")), "a damaged download is not kept for resuming"


def test_tampered_private_tar(fixture_app: Path, tmp_path: Path) -> None:
    key = build(fixture_app, only=("private",))
    _damage(fixture_app / "web" / SESSION / "encrypted-resources-private", "tampered")
    target = tmp_path / "t"
    with static_server(fixture_app / "web") as (url, _):
        result = receive(url, key.secret, target)
    assert result.exit_code == 1, result.output
    [line] = failed_lines(result.output)
    assert "private (PrivateEncryptedFiles) - damaged or truncated payload:" in line
    assert "failed authentication" in line
    names = final_names(target)
    assert "private" not in names
    assert not any(name.endswith(("synco-part", ".part")) for name in names), names


def _rewrite_meta(web: Path, key: SessionKey, set_name: str, **changes: Any) -> None:
    """Re-encrypt the session's meta with the same key, with ``changes`` applied to one set's artifact details.

    The artifact itself is untouched and decrypts fine, so only the checks against the meta can refuse it.
    """
    folder = SessionFolder(web / SESSION, key.recipients)
    meta = Meta.from_bytes(age.decrypt_bytes((folder.path / META_FILE).read_bytes(), identities_for(key.secret)))
    file_set = meta.file_set(set_name)
    assert file_set is not None
    detail: Any = file_set.dump or file_set.private
    changed = {name: change(getattr(detail, name)) for name, change in changes.items()}
    if file_set.dump is not None:
        file_set.dump = dataclasses.replace(file_set.dump, **changed)
    else:
        assert file_set.private is not None
        file_set.private = dataclasses.replace(file_set.private, **changed)
    folder.write_meta(meta)


@pytest.mark.parametrize("set_name, field, change, reason", [
    ("dbDump", "sha256", lambda _old: "0" * 64, "SHA-256 of the content does not match the meta"),
    ("dbDump", "size_bytes", lambda old: old + 1, "{old} bytes after decryption, the meta says {new}"),
    ("dbDump", "encrypted_size_bytes", lambda old: old + 1,
     "a whole encrypted file of {old} bytes, the meta says {new}"),
    ("private", "sha256", lambda old: old[::-1], "SHA-256 of the content does not match the meta"),
], ids=["dump-sha256", "dump-size", "dump-encrypted-size", "private-sha256"])
def test_artifact_that_does_not_match_the_meta(fixture_app: Path, tmp_path: Path, set_name: str, field: str,
                                               change: Any, reason: str) -> None:
    key = build(fixture_app, only=(set_name,))
    web = fixture_app / "web"
    before = Meta.from_bytes(age.decrypt_bytes((web / SESSION / META_FILE).read_bytes(), identities_for(key.secret)))
    before_set = before.file_set(set_name)
    assert before_set is not None
    old = getattr(before_set.dump or before_set.private, field)
    assert old, f"serve records {field} for {set_name}"
    _rewrite_meta(web, key, set_name, **{field: change})
    target = tmp_path / "t"
    with static_server(web) as (url, _):
        result = receive(url, key.secret, target)
    assert result.exit_code == 1, result.output
    [line] = failed_lines(result.output)
    assert f"{set_name} (" in line
    assert reason.format(old=old, new=change(old)) in line, line
    names = final_names(target)
    assert "dbDump.sqlite" not in names and "private" not in names, names
    assert not any(name.endswith((".part", ".synco-part")) for name in names), names
    assert not list(target.rglob("*.part")) and not list(target.rglob("*.synco-part"))


def test_html_page_at_meta_url_means_no_session_and_404_then_right_candidate(fixture_app: Path,
                                                                           tmp_path: Path) -> None:
    key = build(fixture_app, only=("dbDump",))
    identities = identities_for(key.secret)
    empty = tmp_path / "empty"
    empty.mkdir()
    with static_server(empty, StaticBehaviour(html_for_missing=True)) as (html_url, _), \
            static_server(empty) as (missing_url, _), static_server(fixture_app / "web") as (good_url, _):
        result = receive(html_url, key.secret, tmp_path / "t")
        assert result.exit_code == 1
        assert "not an encrypted synco file (got an HTML page)" in result.output
        transport, meta, url = find_session([missing_url, html_url, good_url], SESSION, identities, HttpTransport)
        transport.close()
        assert url == good_url
        assert meta.state == "Ready"


def _hand_built(web: Path, key: SessionKey, file_set: WireFileSet, artifact: str, payload: bytes) -> None:
    folder = SessionFolder(web / SESSION, key.recipients)
    folder.path.mkdir(parents=True)
    with folder.artifact(artifact, compress=False) as (plain, _stats):
        plain.write(payload)
    folder.write_meta(Meta(state="Ready", framework_name="Hand", file_sets=[file_set]))


@pytest.mark.parametrize("path", ["../evil.txt", "/etc/evil.txt", "a/../../evil.txt"])
def test_public_index_with_unsafe_path(tmp_path: Path, path: str) -> None:
    web = tmp_path / "web"
    (web / "ok.txt").parent.mkdir(parents=True)
    (web / "ok.txt").write_text("ok")
    key = SessionKey.generate()
    index = {"ok.txt": {"sizeBytes": 2, "mTime": 1, "publicUri": "ok.txt"},
             path: {"sizeBytes": 2, "mTime": 1, "publicUri": "ok.txt"}}
    file_set = WireFileSet(name="files", type="PublicFiles",
                           public=PublicFilesInfo(index_file_name="index.enc", size_bytes=4))
    _hand_built(web, key, file_set, "index.enc", json.dumps(index).encode())
    target = tmp_path / "t"
    with static_server(web) as (url, _):
        result = receive(url, key.secret, target)
    assert result.exit_code == 1
    assert "unsafe path" in result.output
    assert not (tmp_path / "evil.txt").exists()
    assert not list(tmp_path.rglob("evil.txt"))


def _tar(*members: tuple[str, str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, value in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value.encode()))
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = value
                tar.addfile(info)
            elif kind == "device":
                info.type = tarfile.CHRTYPE
                tar.addfile(info)
    return buffer.getvalue()


@pytest.mark.parametrize("members", [
    [("good.txt", "file", "x"), ("../escape.txt", "file", "evil")],
    [("/abs.txt", "file", "evil")],
    [("link", "symlink", "../../"), ("link/escape.txt", "file", "evil")],
    [("link", "symlink", "/etc")],
    [("dev", "device", "")],
], ids=["dotdot", "absolute", "symlink-escape-relative", "symlink-absolute", "device"])
def test_private_tar_with_unsafe_member(tmp_path: Path, members: list[tuple[str, str, str]]) -> None:
    web = tmp_path / "web"
    web.mkdir()
    key = SessionKey.generate()
    file_set = WireFileSet(name="local", type="PrivateEncryptedFiles",
                           private=PrivateFilesInfo(tar_uri="encrypted-resources-local", size_bytes=0))
    _hand_built(web, key, file_set, "encrypted-resources-local", _tar(*members))
    target = tmp_path / "deep" / "t"
    with static_server(web) as (url, _):
        result = receive(url, key.secret, target)
    assert result.exit_code == 1, result.output
    assert "unsafe" in result.output
    assert "local" not in final_names(target)
    assert not any(name.endswith("synco-part") for name in final_names(target))
    assert not list(target.glob("*.enc.part")), "an unsafe archive is not kept for resuming"
    assert not list(tmp_path.rglob("escape.txt"))


class RecordingTransport:
    """Delegates to a real transport and records the offsets asked for."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.description = inner.description
        self.offsets: dict[str, int] = {}

    def open(self, path: str, offset: int = 0) -> AbstractContextManager[Response]:
        self.offsets[path] = offset
        return self.inner.open(path, offset)

    def close(self) -> None:
        self.inner.close()


def test_server_killed_mid_download_then_resumed(fixture_app: Path, tmp_path: Path) -> None:
    key = build(fixture_app, only=("dbDump", "private"))
    artifact = next((fixture_app / "web" / SESSION).glob("dump.*.enc"))
    size = artifact.stat().st_size
    target = tmp_path / "t"
    behaviour = StaticBehaviour(cut_after={f"/{SESSION}/{artifact.name}": size // 2})
    with static_server(fixture_app / "web", behaviour) as (url, _):
        result = receive(url, key.secret, target)
    assert result.exit_code == 1, result.output
    assert "interrupted" in result.output
    assert "dbDump.sqlite" not in final_names(target)
    parts = list(target.glob("dbDump.sqlite.*.enc.part"))
    assert len(parts) == 1 and 0 < parts[0].stat().st_size < size
    kept = parts[0].stat().st_size
    assert (target / "private").is_dir(), "the other set still arrived"

    server = start_server(fixture_app / "web", "127.0.0.1:0")
    try:
        transport = RecordingTransport(HttpTransport(server.url))
        summary = receive_session(transport, SESSION, key.secret, ReceiveOptions(target=target, all=True))
        transport.close()
    finally:
        server.stop()
    assert summary.ok, summary.sets
    assert transport.offsets[f"{SESSION}/{artifact.name}"] == kept
    assert (target / "dbDump.sqlite").read_bytes() == (fixture_app / "data.db").read_bytes()
    assert not list(target.glob("*.part"))
    assert tree_digest(target / "private") == tree_digest(fixture_app / "private")


def test_wrong_key_raises_crypto_error_from_the_api(fixture_app: Path, tmp_path: Path) -> None:
    build(fixture_app, only=("dbDump",))
    with static_server(fixture_app / "web") as (url, _):
        transport = HttpTransport(url)
        with pytest.raises(CryptoError):
            receive_session(transport, SESSION, "not the passphrase", ReceiveOptions(target=tmp_path, all=True))
        with pytest.raises(TransferError):
            receive_session(transport, "synco-doesnotexist", "x" * 10, ReceiveOptions(target=tmp_path, all=True))
        transport.close()
    assert META_FILE


def test_public_file_cut_off_inside_a_pipelined_batch(fixture_app: Path, tmp_path: Path) -> None:
    key = build(fixture_app, only=("uploads",))
    cut = "/uploads/dir1/file%201.bin"
    size = (fixture_app / "web/uploads/dir1/file 1.bin").stat().st_size
    assert size > 100
    target = tmp_path / "t"
    with static_server(fixture_app / "web", StaticBehaviour(cut_after={cut: 100})) as (url, behaviour):
        result = receive(url, key.secret, target)
        assert result.exit_code == 1, result.output
        assert "failed: dir1/file 1.bin" in result.output
        assert not (target / "uploads/dir1/file 1.bin").exists()
        # What arrived is kept for the next run, named for the version (size and hash) of the file it belongs to.
        [part] = target.rglob("*.synco-part")
        assert part.name.startswith("file 1.bin.") and part.stat().st_size == 100
        others = tree_digest(target / "uploads")
        assert len(others) == 13, "every other file still arrived, and the part file waits"
        result = receive(url, key.secret, target)
        assert result.exit_code == 0, result.output
        assert behaviour.requests[cut] == 2
        # The rest was asked for; this server ignores Range and sends the whole file, which is taken instead.
        assert [asked for asked in behaviour.ranges if ".pack-" not in asked[0]] == [(cut, "bytes=100-")]
        assert not list(target.rglob("*.synco-part"))
    expected = tree_digest(fixture_app / "web" / "uploads")
    del expected["skip.tmp"]
    assert tree_digest(target / "uploads") == expected
