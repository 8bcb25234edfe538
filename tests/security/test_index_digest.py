"""Issue 16's quick re-sync under a hostile session: what a session can do with ``indexSha256``.

A receive that brought a public set up to date keeps the index's SHA-256 (the meta's ``indexSha256``) and
a digest of the folder it left; a later session declaring the same hash only gets the folder walked. So a
session controls one more thing: the hash. It must never be more than a way to say "nothing changed":

- a hash that is not a SHA-256 is a malformed meta;
- an index that is not the one its hash names is refused before any file is fetched or written;
- a hash copied from an earlier session, over another index, makes the receive keep exactly what the
  folder holds: the index is not read, nothing is fetched, written or removed;
- what a killed receive leaves in the folder (a part file, a half-updated tree) never passes for the
  folder that earlier receive completed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from crafted_session import CraftedServer, CraftedSession, run_receive

CONTENT = {"a.txt": b"first file\n", "sub/b.txt": b"second file, a little longer\n"}


def honest_index(crafted: CraftedSession, files: dict[str, bytes]) -> dict[str, Any]:
    """The files put on the crafted site, and an index naming them (with their hashes)."""
    index = {}
    for path, data in files.items():
        (crafted.web_root / "site" / path).parent.mkdir(parents=True, exist_ok=True)
        (crafted.web_root / "site" / path).write_bytes(data)
        index[path] = {"sizeBytes": len(data), "mTime": 1_700_000_000, "publicUri": f"site/{path}",
                       "isAbsoluteUrl": False, "sha256": hashlib.sha256(data).hexdigest()}
    return index


def published(crafted: CraftedSession, index: dict[str, Any], **details: Any) -> dict[str, Any]:
    """A Ready meta with one public set of ``index``, its ``indexSha256`` that of the index unless given."""
    file_set = crafted.public_set(index, **details)
    if "indexSha256" not in details:
        plain = json.dumps(index).encode()
        file_set["publicFiles"]["indexSha256"] = hashlib.sha256(plain).hexdigest()
    crafted.ready(file_set)
    return file_set


def local_tree(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*")
            if path.is_file() or path.is_symlink()} if folder.exists() else {}


def fetched(server: CraftedServer) -> set[str]:
    return {request.path.split("/")[-1] for request in server.requests}


@pytest.mark.parametrize("declared", ["f" * 63, "g" * 64, "0" * 65, 12345, ""])
def test_an_index_hash_that_is_not_a_sha256_is_a_malformed_meta(crafted: CraftedSession,
                                                                crafted_server: Callable[..., CraftedServer],
                                                                tmp_path: Path, declared: Any) -> None:
    published(crafted, honest_index(crafted, CONTENT), indexSha256=declared)
    server = crafted_server(crafted.web_root)
    result = run_receive(crafted, server.url, tmp_path / "target")
    assert result.exit_code == 1, result.output
    assert "indexSha256" in result.output
    assert local_tree(tmp_path / "target" / "public") == {}


def test_an_index_that_is_not_the_one_its_hash_names_writes_nothing(crafted: CraftedSession,
                                                                    crafted_server: Callable[..., CraftedServer],
                                                                    tmp_path: Path) -> None:
    published(crafted, honest_index(crafted, CONTENT), indexSha256="0" * 64)
    server = crafted_server(crafted.web_root)
    result = run_receive(crafted, server.url, tmp_path / "target")
    assert result.exit_code == 1, result.output
    assert "does not match the SHA-256 the meta gives" in result.output
    assert not fetched(server) & {"a.txt", "b.txt"}, "refused before any file is asked for"
    assert local_tree(tmp_path / "target" / "public") == {}


def test_a_copied_hash_over_another_index_only_keeps_the_folder_as_it_is(
        crafted: CraftedSession, crafted_server: Callable[..., CraftedServer], tmp_path: Path) -> None:
    first = published(crafted, honest_index(crafted, CONTENT))
    server = crafted_server(crafted.web_root)
    target = tmp_path / "target"
    assert run_receive(crafted, server.url, target).exit_code == 0
    before = local_tree(target / "public")
    assert before == CONTENT
    # The same hash, over an index that drops a file, changes one and names a path out of the set.
    hostile = honest_index(crafted, {"a.txt": b"replaced by the server\n", "new.txt": b"planted\n"})
    hostile["../escape.txt"] = dict(hostile["new.txt"])
    published(crafted, hostile, indexSha256=first["publicFiles"]["indexSha256"])
    server.requests.clear()
    again = run_receive(crafted, server.url, target, "--delete")
    assert again.exit_code == 0, again.output
    assert fetched(server) == {"meta.json.enc"}, "neither the index nor any file was asked for"
    assert local_tree(target / "public") == before
    assert not (target / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()


@pytest.mark.parametrize("leftover", ["part file", "half-updated file"])
def test_what_a_killed_receive_leaves_is_never_taken_for_a_completed_one(
        crafted: CraftedSession, crafted_server: Callable[..., CraftedServer], tmp_path: Path, leftover: str) -> None:
    published(crafted, honest_index(crafted, CONTENT))
    server = crafted_server(crafted.web_root)
    target = tmp_path / "target"
    assert run_receive(crafted, server.url, target).exit_code == 0
    # What kill -9 in the middle of a later receive leaves behind: a part file beside the files, or a file
    # already replaced by another session's version (same size, the other session's mtime).
    if leftover == "part file":
        (target / "public" / "sub" / "b.txt.0123abcd.synco-part").write_bytes(b"half of something")
    else:
        (target / "public" / "a.txt").write_bytes(b"FIRST FILE\n")
        os.utime(target / "public" / "a.txt", (1_800_000_000, 1_800_000_000))
    server.requests.clear()
    again = run_receive(crafted, server.url, target, "--delete")
    assert again.exit_code == 0, again.output
    assert any(name.endswith(".index.json.enc") for name in fetched(server)), "the index is compared in full"
    assert local_tree(target / "public") == CONTENT
