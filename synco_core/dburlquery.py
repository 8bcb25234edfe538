"""Connection settings a database URL gives in its query: ``?password=``, ``?user=``, ``?host=``, ``?port=``.

libpq takes each of its keywords in a URI's query (``postgresql://u@127.0.0.1/db?password=x``, what ``psql``
accepts), and MySQL URLs carry the names the drivers use (PyMySQL's ``passwd`` and ``db``, Rails'
``username``). Left among the driver options, nothing read them: the connection went without the password,
as another user or to another server than the URL said. Here they become the config's own fields, so that
every engine connects with them and ``detect``, the local-database checks and the messages see them; a
setting given twice with two values, or one synco cannot follow, is refused in one line naming its key.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, unquote

from synco_core.errors import ConfigError

#: Per engine, the fields of :class:`~synco_core.DatabaseConfig` and the query keys that set each.
FIELD_KEYS: dict[str, dict[str, tuple[str, ...]]] = {
    "postgresql": {"user": ("user",), "password": ("password",), "host": ("host",), "port": ("port",),
                   "name": ("dbname",)},
    "mysql": {"user": ("user", "username"), "password": ("password", "passwd"), "host": ("host",),
              "port": ("port",), "name": ("database", "db")},
}

#: libpq keywords that say which server to reach without synco knowing it: it decides from the host whether a
#: database is this machine's (``db load`` replaces only those without ``--force-remote-target``).
REFUSED = {
    "postgresql": {
        "hostaddr": "connects to an address other than the host the URL names",
        "service": "takes the server from pg_service.conf",
    },
}


def query_items(engine: str, query: str) -> dict[str, str]:
    """The query's keys and values. For PostgreSQL as libpq reads them: only ``%xx`` is decoded, so a ``+`` in a
    password stays a ``+``; for the others as URL forms are read (``+`` is a space), as their libraries do."""
    if engine != "postgresql":
        return dict(parse_qsl(query, keep_blank_values=True))
    items: dict[str, str] = {}
    for pair in query.split("&"):
        if pair:
            key, _, value = pair.partition("=")
            items[unquote(key)] = unquote(value)
    return items


def lift(engine: str, options: dict[str, str], given: dict[str, str | None]) -> dict[str, str]:
    """Take the settings of the config's own fields out of ``options`` (the URL's query), for ``engine``.

    ``given`` holds what the rest of the URL says for each field (None: nothing). Returns the fields the query
    sets; a field the query and the rest of the URL both give, with two values, is refused.
    """
    for key, reason in REFUSED.get(engine, {}).items():
        if options.get(key):
            raise ConfigError(f"database URL option ?{key}= is not supported: it {reason}; name the host, port "
                              "and database in the URL")
    if engine == "postgresql" and options.get("ssl", "").lower() == "true" and "sslmode" not in options:
        # libpq reads JDBC's ssl=true as sslmode=require.
        options["sslmode"] = "require"
    fields: dict[str, str] = {}
    for field, keys in FIELD_KEYS.get(engine, {}).items():
        found = [(key, options.pop(key)) for key in keys if key in options]
        values = {value for _, value in found if value}
        if not values:
            continue
        named = " and ".join(f"?{key}=" for key, _ in found)
        shown = "" if field == "password" else ": " + ", ".join(sorted(values | {given[field] or ""} - {""}))
        if len(values) > 1 or (given[field] and given[field] not in values):
            where = named if len(values) > 1 else f"{_PLACES[field]} and {named}"
            raise ConfigError(f"database URL gives the {_what(field)} twice, with different values ({where}){shown}")
        fields[field] = values.pop()
    return fields


#: Where the rest of a URL gives each field.
_PLACES = {"user": "user@", "password": "user:password@", "host": "the host", "port": "host:port",
           "name": "the path"}


def _what(field: str) -> str:
    return "database name" if field == "name" else "user name" if field == "user" else field


def port_of(value: str) -> int:
    """A ``?port=`` value as a port number, or a one-line error."""
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError(f"database URL has an invalid port in ?port=: {value!r}")
    return int(value)


def url_query_keys_as(url: str, keys: Mapping[str, str | None]) -> str:
    """``url`` with the query keys a framework reads under other names renamed (``{"username": "user"}``) and
    those it never reads left out (``{"passwd": None}``), so that synco connects by what the framework merges
    from the query (Laravel's ``ConfigurationUrlParser``, Doctrine's DSN parser), not by every name drivers
    know. Every other byte of the URL is kept."""
    base, separator, rest = url.partition("?")
    if not separator:
        return url
    query, hash_mark, fragment = rest.partition("#")
    kept = []
    for piece in query.split("&"):
        key, equals, value = piece.partition("=")
        name = unquote(key)
        if name not in keys:
            kept.append(piece)
        elif keys[name] is not None:
            kept.append(f"{keys[name]}{equals}{value}")
    return base + (("?" + "&".join(kept)) if kept else "") + hash_mark + fragment
