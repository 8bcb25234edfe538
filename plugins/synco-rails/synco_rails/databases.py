"""Rails database configurations as synco's :class:`~synco_core.DatabaseConfig`, and Rails' sanitising profile.

A configuration's ``url`` (its own, or ``DATABASE_URL`` / ``<NAME>_DATABASE_URL`` merged in by
:func:`synco_rails.config.environment_configs`) wins over its other settings, which fill in what the URL
leaves out, as Active Record's ``UrlConfig`` merges them (the URL read by :mod:`synco_rails.urlconfig`).
``primary`` (or, without one, the first configuration) is the database a session dumps; the others of a
multi-database application are the framework's named databases.
"""

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
    address_masked,
    credential_columns,
    normalise_engine,
    parse_database_url,
    quote_name,
    register_secret,
    tables_with_columns,
)
from synco_rails.erb import unknown_in
from synco_rails.urlconfig import active_record_major, url_settings

#: The bcrypt hash of the word "password" as Ruby's bcrypt gem writes it (``$2a$``; Devise's
#: ``encrypted_password`` and ``has_secure_password``'s ``password_digest`` hold this form): every account
#: of a sanitised copy logs in locally with "password". It is the core's PHP hash with Ruby's prefix; for
#: an ASCII password the two prefixes compute the same digest.
PASSWORD_HASH = "$2a$" + BCRYPT_PASSWORD[4:]

#: Tables whose rows never travel: sessions (activerecord-session_store's, and Rails 8 authentication's).
NO_ROWS_TABLES = (
    "sessions",
    # Doorkeeper's access tokens and grants, which it stores as they are by default: live credentials.
    "oauth_access_tokens",
    "oauth_access_grants",
    "oauth_openid_requests",
    # Solid Cache's entries (rendered fragments and cached records, people's among them) and Solid Cable's
    # broadcast messages (what was pushed to users' pages): serialized copies no rule can mask, `--all` or not.
    "solid_cache_entries",
    "solid_cable_messages",
)

#: Queues and caches of the source (Solid Queue, Solid Cache, Solid Cable, Delayed Job): left out unless
#: ``--all``, when they live in the primary database.
SMART_NO_ROWS_TABLES = (
    "solid_queue_blocked_executions", "solid_queue_claimed_executions", "solid_queue_failed_executions",
    "solid_queue_jobs", "solid_queue_pauses", "solid_queue_processes", "solid_queue_ready_executions",
    "solid_queue_recurring_executions", "solid_queue_recurring_tasks", "solid_queue_scheduled_executions",
    "solid_queue_semaphores", "delayed_jobs",
    # GoodJob's queue: the jobs' serialized arguments (mail deliveries with their addresses) and errors.
    "good_jobs", "good_job_executions", "good_job_batches", "good_job_processes",
)

#: Column rewrites of ``users``: Devise's columns, and those of Rails 8's authentication generator.
USER_RULES = (
    ("email", "email"),
    ("email_address", "email"),
    ("encrypted_password", f"fixed:{PASSWORD_HASH}"),
    ("password_digest", f"fixed:{PASSWORD_HASH}"),
    ("reset_password_token", "null"),
    ("confirmation_token", "null"),
    ("unconfirmed_email", "null"),
    ("unlock_token", "null"),
    ("current_sign_in_ip", "null"),
    ("last_sign_in_ip", "null"),
    # devise-two-factor's TOTP secret (plain or encrypted with its IV and salt) and backup codes; without
    # them the copy logs in with the password alone.
    ("otp_secret", "null"),
    ("encrypted_otp_secret", "null"),
    ("encrypted_otp_secret_iv", "null"),
    ("encrypted_otp_secret_salt", "null"),
    ("otp_backup_codes", "null"),
    ("otp_required_for_login", "fixed:0"),
    # simple_token_authentication's API token.
    ("authentication_token", "null"),
    # devise_invitable's pending invitation: whoever has the token sets the account's password.
    ("invitation_token", "null"),
    # Spree's and Solidus' accounts (spree_auth_devise): the legacy salt and tokens, and the API key.
    ("password_salt", "null"),
    ("remember_token", "null"),
    ("persistence_token", "null"),
    ("perishable_token", "null"),
    ("spree_api_key", "null"),
    # The person's name, in the forms applications add to Devise's.
    ("name", "fixed:Demo User"),
    ("first_name", "fixed:Demo"),
    ("last_name", "fixed:User"),
)

#: What makes a table one of accounts whatever its name (ActiveAdmin's ``admin_users``, Spree's and Solidus'
#: ``spree_users``, a second Devise model's ``admins``): Devise's hash column, or ``has_secure_password``'s.
ACCOUNT_COLUMNS = (("encrypted_password",), ("password_digest",))
#: Login names (Spree's ``login``, an application's ``username``), masked like the address when they hold one.
LOGIN_COLUMNS = ("username", "login")

#: Column rewrites of the gems' own tables (table, column, transform).
GEM_RULES = (
    # Doorkeeper's client secrets (stored as they are by default): the row stays, as tokens and grants point at
    # it; the keyed hash is unusable, and a local secret is set in the application's admin.
    ("oauth_applications", "secret", "hash"),
    # audited's record of changes, with the request's address: the users rules never see earlier states.
    ("audits", "audited_changes", "null"),
    ("audits", "remote_address", "null"),
    # Ahoy's visits (address, browser, location, pages with their query strings), its events' properties,
    # and Ahoy Email's record of sent messages.
    ("ahoy_visits", "visitor_token", "null"),
    ("ahoy_visits", "ip", "null"),
    ("ahoy_visits", "user_agent", "null"),
    ("ahoy_visits", "referrer", "null"),
    ("ahoy_visits", "landing_page", "null"),
    ("ahoy_visits", "city", "null"),
    ("ahoy_visits", "region", "null"),
    ("ahoy_visits", "postal_code", "null"),
    ("ahoy_visits", "latitude", "null"),
    ("ahoy_visits", "longitude", "null"),
    ("ahoy_events", "properties", "null"),
    ("ahoy_messages", "to", "null"),
    ("ahoy_messages", "subject", "null"),
    # Pay: the live customer id at the processor (a copy with live keys would charge the real customer; Pay
    # makes a new one when it is NULL), and what the processor sent about customers, cards, charges and events.
    ("pay_customers", "processor_id", "null"),
    ("pay_customers", "data", "null"),
    ("pay_payment_methods", "data", "null"),
    ("pay_charges", "data", "null"),
    ("pay_webhooks", "event", "null"),
    # The queues' payloads, which only ``--all`` ships (the smart transfer leaves the tables out): the jobs'
    # serialized arguments (a mail delivery names its recipient) and errors. A job without its arguments
    # fails on the copy instead of mailing the real recipient; Delayed Job's handler is NOT NULL, so empty.
    ("solid_queue_jobs", "arguments", "null"),
    ("solid_queue_failed_executions", "error", "null"),
    ("good_jobs", "serialized_params", "null"),
    ("good_jobs", "error", "null"),
    ("good_job_executions", "serialized_params", "null"),
    ("good_job_executions", "error", "null"),
    ("delayed_jobs", "handler", "fixed:"),
    ("delayed_jobs", "last_error", "null"),
)

#: Spree's and Solidus' shop (table, column, transform): the customers' addresses (what names or locates
#: someone; the country and state stay for taxes and shipping), the orders' e-mail address, note, IP address
#: and the token a guest's order is opened with, the stored cards' holders and the gateway's references to them
#: (a copy with live keys would charge them), the gateway's answers, and the payment methods' credentials
#: (their preferences: API keys; a YAML hash, left empty).
SHOP_RULES = (
    *(("spree_addresses", column, "fixed:") for column in ("firstname", "lastname", "name", "address1", "city",
                                                            "zipcode", "phone")),
    *(("spree_addresses", column, "null") for column in ("address2", "alternative_phone", "company", "state_name")),
    ("spree_orders", "email", "email"),
    ("spree_orders", "special_instructions", "null"),
    ("spree_orders", "last_ip_address", "null"),
    ("spree_orders", "guest_token", "null"),
    ("spree_orders", "token", "null"),
    ("spree_credit_cards", "name", "null"),
    ("spree_credit_cards", "gateway_customer_profile_id", "null"),
    ("spree_credit_cards", "gateway_payment_profile_id", "null"),
    ("spree_payments", "response_code", "null"),
    ("spree_payments", "avs_response", "null"),
    ("spree_payment_methods", "preferences", "fixed:--- {}"),
)

#: PaperTrail's ``versions``: every earlier state of every tracked record (a user's earlier e-mail
#: addresses and password hashes among them), which the rules of the records' own tables never see.
VERSION_RULES = (
    ("object", "null"),
    ("object_changes", "null"),
)

#: libpq's TLS settings, which Rails' PostgreSQL adapter passes on as they are.
_PG_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "connect_timeout", "passfile")
#: libpq keywords that choose the server without synco knowing which: it decides from the host whether a
#: database is this machine's.
_PG_REFUSED = {"hostaddr": "connects to an address other than the host", "service": "takes the server from "
               "pg_service.conf"}
#: mysql2's (and trilogy's) TLS settings, as synco's MySQL engine names them.
_MYSQL_OPTIONS = {"sslca": "ssl_ca", "sslcert": "ssl_cert", "sslkey": "ssl_key", "ssl_mode": "sslmode",
                  "encoding": "charset"}


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _port(name: str, value: Any) -> int | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"Rails database {name!r}: port is not a number: {text!r}") from None


def _sqlite_path(database: str, project_dir: Path, name: str) -> str:
    if database == ":memory:" or database.startswith("file::memory:"):
        raise ConfigError(f"Rails database {name!r} is an in-memory SQLite database")
    path = Path(database.removeprefix("file:"))
    # Active Record resolves a relative SQLite path against Rails.root.
    return str(path if path.is_absolute() else project_dir / path)


def _opaque_sqlite(name: str, url: str, project_dir: Path, source: str) -> DatabaseConfig | None:
    """``sqlite3:db/production.sqlite3`` (an opaque path, Active Record's relative form), else None."""
    scheme, colon, rest = url.partition(":")
    if colon and scheme.lower() in ("sqlite3", "sqlite") and not rest.startswith("//"):
        return DatabaseConfig(engine="sqlite", name=_sqlite_path(rest.split("?")[0], project_dir, name),
                              source=source)
    return None


def _url_engine(name: str, url: str, project_dir: Path, source: str) -> str:
    """The engine a database URL names: its scheme, or SQLite for Active Record's opaque form."""
    if _opaque_sqlite(name, url, project_dir, source) is not None:
        return "sqlite"
    if "://" not in url:
        # Refused in one line, the password masked.
        return parse_database_url(url, base_dir=project_dir, source=source).engine
    return normalise_engine(url.partition("://")[0])


#: The key of a database's settings that hold a value only Ruby could compute (credentials): the reasons of
#: the tags :func:`synco_rails.erb.render` left as marks (see :func:`synco_rails.config.read_from_files`).
UNREADABLE = "synco:unreadable"


def database_config(name: str, settings: Mapping[str, Any], project_dir: Path, source: str) -> DatabaseConfig:
    """The :class:`DatabaseConfig` of one database configuration; a one-line ConfigError when synco cannot use it,
    also when what it connects with holds a value only Ruby could compute (a ``DATABASE_URL`` giving that value
    instead makes it usable, as in Rails)."""
    unknown = settings.get(UNREADABLE)
    if not isinstance(unknown, list):
        return _database_config(name, settings, project_dir, source)
    advice = ("; install Ruby and the bundle so that bin/rails runner reports it, set DATABASE_URL, or give the "
              "database in .synco.yml and pass --framework rails")
    try:
        config = _database_config(name, settings, project_dir, source)
    except ConfigError:
        reason = unknown_in(dict(settings), unknown)
        if reason is None:
            raise
        raise ConfigError(reason + advice) from None
    reason = unknown_in([config.name, config.host, config.user, config.password, config.socket,
                         *config.options.values()], unknown)
    if reason is not None:
        raise ConfigError(reason + advice)
    return config


def _database_config(name: str, settings: Mapping[str, Any], project_dir: Path, source: str) -> DatabaseConfig:
    label = f"{source} (database {name})"
    url = _text(settings.get("url"))
    adapter = (_text(settings.get("adapter")) or "").lower()
    # Active Record's adapter names (postgis, mysql2, trilogy, sqlite3 ...) are the core parser's aliases.
    engine = _url_engine(name, url, project_dir, label) if url else (normalise_engine(adapter) if adapter else None)
    if engine is None and not adapter and "url" in settings:
        # url: <%= ENV['DATABASE_URL'] %> with the variable unset: Rails fails to connect too; say what is empty.
        variable = "DATABASE_URL" if name == "primary" else f"{name.upper()}_DATABASE_URL"
        raise ConfigError(f"Rails database {name!r}: its url is empty and it names no adapter (is the variable "
                          f"it is read from set here? Rails also takes {variable})")
    if url and engine != "sqlite":
        # The URL's keys merged over the others, as UrlConfig does; its query may name another adapter (7.0+).
        settings = {**{key: value for key, value in settings.items() if key != "url"},
                    **url_settings(url, active_record_major(project_dir), name)}
        adapter = (_text(settings.get("adapter")) or "").lower()
        engine = normalise_engine(adapter) if adapter else None
    if engine not in ("postgresql", "mysql", "sqlite"):
        raise ConfigError(f"Rails database {name!r}: the adapter {adapter or engine or '(none)'} is not supported "
                          "(postgresql, mysql2, trilogy and sqlite3 are)")
    if engine == "sqlite":
        if url:
            return _opaque_sqlite(name, url, project_dir, label) or parse_database_url(url, base_dir=project_dir,
                                                                                       source=label)
        database = _text(settings.get("database"))
        if database is None:
            raise ConfigError(f"Rails database {name!r} names no database file")
        return DatabaseConfig(engine="sqlite", name=_sqlite_path(database, project_dir, name), source=label)
    config = _server_config(name, engine, adapter, settings, label)
    if not config.name:
        raise ConfigError(f"Rails database {name!r} names no database")
    return config


def _server_config(name: str, engine: str, adapter: str, settings: Mapping[str, Any], label: str) -> DatabaseConfig:
    """A PostgreSQL or MySQL configuration by the keys its adapter reads, under the names it reads them.

    The PostgreSQL adapter passes libpq's keywords on (``user`` and ``dbname`` when ``username`` and
    ``database`` are not given) and drops every other key, ``socket`` among them; mysql2 takes ``user``,
    ``pass``, ``hostname``, ``dbname``, ``db`` and ``sock`` after their long names, and its client library
    uses the socket only when the host is ``localhost`` or not given; trilogy reads only the long names, and
    Active Record drops its host when a socket is given.
    """
    def first(*keys: str) -> str | None:
        return next((value for key in keys if (value := _text(settings.get(key))) is not None), None)

    if engine == "postgresql":
        for key, reason in _PG_REFUSED.items():
            if first(key):
                raise ConfigError(f"Rails database {name!r}: {key} is not supported: it {reason}; name the host, "
                                  "port and database instead")
        user, password, database = first("username", "user"), first("password"), first("database", "dbname")
        host, socket = first("host"), None
        if host is not None and host.startswith("/"):
            # PostgreSQL's socket folder given as the host, as libpq takes it.
            socket, host = host, None
    else:
        mysql2 = adapter != "trilogy"
        user = first("username", "user") if mysql2 else first("username")
        password = first("password", "pass") if mysql2 else first("password")
        database = first("database", "dbname", "db") if mysql2 else first("database")
        host = first("host", "hostname") if mysql2 else first("host")
        socket = first("socket", "sock") if mysql2 else first("socket")
        if socket and host and mysql2 and host != "localhost":
            socket = None
        elif socket:
            host = None
    register_secret(password)
    keys = _PG_OPTIONS if engine == "postgresql" else _MYSQL_OPTIONS
    options = {(keys[key] if isinstance(keys, dict) else key): str(settings[key])
               for key in keys if _text(settings.get(key))}
    return DatabaseConfig(engine=engine, name=database or "", host=host, port=_port(name, settings.get("port")),
                          user=user, password=password, socket=socket, options=options, source=label)


def split_databases(configs: list[tuple[str, dict[str, Any]]], project_dir: Path, source: str) -> tuple[
        str | None, DatabaseConfig | None, dict[str, DatabaseConfig], dict[str, str]]:
    """``(primary's name, primary, the other usable databases, the unusable ones with why)``.

    The primary database is the one named ``primary``, else the first, as Active Record decides.
    """
    names = [name for name, _ in configs]
    primary_name = "primary" if "primary" in names else (names[0] if names else None)
    primary: DatabaseConfig | None = None
    named: dict[str, DatabaseConfig] = {}
    unusable: dict[str, str] = {}
    for name, settings in configs:
        try:
            config = database_config(name, settings, project_dir, source)
        except ConfigError as exc:
            unusable[name] = f"unusable: {exc}"
            continue
        if name == primary_name:
            primary = config
        else:
            named[name] = config
    return primary_name, primary, named, unusable


def _account_rules(table: str, engine: str, columns: set[str] | None) -> tuple[SanitizeRule, ...]:
    """:data:`USER_RULES` for ``table`` (those of its ``columns``; all when they are not known), its login
    names masked when they are e-mail addresses."""
    rules = tuple(SanitizeRule(table=table, column=column, transform=transform) for column, transform in USER_RULES
                  if columns is None or column in columns)
    if columns is not None:
        # Credentials an application adds to its accounts (an API token, an OAuth provider's tokens): NULL.
        rules += tuple(SanitizeRule(table=table, column=column, transform="null")
                       for column in credential_columns(columns, ruled=[column for column, _ in USER_RULES]))
    if columns is not None and "id" in columns:
        key = quote_name(engine, "id")
        rules += tuple(SanitizeRule(table=table, column=column, label="user<id>@example.invalid if an e-mail address",
                                    expression=address_masked(engine, quote_name(engine, column), key))
                       for column in LOGIN_COLUMNS if column in columns)
    return rules


def sanitize_profile(inventory: DatabaseInventory | None = None) -> DumpOptions:
    """Rails' default dump options: sessions and OAuth tokens without rows, users and record versions
    anonymised, queues and caches smart-skipped.

    ``schema_migrations`` and ``ar_internal_metadata`` keep their rows (the copy's schema version and
    environment). Every table and column is named; the core leaves out those the database does not have.
    Tables of accounts besides ``users`` are found in ``inventory`` by their columns (:data:`ACCOUNT_COLUMNS`).
    """
    engine = inventory.engine if inventory is not None else ""
    # ``users`` is the accounts' table by convention, whatever its columns (all its rules when not inspected).
    accounts: dict[str, set[str] | None] = {"users": tables_with_columns(inventory, ()).get("users")}
    for shape in ACCOUNT_COLUMNS:
        accounts.update(tables_with_columns(inventory, shape))
    rules = tuple(rule for table, columns in accounts.items() for rule in _account_rules(table, engine, columns))
    rules += tuple(SanitizeRule(table="versions", column=column, transform=transform)
                   for column, transform in VERSION_RULES)
    rules += tuple(SanitizeRule(table=table, column=column, transform=transform)
                   for table, column, transform in GEM_RULES + SHOP_RULES)
    # activerecord-session_store's table under the name its configuration gives it (``session_table_name``).
    sessions = tuple(t for t in tables_with_columns(inventory, ("session_id", "data")) if t not in NO_ROWS_TABLES)
    return DumpOptions(exclude_tables=NO_ROWS_TABLES + sessions, smart_exclude_tables=SMART_NO_ROWS_TABLES,
                       sanitize=rules)
