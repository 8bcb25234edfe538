"""Inheriting tables whose columns came in an order ``INHERITS`` alone cannot give, rebuilt column by column.

A column a child inherits without declaring it is not the child's own (``pg_attribute.attislocal`` is
false): ``pg_dump`` leaves it out of the child's ``CREATE TABLE``, and the parent's ``DROP COLUMN`` takes it
from the child too. Only two statements make such a column: ``CREATE TABLE ... INHERITS``, which puts the
parents' columns first, and the parent's ``ALTER TABLE ... ADD COLUMN``, which appends it to every child
that exists then. A child created before its parent gained a column has that column after its own ones,
which ``INHERITS`` cannot give; making the child inherit afterwards (``ALTER TABLE ... INHERIT``) keeps the
order but leaves every column the child's own.

So for a family of such tables (the tables linked to one another by inheritance) :func:`replay` finds an
order of ``CREATE TABLE`` and ``ADD COLUMN`` statements that ends in each table's exact column order and
``attislocal`` (``attinhcount`` follows from the parents' columns), by simulating what each statement
does: every table is created once its parents exist, with their columns so far and as many of its own as
come next, and columns are then added one at a time, each by the table that owns it, where each child
that gets it from there expects it next. ``pg_dump`` instead puts a child's inherited columns first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from synco_core.engines.postgresql.catalog import Table


@dataclass
class Step:
    """``table`` created with its first ``count`` columns, or given its column number ``count`` (1-based)."""

    table: Table
    create: bool
    count: int
    #: How many columns each parent of a table being created has then.
    parents: dict[int, int]


@dataclass
class Replay:
    """The statements of a family, as steps grouped by the table whose creation they come with."""

    #: Per table OID, in creation order: the steps that come with its creation (its ``CREATE TABLE`` and the
    #: columns added before it; the last table's group also holds the columns added after every creation).
    groups: dict[int, list[Step]] = field(default_factory=dict)
    #: Per table OID, the columns it was created with.
    created_with: dict[int, int] = field(default_factory=dict)


def families(tables: list[Table]) -> list[list[Table]]:
    """The sets of tables linked by plain inheritance that ``INHERITS`` cannot make exactly: a child has a
    column it does not declare after a column that does not come from its parents at creation."""
    by_oid = {t.oid: t for t in tables}
    linked: dict[int, set[int]] = {}
    for table in tables:
        for parent in table.inherits:
            linked.setdefault(table.oid, set()).add(parent)
            linked.setdefault(parent, set()).add(table.oid)
    found: list[list[Table]] = []
    seen: set[int] = set()
    for table in tables:
        if table.oid in seen or table.oid not in linked:
            continue
        members: list[int] = []
        todo = [table.oid]
        while todo:
            oid = todo.pop()
            if oid in seen:
                continue
            seen.add(oid)
            members.append(oid)
            todo.extend(linked.get(oid, ()))
        family = [t for t in tables if t.oid in members]
        if all(oid in by_oid for oid in members) and any(_needs_replay(t, by_oid) for t in family):
            found.append(family)
    return found


def _merged(parents: list[list[str]]) -> list[str]:
    return list(dict.fromkeys(name for columns in parents for name in columns))


def _needs_replay(table: Table, by_oid: dict[int, Table]) -> bool:
    if not table.inherits:
        return False
    inherited = _merged([[c.name for c in by_oid[p].columns] for p in table.inherits])
    in_order = [c.name for c in table.columns][:len(inherited)] == inherited
    return not in_order and any(not c.is_local for c in table.columns)


def _at_creation(table: Table, by_oid: dict[int, Table]) -> dict[int, int]:
    """How many columns each parent of ``table`` has when it is created: as many as give the longest start
    of its columns that ``INHERITS`` makes (each parent's columns in it are the first ones it has)."""
    parents = [by_oid[p] for p in table.inherits]
    inherited = {c.name for parent in parents for c in parent.columns}
    head = 0
    while head < len(table.columns) and table.columns[head].name in inherited:
        head += 1
    for length in range(head, -1, -1):
        start = {c.name for c in table.columns[:length]}
        counts = {p.oid: sum(c.name in start for c in p.columns) for p in parents}
        if all({c.name for c in p.columns[:counts[p.oid]]} <= start for p in parents) and \
                _merged([[c.name for c in p.columns[:counts[p.oid]]] for p in parents]) == \
                [c.name for c in table.columns[:length]]:
            return counts
    raise AssertionError("no parent columns at all always fits")


def replay(family: list[Table]) -> Replay | None:
    """The steps that build ``family`` exactly, or None where this search finds none (a table that is not
    an ordinary one, or an order it cannot reach: the caller then keeps the columns' order only)."""
    if any(t.kind != "r" or t.parent is not None or t.of_type for t in family):
        return None
    by_oid = {t.oid: t for t in family}
    children: dict[int, list[Table]] = {t.oid: [] for t in family}
    for table in family:
        for parent in table.inherits:
            children[parent].append(table)
    #: Per child, its parents' column counts when it is created.
    planned = {t.oid: _at_creation(t, by_oid) for t in family if t.inherits}
    have: dict[int, int] = {}
    steps: list[Step] = []

    def names(table: Table) -> list[str]:
        return [c.name for c in table.columns[:have[table.oid]]]

    def cap(table: Table) -> int:
        """The columns ``table`` may have before its children not created yet are."""
        return min([planned[child.oid][table.oid] for child in children[table.oid] if child.oid not in have],
                   default=len(table.columns))

    def receives(table: Table, name: str) -> bool:
        """Whether every existing descendant that gets column ``name`` from ``table`` expects it next."""
        for child in children[table.oid]:
            if child.oid not in have or name in names(child):
                continue  # a child that has the column merges it and stops the cascade
            position = have[child.oid]
            if position >= min(len(child.columns), cap(child)) or child.columns[position].name != name \
                    or child.columns[position].is_local or not receives(child, name):
                return False
        return True

    def add(table: Table, name: str) -> None:
        for child in children[table.oid]:
            if child.oid in have and name not in names(child):
                have[child.oid] += 1
                add(child, name)

    def creatable(table: Table) -> int | None:
        if table.oid in have or any(p not in have for p in table.inherits):
            return None
        counts = planned.get(table.oid, {})
        if any(have[p] != counts[p] for p in table.inherits):
            return None
        count = len(_merged([names(by_oid[p]) for p in table.inherits]))
        # Its own columns that come next are declared in its CREATE TABLE (one that a parent gains later is
        # merged then).
        while count < min(len(table.columns), cap(table)) and table.columns[count].is_local:
            count += 1
        return count

    def addable(table: Table) -> bool:
        position = have.get(table.oid)
        if position is None or position >= min(len(table.columns), cap(table)):
            return False
        column = table.columns[position]
        # PostgreSQL refuses to add an identity column to a table with children.
        if column.identity and any(child.oid in have for child in children[table.oid]):
            return False
        return column.is_local and receives(table, column.name)

    waiting = list(family)
    while waiting or any(have[t.oid] < len(t.columns) for t in family):
        # A table is created as soon as its parents have the columns it starts with, before any column is
        # added that it would get too.
        chosen = next((t for t in waiting if creatable(t) is not None), None) or next(
            (t for t in family if addable(t)), None)
        if chosen is None:
            return None
        if chosen.oid not in have:
            count = creatable(chosen)
            assert count is not None
            waiting.remove(chosen)
            steps.append(Step(chosen, True, count, {p: have[p] for p in chosen.inherits}))
            have[chosen.oid] = count
        else:
            steps.append(Step(chosen, False, have[chosen.oid] + 1, {}))
            have[chosen.oid] += 1
            add(chosen, chosen.columns[have[chosen.oid] - 1].name)
    result = Replay()
    group: list[Step] = []
    for step in steps:
        group.append(step)
        if step.create:
            result.created_with[step.table.oid] = step.count
            result.groups[step.table.oid] = group
            group = []
    last = next(reversed(result.groups))
    result.groups[last].extend(group)
    return result


def current(table: Table, count: int) -> Table:
    """``table`` as it is with its first ``count`` columns."""
    return replace(table, columns=table.columns[:count])
