"""Django trees as cookiecutter-django lays them out (config/settings/{base,local,production}.py, django-environ,
MEDIA_ROOT from Path arithmetic), read without an interpreter: every django-environ call form a settings
file uses is either worked out or unknown, never a crash that hides the project."""

from __future__ import annotations

from pathlib import Path

import pytest
from django_support import hide_python
from synco_django.plugin import detect_framework

BASE = '''"""Base settings to build other settings files upon."""
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve(strict=True).parent.parent.parent
APPS_DIR = BASE_DIR / "shop"
env = environ.Env()

READ_DOT_ENV_FILE = env.bool("DJANGO_READ_DOT_ENV_FILE", default=False)
if READ_DOT_ENV_FILE:
    env.read_env(str(BASE_DIR / ".env"))

DEBUG = env.bool("DJANGO_DEBUG", False)
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
STATIC_ROOT = str(BASE_DIR / "staticfiles")
STATIC_URL = "/static/"
MEDIA_ROOT = str(APPS_DIR / "media")
MEDIA_URL = "/media/"
'''

PRODUCTION = '''from .base import *  # noqa: F403
from .base import APPS_DIR, BASE_DIR, DATABASES
from .base import env

SECRET_KEY = env("DJANGO_SECRET_KEY")
{line}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
'''

WSGI = '''import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()
'''


def cookiecutter(root: Path, line: str) -> Path:
    (root / "config/settings").mkdir(parents=True)
    (root / "shop/media/avatars").mkdir(parents=True)
    (root / "shop/media/avatars/1.png").write_bytes(b"png")
    for init in ("config/__init__.py", "config/settings/__init__.py"):
        (root / init).touch()
    (root / "manage.py").write_text('import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", '
                                    '"config.settings.local")\n')
    (root / "config/wsgi.py").write_text(WSGI)
    (root / "config/settings/base.py").write_text(BASE)
    (root / "config/settings/production.py").write_text(PRODUCTION.format(line=line))
    (root / "config/settings/local.py").write_text("from .base import *  # noqa: F403\nDEBUG = True\n")
    (root / ".env").write_text("DATABASE_URL=postgres://shop:cc-pw-4e1@db.internal:5433/shop\n"
                               "DJANGO_SECRET_KEY=cc-secret-key\nDJANGO_ALLOWED_HOSTS=a.example,b.example\n")
    return root.resolve()


@pytest.mark.parametrize("line", [
    'ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["example.com"])',
    'ALLOWED_HOSTS = env.list("UNSET_HOSTS", default=["example.com"])',
    'SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", True)',
    'SESSION_AGE = env.int("DJANGO_SESSION_AGE", 3600)',
    'EMAIL_HOST = env.str("DJANGO_EMAIL_HOST", "smtp.example.com")',
    'RATE = env.float("DJANGO_RATE", 0.5)',
    'CACHES = {"default": env.cache("REDIS_URL", backend="django_redis.cache.RedisCache")}',
    'ADMINS = env("DJANGO_ADMINS", cast=list, default=[], parse_default=True)',
    'X = env.json("DJANGO_JSON", {"a": 1}, 3, "extra positional")',
    'MEDIA_ROOT = APPS_DIR / "media"',
    'MEDIA_ROOT = BASE_DIR.joinpath("shop", "media")',
])
def test_cookiecutter_django_read_without_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str) -> None:
    hide_python(monkeypatch, tmp_path)
    root = cookiecutter(tmp_path / "shop", line)
    framework = detect_framework(root, "source")
    assert framework is not None and framework.plugin == "django"
    assert "config.settings.production" in framework.reason
    database = framework.database
    assert database is not None
    assert (database.engine, database.host, database.port, database.name, database.user) == (
        "postgresql", "db.internal", 5433, "shop", "shop")
    assert str(framework.settings["values"]["MEDIA_ROOT"]) == str(root / "shop" / "media")
    assert framework.settings["storage_roots"]


def test_named_imports_from_the_base_module_keep_its_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``from .base import DATABASES`` is base's dict, not an unknown: settings built from separate variables
    (no DATABASE_URL to fall back on) are read through it."""
    hide_python(monkeypatch, tmp_path)
    root = cookiecutter(tmp_path / "shop", 'DATABASES["default"]["HOST"] = env("POSTGRES_HOST")')
    base = root / "config/settings/base.py"
    base.write_text(base.read_text().replace(
        'DATABASES = {"default": env.db("DATABASE_URL")}',
        'DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": env("POSTGRES_DB"), '
        '"USER": env("POSTGRES_USER"), "PASSWORD": env("POSTGRES_PASSWORD"), "HOST": "localhost", '
        '"PORT": env.int("POSTGRES_PORT", 5432)}}'))
    (root / ".env").write_text("POSTGRES_DB=shop_pg\nPOSTGRES_USER=shop\nPOSTGRES_PASSWORD=pg-pw-5b0\n"
                               "POSTGRES_HOST=pg.internal\nPOSTGRES_PORT=5434\nDJANGO_SECRET_KEY=k\n")
    framework = detect_framework(root, "source")
    assert framework is not None and framework.database is not None
    database = framework.database
    assert (database.host, database.port, database.name, database.user, database.password) == (
        "pg.internal", 5434, "shop_pg", "shop", "pg-pw-5b0")
    assert "DATABASE_URL" not in framework.reason


def test_settings_module_with_a_syntax_error_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    hide_python(monkeypatch, tmp_path)
    root = cookiecutter(tmp_path / "shop", "SECRET_KEY = (")
    (root / ".env").write_text("DATABASE_URL=postgres://shop:cc-pw-4e1@db.internal:5433/shop\n")
    framework = detect_framework(root, "source")
    assert framework is not None
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(str(root / "config/settings/production.py") in w and "not valid Python" in w for w in warnings)
    assert all("\n" not in w and "cc-pw-4e1" not in w for w in warnings)
