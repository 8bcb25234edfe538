"""``synco receive`` run as copied from a chat, a browser or a wiki: each mistake ends in one line, exit 1
(or click's usage error, exit 2, for a command line it cannot read), with nothing written and no key shown.

Against a real ``synco serve --listen`` of the Laravel example (the session fixture of test_install_lock).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_install_lock import EXAMPLE, SYNCO, fingerprint, refused, served_session, synco


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    yield from served_session(tmp_path_factory)


@pytest.fixture
def laptop(tmp_path: Path) -> Path:
    project = tmp_path / "laptop"
    shutil.copytree(EXAMPLE, project, symlinks=True)
    return project


@pytest.mark.parametrize("before, after", [
    ("\u201c", "\u201d"), ("\u2018", "\u2019"), ("'", "'"), ("#", ""), ("%23", ""), ("", "."), ("", "\u200b"),
    ("<", ">"),
], ids=["double-curly", "single-curly", "straight", "hash", "encoded-hash", "full-stop", "zero-width", "angle"])
def test_key_with_characters_around_it(laptop: Path, session: tuple[str, str, str], before: str, after: str) -> None:
    name, key, url = session
    before_files = fingerprint(laptop)
    line = refused(synco("receive", name, before + key + after, "--base-url", url, "--all", cwd=laptop))
    assert "the key has" in line and "added when it was copied" in line, line
    assert key[16:] not in line
    assert fingerprint(laptop) == before_files


def test_key_with_spaces_and_line_breaks_around_it_works(laptop: Path, session: tuple[str, str, str]) -> None:
    name, key, url = session
    done = synco("receive", f" {name}\n", f"\u00a0{key} \n", "--base-url", f"{url}\n", "--all", cwd=laptop)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("split", [20, 40, 60])
def test_key_cut_in_two_is_not_shown(laptop: Path, session: tuple[str, str, str], split: int) -> None:
    """A line break inside the key, pasted into a shell, makes two words: click's error quoted the second."""
    name, key, url = session
    result = synco("receive", name, key[:split], key[split:], "--base-url", url, cwd=laptop)
    assert result.returncode == 2, result.stderr
    assert key[split:] not in result.stderr and "cut in two" in result.stderr, result.stderr
    assert not (laptop / "dump").exists()


def test_password_cut_in_two_is_not_shown(tmp_path: Path) -> None:
    result = subprocess.run([*SYNCO, "db", "rollback", "mysql://root:first", "half@localhost/db"],
                            capture_output=True, text=True, cwd=tmp_path, check=False, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and "half@" not in result.stderr and "cut in two" in result.stderr, result.stderr


@pytest.mark.parametrize("form", ["{url}{name}/", "{url}{name}", "{url}{name}/meta.json.enc"])
def test_session_folder_address_as_base_url_or_session(laptop: Path, session: tuple[str, str, str],
                                                       form: str) -> None:
    """The session folder's address (what a browser shows) instead of the web root's, or instead of the id."""
    name, key, url = session
    address = form.format(url=url, name=name)
    as_base = synco("receive", name, key, "--base-url", address, "--all", "--target", "one", cwd=laptop)
    assert as_base.returncode == 0, as_base.stderr
    as_session = synco("receive", address, key, "--all", "--target", "two", cwd=laptop)
    assert as_session.returncode == 0, as_session.stderr
    assert sorted(p.name for p in (laptop / "one").iterdir()) == sorted(p.name for p in (laptop / "two").iterdir())


def test_web_root_address_as_session(laptop: Path, session: tuple[str, str, str]) -> None:
    _name, key, url = session
    line = refused(synco("receive", url, key, "--all", cwd=laptop))
    assert "SESSION is an address without a session folder" in line, line
    assert not (laptop / "dump").exists()


@pytest.mark.parametrize("target", ["README.md/dump", "README.md/a/b"])
def test_target_below_a_file(laptop: Path, session: tuple[str, str, str], target: str) -> None:
    name, key, url = session
    before = fingerprint(laptop)
    line = refused(synco("receive", name, key, "--base-url", url, "--all", "--target", target, cwd=laptop))
    assert line == (f"Error: cannot make the receive folder {target}: a part of that path is a file, not a folder; "
                    "pass --target FOLDER"), line
    assert fingerprint(laptop) == before


def test_receive_install_takes_the_framework_its_error_names(tmp_path: Path, session: tuple[str, str, str]) -> None:
    """Outside a project, receive --install says "pass --framework": receive must then have that option."""
    name, key, url = session
    line = refused(synco("receive", name, key, "--base-url", url, "--all", "--install", "--yes", cwd=tmp_path))
    assert "no framework detected" in line and "--framework" in line, line
    line = refused(synco("receive", name, key, "--base-url", url, "--all", "--install", "--yes",
                         "--framework", "laravel", cwd=tmp_path))
    assert "framework 'laravel' not detected" in line, line
    assert list(tmp_path.iterdir()) == []


def test_session_of_another_framework_is_refused_before_downloading(tmp_path: Path,
                                                                   session: tuple[str, str, str]) -> None:
    """A Laravel session received with --install into a project of another framework (here synco-generic's
    .synco.yml) whose file sets have no place for it: refused before a byte arrives, not after the whole
    session was downloaded and the database loaded (and rolled back); --only then takes what fits."""
    name, key, url = session
    project = tmp_path / "other"
    project.mkdir()
    (project / ".synco.yml").write_text("serve:\n  database: sqlite:///app.sqlite\n")
    sqlite3.connect(project / "app.sqlite").close()
    before = fingerprint(project)
    line = refused(synco("receive", name, key, "--base-url", url, "--all", "--install", "--yes", cwd=project))
    assert "the local Generic project has no file set of that name" in line and "--only" in line, line
    assert fingerprint(project) == before and not (project / "dump").exists()
    only_database = synco("receive", name, key, "--base-url", url, "--only", "dbDump", "--install", "--yes",
                          cwd=project)
    assert only_database.returncode == 0, only_database.stderr
