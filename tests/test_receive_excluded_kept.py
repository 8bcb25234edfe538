"""What serve's exclude rules leave out of a set is the laptop's own: ``receive --delete``, ``--plan``, a private
set received again and install keep the local files those rules match, as ``rsync --delete --exclude`` does,
and ``--delete-excluded`` removes them on purpose. What a plugin marks as regenerated (``FileSet.regenerated``:
image styles, thumbnails) goes like any file the server does not list: its copies go stale.

Before the meta named the rules, every local file the index did not list was taken for one deleted on the server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from test_transfer_support import FixturePlugin, make_app, publish

from synco_core import FileSet, FileSetOptions, Framework, hookimpl
from synco_core.install.run import install_received
from synco_core.receive import HttpTransport, ReceiveOptions, receive_session
from synco_core.receive.plan import plan_session
from synco_core.serve.server import start_server
from synco_core.wire import PrivateFilesInfo, PublicFilesInfo, WireFormatError

#: Kept on the laptop: the user's and the plugin's own excludes (a cache, a local database), and dotfiles.
KEEP = ("/cache", "*.sqlite", "**/*.tmp")
#: Removed with the rest: derived files the framework makes again.
REGENERATED = ("/styles",)
#: Local files of the uploads set that the server does not list, and whether each stays under --delete.
LOCAL_UPLOADS = {
    "cache/page.html": True,
    "cache/deep/x.bin": True,
    "local.sqlite": True,
    "2024/draft.tmp": True,
    ".gitignore": True,
    "styles/thumb/a.jpg": False,
    "gone.txt": False,
    "2024/gone.jpg": False,
}
LOCAL_PRIVATE = {"cache/session.bin": True, "db.sqlite": True, "stale.txt": False, "styles/x.css": False}


class ExcludingPlugin(FixturePlugin):
    """The fixture app, its uploads and private sets with exclude rules of both kinds."""

    @hookimpl
    def list_file_sets(self, framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
        if framework.plugin != "fixture":
            return None
        web = framework.project_dir / "web"
        return [
            FileSet(name="uploads", kind="public", root=web / "uploads", url_prefix="uploads/",
                    relative_base_path="web/uploads", exclude=KEEP, regenerated=REGENERATED),
            FileSet(name="private", kind="private", root=framework.project_dir / "private",
                    relative_base_path="private", exclude=KEEP, regenerated=REGENERATED),
        ]


@pytest.fixture
def app(tmp_path: Path, register_plugin: Callable[..., None]) -> Path:
    register_plugin(ExcludingPlugin(), "fixture")
    root = make_app(tmp_path / "app")
    # The server has files of its own in the excluded places: never sent.
    for relative in ("cache/server.html", "styles/thumb/b.jpg", "server.sqlite"):
        path = root / "web" / "uploads" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("server's")
    return root


def _write(folder: Path, files: dict[str, bool]) -> None:
    for relative in files:
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"laptop's {relative}")


def _left(folder: Path, files: dict[str, bool]) -> dict[str, bool]:
    return {relative: (folder / relative).exists() for relative in files}


@pytest.fixture(params=["built-in", "static"])
def base_url(request: pytest.FixtureRequest, app: Path, web_server: Callable[[Path], str]) -> str:
    """The session's web root served by serve's own server, or by a plain static web server."""
    if request.param == "static":
        return web_server(app / "web")
    server = start_server(app / "web", "127.0.0.1:0")
    request.addfinalizer(server.stop)
    return str(server.url)


@pytest.mark.parametrize("delete_excluded", [False, True])
def test_receive_delete_keeps_what_the_rules_exclude(app: Path, base_url: str, tmp_path: Path,
                                                     delete_excluded: bool) -> None:
    target = tmp_path / "dump"
    transport = HttpTransport(base_url)
    first = publish(app, "synco-excluded00000000001")
    assert receive_session(transport, "synco-excluded00000000001", first.secret,
                           ReceiveOptions(target=target, all=True)).ok
    assert not (target / "uploads" / "cache" / "server.html").exists()
    _write(target / "uploads", LOCAL_UPLOADS)
    (target / "uploads" / "cache" / "empty").mkdir()
    _write(target / "private", LOCAL_PRIVATE)
    (app / "private" / "new.txt").write_text("changed on the server")
    second = publish(app, "synco-excluded00000000002")
    options = ReceiveOptions(target=target, all=True, delete=True, delete_excluded=delete_excluded)

    planned = plan_session(transport, "synco-excluded00000000002", second.secret, options)
    plan = {item.name: item for item in planned.sets}
    kept = sorted(path for path, stays in LOCAL_UPLOADS.items() if stays)
    gone = sorted(path for path, stays in LOCAL_UPLOADS.items() if not stays)
    expected_deleted = sorted(gone + (kept if delete_excluded else []), key=lambda path: path.split("/"))
    assert sorted(plan["uploads"].to_json()["deleteFiles"]) == sorted(expected_deleted)
    assert plan["uploads"].kept == (0 if delete_excluded else len(kept))
    assert ("cache" in plan["uploads"].folders) == delete_excluded
    assert plan["private"].kept == (0 if delete_excluded else 2)

    summary = receive_session(transport, "synco-excluded00000000002", second.secret, options)
    assert summary.ok, summary.sets
    uploads = {outcome.name: outcome for outcome in summary.sets}["uploads"]
    assert uploads.kept == (0 if delete_excluded else len(kept))
    assert _left(target / "uploads", LOCAL_UPLOADS) == {
        path: stays and not delete_excluded for path, stays in LOCAL_UPLOADS.items()}
    assert (target / "uploads" / "cache" / "empty").is_dir() != delete_excluded
    assert (target / "private" / "new.txt").read_text() == "changed on the server"
    assert _left(target / "private", LOCAL_PRIVATE) == {
        path: stays and not delete_excluded for path, stays in LOCAL_PRIVATE.items()}


def test_a_session_that_names_no_rules_deletes_as_before(app: Path, base_url: str, tmp_path: Path) -> None:
    """Go synco v2 and older synco write no ``exclude``: every local file the index does not list is gone."""
    target = tmp_path / "dump"
    transport = HttpTransport(base_url)
    key = publish(app, "synco-excluded00000000003")
    meta_path = app / "web" / "synco-excluded00000000003" / "meta.json.enc"
    from synco_core import age
    from synco_core.receive.meta import identities_for
    from synco_core.wire import Meta

    meta = Meta.from_bytes(age.decrypt_bytes(meta_path.read_bytes(), identities_for(key.secret)))
    for file_set in meta.file_sets:
        detail = file_set.public or file_set.private
        if detail is not None:
            assert list(detail.exclude) == [*KEEP, *((".*",) if file_set.public else ())]
            assert list(detail.exclude_regenerated) == list(REGENERATED)
            detail.exclude = []
    meta_path.write_bytes(age.encrypt_bytes(meta.to_bytes(), key.recipients))
    _write(target / "uploads", LOCAL_UPLOADS)
    summary = receive_session(transport, "synco-excluded00000000003", key.secret,
                              ReceiveOptions(target=target, all=True, delete=True))
    assert summary.ok
    assert _left(target / "uploads", LOCAL_UPLOADS) == dict.fromkeys(LOCAL_UPLOADS, False)


@pytest.mark.parametrize("delete_excluded", [False, True])
def test_install_keeps_what_the_rules_exclude(app: Path, tmp_path: Path, delete_excluded: bool) -> None:
    """The project's own files in excluded places stay through an install (and a second one); regenerated ones
    go into the kept copy with the rest; a rollback puts the previous folder back whole."""
    from synco_core.detection import detect
    from synco_core.install.run import rollback_install

    server = start_server(app / "web", "127.0.0.1:0")
    target = tmp_path / "dump"
    try:
        key = publish(app, "synco-excluded00000000004")
        assert receive_session(HttpTransport(server.url), "synco-excluded00000000004", key.secret,
                               ReceiveOptions(target=target, all=True)).ok
    finally:
        server.stop()
    project = tmp_path / "project"
    (project / "web").mkdir(parents=True)
    (project / "fixture-app.txt").write_text("fixture\n")
    _write(project / "web" / "uploads", LOCAL_UPLOADS)
    _write(project / "private", LOCAL_PRIVATE)
    for _round in range(2):
        install_received(target, project, only=("uploads", "private"), yes=True, echo=lambda _line: None,
                         delete_excluded=delete_excluded)
        # The project's dotfiles (.gitignore) stay whatever the option: an install always kept them.
        assert _left(project / "web" / "uploads", LOCAL_UPLOADS) == {
            path: stays and (not delete_excluded or path == ".gitignore") for path, stays in LOCAL_UPLOADS.items()}
        assert _left(project / "private", LOCAL_PRIVATE) == {
            path: stays and not delete_excluded for path, stays in LOCAL_PRIVATE.items()}
        assert (project / "web" / "uploads" / "dir0").is_dir()
    rollback_install(detect(project, side="destination"), yes=True)
    assert (project / "web" / "uploads" / "cache" / "page.html").exists() != delete_excluded


def test_the_rules_are_in_the_meta_and_checked() -> None:
    public = PublicFilesInfo(index_file_name="Resources-u.index.json.enc", size_bytes=1, exclude=["/cache"],
                             exclude_regenerated=["/styles"])
    data = public.to_json()
    assert data["exclude"] == ["/cache"] and data["excludeRegenerated"] == ["/styles"]
    assert PublicFilesInfo.from_json(data, "x") == public
    assert "exclude" not in PublicFilesInfo(index_file_name="i", size_bytes=1).to_json()
    private = PrivateFilesInfo(tar_uri="encrypted-resources-p", size_bytes=1, exclude=["*.sqlite"])
    assert PrivateFilesInfo.from_json(private.to_json(), "x") == private
    # A pattern the matcher refuses, or more than a set could mean, makes the meta malformed: nothing removed.
    for bad in (["[z-a]"], "cache", [1], ["x"] * 1001, ["*" * 2000]):
        with pytest.raises(WireFormatError, match="malformed x"):
            PublicFilesInfo.from_json({**data, "exclude": bad}, "x")


def test_the_plan_says_what_is_kept_and_why(app: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from synco_core.cli.main import cli

    server = start_server(app / "web", "127.0.0.1:0")
    target = tmp_path / "dump"
    try:
        key = publish(app, "synco-excluded00000000005")
        _write(target / "uploads", LOCAL_UPLOADS)
        args = ["receive", "synco-excluded00000000005", key.secret, "--base-url", str(server.url), "--all",
                "--target", str(target), "--delete", "--plan"]
        said = CliRunner().invoke(cli, args)
        as_json = CliRunner().invoke(cli, [*args, "--json"])
    finally:
        server.stop()
    assert said.exit_code == 0, said.output
    assert "5 local file(s) not in the index kept: serve's exclude rules leave them out (/cache, *.sqlite, " \
           "**/*.tmp, .*), so they are this machine's own; --delete-excluded removes them" in said.output
    uploads = next(item for item in json.loads(as_json.output)["sets"] if item["name"] == "uploads")
    assert uploads["keptFiles"] == 5 and uploads["keptPatterns"] == [*KEEP, ".*"]


def test_an_edited_record_with_a_bad_pattern_stops_the_install_before_anything_changes(tmp_path: Path) -> None:
    from synco_core.errors import ConfigError
    from synco_core.install.plan import received_set

    entry = {"name": "uploads", "kind": "public", "relativeBasePath": "web/uploads",
             "wire": {"name": "uploads", "type": "PublicFiles",
                      "publicFiles": {"indexFileName": "i", "sizeBytes": 1, "exclude": ["/cache", "[z-a]"]}}}
    with pytest.raises(ConfigError, match=r"malformed file set entry: exclude pattern '\[z-a\]'"):
        received_set(tmp_path, entry)
    entry["wire"]["publicFiles"]["exclude"] = ["/cache"]  # type: ignore[index]
    assert received_set(tmp_path, entry).keep == ("/cache",)


@pytest.mark.parametrize("delete", [False, True])
def test_kept_files_do_not_cost_the_quick_resync(app: Path, tmp_path: Path, web_server: Callable[[Path], str],
                                                 monkeypatch: pytest.MonkeyPatch, delete: bool) -> None:
    """A set's folder holding the laptop's kept files still gets its tree digest (of everything else), so the
    next receive of the same index walks the folder and reads no index; a regenerated copy added there, or a
    receive with ``--delete-excluded``, still gets the full comparison. Before, no digest was recorded while a
    kept file was there: every re-sync read and merged the whole index."""
    import synco_core.receive.session as session_module

    target = tmp_path / "dump"
    transport = HttpTransport(web_server(app / "web"))
    key = publish(app, "synco-excluded00000000004")
    options = ReceiveOptions(target=target, only=("uploads",), delete=delete)
    assert receive_session(transport, "synco-excluded00000000004", key.secret, options).ok
    kept = {path: stays for path, stays in LOCAL_UPLOADS.items() if stays}
    _write(target / "uploads", kept)
    assert receive_session(transport, "synco-excluded00000000004", key.secret, options).ok
    record = json.loads((target / ".synco-received.json").read_text())
    (entry,) = [item for item in record["fileSets"] if item["name"] == "uploads"]
    assert entry.get("tree") is not None, entry

    real_open_index = session_module.open_index

    def no_index(*args: object, **kwargs: object) -> object:
        raise AssertionError("the index was read although the folder is as the last receive left it")

    monkeypatch.setattr(session_module, "open_index", no_index)
    summary = receive_session(transport, "synco-excluded00000000004", key.secret, options)
    assert summary.ok and summary.sets[0].detail == "all files up to date", summary.sets
    assert _left(target / "uploads", kept) == dict.fromkeys(kept, True)

    monkeypatch.setattr(session_module, "open_index", real_open_index)
    _write(target / "uploads", {"styles/thumb/a.jpg": False})
    summary = receive_session(transport, "synco-excluded00000000004", key.secret, options)
    assert summary.ok and summary.sets[0].vanished == ["styles/thumb/a.jpg"], summary.sets
    assert (target / "uploads" / "styles" / "thumb" / "a.jpg").exists() != delete
    if delete:
        summary = receive_session(transport, "synco-excluded00000000004", key.secret,
                                  ReceiveOptions(target=target, only=("uploads",), delete=True, delete_excluded=True))
        assert summary.ok, summary.sets
        assert _left(target / "uploads", kept) == dict.fromkeys(kept, False)
