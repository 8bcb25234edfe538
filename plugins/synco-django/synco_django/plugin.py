"""The hook implementations of synco-django (entry point ``django`` in the ``synco`` group)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from synco_core import (
    DatabaseInventory,
    DumpOptions,
    FileSet,
    FileSetOptions,
    FilesInstallResult,
    Framework,
    ReceivedFileSet,
    hookimpl,
    install_named_root,
)
from synco_django import interpreter, media
from synco_django.databases import sanitize_profile, split_databases, user_table
from synco_django.project import enclosing_project, find_settings_module, is_django
from synco_django.settings import dotenv, environment, read_settings

log = logging.getLogger(__name__)

PLUGIN = "django"
#: Folders commonly served as the document root, when ``STATIC_ROOT`` cannot be the web root.
WEB_ROOT_GUESSES = ("public", "htdocs", "public_html", "www", "web")
_WHITENOISE = "whitenoise.middleware.WhiteNoiseMiddleware"


def choose_web_root(project_dir: Path, values: dict[str, Any]) -> tuple[Path | None, str]:
    """The folder sessions are published in, and the URL path it is served at.

    ``STATIC_ROOT`` is what every production Django site serves (``collectstatic`` fills it, the web server
    or WhiteNoise serves it at ``STATIC_URL``), so a session put there is reachable below ``STATIC_URL``.
    Without one (or with static files on another host), a conventional document root of the project is
    taken as served at ``/``; ``serve.web_root`` in ``.synco.yml`` overrides either.
    """
    static_root = values.get("STATIC_ROOT")
    static_url = str(values.get("STATIC_URL") or "/static/")
    if static_root and not static_url.startswith(("http://", "https://", "//")):
        path = Path(str(static_root))
        return (path if path.is_absolute() else project_dir / path), media.url_path(static_url)
    for name in WEB_ROOT_GUESSES:
        if (project_dir / name).is_dir():
            return project_dir / name, "/"
    return None, "/"


@hookimpl
def detect_framework(project_dir: Path, side: str) -> Framework | None:
    if not is_django(project_dir):
        enclosing = enclosing_project(project_dir, os.environ)
        if enclosing is not None:
            # The core's refusal ("no framework detected ... pass --framework") would not help here.
            log.warning("%s is inside the Django project %s (manage.py is there): run synco in that folder "
                        "(or pass it as the project)", project_dir, enclosing)
        return None
    environ = dict(os.environ)
    dotenv_values = dotenv(project_dir, environ)
    module = find_settings_module(project_dir, environ, side, dotenv_values)
    if module is None:
        log.debug("manage.py found in %s, but no settings module whose file exists", project_dir)
        return None
    settings = read_settings(project_dir, module, environ, environment(project_dir, environ, dotenv_values))
    for note in settings.notes:
        # Said, not only kept: a database taken from DATABASE_URL instead, or none at all, is otherwise silent.
        log.warning("Django settings %s: %s", module.name, note)
    source = "the settings" if settings.source == "python" else "the settings files"
    database, named, unusable = split_databases(settings.databases, project_dir, source)
    if "default" in unusable:
        log.warning("Django database 'default' is %s", unusable["default"])
    media.register_s3_secrets(settings.values)
    values = {name: value for name, value in settings.values.items() if name != "DATABASES"}
    web_root, web_root_url = choose_web_root(project_dir, values)
    if side == "source" and _WHITENOISE in (settings.get("MIDDLEWARE") or ()) and web_root_url != "/":
        log.warning("WhiteNoise serves STATIC_ROOT from a list it makes at start-up: a session published there "
                    "is not served; use serve --listen, or set serve.web_root in .synco.yml")
    python = settings.python or next((found for found, _ in interpreter.candidates(project_dir)), "python3")
    version = f" {settings.django_version}" if settings.django_version else ""
    return Framework(
        name="Django",
        plugin=PLUGIN,
        project_dir=project_dir,
        database=database,
        databases=named,
        web_root=web_root,
        public_prefixes=(web_root_url.rstrip("/"),) if web_root_url != "/" else (),
        reason=f"manage.py and the settings module {module.name} (from {module.source}) found; "
               f"Django{version} settings read with {settings.how}",
        # Reported, never applied: migrate --check only says whether the copy's schema is behind the code.
        post_install=[[python, "manage.py", "migrate", "--check"]],
        # What the settings were read with: .env (which wsgi.py, a service's EnvironmentFile or Docker's
        # env_file may load in production, not manage.py) under the real environment, and the settings module
        # found (which may come from .env, or differ from manage.py's default).
        post_install_env={**{name: value for name, value in dotenv_values.items() if name not in environ},
                          "DJANGO_SETTINGS_MODULE": module.name},
        settings={
            "settings_module": module.name,
            "django_version": settings.django_version,
            "values": values,
            "web_root_url": web_root_url,
            "static_root": str(web_root) if web_root_url != "/" else None,
            "storage_roots": media.storage_roots(values, project_dir),
            "user_tables": list(dict.fromkeys(["auth_user", user_table(values.get("AUTH_USER_MODEL"))])),
            "connections": unusable,
            "notes": settings.notes,
        },
        config_source=settings.source,
    )


@hookimpl
def default_dump_options(framework: Framework, inventory: DatabaseInventory | None) -> DumpOptions | None:
    """Sessions and the admin log without rows, users anonymised (the core keeps the tables that exist)."""
    if framework.plugin != PLUGIN:
        return None
    return sanitize_profile(tuple(framework.settings.get("user_tables") or ("auth_user",)), inventory)


@hookimpl
def list_file_sets(framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
    if framework.plugin != PLUGIN:
        return None
    static_root = framework.settings.get("static_root")
    # The web root may come from .synco.yml (served at /) instead of STATIC_ROOT (served at STATIC_URL).
    web_root_url = (str(framework.settings.get("web_root_url") or "/")
                    if static_root and framework.web_root == Path(static_root) else "/")
    return media.file_sets(framework.settings.get("values") or {}, framework.project_dir, framework.web_root,
                           web_root_url, options)


@hookimpl
def install_files(framework: Framework, file_set: ReceivedFileSet, source_dir: Path) -> FilesInstallResult | None:
    """Put a received storage where the local project's storage of the same name keeps its files."""
    if framework.plugin != PLUGIN:
        return None
    roots = {name: Path(root) for name, root in (framework.settings.get("storage_roots") or {}).items()}
    # A set that is not a storage of this project (an extra set from .synco.yml) gets None: the core's
    # default places it.
    log.debug("installing file set %s into %s", file_set.name, roots.get(file_set.name))
    return install_named_root(roots, file_set.name, source_dir)
