"""Build the example application's content: its SQLite database and its uploaded files.

The example is a Laravel-shaped project small enough to read in a minute, used by the demo and by the
plugin tests so synco can be tried on a machine with no database server. Everything this script writes
is deterministic (fixed timestamps, fixed hashes), so running it again yields the same files::

    python3 examples/laravel-app/make_example.py [TARGET_DIR]

TARGET_DIR defaults to the folder this script is in; the script only (re)creates
``database/database.sqlite``, ``storage/app/public/...``, ``storage/app/private/...`` and the
``public/storage`` link, never the project's code.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
import sys
import zlib
from pathlib import Path

#: 2024-03-01 12:00:00 UTC: every row and file carries a timestamp from this fixed point on.
EPOCH = 1709294400

#: bcrypt hashes (cost 10) of "alice-secret", "bob-secret" and "carol-secret": realistic data to sanitise.
USERS = (
    (1, "Alice Example", "alice@example.com", "$2y$10$Ha2axIokSExkPYnoYXupr.1Obd29ej7yUA6BcXfqrOkYnO0HxIkq6"),
    (2, "Bob Example", "bob@example.com", "$2y$10$3ZKSEiurGtf2Ba9G9fG6WOMRmAFwJ6U4.i337/bABHH/8uOEVVgI6"),
    (3, "Carol Example", "carol@example.com", "$2y$10$3DBlivF5yfe1ouYyyKYaNOTUZeVUAC7qW3006HqXAyohxfqq7l342"),
)

POSTS = (
    (1, 1, "Hello from the example app", "The first post, with a red picture.", "posts/1.png"),
    (2, 2, "Blue skies", "Bob's post shows something blue.", "posts/2.png"),
    (3, 1, "Green fields", "Alice again, this time in green.", "posts/3.png"),
)

#: The schema of Laravel 11's default migrations (users, cache, jobs) plus the app's own posts table.
SCHEMA = """
CREATE TABLE migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, migration VARCHAR NOT NULL, batch INTEGER NOT NULL);
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR NOT NULL, email VARCHAR NOT NULL UNIQUE,
    email_verified_at DATETIME, password VARCHAR NOT NULL, remember_token VARCHAR,
    created_at DATETIME, updated_at DATETIME);
CREATE TABLE password_reset_tokens (email VARCHAR PRIMARY KEY, token VARCHAR NOT NULL, created_at DATETIME);
CREATE TABLE sessions (
    id VARCHAR PRIMARY KEY, user_id INTEGER, ip_address VARCHAR, user_agent TEXT, payload TEXT NOT NULL,
    last_activity INTEGER NOT NULL);
CREATE INDEX sessions_user_id_index ON sessions (user_id);
CREATE INDEX sessions_last_activity_index ON sessions (last_activity);
CREATE TABLE cache (key VARCHAR PRIMARY KEY, value TEXT NOT NULL, expiration INTEGER NOT NULL);
CREATE TABLE cache_locks (key VARCHAR PRIMARY KEY, owner VARCHAR NOT NULL, expiration INTEGER NOT NULL);
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, queue VARCHAR NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL,
    reserved_at INTEGER, available_at INTEGER NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE failed_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, uuid VARCHAR NOT NULL UNIQUE, connection TEXT NOT NULL, queue TEXT NOT NULL,
    payload TEXT NOT NULL, exception TEXT NOT NULL, failed_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE posts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title VARCHAR NOT NULL, body TEXT NOT NULL, image VARCHAR, created_at DATETIME, updated_at DATETIME);
"""

MIGRATIONS = (
    "0001_01_01_000000_create_users_table",
    "0001_01_01_000001_create_cache_table",
    "0001_01_01_000002_create_jobs_table",
    "2024_03_01_120000_create_posts_table",
)


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A small valid PNG: a vertical gradient from ``rgb`` towards white, written without any library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = bytearray()
    for y in range(height):
        mix = y / max(height - 1, 1)
        pixel = bytes(int(c + (255 - c) * mix * 0.6) for c in rgb)
        rows += b"\x00" + pixel * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(
        b"IEND", b""
    )


def stamp(seconds: int) -> str:
    """A Laravel-style ``Y-m-d H:i:s`` timestamp ``seconds`` after :data:`EPOCH`."""
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(EPOCH + seconds))


def write_database(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".part")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    conn = sqlite3.connect(temp)
    try:
        conn.executescript(SCHEMA)
        conn.executemany("INSERT INTO migrations (migration, batch) VALUES (?, 1)", [(m,) for m in MIGRATIONS])
        conn.executemany(
            "INSERT INTO users (id, name, email, email_verified_at, password, remember_token, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(uid, name, email, stamp(uid * 60), password, f"rememberToken{uid:02d}xyz", stamp(uid * 60),
              stamp(uid * 60)) for uid, name, email, password in USERS],
        )
        conn.executemany(
            "INSERT INTO posts (id, user_id, title, body, image, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(pid, uid, title, body, image, stamp(3600 + pid), stamp(3600 + pid))
             for pid, uid, title, body, image in POSTS],
        )
        conn.executemany(
            "INSERT INTO sessions (id, user_id, ip_address, user_agent, payload, last_activity)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(f"session{uid:02d}abcdefghijklmnopqrstuvwxyz", uid, "203.0.113.7", "Mozilla/5.0 (example)",
              "YTozOntzOjY6Il90b2tlbiI7czo0MDoic2VjcmV0LXNlc3Npb24tdG9rZW4iO30=", EPOCH + 7200 + uid)
             for uid, *_ in USERS],
        )
        conn.execute("INSERT INTO password_reset_tokens (email, token, created_at) VALUES (?, ?, ?)",
                     ("bob@example.com", "$2y$10$resettokenresettokenresettokenresettokenresettok", stamp(9000)))
        conn.execute("INSERT INTO cache (key, value, expiration) VALUES (?, ?, ?)",
                     ("laravel_cache_example", "s:5:\"hello\";", EPOCH + 86400))
        conn.commit()
    finally:
        conn.close()
    os.replace(temp, path)


def write_file(path: Path, data: bytes, offset: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (EPOCH + offset, EPOCH + offset))


def build(target: Path) -> None:
    """(Re)create the example's database, uploads and storage link under ``target``."""
    write_database(target / "database" / "database.sqlite")
    public = target / "storage" / "app" / "public"
    for index, rgb in enumerate(((220, 40, 40), (40, 80, 220), (40, 170, 70)), start=1):
        write_file(public / "posts" / f"{index}.png", png(16, 16, rgb), index)
    write_file(public / "readme.txt", b"Files in this folder are served at /storage/ (see php artisan storage:link).\n",
               10)
    private = target / "storage" / "app" / "private"
    write_file(private / "reports" / "2024-q1.csv", b"month,posts\n2024-01,1\n2024-02,0\n2024-03,2\n", 20)
    link = target / "public" / "storage"
    if not (link.exists() or link.is_symlink()):
        link.parent.mkdir(parents=True, exist_ok=True)
        # Relative, so the link survives copying the example elsewhere (php artisan storage:link --relative).
        link.symlink_to(Path("..") / "storage" / "app" / "public")


def main(argv: list[str]) -> int:
    target = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    build(target)
    print(f"example content written under {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
