"""A ``DATABASE_URL`` as the Django settings its library makes of it: dj-database-url's ``parse()`` or
django-environ's ``Env.db_url_config()``.

Both put the URL's query into ``OPTIONS`` (the key and the value decoded as a form is: ``%xx``, and ``+`` is a
space; a blank value dropped), where the backend reads it as it reads any ``OPTIONS``; they differ on a
repeated key: dj-database-url keeps the last, django-environ the first. django-environ also decodes ``+`` in
the database name. The settings go through the same reading as a ``DATABASES`` dict
(:func:`synco_django.databases.database_config`), so a URL's ``?user=`` counts where Django's backend counts it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, unquote_plus, urlsplit

from synco_core import ConfigError, mask_url_passwords, normalise_engine

#: The backend each engine's URL names (what :func:`synco_django.databases.engine_of` recognises).
BACKENDS = {"postgresql": "django.db.backends.postgresql", "mysql": "django.db.backends.mysql"}

#: django-environ's query keys that are settings of their own, not ``OPTIONS``.
ENVIRON_SETTINGS = ("CONN_MAX_AGE", "ATOMIC_REQUESTS", "AUTOCOMMIT", "DISABLE_SERVER_SIDE_CURSORS",
                    "CONN_HEALTH_CHECKS")


def url_settings(url: str, reader: str, alias: str) -> dict[str, Any]:
    """The ``DATABASES`` entry ``reader`` (``dj-database-url`` or ``django-environ``) makes of a PostgreSQL or
    MySQL ``url``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"Django database {alias!r}: its URL has an invalid host or port ({exc}): "
                          f"{mask_url_passwords(url)}") from None
    engine = normalise_engine(parts.scheme)
    hostname = parts.hostname or ""
    if "%" in hostname:
        # A percent-encoded socket path: the netloc keeps its case, then it is decoded.
        hostname = unquote(parts.netloc.rsplit("@", 1)[-1])
    query = parse_qs(parts.query)
    options: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    for key, values in query.items():
        value = values[0] if reader == "django-environ" else values[-1]
        if reader == "django-environ" and key.upper() in ENVIRON_SETTINGS:
            settings[key.upper()] = value
        elif reader != "django-environ" and parts.scheme == "mysql" and key == "ssl-ca":
            options["ssl"] = {"ca": value}
        else:
            options[key] = int(value) if value.isdigit() else value
    if reader != "django-environ" and "currentSchema" in options and engine == "postgresql":
        options["options"] = f"-c search_path={options.pop('currentSchema')}"
    path = parts.path[1:]
    name = unquote_plus(path) if reader == "django-environ" else unquote(path)
    if reader == "django-environ" and engine == "postgresql" and name.startswith("/"):
        # postgres:////var/run/postgresql/shop: the socket folder, then the database.
        hostname, name = name.rsplit("/", 1)
    return {
        **settings,
        "ENGINE": BACKENDS.get(engine, engine),
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": hostname,
        "PORT": port or "",
        "OPTIONS": options,
    }
