"""Detecting Django projects: the settings module, the project's interpreter, DATABASES and its aliases,
DATABASE_URL without an interpreter, secrets, the sanitising profile, and the plugin contract."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import synco_django.plugin
from click.testing import CliRunner
from django_support import hide_python, with_venv
from synco_django import interpreter, settings
from synco_django.databases import PASSWORD_HASH, database_config, sanitize_profile, user_table
from synco_django.plugin import detect_framework, install_files
from synco_django.project import find_settings_module
from synco_django.static import DatabaseUrl

from synco_core import (
    ConfigError,
    DatabaseInventory,
    Framework,
    ReceivedFileSet,
    TableInfo,
    redact,
)
from synco_core.testing import FrameworkPluginContract, SyncoPluginManager, cli, configured_dump_options

Make = Callable[[str], Path]

MANAGE = """#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{module}")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
"""


def project(root: Path, settings_text: str, module: str = "mysite.settings", manage_module: str | None = None) -> Path:
    """A minimal Django project: ``manage.py`` and the settings module (no Django needed to read it)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "manage.py").write_text(MANAGE.format(module=manage_module or module))
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    for parent in path.relative_to(root).parents:
        if parent != Path("."):
            (root / parent / "__init__.py").touch()
    path.write_text(settings_text)
    return root.resolve()


def detected(root: Path, side: str = "source") -> Framework:
    framework = detect_framework(root, side)
    assert framework is not None
    return framework


@pytest.fixture
def no_python(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hide_python(monkeypatch, tmp_path)


class TestDjangoContract(FrameworkPluginContract):
    plugin = synco_django.plugin
    plugin_name = "django"

    @pytest.fixture
    def project_dir(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        hide_python(monkeypatch, tmp_path)
        root = project(tmp_path / "site",
                       "from pathlib import Path\nBASE_DIR = Path(__file__).resolve().parent.parent\n"
                       'DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop", '
                       '"USER": "shop", "PASSWORD": "contract-secret-pw", "HOST": "db.internal"}}\n'
                       'MEDIA_ROOT = BASE_DIR / "media"\nMEDIA_URL = "/media/"\nSTATIC_ROOT = BASE_DIR / "static"\n')
        (root / "media").mkdir()
        return root


def test_real_startproject_with_its_interpreter(startproject: Make, django_venv: Path) -> None:
    root = with_venv(startproject("mysite"), django_venv)
    framework = detected(root)
    assert framework.config_source == "python"
    assert "mysite.settings (from mysite/wsgi.py)" in framework.reason and "Django 5.2" in framework.reason
    assert framework.database is not None and framework.database.engine == "sqlite"
    assert framework.database.name == str(root / "db.sqlite3")
    assert framework.post_install == [[str(root / ".venv/bin/python"), "manage.py", "migrate", "--check"]]


def test_real_startproject_read_without_python(startproject: Make, no_python: None) -> None:
    root = startproject("mysite")
    framework = detected(root)
    assert framework.config_source == "files"
    assert "read without Python" in framework.reason
    assert framework.database is not None and framework.database.name == str(root / "db.sqlite3")


@pytest.mark.parametrize("side, expected", [("source", "config.settings.production"),
                                            ("destination", "config.settings.local")])
def test_settings_module_by_side(tmp_path: Path, no_python: None, side: str, expected: str) -> None:
    """cookiecutter-django: wsgi.py names the production settings (what the server runs), manage.py the local."""
    root = project(tmp_path / "cc", "", module="config.settings.local")
    (root / "config/settings/production.py").write_text("")
    (root / "config/wsgi.py").write_text(
        'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")\n')
    module = find_settings_module(root, {}, side)
    assert module is not None and module.name == expected
    assert module.source == ("config/wsgi.py" if side == "source" else "manage.py")


def test_settings_module_from_the_environment_wins(tmp_path: Path, no_python: None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path / "p", "", module="mysite.settings")
    (root / "mysite/prod.py").write_text(
        'DATABASES = {"default": {"ENGINE": "django.db.backends.mysql", "NAME": "p"}}\n')
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "mysite.prod")
    framework = detected(root)
    assert "mysite.prod (from $DJANGO_SETTINGS_MODULE)" in framework.reason
    assert framework.database is not None and framework.database.engine == "mysql"


def test_settings_module_from_pyproject_and_src_layout(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "src/shop").mkdir(parents=True)
    (root / "manage.py").write_text("import sys\n")
    (root / "src/shop/settings.py").write_text("")
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\nDJANGO_SETTINGS_MODULE = "shop.settings"\n')
    module = find_settings_module(root, {})
    assert module is not None and (module.name, module.source, module.root) == ("shop.settings", "pyproject.toml",
                                                                                root / "src")


@pytest.mark.parametrize("below", ["mysite", "mysite/templates/admin", "media"])
def test_a_folder_inside_a_project_names_the_project(tmp_path: Path, no_python: None,
                                                     django_manager: SyncoPluginManager, below: str) -> None:
    """Run in the settings package, an app or media/, detection refuses (the project is the folder of manage.py)
    and says where the project is: the core's refusal alone suggested a .synco.yml or --framework."""
    root = project(tmp_path / "site", 'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", '
                   '"NAME": "db.sqlite3"}}\n')
    (root / below).mkdir(parents=True, exist_ok=True)
    result = CliRunner().invoke(cli, ["detect", str(root / below)])
    assert result.exit_code == 1
    assert f"{root / below} is inside the Django project {root} (manage.py is there)" in result.output
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    result = CliRunner().invoke(cli, ["detect", str(outside)])
    assert result.exit_code == 1 and "inside the Django project" not in result.output


def test_manage_py_without_a_settings_module_is_not_django(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "manage.py").write_text(MANAGE.format(module="gone.settings"))
    assert detect_framework(root, "source") is None


def test_aliases_default_first_others_named_unusable_listed(tmp_path: Path, no_python: None) -> None:
    root = project(tmp_path / "p", """
DATABASES = {
    "legacy": {"ENGINE": "django.db.backends.oracle", "NAME": "xe", "PASSWORD": "oracle-secret-1"},
    "analytics": {"ENGINE": "django.db.backends.mysql", "NAME": "stats", "HOST": "/run/mysqld/mysqld.sock",
                  "OPTIONS": {"charset": "utf8mb4", "ssl": {"ca": "/etc/ca.pem"}}},
    "default": {"ENGINE": "django.contrib.gis.db.backends.postgis", "NAME": "geo", "USER": "geo",
                "PASSWORD": "postgis-secret-2", "HOST": "db", "PORT": "6432", "OPTIONS": {"sslmode": "require"}},
    "memory": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
    "bad name!": {"ENGINE": "django.db.backends.sqlite3", "NAME": "x.db"},
}
""")
    framework = detected(root)
    db = framework.database
    assert db is not None
    assert (db.engine, db.name, db.host, db.port, db.user, db.options) == (
        "postgresql", "geo", "db", 6432, "geo", {"sslmode": "require"})
    assert list(framework.databases) == ["analytics", "bad name!"]
    analytics = framework.databases["analytics"]
    assert (analytics.engine, analytics.socket, analytics.host, analytics.options) == (
        "mysql", "/run/mysqld/mysqld.sock", None, {"ssl_ca": "/etc/ca.pem", "charset": "utf8mb4"})
    connections = framework.settings["connections"]
    assert connections["legacy"].startswith("unusable: Django database 'legacy': the backend django.db.backends.oracle")
    assert "in-memory" in connections["memory"]
    assert redact("oracle-secret-1 postgis-secret-2") == "*** ***"
    result = CliRunner().invoke(cli, ["detect", "--json", str(root)])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert list(info["namedDatabases"]) == ["dbDump-analytics"], "a name that cannot be a set name is not offered"
    assert "postgis-secret-2" not in result.output and "oracle-secret-1" not in result.output


@pytest.mark.parametrize("url, expected", [
    ("postgres://u:p%40ss@db.example:5433/shop", ("postgresql", "shop", "db.example", 5433, "p@ss")),
    ("pgsql://u:pw@db/shop", ("postgresql", "shop", "db", None, "pw")),
    ("postgis://u:pw@db/geo", ("postgresql", "geo", "db", None, "pw")),
    ("mysql://u:pw@127.0.0.1:3307/shop?charset=utf8mb4", ("mysql", "shop", "127.0.0.1", 3307, "pw")),
    ("mysql2://u:pw@db/shop", ("mysql", "shop", "db", None, "pw")),
    ("sqlite:////var/lib/app/db.sqlite3", ("sqlite", "/var/lib/app/db.sqlite3", None, None, None)),
])
def test_database_url_forms(tmp_path: Path, url: str, expected: tuple[object, ...]) -> None:
    config = database_config("default", DatabaseUrl(url), tmp_path, "DATABASE_URL")
    assert (config.engine, config.name, config.host, config.port, config.password) == expected


def test_relative_sqlite_url_is_the_projects(tmp_path: Path) -> None:
    config = database_config("default", DatabaseUrl("sqlite:///db.sqlite3"), tmp_path, "DATABASE_URL")
    assert config.name == str(tmp_path / "db.sqlite3")
    with pytest.raises(ConfigError, match="redis databases are not supported"):
        database_config("default", DatabaseUrl("redis://cache/0"), tmp_path, "DATABASE_URL")


def test_database_url_from_dotenv_when_settings_cannot_be_read(tmp_path: Path, no_python: None) -> None:
    """Without an interpreter, settings the reader cannot work out fall back to DATABASE_URL (here from .env)."""
    root = project(tmp_path / "p", "from .secrets import load_database\nDATABASES = load_database()\n")
    (root / ".env").write_text("DATABASE_URL=postgres://app:dotenv-secret-9@10.0.0.5/shop\n")
    framework = detected(root)
    assert framework.database is not None and (framework.database.host, framework.database.name) == ("10.0.0.5", "shop")
    assert "DATABASE_URL" in framework.reason and framework.config_source == "files"
    assert redact("dotenv-secret-9") == "***"


def test_django_heroku_database_is_database_urls(tmp_path: Path, no_python: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The Heroku layout: startproject's sqlite DATABASES, then django_heroku.settings(locals()), which replaces
    it with DATABASE_URL's. Read without Python the sqlite file was named: the wrong database dumped."""
    root = project(tmp_path / "p", "from pathlib import Path\nBASE_DIR = Path(__file__).resolve().parent.parent\n"
                   "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3',\n"
                   "                         'NAME': BASE_DIR / 'db.sqlite3'}}\n"
                   "import django_heroku\ndjango_heroku.settings(locals())\n")
    monkeypatch.setenv("DATABASE_URL", "postgres://app:heroku-secret-7@ec2.example:5432/d1")
    framework = detected(root)
    assert framework.database is not None and (framework.database.engine, framework.database.name) == (
        "postgresql", "d1")
    monkeypatch.delenv("DATABASE_URL")
    assert detected(root).database is None


def test_dollar_signs_in_dotenv_read_as_python_dotenv_does(tmp_path: Path, no_python: None) -> None:
    """python-dotenv expands "${NAME}" and "${NAME:-default}" only: "pa$word" is a password, not "pa"."""
    root = project(tmp_path / "p", "from .secrets import load_database\nDATABASES = load_database()\n")
    (root / ".env").write_text("DB_HOST=10.0.0.5\n"
                               "DATABASE_URL=postgres://app:pa$word@${DB_HOST}:${DB_PORT:-5433}/shop\n")
    framework = detected(root)
    assert framework.database is not None
    assert (framework.database.password, framework.database.host, framework.database.port) == ("pa$word", "10.0.0.5",
                                                                                                5433)


@pytest.mark.parametrize("dotenv", ["", "DATABASE_URL=postgres://app:pw@10.0.0.5/from_url\n"])
def test_an_alias_the_files_do_not_tell_hides_no_other(tmp_path: Path, no_python: None, dotenv: str) -> None:
    """Without an interpreter, one alias built by a function is listed as unusable with the reason; the aliases
    the reader works out stay (the archive database used to vanish, DATABASE_URL standing for all of them)."""
    root = project(tmp_path / "p", "DATABASES = {\n"
                   '    "default": {"ENGINE": "django.db.backends.mysql", "NAME": "shop", "HOST": "db"},\n'
                   '    "archive": {"ENGINE": "django.db.backends.postgresql", "NAME": "archive", "HOST": "db"},\n'
                   '    "replica": replica_of("default"),\n}\n')
    (root / ".env").write_text(dotenv)
    framework = detected(root)
    assert framework.database is not None and framework.database.name == "shop"
    assert [(name, db.name) for name, db in framework.databases.items()] == [("archive", "archive")]
    assert framework.settings["connections"] == {
        "replica": "unusable: Django database 'replica' could not be worked out without running the settings"}
    assert framework.settings["notes"] == [] and "DATABASE_URL" not in framework.reason

    settings_file = root / "mysite/settings.py"
    settings_file.write_text(settings_file.read_text().replace(
        '{"ENGINE": "django.db.backends.mysql", "NAME": "shop", "HOST": "db"}', "load_default()"))
    framework = detected(root)
    assert [(name, db.name) for name, db in framework.databases.items()] == [("archive", "archive")]
    if dotenv:
        assert framework.database is not None and framework.database.name == "from_url"
        assert framework.settings["notes"] == [
            "DATABASES['default'] could not be read without Python; the database is DATABASE_URL's"]
    else:
        assert framework.database is None
        assert framework.settings["notes"] == [
            "DATABASES['default'] could not be read without Python and DATABASE_URL is not set"]


def test_without_anything_there_is_no_database(tmp_path: Path, no_python: None) -> None:
    root = project(tmp_path / "p", "DATABASES = make_them()\n")
    framework = detected(root)
    assert framework.database is None
    assert framework.settings["notes"] == ["DATABASES could not be read without Python and DATABASE_URL is not set"]


def test_broken_settings_fall_back_to_the_files_and_mask_the_url(tmp_path: Path, django_venv: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """The interpreter fails importing the settings (a message quoting a URL with its password): synco says so
    with the password masked, and reads the files instead."""
    root = project(tmp_path / "p", 'import os\nDATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", '
                   '"NAME": "app.db"}}\nraise RuntimeError("cannot reach postgres://app:leaked-pw-77@db/app")\n')
    with_venv(root, django_venv)
    with caplog.at_level(logging.DEBUG):
        framework = detected(root)
    assert framework.config_source == "files"
    assert framework.database is not None and framework.database.name == str(root / "app.db")
    text = caplog.text
    assert "importing mysite.settings failed: RuntimeError: cannot reach postgres://app:***@db/app" in text
    assert "leaked-pw-77" not in text


def test_a_hanging_settings_module_times_out(tmp_path: Path, django_venv: Path, monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(settings, "TIMEOUT", 2.0)
    root = project(tmp_path / "p", 'import time\nDATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", '
                   '"NAME": "/srv/app.db"}}\nif __name__ != "__main__":\n    time.sleep(30)\n')
    with_venv(root, django_venv)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    framework = detected(root)
    assert framework.config_source == "files"
    assert framework.database is not None and framework.database.name == "/srv/app.db"
    assert "did not finish within 2 s" in caplog.text


def test_passwords_never_in_debug_output(tmp_path: Path, django_venv: Path, django_manager: SyncoPluginManager) -> None:
    root = project(tmp_path / "p", 'DATABASES = {"default": {"ENGINE": "django.db.backends.mysql", "NAME": "shop", '
                   '"USER": "shop", "PASSWORD": "Debug-Secret-31", "HOST": "db.internal"}}\n'
                   'AWS_SECRET_ACCESS_KEY = "aws-Secret-Key-42"\n')
    with_venv(root, django_venv)
    result = CliRunner().invoke(cli, ["--debug", "detect", str(root)])
    assert result.exit_code == 0, result.output
    assert "Database:   mysql://shop:***@db.internal/shop" in result.output
    assert "Debug-Secret-31" not in result.output and "aws-Secret-Key-42" not in result.output


def test_interpreter_candidates(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    active, local, poetry_cache, pipenv_home = (tmp_path / "active", root / ".venv", tmp_path / "poetry",
                                                tmp_path / "pipenv")
    for venv in (active, local):
        (venv / "bin").mkdir(parents=True)
        (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
        (venv / "bin/python").write_text("#!/bin/sh\n")
        (venv / "bin/python").chmod(0o755)
    (root / "pyproject.toml").write_text('[tool.poetry]\nname = "My Shop"\nversion = "1"\n')
    digest = hashlib.sha256(os.path.normcase(os.path.realpath(root)).encode()).digest()
    expected_name = "my_shop-" + base64.urlsafe_b64encode(digest).decode()[:8]
    assert interpreter.poetry_env_name("My Shop", root) == expected_name
    poetry_venv = poetry_cache / "virtualenvs" / f"{expected_name}-py3.12"
    pipenv_venv = pipenv_home / "proj-AbCd1234"
    for venv in (poetry_venv, pipenv_venv):
        (venv / "bin").mkdir(parents=True)
        (venv / "bin/python").write_text("#!/bin/sh\n")
        (venv / "bin/python").chmod(0o755)
    (pipenv_venv / ".project").write_text(str(root))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text("#!/bin/sh\n")
    (bin_dir / "python3").chmod(0o755)
    found = interpreter.candidates(root, {"VIRTUAL_ENV": str(active), "POETRY_CACHE_DIR": str(poetry_cache),
                                          "WORKON_HOME": str(pipenv_home), "PATH": str(bin_dir)})
    assert found == [(str(active / "bin/python"), "$VIRTUAL_ENV"), (str(local / "bin/python"), ".venv"),
                     (str(poetry_venv / "bin/python"), "Poetry's environment"),
                     (str(pipenv_venv / "bin/python"), "Pipenv's environment"),
                     (str(bin_dir / "python3"), "python3 on PATH")]


def test_sanitising_profile_with_custom_user_model(tmp_path: Path, no_python: None,
                                                   django_manager: SyncoPluginManager) -> None:
    root = project(tmp_path / "p", 'AUTH_USER_MODEL = "accounts.Member"\nDATABASES = {"default": {"ENGINE": '
                   f'"django.db.backends.sqlite3", "NAME": "{tmp_path}/x.db"}}}}\n')
    framework = detected(root)
    assert framework.settings["user_tables"] == ["auth_user", "accounts_member"]
    assert user_table("auth.User") == "auth_user" and user_table(None) == "auth_user"
    inventory = DatabaseInventory(engine="sqlite", server_version="", tables=[
        TableInfo("accounts_member", ["id", "email", "password", "first_name", "last_name"]),
        TableInfo("django_session", ["session_key", "session_data", "expire_date"])])
    options = synco_django.plugin.default_dump_options(framework, inventory)
    assert options is not None and options.exclude_tables[:2] == ("django_session", "django_admin_log")
    assert {(r.table, r.column) for r in options.sanitize} >= {("accounts_member", "password"),
                                                               ("auth_user", "email")}
    password = next(r for r in sanitize_profile().sanitize if r.column == "password")
    assert password.transform == f"fixed:{PASSWORD_HASH}"


def test_profile_filtered_against_the_real_tables(tmp_path: Path, no_python: None,
                                                  django_manager: SyncoPluginManager) -> None:
    import sqlite3

    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE auth_user (id INTEGER PRIMARY KEY, email TEXT, password TEXT)")
        conn.execute("CREATE TABLE django_session (session_key TEXT)")
    conn.close()
    root = project(tmp_path / "p", f'DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", '
                                   f'"NAME": "{path}"}}}}\n')
    options = configured_dump_options(detected(root))
    assert options.exclude_tables == ("django_session",)
    assert sorted(f"{r.table}.{r.column}" for r in options.sanitize) == ["auth_user.email", "auth_user.password"]


def test_install_files_into_the_local_media_root(tmp_path: Path, no_python: None) -> None:
    root = project(tmp_path / "p", 'MEDIA_ROOT = "/srv/uploads"\nSTORAGES = {"default": {"BACKEND": '
                   '"django.core.files.storage.FileSystemStorage"}, "exports": {"BACKEND": '
                   '"django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": "/srv/uploads/exports"}}}\n')
    framework = detected(root, "destination")
    assert framework.settings["storage_roots"] == {"media": "/srv/uploads", "exports": "/srv/uploads/exports"}
    local = tmp_path / "local-media"
    framework.settings["storage_roots"] = {"media": str(local), "exports": str(local / "exports")}
    (local / "exports").mkdir(parents=True)
    (local / "exports/keep.csv").write_text("local export\n")
    received = tmp_path / "received"
    (received / "a").mkdir(parents=True)
    (received / "a/b.txt").write_text("uploaded\n")
    result = install_files(framework, ReceivedFileSet("media", "private", "media"), received)
    assert result is not None and result.destination == local
    assert (local / "a/b.txt").read_text() == "uploaded\n"
    assert (local / "exports/keep.csv").read_text() == "local export\n", "another storage inside stays"
    assert install_files(framework, ReceivedFileSet("other", "private", "x"), received) is None
