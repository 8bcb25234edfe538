"""End to end on a Craft 4 project backed by the real MariaDB and PostgreSQL: serve -> receive -> install,
with the sanitising profile, the smart transfer and the asset volumes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from craft_support import create_schema, make_craft4, set_env

from synco_core import BCRYPT_PASSWORD, parse_database_url
from synco_core.testing import SyncoPluginManager
from synco_core.testing.services import (
    mysql_admin_connection,
    mysql_url_for,
    postgres_admin_connection,
    postgres_url_for,
    serve_receive_install,
)


def rows(engine: str, database: str, sql: str) -> list[tuple[Any, ...]]:
    if engine == "mysql":
        conn = mysql_admin_connection(database)
        with conn.cursor() as cursor:
            cursor.execute(sql)
            result = [tuple(row) for row in cursor.fetchall()]
        conn.close()
        return result
    with postgres_admin_connection(database) as pg:
        return [tuple(row) for row in pg.execute(sql).fetchall()]


def point_at(project: Path, engine: str, name: str) -> None:
    url = parse_database_url(mysql_url_for(name) if engine == "mysql" else postgres_url_for(name))
    set_env(project, CRAFT_DB_DRIVER="pgsql" if engine == "postgresql" else "mysql", CRAFT_DB_SERVER=url.host or "",
            CRAFT_DB_PORT=str(url.port or ""), CRAFT_DB_DATABASE=url.name, CRAFT_DB_USER=url.user or "",
            CRAFT_DB_PASSWORD=url.password or "", CRAFT_DB_TABLE_PREFIX="craft")


@pytest.mark.slow
@pytest.mark.parametrize("engine", [pytest.param("mysql", marks=pytest.mark.mysql),
                                    pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_serve_receive_install(engine: str, craft_manager: SyncoPluginManager, tmp_path: Path,
                               mysql_database_factory: Callable[[], str],
                               postgres_database_factory: Callable[[], str],
                               web_server: Callable[[Path], str], no_php: None) -> None:
    factory = mysql_database_factory if engine == "mysql" else postgres_database_factory
    source_db, target_db = factory(), factory()
    source_url = mysql_url_for(source_db) if engine == "mysql" else postgres_url_for(source_db)
    create_schema(engine, parse_database_url(source_url), "craft_", "public")
    source = make_craft4(tmp_path / "production")
    target = make_craft4(tmp_path / "laptop", {"web/uploads/images/cat.jpg": "old cat",
                                               "storage/documents/contract.pdf": "old contract"})
    point_at(source, engine, source_db)
    point_at(target, engine, target_db)
    serve_receive_install(source, web_server(source / "web"), tmp_path / "received", target)

    quote = '"' if engine == "postgresql" else "`"
    users = rows(engine, target_db, f"SELECT id, username, email, password FROM {quote}craft_users{quote} ORDER BY id")
    assert users == [(1, "admin", "user1@example.invalid", BCRYPT_PASSWORD),
                     (2, "user2@example.invalid", "user2@example.invalid", BCRYPT_PASSWORD),
                     (3, "nopassword", "user3@example.invalid", None)]
    assert rows(engine, target_db, "SELECT COUNT(*) FROM craft_sessions") == [(0,)]
    assert rows(engine, target_db, "SELECT COUNT(*) FROM craft_queue") == [(0,)]
    assert rows(engine, target_db, "SELECT title FROM craft_entries") == [("Hello Craft",)]
    images = target / "web/uploads/images"
    assert (images / "cat.jpg").read_text() == "cat picture"
    assert (images / "2024/dog.jpg").read_text() == "dog picture"
    assert not (images / "_thumb").exists() and not (images / "_200x200_crop_center-center_none").exists()
    assert (target / "storage/documents/contract.pdf").read_text() == "private contract"
