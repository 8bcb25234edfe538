"""No personal data or credential of a Django project (with django-allauth, a custom user model as
cookiecutter-django makes it, and Wagtail's forms and API tokens) leaves the server.

Markers (``pii...``) are planted in the tables as the migrations create them; after a dump as ``serve`` makes
it (with and without ``--all``) on each engine, none is left, what is not personal stays, the UNIQUE login
names stay unique, and the dump loads into an empty database.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from synco_core import Framework
from synco_core.testing import SyncoPluginManager, assert_no_markers, dump_as_served
from synco_core.testing.services import database_from_script, install_into_empty_copy

USER = """(id INT PRIMARY KEY, password VARCHAR(128) NOT NULL, last_login TIMESTAMP NULL, is_superuser SMALLINT NOT
    NULL, username VARCHAR(150) NOT NULL UNIQUE, email VARCHAR(254) NOT NULL, is_staff SMALLINT NOT NULL,
    is_active SMALLINT NOT NULL, date_joined TIMESTAMP NOT NULL"""

SCHEMA = [
    f"CREATE TABLE auth_user {USER}, first_name VARCHAR(150) NOT NULL, last_name VARCHAR(150) NOT NULL)",
    """INSERT INTO auth_user VALUES (1, 'pbkdf2_sha256$pii', NULL, 0, 'pii-ann@real.example', 'pii-ann@real.example',
        0, 1, '2024-01-01 00:00:00', 'pii-Ann', 'pii-Example'),
        (2, 'pbkdf2_sha256$pii2', NULL, 1, 'kept-admin', 'pii-admin@real.example', 1, 1, '2024-01-01 00:00:00', '',
        '')""",
    # cookiecutter-django's users.User: one name field instead of first and last.
    f"CREATE TABLE users_user {USER}, name VARCHAR(255) NOT NULL, api_token VARCHAR(64) UNIQUE)",
    """INSERT INTO users_user VALUES (1, 'argon2$pii', NULL, 0, 'pii-bob@real.example', 'pii-bob@real.example', 0, 1,
        '2024-01-01 00:00:00', 'pii-Bob Example', 'pii-api1'), (2, 'argon2$pii2', NULL, 0, 'pii-cat@real.example',
        'pii-cat@real.example', 0, 1, '2024-01-01 00:00:00', '', 'pii-api2')""",
    """CREATE TABLE socialaccount_socialaccount (id INT PRIMARY KEY, provider VARCHAR(200) NOT NULL,
        uid VARCHAR(191) NOT NULL, extra_data TEXT NOT NULL, user_id INT NOT NULL, UNIQUE (provider, uid))""",
    """INSERT INTO socialaccount_socialaccount VALUES (1, 'google', 'pii-1001', '{"email": "pii-g@real.example"}', 1),
        (2, 'google', 'pii-1002', '{}', 2)""",
    """CREATE TABLE wagtailforms_formsubmission (id INT PRIMARY KEY, form_data TEXT NOT NULL,
        submit_time TIMESTAMP NOT NULL, page_id INT NOT NULL)""",
    """INSERT INTO wagtailforms_formsubmission VALUES (1, '{"email": "pii-visitor@real.example", "message":
        "pii-call me"}', '2024-01-01 00:00:00', 3)""",
    # Wagtail 6.x+ API tokens: an HMAC of the bearer token under SECRET_KEY, named by their owner.
    """CREATE TABLE wagtailcore_apitoken (id INT PRIMARY KEY, name VARCHAR(255) NOT NULL, key_hash VARCHAR(64) NOT
        NULL UNIQUE, prefix VARCHAR(16) NOT NULL, created TIMESTAMP NOT NULL, revoked_at TIMESTAMP NULL,
        last_used_at TIMESTAMP NULL, user_id INT NOT NULL)""",
    """INSERT INTO wagtailcore_apitoken VALUES (1, 'pii-ann laptop', 'pii-5f1e0c', 'pii-wt_', '2024-01-01 00:00:00',
        NULL, NULL, 1)""",
    "CREATE TABLE blog_post (id INT PRIMARY KEY, title VARCHAR(255))",
    "INSERT INTO blog_post VALUES (1, 'kept-post')",
]


@pytest.mark.mysql
@pytest.mark.postgres
@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("all_rows", [False, True], ids=["default", "serve-all"])
@pytest.mark.parametrize("engine", ["mysql", "postgresql", "sqlite"])
def test_no_personal_data_or_credential_leaves(engine: str, all_rows: bool, django_manager: SyncoPluginManager,
                                               tmp_path: Path, request: pytest.FixtureRequest) -> None:
    database = database_from_script(engine, SCHEMA, request, tmp_path / "source.sqlite", mysql_sql_mode="ANSI_QUOTES")
    framework = Framework(name="Django", plugin="django", project_dir=tmp_path, database=database,
                          settings={"user_tables": ["auth_user", "users_user"]})
    out = tmp_path / "dump"
    result = dump_as_served(framework, out, all=all_rows, manager=django_manager)
    dumped = out.read_bytes()
    assert_no_markers(dumped, kept=(b"kept-post", b"kept-admin"))
    install_into_empty_copy(database, out, result, request, tmp_path / "copy.sqlite", django_manager)
    if engine == "sqlite":
        with sqlite3.connect(tmp_path / "copy.sqlite") as copy:
            assert copy.execute("SELECT username FROM users_user ORDER BY id").fetchall() == [
                ("user1@example.invalid",), ("user2@example.invalid",)]
            assert copy.execute("SELECT username FROM auth_user ORDER BY id").fetchall() == [
                ("user1@example.invalid",), ("kept-admin",)]
