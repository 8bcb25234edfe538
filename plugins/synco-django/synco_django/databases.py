"""Django's ``DATABASES`` as synco's :class:`~synco_core.DatabaseConfig`, and Django's sanitising profile.

Every alias is read: ``default`` is the database a session dumps, the other usable ones become the
framework's named databases (``serve --only dbDump-<alias>``), and those synco cannot dump (Oracle, SQL
Server, an in-memory SQLite) are listed with the reason. The engines are recognised by the backend's
module path, so GeoDjango's (``django.contrib.gis.db.backends.postgis``), django-prometheus' and other
wrappers of the three built-in backends count too.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synco_core import (
    ConfigError,
    DatabaseConfig,
    DatabaseInventory,
    DumpOptions,
    SanitizeRule,
    address_masked,
    credential_columns,
    normalise_engine,
    parse_database_url,
    quote_name,
    register_secret,
    tables_with_columns,
)
from synco_django.static import DatabaseUrl, is_known, is_unknown, why_unknown
from synco_django.urlsettings import url_settings

log = logging.getLogger(__name__)

#: The hash every sanitised account gets: Django's PBKDF2-SHA256 hash of the word ``password`` (600,000
#: iterations, the salt ``syncosanitised``), so every account of the copy logs in locally with "password".
#: Django verifies it whatever its own default iteration count, and rehashes it on the first login when
#: that count differs.
PASSWORD_HASH = "pbkdf2_sha256$600000$syncosanitised$KqXA/Gm1/KL5lLVdhQ8/0ABfB9kfw3MeX+r9JzcfxgQ="

#: Tables whose rows never travel: sessions (logged-in users' keys), the admin's change log (who changed
#: what, with the objects' text representations), and the live credentials the usual authentication apps
#: keep: Django REST framework's tokens (the key is the token), django-allauth's OAuth tokens of the users'
#: social accounts, django-otp's two-factor devices (without them the copy logs in with the password
#: alone), and the tokens django-oauth-toolkit issued, which it stores as they are.
NO_ROWS_TABLES = (
    "django_session",
    "django_admin_log",
    "authtoken_token",
    "socialaccount_socialtoken",
    "otp_totp_totpdevice",
    "otp_static_statictoken",
    "otp_static_staticdevice",
    "otp_email_emaildevice",
    "oauth2_provider_accesstoken",
    "oauth2_provider_refreshtoken",
    "oauth2_provider_grant",
    "oauth2_provider_idtoken",
    # django-allauth's pending e-mail confirmation keys, allauth.mfa's TOTP secrets and recovery codes (the
    # copy logs in with the password alone) and allauth.usersessions' record of sessions (address, browser).
    "account_emailconfirmation",
    "mfa_authenticator",
    "usersessions_usersession",
    # django-two-factor-auth's phones (numbers and secrets) and django-otp's HOTP devices.
    "two_factor_phonedevice",
    "otp_hotp_hotpdevice",
    # django-rest-knox's tokens and Simple JWT's record of the refresh tokens it issued (the whole token);
    # the blacklist points at that record, so it goes with it.
    "knox_authtoken",
    "token_blacklist_outstandingtoken",
    "token_blacklist_blacklistedtoken",
    # Wagtail's API tokens (6.x and later): an HMAC of each bearer token under SECRET_KEY, so a copy sharing
    # the key accepts production's tokens; like knox's digests, they stay on the server.
    "wagtailcore_apitoken",
    # django-axes' record of login attempts: usernames, addresses, browsers and the submitted form.
    "axes_accessattempt",
    "axes_accesslog",
    "axes_accessfailurelog",
    # django-celery-results: the tasks' arguments and results (addresses, API payloads).
    "django_celery_results_taskresult",
    "django_celery_results_groupresult",
    # django-silk's recorded requests and responses (headers with cookies, bodies, queries with their values),
    # and the tables that point at them.
    "silk_request",
    "silk_response",
    "silk_sqlquery",
    "silk_profile",
    "silk_profile_queries",
    # django-post-office's queued and sent mails (recipients, bodies, the templates' context), their delivery
    # log and attachment links.
    "post_office_email",
    "post_office_log",
    "post_office_attachment_emails",
)

#: Column rewrites of the authentication apps' tables: django-allauth's addresses of an account (unique per
#: account and address: made from the row's id) and the profile a provider sent for a social account.
APP_RULES = (
    ("account_emailaddress", "email", "email"),
    ("socialaccount_socialaccount", "extra_data", "fixed:{}"),
    # The person's id at the provider (their Google or GitHub account), UNIQUE with the provider: hashed.
    ("socialaccount_socialaccount", "uid", "hash"),
    # Wagtail's form submissions: everything a visitor typed into a form page (a JSON object).
    ("wagtailforms_formsubmission", "form_data", "fixed:{}"),
    # Credentials of the site itself, in rows the application needs (social tokens and OAuth grants point at
    # them): a provider app's client secret and its settings (since allauth 0.55: Apple's private key, a
    # JSONField that defaults to {}), and django-oauth-toolkit's client secrets (plain before 2.0). The keyed
    # hash makes them unusable; local ones are set in the admin.
    ("socialaccount_socialapp", "secret", "hash"),
    ("socialaccount_socialapp", "settings", "fixed:{}"),
    ("oauth2_provider_application", "client_secret", "hash"),
    # Earlier states of records, which the rules of the records' own tables never see: django-reversion's
    # serialized versions and django-auditlog's changes (with the client's address).
    ("reversion_version", "serialized_data", "fixed:[]"),
    ("reversion_version", "object_repr", "fixed:"),
    ("auditlog_logentry", "changes", "fixed:{}"),
    ("auditlog_logentry", "changes_text", "fixed:"),
    ("auditlog_logentry", "object_repr", "fixed:"),
    ("auditlog_logentry", "remote_addr", "null"),
    ("auditlog_logentry", "additional_data", "null"),
)


def historical_tables(table: str) -> list[str]:
    """The tables django-simple-history may keep a user table's history in: ``<app>_historical<model>``
    (``auth_user`` -> ``auth_historicaluser``). An app label may hold underscores, so every split is named;
    the core drops those the database does not have."""
    parts = table.split("_")
    return [f"{'_'.join(parts[:i])}_historical{'_'.join(parts[i:])}" for i in range(1, len(parts))]

#: Column rewrites of a user table (``auth_user`` or the custom ``AUTH_USER_MODEL``'s).
USER_RULES = (
    ("email", "email"),
    ("password", f"fixed:{PASSWORD_HASH}"),
    ("first_name", "fixed:Firstname"),
    ("last_name", "fixed:Lastname"),
    # A custom user model's single name field (cookiecutter-django's ``users.User.name``).
    ("name", "fixed:Demo User"),
)
#: Login names, masked as the address is when they hold one (sites that log in by e-mail address often copy
#: it into ``username``, which is UNIQUE: the row's id keeps it so).
LOGIN_COLUMNS = ("username",)

def engine_of(backend: str) -> str | None:
    """synco's engine for a Django backend's module path, or None when synco has no engine for it."""
    lowered = backend.lower()
    if "postgis" in lowered or "postgres" in lowered or "psycopg" in lowered:
        return "postgresql"
    if "mysql" in lowered or "mariadb" in lowered:
        return "mysql"
    if "sqlite" in lowered or "spatialite" in lowered:
        return "sqlite"
    return None


def _text(value: Any) -> str | None:
    if value is None or is_unknown(value) or value == "":
        return None
    return str(value)


def _port(alias: str, value: Any) -> int | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"Django database {alias!r}: PORT is not a number: {text!r}") from None


def url_config(url: str, project_dir: Path, source: str) -> DatabaseConfig:
    """A dj-database-url URL (``postgres://``, ``pgsql://``, ``postgis://``, ``mysql://``, ``sqlite:////abs``);
    the core parser knows dj-database-url's scheme spellings."""
    return parse_database_url(url, base_dir=project_dir, source=source)


def database_config(alias: str, entry: Any, project_dir: Path, source: str) -> DatabaseConfig:
    """The :class:`DatabaseConfig` of one ``DATABASES`` entry; a one-line ConfigError when synco cannot use it."""
    label = f"{source} (DATABASES[{alias!r}])"
    if not is_known(entry):
        reason = why_unknown(entry)
        raise ConfigError(f"Django database {alias!r} could not be worked out without running the settings"
                          + (f": {reason}" if reason else ""))
    if isinstance(entry, DatabaseUrl):
        if normalise_engine(entry.url.partition(":")[0]) in ("postgresql", "mysql"):
            # The settings the URL's library makes, the module's own over them, read as any DATABASES entry.
            made = url_settings(entry.url, entry.reader, alias)
            options = entry.settings.get("OPTIONS")
            entry = {**made, **entry.settings,
                     "OPTIONS": {**made["OPTIONS"], **(options if isinstance(options, Mapping) else {})}}
        else:
            config = url_config(entry.url, project_dir, label)
            if config.engine not in ("postgresql", "mysql", "sqlite"):
                raise ConfigError(f"Django database {alias!r}: {config.engine} databases are not supported")
            return _with_settings(alias, config, entry.settings, project_dir) if entry.settings else config
    if not isinstance(entry, Mapping):
        raise ConfigError(f"Django database {alias!r} is not a dict of settings")
    password = _text(entry.get("PASSWORD"))
    register_secret(password)
    backend = _text(entry.get("ENGINE")) or ""
    engine = engine_of(backend)
    if engine is None:
        raise ConfigError(f"Django database {alias!r}: the backend {backend or '(none)'} is not supported "
                          "(PostgreSQL, MySQL/MariaDB and SQLite are)")
    name = _text(entry.get("NAME"))
    if engine == "sqlite":
        if name is None or name == ":memory:" or name.startswith("file::memory:"):
            raise ConfigError(f"Django database {alias!r} is an in-memory SQLite database")
        path = Path(name)
        # Django opens a relative SQLite path from the working directory, which manage.py and the
        # application servers keep at the project.
        return DatabaseConfig(engine="sqlite", name=str(path if path.is_absolute() else project_dir / path),
                              source=label)
    options = entry.get("OPTIONS")
    return _connection(alias, engine, entry, options if isinstance(options, Mapping) else {}, label)


def _connection(alias: str, engine: str, entry: Mapping[str, Any], options: Mapping[str, Any],
                label: str) -> DatabaseConfig:
    """A PostgreSQL or MySQL entry as Django's backend connects with it, ``OPTIONS`` included.

    PostgreSQL: ``OPTIONS`` go to libpq under ``dbname`` (which wins over ``NAME``), and ``USER``,
    ``PASSWORD``, ``HOST`` and ``PORT`` win over its ``user``, ``password``, ``host`` and ``port`` when they
    are not empty. MySQL: ``OPTIONS`` win over everything (mysqlclient's ``db`` over ``database``, ``passwd``
    over ``password``), and the socket counts only when the host is ``localhost`` or not given.
    """
    def option(*keys: str) -> str | None:
        return next((value for key in keys if (value := _text(options.get(key))) is not None), None)

    name, user = _text(entry.get("NAME")), _text(entry.get("USER"))
    password, host, port = _text(entry.get("PASSWORD")), _text(entry.get("HOST")), _text(entry.get("PORT"))
    socket = None
    if engine == "postgresql":
        if option("hostaddr"):
            raise ConfigError(f"Django database {alias!r}: OPTIONS['hostaddr'] is not supported: it connects to an "
                              "address other than the host; name the host in HOST")
        name = option("dbname") or name
        user, password = user or option("user"), password or option("password")
        host, port = host or option("host"), port or option("port")
        if host is not None and host.startswith("/"):
            # A path as the host is the server's socket folder, as libpq takes it.
            socket, host = host, None
    else:
        if host is not None and host.startswith("/"):
            socket, host = host, None
        name = option("db", "database") or name
        user, password = option("user") or user, option("passwd", "password") or password
        host, port = option("host") or host, option("port") or port
        socket = option("unix_socket") or socket
        if socket and host and host != "localhost":
            # libmysqlclient takes the socket only for localhost: with another host it connects over TCP.
            socket = None
        elif socket:
            host = None
    if name is None:
        raise ConfigError(f"Django database {alias!r} names no database (NAME)")
    register_secret(password)
    return DatabaseConfig(engine=engine, name=name, host=host, port=_port(alias, port), user=user,
                          password=password, socket=socket, options=_driver_options(alias, engine, options),
                          source=label)


def _with_settings(alias: str, config: DatabaseConfig, settings: Mapping[str, Any],
                   project_dir: Path) -> DatabaseConfig:
    """``config`` (a URL's) with the Django settings the module gave over it: ``DATABASES["default"]["NAME"]
    = ...`` after ``dj_database_url.config()``, or the ``OPTIONS`` of the dict the URL was merged into."""
    changes: dict[str, Any] = {}
    engine = config.engine
    backend = _text(settings.get("ENGINE"))
    if backend is not None:
        engine = engine_of(backend) or ""
        if not engine:
            raise ConfigError(f"Django database {alias!r}: the backend {backend} is not supported "
                              "(PostgreSQL, MySQL/MariaDB and SQLite are)")
        changes["engine"] = engine
    if "NAME" in settings:
        name = _text(settings["NAME"])
        if name is None:
            raise ConfigError(f"Django database {alias!r} names no database (NAME)")
        if engine == "sqlite" and not Path(name).is_absolute() and name != ":memory:":
            name = str(project_dir / name)
        changes["name"] = name
    if "USER" in settings:
        changes["user"] = _text(settings["USER"])
    if "PASSWORD" in settings:
        changes["password"] = _text(settings["PASSWORD"])
        register_secret(changes["password"])
    if "HOST" in settings:
        host = _text(settings["HOST"])
        # A path as HOST is the server's socket (MySQL) or its folder (PostgreSQL), as Django passes it on.
        changes["host"], changes["socket"] = (None, host) if host and host.startswith("/") else (host, None)
    if "PORT" in settings:
        changes["port"] = _port(alias, settings["PORT"])
    options = settings.get("OPTIONS")
    if isinstance(options, Mapping):
        if engine == "mysql" and _text(options.get("unix_socket")):
            changes["socket"] = _text(options.get("unix_socket"))
        changes["options"] = {**config.options, **_driver_options(alias, engine, options)}
    return dataclasses.replace(config, **changes)


def _driver_options(alias: str, engine: str, options: Mapping[str, Any]) -> dict[str, str]:
    """The ``OPTIONS`` synco's engines understand: TLS files and modes, the character set."""
    result: dict[str, str] = {}
    if engine == "postgresql":
        for key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "options"):
            if _text(options.get(key)):
                result[key] = str(options[key])
    else:
        ssl = options.get("ssl")
        if isinstance(ssl, Mapping):
            for key in ("ca", "cert", "key"):
                if _text(ssl.get(key)):
                    result[f"ssl_{key}"] = str(ssl[key])
        mode = _text(options.get("ssl_mode"))
        if mode:
            result["sslmode"] = mode.lower()
        if _text(options.get("charset")):
            result["charset"] = str(options["charset"])
    for key in ("read_default_file", "service", "passfile"):
        if _text(options.get(key)):
            # Credentials in a client option file (my.cnf, pg_service.conf, .pgpass) are the driver's to read.
            log.warning("Django database %r: OPTIONS[%r] is not read by synco; put the settings in DATABASES",
                        alias, key)
    return result


def split_databases(databases: Mapping[str, Any], project_dir: Path, source: str) -> tuple[
        DatabaseConfig | None, dict[str, DatabaseConfig], dict[str, str]]:
    """``(default, the other usable aliases, the unusable ones with why)`` of ``DATABASES``."""
    default: DatabaseConfig | None = None
    named: dict[str, DatabaseConfig] = {}
    unusable: dict[str, str] = {}
    for alias in sorted(databases, key=lambda a: a != "default"):
        try:
            config = database_config(str(alias), databases[alias], project_dir, source)
        except ConfigError as exc:
            unusable[str(alias)] = f"unusable: {exc}"
            continue
        if alias == "default":
            default = config
        else:
            named[str(alias)] = config
    return default, named, unusable


def user_table(auth_user_model: Any) -> str:
    """The table of ``AUTH_USER_MODEL`` (``accounts.User`` -> ``accounts_user``), as Django names it unless
    the model sets ``db_table``."""
    text = _text(auth_user_model) or "auth.User"
    app_label, _, model = text.partition(".")
    return f"{app_label}_{model}".lower() if model else "auth_user"


def sanitize_profile(user_tables: tuple[str, ...] = ("auth_user",),
                     inventory: DatabaseInventory | None = None) -> DumpOptions:
    """Django's default dump options: sessions, the admin log and credentials without rows, users anonymised.

    Every table of the profile is named (a custom user model's besides ``auth_user``); the core leaves
    out the ones the database does not have. Login names are masked in the user tables ``inventory`` shows
    with an ``id`` (the masked address is made from it).
    """
    tables = [*user_tables, *(history for table in user_tables for history in historical_tables(table))]
    rules = tuple(SanitizeRule(table=table, column=column, transform=transform)
                  for table in dict.fromkeys(tables) for column, transform in USER_RULES)
    if inventory is not None:
        engine = inventory.engine
        # Credentials an application adds to its user model (an API token, an OAuth provider's tokens): NULL.
        found_tables = tables_with_columns(inventory, ())
        rules += tuple(SanitizeRule(table=table, column=column, transform="null")
                       for table in dict.fromkeys(tables) if table in found_tables
                       for column in credential_columns(found_tables[table]))
        for column in LOGIN_COLUMNS:
            found = tables_with_columns(inventory, (column, "id"))
            rules += tuple(SanitizeRule(table=table, column=column, label="user<id>@example.invalid if an e-mail "
                                        "address", expression=address_masked(engine, quote_name(engine, column),
                                                                             quote_name(engine, "id")))
                           for table in dict.fromkeys(tables) if table in found)
    rules += tuple(SanitizeRule(table=table, column=column, transform=transform)
                   for table, column, transform in APP_RULES)
    return DumpOptions(exclude_tables=NO_ROWS_TABLES, sanitize=rules)
