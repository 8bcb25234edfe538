"""How the rows of each table are read: the ``COPY`` source with the dump's filters and sanitising rules.

Filters and sanitising rules become part of the ``COPY (SELECT ...) TO STDOUT`` the server runs: a value
that is masked never leaves the server. Conditions and expressions a user or plugin writes reach the
server exactly as written, inside parentheses and followed by a line break (a trailing ``--`` comment
ends there); the query goes out with the simple query protocol, never through a formatting step, so
``%``, ``{}``, ``$1``, ``?``, quotes and backslashes keep their SQL meaning.

:func:`copy_out` streams the rows of one such source in large blocks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import pq

from synco_core import dumpprogress
from synco_core.engines.postgresql import copychecks, rawtext, searchpaths, xmltext
from synco_core.engines.postgresql.catalog import Quoter, Table, fetch, literal
from synco_core.engines.postgresql.connection import drain_results, one_line, result_error
from synco_core.engines.postgresql.exclusions import ExclusionChecks
from synco_core.engines.postgresql.quotedvalues import result_sqlstate, without_value
from synco_core.errors import ConfigError, DatabaseError
from synco_core.hashkey import new_hash_key
from synco_core.sanitizenulls import generated_column
from synco_core.tablenames import name_parts, quoted, resolve_column
from synco_core.values import DumpOptions, SanitizeRule

#: COPY data is collected into blocks of this size before hashing and writing, so the per-row cost is
#: a few bytes appended to a buffer and all the hashing and writing happens in large C-level calls.
BLOCK_SIZE = 1 << 20


@contextlib.contextmanager
def _locks_let_go(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """A check's query in a savepoint rolled back after it: the locks it takes (the indexes its plan opens) go,
    as the dump's reads let theirs go, so the dump still holds one lock per table; the search path it set for
    the query (transaction-local) goes back with it."""
    conn.execute("SAVEPOINT synco_check")
    try:
        yield
    finally:
        conn.execute("ROLLBACK TO SAVEPOINT synco_check; RELEASE SAVEPOINT synco_check")


@dataclass
class DataPlan:
    """How the rows of one table are read: the COPY source and the rules that shaped it."""

    columns: list[str]
    query: str
    rules: list[str]
    excluded: bool
    #: The SELECT list of the rows (one item per column) and the ``FROM ...`` rest of the query, which
    #: :mod:`.widerows` reuses to find and read rows too wide for one COPY message; empty for a custom query.
    select: list[str] = field(default_factory=list)
    rest: str = ""
    #: Columns a sanitising rule rewrites: their values are not the table's own.
    rewritten: frozenset[str] = frozenset()

    def source(self, row_id: str) -> str:
        """The SELECT the rows come from, with the row's ``ctid`` as an extra last column named ``row_id``."""
        return f"SELECT {', '.join([*self.select, f'ctid AS {row_id}'])} {self.rest}"

    def column_list(self, q: Quoter) -> str:
        """The parenthesised column list of a COPY, or nothing: a table with no columns (or only generated
        ones) has rows all the same, and ``COPY t ()`` is a syntax error."""
        return f" ({', '.join(q(c) for c in self.columns)})" if self.columns else ""


#: The session setting holding the ``hash`` transform's key (:class:`DataPlanner`).
HASH_KEY_SETTING = "synco.hash_key"
#: The key types an ``email`` address is made of as they are; any other key goes in as a keyed digest.
INTEGER_TYPES = frozenset({"smallint", "integer", "bigint"})
#: How many hex digits of that digest the address holds (128 bits, as the MySQL and SQLite engines).
EMAIL_DIGEST_DIGITS = 32


def refused_rules(table: Table, sanitised: dict[str, tuple[SanitizeRule, str]], condition: str | None,
                  exc: psycopg.Error) -> DatabaseError:
    """One line naming the table and its rules and filter when the server refuses what they ask of it (a name it
    does not know, a right the role lacks, a write): the server's words alone named neither. The dump reads in
    one read-only transaction, as a hot standby allows nothing else: ``nextval()`` or a function that writes
    fails there whatever the server."""
    rules = [f"{table.display}.{column} -> {rule.shown()}" for column, (rule, _) in sanitised.items()]
    if condition is not None:
        rules.append(f"where {condition}")
    return DatabaseError(f"dump failed reading table {table.display} with {'; '.join(rules)}: "
                         f"{one_line(exc)}{read_only_advice(one_line(exc))}")


def refused(exc: psycopg.Error) -> bool:
    """Whether the server refused what a rule or filter asks of it: a write (25006), a name it does not know or
    a right the role lacks (class 42); not a lock waited for or a conflict with recovery, which say what they are."""
    return exc.sqlstate == "25006" or (exc.sqlstate or "").startswith("42")


def read_only_advice(message: str) -> str:
    """What to do about a write refused in the dump's read-only transaction (the server's ``message``: "cannot
    execute nextval() in a read-only transaction"), as a clause; else nothing."""
    if "in a read-only transaction" not in message:
        return ""
    return ("; the dump reads in one read-only transaction (a hot standby allows no other): a rule or filter may not "
            "write, call nextval() or a function that writes")


class DataPlanner:
    """Checks every table and column an option names, and builds the COPY source of each table."""

    def __init__(self, conn: psycopg.Connection[Any], quote: Quoter, options: DumpOptions,
                 table_paths: dict[int, list[str]] | None = None,
                 opener: Callable[[], psycopg.Connection[Any]] | None = None) -> None:
        self.conn = conn
        #: The schemas a query on a table needs in its path (:func:`.searchpaths.table_query_paths`).
        self.table_paths = table_paths or {}
        self.quote = quote
        self.options = options
        self.hash_key = new_hash_key()
        # The key is a setting of the dump's session, sent once as a bound parameter, not a literal in the COPY:
        # the COPY's text is what pg_stat_activity shows while it runs and what a slow-statement log keeps
        # (log_min_duration_statement), and whoever read the key there could match guesses against the digests.
        # set_config in the dump's transaction lasts as long as it does.
        conn.execute(f"SELECT pg_catalog.set_config('{HASH_KEY_SETTING}', %s, false)", [self.hash_key])
        #: ``opener`` gives a second connection, on which exclusion constraints are checked (:mod:`.exclusions`).
        self.exclusions = ExclusionChecks(conn, opener, {HASH_KEY_SETTING: self.hash_key})

    def plan(self, tables: list[Table]) -> dict[int, DataPlan]:
        """Check every table and column an option names, and build the COPY source of each table."""
        try:
            return self._plan(tables)
        finally:
            self.exclusions.close()

    def _plan(self, tables: list[Table]) -> dict[int, DataPlan]:
        options = self.options
        q = self.quote
        lookup: dict[str, list[Table]] = {}
        for table in tables:
            lookup.setdefault(f"{table.schema}.{table.name}", []).append(table)
            lookup.setdefault(table.name, []).append(table)
            if table.display not in (table.name, f"{table.schema}.{table.name}"):
                # A name holding a dot is also found by its manifest key ("a.b" quoted).
                lookup.setdefault(table.display, []).append(table)

        by_parts: dict[tuple[str, ...], list[Table]] = {}
        for table in tables:
            by_parts.setdefault((table.schema, table.name), []).append(table)
            by_parts.setdefault((table.name,), []).append(table)

        def resolve(name: str, what: str) -> Table:
            # A manifest key, "schema.name" or a table's own name as before; else written by the quoting rule
            # (synco_core.tablenames: "a=b", "q""t", s."a=b"), its parts unquoted.
            parts = name_parts(name)
            as_written = lookup.get(name, [])
            by_rule = by_parts.get(parts, []) if parts is not None else []
            if len(as_written) == 1 and len(by_rule) == 1 and as_written[0] is not by_rule[0]:
                # '"x"' when tables x and "x" both exist: which one a rule masks must not be a guess, or the
                # other one ships raw (synco_core.tablenames).
                unquoted, written = by_rule[0].display, as_written[0].display
                raise ConfigError(f"table name {name!r} in {what} is ambiguous: it names table {unquoted!r} (its "
                                  f"quotes read as quoting) and table {written!r} (as written); write "
                                  f"{quoted(as_written[0].name)} for the second")
            found = as_written or by_rule
            if not found:
                raise ConfigError(f"unknown table {name!r} in {what}")
            if len(found) > 1:
                schemas = ", ".join(sorted(f"{t.schema}.{t.name}" for t in found))
                raise ConfigError(f"table name {name!r} in {what} is ambiguous ({schemas}); qualify it with its schema")
            return found[0]

        by_oid = {t.oid: t for t in tables}

        def lineage(table: Table) -> list[int]:
            # Options given for a table also apply to its partitions and to the tables that INHERIT from
            # it, because reading the parent in PostgreSQL reads their rows too: sanitising users.email
            # must mask the e-mails of every table users' rows live in. Nearest first: the table's own
            # option wins over a parent's.
            chain: list[int] = []
            queue = [table.oid]
            while queue:
                oid = queue.pop(0)
                if oid in chain or oid not in by_oid:
                    continue
                chain.append(oid)
                current = by_oid[oid]
                queue.extend(([current.parent] if current.parent is not None else []) + current.inherits)
            return chain

        excluded = {resolve(name, "the excluded tables").oid for name in options.exclude_tables}
        where = {resolve(name, "--where").oid: condition for name, condition in options.where.items()}
        newest: dict[int, tuple[str, int]] = {}
        for name, (column, count) in options.keep_newest.items():
            table = resolve(name, "keep_newest")
            # An unquoted name folds to lower case in PostgreSQL: EMAIL is the column email.
            column = resolve_column(column, [c.name for c in table.columns], "postgresql") or column
            if column not in {c.name for c in table.columns}:
                raise ConfigError(f"unknown column {column!r} of table {name!r} in keep_newest")
            newest[table.oid] = (column, int(count))
        rules: dict[int, dict[str, SanitizeRule]] = {}
        for rule in options.sanitize:
            table = resolve(rule.table, "the sanitize rules")
            # An unquoted name folds to lower case in PostgreSQL: EMAIL is the column email.
            spelt = resolve_column(rule.column, [c.name for c in table.columns], "postgresql")
            rule = dataclasses.replace(rule, column=spelt) if spelt is not None else rule
            if rule.column not in {c.name for c in table.columns}:
                raise ConfigError(f"unknown column {rule.column!r} of table {rule.table!r} in the sanitize rules")
            if any(c.name == rule.column and c.generated for c in table.columns):
                raise generated_column(rule)
            rules.setdefault(table.oid, {})[rule.column] = rule

        # Tables whose rows are read together with other tables' rows (partitioned and INHERITS parents).
        ancestors = {oid for table in tables for oid in lineage(table)[1:]}
        plans: dict[int, DataPlan] = {}
        xml = xmltext.xml_columns(self.conn, [t.oid for t in tables if t.kind == "r"])
        #: Tables whose rows the dump leaves out or filters, and what does it; the rules of each table.
        filtered: dict[int, str] = {}
        rewritten: dict[int, dict[str, SanitizeRule]] = {}
        for table in tables:
            if table.kind != "r":
                continue
            chain = lineage(table)
            columns = [c.name for c in table.columns if not c.generated]
            name = q.qualified(table.schema, table.name)
            applied: list[str] = []
            if any(oid in excluded for oid in chain):
                plans[table.oid] = DataPlan(columns, "", [f"{table.display}: rows left out (structure only)"], True)
                filtered[table.oid] = f"leaving out the rows of {table.display}"
                continue
            table_rules: dict[str, SanitizeRule] = {}
            for oid in reversed(chain):
                table_rules.update(rules.get(oid, {}))
            condition_of = next((oid for oid in chain if oid in where), None)
            condition = where[condition_of] if condition_of is not None else None
            keep_of = next((oid for oid in chain if oid in newest), None)
            keep = newest[keep_of] if keep_of is not None else None
            stored = xml.get(table.oid, {})
            if not table_rules and condition is None and keep is None:
                plan = DataPlan(columns, "", [], False, [xmltext.as_stored(q, c, stored[c]) if c in stored else q(c)
                                                         for c in columns], f"FROM ONLY {name}")
                plan.query = f"COPY {name}{plan.column_list(q)} TO STDOUT" if not stored \
                    else f"COPY (SELECT {', '.join(plan.select)} {plan.rest}) TO STDOUT"
                plans[table.oid] = plan
                continue
            select = []
            sanitised: dict[str, tuple[SanitizeRule, str]] = {}
            for column in columns:
                found = table_rules.get(column)
                if found is None:
                    select.append(q(column))
                else:
                    # The cast makes the rewritten value fit the column (a hash into varchar(20) is cut
                    # to 20 characters) and fails here, on the source, when it cannot fit at all.
                    described = next(c for c in table.columns if c.name == column)
                    value = f"CAST(({self.rule_expression(table, found, set(table_rules))}\n) AS {described.type})"
                    select.append(f"{value} AS {q(column)}")
                    sanitised[column] = (found, value)
                    applied.append(f"{table.display}.{column} -> {found.shown()}")
            # ONLY: without it a parent's SELECT also returns its INHERITS children's rows, which the dump
            # already carries in the children's own COPY blocks (they would be loaded twice).
            query = f"FROM ONLY {name}"
            if condition is not None:
                query += f" WHERE ({condition}\n)"
                applied.append(f"{table.display}: only rows where {condition}")
            if keep is not None and keep_of is not None and keep_of in ancestors:
                # The newest N of the parent's rows, wherever they live: each table keeps its share of them.
                # The tie-break makes every table's subquery pick the same N rows.
                source = by_oid[keep_of]
                inner = f"SELECT tableoid, ctid FROM {q.qualified(source.schema, source.name)}"
                if condition is not None and condition_of == keep_of:
                    inner += f" WHERE ({condition}\n)"
                # Bare names: this SELECT has no select-list alias.
                inner += f" ORDER BY {q(keep[0])} DESC, tableoid DESC, ctid DESC LIMIT {keep[1]}"
                mine = f"SELECT k.ctid FROM ({inner}) k WHERE k.tableoid = {table.oid}::pg_catalog.oid"
                query += (" WHERE" if condition is None else " AND") + f" ctid = ANY (ARRAY({mine}))"
                applied.append(f"{table.display}: only its rows among the newest {keep[1]} rows of {source.display} "
                               f"by {keep[0]}")
            elif keep is not None:
                # The primary key (highest first, as in the other engines), then ctid (highest first: of rows
                # stamped alike the last inserted, as SQLite's rowid keeps them), break ties, so that every query
                # reading this source (widerows reads it more than once) picks the same rows, and a dump taken
                # again picks them again. The names are qualified: bare, the column's name would mean a
                # sanitised value of the select list, and the rows kept would be the newest by the rewritten value.
                ties = "".join(f", {name}.{q(c)} DESC" for c in self._primary_key(table) if c != keep[0])
                query += f" ORDER BY {name}.{q(keep[0])} DESC{ties}, {name}.ctid DESC LIMIT {keep[1]}"
                applied.append(f"{table.display}: only the newest {keep[1]} rows by {keep[0]}")
            if condition is not None:
                filtered[table.oid] = f"the filter {table.display}: {condition}"
            elif keep is not None:
                filtered[table.oid] = f"keep_newest of {table.display}"
            if sanitised:
                rewritten[table.oid] = {column: rule for column, (rule, _) in sanitised.items()}
                # The rows as the copy holds them, under the table's name (its constraints name its columns).
                copied = copychecks.with_generated(self.conn, q, table, f"(SELECT {', '.join(select)} {query})")
                probe = functools.partial(self._probe, self.table_paths.get(table.oid))
                try:
                    copychecks.check_rows(probe, self.conn, q, table, copied, sanitised)
                    copychecks.refuse_collisions(probe, self.conn, table, copied, sanitised)
                    self.exclusions.check(q, table, copied, sanitised, self.table_paths.get(table.oid))
                except psycopg.Error as exc:
                    if not refused(exc):
                        raise
                    raise refused_rules(table, sanitised, condition, exc) from exc
            # The checks above read the values in their own types; the copy reads XML as it is stored.
            select = [item if c not in stored else
                      xmltext.as_stored(q, c, stored[c], sanitised[c][1] if c in sanitised else None)
                      for c, item in zip(columns, select, strict=True)]
            plans[table.oid] = DataPlan(columns, f"COPY (SELECT {', '.join(select)} {query}) TO STDOUT", applied,
                                        False, select, query, frozenset(table_rules) & set(columns))
        rows: dict[int, str | None] = {oid: None if plan.excluded else f"(SELECT {', '.join(plan.select)} {plan.rest})"
                                       for oid, plan in plans.items()}
        try:
            copychecks.refuse_orphans(lambda oid, query: self._probe(self.table_paths.get(oid), query), self.conn, q,
                                      rows, filtered, rewritten, {t.oid: t.display for t in tables})
        except psycopg.Error as exc:
            # The foreign keys are checked over the filtered and rewritten rows of both tables of each.
            if not refused(exc):
                raise
            shaped = [rule for oid in {*filtered, *rewritten} if oid in plans for rule in plans[oid].rules]
            raise DatabaseError(f"dump failed reading the rows of {'; '.join(shaped)}: {one_line(exc)}"
                                f"{read_only_advice(one_line(exc))}") from exc
        return plans

    def _probe(self, path: list[str] | None, query: str) -> list[tuple[Any, ...]]:
        """The rows of one check's query, read under the table's search path, its locks let go after it."""
        with _locks_let_go(self.conn):
            searchpaths.read_under(self.conn, path)
            return fetch(self.conn, query)

    def rule_expression(self, table: Table, rule: SanitizeRule, masked: set[str] | None = None) -> str:
        """The SQL giving ``rule``'s values on ``table``, whose columns ``masked`` (default: the rule's own)
        the rules rewrite."""
        q = self.quote
        if rule.transform is None:
            if not rule.expression.strip():
                raise ConfigError(f"sanitize rule for {rule.table}.{rule.column} has neither an expression nor a "
                                  "transform")
            return rule.expression
        transform, _, argument = rule.transform.partition(":")
        column = q(rule.column)
        if transform == "null":
            return "NULL"
        if transform == "fixed":
            # NULL stays NULL, as in the MySQL and SQLite engines: it holds nothing to hide.
            return f"CASE WHEN {column} IS NULL THEN NULL ELSE {literal(argument)} END"
        if transform == "hash":
            # SHA-256 hex of the dump's key and the value, like the MySQL and SQLite engines (sha256() is built
            # in since PostgreSQL 11: no pgcrypto); bytea is hashed as its bytes, anything else as its UTF-8 text.
            column_type = next((c.type for c in table.columns if c.name == rule.column), "")
            data = column if column_type == "bytea" else f"pg_catalog.convert_to(({column})::text, 'UTF8')"
            salt = f"pg_catalog.convert_to(pg_catalog.current_setting('{HASH_KEY_SETTING}'), 'UTF8')"
            return f"pg_catalog.encode(pg_catalog.sha256({salt} || {data}), 'hex')"
        if transform == "truncate":
            try:
                length = int(argument)
            except ValueError as exc:
                raise ConfigError(f"sanitize rule for {rule.table}.{rule.column}: truncate needs a number, "
                                  f"got {argument!r}") from exc
            if length < 0:
                # left() with a negative length keeps all but that many characters: nearly the whole value.
                raise ConfigError(f"sanitize rule for {rule.table}.{rule.column}: truncate length must be >= 0")
            return f"pg_catalog.left(({column})::text, {length})"
        if transform == "email":
            key = self._primary_key(table)
            types = {c.name: c.type for c in table.columns}
            if key and (all(types.get(c) in INTEGER_TYPES for c in key)
                        or (len(key) == 1 and key[0] not in (masked or {rule.column}))):
                unique = " || '-' || ".join(f"({q(c)})::text" for c in key)
            elif key:
                # A key a rule masks may be the address itself (a subscribers table keyed by e-mail) or another
                # personal value (a username): written into the address, it shipped what the rules mask; text
                # keys of several columns joined with '-' may join alike. The dump's keyed digest of the key's
                # values (each in hex) is as unique and reveals nothing. A key no rule masks is in the copy
                # anyway (a Neos account's UUID): the address keeps it, the same in every dump.
                parts = " || '-' || ".join(f"pg_catalog.encode(pg_catalog.convert_to(({q(c)})::text, 'UTF8'), "
                                           "'hex')" for c in key)
                salt = f"pg_catalog.convert_to(pg_catalog.current_setting('{HASH_KEY_SETTING}'), 'UTF8')"
                digest = f"pg_catalog.sha256({salt} || pg_catalog.convert_to({parts}, 'UTF8'))"
                unique = f"pg_catalog.left(pg_catalog.encode({digest}, 'hex'), {EMAIL_DIGEST_DIGITS})"
            else:
                unique = "(pg_catalog.row_number() OVER ())::text"
            return f"CASE WHEN {column} IS NULL THEN NULL ELSE 'user' || {unique} || '@example.invalid' END"
        raise ConfigError(f"unknown sanitize transform {rule.transform!r} for {rule.table}.{rule.column}")

    def _primary_key(self, table: Table) -> list[str]:
        rows = fetch(self.conn, """
            SELECT a.attname FROM pg_catalog.pg_index i
            JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = %s AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)""", (table.oid,))
        return [row[0] for row in rows]


def copy_out(pgconn: pq.abc.PGconn, query: str, sinks: Iterable[Any]) -> int:
    """Run ``COPY ... TO STDOUT`` at the libpq level and feed the text to ``sinks`` in large blocks.

    psycopg's ``Copy`` object costs a Python generator round trip per row; libpq's blocking
    ``get_copy_data`` loop is several times faster, and the rows are joined into blocks of
    :data:`BLOCK_SIZE` before any sink sees them. Returns the number of rows (one newline each: COPY
    escapes the newlines inside values).
    """
    targets = list(sinks)
    result = pgconn.exec_(rawtext.to_bytes(query))
    if result.status != pq.ExecStatus.COPY_OUT:
        raise DatabaseError(f"COPY failed: {without_value(result_error(result, pgconn), result_sqlstate(result))}")
    rows = 0
    block = bytearray()
    while True:
        size, data = pgconn.get_copy_data(0)
        if size == -1:
            break
        if size < 0:
            raise DatabaseError(f"COPY failed: {result_error(None, pgconn)}")
        block += data
        if len(block) >= BLOCK_SIZE:
            counted = block.count(b"\n")
            rows += counted
            dumpprogress.rows_written(counted)
            for sink in targets:
                sink(block)
            block = bytearray()
    if block:
        counted = block.count(b"\n")
        rows += counted
        dumpprogress.rows_written(counted)
        for sink in targets:
            sink(block)
    failed = drain_results(pgconn)
    if failed is not None:
        # A filter's or rule's expression a row's value fails quotes that value (:mod:`.quotedvalues`).
        raise DatabaseError(f"COPY failed: {without_value(result_error(failed, pgconn), result_sqlstate(failed))}")
    return rows
