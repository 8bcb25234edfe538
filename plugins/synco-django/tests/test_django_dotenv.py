"""The project's ``.env`` is the application's environment for every way synco reads the settings: the
settings module it names, and what the settings see when the project's interpreter imports them.

Production often loads ``.env`` outside the settings module (``load_dotenv()`` at the top of ``manage.py`` /
``wsgi.py``, a systemd ``EnvironmentFile``, docker compose's ``env_file``). synco read it only when parsing
the files: with the project's interpreter, ``os.environ.get("DB_NAME", "fallback")`` named the fallback
database, and a ``DJANGO_SETTINGS_MODULE`` set there was passed over for ``manage.py``'s default. Each test
runs with the interpreter and without one (``python_mode``): both must read the same settings.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django_support import manage, with_venv
from synco_django.plugin import detect_framework

from synco_core import Framework
from synco_core.testing import run_post_install

Make = Callable[[str], Path]

#: What a deployment adds beside startproject's settings: production settings reading the environment.
PRODUCTION = """from .settings import *  # noqa: F403
import os

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("DB_NAME", "fallback_db"),
        "USER": os.getenv("DB_USER", "app"),
        "PASSWORD": os.environ.get("DB_PASSWORD", ""),
        "HOST": os.environ.get("DB_HOST", "localhost"),
    }
}
MEDIA_ROOT = os.environ.get("MEDIA_ROOT", str(BASE_DIR / "media"))  # noqa: F405
"""


def deployed(startproject: Make, django_venv: Path, python_mode: str) -> Path:
    root = startproject("site")
    (root / "mysite" / "production.py").write_text(PRODUCTION)
    if python_mode == "python":
        with_venv(root, django_venv)
    return root


def detected(root: Path, python_mode: str) -> Framework:
    framework = detect_framework(root, "source")
    assert framework is not None and framework.database is not None
    assert framework.config_source == python_mode
    return framework


def test_dotenv_names_the_settings_module_and_the_database(
    startproject: Make, django_venv: Path, python_mode: str
) -> None:
    root = deployed(startproject, django_venv, python_mode)
    (root / ".env").write_text(
        "DJANGO_SETTINGS_MODULE=mysite.production\nDB_NAME=shop_live\n"
        "DB_PASSWORD=dotenv-pw-81\nMEDIA_ROOT=/srv/shop/media\n"
    )
    framework = detected(root, python_mode)
    assert "mysite.production (from .env)" in framework.reason
    database = framework.database
    assert database is not None
    assert (database.engine, database.name, database.user, database.password) == (
        "postgresql",
        "shop_live",
        "app",
        "dotenv-pw-81",
    )
    assert framework.settings["storage_roots"]["media"] == "/srv/shop/media"


def test_the_real_environment_wins_over_dotenv(
    startproject: Make, django_venv: Path, python_mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = deployed(startproject, django_venv, python_mode)
    (root / ".env").write_text("DJANGO_SETTINGS_MODULE=mysite.settings\nDB_NAME=from_dotenv\nDB_USER=dotenv\n")
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "mysite.production")
    monkeypatch.setenv("DB_NAME", "from_service")
    framework = detected(root, python_mode)
    assert "mysite.production (from $DJANGO_SETTINGS_MODULE)" in framework.reason
    database = framework.database
    assert database is not None
    assert (database.name, database.user) == ("from_service", "dotenv")


def test_without_dotenv_the_entry_points_name_the_module(
    startproject: Make, django_venv: Path, python_mode: str
) -> None:
    root = deployed(startproject, django_venv, python_mode)
    framework = detected(root, python_mode)
    assert "mysite.settings (from mysite/wsgi.py)" in framework.reason
    database = framework.database
    assert database is not None and database.engine == "sqlite"


#: Production settings whose database is named only by the environment (``.env`` in production).
SQLITE_PRODUCTION = """from .settings import *  # noqa: F403
import os

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["DB_FILE"]}}
"""


def test_post_install_commands_see_what_the_settings_were_read_with(startproject: Make, django_venv: Path) -> None:
    """``manage.py migrate --check`` after an install ran without ``.env``: another settings module
    (manage.py's default) and no ``DB_FILE``, so it checked a database that was never installed and failed.
    It now runs with the variables the settings were read with: the installed, migrated database passes."""
    root = startproject("site")
    with_venv(root, django_venv)
    (root / "mysite" / "production.py").write_text(SQLITE_PRODUCTION)
    installed = root / "installed.sqlite3"
    (root / ".env").write_text(f"DJANGO_SETTINGS_MODULE=mysite.production\nDB_FILE={installed}\n")
    manage(root, django_venv, "migrate", env={"DJANGO_SETTINGS_MODULE": "mysite.production", "DB_FILE": str(installed)})
    framework = detect_framework(root, "destination")
    assert framework is not None and framework.database is not None
    assert framework.database.name == str(installed)
    run_post_install(framework)
    assert not (root / "db.sqlite3").exists()
