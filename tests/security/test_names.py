"""Issue 14, item 1: names from the session never become paths unchecked.

Every string of a session that ends up in a local file name (set names, artifact names, the dump format,
index keys, tar member names) passes one rule (:mod:`synco_core.names`); a dump is saved under a name
derived locally (``<set>.sql``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
from crafted_session import (
    CraftedServer,
    CraftedSession,
    error_lines,
    file,
    files_containing,
    run_receive,
    tar_bytes,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from synco_core.errors import UnsafePathError
from synco_core.names import safe_name, safe_relative_path
from synco_core.receive.session import local_name
from synco_core.wire import WireFileSet, WireFormatError

MARKER = b"-- content of a hostile session\n"


def _outside_writes(tmp_path: Path, crafted: CraftedSession, target: Path) -> list[Path]:
    """Files with the session's content anywhere but the session folder and directly inside the target."""
    return [path for path in files_containing(tmp_path, MARKER, skip=crafted.web_root)
            if path.parent != target and target not in path.parents]


@pytest.mark.parametrize("fmt", [
    "x/../../../escape", "../escape", "/tmp/escape", "sql/../../escape", "..", ".", "", "sql\x00x", "a\\b",
    ".hidden", "s" * 40, "sql.part", "sql\n", "x/y",
])
def test_the_dump_format_never_becomes_a_path(crafted: CraftedSession, crafted_server: Callable[..., CraftedServer],
                                              tmp_path: Path, fmt: str) -> None:
    """Today ``format: "x/../../../home/.bashrc"`` writes the decrypted dump anywhere on a plain receive."""
    crafted.ready(crafted.dump_set(MARKER, format=fmt))
    server = crafted_server(crafted.web_root)
    target = tmp_path / "home" / "project" / "dump"
    result = run_receive(crafted, server.url, target)
    assert result.exit_code == 1, result.output
    assert "dump format" in result.output, result.output
    assert _outside_writes(tmp_path, crafted, target) == []
    assert files_containing(target, MARKER) == [] if target.exists() else True, "nothing of it is kept"


def test_a_third_party_format_that_is_a_plain_name_is_the_extension(
        crafted: CraftedSession, crafted_server: Callable[..., CraftedServer], tmp_path: Path) -> None:
    crafted.ready(crafted.dump_set(MARKER, format="duckdb"))
    server = crafted_server(crafted.web_root)
    result = run_receive(crafted, server.url, tmp_path / "t")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t" / "dbDump.duckdb").read_bytes() == MARKER


@pytest.mark.parametrize("name", [
    "../up", "a/b", ".synco-received.json", ".hidden", "x\ny", "\x1b[31mred", "n" * 101, "files.synco-old",
    "dbDump.sql.part", "", " lead", "tab\tname",
])
def test_set_names_are_plain_names(crafted: CraftedSession, crafted_server: Callable[..., CraftedServer],
                                   tmp_path: Path, name: str) -> None:
    target = tmp_path / "t"
    target.mkdir()
    record = target / ".synco-received.json"
    record.write_text('{"version": 1, "fileSets": []}\n')
    crafted.ready(crafted.private_set(tar_bytes(file("a.txt", MARKER)), name=name, tar_uri="encrypted-resources-x"))
    server = crafted_server(crafted.web_root)
    result = run_receive(crafted, server.url, target)
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert "file set name" in line
    assert "\n" not in line and "\x1b" not in line
    assert _outside_writes(tmp_path, crafted, target) == []
    assert record.read_text() == '{"version": 1, "fileSets": []}\n', "the receive record is never replaced"


@pytest.mark.parametrize("field, value", [
    ("fileName", "%2e%2e"), ("fileName", "../meta.json.enc"), ("fileName", ".htaccess"),
    ("fileName", "dump.sql.enc\n"), ("fileName", "dump.tmp"),
])
def test_artifact_names_are_plain_names(crafted: CraftedSession, crafted_server: Callable[..., CraftedServer],
                                        tmp_path: Path, field: str, value: str) -> None:
    crafted.ready(crafted.dump_set(MARKER, **{field: value}))
    server = crafted_server(crafted.web_root)
    result = run_receive(crafted, server.url, tmp_path / "t")
    assert result.exit_code == 1, result.output
    assert "artifact name" in result.output, result.output
    assert [r.path for r in server.requests if "meta" not in r.path] == [], "nothing is asked for by that name"


def test_two_sets_that_would_share_a_local_name_are_refused(
        crafted: CraftedSession, crafted_server: Callable[..., CraftedServer], tmp_path: Path) -> None:
    crafted.ready(crafted.dump_set(MARKER, name="data"),
                  crafted.private_set(tar_bytes(file("a.txt", b"x")), name="data.sql"))
    server = crafted_server(crafted.web_root)
    result = run_receive(crafted, server.url, tmp_path / "t")
    assert result.exit_code == 1, result.output
    assert "would both be saved as 'data.sql'" in result.output


@pytest.mark.parametrize("key", ["a\nb.txt", "\x1b[2J.txt", "x" * 256, "ok/\x7f", "a/\udc80"])
def test_index_keys_without_control_characters_or_overlong_segments(
        crafted: CraftedSession, crafted_server: Callable[..., CraftedServer], tmp_path: Path, key: str) -> None:
    (crafted.web_root / "f.txt").write_bytes(MARKER)
    entry = {"sizeBytes": len(MARKER), "mTime": 1_700_000_000, "publicUri": "f.txt"}
    crafted.ready(crafted.public_set({"good.txt": entry, key: entry}))
    server = crafted_server(crafted.web_root)
    target = tmp_path / "t"
    result = run_receive(crafted, server.url, target)
    assert result.exit_code == 1, result.output
    assert "unsafe path" in result.output
    assert _outside_writes(tmp_path, crafted, target) == []
    assert not (target / "public").exists() or not any((target / "public").iterdir())


@pytest.mark.parametrize("member", ["a\nb.txt", "dir/\x1b[31m", "x" * 256])
def test_tar_member_names_follow_the_same_rule(crafted: CraftedSession, crafted_server: Callable[..., CraftedServer],
                                               tmp_path: Path, member: str) -> None:
    crafted.ready(crafted.private_set(tar_bytes(file("fine.txt", b"x"), file(member, MARKER))))
    server = crafted_server(crafted.web_root)
    target = tmp_path / "t"
    result = run_receive(crafted, server.url, target)
    assert result.exit_code == 1, result.output
    assert "unsafe" in result.output
    assert not (target / "files").exists()


# ------------------------------------------------------------------------------------------ properties


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_safe_relative_path_never_leaves_its_base(name: str) -> None:
    try:
        path = safe_relative_path(name)
    except UnsafePathError:
        return
    assert not path.is_absolute()
    assert all(part not in ("", ".", "..") for part in path.parts)
    assert all(len(part.encode()) <= 255 and not re.search(r"[\x00-\x1f\x7f-\x9f\\]", part) for part in path.parts)
    assert os.path.normpath(os.path.join("/base", str(path))).startswith("/base/")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=120))
def test_safe_name_is_one_plain_segment(value: str) -> None:
    try:
        name = safe_name(value, "name")
    except UnsafePathError:
        return
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name)
    assert PurePosixPath(name).parts == (name,)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.one_of(st.none(), st.text(max_size=40)),
       st.sampled_from(["MysqlDump", "PostgresDump", "SqliteDump", "PrivateEncryptedFiles", "PublicFiles"]))
def test_every_local_name_from_a_meta_is_one_plain_segment(name: str, fmt: str | None, type_: str) -> None:
    """Whatever a meta's set name and format are, the local name is refused or one plain segment."""
    key = {"MysqlDump": "mysqlDump", "PostgresDump": "postgresDump", "SqliteDump": "sqliteDump",
           "PrivateEncryptedFiles": "privateEncryptedFiles", "PublicFiles": "publicFiles"}[type_]
    detail = {"fileName": "dump.enc", "tarUri": "t", "indexFileName": "i", "sizeBytes": 1}
    if fmt is not None:
        detail["format"] = fmt
    data = json.loads(json.dumps({"name": name, "type": type_, key: detail}))
    try:
        local = local_name(WireFileSet.from_json(data))
    except (WireFormatError, UnsafePathError):
        return
    assert "/" not in local and "\\" not in local and not local.startswith(".")
    assert PurePosixPath(local).parts == (local,)
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", local)
