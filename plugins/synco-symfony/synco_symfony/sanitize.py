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

#: ``make:user`` (Doctrine): the table of the User entity, with the columns that identify it.
USER_TABLES = ("user", "users")
USER_COLUMNS = frozenset({"roles", "password"})

#: Tables whose rows never leave the server, each with the columns that identify it:
#: PdoSessionHandler's sessions, Messenger's Doctrine transport (queued messages would be handled
#: again on the copy: e-mails sent twice), ResetPasswordBundle's requests, remember-me tokens.
NO_ROWS = (
    ("sessions", frozenset({"sess_id", "sess_data"})),
    ("messenger_messages", frozenset({"body", "queue_name"})),
    ("reset_password_request", frozenset({"hashed_token", "selector"})),
    ("rememberme_token", frozenset({"series", "value"})),
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
    excluded = tuple(name for name, columns in NO_ROWS if name in tables and columns <= tables[name])
    if rules or excluded:
        log.debug("Symfony sanitising profile: %s", ", ".join([f"{r.table}.{r.column}" for r in rules]
                                                            + [f"{t} (no rows)" for t in excluded]))
    return DumpOptions(exclude_tables=excluded, sanitize=tuple(rules))
