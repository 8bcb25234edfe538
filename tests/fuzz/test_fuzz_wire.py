"""Fuzzing the meta, the pack table and the whole-object public index (synco_core.wire) as a hostile server
writes them: any JSON, or almost JSON, and valid documents with hostile values in any field."""

from __future__ import annotations

import json

import pytest
from fuzzing import ENTRY, FUZZ, hostile_json_text, json_values, mutated, nested, only_synco_errors
from hypothesis import example, given
from hypothesis import strategies as st

from synco_core.wire import Meta, WireFormatError, pack_table_from_bytes, public_index_from_bytes

PARSERS = {"meta": Meta.from_bytes, "pack table": pack_table_from_bytes, "public index": public_index_from_bytes}

DUMP = {
    "fileName": "dump.sql.zst.enc",
    "sizeBytes": 10,
    "compression": "zstd",
    "sha256": "0" * 64,
    "encryptedSizeBytes": 300,
    "engine": "mysql",
    "serverVersion": "10.11",
    "format": "sql",
    "sanitizeRules": ["users.email"],
    "tables": {"users": {"rows": 1, "checksum": "x"}},
    "sanitized": True,
    "strict": False,
    "sourceSettings": {"p": {"a": "b"}},
}
PUBLIC = {
    "indexFileName": "Resources-public.index.json.enc",
    "sizeBytes": 1,
    "compression": "zstd",
    "fileCount": 1,
    "encryptedSizeBytes": 300,
    "relativeBasePath": "public",
    "indexFormat": 2,
    "indexSizeBytes": 100,
    "packsFileName": "Resources-public.packs.json.enc",
    "packsSizeBytes": 10,
    "packsEncryptedSizeBytes": 300,
    "packCount": 1,
    "packedFileCount": 1,
    "packedSizeBytes": 1,
    "urlOrigins": ["https://cdn.example.com"],
    "indexSha256": "0" * 64,
    "packsSha256": "0" * 64,
    "leftOutCount": 0,
}
PRIVATE = {
    "tarUri": "encrypted-resources-files",
    "sizeBytes": 10,
    "relativeBasePath": "files",
    "compression": "zstd",
    "sha256": "0" * 64,
    "encryptedSizeBytes": 300,
    "fileCount": 1,
    "leftOutCount": 0,
}
TOP = {
    "state": "Ready",
    "frameworkName": "Laravel",
    "generator": "synco-py",
    "sessionId": "synco-abc",
    "createdAt": 1700000000,
    "expiresAt": 1700003600,
}
PACK = {
    "fileName": "Resources-public.pack-0.enc",
    "sizeBytes": 1,
    "encryptedSizeBytes": 2,
    "payloadOffset": 3,
    "payloadKey": "0" * 64,
    "fileCount": 1,
}


@st.composite
def metas(draw: st.DrawFn) -> dict[str, object]:
    meta = draw(mutated(TOP))
    sets = [
        {"name": "db", "type": "MysqlDump", "mysqlDump": draw(mutated(DUMP))},
        {"name": "public", "type": "PublicFiles", "publicFiles": draw(mutated(PUBLIC))},
        {"name": "files", "type": "PrivateEncryptedFiles", "privateEncryptedFiles": draw(mutated(PRIVATE))},
    ]
    meta["fileSets"] = draw(
        st.one_of(st.just(sets), st.lists(st.sampled_from(sets), max_size=3), st.lists(json_values, max_size=2))
    )
    return meta


@pytest.mark.parametrize("parser", PARSERS.values(), ids=PARSERS.keys())
@FUZZ
@given(text=hostile_json_text)
@example(text=nested(3000))
@example(text=nested(3000, "{"))
@example(text='{"state": "Ready", "expiresAt": ' + "9" * 5000 + "}")
def test_any_json_text_is_a_result_or_one_line(parser, text):
    only_synco_errors(lambda: parser(text.encode("utf-8", "surrogatepass")))


@pytest.mark.parametrize("parser", PARSERS.values(), ids=PARSERS.keys())
def test_json_nested_too_deep_or_with_too_long_a_number_is_malformed(parser):
    """RecursionError and the bare ValueError of CPython's int parsing limit passed every handler of
    JSONDecodeError: a meta of ``[[[...`` ended receive with a Python exception's name."""
    for text in (nested(100_000), nested(100_000, "{"), "9" * 5000, '{"a": {"sizeBytes": ' + "1" * 5000 + "}}"):
        with pytest.raises(WireFormatError, match=r"malformed .*: not JSON"):
            parser(text.encode())


@FUZZ
@given(meta=metas())
def test_any_meta_is_read_or_refused_in_one_line(meta):
    result = only_synco_errors(lambda: Meta.from_bytes(json.dumps(meta).encode("utf-8", "surrogatepass")))
    if isinstance(result, Meta):
        # What a receive does next with a meta it accepted: its record, and the sets' sizes.
        json.dumps(result.to_json())
        for file_set in result.file_sets:
            assert isinstance(file_set.size_bytes, int)


@FUZZ
@given(
    index=st.dictionaries(
        st.one_of(st.sampled_from(["a.jpg", "/var/www/app/a.jpg", "x/../../y"]), st.text(max_size=20)),
        st.one_of(mutated(ENTRY), json_values),
        max_size=5,
    )
)
@example(index={"/var/www/app/public/a.jpg": {"sizeBytes": 1, "mTime": 1, "publicUri": "http://[::1/a.jpg"}})
def test_any_public_index_is_read_or_refused_in_one_line(index):
    only_synco_errors(lambda: public_index_from_bytes(json.dumps(index).encode("utf-8", "surrogatepass")))


@FUZZ
@given(table=st.one_of(st.lists(mutated(PACK), max_size=3).map(lambda packs: {"packs": packs}), json_values))
def test_any_pack_table_is_read_or_refused_in_one_line(table):
    only_synco_errors(lambda: pack_table_from_bytes(json.dumps(table).encode("utf-8", "surrogatepass")))
