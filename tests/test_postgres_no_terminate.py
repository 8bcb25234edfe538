"""``--no-terminate``: a PostgreSQL install that waits for the other sessions on its target instead of ending them.

By default the install ends the sessions on the target at the swap (``engines/postgresql/ending.py``): a psql
console, a long report, a queue worker lose their connection. With ``--no-terminate`` it ends none: the swap
waits for them to leave, at most ``installer.WAIT_SECONDS`` (the in-place install of a role without CREATEDB:
``inplace.LOCK_WAIT_SECONDS``), then stops in one line naming them (pid, application name, client address,
role), the target and the sessions as they were.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from pg_one_value import OneValueDatabases, dump_of, login_role, url_as, value_in

from synco_core.cli.main import cli
from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import install_with_engine
from synco_core.engines.postgresql import inplace, installer
from synco_core.errors import DatabaseError
from synco_core.testing.services import (
    POSTGRES_USER,
    drop_postgres_databases,
    postgres_admin_connection,
)
from synco_core.values import InstallOptions

pytestmark = pytest.mark.postgres

PREFIX = "synco_test_h_engines_nt"
APPLICATION = "synco_test_h_engines_app"


def _url(name: str, role: str = POSTGRES_USER) -> str:
    return url_as(role, name)


@pytest.fixture
def made() -> Iterator[Callable[..., str]]:
    """Makes a database holding one table of one value, owned by a role; all dropped afterwards."""
    databases = OneValueDatabases(PREFIX)
    yield databases.create
    databases.drop()


def _dump(name: str) -> tuple[bytes, Any]:
    return dump_of(_url(name))


def _application(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True, application_name=APPLICATION)


def test_the_swap_waits_for_the_sessions_and_names_them_when_it_gives_up(
        made: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    target, source = made("old"), made("new")
    data, tables = _dump(source)
    options = InstallOptions(yes=True, manifest=tables, terminate_sessions=False)
    monkeypatch.setattr(installer, "WAIT_SECONDS", 2.0)
    app = _application(_url(target))
    try:
        with pytest.raises(DatabaseError) as refused:
            install_with_engine(parse_database_url(_url(target)), io.BytesIO(data), options)
        said = str(refused.value)
        assert "\n" not in said
        assert f"database {target!r} is still in use after 2 s and --no-terminate ends no session" in said
        assert f"({APPLICATION!r} from 127.0.0.1, role {POSTGRES_USER!r})" in said
        # The application's session was left alone, on the old content; nothing of the install is left.
        assert app.execute("SELECT v FROM t").fetchone() == ("old",)
        with postgres_admin_connection() as admin:
            left = admin.execute("SELECT datname FROM pg_catalog.pg_database WHERE datname LIKE %s",
                                 (target + "%",)).fetchall()
        assert left == [(target,)]

        # Once the application lets go within the wait, the swap goes through.
        monkeypatch.setattr(installer, "WAIT_SECONDS", 30.0)
        threading.Timer(1.0, app.close).start()
        install_with_engine(parse_database_url(_url(target)), io.BytesIO(data), options)
        assert value_in(_url(target)) == "new"
    finally:
        app.close()


@pytest.fixture
def nocreatedb_role() -> Iterator[str]:
    with login_role(PREFIX + "_role", "NOCREATEDB") as role:
        yield role


def test_in_place_the_drops_wait_for_the_sessions_and_name_them(
        made: Callable[..., str], nocreatedb_role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A role without CREATEDB replaces the content inside the database: its drops wait for the locks of a
    transaction the application left open, and nothing ends it."""
    target, source = made("old", nocreatedb_role), made("new")
    data, tables = _dump(source)
    monkeypatch.setattr(inplace, "LOCK_WAIT_SECONDS", 2)
    app = _application(_url(target, nocreatedb_role))
    try:
        app.autocommit = False
        assert app.execute("SELECT v FROM t").fetchone() == ("old",)  # holds the table's lock
        with pytest.raises(DatabaseError, match=rf"within 2 s: pid \d+ \({APPLICATION!r} from 127\.0\.0\.1, "):
            install_with_engine(parse_database_url(_url(target, nocreatedb_role)), io.BytesIO(data),
                                InstallOptions(yes=True, manifest=tables, terminate_sessions=False))
        assert app.execute("SELECT v FROM t").fetchone() == ("old",)
        app.rollback()
    finally:
        app.close()
    drop_postgres_databases([target])  # owned by the role the fixture drops


def test_db_load_no_terminate_refuses_in_one_line(made: Callable[..., str], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    target, source = made("old"), made("new")
    dump = tmp_path / "dump.sql"
    dump.write_bytes(_dump(source)[0])
    monkeypatch.setattr(installer, "WAIT_SECONDS", 1.0)
    app = _application(_url(target))
    try:
        result = CliRunner().invoke(cli, ["db", "load", _url(target), str(dump), "--yes", "--no-terminate"])
        assert result.exit_code == 1, result.output
        said = result.output.strip()
        assert "\n" not in said and APPLICATION in said and "127.0.0.1" in said, said
        assert app.execute("SELECT v FROM t").fetchone() == ("old",)
    finally:
        app.close()
    # Without it, the session is ended as before and the load goes through.
    result = CliRunner().invoke(cli, ["db", "load", _url(target), str(dump), "--yes"])
    assert result.exit_code == 0, result.output
    assert value_in(_url(target)) == "new"
