"""End to end on a Laravel 11 fixture backed by the real MariaDB: serve -> receive -> install.

The source project's web root is served by a real HTTP server on 127.0.0.1, as the web server of a
production host would; ``serve --keep`` publishes the session into it and exits, then ``receive`` and
``install`` run against a second copy of the project with its own, empty database.
It runs twice (``php_mode``): with the real ``php`` CLI running the fixture's ``artisan``, and with no PHP
on PATH, where the plugin reads ``.env`` itself, as on a production host without the PHP CLI.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from synco_core.testing import SyncoPluginManager, cli
from synco_core.testing.services import mysql_admin_connection, serve_receive_install

Make = Callable[..., Path]


@pytest.mark.mysql
@pytest.mark.slow
def test_serve_receive_install_mysql(make_project: Make, laravel_manager: SyncoPluginManager, tmp_path: Path,
                                     mysql_database_factory: Callable[[], str],
                                     web_server: Callable[[Path], str], php_mode: str) -> None:
    source_db, target_db = mysql_database_factory(), mysql_database_factory()
    conn = mysql_admin_connection(source_db)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(50), email VARCHAR(100),"
                    " password VARCHAR(100), remember_token VARCHAR(100))")
        cur.execute("INSERT INTO users VALUES (1, 'Ann', 'ann@real.example', 'h1', 'tok1'),"
                    " (5, 'Ben', 'ben@real.example', 'h2', NULL)")
        cur.execute("CREATE TABLE sessions (id VARCHAR(40) PRIMARY KEY, payload TEXT)")
        cur.execute("INSERT INTO sessions VALUES ('abc', 'secret session payload')")
        cur.execute("CREATE TABLE posts (id INT PRIMARY KEY, title VARCHAR(50))")
        cur.execute("INSERT INTO posts VALUES (1, 'First'), (2, 'Second')")
    conn.close()

    source = make_project("laravel11", env={"DB_CONNECTION": "mysql", "DB_DATABASE": source_db})
    (source / "public/storage").symlink_to(source / "storage/app/public")
    target = make_project("laravel11", env={"DB_CONNECTION": "mysql", "DB_DATABASE": target_db})
    (target / "storage/app/public/avatars/1.txt").unlink()
    (target / "storage/app/private/invoice-2024-001.txt").unlink()
    base_url = web_server(source / "public")
    # The way serve is about to read the settings is the one this run is about.
    assert (shutil.which("php") is None) == (php_mode == "files")
    detected = CliRunner().invoke(cli, ["detect", "--json", str(source)])
    assert detected.exit_code == 0, detected.output
    found = json.loads(detected.stdout)
    assert found["configSource"] == php_mode
    assert (found["database"]["engine"], found["database"]["name"]) == ("mysql", source_db)

    received = tmp_path / "received"
    serve_receive_install(source, base_url, received, target)

    conn = mysql_admin_connection(target_db)
    with conn.cursor() as cur:
        cur.execute("SELECT id, email, password, remember_token FROM users ORDER BY id")
        users = cur.fetchall()
        cur.execute("SELECT COUNT(*) FROM sessions")
        sessions = cur.fetchone()
        cur.execute("SELECT title FROM posts ORDER BY id")
        posts = cur.fetchall()
    conn.close()
    from synco_laravel.database import PASSWORD_HASH

    assert [tuple(u) for u in users] == [(1, "user1@example.invalid", PASSWORD_HASH, None),
                                         (5, "user5@example.invalid", PASSWORD_HASH, None)]
    assert tuple(sessions) == (0,), "sessions are never shipped"
    assert [p[0] for p in posts] == ["First", "Second"]
    assert (target / "storage/app/public/avatars/1.txt").read_text() == "avatar of user 1\n"
    assert (target / "storage/app/private/invoice-2024-001.txt").read_text() == "invoice 2024-001\n"
