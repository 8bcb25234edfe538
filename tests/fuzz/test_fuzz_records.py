"""Fuzzing the records synco leaves on the laptop and reads back on the next run: ``.synco-received.json``
(receive, install, ``db rollback``), ``.synco-install.json`` and ``.synco-install-journal.json``.

They are synco's own, but a disk, an editor or a crash can leave anything under their names; a record
receive wrote from a hostile meta must read back too. Each is read or refused in one line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from fuzzing import FUZZ, hostile_json_text, mutated, nested, only_synco_errors
from hypothesis import given
from hypothesis import strategies as st

from synco_core.errors import ConfigError
from synco_core.install.journal import JOURNAL_FILE, read_journal
from synco_core.install.plan import RECEIVED_FILE, load_received
from synco_core.install.state import STATE_FILE, read_state
from synco_core.receive.knownhashes import HEADER, TRAILER, KnownHashes
from synco_core.receive.session import _State

RECEIVED_SET = {
    "name": "db",
    "type": "MysqlDump",
    "kind": "database",
    "path": "db.sql",
    "relativeBasePath": "",
    "session": "synco-abc",
    "artifact": "dump.sql.zst.enc",
    "receivedAt": 1,
    "engine": "mysql",
    "format": "sql",
    "serverVersion": "10.11",
    "tables": {"t": {"rows": 1, "checksum": "x"}},
    "sanitizeRules": ["t.c"],
    "sourceSettings": {"p": {"a": "b"}},
    "sha256": "0" * 64,
    "sizeBytes": 1,
    "localState": "x",
    "wire": {"mysqlDump": {"encryptedSizeBytes": 5}},
}
INSTALL_FOLDER = {"path": "public/uploads", "backup": "public/.uploads.synco-old", "previous": True, "kept": ["a"]}
JOURNAL_STEP = {
    "kind": "files",
    "name": "uploads",
    "state": "done",
    "path": "public/uploads",
    "backup": "public/.uploads.synco-old",
    "existed": True,
    "kept": ["a"],
    "createdFrom": "",
    "created": False,
    "inPlace": False,
}


def received_records() -> st.SearchStrategy[dict[str, object]]:
    return mutated(RECEIVED_SET).flatmap(
        lambda entry: mutated(
            {"version": 1, "session": "synco-abc", "frameworkName": "Laravel", "createdAt": 1, "fileSets": [entry]}
        )
    )


def install_records() -> st.SearchStrategy[dict[str, object]]:
    return mutated(INSTALL_FOLDER).flatmap(
        lambda folder: mutated(
            {
                "version": 1,
                "session": "synco-abc",
                "database": "app",
                "folders": [folder],
                "namedDatabases": ["app"],
                "createdDatabases": [],
                "left": [{"kind": "folder", "name": "public/.media.synco-old"}, {"kind": "database", "name": "x"}],
            }
        )
    )


def journals() -> st.SearchStrategy[dict[str, object]]:
    return mutated(JOURNAL_STEP).flatmap(lambda step: mutated({"version": 1, "session": "synco-abc", "steps": [step]}))


#: Each record's reader, and its records as a previous run (or damage) may have left them.
READERS = {
    RECEIVED_FILE: (lambda folder: (_State(folder), load_received(folder)), received_records()),
    STATE_FILE: (read_state, install_records()),
    JOURNAL_FILE: (read_journal, journals()),
}


@pytest.mark.parametrize("name", READERS, ids=READERS)
@FUZZ
@given(data=st.data())
def test_any_record_is_read_or_refused_in_one_line(name, data, tmp_path_factory):
    reader, shaped = READERS[name]
    text = data.draw(st.one_of(shaped.map(json.dumps), hostile_json_text))
    folder = tmp_path_factory.mktemp("project")
    (folder / name).write_bytes(text.encode("utf-8", "surrogatepass"))
    only_synco_errors(lambda: reader(folder))


@pytest.mark.parametrize("text", [nested(3000), '{"version": ' + "1" * 5000 + "}"])
def test_a_received_record_nested_too_deep_or_with_too_long_a_number_is_no_record(text, tmp_path: Path):
    """json.loads raised RecursionError or a bare ValueError for these, which the record's readers did not
    catch: receive ended on a Python exception instead of comparing everything again, install and rollback
    instead of saying the record is unreadable."""
    (tmp_path / RECEIVED_FILE).write_text(text)
    assert _State(tmp_path).data == {}
    with pytest.raises(ConfigError, match="is unreadable"):
        load_received(tmp_path)


@pytest.mark.parametrize("field", ["kept", "sanitizeRules", "left"])
@pytest.mark.parametrize("value", [5, True, 1.5])
def test_a_list_field_of_another_type_is_a_malformed_record(field, value, tmp_path: Path):
    """``tuple(str(k) for k in entry.get("kept") or ())`` iterated a number: TypeError, not one line."""
    if field == "left":
        (tmp_path / STATE_FILE).write_text(json.dumps({"version": 1, "folders": [INSTALL_FOLDER], "left": value}))
        with pytest.raises(ConfigError, match="is not a synco install"):
            read_state(tmp_path)
    elif field == "kept":
        (tmp_path / STATE_FILE).write_text(json.dumps({"version": 1, "folders": [dict(INSTALL_FOLDER, kept=value)]}))
        (tmp_path / JOURNAL_FILE).write_text(json.dumps({"version": 1, "steps": [dict(JOURNAL_STEP, kept=value)]}))
        for reader in (read_state, read_journal):
            with pytest.raises(ConfigError, match="is not a synco install"):
                reader(tmp_path)
    else:
        (tmp_path / RECEIVED_FILE).write_text(
            json.dumps({"version": 1, "fileSets": [dict(RECEIVED_SET, sanitizeRules=value)]})
        )
        with pytest.raises(ConfigError, match="malformed file set entry"):
            load_received(tmp_path)


@st.composite
def known_hashes_files(draw: st.DrawFn) -> bytes:
    """A file of known hashes as receive writes it (header, lines, trailer naming their SHA-256), its lines
    drawn from anything, or any bytes at all."""
    lines = draw(st.lists(st.tuples(st.binary(max_size=12), st.binary(max_size=70)), max_size=5))
    body = HEADER + b"".join(name + b"\0" + digest + b"\n" for name, digest in lines)
    whole = body + TRAILER + hashlib.sha256(body).hexdigest().encode() + b"\n"
    return draw(st.one_of(st.just(whole), st.binary(max_size=200), st.just(body)))


@FUZZ
@given(raw=known_hashes_files(), paths=st.lists(st.text(max_size=6), max_size=4))
def test_any_known_hashes_file_is_read_or_ignored(raw, paths, tmp_path_factory):
    path = tmp_path_factory.mktemp("target") / ".synco-known-x.sha256"
    path.write_bytes(raw)
    known = KnownHashes(path, write=False)
    for name in sorted(paths):
        only_synco_errors(lambda name=name: known.lookup(name))
