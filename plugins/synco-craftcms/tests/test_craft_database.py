"""synco-craftcms's dump profile on real servers: a Craft schema (camelCase columns, a table prefix, a
PostgreSQL schema) on MariaDB and PostgreSQL, dumped as ``serve`` dumps it."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from craft_support import create_schema, make_craft4, set_env

from synco_core import BCRYPT_PASSWORD, dump_with_engine, parse_database_url
from synco_core.testing import SyncoPluginManager, configured_dump_options, detect, serve_dump_options
from synco_core.testing.services import needs_php

USERS = [
    (1, "admin", "admin@real.example", None, "$2y$13$realhashrealhashrealhash", "203.0.113.9", "code1"),
    (2, "editor@real.example", "editor@real.example", "new@real.example", "$2y$13$otherhash", None, None),
    (3, "nopassword", "pending@real.example", None, None, None, None),
]
SECRETS = (b"real.example", b"realhash", b"otherhash", b"203.0.113.9", b"session-token", b"code1", b"secret-")


#: (engine, table prefix, schema): a schema other than public is PostgreSQL's only.
CASES = [("mysql", "", "public"), ("mysql", "craft", "public"), ("postgresql", "", "public"),
         ("postgresql", "craft", "public"), ("postgresql", "cr", "content")]


@pytest.mark.parametrize(("engine", "prefix", "schema"), CASES)
def test_dump_is_sanitised_on_both_engines(tmp_path: Path, craft_manager: SyncoPluginManager,
                                           request: pytest.FixtureRequest, engine: str, prefix: str,
                                           schema: str) -> None:
    url = str(request.getfixturevalue("mysql_url" if engine == "mysql" else "postgres_url"))
    target = parse_database_url(url)
    create_schema(engine, target, prefix + "_" if prefix else "", schema)
    project = make_craft4(tmp_path)
    set_env(project, CRAFT_DB_DRIVER="pgsql" if engine == "postgresql" else "mysql",
            CRAFT_DB_SERVER=target.host or "", CRAFT_DB_PORT=str(target.port or ""), CRAFT_DB_DATABASE=target.name,
            CRAFT_DB_USER=target.user or "", CRAFT_DB_PASSWORD=target.password or "", CRAFT_DB_TABLE_PREFIX=prefix,
            CRAFT_DB_SCHEMA=schema)
    framework = detect(project, manager=craft_manager)
    options = serve_dump_options(framework, manager=craft_manager)
    qualified = (f"{schema}." if schema != "public" else "") + (prefix + "_" if prefix else "")
    assert set(options.exclude_tables) >= {qualified + "sessions", qualified + "queue"}
    assert {(r.table, r.column) for r in options.sanitize} >= {
        (qualified + "users", c) for c in ("email", "unverifiedEmail", "username", "password", "lastLoginAttemptIp",
                                           "verificationCode")}
    out = io.BytesIO()
    result = dump_with_engine(framework.database, out, options)
    dump = out.getvalue()
    for secret in SECRETS:
        assert secret not in dump, secret
    for expected in (b"user1@example.invalid", b"user2@example.invalid", b"user3@example.invalid",
                     BCRYPT_PASSWORD.encode(), b"Hello Craft", b"admin", b"nopassword"):
        assert expected in dump, expected
    assert result.tables[qualified + "sessions"].rows == 0
    # With --all the queue ships; sessions never do.
    everything = serve_dump_options(framework, all=True, manager=craft_manager)
    assert qualified + "queue" not in everything.exclude_tables
    assert qualified + "sessions" in everything.exclude_tables
    # ... without the serialized jobs, which name the mails' recipients.
    out = io.BytesIO()
    result = dump_with_engine(framework.database, out, everything)
    assert result.tables[qualified + "queue"].rows == 1
    assert b"secret-" not in out.getvalue()


def test_rules_for_tables_an_installation_lacks_are_dropped(tmp_path: Path, craft_manager: SyncoPluginManager,
                                                            mysql_url: str) -> None:
    target = parse_database_url(mysql_url)
    create_schema("mysql", target, "", "public")
    project = make_craft4(tmp_path)
    set_env(project, CRAFT_DB_SERVER=target.host or "", CRAFT_DB_PORT=str(target.port or ""),
            CRAFT_DB_DATABASE=target.name, CRAFT_DB_USER=target.user or "", CRAFT_DB_PASSWORD=target.password or "")
    options = configured_dump_options(detect(project, manager=craft_manager), manager=craft_manager)
    assert "phpsessions" not in options.exclude_tables and "sessions" in options.exclude_tables


@needs_php
def test_password_hash_logs_in_with_password() -> None:
    check = subprocess.run(["php", "-r", "exit(password_verify('password', $argv[1]) ? 0 : 1);", BCRYPT_PASSWORD],
                           check=False)
    assert check.returncode == 0
