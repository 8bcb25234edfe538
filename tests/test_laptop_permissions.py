"""Permissions of what synco writes on a laptop, under any umask (docs/security.md; synco_core/permissions.py).

Private data never becomes readable by other users of the machine, whatever the server's bits or the umask
(0 included): private sets' files and folders, a SQLite database the install creates or is loading, the
install's own record. Public files get what the umask says. What an install puts in the place of something
of the user's (a set's folder made 0700 or shared with the web server's group, a database made 0600, the
``.synco.yml`` a pull adds its host to) keeps that one's mode and group.
"""

from __future__ import annotations

import contextlib
import grp
import io
import os
import sqlite3
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synco_core import permissions
from synco_core.dburl import parse_database_url
from synco_core.engines import crashpoints
from synco_core.engines.default_files import install_tree
from synco_core.engines.dispatch import install_with_engine
from synco_core.install.state import STATE_FILE, InstallState, write_state
from synco_core.receive.locate import remember_host
from synco_core.receive.tarsafe import extract_stream
from synco_core.values import InstallOptions

UMASKS = [0o000, 0o002, 0o022, 0o027, 0o077]
OTHERS = 0o007


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    permissions.umask.cache_clear()
    try:
        yield
    finally:
        os.umask(old)
        permissions.umask.cache_clear()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def private_tar(members: dict[str, int]) -> bytes:
    """A private set's tar: each name a file with that mode on the server, in folders of mode 0777."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        folders = sorted({str(Path(name).parent) for name in members} - {"."})
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o777
            tar.addfile(info)
        for name, bits in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(name), bits
            tar.addfile(info, io.BytesIO(name.encode()))
    return out.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(UMASKS), st.dictionaries(st.sampled_from(["a", "b/c", "b/d/e", "f/g"]),
                                                st.integers(0, 0o7777), min_size=1))
def test_a_private_sets_files_are_never_readable_by_others(tmp_path: Path, mask: int, members: dict[str, int]
                                                           ) -> None:
    target = tmp_path / f"set-{len(list(tmp_path.iterdir()))}"
    with umask(mask):
        extract_stream(io.BytesIO(private_tar(members)), target)
    for name, server in members.items():
        got = mode(target / name)
        assert got & OTHERS == 0, (name, oct(got))
        assert got & 0o600 == 0o600  # the owner reads and writes what it received
        assert got & ~0o600 & ~server == 0, (name, oct(server), oct(got))  # no bit the server did not give
        assert got & mask & ~0o600 == 0, (name, oct(mask), oct(got))  # nor one the umask takes away
    for folder in [target, *(p for p in target.rglob("*") if p.is_dir())]:
        got = mode(folder)
        assert got & OTHERS == 0 and got & 0o700 == 0o700, (folder, oct(got))
        assert got & mask == 0, (folder, oct(mask), oct(got))


@pytest.mark.parametrize("mask", UMASKS)
@pytest.mark.parametrize("before", [0o700, 0o750, 0o2770, 0o755])
def test_an_installed_folder_keeps_the_mode_of_the_one_it_replaces(tmp_path: Path, mask: int, before: int) -> None:
    received = tmp_path / "dump" / "uploads"
    (received / "a").mkdir(parents=True)
    (received / "a" / "f.txt").write_text("new")
    received.chmod(0o777)
    destination = tmp_path / "project" / "uploads"
    destination.mkdir(parents=True)
    (destination / "old.txt").write_text("old")
    destination.chmod(before)
    group = os.getgid()
    if os.geteuid() == 0:
        group = grp.getgrnam("nogroup").gr_gid if "nogroup" in {g.gr_name for g in grp.getgrall()} else 65534
        os.chown(destination, -1, group)
    with umask(mask):
        install_tree(received, destination)
    assert (destination / "a" / "f.txt").read_text() == "new"
    assert mode(destination) == before, oct(mode(destination))
    assert destination.stat().st_gid == group
    # A folder the install creates takes the received one's.
    with umask(mask):
        install_tree(received, tmp_path / "project" / "new")
    assert mode(tmp_path / "project" / "new") == 0o777


def sqlite_dump(tmp_path: Path) -> bytes:
    source = tmp_path / "source.db"
    with contextlib.closing(sqlite3.connect(source)) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
        conn.execute("INSERT INTO users (email) VALUES ('someone@example.com')")
        conn.commit()
    return source.read_bytes()


@pytest.mark.parametrize("mask", UMASKS)
@pytest.mark.parametrize("before", [None, 0o600, 0o640, 0o664])
def test_an_installed_sqlite_database_is_never_readable_by_others_unless_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mask: int, before: int | None) -> None:
    """Replacing keeps the database's mode; a new one is private data (no bits for others); and the copy being
    loaded beside it, the size of the database, is its owner's alone while it is written."""
    dump = sqlite_dump(tmp_path)
    app = tmp_path / "app"
    app.mkdir()
    target = app / "app.db"
    if before is not None:
        with contextlib.closing(sqlite3.connect(target)) as conn:
            conn.execute("CREATE TABLE old (id INTEGER)")
        target.chmod(before)
    loading: list[int] = []
    real_reached = crashpoints.reached

    def note_the_loaded_copy(step: str) -> None:
        if step == "sqlite:install:written":
            loading.extend(mode(path) for path in app.iterdir() if path.name.endswith(".synco-new"))
        real_reached(step)

    monkeypatch.setattr(crashpoints, "reached", note_the_loaded_copy)
    with umask(mask):
        install_with_engine(parse_database_url(f"sqlite:///{target}"), io.BytesIO(dump),
                            InstallOptions(format="sqlite", yes=True))
    assert loading == [0o600], [oct(m) for m in loading]
    got = mode(target)
    if before is None:
        assert got & OTHERS == 0 and got & 0o600 == 0o600 and got & mask & ~0o600 == 0, oct(got)
    else:
        assert got == before, oct(got)


@pytest.mark.parametrize("mask", UMASKS)
def test_the_install_record_is_its_owners_alone(tmp_path: Path, mask: int) -> None:
    with umask(mask):
        write_state(InstallState(tmp_path, session="synco-x", database="sqlite:///app.db"))
    assert mode(tmp_path / STATE_FILE) == 0o600


@pytest.mark.parametrize("before", [0o600, 0o640, 0o644])
def test_a_remembered_host_keeps_the_configuration_files_mode(tmp_path: Path, before: int) -> None:
    config = tmp_path / ".synco.yml"
    config.write_text("# mine\nhosts:\n  - https://old.example.com\n")
    config.chmod(before)
    with umask(0o000):
        remember_host(tmp_path, "https://new.example.com")
    assert "https://new.example.com" in config.read_text()
    assert mode(config) == before
