"""A share not mounted on the server, or a set's folder missing there, never empties the laptop's copy.

On many servers the uploads folder is a mount (NFS, EFS, a Docker volume) or a link to shared storage. When
it was not there as serve ran, the set was published as empty (or serve stopped), and ``receive --delete``
(which ``--install`` implies) removed every local file of it. Now:

- a set whose folder is missing, a link to nothing, not a folder, unreadable, or on a mount point
  ``/etc/fstab`` names that is not mounted, is published as *unavailable*: no receiver fetches, removes or
  records anything of it, and the plan says so (rsync's ``change_dir ... failed``, which deletes nothing);
- an empty mount point nothing names looks exactly like an empty folder: the receive refuses, changing
  nothing of the set, to remove *every* local file of a set the server lists none in, unless
  ``--max-delete N`` allows it; ``--max-delete N`` refuses any set that would lose more than N files.

Both over the built-in server (``serve --listen``'s) and a plain static one; ``pull`` over the docker shim
is in ``test_pull_unavailable_set.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_transfer_support import FixturePlugin, make_app, publish, static_server, tree_digest

from synco_core import wire
from synco_core.cli.main import cli
from synco_core.serve import setroot
from synco_core.serve.server import start_server
from synco_core.testing.services import needs_tool, unavailable

SESSIONS = iter(f"synco-unavailableset{number:06d}" for number in range(1_000_000))


@contextlib.contextmanager
def builtin_server(web: Path) -> Iterator[str]:
    server = start_server(web, "127.0.0.1:0")
    try:
        yield server.url
    finally:
        server.stop()


@contextlib.contextmanager
def plain_static_server(web: Path) -> Iterator[str]:
    with static_server(web) as (url, _behaviour):
        yield url


SERVERS: dict[str, Callable[[Path], contextlib.AbstractContextManager[str]]] = {
    "built-in": builtin_server, "static": plain_static_server}


class Site:
    """The fixture app, served by one kind of server, and a receive folder on the laptop."""

    def __init__(self, root: Path, server: str) -> None:
        self.app = make_app(root / "app")
        self.uploads = self.app / "web" / "uploads"
        self.target = root / "received"
        self.server = SERVERS[server]

    def receive(self, *extra: str, plan: bool = False) -> Any:
        session = next(SESSIONS)
        key = publish(self.app, session, only=("uploads",))
        with self.server(self.app / "web") as url:
            argv = ["receive", session, key.secret, "--base-url", url, "--target", str(self.target),
                    "--only", "uploads", *(["--plan", "--json"] if plan else []), *extra]
            return CliRunner().invoke(cli, argv)

    def local(self) -> dict[str, str]:
        return tree_digest(self.target / "uploads")

    def record(self) -> Any:
        return json.loads((self.target / ".synco-received.json").read_text())["fileSets"]


@pytest.fixture(params=sorted(SERVERS))
def site(request: pytest.FixtureRequest, tmp_path: Path, register_plugin: Any) -> Site:
    register_plugin(FixturePlugin(), "fixture")
    return Site(tmp_path, request.param)


def _missing(uploads: Path, _tmp: Path) -> None:
    shutil.rmtree(uploads)


def _dangling_link(uploads: Path, tmp: Path) -> None:
    """A deploy tool's link to shared storage that is not mounted."""
    shutil.rmtree(uploads)
    uploads.symlink_to(tmp / "shared" / "uploads", target_is_directory=True)


def _a_file(uploads: Path, _tmp: Path) -> None:
    shutil.rmtree(uploads)
    uploads.write_bytes(b"not a folder")


def _unmounted(uploads: Path, tmp: Path) -> None:
    """An empty mount point /etc/fstab names, nothing mounted on it (this process's mount table)."""
    shutil.rmtree(uploads)
    uploads.mkdir()
    fstab = tmp / "fstab"
    escaped = str(uploads).replace(" ", "\\040")
    fstab.write_text(f"# a comment\nUUID=1 / ext4 defaults 0 1\nnfs:/export {escaped} nfs defaults 0 0\n")
    setroot.FSTAB = fstab


BREAKS = {"missing": _missing, "dangling-link": _dangling_link, "a-file": _a_file, "unmounted": _unmounted}


@pytest.fixture
def restore_fstab() -> Iterator[None]:
    saved = setroot.FSTAB, setroot.MOUNTINFO
    yield
    setroot.FSTAB, setroot.MOUNTINFO = saved


@pytest.mark.parametrize("how", sorted(BREAKS))
def test_a_set_whose_folder_serve_cannot_read_changes_nothing_on_the_laptop(
        site: Site, how: str, tmp_path: Path, restore_fstab: None, caplog: pytest.LogCaptureFixture) -> None:
    first = site.receive("--delete")
    assert first.exit_code == 0, first.output
    received, record = site.local(), site.record()
    assert len(received) == 13
    (site.target / "uploads" / "mine.txt").write_text("a local file the server never had")
    received = site.local()
    BREAKS[how](site.uploads, tmp_path)
    plan = site.receive("--delete", plan=True)
    # The plan ends as the receive would: status 1, saying why.
    assert plan.exit_code == 1, plan.output
    planned = json.loads(plan.stdout)
    (item,) = planned["sets"]
    assert item["action"] == "unavailable" and item["deleteFiles"] == [], item
    assert "could not read its folder" in item["detail"]
    assert "a receive would receive or change nothing" in planned["refused"]
    assert "Error: uploads: the server could not read its folder" in plan.stderr
    with caplog.at_level("WARNING"):
        result = site.receive("--delete")
    assert result.exit_code == 1, result.output
    assert "the server could not read its folder" in result.output
    assert "nothing was received or changed" in result.output
    assert "mount it on the server" in result.output and "--only" in result.output
    # serve said so too, naming the folder.
    assert f"uploads: folder {site.uploads}" in caplog.text or f"{site.uploads} is not a folder" in caplog.text
    assert site.local() == received
    assert site.record() == record


def test_an_unreadable_set_folder_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder serve may not list (root reads any: the listing's refusal is what is judged)."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    real_scandir = os.scandir

    def refuse(path: Any = ".") -> Any:
        if os.fspath(path) == os.fspath(folder):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(setroot.os, "scandir", refuse)
    assert setroot.unavailable_reason(folder) == f"folder {folder} cannot be listed: Permission denied"


def test_which_folders_are_unavailable(tmp_path: Path) -> None:
    """The family at once: what is there (a folder, a link to one, an empty one, a mounted mount point, one
    below it) and what is not (missing, a link to nothing, a file, an fstab mount point or a folder below one
    that is not mounted); no fstab or no mount table judges nothing by them."""
    there = tmp_path / "there"
    (there / "below").mkdir(parents=True)
    (tmp_path / "link").symlink_to(there)
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    share = tmp_path / "my share"
    (share / "uploads").mkdir(parents=True)
    fstab = tmp_path / "fstab"
    fstab.write_text(f"server:/x {str(share).replace(' ', chr(92) + '040')} nfs defaults 0 0\n"
                     "/dev/sda2 none swap sw 0 0\n")
    mounted = tmp_path / "mountinfo"
    mounted.write_text("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n")
    nothing = tmp_path / "no-such-file"

    def reason(path: Path, table: Path = fstab, info: Path = mounted) -> str | None:
        return setroot.unavailable_reason(path, table, info)

    for path in (there, there / "below", tmp_path / "link"):
        assert reason(path) is None, path
    assert reason(tmp_path / "missing") == f"folder {tmp_path / 'missing'} does not exist"
    assert reason(tmp_path / "dangling") == (f"folder {tmp_path / 'dangling'} is a link to {tmp_path / 'nowhere'}, "
                                             "which does not exist")
    assert reason(tmp_path / "file") == f"{tmp_path / 'file'} is not a folder"
    for path in (share, share / "uploads"):
        said = reason(path)
        assert said is not None and f"is on {share}, which /etc/fstab names and which is not mounted" in said
    mounted.write_text(mounted.read_text() + f"40 22 0:50 / {str(share).replace(' ', chr(92) + '040')} rw - nfs x rw\n")
    assert reason(share / "uploads") is None
    assert reason(share / "uploads", table=nothing) is None
    assert reason(share / "uploads", info=nothing) is None


@needs_tool("unshare", "util-linux")
def test_a_mount_point_mounted_or_not_in_a_private_mount_namespace(tmp_path: Path) -> None:
    """The real mount table: a tmpfs mounted on the fstab's mount point (in a mount namespace of its own)
    is a folder like any other; the same mount point without it is unavailable."""
    share = tmp_path / "share"
    share.mkdir()
    fstab = tmp_path / "fstab"
    fstab.write_text(f"tmpfs {share} tmpfs defaults 0 0\n")
    probe = ("import sys; from pathlib import Path; from synco_core.serve.setroot import unavailable_reason; "
             "print(unavailable_reason(Path(sys.argv[1]), Path(sys.argv[2])))")
    mounted = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                              'mount -t tmpfs tmpfs "$1" && mkdir "$1/uploads" && exec "$2" -c "$3" "$1/uploads" "$4"',
                              "sh", str(share), sys.executable, probe, str(fstab)],
                             capture_output=True, text=True, timeout=60)
    if mounted.returncode != 0 and "mount" in mounted.stderr:
        unavailable(f"cannot mount a tmpfs in a new mount namespace here: {mounted.stderr.strip()}")
    assert mounted.returncode == 0, mounted.stderr
    assert mounted.stdout.strip() == "None"
    alone = subprocess.run([sys.executable, "-c", probe, str(share), str(fstab)], capture_output=True, text=True,
                           timeout=60)
    assert alone.returncode == 0, alone.stderr
    assert f"is on {share}, which /etc/fstab names and which is not mounted" in alone.stdout


def test_a_reader_that_does_not_know_unavailable_refuses_the_set(site: Site, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A receiver from before ``unavailable`` (it knows ``mustUnderstand``) fails the set, nothing of it
    changed; one from before that refuses the index format (3) the set is published with."""
    assert site.receive("--delete").exit_code == 0
    received = site.local()
    _dangling_link(site.uploads, tmp_path)
    monkeypatch.setattr(wire, "UNDERSTOOD", frozenset({"leftOutCount"}))
    result = site.receive("--delete")
    assert result.exit_code == 1, result.output
    assert "needs unavailable" in result.output
    assert site.local() == received


# ------------------------------------------------------------------------- an empty folder: --max-delete


def _empty_mount_point(uploads: Path) -> None:
    """What an unmounted share looks like when nothing names it: an empty folder; the application may have
    written a dotfile into it since (public sets leave dotfiles out)."""
    shutil.rmtree(uploads)
    uploads.mkdir()
    (uploads / ".htaccess").write_text("Deny from all\n")


def test_an_empty_set_folder_is_not_emptied_on_the_laptop_without_max_delete(site: Site) -> None:
    assert site.receive("--delete").exit_code == 0
    received = site.local()
    _empty_mount_point(site.uploads)
    # Without --delete nothing is removed anyway.
    kept = site.receive()
    assert kept.exit_code == 0, kept.output
    assert site.local() == received
    plan = site.receive("--delete", plan=True)
    assert plan.exit_code == 1, plan.output
    (item,) = json.loads(plan.stdout)["sets"]
    assert item["action"] == "refused" and item["deleteFiles"] == [] and len(item["vanishedFiles"]) == 13
    assert "--max-delete 13" in item["deleteRefused"]
    assert "a receive would receive or change nothing" in item["deleteRefused"]
    result = site.receive("--delete")
    assert result.exit_code == 1, result.output
    assert ("the server lists no file in this set, and --delete would remove all 13 local file(s) of it"
            in result.output)
    assert "nothing was received or changed" in result.output and "pass --max-delete 13" in result.output
    assert site.local() == received
    too_few = site.receive("--delete", "--max-delete", "12")
    assert too_few.exit_code == 1 and "more than --max-delete 12" in too_few.output
    assert site.local() == received
    emptied = site.receive("--delete", "--max-delete", "13")
    assert emptied.exit_code == 0, emptied.output
    assert site.local() == {}


@pytest.mark.parametrize("limit", [0, 1, 2, 3])
def test_max_delete_refuses_a_set_that_would_lose_more_than_n_files(site: Site, limit: int) -> None:
    """Three of the set's files gone from the server: allowed from ``--max-delete 3`` on, refused below with
    nothing of the set changed (neither removed nor fetched); a set losing some files but not all needs no
    option."""
    assert site.receive("--delete").exit_code == 0
    received = site.local()
    gone = sorted(path for path in received if path.startswith("dir0/"))[:3]
    for path in gone:
        (site.uploads / path).unlink()
    (site.uploads / "new.bin").write_bytes(b"new on the server")
    planned = site.receive("--delete", "--max-delete", str(limit), plan=True)
    assert planned.exit_code == (1 if limit < 3 else 0), planned.output
    plan = json.loads(planned.stdout)["sets"][0]
    result = site.receive("--delete", "--max-delete", str(limit))
    if limit < 3:
        assert plan["action"] == "refused" and f"more than --max-delete {limit}" in plan["deleteRefused"]
        assert result.exit_code == 1, result.output
        assert (f"--delete would remove 3 local file(s) in all (uploads 3), more than --max-delete {limit}; "
                "nothing was received or changed") in result.output
        assert site.local() == received
    else:
        assert plan["deleteRefused"] is None and sorted(plan["deleteFiles"]) == gone
        assert result.exit_code == 0, result.output
        assert sorted(site.local()) == sorted({*received, "new.bin"} - set(gone))
    if limit == 0:
        assert site.receive("--delete").exit_code == 0
        assert sorted(site.local()) == sorted({*received, "new.bin"} - set(gone))


def test_serve_plan_names_a_set_whose_folder_is_not_there(tmp_path: Path, register_plugin: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    register_plugin(FixturePlugin(), "fixture")
    app = make_app(tmp_path / "app")
    shutil.rmtree(app / "web" / "uploads")
    (app / "web" / "uploads").symlink_to(tmp_path / "shared")
    shutil.rmtree(app / "web" / "thumbs")
    monkeypatch.chdir(app)
    result = CliRunner().invoke(cli, ["serve", "--plan", "--json", "--all"])
    assert result.exit_code == 0, result.output
    sets = {item["name"]: item for item in json.loads(result.stdout)["file_sets"]}
    assert sets["uploads"]["status"] == "unavailable"
    assert sets["uploads"]["reason"] == f"folder {app / 'web' / 'uploads'} is a link to {tmp_path / 'shared'}, " \
                                        "which does not exist"
    assert sets["thumbs"]["status"] == "unavailable" and "does not exist" in sets["thumbs"]["reason"]
    assert sets["private"]["status"] == "included"
