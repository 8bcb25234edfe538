"""End to end on a copy of the plain-app fixture (no framework plugin, only .synco.yml): serve -> receive
-> install against a real database (MariaDB, and SQLite through a relative ``sqlite:///`` URL).

The source's web root and the "CDN" folder are served by real HTTP servers on 127.0.0.1. Checked on the
target: excluded tables, row filters and sanitising rules took effect, and excluded files (at any depth,
``*.tmp`` and ``**/cache/**`` folders) did not arrive while the others did.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from synco_core.testing.services import mysql_admin_connection, mysql_url_for, serve_receive_install

FIXTURE = Path(__file__).parent / "fixtures" / "plain-app"
LONG_BIO = "b" * 300

#: The fixture's .synco.yml with the database and the CDN pointed at this machine, the keep_newest
#: tables declared safe (strict mode), and nested excludes on the private set.
CONFIG = """\
serve:
  name: Plain App
  database:
    url: "{url}"
  web_root: public
  file_sets:
    - name: uploads
      path: public/uploads
      public: true
      exclude: ["**/cache/**"]
    - name: invoices
      path: var/storage/invoices
      exclude: ["*.tmp", "**/cache/**"]
    - name: cdn
      path: cdn-mirror
      public: true
      url: "{cdn_url}"
  exclude_tables: [cache_items]
  where:
    orders: "created_at >= '2024-01-01'"
  keep_newest:
    audit_log: {{column: id, rows: 2}}

sanitize:
  strict: true
  columns:
    users.email: email
    users.password: "fixed:$2y$10$abcdefghijklmnopqrstuv"
    users.name: "{name_sql}"
    users.phone: null
    users.bio: "truncate:200"
    users.api_token: hash
    users.id: keep
    users.created_at: keep
  no_rows: [sessions, password_resets]
  keep_newest:
    login_attempts: "id:500"
  keep: [products, orders, audit_log, login_attempts]
"""

SCHEMA = [
    "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100), password VARCHAR(100), name VARCHAR(50),"
    " phone VARCHAR(30), bio TEXT, api_token VARCHAR(64), created_at VARCHAR(20))",
    "CREATE TABLE orders (id INT PRIMARY KEY, created_at VARCHAR(20), total INT)",
    "CREATE TABLE products (id INT PRIMARY KEY, title VARCHAR(50))",
    "CREATE TABLE cache_items (k VARCHAR(50) PRIMARY KEY, v TEXT)",
    "CREATE TABLE sessions (id VARCHAR(40) PRIMARY KEY, payload TEXT)",
    "CREATE TABLE password_resets (email VARCHAR(100), token VARCHAR(100))",
    "CREATE TABLE audit_log (id INT PRIMARY KEY, msg VARCHAR(50))",
    "CREATE TABLE login_attempts (id INT PRIMARY KEY, ip VARCHAR(40))",
]
ROWS = [
    "INSERT INTO users VALUES (1, 'ann@real.example', '$2y$10$realhashofann', 'Ann Real', '+41 79 111 11 11',"
    f" '{LONG_BIO}', 'tok-ann-secret', '2023-05-01'),"
    " (2, 'ben@real.example', '$2y$10$realhashofben', 'Ben Real', '+41 79 222 22 22', 'short', 'tok-ben-secret',"
    " '2024-01-02')",
    "INSERT INTO orders VALUES (1, '2023-12-31', 10), (2, '2024-02-01', 20), (3, '2024-03-01', 30)",
    "INSERT INTO products VALUES (1, 'Chair'), (2, 'Table')",
    "INSERT INTO cache_items VALUES ('k1', 'cached value')",
    "INSERT INTO sessions VALUES ('s1', 'secret session payload')",
    "INSERT INTO password_resets VALUES ('ann@real.example', 'reset-token')",
    "INSERT INTO audit_log VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e')",
    "INSERT INTO login_attempts VALUES (1, '10.0.0.1'), (2, '10.0.0.2'), (3, '10.0.0.3')",
]


class Engine:
    """How a test database is created, reached and written into .synco.yml."""

    name_sql: str

    def url(self, project: Path) -> str:
        raise NotImplementedError

    @contextmanager
    def connect(self, project: Path) -> Iterator[Any]:
        raise NotImplementedError
        yield


class MariaDB(Engine):
    name_sql = "CONCAT('User ', id)"

    def __init__(self, factory: Callable[[], str]) -> None:
        self.factory = factory
        self.names: dict[Path, str] = {}

    def url(self, project: Path) -> str:
        self.names[project] = self.factory()
        return mysql_url_for(self.names[project])

    @contextmanager
    def connect(self, project: Path) -> Iterator[Any]:
        conn = mysql_admin_connection(self.names[project])
        try:
            yield conn
        finally:
            conn.close()


class SQLite(Engine):
    # SQLite 3.40 (Debian 12) has no CONCAT(); the expression is the engine's own SQL.
    name_sql = "'User ' || id"

    def url(self, project: Path) -> str:
        # Relative: resolved against the project folder, so each copy has its own database file.
        return "sqlite:///var/app.db"

    @contextmanager
    def connect(self, project: Path) -> Iterator[Any]:
        conn = sqlite3.connect(project / "var/app.db")
        try:
            yield conn
            conn.commit()
        finally:
            conn.close()


@pytest.fixture(params=[pytest.param("mariadb", marks=pytest.mark.mysql), "sqlite"])
def engine(request: pytest.FixtureRequest) -> Engine:
    if request.param == "mariadb":
        return MariaDB(request.getfixturevalue("mysql_database_factory"))
    return SQLite()


def _execute(engine: Engine, project: Path, statements: Sequence[str]) -> None:
    with engine.connect(project) as conn:
        cur = conn.cursor()
        for statement in statements:
            cur.execute(statement)
        cur.close()


def _query(engine: Engine, project: Path, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect(project) as conn:
        cur = conn.cursor()
        cur.execute(sql)
        rows = [tuple(row) for row in cur.fetchall()]
        cur.close()
    return rows


def _copy(tmp_path: Path, name: str) -> Path:
    project = tmp_path / name
    shutil.copytree(FIXTURE, project)
    return project.resolve()


def _configure(project: Path, engine: Engine, cdn_url: str) -> None:
    (project / ".synco.yml").write_text(CONFIG.format(url=engine.url(project), cdn_url=cdn_url,
                                                      name_sql=engine.name_sql))


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.mark.slow
def test_serve_receive_install(engine: Engine, tmp_path: Path, web_server: Callable[[Path], str]) -> None:
    source = _copy(tmp_path, "source")
    cdn_url = web_server(source / "cdn-mirror")
    _configure(source, engine, cdn_url)
    invoices = source / "var/storage/invoices"
    for relative, text in {"2023/0002.pdf": "invoice 2", "2023/draft.tmp": "draft", "2023/cache/c.bin": "cache",
                           "cache/top.bin": "cache"}.items():
        (invoices / relative).parent.mkdir(parents=True, exist_ok=True)
        (invoices / relative).write_text(text)
    _execute(engine, source, SCHEMA + ROWS)

    target = _copy(tmp_path, "target")
    _configure(target, engine, cdn_url)
    for folder in ("public/uploads", "var/storage/invoices", "cdn-mirror"):
        shutil.rmtree(target / folder)
    base_url = web_server(source / "public")

    serve_receive_install(source, base_url, tmp_path / "received", target)

    # Files: the excluded ones did not arrive, at any depth; excluded folders are not even created.
    assert _files(target / "public/uploads") == ["2024", "2024/photo.jpg", "docs", "docs/price list.pdf"]
    assert _files(target / "var/storage/invoices") == ["0001.pdf", "2023", "2023/0002.pdf"]
    assert (target / "var/storage/invoices/2023/0002.pdf").read_text() == "invoice 2"
    assert _files(target / "cdn-mirror") == ["img", "img/logo.png"]
    assert (target / "cdn-mirror/img/logo.png").read_bytes() == (source / "cdn-mirror/img/logo.png").read_bytes()

    # Database: excluded tables and no_rows keep their structure but no rows; the filters applied.
    for table in ("cache_items", "sessions", "password_resets"):
        assert _query(engine, target, f"SELECT COUNT(*) FROM {table}") == [(0,)], table
    assert _query(engine, target, "SELECT id FROM orders ORDER BY id") == [(2,), (3,)]
    assert _query(engine, target, "SELECT id FROM audit_log ORDER BY id") == [(4,), (5,)]
    assert _query(engine, target, "SELECT COUNT(*) FROM login_attempts") == [(3,)]
    assert _query(engine, target, "SELECT title FROM products ORDER BY id") == [("Chair",), ("Table",)]

    users = _query(engine, target, "SELECT id, email, password, name, phone, bio, api_token, created_at"
                                   " FROM users ORDER BY id")
    assert [(u[0], u[2], u[3], u[4], u[7]) for u in users] == [
        (1, "$2y$10$abcdefghijklmnopqrstuv", "User 1", None, "2023-05-01"),
        (2, "$2y$10$abcdefghijklmnopqrstuv", "User 2", None, "2024-01-02"),
    ]
    emails = [u[1] for u in users]
    assert len(set(emails)) == 2 and not any("real.example" in e for e in emails), emails
    assert [len(u[5]) for u in users] == [200, 5]
    assert all(u[6] and "secret" not in u[6] for u in users), "api tokens are hashed"
