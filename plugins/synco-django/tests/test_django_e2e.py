"""End to end on real Django projects: serve -> receive -> install on PostgreSQL and on MariaDB.

The projects are made by ``django-admin startproject`` (Django installed from the package index into a
virtual environment), given production settings, migrated by ``manage.py migrate`` and filled through
Django itself (users with real hashes, a session, an admin log entry, uploads). The source's web root
(``STATIC_ROOT``) is served by a real HTTP server on 127.0.0.1; ``serve --keep`` publishes the session
there, then ``receive`` and ``install`` run against a second project with databases of its own.

Each test runs twice (``python_mode``): with the projects' ``.venv`` holding Django, where the plugin reads
the settings through it, and with no Python interpreter to be found, where it reads the settings files.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from django_support import (
    CHECK_PASSWORDS,
    POPULATE,
    PRODUCTION,
    add_settings,
    manage,
    run,
    serve_keep,
    venv_python,
    with_venv,
)
from synco_django.databases import PASSWORD_HASH

from synco_core.testing import SyncoPluginManager
from synco_core.testing.services import (
    POSTGRES_HOST,
    POSTGRES_PORT,
    POSTGRES_USER,
    mysql_admin_connection,
    mysql_url_for,
    postgres_admin_connection,
)

Make = Callable[[str], Path]
Serve = Callable[[Path], str]
#: A password in the settings: PostgreSQL here trusts 127.0.0.1 and never asks for it, so it may be anything,
#: and it must never be printed.
PG_PASSWORD = "pg-Secret-4711"


def postgres_settings(default: str, analytics: str) -> str:
    def database(name: str) -> str:
        return (f'{{"ENGINE": "django.db.backends.postgresql", "NAME": "{name}", "USER": "{POSTGRES_USER}", '
                f'"PASSWORD": os.environ.get("APP_DB_PASSWORD", "{PG_PASSWORD}"), "HOST": "{POSTGRES_HOST}", '
                f'"PORT": "{POSTGRES_PORT}"}}')

    return PRODUCTION.format(media_url="/media/") + (
        f'DATABASES = {{\n    "default": {database(default)},\n    "analytics": {database(analytics)},\n}}\n')


def check_detected(project: Path, python_mode: str) -> dict[str, object]:
    detected = run("detect", "--json", str(project))
    assert detected.exit_code == 0, detected.output
    found: dict[str, object] = json.loads(detected.stdout)
    assert found["configSource"] == python_mode
    return found


@pytest.mark.postgres
@pytest.mark.slow
def test_serve_receive_install_postgresql(startproject: Make, django_venv: Path, django_manager: SyncoPluginManager,
                                          postgres_database_factory: Callable[[], str], web_server: Serve,
                                          python_mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, target = startproject("source"), startproject("target")
    names = {project: (postgres_database_factory(), postgres_database_factory()) for project in (source, target)}
    for project, (default, analytics) in names.items():
        add_settings(project, postgres_settings(default, analytics))
        if python_mode == "python":
            with_venv(project, django_venv)
        events = postgres_admin_connection(analytics)
        events.execute("CREATE TABLE events (id INT PRIMARY KEY, kind TEXT)")
        events.execute("INSERT INTO events VALUES (1, %s)", (f"{project.name} event",))
        events.close()
    manage(source, django_venv, "migrate", "--noinput")
    manage(source, django_venv, "shell", "-c", POPULATE)
    (source / "media/avatars").mkdir(parents=True)
    (source / "media/avatars/ann.txt").write_text("avatar of ann\n")
    (source / "staticfiles").mkdir()
    local = postgres_admin_connection(names[target][0])
    local.execute("CREATE TABLE only_local (id INT)")
    local.close()
    (target / "media").mkdir()
    (target / "media/local-only.txt").write_text("replaced by the install\n")

    found = check_detected(source, python_mode)
    assert found["database"]["name"] == names[source][0]  # type: ignore[index]
    assert list(found["namedDatabases"]) == ["dbDump-analytics"]  # type: ignore[arg-type]
    (media,) = found["fileSets"]  # type: ignore[misc]
    assert (media["name"], media["kind"], media["relativeBasePath"]) == ("media", "private", "media")
    assert PG_PASSWORD not in json.dumps(found)

    base_url = web_server(source / "staticfiles")
    monkeypatch.chdir(source)
    session, key = serve_keep(source, "--only", "dbDump,dbDump-analytics,media")
    received = tmp_path / "received"
    got = run("receive", session, key, "--base-url", base_url, "--all", "--target", str(received))
    assert got.exit_code == 0, got.output
    install_args = ["install", str(received), "--project", str(target), "--yes"]
    installed = run(*install_args, *(["--post-install"] if python_mode == "python" else []))
    assert installed.exit_code == 0, installed.output
    assert PG_PASSWORD not in installed.output
    if python_mode == "python":
        assert "Next, run" not in installed.output, "manage.py migrate --check ran and passed"
    else:
        assert "Next, run in the project" in installed.output and "manage.py migrate --check" in installed.output

    conn = postgres_admin_connection(names[target][0])
    users = conn.execute("SELECT username, email, password, first_name, last_name FROM auth_user "
                         "ORDER BY username").fetchall()
    counts = [conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone() for table in
              ("django_session", "django_admin_log", "django_migrations")]
    local_only = conn.execute("SELECT to_regclass('only_local')").fetchone()
    conn.close()
    assert [u[0] for u in users] == ["ann", "bob"]
    assert all(u[1].endswith("@example.invalid") and u[2] == PASSWORD_HASH for u in users), users
    assert {(u[3], u[4]) for u in users} == {("Firstname", "Lastname")}
    assert counts[0] == (0,) and counts[1] == (0,), "sessions and the admin log are never shipped"
    assert counts[2] is not None and counts[2][0] > 10, "the migration history is kept"
    assert local_only == (None,), "the local database was replaced"
    events = postgres_admin_connection(names[target][1])
    assert events.execute("SELECT kind FROM events").fetchall() == [("source event",)]
    events.close()
    assert (target / "media/avatars/ann.txt").read_text() == "avatar of ann\n"
    assert not (target / "media/local-only.txt").exists()
    # Django itself logs every copied account in with "password".
    checked = manage(target, django_venv, "shell", "-v", "0", "-c", CHECK_PASSWORDS).stdout.split()
    assert checked == ["ann", "True", "bob", "True"]


@pytest.mark.mysql
@pytest.mark.slow
def test_serve_receive_install_mariadb_with_database_url(
        startproject: Make, django_venv: Path, django_manager: SyncoPluginManager,
        mysql_database_factory: Callable[[], str], web_server: Serve, python_mode: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """dj-database-url's ``DATABASE_URL`` names the database (one value on the server, another on the laptop);
    the uploads are served by a media host (``MEDIA_URL`` absolute), so they travel as public files."""
    source, target = startproject("source"), startproject("target")
    databases = {source: mysql_database_factory(), target: mysql_database_factory()}
    (source / "media/uploads").mkdir(parents=True)
    (source / "media/uploads/report 2024.txt").write_text("annual report\n")
    (source / "media/cache").mkdir()
    (source / "media/cache/thumb.txt").write_text("a generated thumbnail\n")
    media_url = web_server(source / "media")
    for project in (source, target):
        add_settings(project, PRODUCTION.format(media_url=media_url) + (
            "import dj_database_url\nimport pymysql\n\n"
            "# PyMySQL standing in for mysqlclient, as its documentation shows.\n"
            'pymysql.version_info = (2, 2, 7, "final", 0)\npymysql.install_as_MySQLdb()\n'
            'DATABASES = {"default": dj_database_url.config(conn_max_age=600)}\n'))
        if python_mode == "python":
            with_venv(project, django_venv)
    source_url, target_url = mysql_url_for(databases[source]), mysql_url_for(databases[target])
    manage(source, django_venv, "migrate", "--noinput", env={"DATABASE_URL": source_url})
    manage(source, django_venv, "shell", "-c", POPULATE, env={"DATABASE_URL": source_url})
    (source / "staticfiles").mkdir()

    monkeypatch.setenv("DATABASE_URL", source_url)
    found = check_detected(source, python_mode)
    assert (found["database"]["engine"], found["database"]["name"]) == ("mysql", databases[source])  # type: ignore[index]
    (media,) = found["fileSets"]  # type: ignore[misc]
    assert media["kind"] == "public" and media["regenerated"] == ["/cache", "/CACHE"] and media["exclude"] == []
    base_url = web_server(source / "staticfiles")
    monkeypatch.chdir(source)
    session, key = serve_keep(source)

    monkeypatch.setenv("DATABASE_URL", target_url)
    received = tmp_path / "received"
    got = run("receive", session, key, "--base-url", base_url, "--all", "--target", str(received))
    assert got.exit_code == 0, got.output
    installed = run("install", str(received), "--project", str(target), "--yes")
    assert installed.exit_code == 0, installed.output

    conn = mysql_admin_connection(databases[target])
    with conn.cursor() as cur:
        cur.execute("SELECT username, email, password FROM auth_user ORDER BY username")
        users = cur.fetchall()
        cur.execute("SELECT COUNT(*) FROM django_session")
        sessions = cur.fetchone()
    conn.close()
    assert [(u[0], u[2]) for u in users] == [("ann", PASSWORD_HASH), ("bob", PASSWORD_HASH)]
    assert all(u[1].endswith("@example.invalid") for u in users)
    assert sessions == (0,)
    assert (target / "media/uploads/report 2024.txt").read_text() == "annual report\n"
    assert not (target / "media/cache").exists(), "generated thumbnails stay behind unless --all"
    checked = manage(target, django_venv, "shell", "-v", "0", "-c", CHECK_PASSWORDS, env={"DATABASE_URL": target_url})
    assert checked.stdout.split() == ["ann", "True", "bob", "True"]


def test_the_password_hash_verifies_with_django(django_venv: Path) -> None:
    """The fixed hash is Django's PBKDF2 hash of "password": Django's own check_password accepts it."""
    code = ("from django.conf import settings; settings.configure(); "
            "from django.contrib.auth.hashers import check_password, identify_hasher; import sys; "
            "print(check_password('password', sys.argv[1]), check_password('Password', sys.argv[1]), "
            "identify_hasher(sys.argv[1]).algorithm)")
    result = subprocess.run([str(venv_python(django_venv)), "-c", code, PASSWORD_HASH], capture_output=True,
                            text=True, check=True, timeout=60)
    assert result.stdout.split() == ["True", "False", "pbkdf2_sha256"]
