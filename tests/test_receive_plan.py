"""``synco receive --plan``: meta and indexes only, nothing written, and the same decisions as a real receive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from test_transfer_support import fixture_app_fixture, publish, static_server, tree_digest  # noqa: F401

from synco_core.cli.main import cli
from synco_core.cli.receive_cmd import sanitizing_lines
from synco_core.receive.plan import sanitized_flag
from synco_core.serve import SessionFolder, SessionKey
from synco_core.wire import META_FILE, Meta

SESSION = "synco-plantest0123456789"


def build(app: Path, **options: Any) -> SessionKey:
    key: SessionKey = publish(app, SESSION, **options)
    return key


def receive(url: str, key: str, target: Path, *extra: str) -> Result:
    return CliRunner().invoke(cli, ["receive", SESSION, key, "--base-url", url, "--target", str(target), *extra])


def test_plan_reads_meta_and_indexes_only_and_writes_nothing(fixture_app: Path, tmp_path: Path) -> None:
    key = build(fixture_app)
    target = tmp_path / "dump"
    with static_server(fixture_app / "web") as (url, behaviour):
        result = receive(url, key.secret, target, "--plan", "--json")
        assert result.exit_code == 0, result.output
        assert sorted(behaviour.requests) == sorted([f"/{SESSION}/{META_FILE}",
                                                     f"/{SESSION}/Resources-uploads.index.json.enc"])
        text = receive(url, key.secret, target, "--plan")
    assert not target.exists()
    plan = json.loads(result.output)
    sets = {s["name"]: s for s in plan["sets"]}
    assert list(sets) == ["dbDump", "uploads", "private"]
    session_dir = fixture_app / "web" / SESSION
    dump_size = next(session_dir.glob("dump.*.enc")).stat().st_size
    assert (sets["dbDump"]["action"], sets["dbDump"]["downloadBytes"]) == ("download", dump_size)
    assert sets["dbDump"]["sanitizeRules"] == ["items.secret -> null"]
    published = [p for p in (fixture_app / "web" / "uploads").rglob("*") if p.is_file() and p.suffix != ".tmp"]
    assert sets["uploads"]["downloadFiles"] == len(published) == sets["uploads"]["files"]
    assert sets["uploads"]["downloadBytes"] == sum(p.stat().st_size for p in published)
    assert sets["private"]["action"] == "download"
    assert plan["downloadBytes"] == sum(s["downloadBytes"] for s in plan["sets"])
    assert text.exit_code == 0, text.output
    assert "rules the source applied to dbDump:" in text.output and "items.secret -> null" in text.output
    assert "Would download" in text.output and "nothing is downloaded" in text.output


def test_plan_agrees_with_the_real_receive(fixture_app: Path, tmp_path: Path) -> None:
    key = build(fixture_app)
    target = tmp_path / "dump"
    with static_server(fixture_app / "web") as (url, _):
        first = receive(url, key.secret, target, "--all")
        assert first.exit_code == 0, first.output
        # One file changed locally (so it comes again) and one the server does not list.
        (target / "uploads" / "dir0" / "file 0.bin").write_bytes(b"edited on the laptop")
        (target / "uploads" / "local-only.txt").write_text("not on the server\n")
        before = tree_digest(target)
        result = receive(url, key.secret, target, "--plan", "--json", "--delete")
        assert result.exit_code == 0, result.output
        assert tree_digest(target) == before, "--plan writes nothing"
        plan = {s["name"]: s for s in json.loads(result.output)["sets"]}
        assert plan["dbDump"]["action"] == "skip" and plan["private"]["action"] == "skip"
        uploads = plan["uploads"]
        assert (uploads["action"], uploads["downloadFiles"]) == ("update", 1)
        assert uploads["skippedFiles"] == uploads["files"] - 1
        assert uploads["deleteFiles"] == ["local-only.txt"]
        without_delete = json.loads(receive(url, key.secret, target, "--plan", "--json").output)
        assert without_delete["sets"][1]["deleteFiles"] == []
        assert without_delete["sets"][1]["vanishedFiles"] == ["local-only.txt"]
        real = receive(url, key.secret, target, "--all", "--delete")
    assert real.exit_code == 0, real.output
    assert f"1 downloaded, {uploads['files'] - 1} up to date" in real.output
    assert "1 local file(s) removed" in real.output
    assert "skipped    dbDump" in real.output


def test_json_needs_plan() -> None:
    result = CliRunner().invoke(cli, ["receive", "abc", "key", "--json"])
    assert result.exit_code == 2 and "--json goes with --plan" in result.output


def _meta(**dump: Any) -> Meta:
    return Meta.from_json({"state": "Ready", "fileSets": [
        {"name": "dbDump", "type": "MysqlDump", "mysqlDump": {"fileName": "dump.sql.enc", "sizeBytes": 1, **dump}},
        {"name": "uploads", "type": "PublicFiles", "publicFiles": {"indexFileName": "i.enc", "sizeBytes": 1}},
    ]})


def test_unsanitised_session_gets_a_loud_warning_and_an_absent_flag_none() -> None:
    raw = _meta(sanitized=False)
    assert sanitized_flag(raw, raw.file_sets[0]) is False
    notes, warnings = sanitizing_lines(raw, ["dbDump", "uploads"])
    assert notes == [] and len(warnings) == 1 and "UNSANITISED" in warnings[0]
    # Not chosen: no warning about a dump that is not received.
    assert sanitizing_lines(raw, ["uploads"]) == ([], [])
    go_session = _meta()
    assert sanitized_flag(go_session, go_session.file_sets[0]) is None
    assert sanitizing_lines(go_session, ["dbDump"]) == ([], [])
    ruled = _meta(sanitized=True, sanitizeRules=["users.email -> email"])
    assert sanitizing_lines(ruled, ["dbDump"]) == (["  rules the source applied to dbDump:",
                                                    "      users.email -> email"], [])


def test_no_sanitize_session_is_received_with_a_loud_warning(fixture_app: Path, tmp_path: Path) -> None:
    key = build(fixture_app, sanitize=False, only=("dbDump",))
    with static_server(fixture_app / "web") as (url, _):
        plan = receive(url, key.secret, tmp_path / "dump", "--plan")
        result = receive(url, key.secret, tmp_path / "dump", "--all")
    assert result.exit_code == 0, result.output
    for output in (plan.output, result.output):
        assert "WARNING: dbDump holds RAW, UNSANITISED production data" in output


def test_timeout_while_waiting_for_ready(tmp_path: Path) -> None:
    web = tmp_path / "web"
    key = SessionKey.generate()
    folder = SessionFolder(web / SESSION, key.recipients)
    folder.create()
    folder.write_meta(Meta(state="Initializing", framework_name="Slow"))
    with static_server(web) as (url, behaviour):
        result = receive(url, key.secret, tmp_path / "dump", "--all", "--timeout", "0.2")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "not ready after 0.2 s (state Initializing)" in lines[0]
    assert behaviour.requests[f"/{SESSION}/{META_FILE}"] >= 2
    assert not (tmp_path / "dump").exists()


def folders(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_dir() and not path.is_symlink()}


def test_the_plan_names_the_folders_delete_removes_as_the_receive_then_does(fixture_app: Path, tmp_path: Path) -> None:
    """--plan --delete listed the files --delete would remove but not the folders it removes with them (left
    holding no file the server lists, or empty from the start); now it names them, and they are exactly the
    folders the receive then removes: not one the fetch fills again, not one still holding a file or a link."""
    key = build(fixture_app)
    target = tmp_path / "dump"
    uploads = target / "uploads"
    with static_server(fixture_app / "web") as (url, _):
        assert receive(url, key.secret, target, "--all").exit_code == 0
        (uploads / "gone" / "deeper").mkdir(parents=True)
        (uploads / "gone" / "a.txt").write_text("local")
        (uploads / "gone" / "deeper" / "b.txt").write_text("local")
        (uploads / "empty" / "inner").mkdir(parents=True)
        (uploads / "dir0" / "emptied").mkdir()
        (uploads / "dir0" / "emptied" / "x.txt").write_text("local")
        (uploads / "dir1" / "empty-here").mkdir()
        (uploads / "linked").mkdir()
        (uploads / "linked" / "to-dir0").symlink_to(uploads / "dir0")
        # A folder the server has files in, empty here: the fetch fills it again; its empty subfolder goes.
        for file in (uploads / "dir2").iterdir():
            file.unlink()
        (uploads / "dir2" / "sub").mkdir()
        before = folders(uploads)
        result = receive(url, key.secret, target, "--plan", "--json", "--delete")
        assert result.exit_code == 0, result.output
        plan = json.loads(result.output)
        uploads_plan = next(s for s in plan["sets"] if s["name"] == "uploads")
        text = receive(url, key.secret, target, "--plan", "--delete").output
        real = receive(url, key.secret, target, "--all", "--delete")
    assert real.exit_code == 0, real.output
    removed = before - folders(uploads)
    assert removed == {"gone", "gone/deeper", "empty", "empty/inner", "dir0/emptied", "dir1/empty-here", "linked",
                       "dir2/sub"}
    assert uploads_plan["deleteFolders"] == sorted(removed, key=lambda folder: folder + "/")
    assert plan["deleteFolders"] == len(removed)
    assert "8 local folder(s) to delete (left holding no file the server lists): dir0/emptied/, " in text


def test_the_plan_of_an_unchanged_set_names_the_empty_folders_delete_removes(fixture_app: Path,
                                                                             tmp_path: Path) -> None:
    """The quick path (the index received before, every file as it left it) removes empty folders with
    --delete too; its plan named nothing to delete."""
    key = build(fixture_app)
    target = tmp_path / "dump"
    with static_server(fixture_app / "web") as (url, _):
        assert receive(url, key.secret, target, "--all").exit_code == 0
        (target / "uploads" / "dir0" / "empty" / "inner").mkdir(parents=True)
        before = folders(target / "uploads")
        plan = json.loads(receive(url, key.secret, target, "--plan", "--json", "--delete").output)
        real = receive(url, key.secret, target, "--all", "--delete")
    assert real.exit_code == 0, real.output
    uploads = next(s for s in plan["sets"] if s["name"] == "uploads")
    assert uploads["action"] == "skip"
    assert uploads["deleteFolders"] == ["dir0/empty", "dir0/empty/inner"]
    assert before - folders(target / "uploads") == {"dir0/empty", "dir0/empty/inner"}
