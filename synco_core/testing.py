"""Test helpers for synco and its plugins, loaded as a pytest plugin (``-p synco_core.testing``).

Fixtures:

- ``plugin_manager``: a fresh manager with the built-ins but no entry points, installed as the process
  manager for the test; ``register_plugin(obj, name)`` adds a plugin object for one test only.
- ``mysql_url`` / ``postgres_url``: a uniquely named throw-away database on the local server, dropped
  afterwards. When the server is unreachable the test is skipped, except under ``CI=true``, where that
  is a failure: CI must never pass with the database tests skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from synco_core.plugins import SyncoPluginManager, build_plugin_manager, set_plugin_manager

MYSQL_HOST = os.environ.get("SYNCO_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("SYNCO_TEST_MYSQL_PORT", "3306"))
MYSQL_USER = os.environ.get("SYNCO_TEST_MYSQL_USER", "root")
MYSQL_PASSWORD = os.environ.get("SYNCO_TEST_MYSQL_PASSWORD", "")
POSTGRES_HOST = os.environ.get("SYNCO_TEST_POSTGRES_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("SYNCO_TEST_POSTGRES_PORT", "5432"))
POSTGRES_USER = os.environ.get("SYNCO_TEST_POSTGRES_USER", "postgres")


def unavailable(reason: str) -> None:
    """Skip the test with ``reason``, or fail it under CI."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true: database tests must not be skipped)")
    pytest.skip(reason)


def unique_name(prefix: str = "synco_test") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def mysql_admin_connection(database: str | None = None):  # type: ignore[no-untyped-def]
    import pymysql

    try:
        return pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER, password=MYSQL_PASSWORD,
                               database=database, autocommit=True, charset="utf8mb4")
    except pymysql.err.OperationalError as exc:
        unavailable(f"MariaDB/MySQL not reachable at {MYSQL_HOST}:{MYSQL_PORT}: {exc}")
        raise


def mysql_url_for(name: str) -> str:
    auth = MYSQL_USER + (f":{MYSQL_PASSWORD}" if MYSQL_PASSWORD else "")
    return f"mysql://{auth}@{MYSQL_HOST}:{MYSQL_PORT}/{name}"


def postgres_admin_connection(database: str = "postgres"):  # type: ignore[no-untyped-def]
    import psycopg

    try:
        return psycopg.connect(host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname=database,
                               autocommit=True)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL not reachable at {POSTGRES_HOST}:{POSTGRES_PORT}: {exc}")
        raise


def postgres_url_for(name: str) -> str:
    return f"postgresql://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"


@pytest.fixture
def mysql_database_factory() -> Iterator[Callable[[], str]]:
    """Creates throw-away MySQL databases (returns their names); all are dropped afterwards."""
    created: list[str] = []

    def create() -> str:
        name = unique_name()
        conn = mysql_admin_connection()
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        conn.close()
        created.append(name)
        return name

    yield create
    if created:
        conn = mysql_admin_connection()
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            existing = [row[0] for row in cur.fetchall()]
            for name in created:
                # Installers create scratch and backup databases named after the target; drop those too.
                for db in existing:
                    if db.startswith(name):
                        cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
        conn.close()


@pytest.fixture
def mysql_url(mysql_database_factory: Callable[[], str]) -> str:
    """URL of a fresh, empty MySQL database, dropped after the test."""
    return mysql_url_for(mysql_database_factory())


@pytest.fixture
def postgres_database_factory() -> Iterator[Callable[[], str]]:
    """Creates throw-away PostgreSQL databases (returns their names); all are dropped afterwards."""
    created: list[str] = []

    def create() -> str:
        name = unique_name()
        conn = postgres_admin_connection()
        conn.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        created.append(name)
        return name

    yield create
    if created:
        conn = postgres_admin_connection()
        existing = [row[0] for row in conn.execute("SELECT datname FROM pg_database").fetchall()]
        for name in created:
            for db in existing:
                if db.startswith(name):
                    conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.close()


@pytest.fixture
def postgres_url(postgres_database_factory: Callable[[], str]) -> str:
    """URL of a fresh, empty PostgreSQL database, dropped after the test."""
    return postgres_url_for(postgres_database_factory())


@pytest.fixture
def plugin_manager() -> Iterator[SyncoPluginManager]:
    """A manager with the built-in plugins but no entry points, used by synco for this test only."""
    manager = build_plugin_manager(load_entrypoints=False)
    set_plugin_manager(manager)
    yield manager
    set_plugin_manager(None)


@pytest.fixture
def register_plugin(plugin_manager: SyncoPluginManager) -> Iterator[Callable[[object, str], None]]:
    """``register_plugin(obj, name)`` registers a plugin object for the rest of this test."""
    names: list[str] = []

    def register(plugin: object, name: str) -> None:
        if not plugin_manager.register(plugin, name):
            failure = plugin_manager.failures[-1]
            raise AssertionError(f"plugin {name} did not register: {failure.reason}")
        names.append(name)

    yield register
    for name in names:
        plugin_manager.unregister(name)
