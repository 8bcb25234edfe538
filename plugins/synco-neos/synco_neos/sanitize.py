"""The default sanitising profile of Neos / Flow: personal data in Neos.Party and Flow's accounts.

Used whenever sanitising is on (the default; ``serve --no-sanitize`` turns the column rewrites off):

- ``neos_party_domain_model_electronicaddress.identifier`` (e-mail addresses, phone numbers, ...) ->
  ``user<id>@example.invalid``, unique per row;
- ``neos_party_domain_model_personname``: every name part -> a fixed placeholder (``Demo User``);
- ``neos_flow_security_account``: ``accountidentifier`` (the login, often an e-mail address) ->
  ``user<id>@example.invalid``, and ``credentialssource`` -> one fixed hash of ``password`` in Flow's
  format, so every account can log in locally with the password ``password``.

The Neos 8 event log, which also names accounts, is left out by the smart transfer; ``serve --all`` ships its
rows with ``accountidentifier`` emptied.
"""

from __future__ import annotations

from synco_core import DatabaseInventory, SanitizeRule
from synco_neos.resourcedb import EVENTLOG_TABLE

#: Flow's HashService format ``<strategy>=><hash>`` with the default ``bcrypt`` strategy: crypt() of
#: "password" with a ``$2a$`` salt at Flow's default cost 14, which every Flow version's
#: BCryptHashingStrategy accepts (older ones insist on ``$2a$``, newer ones use password_verify).
PASSWORD_HASH = "bcrypt=>$2a$14$synco0Neos0Password00uBukDXpQbsta0LhtiB3dL45O3fv37e/W"

ELECTRONIC_ADDRESS_TABLE = "neos_party_domain_model_electronicaddress"
PERSON_NAME_TABLE = "neos_party_domain_model_personname"
ACCOUNT_TABLE = "neos_flow_security_account"

#: (table, column, transform) of the profile, in the order they are reported.
PROFILE: tuple[tuple[str, str, str], ...] = (
    (ELECTRONIC_ADDRESS_TABLE, "identifier", "email"),
    (PERSON_NAME_TABLE, "title", "fixed:"),
    (PERSON_NAME_TABLE, "firstname", "fixed:Demo"),
    (PERSON_NAME_TABLE, "middlename", "fixed:"),
    (PERSON_NAME_TABLE, "lastname", "fixed:User"),
    (PERSON_NAME_TABLE, "othername", "fixed:"),
    (PERSON_NAME_TABLE, "alias", "fixed:"),
    (PERSON_NAME_TABLE, "fullname", "fixed:Demo User"),
    (ACCOUNT_TABLE, "accountidentifier", "email"),
    (ACCOUNT_TABLE, "credentialssource", f"fixed:{PASSWORD_HASH}"),
    # Who did what in the Neos 8 event log, whose rows only ``serve --all`` ships.
    (EVENTLOG_TABLE, "accountidentifier", "fixed:"),
)


def table_columns(inventory: DatabaseInventory | None) -> dict[str, set[str]] | None:
    """Lower-case column names per table of the inventory; None when the database was not inspected.

    Tables are named as the engine's inventory names them: plain for MySQL, SQLite and PostgreSQL's
    ``public`` schema, ``schema.table`` elsewhere (where Flow's tables are not looked for).
    """
    if inventory is None:
        return None
    return {t.name.lower(): {c.lower() for c in t.columns} for t in inventory.tables if t.kind == "table"}


def sanitize_profile() -> tuple[SanitizeRule, ...]:
    """The whole profile. A Flow application without Neos.Party has none of its tables: the core drops the
    rules for tables and columns the database lacks (engines refuse rules for unknown tables)."""
    return tuple(SanitizeRule(table=table, column=column, transform=transform) for table, column, transform in PROFILE)
