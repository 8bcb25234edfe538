"""Finding a kind of table by its columns, and masking login names that are e-mail addresses.

A sanitising profile that names tables only finds the framework's defaults: the same kind of table under
another name (an ``admins`` table of accounts beside ``users``, ActiveAdmin's ``admin_users``, Sylius'
``sylius_shop_user``) keeps its passwords and addresses. A kind of table is known by the columns its
framework gives it (Devise's ``encrypted_password``, Laravel's ``password`` with ``remember_token``), so
profiles look for those in the database's inventory.
"""

from __future__ import annotations

from collections.abc import Iterable

from synco_core.values import DatabaseInventory


def tables_with_columns(inventory: DatabaseInventory | None, columns: Iterable[str], *,
                        prefix: str = "") -> dict[str, set[str]]:
    """The tables of ``inventory`` (named ``prefix...``) having every one of ``columns``, each with its columns,
    as the inventory spells them; empty without an inventory. Names and columns are compared as the engine
    compares them (ignoring case where it does); views are left out (they have no rows of their own)."""
    if inventory is None:
        return {}
    fold_tables = str.lower if inventory.tables_ignore_case else str
    fold_columns = str.lower if inventory.columns_ignore_case else str
    wanted = {fold_columns(column) for column in columns}
    found: dict[str, set[str]] = {}
    for table in inventory.tables:
        if table.kind != "table" or not fold_tables(table.name).startswith(fold_tables(prefix)):
            continue
        if wanted <= {fold_columns(column) for column in table.columns}:
            found[table.name] = set(table.columns)
    return found


def address_masked(engine: str, column: str, key: str) -> str:
    """SQL for ``column`` kept, unless it holds an e-mail address (a login name that is one: Sylius' usernames,
    Django's and Drupal's with e-mail registration): then ``user<key>@example.invalid``, unique like the row's
    ``key`` column. ``column`` and ``key`` are quoted names in ``engine``'s SQL."""
    made = (f"CONCAT('user', {key}, '@example.invalid')" if engine == "mysql"
            else f"'user' || {key} || '@example.invalid'")
    return f"CASE WHEN {column} LIKE '%@%' THEN {made} ELSE {column} END"


def quote_name(engine: str, name: str) -> str:
    """A table or column name quoted for ``engine``'s SQL."""
    if engine == "mysql":
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


#: How the name of a column holding a credential ends (an API token, a provider's OAuth token, a one-time token,
#: a second factor's secret).
CREDENTIAL_SUFFIXES = ("_token", "_secret")


def credential_columns(columns: Iterable[str], *, ruled: Iterable[str] = ()) -> list[str]:
    """The columns of an accounts table whose names say they hold a credential (:data:`CREDENTIAL_SUFFIXES`:
    Laravel's ``api_token``, Socialite's ``github_token`` and ``github_refresh_token``, an application's
    ``totp_secret``), but those in ``ruled`` (the profile masks them its own way), in a stable order."""
    skip = {column.lower() for column in ruled}
    return sorted(column for column in columns
                  if column.lower().endswith(CREDENTIAL_SUFFIXES) and column.lower() not in skip)
