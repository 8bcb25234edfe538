"""Sanitising rules that would give NULL to a NOT NULL column, or one value to two rows of a unique key.

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


def may_collide(rule: SanitizeRule) -> bool:
    """The rule may give two rows the same value where they had different ones: ``fixed:``, ``truncate:``, or
    an expression of the user's (``email`` is built from the row's key, ``hash`` keeps values apart, ``null``
    gives NULL, which a unique key takes any number of)."""
    if rule.transform is None:
        return not always_null(rule)
    return rule.transform.partition(":")[0].strip().lower() in ("fixed", "truncate")


def same_key_twice(rule: SanitizeRule, table: str, key: list[str]) -> ConfigError:
    return ConfigError(f"sanitize rule {rule.describe()} gives two rows of {table} the same unique key "
                       f"({', '.join(key)}): the copy could not be loaded; give each row its own value instead "
                       "(email, hash, or an expression using the row's key)")
