"""How a table name written in a rule (``--exclude-table``, ``--where``, ``--sanitize``, ``.synco.yml``) finds
its table, the same way on every engine.

A name is written as the database spells it. A dot separates ``schema.table`` (PostgreSQL); a part that holds
a dot or a double quote, or that starts or ends with a space, is double-quoted, its quotes doubled (``"a.b"``,
``"q""t"``), and so, on the command line (``--where TABLE=SQL``), is one holding an ``=`` (``"a=b"``). So every
table can be named: its whole name double-quoted, its quotes doubled, is that name exactly, on every engine.

MySQL and SQLite have no schemas here: there a name written in parts is the table whose name is those parts,
unquoted, joined by dots (``a.b`` and ``"a.b"`` both name table ``a.b``). Text that is not written by that rule
(``q"t``: a quote inside a plain part) is the table of exactly that name. Before this rule, MySQL and SQLite
took every name as written, so ``"a=b"`` (the only way to write that table in ``--where``) named a table
``"a=b"``, quotes included, that does not exist. A name that reads both ways (``"x"``, when tables ``x`` and
``"x"`` both exist) is refused as ambiguous rather than guessed: a sanitising rule on the wrong table would
ship the other one raw.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Collection

from synco_core.errors import ConfigError
from synco_core.values import DumpOptions

#: One part of a name: double-quoted (its quotes doubled), holding anything but NUL, or plain (no dot, no quote).
_PART = r'"(?:[^"\x00]|"")+"|[^."\x00]+'
_NAME = re.compile(rf"(?:{_PART})(?:\.(?:{_PART}))*")
_PARTS = re.compile(_PART)


def name_parts(written: str) -> tuple[str, ...] | None:
    """The parts of ``written``, unquoted (``'a."b.c"'`` -> ``('a', 'b.c')``); None when it is not written by
    the quoting rule (then it is a table's name exactly as written)."""
    if not _NAME.fullmatch(written):
        return None
    return tuple(part[1:-1].replace('""', '"') if part.startswith('"') else part for part in _PARTS.findall(written))


def quoted(name: str) -> str:
    """``name`` written so that it names exactly that table, in one part, also where an ``=`` ends the name
    (``--where TABLE=SQL``): plain when it can be, double-quoted otherwise."""
    if name_parts(name) == (name,) and name == name.strip() and "=" not in name:
        return name
    return '"' + name.replace('"', '""') + '"'


def readings(written: str) -> tuple[str, ...]:
    """The table names ``written`` may mean on an engine without schemas: its parts unquoted and joined by dots,
    and the text as written when that differs (one name, or two)."""
    parts = name_parts(written)
    joined = ".".join(parts) if parts is not None else written
    return (joined,) if joined == written else (joined, written)


def resolve_flat(written: str, tables: Collection[str], what: str, *, ignore_case: bool = False) -> str | None:
    """The table of ``tables`` (names of an engine without schemas) that ``written`` names, None when none.

    ``ignore_case`` (SQLite, MySQL under ``lower_case_table_names``) also finds a table whose name differs only
    in ASCII case. A :class:`ConfigError` naming ``what`` when the name reads as two different tables.
    """
    found: list[str] = []
    for reading in readings(written):
        match = reading if reading in tables else None
        if match is None and ignore_case:
            match = next((t for t in tables if _ascii_lower(t) == _ascii_lower(reading)), None)
        if match is not None and match not in found:
            found.append(match)
    if len(found) > 1:
        raise ConfigError(f"table name {written!r} in {what} is ambiguous: it names table {found[0]!r} (its quotes "
                          f"read as quoting) and table {found[1]!r} (as written); write {quoted(found[1])} "
                          f"for the second")
    return found[0] if found else None


def _ascii_lower(name: str) -> str:
    # SQLite and MySQL fold ASCII letters only.
    return name.translate(_LOWER)


_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def with_tables_resolved(options: DumpOptions, tables: Collection[str], *, ignore_case: bool = False) -> DumpOptions:
    """``options`` with every table name its rules write replaced by the name of the table it names (see
    :func:`resolve_flat`), for an engine without schemas; a name naming no table is left as written, for the
    engine's own check to refuse as unknown."""
    def table(written: str, what: str) -> str:
        return resolve_flat(written, tables, what, ignore_case=ignore_case) or written

    return dataclasses.replace(
        options,
        exclude_tables=tuple(dict.fromkeys(table(t, "the excluded tables") for t in options.exclude_tables)),
        where={table(t, "--where"): condition for t, condition in options.where.items()},
        keep_newest={table(t, "keep_newest"): spec for t, spec in options.keep_newest.items()},
        sanitize=tuple(dataclasses.replace(rule, table=table(rule.table, "the sanitize rules"))
                       for rule in options.sanitize),
    )


#: The engines :func:`resolve_column` knows how to find a column in.
ENGINES_FOLDING_COLUMNS = ("sqlite", "mysql", "postgresql")


def resolve_column(written: str, columns: Collection[str], engine: str) -> str | None:
    """The column of ``columns`` that ``written`` (a rule's column, as written) names, as ``engine`` finds it.

    The column of exactly that name first; else SQLite's ASCII case folding, MySQL's case-insensitive column
    names (``Email`` finds ``email``), and PostgreSQL's folding of an unquoted name to lower case (``EMAIL``
    finds ``email``, never ``Email``). None when it names no column."""
    if written in columns:
        return written
    if engine == "sqlite":
        folded = _ascii_lower(written)
        return next((c for c in columns if _ascii_lower(c) == folded), None)
    if engine == "mysql":
        return next((c for c in columns if c.lower() == written.lower()), None)
    if engine == "postgresql":
        lowered = _ascii_lower(written)
        return lowered if lowered in columns else None
    return None


def with_columns_resolved(options: DumpOptions, columns_of: Callable[[str], Collection[str] | None],
                          engine: str) -> DumpOptions:
    """``options`` with the column of every ``keep_newest`` and sanitising rule spelt as its table spells it
    (see :func:`resolve_column`), its tables already resolved; ``columns_of`` gives a table's columns, None for
    a name naming no table. A column naming none is left as written, for the engine's own check to refuse."""
    def column(table: str, written: str) -> str:
        columns = columns_of(table)
        return (resolve_column(written, columns, engine) if columns is not None else None) or written

    return dataclasses.replace(
        options,
        keep_newest={t: (column(t, c), n) for t, (c, n) in options.keep_newest.items()},
        sanitize=tuple(dataclasses.replace(rule, column=column(rule.table, rule.column))
                       for rule in options.sanitize),
    )
