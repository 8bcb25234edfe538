"""Whether the rows a sanitised dump copies still meet the table's constraints where the copy is loaded.

A rule rewrites values on the source, but the table's constraints are only met when the copy is loaded: NULL
in a NOT NULL column, one key in two rows of a unique index, a row breaking a CHECK constraint (a JSON
column's ``json_valid``) made a load fail after the download. The dump loads under a permissive sql_mode, so a
value longer than its column, a number out of its column's range or an ENUM value that is no member was
changed by the load instead, which the load's checksum then refused. These checks run while the dump is
planned, on the rows the dump copies (after ``where`` and ``keep_newest``), and stop in one line naming the
rule and the constraint (:mod:`synco_core.sanitizenulls`). A value longer than its ``CHAR``/``VARCHAR``
column is cut to the column's length in the dump itself, as the load would cut it, and the unique keys are
checked on the cut values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from synco_core.engines.mysql import schema
from synco_core.engines.mysql.connect import quote_name, quote_string
from synco_core.engines.mysql.literals import Column
from synco_core.engines.mysql.newest import order_by
from synco_core.sanitizenulls import (
    always_null,
    breaks_check,
    may_collide,
    may_give_null,
    null_into_not_null,
    orphan_rows,
    refused_by_type,
    same_key_twice,
)
from synco_core.values import SanitizeRule

#: Integer types and the lowest and highest value of their signed form.
_INTEGERS = {"tinyint": 7, "smallint": 15, "mediumint": 23, "int": 31, "integer": 31, "bigint": 63}


@dataclass
class Shape:
    """What a column's type lets it hold, from information_schema.COLUMNS."""

    data_type: str
    column_type: str
    length: int | None
    precision: int | None
    scale: int | None
    nullable: bool
    #: A generated column's expression (the load computes it again from the copied values).
    generation: str | None = None

    @property
    def period(self) -> bool:
        """A system-versioned table's row start or end: the server's stamp of a row version, not an expression."""
        return (self.generation or "").upper() in ("ROW START", "ROW END")

    @property
    def computed(self) -> bool:
        """A generated column, which the load computes from the copied values."""
        return self.generation is not None and not self.period

    @property
    def bounded(self) -> bool:
        """The load cuts a longer value to the column's length."""
        return self.data_type in ("char", "varchar", "binary", "varbinary") and self.length is not None


def shapes(conn: Any, db: str, table: str) -> dict[str, Shape]:
    return {schema.text(name): Shape(schema.text(kind).lower(), schema.text(full).lower(),
                                     int(length) if length is not None else None,
                                     int(precision) if precision is not None else None,
                                     int(scale) if scale is not None else None, schema.text(nullable) == "YES",
                                     schema.text(generation) or None)
            for name, kind, full, length, precision, scale, nullable, generation in schema.query(
                conn, "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, "
                      "NUMERIC_SCALE, IS_NULLABLE, GENERATION_EXPRESSION FROM information_schema.COLUMNS "
                      "WHERE TABLE_SCHEMA=%s AND BINARY TABLE_NAME=BINARY %s", (db, table))}


def fitted(expression: str, shape: Shape) -> str:
    """``expression`` cut to the column's length, as the load would cut it (so the copy's checksum holds)."""
    if not shape.bounded:
        return expression
    return f"LEFT(({expression}\n),{shape.length})"


def copied_rows(table: str, columns: list[Column], rules: dict[str, tuple[SanitizeRule, str]],
                condition: str | None, newest: tuple[str, int] | None,
                table_shapes: dict[str, Shape] | None = None, *, ties: Sequence[str]) -> str:
    """The derived table of the rows the dump copies, rewritten columns under their own names (to be given
    an alias where it is used); with ``table_shapes``, its generated columns too, computed from the copied
    values as the load computes them (a unique key or CHECK over ``LOWER(email)`` stored in a column).
    ``ties`` break the ties of ``newest`` as the dump does (:func:`synco_core.engines.mysql.newest.tie_break`)."""
    select = [f"({rules[c.name][1]}\n) AS {quote_name(c.name)}" if c.name in rules else quote_name(c.name)
              for c in columns if not c.generated]
    sql = f"SELECT {', '.join(select) or '1'} FROM {schema.row_source(table, columns)}"
    if condition is not None:
        sql += f" WHERE ({condition}\n)"
    if newest is not None:
        sql += order_by(table, newest, ties)
    generated = [f"({shape.generation}) AS {quote_name(name)}" for name, shape in (table_shapes or {}).items()
                 if shape.computed and any(c.name == name and c.generated for c in columns)]
    if generated:
        sql = f"SELECT {quote_name(table)}.*, {', '.join(generated)} FROM ({sql}) AS {quote_name(table)}"
    return f"({sql})"


def _out_of_range(value: str, shape: Shape) -> tuple[str, str] | None:
    """An SQL condition true where ``value`` does not fit a numeric or ENUM column, and the reason in words."""
    unsigned = "unsigned" in shape.column_type
    if shape.data_type in _INTEGERS:
        bits = _INTEGERS[shape.data_type]
        low, high = (0, 2 ** (bits + 1) - 1) if unsigned else (-(2 ** bits), 2 ** bits - 1)
        return (f"({value}) < {low} OR ({value}) > {high}",
                f"outside {shape.column_type}: {low} to {high}")
    if shape.data_type == "decimal" and shape.precision is not None and shape.scale is not None:
        limit = Decimal(10) ** (shape.precision - shape.scale)
        low_sql = "0" if unsigned else f"-{limit}"
        return (f"ABS(ROUND(({value}), {shape.scale})) >= {limit}" + (f" OR ({value}) < {low_sql}" if unsigned
                                                                       else ""),
                f"outside {shape.column_type}")
    if shape.data_type == "enum":
        listed = ",".join(quote_string(member) for member in schema.members(shape.column_type))
        return f"({value}) NOT IN ({listed})", f"not a member of {shape.column_type}"
    if shape.data_type == "set":
        # A SET value is its members joined by commas, or empty; a backslash before every character that is
        # not a letter or digit makes a member's text literal in the pattern.
        one = "|".join("".join(c if c.isalnum() else "\\" + c for c in member)
                       for member in schema.members(shape.column_type))
        return (f"({value}) NOT REGEXP {quote_string(f'^(({one})(,({one}))*)?$')}",
                f"not made of the members of {shape.column_type}")
    return None


def check_rows(conn: Any, db: str, table: str, copied: str, rules: dict[str, tuple[SanitizeRule, str]],
               table_shapes: dict[str, Shape]) -> None:
    """Stop on a rule giving NULL to a NOT NULL column, a value out of its column's range, or rows a CHECK
    constraint refuses, on the rows the dump copies (``copied``, from :func:`copied_rows`)."""
    tests: list[tuple[str, Any]] = []
    for column, (rule, _) in rules.items():
        shape = table_shapes[column]
        name = quote_name(column)
        if not shape.nullable and may_give_null(rule):
            if always_null(rule):
                raise null_into_not_null(rule)
            tests.append((f"{name} IS NULL", null_into_not_null(rule)))
        if not always_null(rule):
            ranged = _out_of_range(name, shape)
            if ranged is not None:
                tests.append((ranged[0], refused_by_type(rule, ranged[1])))
    for constraint, clause in schema.query(conn, "SELECT CONSTRAINT_NAME, CHECK_CLAUSE FROM "
                                                 "information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA=%s "
                                                 "AND BINARY TABLE_NAME=BINARY %s ORDER BY CONSTRAINT_NAME",
                                           (db, table)):
        text = schema.text(clause)
        named = [column for column in rules if quote_name(column) in text]
        if not named and any(quote_name(column) in text for column, shape in table_shapes.items() if shape.computed):
            named = list(rules)  # A generated column the rules' values are computed into.
        if named:
            tests.append((f"NOT ({text})", breaks_check(rules[named[0]][0], table, schema.text(constraint), text)))
    if not tests:
        return
    found = schema.query(conn, f"SELECT {', '.join(f'MAX(({test}) IS TRUE)' for test, _ in tests)} "
                               f"FROM {copied} AS {quote_name(table)}")
    for (_, error), hit in zip(tests, found[0], strict=True):
        if hit:
            raise error


def refuse_collisions(conn: Any, db: str, table: str, copied: str, rules: dict[str, tuple[SanitizeRule, str]],
                      table_shapes: dict[str, Shape], columns: Sequence[Column]) -> None:
    """Stop on a rule giving two copied rows one value of a unique key; a prefix key compares the prefix, as
    the index does.

    Every unique key of a system-versioned table holds its row end (the server adds it), so that the versions
    of one row may share the rest: with the history (``columns`` holding the period columns, :func:`copied_rows`
    reads it) the row end is grouped by too, whether information_schema names it in the key (declared period
    columns) or not (the hidden ``row_end``). Without it only current rows are read, whose row ends are all
    alike: the key is the rest."""
    keys: dict[str, list[tuple[str, int | None]]] = {}
    for index, column, part in schema.query(conn, "SELECT INDEX_NAME, COLUMN_NAME, SUB_PART FROM "
                                                  "information_schema.STATISTICS WHERE TABLE_SCHEMA=%s AND "
                                                  "TABLE_NAME=%s AND NON_UNIQUE=0 ORDER BY INDEX_NAME, SEQ_IN_INDEX",
                                            (db, table)):
        keys.setdefault(schema.text(index), []).append((schema.text(column), int(part) if part else None))
    key_columns = len(keys.get("PRIMARY", []))

    def limit(column: str, part: int | None) -> int | None:
        """What the column, or an index's prefix of it, cuts a value to."""
        shape = table_shapes[column]
        lengths = [n for n in (shape.length if shape.bounded else None, part) if n is not None]
        return min(lengths) if lengths else None

    # A prefix of a column in a unique index cuts its values for that index alone.
    colliding = {column for column, (rule, _) in rules.items()
                 if may_collide(rule, limit(column, None), key_columns)
                 or any(may_collide(rule, limit(column, part), key_columns)
                        for key in keys.values() for name, part in key if name == column)}
    if not colliding:
        return
    # A generated column computed from a rewritten one may take one value twice too.
    computed = {column for column, shape in table_shapes.items() if shape.computed}
    periods = {column for column, shape in table_shapes.items() if shape.period}
    row_end = next((column.name for column in columns if column.period == "end"), None)
    for index, key in keys.items():
        named = [column for column, part in key
                 if column in colliding and may_collide(rules[column][0], limit(column, part), key_columns)]
        if not named and any(column in computed for column, _ in key):
            named = sorted(colliding)
        if not named:
            continue
        key = [(column, part) for column, part in key if column not in periods]
        grouped = [*key, *([(row_end, None)] if row_end is not None else [])]
        values = [quote_name(column) if part is None else f"LEFT({quote_name(column)},{part})"
                  for column, part in grouped]
        where = " AND ".join(f"{value} IS NOT NULL" for value in values)
        if schema.query(conn, f"SELECT 1 FROM {copied} AS {quote_name(table)} WHERE {where} "
                              f"GROUP BY {','.join(values)} HAVING COUNT(*) > 1 LIMIT 1"):
            raise same_key_twice(rules[named[0]][0], table, [column for column, _ in key], index)


def refuse_orphans(conn: Any, db: str, copied: dict[str, str | None], filtered: dict[str, str],
                   rewritten: dict[str, dict[str, SanitizeRule]]) -> None:
    """Stop when the copy would hold a row whose foreign key points at a row it does not hold: the parent's
    rows left out or filtered (``where``, ``keep_newest``), or a rule rewriting the key on one side only. The
    dump loads with foreign key checks off (as mariadb-dump's do), so such rows would load, breaking the key.

    ``copied`` maps a table whose rows the dump changes to the derived table of the rows it copies (None: no
    rows); ``filtered`` a table whose rows it leaves out or filters to what does it, in words; ``rewritten`` a
    table to its rules."""
    if not filtered and not rewritten:
        return
    keys: dict[tuple[str, str], tuple[str, list[str], list[str]]] = {}
    for constraint, child, column, parent, parent_column in schema.query(
            conn, "SELECT CONSTRAINT_NAME, TABLE_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME "
                  "FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA=%s AND REFERENCED_TABLE_SCHEMA=%s "
                  "ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION", (db, db)):
        entry = keys.setdefault((schema.text(child), schema.text(constraint)), (schema.text(parent), [], []))
        entry[1].append(schema.text(column))
        entry[2].append(schema.text(parent_column))
    for (child, constraint), (parent, child_columns, parent_columns) in keys.items():
        rules = [*(rule for column, rule in rewritten.get(parent, {}).items() if column in parent_columns),
                 *(rule for column, rule in rewritten.get(child, {}).items() if column in child_columns)]
        if parent not in filtered and not rules:
            continue
        child_rows = copied.get(child, quote_name(child))
        if child_rows is None:
            continue
        where = " AND ".join(f"c.{quote_name(column)} IS NOT NULL" for column in child_columns)
        sql = f"SELECT 1 FROM {child_rows} AS c WHERE {where}"
        parent_rows = copied.get(parent, quote_name(parent))
        if parent_rows is not None:
            match = " AND ".join(f"p.{quote_name(p)} = c.{quote_name(c)}"
                                 for p, c in zip(parent_columns, child_columns, strict=True))
            sql += f" AND NOT EXISTS (SELECT 1 FROM {parent_rows} AS p WHERE {match})"
        if schema.query(conn, sql + " LIMIT 1"):
            cause = filtered[parent] if parent in filtered else f"sanitize rule {rules[0].describe()}"
            raise orphan_rows(cause, child, child_columns, parent, constraint)
