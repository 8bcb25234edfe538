"""The default sanitising profile of Neos / Flow: personal data in Neos.Party and Flow's accounts.

Used whenever sanitising is on (the default; ``serve --no-sanitize`` turns the column rewrites off):

- ``neos_party_domain_model_electronicaddress.identifier`` (e-mail addresses, phone numbers, ...) ->
  ``user<id>@example.invalid``, unique per row;
- ``neos_party_domain_model_personname``: every name part -> a fixed placeholder (``Demo User``);
- ``neos_flow_security_account``: ``accountidentifier`` (the login, often an e-mail address) ->
  ``user<id>@example.invalid``, and ``credentialssource`` -> one fixed hash of ``password`` in Flow's
  format, so every account can log in locally with the password ``password``.

No rows from Sandstorm.NeosTwoFactorAuthentication's second factors, nor from Flow's PdoBackend ``cache``
and ``tags`` tables (recognised by their columns), where a site with database caches keeps its sessions.

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


#: Tables whose rows never leave the server: Sandstorm.NeosTwoFactorAuthentication's second factors (TOTP
#: secrets; the copy logs in with the password alone).
NO_ROWS_TABLES = ("sandstorm_neostwofactorauthentication_domain_model_secondfactor",)

#: Flow's PdoBackend cache tables as its DDL names them, with the columns that tell them from an application's
#: own ``cache``/``tags``: a site that keeps its caches in the database keeps its sessions there too
#: (``Flow_Session_Storage``, ``Flow_Session_MetaData``: the logged-in accounts and their tokens). A cache is
#: rebuilt on the copy, so no rows travel, ``--all`` or not.
PDO_CACHE_TABLES = (
    ("cache", frozenset({"identifier", "cache", "context", "lifetime", "content"})),
    ("tags", frozenset({"identifier", "cache", "context", "tag"})),
)


def no_rows_tables(columns: dict[str, set[str]] | None) -> tuple[str, ...]:
    """The tables of the database (``columns``: see :func:`table_columns`) whose rows never travel: only
    those the inventory shows (``cache`` alone may be the application's own), none when it was not read."""
    if columns is None:
        return ()
    return (tuple(name for name in NO_ROWS_TABLES if name in columns)
            + tuple(name for name, needed in PDO_CACHE_TABLES if needed <= columns.get(name, set())))


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
