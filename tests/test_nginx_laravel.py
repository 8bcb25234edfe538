"""A Laravel 11 skeleton behind a real nginx with Laravel's recommended server block, on the real MariaDB.

Every Laravel skeleton has ``storage/app/public/.gitignore``, and the recommended nginx block denies every
dotfile (403). These run serve and receive as separate processes through pipes (no terminal), the way a
user runs them on two machines:

- the receive command ``serve`` prints works as printed: it carries ``--base-url`` from ``APP_URL``;
- public sets leave dotfiles out, so the skeleton installs; the project's own ``.gitignore`` stays;
- when a public set does list files nginx refuses (403) or no longer has (404), receive names them and
  their count, ``--install`` installs nothing until ``--allow-missing`` says so, and then installs the
  rest as one all-or-nothing step.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from synco_core.index.packs import SMALL_FILE_MAX
from synco_core.testing.services import Nginx, mysql_admin_connection, nginx

ROOT = Path(__file__).resolve().parent.parent
LARAVEL_FIXTURES = ROOT / "plugins" / "synco-laravel" / "tests" / "fixtures"
SYNCO = [sys.executable, "-m", "synco_core"]

UPLOADS = {"avatars/1.jpg": b"\xff\xd8 avatar one", "avatars/2.jpg": b"\xff\xd8 avatar two",
           "docs/guide (final).pdf": b"%PDF-1.7 guide"}


def laravel_project(path: Path, env: dict[str, str]) -> Path:
    """A copy of the Laravel 11 skeleton fixture (its artisan runs under the real php), ``.env`` amended."""
    shutil.copytree(LARAVEL_FIXTURES / "laravel11", path, symlinks=True)
    (path / "vendor").mkdir()
    shutil.copy(LARAVEL_FIXTURES / "fake-laravel-framework.php", path / "vendor" / "autoload.php")
    lines = [line for line in (path / ".env").read_text().splitlines() if line.split("=", 1)[0] not in env]
    (path / ".env").write_text("\n".join([*lines, *(f"{key}={value}" for key, value in env.items())]) + "\n")
    assert (path / "storage/app/public/.gitignore").is_file(), "the skeleton's own dotfile"
    return path


def synco(*args: str, cwd: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    """``synco ARGS`` in ``cwd`` through pipes: no terminal, as in a script."""
    result = subprocess.run([*SYNCO, *args], cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            env={**os.environ, "COLUMNS": "200"}, timeout=120)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def printed_command(served: str) -> list[str]:
    """The receive command ``serve`` printed, as argv (``synco`` itself replaced by this interpreter's)."""
    line = next(line.strip() for line in served.splitlines() if line.strip().startswith("synco receive "))
    return shlex.split(line)[1:]


@dataclass
class Site:
    source: Path
    target: Path
    server: Nginx
    source_db: str
    target_db: str


@pytest.fixture
def site(tmp_path: Path, mysql_database_factory: Callable[[], str]) -> Iterator[Site]:
    """A Laravel production site (MariaDB, uploads, nginx on its public/) and a laptop copy with its own data."""
    if shutil.which("php") is None:
        pytest.fail("php-cli is needed: the fixture's artisan runs under the real php (Debian package php-cli)")
    source_db, target_db = mysql_database_factory(), mysql_database_factory()
    conn = mysql_admin_connection(source_db)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(50), email VARCHAR(100),"
                    " password VARCHAR(100), remember_token VARCHAR(100))")
        cur.execute("INSERT INTO users VALUES (1, 'Ann', 'ann@real.example', 'h1', 'tok1'),"
                    " (2, 'Ben', 'ben@real.example', 'h2', NULL)")
        cur.execute("CREATE TABLE posts (id INT PRIMARY KEY, title VARCHAR(50))")
        cur.execute("INSERT INTO posts VALUES (1, 'First'), (2, 'Second')")
    conn.close()
    conn = mysql_admin_connection(target_db)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE posts (id INT PRIMARY KEY, title VARCHAR(50))")
        cur.execute("INSERT INTO posts VALUES (9, 'laptop only')")
    conn.close()
    source = laravel_project(tmp_path / "production", {"DB_CONNECTION": "mysql", "DB_DATABASE": source_db})
    for relative, content in UPLOADS.items():
        (source / "storage/app/public" / relative).parent.mkdir(parents=True, exist_ok=True)
        (source / "storage/app/public" / relative).write_bytes(content)
    # php artisan storage:link, as on every Laravel host.
    (source / "public/storage").symlink_to(source / "storage/app/public")
    target = laravel_project(tmp_path / "laptop", {"DB_CONNECTION": "mysql", "DB_DATABASE": target_db})
    (target / "storage/app/public/old.txt").write_text("a laptop upload\n")
    with nginx(source / "public", tmp_path / "nginx") as server:
        env = (source / ".env").read_text().replace("APP_URL=http://localhost", f"APP_URL={server.url.rstrip('/')}")
        (source / ".env").write_text(env)
        yield Site(source, target, server, source_db, target_db)


def posts(database: str) -> list[tuple[int, str]]:
    conn = mysql_admin_connection(database)
    with conn.cursor() as cur:
        cur.execute("SELECT id, title FROM posts ORDER BY id")
        rows = [(int(row[0]), str(row[1])) for row in cur.fetchall()]
    conn.close()
    return rows


@pytest.mark.mysql
@pytest.mark.slow
def test_laravel_behind_nginx_round_trip_as_printed(site: Site) -> None:
    served = synco("serve", "--keep", cwd=site.source, check=True)
    # The command works as printed, without a terminal: it names the site from APP_URL.
    assert f"--base-url {site.server.url}" in served.stdout, served.stdout
    assert "The site's URL is from APP_URL" in served.stdout
    received = synco(*printed_command(served.stdout), cwd=site.target)
    assert received.returncode == 0, received.stdout + received.stderr
    assert "all done." in received.stdout and "failed:" not in received.stdout
    # Public sets leave dotfiles out: nothing was asked of nginx that its deny rule refuses.
    assert not [entry for entry in site.server.requests() if entry[2] == 403], site.server.requests()
    public = site.target / "dump" / "public"
    assert sorted(p.relative_to(public).as_posix() for p in public.rglob("*") if p.is_file()) == sorted(UPLOADS)
    installed = synco("install", "--yes", cwd=site.target)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert posts(site.target_db) == [(1, "First"), (2, "Second")]
    uploads = site.target / "storage/app/public"
    for relative, content in UPLOADS.items():
        assert (uploads / relative).read_bytes() == content
    assert not (uploads / "old.txt").exists(), "the set replaced the folder"
    # The project's own dotfile is not content of the set: it stays where the skeleton put it.
    assert (uploads / ".gitignore").read_text() == (site.source / "storage/app/public/.gitignore").read_text()
    rolled = synco("db", "rollback", "--yes", cwd=site.target)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert (uploads / "old.txt").exists() and (uploads / ".gitignore").exists()
    assert posts(site.target_db) == [(9, "laptop only")]


DOTFILES_SET = """
serve:
  file_sets:
    - name: public
      path: storage/app/public
      public: true
      url: storage
      dotfiles: true
"""


@pytest.mark.mysql
@pytest.mark.slow
def test_files_nginx_will_not_give_are_named_and_installing_is_a_choice(site: Site) -> None:
    # The project asks for dotfiles in its public set; nginx refuses them (403). One upload is also
    # removed after serve indexed it (404).
    (site.source / ".synco.yml").write_text(DOTFILES_SET)
    # Both are made larger than a pack takes (SMALL_FILE_MAX): a packed copy would arrive out of the
    # session's pack whatever nginx says of the file itself.
    public = site.source / "storage/app/public"
    with (public / ".gitignore").open("a") as ignore:
        ignore.write("#" * (SMALL_FILE_MAX + 1) + "\n")
    (public / "avatars/2.jpg").write_bytes(b"\xff\xd8" + b"\0" * SMALL_FILE_MAX)
    served = synco("serve", "--keep", cwd=site.source, check=True)
    (site.source / "storage/app/public/avatars/2.jpg").unlink()
    command = printed_command(served.stdout)
    before = sorted(p.relative_to(site.target).as_posix() for p in (site.target / "storage").rglob("*"))

    refused = synco(*command, "--install", "--yes", cwd=site.target)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    output = refused.stdout + refused.stderr
    assert re.search(r"2 public file\(s\) could not be fetched \(the server refused them or no longer has them\): "
                     r"(\.gitignore, avatars/2\.jpg|avatars/2\.jpg, \.gitignore)", output), output
    assert "running again will not fetch them" in output and "run the same command again" not in output
    assert "pass --allow-missing" in output
    # Nothing changed locally: the database loaded early was rolled back, the files were not touched.
    assert posts(site.target_db) == [(9, "laptop only")]
    assert sorted(p.relative_to(site.target).as_posix() for p in (site.target / "storage").rglob("*")) == before
    statuses = {(path, status) for _method, path, status, _size, _range in site.server.requests()}
    assert ("/storage/.gitignore", 403) in statuses and ("/storage/avatars/2.jpg", 404) in statuses

    allowed = synco(*command, "--install", "--yes", "--allow-missing", cwd=site.target)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "Installing without 2 public file(s) the server would not give (--allow-missing)." in allowed.stderr
    assert posts(site.target_db) == [(1, "First"), (2, "Second")]
    uploads = site.target / "storage/app/public"
    assert (uploads / "avatars/1.jpg").read_bytes() == UPLOADS["avatars/1.jpg"]
    assert (uploads / "docs/guide (final).pdf").read_bytes() == UPLOADS["docs/guide (final).pdf"]
    assert not (uploads / "avatars/2.jpg").exists() and not (uploads / "old.txt").exists()
    # The local .gitignore the session could not bring stays.
    assert (uploads / ".gitignore").exists()
