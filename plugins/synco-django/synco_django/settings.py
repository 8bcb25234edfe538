"""Reading a Django project's settings: with its own interpreter, else from the files.

The project's interpreter (see :mod:`synco_django.interpreter`) runs :mod:`synco_django.probe`, which
imports the settings module through ``django.conf.settings`` (the settings module and nothing else: no
``django.setup()``, no app registry, no model imported) and prints the settings synco needs as JSON after a
marker line. That is Django's own answer, with every environment variable, ``.env`` loader and split
settings module as the application sees them. It runs with the project's ``.env`` under the real
environment, as the files are read: what loads that file in production (``load_dotenv()`` in ``manage.py``
or ``wsgi.py``, a process manager's ``EnvironmentFile``) is outside the settings module, and without it an
``os.environ.get("DATABASE_URL", "sqlite:///...")`` would name the fallback database instead of the real
one. An interpreter without Django still imports the module directly. Each candidate gets
:data:`TIMEOUT` seconds; the first that answers wins.

Without an interpreter that can import the settings, :mod:`synco_django.static` reads the settings module
without running it, with the environment over ``.env``; ``DATABASE_URL`` names the default database when
the settings do not say otherwise.

The JSON holds the database passwords: it is parsed and never logged, and a failure is reported by its
exception type and a message with any URL password masked.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synco_core import ConfigError, load_dotenv_files, mask_url_passwords, run_command
from synco_django import interpreter, static
from synco_django.project import SettingsModule

log = logging.getLogger(__name__)

#: Seconds one interpreter may take to import the settings (a cold start of a big project can be slow).
TIMEOUT = 30.0
#: Printed before the JSON, so whatever the settings module prints cannot confuse the parser.
MARKER = "SYNCO-DJANGO-SETTINGS:"

#: The settings synco reads. ``AWS_*`` are django-storages' global S3 settings.
NAMES = (
    "DATABASES", "MEDIA_ROOT", "MEDIA_URL", "STATIC_ROOT", "STATIC_URL", "STORAGES", "DEFAULT_FILE_STORAGE",
    "AUTH_USER_MODEL", "MIDDLEWARE",
    "AWS_STORAGE_BUCKET_NAME", "AWS_S3_CUSTOM_DOMAIN", "AWS_LOCATION", "AWS_S3_REGION_NAME", "AWS_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_S3_ACCESS_KEY_ID", "AWS_S3_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "AWS_S3_SESSION_TOKEN", "AWS_QUERYSTRING_AUTH", "AWS_S3_URL_PROTOCOL",
    "AWS_S3_ADDRESSING_STYLE",
)

#: The script the project's interpreter runs (a file of this package, run by path, never imported here).
PROBE = Path(__file__).with_name("probe.py")



@dataclass
class DjangoSettings:
    """What synco needs of a project's settings, however they were read."""

    #: ``DATABASES`` (alias -> Django's settings dict, or a :class:`static.DatabaseUrl`), ``default`` first.
    databases: dict[str, Any]
    values: dict[str, Any]
    #: ``python`` when an interpreter imported the settings, ``files`` when they were read without one.
    source: str
    #: Where the settings were read from, for ``detect`` (``.venv/bin/python``, ``settings.py, DATABASE_URL``).
    how: str
    #: The interpreter that answered (None on the file fallback): also the one post-install commands use.
    python: str | None = None
    django_version: str | None = None
    notes: list[str] = field(default_factory=list)

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name, default)
        return default if static.is_unknown(value) else value



def dotenv(project_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of the project's ``.env`` ({} without one, or with one that cannot be read: a warning)."""
    try:
        # python-dotenv's rules: "pa$word" stays as written, only "${NAME}" (and ":-") are references.
        return load_dotenv_files([project_dir / ".env"], environ=environ, style="python-dotenv")
    except ConfigError as exc:
        log.warning("%s; reading the settings without it", exc)
        return {}


def environment(project_dir: Path, environ: Mapping[str, str],
                values: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the settings see: ``.env`` (``values``, else read here) under the real environment
    (python-dotenv and django-environ never override a variable that is set)."""
    return {**(dotenv(project_dir, environ) if values is None else values), **environ}


def read_settings(project_dir: Path, module: SettingsModule, environ: Mapping[str, str] | None = None,
                  seen: Mapping[str, str] | None = None) -> DjangoSettings:
    """The project's settings: from its interpreter when one can import them, else from the files.

    ``environ`` is the real environment (default: ``os.environ``); ``seen`` what the settings see, the
    real environment over ``.env`` (default: worked out here)."""
    env = dict(os.environ if environ is None else environ)
    seen_env = environment(project_dir, env) if seen is None else dict(seen)
    failures: list[str] = []
    # The interpreter is looked for in the real environment ($VIRTUAL_ENV, PATH): .env describes the
    # application, not the shell synco runs in.
    for python, label in interpreter.candidates(project_dir, env):
        try:
            settings = read_with_python(project_dir, module, python, seen_env)
        except ConfigError as exc:
            failures.append(f"{label} ({python}): {exc}")
            log.debug("the settings could not be read with %s: %s", python, exc)
            continue
        settings.how = f"{label} ({python})"
        log.debug("Django settings %s read with %s (config_source=python)", module.name, python)
        return settings
    if failures:
        log.warning("no interpreter could import the Django settings %s (%s); reading the files instead",
                    module.name, "; ".join(failures))
    else:
        log.debug("no Python interpreter found; reading the Django settings %s from the files", module.name)
    return read_from_files(project_dir, module, env, seen_env)


def read_with_python(project_dir: Path, module: SettingsModule, python: str,
                     environ: Mapping[str, str]) -> DjangoSettings:
    """Import the settings with ``python`` and read what :data:`PROBE` prints."""
    extra = {"DJANGO_SETTINGS_MODULE": module.name}
    result = run_command([python, str(PROBE), str(module.root), MARKER, *NAMES], cwd=project_dir, timeout=TIMEOUT,
                         env=environ, extra_env=extra, check=False)
    payload: dict[str, Any] | None = None
    for line in result.stdout.splitlines():
        if line.startswith(MARKER):
            try:
                decoded = json.loads(line[len(MARKER):])
            except ValueError:
                break
            payload = decoded if isinstance(decoded, dict) else None
            break
    if payload is None:
        raise ConfigError(f"printed no settings (exit status {result.returncode})")
    if "error" in payload:
        detail = mask_url_passwords(" ".join(str(payload.get("detail") or "").split()))
        raise ConfigError(f"importing {module.name} failed: {payload['error']}: {detail}")
    values = payload.get("settings")
    if not isinstance(values, dict):
        raise ConfigError("printed settings that are not a mapping")
    databases = values.get("DATABASES")
    return DjangoSettings(
        databases=databases if isinstance(databases, dict) else {},
        values=values,
        source="python",
        how=python,
        python=python,
        django_version=str(payload["django"]) if payload.get("django") else None,
    )


def read_from_files(project_dir: Path, module: SettingsModule, environ: Mapping[str, str],
                    seen: Mapping[str, str] | None = None) -> DjangoSettings:
    """The settings as far as they can be read without running them; ``DATABASE_URL`` for the database when
    the settings module's ``DATABASES`` cannot be worked out. ``seen``: as in :func:`read_settings`."""
    env = environment(project_dir, environ) if seen is None else dict(seen)
    names = static.read_settings(project_dir, module.name, module.path, module.root, env, real=environ)
    values = {name: names[name] for name in NAMES if name in names}
    databases = values.get("DATABASES")
    notes: list[str] = []
    how = f"{module.path.relative_to(project_dir).as_posix()} (read without Python)"
    # One alias the reader cannot work out (a replica built by a function) must not hide the others: they
    # are kept, and the unknown ones are listed as unusable with the reason.
    databases = dict(databases) if isinstance(databases, dict) else {}
    if not static.is_known(databases.get("default", static.UNKNOWN)):
        reason = static.why_unknown(databases.get("default", names.get("DATABASES")))
        what = "DATABASES['default']" if databases else "DATABASES"
        unread = f"{what} could not be read without Python" + (f" ({reason})" if reason else "")
        databases.pop("default", None)
        url = env.get("DATABASE_URL", "").strip()
        if url:
            databases = {"default": static.DatabaseUrl(url), **databases}
            how += ", DATABASE_URL"
            notes.append(f"{unread}; the database is DATABASE_URL's")
        else:
            notes.append(f"{unread} and DATABASE_URL is not set")
    return DjangoSettings(databases=databases, values=values, source="files", how=how, notes=notes)
