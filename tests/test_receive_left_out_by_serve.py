"""Files serve finds and leaves out (a folder it may not list, a link leading out of the set, a name no
receiver could write) are counted in the session, and a receive says so and keeps its copies of them under
``--delete``: they would look gone from the server. rsync too deletes nothing after an I/O error on the
sending side."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_transfer_support import FixturePlugin, fixture_app_fixture, publish  # noqa: F401

from synco_core import age
from synco_core.receive import HttpTransport, ReceiveOptions, receive_session
from synco_core.receive.meta import identities_for
from synco_core.receive.plan import plan_session
from synco_core.serve.server import start_server
from synco_core.wire import (
    INDEX_FORMAT_LEFT_OUT,
    INDEX_FORMAT_LINES,
    META_FILE,
    Meta,
    PrivateFilesInfo,
    PublicFilesInfo,
    WireFormatError,
)


def test_a_folder_serve_left_out_is_kept_by_a_receive_with_delete(fixture_app: Path, tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """A deploy tool links uploads/gallery to a shared folder outside the set: serve leaves the link out, and
    a receive with --delete removed the laptop's whole gallery received earlier."""
    uploads = fixture_app / "web" / "uploads"
    (uploads / "gallery").mkdir()
    (uploads / "gallery" / "a.jpg").write_bytes(b"jpeg")
    server = start_server(fixture_app / "web", "127.0.0.1:0")
    target = tmp_path / "dump"
    try:
        transport = HttpTransport(server.url)
        first = publish(fixture_app, "synco-leftout000000000001")
        assert receive_session(transport, "synco-leftout000000000001", first.secret,
                               ReceiveOptions(target=target, all=True, delete=True)).ok
        assert (target / "uploads" / "gallery" / "a.jpg").read_bytes() == b"jpeg"

        shared = fixture_app / "shared-gallery"
        shutil.move(uploads / "gallery", shared)
        (uploads / "gallery").symlink_to(shared)
        (fixture_app / "private" / "escape").symlink_to("/etc")
        (uploads / "dir0" / "gone.txt").write_text("listed once")
        second = publish(fixture_app, "synco-leftout000000000002")
        plan = plan_session(transport, "synco-leftout000000000002", second.secret,
                            ReceiveOptions(target=target, all=True, delete=True))
        by_name = {item.name: item for item in plan.sets}
        assert by_name["uploads"].left_out_by_serve == 1 and not by_name["uploads"].delete
        assert by_name["uploads"].to_json()["deleteFiles"] == [] and by_name["uploads"].folders == []
        assert by_name["private"].left_out_by_serve == 1
        caplog.set_level("WARNING")
        summary = receive_session(transport, "synco-leftout000000000002", second.secret,
                                  ReceiveOptions(target=target, all=True, delete=True))
        assert summary.ok, summary.sets
    finally:
        server.stop()
    assert (target / "uploads" / "gallery" / "a.jpg").read_bytes() == b"jpeg"
    outcome = {o.name: o for o in summary.sets}["uploads"]
    assert outcome.left_out_by_serve == 1 and outcome.removed == 0
    assert "gallery/a.jpg" in outcome.vanished
    assert (target / "uploads" / "dir0" / "gone.txt").read_text() == "listed once"
    said = [record.getMessage() for record in caplog.records if "serve left out" in record.getMessage()]
    assert any(line.startswith("uploads: serve left out 1 file(s)") and "--delete removes nothing" in line
               for line in said), said


def test_a_session_without_left_out_files_still_deletes(fixture_app: Path, tmp_path: Path) -> None:
    """The rule takes --delete away only from a set serve left files out of."""
    uploads = fixture_app / "web" / "uploads"
    (uploads / "old.txt").write_text("old")
    server = start_server(fixture_app / "web", "127.0.0.1:0")
    target = tmp_path / "dump"
    try:
        transport = HttpTransport(server.url)
        first = publish(fixture_app, "synco-leftout000000000003")
        assert receive_session(transport, "synco-leftout000000000003", first.secret,
                               ReceiveOptions(target=target, all=True)).ok
        (uploads / "old.txt").unlink()
        second = publish(fixture_app, "synco-leftout000000000004")
        summary = receive_session(transport, "synco-leftout000000000004", second.secret,
                                  ReceiveOptions(target=target, all=True, delete=True))
    finally:
        server.stop()
    assert summary.ok and not (target / "uploads" / "old.txt").exists()
    assert {o.name: o for o in summary.sets}["uploads"].left_out_by_serve == 0


def test_the_count_is_in_the_meta_and_checked() -> None:
    public = PublicFilesInfo(index_file_name="Resources-u.index.json.enc", size_bytes=1, left_out_count=3)
    assert PublicFilesInfo.from_json(public.to_json(), "x").left_out_count == 3
    assert "leftOutCount" not in PublicFilesInfo(index_file_name="i", size_bytes=1).to_json()
    private = PrivateFilesInfo(tar_uri="encrypted-resources-p", size_bytes=1, left_out_count=2)
    assert PrivateFilesInfo.from_json(private.to_json(), "x").left_out_count == 2
    with pytest.raises(WireFormatError, match="'leftOutCount' should not be negative"):
        PrivateFilesInfo.from_json({**private.to_json(), "leftOutCount": -1}, "x")


def test_the_plan_and_the_summary_say_why_nothing_is_deleted() -> None:
    from synco_core.cli.receive_cmd import _kept_for

    assert "kept: serve left files of this set out" in _kept_for(2, "remove with --delete")
    assert _kept_for(0, "remove with --delete") == "no longer on the server (remove with --delete)"


def _public_of(app: Path, session: str, secret: str) -> PublicFilesInfo:
    meta = Meta.from_bytes(age.decrypt_bytes((app / "web" / session / META_FILE).read_bytes(), identities_for(secret)))
    found = meta.file_set("uploads")
    assert found is not None and found.public is not None
    return found.public


def test_receivers_from_before_the_count_refuse_a_set_with_files_left_out(fixture_app: Path) -> None:
    """A receive from before ``leftOutCount`` (a synco of 2026-12-05) ignores the count: with --delete it
    removed the laptop's copies of the files serve left out, after a serve of this version. The set's
    ``indexFormat`` is one such receivers refuse in one line ("unsupported public files index format 3"),
    whereas the index formats they read (none, 2) stay those of every set nothing was left out of."""
    plain = _public_of(fixture_app, "synco-leftout000000000005",
                       publish(fixture_app, "synco-leftout000000000005").secret)
    assert plain.left_out_count is None and plain.index_format == INDEX_FORMAT_LINES
    outside = fixture_app / "shared-gallery"
    outside.mkdir()
    (fixture_app / "web" / "uploads" / "gallery").symlink_to(outside)
    left = _public_of(fixture_app, "synco-leftout000000000006",
                      publish(fixture_app, "synco-leftout000000000006").secret)
    assert left.left_out_count == 1
    assert left.index_format not in (None, INDEX_FORMAT_LINES)
    assert left.index_format == INDEX_FORMAT_LEFT_OUT
