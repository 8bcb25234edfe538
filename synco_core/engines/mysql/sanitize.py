"""Sanitising rules turned into SQL expressions evaluated inside the dump's SELECT.

A rule either carries its own SQL ``expression`` or names a transform: ``null``, ``email`` (a unique
address per row, built from the primary key, or from the dump's keyed digest of a key a rule masks),
``fixed:<value>``, ``hash`` (SHA-256 hex of the dump's key followed by the value, see
:mod:`synco_core.hashkey`) or ``truncate:<n>``. The expression replaces the column in the SELECT, so the
original value never leaves the server.
"""

from __future__ import annotations

from collections.abc import Sequence

from synco_core.engines.mysql.connect import quote_name, quote_string
from synco_core.errors import ConfigError
from synco_core.values import SanitizeRule

#: The session variable holding the dump's key of the ``hash`` transform (:func:`hash_key_statement`).
HASH_KEY_VARIABLE = "@synco_hash_key"


def hash_key_statement(hash_key: str) -> str:
    """The statement giving a dump connection the key of the ``hash`` transform.

    The key is a variable of the session, not a literal in the SELECT that reads the rows: that SELECT's text is
    what SHOW PROCESSLIST shows while it runs and what the slow query log keeps, and whoever read the key there
    could match guesses against the digests. This statement itself takes microseconds.
    """
    return f"SET {HASH_KEY_VARIABLE} = {quote_string(hash_key)}"


#: How many hex digits of the keyed digest an ``email`` address made from a key that is not a number holds
#: (128 bits: two keys of one table share them with a chance of 2^-64 at four billion rows).
EMAIL_DIGEST_DIGITS = 32


def transform_sql(rule: SanitizeRule, primary_key: Sequence[str], *, raw_key: bool) -> str:
    """The SQL expression for ``rule`` on a table with the given primary key columns (``raw_key``: their values
    may go into an ``email`` address as they are); the ``hash`` transform reads the dump's key from the session
    (:func:`hash_key_statement`)."""
    if not rule.transform:
        if not rule.expression.strip():
            raise ConfigError(f"sanitize rule for {rule.table}.{rule.column} has neither an expression nor a transform")
        return rule.expression
    name, _, argument = rule.transform.partition(":")
    column = quote_name(rule.column)
    name = name.strip().lower()
    if name == "null":
        return "NULL"
    if name == "email":
        if primary_key and raw_key:
            key = ",".join(quote_name(c) for c in primary_key)
            # CONCAT_WS keeps composite keys unique ('1-2' vs '12'); the key, not the address, is used
            # so that nothing derived from the original address is published.
            unique = f"CONCAT_WS('-',{key})" if len(primary_key) > 1 else key
        elif primary_key:
            # A key a rule masks may be the address itself (a subscribers table keyed by e-mail) or another
            # personal value (a username): written into the address, it shipped what the rules mask; text keys
            # of several columns joined with '-' may join alike. The dump's keyed digest of the key's values
            # (each in hex) is as unique and reveals nothing.
            key = ",".join(f"HEX({quote_name(c)})" for c in primary_key)
            digest = f"SHA2(CONCAT(CAST({HASH_KEY_VARIABLE} AS BINARY),CONCAT_WS('-',{key})),256)"
            unique = f"LEFT({digest},{EMAIL_DIGEST_DIGITS})"
        else:
            # Without a primary key a random UUID per row is the only unique value that reveals nothing.
            unique = "REPLACE(UUID(),'-','')"
        return f"IF({column} IS NULL,NULL,CONCAT('user',{unique},'@example.invalid'))"
    if name == "fixed":
        return f"IF({column} IS NULL,NULL,{quote_string(argument)})"
    if name == "hash":
        # As bytes: a variable's collation is not coercible as a literal's is, and CONCAT with a column of
        # another would fail; the column's value is joined as the bytes it is stored in, as with a literal.
        return f"SHA2(CONCAT(CAST({HASH_KEY_VARIABLE} AS BINARY),{column}),256)"
    if name == "truncate":
        try:
            length = int(argument)
        except ValueError:
            raise ConfigError(f"sanitize rule for {rule.table}.{rule.column}: truncate needs a number, "
                              f"got {argument!r}") from None
        if length < 0:
            raise ConfigError(f"sanitize rule for {rule.table}.{rule.column}: truncate length must be >= 0")
        return f"LEFT({column},{length})"
    raise ConfigError(f"sanitize rule for {rule.table}.{rule.column}: unknown transform {rule.transform!r} "
                      "(known: null, email, fixed:<value>, hash, truncate:<n>)")
