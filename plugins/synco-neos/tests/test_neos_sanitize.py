"""The Neos sanitising profile: Flow's password format, tailoring to the tables there, and real dumps.

The dumps run through the built-in MySQL and PostgreSQL engines against the real servers with the dump
options ``serve`` computes (``serve_dump_options``), so "sanitising on" and ``--no-sanitize`` are the
same code paths serve takes.
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymysql
import pytest
from neos_support import PERSONAL_DDL, PERSONAL_VALUES, neos8_copy, seed, seed_personal
from synco_neos import plugin
from synco_neos.resourcedb import EVENTLOG_TABLE, RESOURCE_TABLE, THUMBNAIL_TABLE
from synco_neos.sanitize import ACCOUNT_TABLE, PASSWORD_HASH, PROFILE

from synco_core import Framework, dump_with_engine, parse_database_url
from synco_core.testing import SyncoPluginManager, configured_dump_options, serve_dump_options
from synco_core.testing.services import (
    MYSQL_HOST,
    MYSQL_PASSWORD,
    MYSQL_PORT,
    MYSQL_USER,
    mysql_admin_connection,
    needs_php,
    postgres_admin_connection,
)

#: Flow's two BCryptHashingStrategy::validatePassword variants: Flow <= 7 (crypt with the ``$2a$`` salt
#: taken from the hash) and Flow >= 8 (password_verify), after HashService split off "bcrypt=>".
FLOW_VALIDATE = r"""
[$strategy, $hash] = explode('=>', $argv[1], 2);
$old = strlen($hash) >= 29 && strpos($hash, '$2a$') === 0 && crypt('password', '$2a$' . substr($hash, 4, 26)) === $hash;
$new = password_verify('password', $hash);
exit($strategy === 'bcrypt' && $old && $new && !password_verify('Password', $hash) ? 0 : 1);
"""


@needs_php
def test_fixed_hash_is_flows_bcrypt_of_password() -> None:
    check = subprocess.run(["php", "-r", FLOW_VALIDATE, PASSWORD_HASH], check=False)
    assert check.returncode == 0, "PASSWORD_HASH must be Flow's 'bcrypt=>' hash of the word 'password'"


def test_whole_profile_when_database_unreachable(neos_manager: SyncoPluginManager, tmp_path: Path) -> None:
    unreachable = parse_database_url("mysql://root@127.0.0.1:1/nothing")
    framework = Framework(name="Neos/Flow", plugin="neos", project_dir=tmp_path, database=unreachable)
    rules = configured_dump_options(framework).sanitize
    assert [(r.table, r.column, r.transform) for r in rules] == list(PROFILE)
    assert ("neos_party_domain_model_electronicaddress", "identifier", "email") in PROFILE


def _mysql_project(tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in {"DB_HOST": MYSQL_HOST, "DB_PORT": str(MYSQL_PORT), "DB_USER": MYSQL_USER,
                        "DB_PASSWORD": MYSQL_PASSWORD}.items():
        monkeypatch.setenv(name, value)
    return neos8_copy(tmp_path / "neos8", database)


@pytest.mark.mysql
def test_profile_follows_existing_tables(tmp_path: Path, php_mode: str, monkeypatch: pytest.MonkeyPatch,
                                         neos_manager: SyncoPluginManager,
                                         mysql_database_factory: Callable[[], str]) -> None:
    database = mysql_database_factory()
    conn = mysql_admin_connection(database)
    with conn.cursor() as cur:
        cur.execute(PERSONAL_DDL[2])  # a Flow application without Neos.Party: only the account table
    conn.close()
    framework = plugin.detect_framework(_mysql_project(tmp_path, database, monkeypatch))
    assert framework is not None
    assert [(r.table, r.column) for r in configured_dump_options(framework).sanitize] == [
        (ACCOUNT_TABLE, "accountidentifier"), (ACCOUNT_TABLE, "credentialssource")]
    # The smart transfer names no table the database lacks either (engines refuse unknown tables).
    assert configured_dump_options(framework).smart_exclude_tables == ()
    assert configured_dump_options(framework).smart_where == {}


def _dump(framework: Framework, *, sanitize: bool, all: bool = False) -> bytes:
    assert framework.database is not None
    out = io.BytesIO()
    dump_with_engine(framework.database, out, serve_dump_options(framework, sanitize=sanitize, all=all))
    return out.getvalue()


def _assert_masked(dump: bytes, *, all: bool = False) -> None:
    for value in PERSONAL_VALUES:
        assert value.encode() not in dump, f"{value!r} was dumped with sanitising on"
    for masked in ("usere1@example.invalid", "useracc1@example.invalid", "Demo User", PASSWORD_HASH):
        assert masked.encode() in dump
    # The event log stays out (smart transfer); --all ships it, without the accounts it names.
    assert (b"Node.Published" in dump) == all


@pytest.mark.mysql
def test_mysql_dump_is_sanitised_unless_no_sanitize(tmp_path: Path, php_mode: str, monkeypatch: pytest.MonkeyPatch,
                                                    neos_manager: SyncoPluginManager,
                                                    mysql_database_factory: Callable[[], str]) -> None:
    database = mysql_database_factory()
    project = _mysql_project(tmp_path, database, monkeypatch)
    conn = mysql_admin_connection(database)
    try:
        seed(lambda sql, args: conn.cursor().execute(sql, args or None), project, personal=True)
    finally:
        conn.close()
    framework = plugin.detect_framework(project)
    assert framework is not None
    assert len(configured_dump_options(framework).sanitize) == len(PROFILE)
    _assert_masked(_dump(framework, sanitize=True))
    _assert_masked(_dump(framework, sanitize=True, all=True), all=True)
    raw = _dump(framework, sanitize=False)
    # --no-sanitize: the column rewrites are off (the PHP-escaped values appear as MySQL quotes them).
    for value in PERSONAL_VALUES:
        assert pymysql.converters.escape_string(value).encode() in raw, value
    assert b"example.invalid" not in raw


@pytest.mark.postgres
def test_postgres_dump_is_sanitised_unless_no_sanitize(make_project: Callable[[str], Path], postgres_url: str,
                                                       monkeypatch: pytest.MonkeyPatch, no_php: None,
                                                       neos_manager: SyncoPluginManager) -> None:
    db = parse_database_url(postgres_url)
    connection = postgres_admin_connection(db.name)

    def execute(sql: str, args: tuple[Any, ...]) -> None:
        connection.execute(sql, args or None)

    try:
        seed_personal(execute)
        execute("CREATE TABLE neos_neos_eventlog_domain_model_event (uid INT PRIMARY KEY, eventtype VARCHAR(255))",
                ())
        execute("INSERT INTO neos_neos_eventlog_domain_model_event VALUES (1, 'Node.Published')", ())
    finally:
        connection.close()
    monkeypatch.setenv("DATABASE_HOST", db.host or "127.0.0.1")
    monkeypatch.setenv("DATABASE_NAME", db.name)
    monkeypatch.setenv("DATABASE_USER", db.user or "postgres")
    project = make_project("neos9")
    # Neos 9 has no event log of its own; pretend an upgraded Neos 8 site so the smart transfer names it.
    (project / "composer.lock").write_text('{"packages": [{"name": "neos/neos"}]}')
    framework = plugin.detect_framework(project)
    assert framework is not None and framework.database is not None
    assert framework.database.engine == "postgresql"
    # Only the event log exists of the smart tables: it alone is named, so PostgreSQL accepts the dump.
    assert configured_dump_options(framework).smart_exclude_tables == (EVENTLOG_TABLE,)
    assert RESOURCE_TABLE not in configured_dump_options(framework).smart_where
    assert THUMBNAIL_TABLE not in configured_dump_options(framework).effective().exclude_tables
    _assert_masked(_dump(framework, sanitize=True))
    raw = _dump(framework, sanitize=False)
    for value in PERSONAL_VALUES:
        assert value.encode() in raw, value
    assert b"example.invalid" not in raw


#: Where a Neos site keeps secrets outside the profile's tables: Sandstorm.NeosTwoFactorAuthentication's
#: TOTP secrets, and Flow's PdoBackend cache tables (``cache``/``tags``, the DDL Flow ships), which hold the
#: sessions (``Flow_Session_Storage``, ``Flow_Session_MetaData``: the logged-in account and its tokens) when a
#: site moves its caches to the database. Every secret says ``pii``.
SECRET_TABLES = (
    "CREATE TABLE sandstorm_neostwofactorauthentication_domain_model_secondfactor (persistence_object_identifier "
    "VARCHAR(40) NOT NULL PRIMARY KEY, account VARCHAR(40) NULL, type INTEGER NOT NULL, secret VARCHAR(255) NOT NULL)",
    "INSERT INTO sandstorm_neostwofactorauthentication_domain_model_secondfactor VALUES ('f1', 'acc1', 1, "
    "'pii-totp-secret')",
    'CREATE TABLE "cache" ("identifier" VARCHAR(250) NOT NULL, "cache" VARCHAR(250) NOT NULL, "context" VARCHAR(150) '
    'NOT NULL, "created" INTEGER NOT NULL, "lifetime" INTEGER DEFAULT 0 NOT NULL, "content" TEXT, '
    'PRIMARY KEY ("identifier", "cache", "context"))',
    "INSERT INTO \"cache\" VALUES ('s1', 'Flow_Session_Storage', 'Production', 0, 0, 'pii-session of pii-ann')",
    'CREATE TABLE "tags" ("identifier" VARCHAR(250) NOT NULL, "cache" VARCHAR(250) NOT NULL, "context" VARCHAR(150) '
    'NOT NULL, "tag" VARCHAR(250) NOT NULL)',
    "INSERT INTO \"tags\" VALUES ('s1', 'Flow_Session_MetaData', 'Production', 'pii-account-tag')",
    # The application's own table keeps its rows.
    "CREATE TABLE business (id INTEGER PRIMARY KEY, title VARCHAR(20))",
    "INSERT INTO business VALUES (1, 'kept')",
)


@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("engine", ["mysql", "postgresql", "sqlite"])
def test_second_factors_and_database_sessions_stay_on_the_server(engine: str, neos_manager: SyncoPluginManager,
                                                                 tmp_path: Path,
                                                                 request: pytest.FixtureRequest) -> None:
    import re

    from synco_core.testing.services import database_from_script

    database = database_from_script(engine, SECRET_TABLES, request, tmp_path / "neos.sqlite",
                                    mysql_sql_mode="ANSI_QUOTES")
    framework = Framework(name="Neos/Flow", plugin="neos", project_dir=tmp_path, database=database)
    out = io.BytesIO()
    dump_with_engine(database, out, serve_dump_options(framework))
    leaked = sorted({found.decode() for found in re.findall(rb"pii[\w.@-]*", out.getvalue())})
    assert not leaked, f"secrets in the {engine} dump: {leaked}"
    assert b"kept" in out.getvalue()
