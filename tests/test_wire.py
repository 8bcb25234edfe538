"""The wire format classes: Go synco v2 JSON reads back, additions round-trip, unknown fields are ignored."""

from __future__ import annotations

import json

import pytest

from synco_core.errors import UnsafePathError
from synco_core.values import TableManifest
from synco_core.wire import (
    DumpInfo,
    Meta,
    PrivateFilesInfo,
    PublicFilesInfo,
    PublicIndexEntry,
    WireFileSet,
    WireFormatError,
    public_index_from_bytes,
    public_index_to_bytes,
    session_folder_name,
)

GO_META = {
    "state": "Initializing",
    "frameworkName": "Neos/Flow",
    "fileSets": [
        {"name": "dbDump", "type": "MysqlDump", "mysqlDump": {"fileName": "dump.sql.enc", "sizeBytes": 123},
         "postgresDump": None, "publicFiles": None, "privateEncryptedFiles": None},
        {"name": "Resources", "type": "PublicFiles",
         "publicFiles": {"indexFileName": "Resources-Resources.index.json.enc", "sizeBytes": 456}},
        {"name": "local", "type": "PrivateEncryptedFiles",
         "privateEncryptedFiles": {"tarUri": "encrypted-resources-local", "sizeBytes": 789,
                                   "relativeBasePath": "storage/app"}},
        {"name": "pg", "type": "PostgresDump", "postgresDump": {"fileName": "pg.sql.enc", "sizeBytes": 1}},
    ],
}


def test_go_meta_reads_back_and_writes_the_same_json() -> None:
    meta = Meta.from_bytes(json.dumps(GO_META).encode())
    assert meta.state == "Initializing"
    assert meta.framework_name == "Neos/Flow"
    assert [s.type for s in meta.file_sets] == ["MysqlDump", "PublicFiles", "PrivateEncryptedFiles", "PostgresDump"]
    dump = meta.file_sets[0].dump
    assert dump is not None and dump.file_name == "dump.sql.enc" and dump.size_bytes == 123
    assert dump.compression is None and dump.sha256 is None
    assert meta.file_sets[2].relative_base_path == "storage/app"
    written = json.loads(meta.to_bytes())
    expected = json.loads(json.dumps(GO_META))
    for file_set in expected["fileSets"]:
        for key in [k for k, v in file_set.items() if v is None]:
            del file_set[key]
    assert written == expected


def test_additions_round_trip() -> None:
    meta = Meta(state="Ready", framework_name="Laravel", generator="synco-py 0.1.0", expires_at=1_800_000_000,
                file_sets=[
                    WireFileSet("dbDump", "SqliteDump", dump=DumpInfo(
                        file_name="dump.sqlite.zst.enc", size_bytes=10, compression="zstd", sha256="ab" * 32,
                        encrypted_size_bytes=300, engine="sqlite", server_version="3.45", format="sqlite",
                        sanitize_rules=["users.email -> email"], tables={"users": TableManifest(2, "ff")})),
                    WireFileSet("public", "PublicFiles", public=PublicFilesInfo(
                        index_file_name="i.enc", size_bytes=5, compression="zstd", file_count=2,
                        encrypted_size_bytes=99, relative_base_path="public")),
                    WireFileSet("private", "PrivateEncryptedFiles", private=PrivateFilesInfo(
                        tar_uri="t", size_bytes=3, relative_base_path="", compression="zstd", sha256="cd" * 32,
                        encrypted_size_bytes=50, file_count=1)),
                ])
    raw = meta.to_bytes()
    assert json.loads(raw)["fileSets"][0]["sqliteDump"]["tables"] == {"users": {"rows": 2, "checksum": "ff"}}
    assert Meta.from_bytes(raw) == meta


def test_unknown_fields_and_types_are_ignored() -> None:
    data = json.loads(json.dumps(GO_META))
    data["somethingNew"] = {"x": 1}
    data["fileSets"][0]["mysqlDump"]["futureField"] = [1, 2]
    data["fileSets"].append({"name": "future", "type": "DuckdbDump", "duckdbDump": {"fileName": "x"}})
    meta = Meta.from_bytes(json.dumps(data).encode())
    assert meta.file_sets[-1].type == "DuckdbDump"
    assert meta.file_sets[-1].dump is None and meta.file_sets[-1].size_bytes == 0
    assert meta.file_sets[0].dump is not None


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(state="Done"), "the meta's state is 'Done', which this synco .* upgrade synco"),
    (lambda d: d["fileSets"][0]["mysqlDump"].update(sizeBytes="12"), "should be int"),
    (lambda d: d["fileSets"][0]["mysqlDump"].update(fileName="../x"), "unsafe artifact name"),
    (lambda d: d["fileSets"][1].update(publicFiles=None), "'publicFiles' is missing"),
    (lambda d: d["fileSets"][0]["mysqlDump"].update(compression="lz4"),
     "compressed with 'lz4', which this synco .* upgrade synco"),
    (lambda d: d.update(fileSets={}), "should be list"),
])
def test_malformed_meta_is_one_line_error(change: object, message: str) -> None:
    data = json.loads(json.dumps(GO_META))
    change(data)  # type: ignore[operator]
    with pytest.raises(WireFormatError, match=message) as info:
        Meta.from_bytes(json.dumps(data).encode())
    assert "\n" not in str(info.value)


def test_not_json() -> None:
    with pytest.raises(WireFormatError, match="not JSON"):
        Meta.from_bytes(b"<html>")


def test_public_index_round_trip_and_go_entries() -> None:
    index = {"a/b.txt": PublicIndexEntry(1, 2, "uploads/a/b.txt"),
             "c.jpg": PublicIndexEntry(3, 4, "https://cdn.example/c.jpg", True, sha1="0" * 40)}
    assert public_index_from_bytes(public_index_to_bytes(index)) == index
    go = public_index_from_bytes(b'{"Resources/x": {"sizeBytes": 5, "mTime": 6, "publicUri": "https://s3/x"}}')
    assert go["Resources/x"].absolute and not go["Resources/x"].is_absolute_url


def test_public_index_ignores_unknown_entry_fields() -> None:
    # A newer writer may add fields; both the fast path (plain entry) and the slow path (absolute URL,
    # float size) must read the entry and drop what they do not know.
    raw = json.dumps({
        "a/plain.jpg": {"sizeBytes": 1, "mTime": 2, "publicUri": "u/plain.jpg", "futureField": 1},
        "b/cdn.jpg": {"sizeBytes": 3.0, "mTime": 4, "publicUri": "https://cdn.example/b.jpg",
                      "isAbsoluteUrl": True, "futureField": {"nested": [1]}},
    }).encode()
    index = public_index_from_bytes(raw)
    assert index == {"a/plain.jpg": PublicIndexEntry(1, 2, "u/plain.jpg"),
                     "b/cdn.jpg": PublicIndexEntry(3, 4, "https://cdn.example/b.jpg", True)}
    assert b"futureField" not in public_index_to_bytes(index)


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a/../../x", "a\\b", ""])
def test_public_index_refuses_unsafe_paths(path: str) -> None:
    raw = json.dumps({path: {"sizeBytes": 1, "mTime": 1, "publicUri": "x"}}).encode()
    with pytest.raises(UnsafePathError):
        public_index_from_bytes(raw)


@pytest.mark.parametrize(("entry", "message"), [
    ({"sizeBytes": "1", "mTime": 1, "publicUri": "x"}, "'sizeBytes' should be int"),
    ({"sizeBytes": True, "mTime": 1, "publicUri": "x"}, "'sizeBytes' should be a number"),
    ({"sizeBytes": 1, "mTime": 1}, "'publicUri' is missing"),
    ({"sizeBytes": 1, "mTime": 1, "publicUri": "x", "sha1": 5}, "'sha1' should be str"),
    ([1, 2], "should be an object"),
])
def test_public_index_refuses_malformed_entries(entry: object, message: str) -> None:
    # Plain paths take a fast path; a malformed entry must still be refused with its reason.
    with pytest.raises(WireFormatError, match=message):
        public_index_from_bytes(json.dumps({"a/b.jpg": entry}).encode())


def test_public_index_accepts_whole_floats_and_normalises_paths() -> None:
    raw = json.dumps({"./a//b.jpg": {"sizeBytes": 2.0, "mTime": 3, "publicUri": "u"}}).encode()
    assert public_index_from_bytes(raw) == {"a/b.jpg": PublicIndexEntry(2, 3, "u")}


def test_public_index_refuses_non_http_absolute_urls() -> None:
    raw = json.dumps({"x": {"sizeBytes": 1, "mTime": 1, "publicUri": "file:///etc/passwd",
                            "isAbsoluteUrl": True}}).encode()
    with pytest.raises(WireFormatError, match="not http"):
        public_index_from_bytes(raw)


def test_session_folder_name() -> None:
    assert session_folder_name("abc") == "synco-abc"
    assert session_folder_name("synco-abc") == "synco-abc"
    for bad in ("../x", "a/b", "", ".."):
        with pytest.raises(WireFormatError):
            session_folder_name(bad)
