"""Turning Laravel database connections into :class:`~synco_core.DatabaseConfig`, and the sanitising profile."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synco_core import (
    BCRYPT_PASSWORD,
    ConfigError,
    DatabaseConfig,
    DatabaseInventory,
    DumpOptions,
    SanitizeRule,
    credential_columns,
    normalise_engine,
    parse_database_url,
    pdo_tls_options,
    register_secret,
    tables_with_columns,
    url_query_keys_as,
)

#: Every sanitised user can log in locally with the password "password".
PASSWORD_HASH = BCRYPT_PASSWORD

#: Tables whose rows are never worth shipping: sessions, tokens, queues and caches of the source, and
#: Telescope's record of requests, queries and mails (their payloads name users).
NO_ROWS_TABLES = (
    "sessions",
    "password_reset_tokens",
    # Laravel 5 to 9's name of the same table: e-mail addresses with live reset tokens.
    "password_resets",
    "personal_access_tokens",
    "failed_jobs",
    "jobs",
    "cache",
    "cache_locks",
    "telescope_entries",
    "telescope_entries_tags",
    # Job batches (a default migration since Laravel 11): their options hold the serialized then/catch
    # callbacks, models included; like jobs, the state of the source's queue.
    "job_batches",
    # Database notifications: what was shown to each user (names, addresses, messages); an application reads
    # them as optional, so none is better than text its views do not expect.
    "notifications",
    # Passport's issued credentials: access and refresh tokens (their ids are what the server checks),
    # authorisation codes, and device codes (Passport 13).
    "oauth_access_tokens",
    "oauth_refresh_tokens",
    "oauth_auth_codes",
    "oauth_device_codes",
    # Pulse's recordings: user ids with their names and addresses, URLs with query strings (reset tokens),
    # slow queries with their values and exception messages, like Telescope's.
    "pulse_values",
    "pulse_entries",
    "pulse_aggregates",
    # Nova's log of the actions run in its panel, with each record's attributes before and after (``original``,
    # ``changes``) and what was typed in (``fields``); Nova's own notifications; Filament's rows an import
    # could not take (each the imported row: names, addresses). Like Telescope's, a record of the source.
    "action_events",
    "nova_notifications",
    "failed_import_rows",
    # spatie/laravel-webhook-client's received calls: the payloads (a payment provider's customers) and the
    # headers with their signatures, already processed on the source.
    "webhook_calls",
)

#: The same kinds of table under the names an application's configuration gives them (``session.table``,
#: ``cache.stores.database.table``, ``queue.connections.database.table``, ``queue.failed.table``), known by the
#: columns Laravel's migrations give them: sessions' payloads, cached values, queued and failed jobs.
NO_ROWS_SHAPES = (
    ("payload", "last_activity"),
    ("key", "value", "expiration"),
    ("queue", "payload", "attempts", "available_at"),
    ("connection", "queue", "payload", "exception", "failed_at"),
)

#: Column rewrites of the ``users`` table (unprefixed names), and of every other table of accounts
#: (:data:`ACCOUNT_COLUMNS`).
USER_RULES = (
    ("email", "email"),
    ("password", f"fixed:{PASSWORD_HASH}"),
    ("remember_token", "null"),
    # Fortify's (Jetstream's) two-factor secret and recovery codes: without them the copy logs in with the
    # password alone.
    ("two_factor_secret", "null"),
    ("two_factor_recovery_codes", "null"),
    ("two_factor_confirmed_at", "null"),
    # Cashier (Stripe): the live customer id (a copy using the live key would charge the real customer), and
    # the card's brand and last four digits.
    ("stripe_id", "null"),
    ("pm_type", "null"),
    ("pm_last_four", "null"),
    # The person's name (Breeze's and Jetstream's registration form asks for it): not unique, not a login.
    ("name", "fixed:Demo User"),
)


#: What makes a table one of accounts, whatever its name (an ``admins`` table of a second guard, Nova's or
#: Filament's panel users): Laravel's ``Authenticatable`` keeps the hash in ``password`` and the "remember me"
#: token in ``remember_token``.
ACCOUNT_COLUMNS = ("password", "remember_token")
#: What makes a table a Cashier (Stripe) billable model whatever its name (a team, an organisation): the live
#: customer id and the card's brand and last digits, NULL as on ``users``.
BILLABLE_COLUMNS = ("stripe_id", "pm_type")
BILLABLE_RULES = (("stripe_id", "null"), ("pm_type", "null"), ("pm_last_four", "null"))

#: Earlier states of records, which the ``users`` rules never see: owen-it/laravel-auditing's ``audits``
#: (old and new values, with the request's URL, IP address and browser) and spatie/laravel-activitylog's
#: ``activity_log`` (its ``properties`` hold the changed attributes). Unprefixed (table, column, transform).
AUDIT_RULES = (
    ("audits", "old_values", "null"),
    ("audits", "new_values", "null"),
    ("audits", "url", "null"),
    ("audits", "ip_address", "null"),
    ("audits", "user_agent", "null"),
    ("activity_log", "properties", "null"),
)

#: Credentials and live payment references kept in tables the application needs: the rows stay, the values
#: become the keyed hash, which is unique like them (the columns are UNIQUE NOT NULL) and fits their
#: VARCHAR(100/255). Cashier's subscriptions and their items point at live Stripe objects; Passport's
#: ``oauth_clients.secret`` (plain, or hashed since Passport 11): a hash keeps the client confidential, so a
#: new secret is made locally with ``passport:client``. Unprefixed (table, column, transform).
CREDENTIAL_RULES = (
    ("subscriptions", "stripe_id", "hash"),
    ("subscription_items", "stripe_id", "hash"),
    ("oauth_clients", "secret", "hash"),
    # Cashier Paddle: the customer (a name and address besides the live Paddle id), and the live ids of its
    # subscriptions and transactions (UNIQUE: hashed).
    ("customers", "paddle_id", "hash"),
    ("customers", "name", "fixed:Demo User"),
    ("customers", "email", "email"),
    ("subscriptions", "paddle_id", "hash"),
    ("transactions", "paddle_id", "hash"),
    # Jetstream's pending invitations to a team, by e-mail address.
    ("team_invitations", "email", "email"),
)


def _text(value: Any) -> str | None:
    """A config value as a string, or None when unset or empty (Laravel treats both alike)."""
    if value is None or value is False or value == "":
        return None
    return str(value)


def _host(connection: Mapping[str, Any]) -> str | None:
    """The host to dump from; with a read/write split that is the write host (the one holding the truth)."""
    write = connection.get("write")
    host: Any = write.get("host") if isinstance(write, Mapping) and write.get("host") else connection.get("host")
    if isinstance(host, list):
        host = host[0] if host else None
    return _text(host)


def connection_config(name: str, connection: Mapping[str, Any], project_dir: Path, source: str) -> DatabaseConfig:
    """The :class:`DatabaseConfig` of one entry of ``config('database.connections')``.

    A ``url`` wins over the separate settings, which fill in what the URL leaves out, as Laravel's
    ``ConfigurationUrlParser`` does.
    """
    driver = str(connection.get("driver") or name)
    label = f"{source} (connection {name})"
    password = _text(connection.get("password"))
    register_secret(password)
    url = _text(connection.get("url"))
    tls = _tls_options(driver, connection)
    if url:
        # The separate settings fill in what the URL leaves out, its database name included (DB_URL without a
        # path and DB_DATABASE beside it); the URL's scheme is the driver.
        beside = DatabaseConfig(engine=normalise_engine(driver), name=_text(connection.get("database")) or "",
                                host=_host(connection), port=_port(connection.get("port")),
                                user=_text(connection.get("username")), password=password, options=tls)
        query_keys = LARAVEL_QUERY.get(normalise_engine(url.partition("://")[0]), {})
        return parse_database_url(url_query_keys_as(url, query_keys), base_dir=project_dir, source=label,
                                  beside=beside)
    engine = normalise_engine("mysql" if driver == "mariadb" else driver)
    if engine == "sqlite":
        database = _text(connection.get("database")) or str(project_dir / "database" / "database.sqlite")
        if database != ":memory:" and not Path(database).is_absolute():
            # Laravel resolves a relative SQLite path against the project (artisan runs there).
            database = str(project_dir / database)
        return DatabaseConfig(engine="sqlite", name=database, source=label)
    database_name = _text(connection.get("database"))
    if not database_name:
        raise ConfigError(f"Laravel connection {name!r} names no database (DB_DATABASE)")
    options: dict[str, str] = {}
    for key in ("charset", "sslmode"):
        value = _text(connection.get(key))
        if value:
            options[key] = value
    options.update(tls)
    return DatabaseConfig(
        engine=engine,
        name=database_name,
        host=_host(connection),
        port=_port(connection.get("port")),
        user=_text(connection.get("username")),
        password=password,
        socket=_text(connection.get("unix_socket")),
        options=options,
        source=label,
    )


#: How ``ConfigurationUrlParser`` merges a ``DB_URL``'s query into the connection's settings (by name), as
#: synco's URL parser reads it: MySqlConnector and PostgresConnector read ``username``, ``password``,
#: ``database``, ``host``, ``port`` and ``unix_socket``, so ``user``, ``passwd``, ``db``, ``dbname`` and
#: ``socket`` change nothing, and ``username`` is the user (synco's parser reads ``user`` for every engine).
#: synco's parser names the PostgreSQL database libpq's ``dbname``.
LARAVEL_QUERY: dict[str, dict[str, str | None]] = {
    "mysql": {"user": None, "passwd": None, "db": None, "dbname": None, "socket": None, "username": "user"},
    "postgresql": {"user": None, "passwd": None, "db": None, "dbname": None, "socket": None, "username": "user",
                   "database": "dbname"},
}


def _tls_options(driver: str, connection: Mapping[str, Any]) -> dict[str, str]:
    """TLS settings of a connection: PDO's ``MYSQL_ATTR_SSL_*`` options for MySQL/MariaDB, the libpq
    files (``sslrootcert``, ``sslcert``, ``sslkey``) Laravel's PostgreSQL connector passes on."""
    if driver in ("mysql", "mariadb"):
        return pdo_tls_options(connection.get("options"))
    if driver == "pgsql":
        return {key: value for key in ("sslrootcert", "sslcert", "sslkey") if (value := _text(connection.get(key)))}
    return {}


def _port(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        raise ConfigError(f"Laravel database port is not a number: {value!r}") from None


def default_connection(database: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """The name and settings of the default connection (``DB_CONNECTION``)."""
    connections = database.get("connections") or {}
    name = str(database.get("default") or "")
    if name not in connections:
        known = ", ".join(sorted(connections)) or "none"
        raise ConfigError(f"Laravel default database connection {name!r} is not configured (connections: {known})")
    connection = connections[name]
    if not isinstance(connection, Mapping):
        raise ConfigError(f"Laravel database connection {name!r} is not a list of settings")
    return name, connection


def other_connections(database: Mapping[str, Any], project_dir: Path, source: str,
                      skeleton: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The connections the application defines besides the default one, as masked URLs (listed, never dumped).

    Every project's ``config/database.php`` carries the skeleton's five connections, all reading the same
    ``DB_*`` variables: listing them would name a ``pgsql`` database on the MySQL port. A connection is
    the application's own when the skeleton has none of that name, or when its settings differ from
    what the skeleton's would be with this ``.env`` (``skeleton``).
    """
    listed: dict[str, str] = {}
    default = database.get("default")
    for name, connection in (database.get("connections") or {}).items():
        if name == default or not isinstance(connection, Mapping):
            continue
        try:
            url = connection_config(name, connection, project_dir, source).url()
        except ConfigError as exc:
            listed[name] = f"unusable: {exc}"
            continue
        boilerplate = (skeleton or {}).get(name)
        if isinstance(boilerplate, Mapping):
            try:
                if connection_config(name, boilerplate, project_dir, source).url() == url:
                    continue
            except ConfigError:
                pass
        listed[name] = connection_config(name, connection, project_dir, source).url(mask_password=True)
    return listed


#: Laravel's own table of the migrations run, which every Laravel application's database has under the
#: connection's prefix: another application sharing the database (or this one's tables under an old prefix)
#: is found by it.
MIGRATIONS_SHAPE = ("migrations", ("migration", "batch"))


def application_prefixes(prefix: str, inventory: DatabaseInventory | None) -> list[str]:
    """``prefix`` and the prefix of every other Laravel application's tables in the database (each once, as
    the engine compares names): serve dumps the whole database, so each is sanitised as this one is."""
    prefixes = [prefix]
    fold = inventory is not None and inventory.tables_ignore_case
    known = {prefix.lower() if fold else prefix}
    suffix, columns = MIGRATIONS_SHAPE
    for table in tables_with_columns(inventory, columns):
        name = table.lower() if fold else table
        if name.endswith(suffix):
            found = table[:-len(suffix)]
            if (found.lower() if fold else found) not in known:
                known.add(found.lower() if fold else found)
                prefixes.append(found)
    return prefixes


def sanitize_profile(prefix: str = "", inventory: DatabaseInventory | None = None) -> DumpOptions:
    """Laravel's default dump options: users anonymised, sessions/tokens/queues/caches without rows.

    Every table and column of the profile is named; the core leaves out those the database does not have
    (engines refuse rules for unknown tables), and names them all when the database cannot be inspected,
    so the dump itself reports the real problem. Tables of accounts and Cashier's billable models under
    other names are found in ``inventory`` by their columns (:data:`ACCOUNT_COLUMNS`, :data:`BILLABLE_COLUMNS`)
    whatever their prefix, and the named tables are ruled under the prefix of every Laravel application in the
    database (:func:`application_prefixes`): serve dumps all of it, not only the connection's prefix.
    """
    rules: tuple[SanitizeRule, ...] = ()
    ruled = [column for column, _ in USER_RULES]
    prefixes = application_prefixes(prefix, inventory)
    every_table = tables_with_columns(inventory, ())
    users_tables = {(p + "users").lower() for p in prefixes}
    for site in prefixes:
        users = site + "users"
        rules += tuple(SanitizeRule(table=users, column=column, transform=transform)
                       for column, transform in USER_RULES)
        # Credentials an application adds to its accounts (the token guard's api_token, Socialite's tokens): NULL.
        rules += tuple(SanitizeRule(table=users, column=column, transform="null")
                       for column in credential_columns(every_table.get(users, ()), ruled=ruled))
    for table, columns in tables_with_columns(inventory, ACCOUNT_COLUMNS).items():
        if table.lower() not in users_tables:
            rules += tuple(SanitizeRule(table=table, column=column, transform=transform)
                           for column, transform in USER_RULES if column in columns)
            rules += tuple(SanitizeRule(table=table, column=column, transform="null")
                           for column in credential_columns(columns, ruled=ruled))
    for table, columns in tables_with_columns(inventory, BILLABLE_COLUMNS).items():
        if not any(rule.table == table for rule in rules):
            rules += tuple(SanitizeRule(table=table, column=column, transform=transform)
                           for column, transform in BILLABLE_RULES if column in columns)
    rules += tuple(SanitizeRule(table=site + table, column=column, transform=transform)
                   for site in prefixes for table, column, transform in AUDIT_RULES + CREDENTIAL_RULES)
    excluded = tuple(site + t for site in prefixes for t in NO_ROWS_TABLES)
    for shape in NO_ROWS_SHAPES:
        excluded += tuple(t for t in tables_with_columns(inventory, shape) if t not in excluded)
    return DumpOptions(exclude_tables=excluded, sanitize=rules)
