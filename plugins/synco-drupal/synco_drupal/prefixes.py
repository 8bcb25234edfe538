"""The table prefixes of the Drupal sites whose tables share one database.

``serve`` dumps the whole database, and a database often holds more than the configured site: the sites of a
multisite that share one database, each under its own ``prefix`` (``site1_``, ``site2_``), a second Drupal on
the same hosting account, the tables a site left under its old prefix. Each is sanitised as the configured one
is, or its accounts, sessions and caches would ship as production has them.
"""

from __future__ import annotations

from synco_core import DatabaseInventory

#: The tables that make a set of tables a Drupal site, by the columns Drupal gives them: another site in the
#: same database is found by these, whatever its prefix.
SITE_SHAPES = (("users_field_data", ("uid", "name", "pass", "mail")),
               ("key_value", ("collection", "name", "value")),
               ("sessions", ("uid", "sid", "session")))


def site_prefixes(prefix: str, inventory: DatabaseInventory | None) -> list[str]:
    """``prefix`` and the prefix of every other set of Drupal tables in the database (the configured one
    first), each once, as the engine compares names."""
    prefixes = [prefix]
    if inventory is None:
        return prefixes
    fold_tables = inventory.tables_ignore_case
    fold_columns = inventory.columns_ignore_case
    known = {prefix.lower() if fold_tables else prefix}
    for table in inventory.tables:
        if table.kind != "table":
            continue
        name = table.name.lower() if fold_tables else table.name
        columns = {c.lower() for c in table.columns} if fold_columns else set(table.columns)
        for suffix, needed in SITE_SHAPES:
            wanted = {c.lower() for c in needed} if fold_columns else set(needed)
            if not name.endswith(suffix) or not wanted <= columns:
                continue
            found = table.name[:-len(suffix)]
            key = found.lower() if fold_tables else found
            if key not in known:
                known.add(key)
                prefixes.append(found)
    return prefixes
