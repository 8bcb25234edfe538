"""A small default sanitising profile for tables Symfony's own makers and bundles create.

A Symfony application's schema is its own, so nothing is assumed from a table name alone: a table is
named only when it exists with the columns that make it the well-known one (``sessions`` may be a
business table; ``sessions`` with ``sess_id``/``sess_data`` is PdoSessionHandler's), which takes the
database's inventory: when the database cannot be inspected the profile is empty, since rules for a table
that does not exist would make the dump fail (``serve`` then refuses to sanitise without it).
"""

from __future__ import annotations

import logging

from synco_core import BCRYPT_PASSWORD, DatabaseInventory, DumpOptions, SanitizeRule

log = logging.getLogger(__name__)

#: Symfony's ``auto`` hasher verifies it (password_verify), so every account of the copy can log in with
#: "password".
PASSWORD_HASH = BCRYPT_PASSWORD

#: ``make:user`` (Doctrine) and FOSUserBundle (``fos_user``): the table of the User entity, with the columns
#: that identify it.
USER_TABLES = ("user", "users", "fos_user")
USER_COLUMNS = frozenset({"roles", "password"})

#: Column rewrites of a user table besides its e-mail and password, applied to the columns it has.
#: FOSUserBundle keeps a unique lower-case copy of the address, a salt (unused by bcrypt) and the pending
#: confirmation or reset token; scheb/2fa's documented columns hold the TOTP and Google Authenticator
#: secrets, the e-mailed code and the backup codes (the copy logs in with the password alone). The secrets
#: become empty strings, not NULL, so a column an application made NOT NULL still loads; the backup codes a
#: JSON array, as scheb's documentation maps them.
USER_EXTRA_RULES = (
    ("email_canonical", "email"),
    ("salt", "null"),
    ("confirmation_token", "null"),
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
)


def sanitize_profile(inventory: DatabaseInventory | None) -> DumpOptions:
    """The profile for the tables of ``inventory`` that match; empty when the database was not inspected."""
    if inventory is None:
        return DumpOptions()
    # Bare names, as the Laravel profile uses: PostgreSQL's schema search path finds them.
    tables = {t.name.rsplit(".", 1)[-1]: set(t.columns) for t in inventory.tables if t.kind == "table"}
    rules: list[SanitizeRule] = []
    for name in USER_TABLES:
        if name in tables and tables[name] >= USER_COLUMNS:
            if "email" in tables[name]:
                rules.append(SanitizeRule(table=name, column="email", transform="email"))
            rules.append(SanitizeRule(table=name, column="password", transform=f"fixed:{PASSWORD_HASH}"))
            rules.extend(SanitizeRule(table=name, column=column, transform=transform)
                         for column, transform in USER_EXTRA_RULES if column in tables[name])
    excluded = tuple(name for name, columns in NO_ROWS if name in tables and columns <= tables[name])
    if rules or excluded:
        log.debug("Symfony sanitising profile: %s", ", ".join([f"{r.table}.{r.column}" for r in rules]
                                                            + [f"{t} (no rows)" for t in excluded]))
    return DumpOptions(exclude_tables=excluded, sanitize=tuple(rules))
