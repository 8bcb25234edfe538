"""A re-receive of an index received before checks only the local files (the tree digest), and whatever
changed locally, in any way, sends it back to the full comparison, which then puts it right.

The meta's ``indexSha256`` is what ties a session's index to the one received before, so the index is
checked against it whenever it is read: an index that is not the one the meta names is refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_transfer_support import fixture_app_fixture, publish, static_server, tree_digest  # noqa: F401

from synco_core import age, workerframes
from synco_core.cli.main import cli
from synco_core.receive import indexprocess
from synco_core.receive.compare import compare_public_files
from synco_core.receive.treedigest import artifact_state, local_tree_digest
from synco_core.wire import META_FILE, PublicIndexEntry

INDEX = "Resources-uploads.index.json.enc"


def expected_uploads(app: Path) -> dict[str, str]:
    digest = tree_digest(app / "web" / "uploads")
    del digest["skip.tmp"]
    return digest


class Site:
    """The fixture app published under a session name, received with the CLI into ``target``."""

    def __init__(self, app: Path, target: Path, url: str, behaviour: Any) -> None:
        self.app, self.target, self.url, self.behaviour = app, target, url, behaviour
        self.session = ""
        self.key: Any = None

    def publish(self, session: str) -> None:
        self.session, self.key = session, publish(self.app, session, only=("uploads",))

    def receive(self, *extra: str, status: int = 0) -> Any:
        self.behaviour.requests.clear()
        result = CliRunner().invoke(cli, ["receive", self.session, self.key.secret, "--base-url", self.url,
                                          "--target", str(self.target), "--only", "uploads", *extra])
        assert result.exit_code == status, result.output
        return result

    @property
    def index_read(self) -> bool:
        return f"/{self.session}/{INDEX}" in self.behaviour.requests

    def tree(self) -> dict[str, Any]:
        state = json.loads((self.target / ".synco-received.json").read_text())
        (entry,) = [item for item in state["fileSets"] if item["name"] == "uploads"]
        return entry.get("tree") or {}


@pytest.fixture
def site(fixture_app: Path, tmp_path: Path) -> Any:
    with static_server(fixture_app / "web") as (url, behaviour):
        site = Site(fixture_app, tmp_path / "out", url, behaviour)
        site.publish("synco-treetest0000000001")
        yield site


def test_the_same_index_again_reads_only_the_meta(site: Site) -> None:
    site.receive()
    tree = site.tree()
    assert tree["files"] == len(expected_uploads(site.app)) and len(tree["sha256"]) == 64
    again = site.receive()
    assert "all files up to date" in again.output
    assert sorted(site.behaviour.requests) == [f"/{site.session}/{META_FILE}"]
    # A new session of the unchanged set declares the same index: the same.
    site.publish("synco-treetest0000000002")
    site.receive()
    assert not site.index_read and site.tree() == tree
    assert tree_digest(site.target / "uploads") == expected_uploads(site.app)


def test_the_plan_takes_the_same_quick_path(site: Site) -> None:
    """``--plan`` after a receive reads only the meta and says what the receive would: nothing to fetch.
    After a local change it reads the index and shows the file to fetch, as the receive would."""
    site.receive()
    tree = site.tree()
    planned = site.receive("--plan", "--json")
    assert sorted(site.behaviour.requests) == [f"/{site.session}/{META_FILE}"]
    (uploads,) = [item for item in json.loads(planned.output)["sets"] if item["name"] == "uploads"]
    assert (uploads["action"], uploads["files"], uploads["skippedFiles"], uploads["downloadFiles"]) == (
        "skip", tree["files"], tree["files"], 0)
    assert uploads["skippedBytes"] == tree["bytes"] > 0
    _change("mtime", site.target / "uploads")
    changed = site.receive("--plan", "--json")
    assert site.index_read
    (uploads,) = [item for item in json.loads(changed.output)["sets"] if item["name"] == "uploads"]
    assert (uploads["action"], uploads["downloadFiles"]) == ("update", 1)


def test_a_tree_record_edited_by_hand_is_not_trusted(site: Site) -> None:
    """A record without a whole number of bytes (as synco never writes one) sends plan and receive to the
    full comparison, instead of a plan built on it."""
    site.receive()
    state_file = site.target / ".synco-received.json"
    state = json.loads(state_file.read_text())
    (entry,) = [item for item in state["fileSets"] if item["name"] == "uploads"]
    entry["tree"]["bytes"] = "many"
    state_file.write_text(json.dumps(state))
    site.receive("--plan")
    assert site.index_read
    site.receive()
    assert site.index_read and site.tree()["bytes"] > 0


def _change(kind: str, uploads: Path) -> None:
    victim = uploads / "dir1" / "file 1.bin"
    if kind == "content and size":
        victim.write_bytes(b"changed here")
    elif kind == "mtime":
        os.utime(victim, (1_000_000_000, 1_000_000_000))
    elif kind == "deleted":
        victim.unlink()
    elif kind == "link instead of the file":
        victim.unlink()
        victim.symlink_to(uploads / "dir0" / "file 0.bin")
    elif kind == "folder instead of the file":
        victim.unlink()
        victim.mkdir()
        (victim / "inside").write_bytes(b"x")
    elif kind == "fifo instead of the file":
        victim.unlink()
        os.mkfifo(victim)
    elif kind == "set folder gone":
        for path in sorted(uploads.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
        uploads.rmdir()


@pytest.mark.parametrize("kind", ["content and size", "mtime", "deleted", "link instead of the file",
                                  "folder instead of the file", "fifo instead of the file", "set folder gone"])
def test_any_local_change_gets_the_full_comparison(site: Site, kind: str) -> None:
    site.receive()
    _change(kind, site.target / "uploads")
    # A link or a folder in the way is refused by the full comparison, as always (never followed, never
    # removed): the receive says so and keeps no digest.
    refused = kind in ("link instead of the file", "folder instead of the file")
    result = site.receive(status=1 if refused else 0)
    assert site.index_read, f"{kind}: the index must be compared in full"
    if refused:
        assert "dir1/file 1.bin" in result.output and site.tree() == {}
        return
    assert tree_digest(site.target / "uploads") == expected_uploads(site.app)
    # Put right, the folder is again what the index says: the next receive needs the meta only.
    site.receive()
    assert not site.index_read


def test_a_local_extra_file_is_reported_each_time_until_deleted(site: Site) -> None:
    site.receive()
    extra = site.target / "uploads" / "dir2" / "mine.txt"
    extra.write_text("only here\n")
    for _ in range(2):
        kept = site.receive()
        assert site.index_read and "1 local file(s) no longer on the server" in kept.output
        assert extra.exists() and site.tree() == {}
    removed = site.receive("--delete")
    assert "1 local file(s) removed: dir2/mine.txt" in removed.output and not extra.exists()
    assert site.tree()
    site.receive()
    assert not site.index_read


def test_a_changed_source_gets_the_full_comparison(site: Site) -> None:
    site.receive()
    (site.app / "web" / "uploads" / "dir0" / "file 3.bin").write_bytes(b"new on the server")
    site.publish("synco-treetest0000000003")
    site.receive()
    assert site.index_read and tree_digest(site.target / "uploads") == expected_uploads(site.app)


def _same_size_and_mtime(path: Path, content: bytes) -> None:
    info = path.stat()
    assert len(content) == info.st_size
    path.write_bytes(content)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


@pytest.mark.parametrize("change", ["edited in place", "two files swapped", "edited, then a receive that failed"])
def test_a_file_changed_on_the_server_with_size_and_mtime_kept_is_fetched(site: Site, change: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A server file changed with its size and mtime kept (touch -r, cp -p, a deploy giving every file one
    mtime) has another SHA-256 in the new index: the receive fetches it, though its local copy has the
    index's size and mtime (it was kept as it was: rsync's quick check misses it too, synco has the hash)."""
    monkeypatch.setattr("synco_core.index.hashcache.RACY_SECONDS", 0.0)
    site.receive()
    uploads = site.app / "web" / "uploads"
    # Files too large to be packed: each comes from its own URL.
    first, second = sorted(uploads.rglob("*.bin"), key=lambda path: path.stat().st_size)[-2:]
    if change == "two files swapped":
        second.write_bytes(os.urandom(first.stat().st_size))
        os.utime(second, ns=(first.stat().st_atime_ns, first.stat().st_mtime_ns))
        site.publish("synco-treetest0000000004")
        site.receive()
        one, two = first.read_bytes(), second.read_bytes()
        _same_size_and_mtime(first, two)
        _same_size_and_mtime(second, one)
    else:
        _same_size_and_mtime(first, bytes(first.stat().st_size))
    site.publish("synco-treetest0000000005")
    if change == "edited, then a receive that failed":
        # The changed file is not given this time (a 404): the receive fails, and the next one still knows
        # that the local copy is not the index's.
        aside = first.with_name("aside")
        first.rename(aside)
        site.receive(status=1)
        aside.rename(first)
        assert (site.target / "uploads" / first.relative_to(uploads)).read_bytes() != first.read_bytes()
    # --plan agrees with the receive.
    planned = site.receive("--plan")
    assert f"{2 if change == 'two files swapped' else 1} to download" in planned.output
    site.receive()
    assert site.index_read and tree_digest(site.target / "uploads") == expected_uploads(site.app)
    assert "0 to download" in site.receive("--plan").output


def _rewrite_meta(app: Path, session: str, key: Any, change: Any) -> None:
    path = app / "web" / session / META_FILE
    identities = [age.parse_identity(key.secret)]
    meta = json.loads(age.decrypt_bytes(path.read_bytes(), identities))
    change(next(item for item in meta["fileSets"] if item["name"] == "uploads")["publicFiles"])
    path.write_bytes(age.encrypt_bytes(json.dumps(meta).encode(), key.recipients))


@pytest.mark.parametrize("reader", ["in this process", "in the index worker"])
def test_an_index_that_is_not_the_one_the_meta_names_is_refused(site: Site, reader: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    if reader == "in the index worker":
        monkeypatch.setattr(indexprocess, "MIN_FILES", 1)
        monkeypatch.setattr(workerframes, "usable_cores", lambda: 2)
    _rewrite_meta(site.app, site.session, site.key, lambda public: public.update(indexSha256="0" * 64))
    result = CliRunner().invoke(cli, ["receive", site.session, site.key.secret, "--base-url", site.url,
                                      "--target", str(site.target), "--only", "uploads"])
    assert result.exit_code == 1
    assert "does not match the SHA-256 the meta gives" in result.output


def test_a_session_without_index_sha256_is_compared_in_full(site: Site) -> None:
    _rewrite_meta(site.app, site.session, site.key, lambda public: public.pop("indexSha256"))
    site.receive()
    assert site.tree() == {}
    site.receive()
    assert site.index_read
    assert tree_digest(site.target / "uploads") == expected_uploads(site.app)


def test_the_index_digest_is_the_digest_of_the_folder_it_describes(tmp_path: Path) -> None:
    folder = tmp_path / "set"
    index: dict[str, PublicIndexEntry] = {}
    for number, name in enumerate(["a", "a-b", "b/c", "b/d/e", "z", "ü/é", "sp ace"]):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * number)
        os.utime(path, (1_600_000_000 + number, 1_600_000_000 + number))
        index[name] = PublicIndexEntry(number, 1_600_000_000 + number, f"files/{name}", False, None, None)
    plan = compare_public_files(index, folder)
    local = local_tree_digest(folder)
    assert plan.tree is not None and local is not None and plan.skipped == len(index)
    assert local.hexdigest() == plan.tree.hexdigest() and local.files == plan.tree.files == len(index)
    # An index with SHA-1 entries (its files are hashed by the comparison) gets no digest.
    index["z"] = index["z"]._replace(sha1="0" * 40)
    assert compare_public_files(index, folder).tree is None
    (folder / "link").symlink_to(folder / "z")
    assert local_tree_digest(folder) is None


def test_the_state_of_a_private_set_as_deep_as_paths_go(tmp_path: Path) -> None:
    """A received private set 1,100 folders deep (a path of 2,200 bytes, well within Linux's 4,096): noting
    its state walked it by recursion, and the receive ended in a RecursionError."""
    import shutil
    import subprocess

    root = tmp_path / "private"
    root.mkdir()
    folder = os.open(root, os.O_RDONLY)
    # Made one level at a time: os.makedirs itself recurses per level.
    for _ in range(1100):
        os.mkdir("d", dir_fd=folder)
        deeper = os.open("d", os.O_RDONLY, dir_fd=folder)
        os.close(folder)
        folder = deeper
    os.close(os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=folder))
    try:
        state = artifact_state(root)
        assert state is not None and state.startswith("folder ")
        os.utime("f", (1, 1), dir_fd=folder)
        assert artifact_state(root) not in (None, state), "a change at the bottom changes the state"
    finally:
        os.close(folder)
        # shutil.rmtree recurses per level too.
        subprocess.run([shutil.which("rm") or "rm", "-rf", str(root)], check=True)
