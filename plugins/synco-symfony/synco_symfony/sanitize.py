"""A small default sanitising profile for tables Symfony's own makers and bundles create.

A Symfony application's schema is its own, so nothing is assumed from a table name alone: a table is
named only when it exists with the columns that make it the well-known one (``sessions`` may be a
business table; ``sessions`` with ``sess_id``/``sess_data`` is PdoSessionHandler's), which takes the
database's inventory: when the database cannot be inspected the profile is empty, since rules for a table
that does not exist would make the dump fail (``serve`` then refuses to sanitise without it).
"""

from __future__ import annotations

import logging

from synco_core import (
    BCRYPT_PASSWORD,
    DatabaseInventory,
    DumpOptions,
    SanitizeRule,
    address_masked,
    credential_columns,
    quote_name,
)

log = logging.getLogger(__name__)

#: Symfony's ``auto`` hasher verifies it (password_verify), so every account of the copy can log in with
#: "password".
PASSWORD_HASH = BCRYPT_PASSWORD

#: ``make:user`` (Doctrine) and FOSUserBundle (``fos_user``): the table of the User entity, with the columns
#: that identify it. A User entity under any other name (``admin``, ``app_user``, Sylius' ``sylius_shop_user``
#: and ``sylius_admin_user``) has them too, and is sanitised alike: Symfony's security keeps the hash in
#: ``password`` and the roles (JSON, or a serialized array) in ``roles``.
USER_TABLES = ("user", "users", "fos_user")
USER_COLUMNS = frozenset({"roles", "password"})
#: Login names, which are often the e-mail address (Sylius' usernames are): masked as the address is when
#: they hold one, kept otherwise.
LOGIN_COLUMNS = ("username", "username_canonical")

#: Column rewrites of a user table besides its e-mail and password, applied to the columns it has.
#: FOSUserBundle keeps a unique lower-case copy of the address, a salt (unused by bcrypt) and the pending
#: confirmation or reset token; scheb/2fa's documented columns hold the TOTP and Google Authenticator
#: secrets, the e-mailed code and the backup codes (the copy logs in with the password alone). The secrets
#: become empty strings, not NULL, so a column an application made NOT NULL still loads; the backup codes a
#: JSON array, as scheb's documentation maps them.
USER_EXTRA_RULES = (
    ("email_canonical", "email"),
    # Empty rather than NULL: Sylius' salt is NOT NULL (bcrypt ignores it).
    ("salt", "fixed:"),
    ("confirmation_token", "null"),
    # Sylius' pending reset and verification tokens (a link with one sets the password or verifies the address).
    ("password_reset_token", "null"),
    ("email_verification_token", "null"),
    # The person's name (Sylius' administrators, the usual registration forms).
    ("first_name", "fixed:Demo"),
    ("last_name", "fixed:User"),
    ("totp_secret", "fixed:"),
    ("google_authenticator_secret", "fixed:"),
    ("auth_code", "fixed:"),
    ("email_auth_code", "fixed:"),
    ("backup_codes", "fixed:[]"),
)

#: Tables whose rows never leave the server, each with the columns that identify it:
#: PdoSessionHandler's sessions, Messenger's Doctrine transport (queued messages would be handled
#: again on the copy: e-mails sent twice), ResetPasswordBundle's requests, remember-me tokens.
NO_ROWS = (
    ("sessions", frozenset({"sess_id", "sess_data"})),
    ("messenger_messages", frozenset({"body", "queue_name"})),
    ("reset_password_request", frozenset({"hashed_token", "selector"})),
    ("rememberme_token", frozenset({"series", "value"})),
    # gesdinet/jwt-refresh-token-bundle (LexikJWTAuthenticationBundle's usual companion): live refresh tokens.
    ("refresh_tokens", frozenset({"refresh_token", "username", "valid"})),
    # Cache's Doctrine DBAL adapter: whatever the application cached (pages, API answers, profiles).
    ("cache_items", frozenset({"item_id", "item_data", "item_time"})),
    # Payum's tokens (Sylius'), each of which captures or authorises a payment.
    ("sylius_payment_security_token", frozenset({"hash", "target_url"})),
)

#: Histories of records, whatever the table is called, by the columns their bundles give them: every earlier
#: state of a tracked entity (a customer's old addresses, an account's old e-mail), with who changed it and from
#: where. Gedmo's Loggable (``ext_log_entries``, Sylius' ``sylius_address_log_entries``; ``object_class`` was
#: ``objectClass`` in older mappings) and DamienHarper's auditor-bundle (``<entity>_audit``: ``diffs``, the
#: user and IP address). No rows.
HISTORY_SHAPES = (
    frozenset({"action", "version", "data", "username", "object_class"}),
    frozenset({"action", "version", "data", "username", "objectClass"}),
    frozenset({"diffs", "blame_user"}),
)
#: PdoSessionHandler's and Messenger's Doctrine transport's tables under the names their options give them
#: (``db_table``, ``table_name``): no rows, as under their default names.
RENAMED_SHAPES = (
    frozenset({"sess_id", "sess_data", "sess_lifetime"}),
    frozenset({"body", "headers", "queue_name", "available_at"}),
)

#: Sylius' shop tables (table, column, transform), each applied where the table has the column: customers
#: (e-mail addresses unique per row, names, birthday, phone), addresses (what names or locates someone; the
#: country stays for taxes and shipping zones), orders (the customer's note and IP address, and the token that
#: opens the order's pages without a login: unique, so hashed), payments (what the gateway answered about the
#: payer), the gateways' credentials (API keys, passwords; a copy configures its sandbox ones) and the OAuth
#: tokens and provider ids of shop users' social logins.
SHOP_RULES = (
    ("sylius_customer", "email", "email"),
    ("sylius_customer", "email_canonical", "email"),
    ("sylius_customer", "first_name", "fixed:Demo"),
    ("sylius_customer", "last_name", "fixed:User"),
    ("sylius_customer", "birthday", "null"),
    ("sylius_customer", "phone_number", "null"),
    ("sylius_address", "first_name", "fixed:Demo"),
    ("sylius_address", "last_name", "fixed:User"),
    ("sylius_address", "phone_number", "null"),
    ("sylius_address", "street", "fixed:"),
    ("sylius_address", "company", "null"),
    ("sylius_address", "city", "fixed:"),
    ("sylius_address", "postcode", "fixed:"),
    ("sylius_address", "province_name", "null"),
    ("sylius_order", "notes", "null"),
    ("sylius_order", "customer_ip", "null"),
    ("sylius_order", "token_value", "hash"),
    ("sylius_payment", "details", "fixed:{}"),
    ("sylius_gateway_config", "config", "fixed:{}"),
    ("sylius_user_oauth", "identifier", "hash"),
    ("sylius_user_oauth", "access_token", "null"),
    ("sylius_user_oauth", "refresh_token", "null"),
)


def _user_rules(engine: str, name: str, columns: set[str]) -> list[SanitizeRule]:
    rules = []
    if "email" in columns:
        rules.append(SanitizeRule(table=name, column="email", transform="email"))
    rules.append(SanitizeRule(table=name, column="password", transform=f"fixed:{PASSWORD_HASH}"))
    rules.extend(SanitizeRule(table=name, column=column, transform=transform)
                 for column, transform in USER_EXTRA_RULES if column in columns)
    # Credentials an application adds to its users (an API token, an OAuth provider's tokens): NULL.
    rules.extend(SanitizeRule(table=name, column=column, transform="null")
                 for column in credential_columns(columns, ruled=[column for column, _ in USER_EXTRA_RULES]))
    if "id" in columns:
        key = quote_name(engine, "id")
        rules.extend(SanitizeRule(table=name, column=column, label="user<id>@example.invalid if an e-mail address",
                                  expression=address_masked(engine, quote_name(engine, column), key))
                     for column in LOGIN_COLUMNS if column in columns)
    return rules


def sanitize_profile(inventory: DatabaseInventory | None) -> DumpOptions:
    """The profile for the tables of ``inventory`` that match; empty when the database was not inspected."""
    if inventory is None:
        return DumpOptions()
    # Bare names, as the Laravel profile uses: PostgreSQL's schema search path finds them.
    tables = {t.name.rsplit(".", 1)[-1]: set(t.columns) for t in inventory.tables if t.kind == "table"}
    rules: list[SanitizeRule] = []
    # The well-known names first, then every other table of a User entity.
    for name in sorted(tables, key=lambda table: (table not in USER_TABLES, USER_TABLES.index(table)
                                                  if table in USER_TABLES else 0, table)):
        if tables[name] >= USER_COLUMNS:
            rules += _user_rules(inventory.engine, name, tables[name])
    rules += [SanitizeRule(table=table, column=column, transform=transform)
              for table, column, transform in SHOP_RULES if column in tables.get(table, set())]
    excluded = tuple(name for name, columns in NO_ROWS if name in tables and columns <= tables[name])
    excluded += tuple(name for name, columns in tables.items() if name not in excluded
                      and any(shape <= columns for shape in HISTORY_SHAPES + RENAMED_SHAPES))
    if rules or excluded:
        log.debug("Symfony sanitising profile: %s", ", ".join([f"{r.table}.{r.column}" for r in rules]
                                                            + [f"{t} (no rows)" for t in excluded]))
    return DumpOptions(exclude_tables=excluded, sanitize=tuple(rules))
