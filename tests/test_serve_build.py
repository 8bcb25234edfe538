"""build_session: which sets go in, the states the meta passes through, and what the meta records."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_transfer_support import fixture_app_fixture  # noqa: F401

from synco_core import age
from synco_core.detection import detect
from synco_core.errors import ConfigError
from synco_core.globs import ExcludeMatcher
from synco_core.serve import BuildOptions, SessionFolder, SessionKey, build_session
from synco_core.wire import META_FILE, Meta


class RecordingFolder(SessionFolder):
    """Keeps every meta written, to check the state sequence."""

    def __init__(self, path: Path, recipients: list[object]) -> None:
        super().__init__(path, recipients)
        self.states: list[str] = []

    def write_meta(self, meta: Meta) -> None:
        self.states.append(meta.state)
        super().write_meta(meta)


def test_states_sets_and_meta(fixture_app: Path) -> None:
    framework = detect(fixture_app)
    key = SessionKey.generate()
    folder = RecordingFolder(fixture_app / "web" / "synco-build", list(key.recipients))
    meta = build_session(framework, folder, BuildOptions())
    assert folder.states[:2] == ["Created", "Initializing"] and folder.states[-1] == "Ready"
    assert [s.name for s in meta.file_sets] == ["dbDump", "uploads", "private"]
    on_disk = Meta.from_bytes(age.decrypt_bytes((folder.path / META_FILE).read_bytes(),
                                                [age.parse_identity(key.secret)]))
    assert on_disk == meta
    dump = meta.file_sets[0].dump
    assert dump is not None and dump.compression == "zstd" and dump.sha256 and dump.encrypted_size_bytes
    assert dump.size_bytes == (fixture_app / "data.db").stat().st_size
    uploads = meta.file_sets[1].public
    assert uploads is not None and uploads.file_count == 13
    assert not list(folder.path.glob("*.tmp"))


def test_all_includes_smart_skipped_sets_and_only_limits(fixture_app: Path) -> None:
    framework = detect(fixture_app)
    key = SessionKey.generate()
    meta = build_session(framework, SessionFolder(fixture_app / "web" / "synco-all", key.recipients),
                         BuildOptions(all=True))
    assert "thumbs" in [s.name for s in meta.file_sets]
    meta = build_session(framework, SessionFolder(fixture_app / "web" / "synco-only", key.recipients),
                         BuildOptions(only=("thumbs",)))
    assert [s.name for s in meta.file_sets] == ["thumbs"], "naming a smart-skipped set asks for it"
    with pytest.raises(ConfigError, match="unknown file set"):
        build_session(framework, SessionFolder(fixture_app / "web" / "synco-bad", key.recipients),
                      BuildOptions(only=("nope",)))


def test_exclusion_globs() -> None:
    excluded = ExcludeMatcher(("**/*.tmp", "cache", "a/*/b"))
    assert excluded("x.tmp") and excluded("d/e/x.tmp")
    assert excluded("cache") and excluded("cache/deep/file")
    assert excluded("a/x/b") and not excluded("a/x/y/b")
    assert not excluded("x.tmpl") and not excluded("caches")
