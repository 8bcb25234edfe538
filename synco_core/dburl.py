"""Parsing ``DATABASE_URL`` strings into :class:`~synco_core.DatabaseConfig`.

Accepts the forms frameworks use: ``mysql://user:pw@host:3306/name``, ``mariadb://``,
``postgresql://``, ``postgres://``, ``pgsql://``, ``sqlite:///relative.db`` and
``sqlite:////absolute.db``, URL-encoded user names and passwords, ``?unix_socket=`` / ``?host=/run/...``
for sockets, credentials and the server given in the query (:mod:`synco_core.dburlquery`); also the
spellings of dj-database-url (``postgis://``, ``mysqlgis://``, ``spatialite://`` ...), Active Record
(``mysql2://``, ``trilogy://``, ``sqlite3://``) and SQLAlchemy (``postgresql+psycopg://``,
``mysql+pymysql://``: the ``+driver`` part is dropped). This is the one place they are mapped: every plugin
and ``SYNCO_DATABASE_URL`` go through it. Unknown schemes are kept as the engine name, so a third-party
engine plugin can claim them.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from synco_core.dburlquery import lift, port_of, query_items
from synco_core.errors import ConfigError
from synco_core.redaction import printable, register_secret
from synco_core.urluserinfo import split_userinfo
from synco_core.values import DatabaseConfig, is_secret_option

#: Scheme and driver aliases (Doctrine/PDO, Laravel, Active Record adapters, dj-database-url, JDBC-flavoured
#: Rails), mapped to the engine names the built-in engines answer to. The GIS and TimescaleDB spellings are
#: the same servers with an extension, which synco carries like any other.
ENGINE_ALIASES = {
    "mysql": "mysql",
    "mysql2": "mysql",
    "mysqli": "mysql",
    "pdo_mysql": "mysql",
    "mariadb": "mysql",
    "mysqlgis": "mysql",
    "mysql-connector": "mysql",
    "trilogy": "mysql",
    "jdbcmysql": "mysql",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "pgsql": "postgresql",
    "pdo_pgsql": "postgresql",
    "postgis": "postgresql",
    "timescale": "postgresql",
    "timescalegis": "postgresql",
    "jdbcpostgresql": "postgresql",
    "sqlite": "sqlite",
    "sqlite3": "sqlite",
    "pdo_sqlite": "sqlite",
    "spatialite": "sqlite",
    "jdbcsqlite3": "sqlite",
}


def normalise_engine(name: str) -> str:
    """The engine name for a scheme or driver name (``pdo_mysql`` -> ``mysql``, ``postgresql+psycopg`` ->
    ``postgresql``)."""
    key = name.lower().split("+", 1)[0]
    return ENGINE_ALIASES.get(key, key)


def parse_database_url(url: str, *, base_dir: Path | None = None, source: str = "",
                       beside: DatabaseConfig | None = None) -> DatabaseConfig:
    """Parse ``url``; relative SQLite paths are resolved against ``base_dir`` (default: the cwd).

    ``beside`` is what a framework's settings next to the URL say (Laravel's ``url`` with ``DB_DATABASE``,
    Active Record's ``DATABASE_URL`` over ``database.yml``, DBAL's ``url`` with ``dbname``): each of them
    parses the URL and keeps the separate settings for what the URL leaves out, the database name included
    (``mysql://app:pw@db:3306`` with ``DB_DATABASE=shop`` is ``shop``). What the URL says always wins.
    """
    if beside is not None and normalise_engine(url.partition("://")[0]) != "sqlite":
        return _fill(_parse(url, base_dir=base_dir, source=source, name_required=False), beside, url)
    return _parse(url, base_dir=base_dir, source=source, name_required=True)


def _fill(parsed: DatabaseConfig, beside: DatabaseConfig, url: str) -> DatabaseConfig:
    """``parsed`` with what it leaves out taken from ``beside``; a URL's socket keeps the settings' host out."""
    filled = parsed.replace(
        name=parsed.name or beside.name,
        host=parsed.host or (None if parsed.socket else beside.host),
        port=parsed.port or beside.port,
        user=parsed.user if parsed.user is not None else beside.user,
        password=parsed.password if parsed.password is not None else beside.password,
        socket=parsed.socket or (None if parsed.host else beside.socket),
        options={**beside.options, **parsed.options},
    )
    if not filled.name:
        raise ConfigError(f"database URL names no database, nor do the settings beside it: {_mask(url)}")
    return filled


def _parse(url: str, *, base_dir: Path | None, source: str, name_required: bool) -> DatabaseConfig:
    if "://" not in url:
        raise ConfigError("not a database URL (expected scheme://...): " + _mask(url))
    if any(not char.isprintable() for char in url):
        # A NUL or a line break written into a YAML string ("\0"): a file name or a host no system takes, which
        # failed only when first opened, or was shown in a plan as something else. Encode it (%00) if meant.
        raise ConfigError("database URL holds a control character or a byte that is not text: "
                          + printable(_mask(url)))
    scheme, rest = url.split("://", 1)
    engine = normalise_engine(scheme)
    if not engine:
        raise ConfigError("database URL has no scheme")
    if engine == "sqlite":
        # sqlite:///relative.db -> "relative.db"; sqlite:////abs.db -> "/abs.db"; sqlite:///:memory:
        path_part, _, query = rest.partition("?")
        if path_part.startswith("/"):
            path_part = path_part[1:]
        path_part = unquote(path_part)
        if not path_part:
            raise ConfigError("sqlite URL names no file: " + url)
        path = Path(path_part)
        if path_part != ":memory:" and not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        return DatabaseConfig(engine="sqlite", name=str(path), options=dict(parse_qsl(query)), source=source)

    userinfo, hostpart = split_userinfo(rest)
    user: str | None = None
    password: str | None = None
    if userinfo is not None:
        raw_user, colon, raw_password = userinfo.partition(":")
        user = unquote(raw_user)
        password = unquote(raw_password) if colon else None
    register_secret(password)
    try:
        parts = urlsplit(f"{engine}://{hostpart}")
    except ValueError as exc:
        # An unbalanced "[" (urllib takes it for an IPv6 address): one line, not a plugin's traceback.
        raise ConfigError(f"database URL has an invalid host ({exc}): {_mask(url)}") from exc
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"database URL has an invalid port: {_mask(url)}") from exc
    if port == 0:
        # No server listens there; what reads as one is most often a password with an unencoded "/" in it.
        raise ConfigError(f"database URL has an invalid port (0): {_mask(url)}")
    options = query_items(engine, parts.query)
    socket = options.pop("unix_socket", None) or options.pop("socket", None)
    host = unquote(parts.hostname) if parts.hostname else None
    if not socket and options.get("host", "").startswith("/"):
        socket = options.pop("host")
    if host and host.startswith("/"):
        # A URL-encoded socket path in the host position (mysql://u@%2Frun%2Fmysqld.sock/db).
        socket, host = host, None
    name = unquote(parts.path.lstrip("/"))
    try:
        lifted = lift(engine, options, {"user": user, "password": password, "host": host,
                                        "port": str(port) if port else None, "name": name})
        port = port_of(lifted["port"]) if "port" in lifted else port
    except ConfigError as exc:
        raise ConfigError(f"{exc}: {_mask(url)}") from None
    user, password = lifted.get("user", user), lifted.get("password", password)
    host, name = lifted.get("host", host), lifted.get("name", name)
    if not name and name_required:
        raise ConfigError(f"database URL names no database: {_mask(url)}")
    return DatabaseConfig(
        engine=engine,
        name=name,
        host=host,
        port=port,
        user=user,
        password=password,
        socket=socket,
        options=options,
        source=source,
    )


#: ``key=value`` in a URL's query (or what may be one, in a URL being refused).
_QUERY_ITEM = re.compile(r"(?<=[?&])([^=&#?]*)=([^&#]*)")


def _mask(url: str) -> str:
    """``url`` with any password replaced (also one given as ``?password=``), for error messages."""
    url = _QUERY_ITEM.sub(lambda m: f"{m[1]}=***" if is_secret_option(unquote(m[1])) else m[0], url)
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    if "@" not in rest:
        return url
    # The URL is being refused, so how it splits is in doubt: everything up to its last "@" may be password
    # (p@ss:w?rd), and none of it is shown.
    userinfo, _, hostpart = rest.rpartition("@")
    if ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{hostpart}"
