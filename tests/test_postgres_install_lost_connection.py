"""A PostgreSQL install whose admin connection is lost (reset, terminated, timed out) once the scratch
database exists: the target as it was, no scratch copy left on the server, and the error that says why.

The scratch database was dropped on that same dead connection, so the drop failed too: its error replaced
the install's own, and a copy of the whole dump stayed on the server until the next install.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from test_postgres_support import databases_like

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.engines.postgresql import installer
from synco_core.errors import DatabaseError
from synco_core.testing.services import postgres_admin_connection, postgres_url_for
from synco_core.values import DumpOptions, InstallOptions


def filled(factory: Callable[[], str], rows: list[str]) -> str:
    name = factory()
    with psycopg.connect(postgres_url_for(name), autocommit=True) as conn:
        conn.execute("CREATE TABLE marker (v text)")
        for value in rows:
            conn.execute("INSERT INTO marker VALUES (%s)", (value,))
    return name


def values(name: str) -> list[str]:
    with psycopg.connect(postgres_url_for(name), autocommit=True) as conn:
        return [row[0] for row in conn.execute("SELECT v FROM marker ORDER BY v").fetchall()]


def terminate(conn: Any) -> None:
    """End ``conn`` from the server side, as a server restart or a network reset would."""
    admin = postgres_admin_connection()
    try:
        admin.execute("SELECT pg_catalog.pg_terminate_backend(%s)", (conn.info.backend_pid,))
    finally:
        admin.close()


@pytest.mark.parametrize("when", ["during the load", "after the load"])
def test_install_that_loses_its_connection_leaves_nothing_on_the_server(
        postgres_database_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, plugin_manager: object, when: str) -> None:
    target = filled(postgres_database_factory, ["old"])
    source = filled(postgres_database_factory, ["new", "newer"])
    out = io.BytesIO()
    dump_with_engine(parse_database_url(postgres_url_for(source)), out, DumpOptions())
    admins: list[Any] = []
    make_admin, load = installer._admin, installer._load

    def remembered_admin(database: Any) -> Any:
        admins.append(make_admin(database))
        return admins[-1]

    def losing_the_connection(*args: Any) -> Any:
        if when == "during the load":
            terminate(admins[0])
            raise DatabaseError("the load failed")
        result = load(*args)
        terminate(admins[0])
        return result

    monkeypatch.setattr(installer, "_admin", remembered_admin)
    monkeypatch.setattr(installer, "_load", losing_the_connection)
    database = parse_database_url(postgres_url_for(target))
    with caplog.at_level(logging.WARNING, logger="synco_core"), pytest.raises(DatabaseError) as failed:
        install_with_engine(database, io.BytesIO(out.getvalue()), InstallOptions(yes=True))
    if when == "during the load":
        assert str(failed.value) == "the load failed", "the install's own error, not the clean-up's"
    assert values(target) == ["old"]
    assert databases_like(target) == [target], "the scratch database is gone"
    monkeypatch.undo()
    install_with_engine(database, io.BytesIO(out.getvalue()), InstallOptions(yes=True))
    assert values(target) == ["new", "newer"]
