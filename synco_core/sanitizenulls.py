"""Sanitising rules whose values the schema refuses: NULL in a NOT NULL column, one value in two rows of a
unique key, a row breaking a CHECK constraint, a value the column's type cannot hold.

The rules are applied as the rows are read, on the source; the column's constraint is only met where the
copy is loaded, so a rule giving a NOT NULL column NULL (the ``null`` transform, or an expression that is
NULL for some row) made a dump that every load refused, on its first such row. The engines check it while
planning the dump instead, and stop in one line naming the rule: the ``null`` transform needs no query, an
expression is evaluated on the rows the dump would copy (one query, stopping at the first NULL). The other
transforms give NULL only where the value was NULL already.

A rule giving two rows of a unique key (primary key, unique constraint or index over plain columns) the
same value fails the same way, when the load builds the index: ``fixed:``, ``truncate:`` and expressions
are grouped by the key as the copy would hold it, on the rows the dump copies (one query per such key),
before anything is written.

Two rows an exclusion constraint (PostgreSQL's ``EXCLUDE``) holds apart, made to conflict by a rule, fail the
same way: PostgreSQL's engine builds the constraint's index over the copied rows (:mod:`synco_core.engines.
postgresql.exclusions`).

A CHECK constraint over a rewritten column, or a value its column's type refuses (a number out of range, an
ENUM member that is not one, a domain's CHECK), failed the load the same way: the engines evaluate them on the
rows the copy holds too. Every check reads the rows the dump copies, after ``where`` and ``keep_newest``.
"""

from __future__ import annotations

from synco_core.errors import ConfigError
from synco_core.values import SanitizeRule


def always_null(rule: SanitizeRule) -> bool:
    """The rule gives every row NULL: the ``null`` transform, or the expression ``NULL`` itself."""
    if rule.transform is not None:
        return rule.transform.partition(":")[0].strip().lower() == "null"
    return rule.expression.strip().strip("()").strip().upper() == "NULL"


def may_give_null(rule: SanitizeRule) -> bool:
    """The rule may turn a value into NULL: ``null``, or an expression of the user's."""
    return always_null(rule) or rule.transform is None


def null_into_not_null(rule: SanitizeRule) -> ConfigError:
    return ConfigError(f"sanitize rule {rule.describe()} gives NULL to {rule.table}.{rule.column}, which is NOT NULL: "
                       "the copy could not be loaded; give it a value instead (fixed:<value>, or an expression "
                       "that is never NULL)")


#: The longest value of the ``hash`` transform: SHA-256 in hex.
HASH_LENGTH = 64
#: The longest ``email`` address made of one integer key column ('user', a BIGINT's 20 characters,
#: '@example.invalid'), of 32 hex digits of a digest, or of MySQL's UUID: a key column more adds 21.
EMAIL_LENGTH = 4 + 32 + 16


def longest_mask(rule: SanitizeRule, key_columns: int = 1) -> int | None:
    """The most characters ``email`` or ``hash`` gives on a table whose primary key has ``key_columns``
    columns; None for any other rule, whose values may be of any length."""
    if rule.transform is None:
        return None
    name = rule.transform.partition(":")[0].strip().lower()
    if name == "hash":
        return HASH_LENGTH
    if name == "email":
        return max(EMAIL_LENGTH, 4 + 21 * key_columns - 1 + 16)
    return None


def may_collide(rule: SanitizeRule, limit: int | None = None, key_columns: int = 1) -> bool:
    """The rule may give two rows the same value where they had different ones: ``fixed:``, ``truncate:``, or
    an expression of the user's (``email`` is built from the row's key, ``hash`` keeps values apart, ``null``
    gives NULL, which a unique key takes any number of). A value longer than ``limit`` characters (a
    ``VARCHAR(n)`` or ``CHAR(n)`` column's length, a MySQL index's prefix) is cut to it, and an ``email`` or
    ``hash`` cut short may meet another; one that always fits cannot (a ``GROUP BY`` over every copied row
    of a table of a million was most of a sanitised dump's time on the server)."""
    if rule.transform is None:
        return not always_null(rule)
    name = rule.transform.partition(":")[0].strip().lower()
    if name in ("fixed", "truncate"):
        return True
    longest = longest_mask(rule, key_columns)
    return longest is not None and limit is not None and limit < longest


def same_key_twice(rule: SanitizeRule, table: str, key: list[str], index: str = "") -> ConfigError:
    named = f" (index {index})" if index and index != ", ".join(key) else ""
    return ConfigError(f"sanitize rule {rule.describe()} gives two rows of {table} the same unique key "
                       f"({', '.join(key)}){named}: the copy could not be loaded; give each row its own value "
                       "instead (email, hash, or an expression using the row's key)")


def breaks_check(rule: SanitizeRule, table: str, constraint: str, expression: str) -> ConfigError:
    return ConfigError(f"sanitize rule {rule.describe()} gives rows of {table} values its CHECK constraint "
                       f"{constraint} ({' '.join(expression.split())}) refuses: the copy could not be loaded; give "
                       "the column a value the constraint accepts")


def breaks_exclusion(rule: SanitizeRule, table: str, constraint: str, definition: str, reason: str = "") -> ConfigError:
    return ConfigError(f"sanitize rule {rule.describe()} gives rows of {table} values its exclusion constraint "
                       f"{constraint} ({' '.join(definition.split())}) refuses{reason}: the copy could not be loaded; "
                       "give the rows values that cannot conflict (an expression using the row's key)")


def refused_by_type(rule: SanitizeRule, reason: str) -> ConfigError:
    return ConfigError(f"sanitize rule {rule.describe()} gives {rule.table}.{rule.column} a value its type refuses "
                       f"({' '.join(reason.split())}): the copy could not be loaded; give the column a value of "
                       "its type")


def generated_column(rule: SanitizeRule) -> ConfigError:
    return ConfigError(f"sanitize rule {rule.describe()} names a generated column: the copy computes "
                       f"{rule.table}.{rule.column} again from the columns it is made of, so the rule would change "
                       "nothing; sanitise those columns instead")


def orphan_rows(cause: str, child: str, columns: list[str], parent: str, constraint: str) -> ConfigError:
    return ConfigError(f"{cause} leaves rows of {child} whose {', '.join(columns)} point at rows of {parent} the copy "
                       f"does not hold (foreign key {constraint}): the copy could not be loaded; filter {child} the "
                       f"same way, or rewrite the key alike on both sides")
