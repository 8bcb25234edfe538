"""The tables of the local database that the dump does not hold, named before the install replaces it.

The install replaces the whole local database: the swap moves every table of the target aside (into the kept
copy). A laptop's database shared with another application (a table prefix apart: a CRM's ``crm_`` beside
WordPress's ``wp_``), or holding tables production has since dropped, loses them from the live database until
``synco db rollback``; the next install drops them for good. So they are named in the install's question,
``install --plan`` and, under ``--yes``, a warning line: never silently.
"""

from __future__ import annotations

from collections.abc import Collection

from synco_core.listing import some_names
from synco_core.values import DatabaseInventory

#: Tables named in the line; the rest are counted.
SHOWN = 10


def tables_outside(inventory: DatabaseInventory, dumped: Collection[str]) -> list[str]:
    """The tables of ``inventory`` (views aside) that ``dumped`` (the manifest's names) lacks, compared as the
    engine compares names."""
    fold = inventory.tables_ignore_case
    held = {name.lower() if fold else name for name in dumped}
    return sorted(t.name for t in inventory.tables
                  if t.kind == "table" and (t.name.lower() if fold else t.name) not in held)


def outside_line(names: list[str]) -> str:
    count = f"{len(names)} table{'s' if len(names) != 1 else ''}"
    return (f"not in the dump: {some_names(names, SHOWN)} ({count} of the local database, another application's "
            "or dropped on production): the install moves them aside with the rest; synco db rollback brings them "
            "back, the next install drops them")
