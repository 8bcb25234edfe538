"""A hypothesis strategy for random, valid, interdependent PostgreSQL 15 schemas with rows (no tests here).

:func:`schemas` draws a :class:`Schema`: the statements that build it, in an order chosen to stress a
dump's ordering (objects altered to depend on objects made after them, functions whose bodies name tables
made later, constraints added after the rows they do not hold for), and whether the dump keeps owners.
Every statement is valid on PostgreSQL 15: a statement the server refuses is a fault of this generator,
and the test using it says so. Names are drawn odd on purpose: mixed case, spaces, quotes, reserved words,
unicode, 63 bytes long.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from hypothesis import strategies as st

# -- names -------------------------------------------------------------------------------------------

_FLAVOURS = ["t", "Mixed", "with space", "select", "order", 'quo"te', "ünï", "a.b", "x-y", "$d", "ÿ" * 20, "",
             "long"]


def q(name: str) -> str:
    """``name`` as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """``text`` as an SQL string literal (standard_conforming_strings is on)."""
    return "'" + text.replace("'", "''") + "'"


_COMMENTS = ["it's", "ünïcödé ✓", "back\\slash", "line\nbreak", "tab\there", '"dq"', "$$dollar$$", "--not a comment",
             "/* nor this */", ";", ""]


# -- the model ---------------------------------------------------------------------------------------


@dataclass
class Type:
    """A column type and how to write a value of it (an SQL expression)."""

    sql: str
    values: st.SearchStrategy[str]
    #: Ordered with btree, so it may be a key or a range partition key.
    sortable: bool = True
    #: A range type (``&&`` for exclusion constraints).
    is_range: bool = False
    text: bool = False
    integer: bool = False
    enum: bool = False


@dataclass
class Table:
    schema: str
    name: str
    #: (name, type) of the columns rows are written to.
    columns: list[tuple[str, Type]]
    key: str | None = None
    partitioned: bool = False
    #: Its key is an identity column, which tables inheriting from it do not get (their rows would need a key).
    identity: bool = False
    #: UNLOGGED: no permanent table's foreign key may refer to it.
    unlogged: bool = False
    #: A typed table (``OF``): it takes no column of its own.
    typed: bool = False
    #: No column may be added to it or dropped: it is typed, or a column uses its row type.
    frozen: bool = False
    #: The tables inheriting from it: a column it gains reaches them too, after their own columns.
    children: list[Table] = field(default_factory=list)

    @property
    def qname(self) -> str:
        return f"{q(self.schema)}.{q(self.name)}"

    @property
    def changeable(self) -> bool:
        """Whether a column may be added to it (and so to the tables inheriting from it) or dropped."""
        return not (self.partitioned or self.frozen) and all(child.changeable for child in self.children)

    def gained(self, column: str, column_type: Type) -> None:
        """``column`` added to the table, and so to the tables inheriting from it."""
        if all(name != column for name, _ in self.columns):
            self.columns.append((column, column_type))
        for child in self.children:
            child.gained(column, column_type)


@dataclass
class Schema:
    statements: list[str] = field(default_factory=list)
    owners: bool = False
    #: Names of objects the dump must refuse, one of them named in its message (empty: it must load).
    refused: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        # Shown by hypothesis on failure: the script as it was run, one statement a line.
        script = ";\n".join(self.statements)
        return f"Schema(owners={self.owners!r}, refused={self.refused!r}, statements=\n{script})"


def _text_values() -> st.SearchStrategy[str]:
    chars = st.characters(codec="utf-8", exclude_characters="\x00")  # PostgreSQL text holds no NUL
    return st.one_of(st.text(chars, max_size=12),
                     st.sampled_from(["", "\\", "\\N", "\t", "\r\n", "\\.", "NULL", "{", '"', "'", "é", "\u2028"]))


_INT = Type("integer", st.integers(-2**31, 2**31 - 1).map(str), integer=True)
_BIGINT = Type("bigint", st.integers(-2**63, 2**63 - 1).map(lambda v: f"'{v}'::bigint"), integer=True)
_TEXT = Type("text", _text_values().map(lit), text=True)
_NUMERIC = Type("numeric", st.one_of(st.decimals(allow_nan=False, allow_infinity=False).map(str),
                                     st.sampled_from(["NaN", "Infinity", "-Infinity", "-0", "9" * 300 + "." + "1" * 300,
                                                      "1e-300"])).map(lambda v: f"{lit(v)}::numeric"))
_FLOAT = Type("double precision", st.one_of(st.floats().map(repr), st.sampled_from(["NaN", "-0", "Infinity"]))
              .map(lambda v: f"{lit(v)}::float8"))
_DATE = Type("date", st.one_of(st.dates().map(str), st.sampled_from(["infinity", "-infinity", "4713-01-01 BC"]))
             .map(lambda v: f"{lit(v)}::date"))
_TSTZ = Type("timestamptz", st.one_of(st.datetimes().map(lambda d: str(d) + "+05:30"),
                                       st.sampled_from(["infinity", "-infinity"]))
             .map(lambda v: f"{lit(v)}::timestamptz"))
_BYTEA = Type("bytea", st.binary(max_size=12).map(lambda b: f"'\\x{b.hex()}'::bytea"), sortable=True)
_BOOL = Type("boolean", st.sampled_from(["true", "false"]))
_JSONB = Type("jsonb", st.sampled_from(["'{}'", "'[]'", "'{\"a\": [1, null, \"\\\\u00e9\"]}'", "'\"x\\\\ny\"'",
                                        "'1e400'"]).map(lambda v: f"{v}::jsonb"), sortable=False)
_INTARR = Type("integer[]", st.lists(st.none() | st.integers(-5, 5), max_size=4).map(
    lambda xs: "ARRAY[" + ",".join("NULL" if x is None else str(x) for x in xs) + "]::integer[]"), sortable=True)
_TEXTARR = Type("text[]", st.lists(st.none() | _text_values(), max_size=3).map(
    lambda xs: "ARRAY[" + ",".join("NULL" if x is None else lit(x) for x in xs) + "]::text[]"))
_INTRANGE = Type("int4range", st.tuples(st.integers(-100, 100), st.integers(0, 50)).map(
    lambda p: f"int4range({p[0]}, {p[0] + p[1]})"), is_range=True)
BASE_TYPES = [_INT, _BIGINT, _TEXT, _NUMERIC, _FLOAT, _DATE, _TSTZ, _BYTEA, _BOOL, _JSONB, _INTARR, _TEXTARR,
              _INTRANGE]


class Builder:
    """The schema being drawn: the objects made so far, and the statements that made them."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.counter = itertools.count(1)
        self.schemas = ["public"]
        self.types: list[Type] = list(BASE_TYPES)
        self.tables: list[Table] = []
        #: Tables and views a view may read: (qualified name, columns).
        self.relations: list[tuple[str, list[str]]] = []
        #: Immutable functions of one integer returning an integer: (qualified name).
        self.int_functions: list[str] = []
        self.bool_functions: list[str] = []
        self.trigger_functions: list[str] = []
        self.statements: list[str] = []
        #: Run after every row is in: NOT VALID constraints that the rows break, ownership, grants.
        self.late: list[str] = []
        #: Run between the rows and ``late``: rows made to break constraints ``late`` adds NOT VALID.
        self.updates: list[str] = []
        #: Run last: refreshing the populated materialized views.
        self.refresh: list[str] = []
        #: Relations no query may read: unpopulated materialized views and the views over them.
        self.unreadable: set[str] = set()
        #: Materialized views and the views over them, which no write goes through.
        self.not_updatable: set[str] = set()
        self.roles: list[str] = []
        self.comment_targets: list[str] = []
        #: Names of the objects the dump must refuse (one of them named in its one line).
        self.refused: list[str] = []

    def maybe(self) -> bool:
        return self.draw(st.booleans())

    def choice(self, items: list[str]) -> str:
        return self.draw(st.sampled_from(items))

    def name(self) -> str:
        """A new name, unique in the whole schema, of a drawn flavour; 63 bytes for the ``long`` one."""
        number = next(self.counter)
        flavour = self.draw(st.sampled_from(_FLAVOURS))
        if flavour == "long":
            suffix = f"_{number}"
            return "é" * ((63 - len(suffix)) // 2) + "x" * ((63 - len(suffix)) % 2) + suffix
        return f"{flavour}{number}"

    def schema(self) -> str:
        return self.choice(self.schemas)

    def run(self, statement: str) -> None:
        self.statements.append(statement)

    def comment(self, kind: str, target: str) -> None:
        if self.draw(st.booleans()):
            self.run(f"COMMENT ON {kind} {target} IS {lit(self.choice(_COMMENTS))}")


# -- objects -----------------------------------------------------------------------------------------


def add_schema(b: Builder) -> None:
    name = b.name()
    b.run(f"CREATE SCHEMA {q(name)}")
    b.comment("SCHEMA", q(name))
    b.schemas.append(name)


def add_enum(b: Builder) -> None:
    name = f"{q(b.schema())}.{q(b.name())}"
    labels = b.draw(st.lists(st.sampled_from(["", " sp ", "quo'te", "back\\slash", "ünï", "a,b", "{x}", '"dq"',
                                              "NULL", "z" * 63]), min_size=1, max_size=5, unique=True))
    b.run(f"CREATE TYPE {name} AS ENUM ({', '.join(lit(label) for label in labels)})")
    if b.maybe():
        # A label added later gets an odd sort order (enumsortorder between two others).
        b.run(f"ALTER TYPE {name} ADD VALUE {lit('added')} BEFORE {lit(labels[0])}")
        labels.append("added")
    b.comment("TYPE", name)
    b.types.append(Type(name, st.sampled_from(labels).map(lambda label: f"{lit(label)}::{name}"), enum=True))


def add_composite(b: Builder) -> None:
    name = f"{q(b.schema())}.{q(b.name())}"
    fields = b.draw(st.lists(st.sampled_from(b.types), min_size=1, max_size=3))
    names = [b.name() for _ in fields]
    b.run(f"CREATE TYPE {name} AS ({', '.join(f'{q(n)} {t.sql}' for n, t in zip(names, fields, strict=True))})")
    b.comment("TYPE", name)
    values = st.tuples(*[st.none() | t.values for t in fields]).map(
        lambda vs: "ROW(" + ", ".join("NULL" if v is None else v for v in vs) + f")::{name}")
    b.types.append(Type(name, values, sortable=all(t.sortable for t in fields)))


def add_range(b: Builder) -> None:
    name = f"{q(b.schema())}.{q(b.name())}"
    subtype = b.draw(st.sampled_from(["numeric", "text", "date"]))
    extra = " , collation = \"C\"" if subtype == "text" else ""
    b.run(f"CREATE TYPE {name} AS RANGE (subtype = {subtype}{extra})")
    if subtype == "numeric":
        values = st.tuples(st.integers(-50, 50), st.integers(0, 9)).map(lambda p: f"{name}({p[0]}, {p[0] + p[1]})")
    elif subtype == "text":
        values = st.tuples(st.sampled_from(["", "a", "b"]), st.sampled_from(["c", "d"])).map(
            lambda p: f"{name}({lit(p[0])}, {lit(p[1])})")
    else:
        values = st.sampled_from(["(,)", "empty", "[2000-01-01,infinity)"]).map(lambda v: f"{lit(v)}::{name}")
    b.types.append(Type(name, values, is_range=True))


def add_domain(b: Builder) -> None:
    base = b.draw(st.sampled_from([t for t in b.types if not t.sql.endswith("]")]))
    name = f"{q(b.schema())}.{q(b.name())}"
    check = ""
    if b.maybe():
        # Holds for every value drawn: the rows must go in.
        check = f" CONSTRAINT {q(b.name())} CHECK (VALUE IS NOT DISTINCT FROM VALUE)"
    if base.integer and b.bool_functions and b.maybe():
        check += f" CHECK ({b.choice(b.bool_functions)}(VALUE::integer))"
    b.run(f"CREATE DOMAIN {name} AS {base.sql}{check}")
    b.comment("DOMAIN", name)
    if b.maybe():
        # Added once the rows are in, broken by them: it must stay NOT VALID and come after the rows.
        b.late.append(f"ALTER DOMAIN {name} ADD CONSTRAINT {q(b.name())} CHECK (VALUE IS NULL) NOT VALID")
    b.types.append(Type(name, base.values.map(lambda v: f"({v})::{name}"), sortable=base.sortable,
                        is_range=base.is_range, text=base.text, integer=base.integer))


def add_functions(b: Builder) -> None:
    schema = q(b.schema())
    name = q(b.name())
    kind = b.draw(st.sampled_from(["sql", "plpgsql", "atomic"]))
    default = " DEFAULT 3" if b.maybe() else ""
    options = " SECURITY DEFINER" if b.maybe() else ""
    if b.maybe():
        options += f" SET search_path = pg_catalog, {schema}"
    if kind == "sql":
        body = "AS $$SELECT $1 + $2$$"
    elif kind == "plpgsql":
        body = "AS $body$BEGIN RETURN a + b; END$body$"
    else:
        body = "BEGIN ATOMIC SELECT a + b; END"
    b.run(f"CREATE FUNCTION {schema}.{name}(a integer, b integer{default}) RETURNS integer LANGUAGE "
          f"{'sql' if kind != 'plpgsql' else 'plpgsql'} IMMUTABLE{options} {body}")
    # An overload of the same name, of another type.
    b.run(f"CREATE FUNCTION {schema}.{name}(a text) RETURNS text LANGUAGE sql IMMUTABLE AS $$SELECT upper(a)$$")
    if default:
        b.int_functions.append(f"{schema}.{name}")
    b.comment("FUNCTION", f"{schema}.{name}(text)")
    predicate = q(b.name())
    b.run(f"CREATE FUNCTION {schema}.{predicate}(v integer) RETURNS boolean LANGUAGE plpgsql IMMUTABLE "
          "AS $$BEGIN RETURN v IS NOT NULL OR v IS NULL; END$$")
    b.bool_functions.append(f"{schema}.{predicate}")


def add_trigger_function(b: Builder) -> None:
    name = f"{q(b.schema())}.{q(b.name())}"
    b.run(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$")
    b.trigger_functions.append(name)


def _column_types(b: Builder) -> list[Type]:
    return b.draw(st.lists(st.sampled_from(b.types), min_size=1, max_size=4))


def add_table(b: Builder) -> None:
    schema, name = b.schema(), b.name()
    table = Table(schema, name, [])
    parts: list[str] = []
    key_kind = b.draw(st.sampled_from(["serial", "identity", "bigserial", "none", "identity odd"]))
    key = b.name()
    if key_kind == "serial":
        parts.append(f"{q(key)} serial PRIMARY KEY")
    elif key_kind == "bigserial":
        parts.append(f"{q(key)} bigserial UNIQUE")
    elif key_kind == "identity":
        parts.append(f"{q(key)} integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
    elif key_kind == "identity odd":
        parts.append(f"{q(key)} bigint GENERATED BY DEFAULT AS IDENTITY (START WITH -5 INCREMENT BY -3 "
                     "MINVALUE -1000000 MAXVALUE 100 CYCLE CACHE 7) PRIMARY KEY")
    if key_kind != "none":
        table.key = key
    table.identity = key_kind.startswith("identity")
    for column_type in _column_types(b):
        column = b.name()
        extra = ""
        if column_type.text and b.maybe():
            extra += " COLLATE " + b.choice(['"C"', '"POSIX"', 'pg_catalog."default"'])
        if column_type.integer and b.int_functions and b.maybe():
            extra += f" DEFAULT {b.choice(b.int_functions)}(7)"
        if b.draw(st.integers(0, 4)) == 0:
            extra += f" CONSTRAINT {q(b.name())} CHECK ({q(column)} IS NOT DISTINCT FROM {q(column)})"
        parts.append(f"{q(column)} {column_type.sql}{extra}")
        table.columns.append((column, column_type))
    ints = [c for c, t in table.columns if t.integer and t.sql == "integer"]
    if ints and b.int_functions and b.maybe():
        parts.append(f"{q(b.name())} integer GENERATED ALWAYS AS ({b.choice(b.int_functions)}"
                     f"({q(ints[0])}, 1)) STORED")
    ranges = [c for c, t in table.columns if t.is_range and "." not in t.sql]
    if ranges and b.maybe():
        # Rows drawn at random overlap; an exclusion constraint on its own would refuse them.
        pass
    options = ""
    if b.maybe():
        options = " WITH (fillfactor = 70, autovacuum_enabled = false, toast.autovacuum_enabled = false)"
    table.unlogged = b.draw(st.integers(0, 5)) == 0
    unlogged = "UNLOGGED " if table.unlogged else ""
    b.run(f"CREATE {unlogged}TABLE {table.qname} ({', '.join(parts)}){options}")
    b.comment("TABLE", table.qname)
    if table.columns and b.maybe():
        column = q(table.columns[0][0])
        b.comment("COLUMN", f"{table.qname}.{column}")
        b.run(f"ALTER TABLE {table.qname} ALTER COLUMN {column} SET STATISTICS {b.draw(st.integers(0, 10000))}")
    varlena = [c for c, t in table.columns if t.sql in ("text", "bytea", "jsonb", "numeric", "text[]", "integer[]")]
    if varlena and b.maybe():
        b.run(f"ALTER TABLE {table.qname} ALTER COLUMN {q(varlena[-1])} SET STORAGE "
              f"{b.choice(['EXTERNAL', 'MAIN', 'EXTENDED'])}")
    b.tables.append(table)
    b.relations.append((table.qname, [c for c, _ in table.columns]))
    b.comment_targets.append(table.qname)


def add_index(b: Builder) -> None:
    table = b.draw(st.sampled_from(b.tables))
    sortable = [(c, t) for c, t in table.columns if t.sortable]
    if not sortable:
        return
    column, column_type = b.draw(st.sampled_from(sortable))
    expression = q(column)
    if column_type.text:
        expression = f"(lower({q(column)}))"
    elif column_type.sql == "integer" and b.int_functions and b.maybe():
        expression = f"({b.choice(b.int_functions)}({q(column)}))"
    where = f" WHERE {q(column)} IS NOT NULL" if b.maybe() else ""
    include = ""
    if table.key and b.maybe():
        include = f" INCLUDE ({q(table.key)})"
    name = q(b.name())
    only = "ONLY " if table.partitioned and b.maybe() else ""
    b.run(f"CREATE INDEX {name} ON {only}{table.qname} ({expression}){include}{where}")
    b.comment("INDEX", f"{q(table.schema)}.{name}")


def add_partitioned(b: Builder) -> None:
    schema, name = b.schema(), b.name()
    values: st.SearchStrategy[str]
    enums = [t for t in b.types if t.enum]
    # "enum hash" is left out: the copy's enum gets new OIDs, so its rows hash to other partitions (documented
    # in docs/engines.md; the per-partition row hashes cannot match). Comparing such a tree at its root would.
    strategy = b.draw(st.sampled_from(["range", "list", "hash", "text range"]))
    key, payload = b.name(), b.name()
    key_type = {"range": "integer", "list": "text", "hash": "integer", "text range": "text"}.get(strategy, "")
    enum = b.draw(st.sampled_from(enums)) if strategy == "enum hash" else None
    if enum is not None:
        # An enum value hashes by its OID, which the copy's type gets anew: its rows load through the root.
        key_type = enum.sql
    table = Table(schema, name, [(key, _INT if key_type == "integer" else _TEXT), (payload, _TEXT)],
                  partitioned=True)
    by = f"RANGE ({q(key)} COLLATE \"C\")" if strategy == "text range" else \
        f"{strategy.split()[-1].upper()} ({q(key)})"
    b.run(f"CREATE TABLE {table.qname} ({q(key)} {key_type} NOT NULL, {q(payload)} text) PARTITION BY {by}")
    if enum is not None:
        modulus = b.draw(st.sampled_from([2, 3]))
        bounds = [f"FOR VALUES WITH (MODULUS {modulus}, REMAINDER {r})" for r in range(modulus)]
        values = enum.values
    elif strategy == "text range":
        bounds = ["FOR VALUES FROM (MINVALUE) TO ('m')", "FOR VALUES FROM ('m') TO (MAXVALUE)"]
        values = _TEXT.values
    elif strategy == "hash":
        modulus = b.draw(st.sampled_from([1, 2, 3]))
        bounds = [f"FOR VALUES WITH (MODULUS {modulus}, REMAINDER {r})" for r in range(modulus)]
        values = st.integers(-2**31, 2**31 - 1).map(str)
    elif strategy == "range":
        bounds = ["FOR VALUES FROM (MINVALUE) TO (0)", "FOR VALUES FROM (0) TO (100)"]
        if b.maybe():
            bounds.append("DEFAULT")
            values = st.integers(-2**31, 2**31 - 1).map(str)
        else:
            values = st.integers(-1000, 99).map(str)
    else:
        bounds = ["FOR VALUES IN ('a', 'B')", "FOR VALUES IN (NULL, '')"]
        if b.maybe():
            bounds.append("DEFAULT")
            values = _TEXT.values
        else:
            values = st.sampled_from(["'a'", "'B'", "''"])
    table.columns[0] = (key, Type(key_type, values, integer=key_type == "integer", text=key_type == "text"))
    for bound in bounds:
        child_schema = b.schema()
        child = Table(child_schema, b.name(), [])
        if b.maybe() and "hash" not in strategy and bound != "DEFAULT":
            # Sub-partitioned by the payload.
            b.run(f"CREATE TABLE {child.qname} PARTITION OF {table.qname} {bound} PARTITION BY LIST ({q(payload)})")
            b.run(f"CREATE TABLE {q(child_schema)}.{q(b.name())} PARTITION OF {child.qname} DEFAULT")
        elif b.maybe():
            # Made alone, with a column order of its own, and attached.
            b.run(f"CREATE TABLE {child.qname} ({q(payload)} text, {q(key)} {key_type} NOT NULL)")
            b.run(f"ALTER TABLE {table.qname} ATTACH PARTITION {child.qname} {bound}")
        else:
            b.run(f"CREATE TABLE {child.qname} PARTITION OF {table.qname} {bound}")
    b.tables.append(table)
    b.relations.append((table.qname, [key, payload]))


def add_inheritance(b: Builder) -> None:
    plain = [t for t in b.tables if not (t.partitioned or t.identity or t.typed)]
    if not plain:
        return
    parents = b.draw(st.lists(st.sampled_from(plain), min_size=1, max_size=3, unique_by=lambda t: t.qname))
    names = {c for t in parents for c, _ in t.columns} | {t.key for t in parents if t.key}
    if len(names) != sum(len(t.columns) + (1 if t.key else 0) for t in parents):
        return  # a column name two parents share would have to be of one type
    table = Table(b.schema(), b.name(), [c for t in parents for c in t.columns])
    own = b.name()
    table.columns.append((own, _TEXT))
    local = f"{q(own)} text"
    if table.columns[:-1] and b.maybe():
        # A parent's column declared again: both inherited and the child's own (attislocal), merged.
        column, column_type = b.draw(st.sampled_from(table.columns[:-1]))
        local = f"{q(column)} {column_type.sql}, {local}"
    b.run(f"CREATE TABLE {table.qname} ({local}) INHERITS ({', '.join(t.qname for t in parents)})")
    for parent in parents:
        parent.children.append(table)
    b.tables.append(table)
    parent = b.draw(st.sampled_from(parents))
    if b.maybe() and parent.changeable:
        # The parent gains a column after its child was made: the child has it after its own columns, and
        # inherited, or its own too where the child declared it first.
        column, column_type = b.name(), b.draw(st.sampled_from(b.types))
        if b.maybe():
            b.run(f"ALTER TABLE {table.qname} ADD COLUMN {q(column)} {column_type.sql}")
        b.run(f"ALTER TABLE {parent.qname} ADD COLUMN {q(column)} {column_type.sql}")
        parent.gained(column, column_type)
        table.gained(column, column_type)


def add_foreign_key(b: Builder) -> None:
    keyed = [t for t in b.tables if t.key and not t.partitioned and not t.unlogged]
    if not keyed:
        return
    target = b.draw(st.sampled_from(keyed))
    sources = [t for t in b.tables if t.changeable and not t.unlogged]
    if not sources:
        return
    source = b.draw(st.sampled_from(sources))
    column, other = b.name(), b.name()
    b.run(f"ALTER TABLE {source.qname} ADD COLUMN {q(column)} bigint, ADD COLUMN {q(other)} bigint")
    action = b.draw(st.sampled_from(["", f" ON DELETE SET NULL ({q(column)})", " ON DELETE CASCADE",
                                     " DEFERRABLE INITIALLY DEFERRED", " ON UPDATE SET DEFAULT"]))
    constraint = q(b.name())
    if target.qname == source.qname or b.maybe():
        # Added once rows hold keys that refer to nothing: NOT VALID, after the rows.
        b.updates.append(f"UPDATE {source.qname} SET {q(column)} = -424242")
        b.late.append(f"ALTER TABLE {source.qname} ADD CONSTRAINT {constraint} FOREIGN KEY ({q(column)}) "
                      f"REFERENCES {target.qname} ({q(target.key or '')}){action} NOT VALID")
    else:
        b.run(f"ALTER TABLE {source.qname} ADD CONSTRAINT {constraint} FOREIGN KEY ({q(column)}) "
              f"REFERENCES {target.qname} ({q(target.key or '')}){action}")


def add_view(b: Builder) -> None:
    relation, columns = b.draw(st.sampled_from(b.relations))
    chosen = b.draw(st.lists(st.sampled_from(columns), min_size=1, max_size=3, unique=True)) if columns else []
    select = ", ".join(q(c) for c in chosen) or "1 AS one"
    name = f"{q(b.schema())}.{q(b.name())}"
    materialized = b.draw(st.integers(0, 3)) == 0
    if materialized:
        data = b.draw(st.sampled_from(["WITH DATA", "WITH NO DATA"]))
        if relation in b.unreadable:
            data = "WITH NO DATA"  # it could not be filled
        b.run(f"CREATE MATERIALIZED VIEW {name} AS SELECT {select} FROM {relation} {data}")
        b.not_updatable.add(name)
        if data == "WITH NO DATA":
            b.unreadable.add(name)
        if data == "WITH DATA":
            # A dump carries a materialized view's definition, not its rows: the copy computes them anew from
            # its tables (pg_dump's too), so only a fresh one can hash alike.
            b.refresh.append(f"REFRESH MATERIALIZED VIEW {name}")
        b.comment("MATERIALIZED VIEW", name)
    else:
        if relation in b.unreadable:
            b.unreadable.add(name)
        if relation in b.not_updatable:
            b.not_updatable.add(name)
        # CHECK OPTION needs a view that writes through to a table, not to a materialized view.
        check = " WITH CASCADED CHECK OPTION" if b.draw(st.integers(0, 3)) == 0 and chosen \
            and name not in b.not_updatable else ""
        b.run(f"CREATE VIEW {name} AS SELECT {select} FROM {relation}{check}")
        b.comment("VIEW", name)
        if chosen and b.maybe():
            b.run(f"CREATE RULE {q(b.name())} AS ON DELETE TO {name} DO INSTEAD NOTHING")
    b.relations.append((name, [c if c else "" for c in chosen] if chosen else ["one"]))


def add_trigger(b: Builder) -> None:
    if not b.trigger_functions:
        add_trigger_function(b)
    table = b.draw(st.sampled_from(b.tables))
    when = ""
    if table.columns and not table.partitioned and b.maybe():
        when = f" WHEN (NEW.{q(table.columns[0][0])} IS NOT NULL)"
    trigger = q(b.name())
    b.run(f"CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {table.qname} FOR EACH ROW{when} "
          f"EXECUTE FUNCTION {b.choice(b.trigger_functions)}()")
    if b.maybe():
        b.run(f"ALTER TABLE {table.qname} {b.choice(['DISABLE', 'ENABLE ALWAYS', 'ENABLE REPLICA'])} TRIGGER {trigger}")


def add_rule(b: Builder) -> None:
    plain = [t for t in b.tables if not t.partitioned]
    if not plain:
        return
    table = b.draw(st.sampled_from(plain))
    b.run(f"CREATE RULE {q(b.name())} AS ON UPDATE TO {table.qname} WHERE false DO ALSO NOTHING")


def add_policy(b: Builder) -> None:
    table = b.draw(st.sampled_from(b.tables))
    b.run(f"ALTER TABLE {table.qname} ENABLE ROW LEVEL SECURITY")
    if b.maybe():
        b.run(f"ALTER TABLE {table.qname} FORCE ROW LEVEL SECURITY")
    using = f"{q(table.columns[0][0])} IS NOT NULL" if table.columns else "true"
    to = f" TO {q(b.choice(b.roles))}" if b.roles and b.maybe() else ""
    b.run(f"CREATE POLICY {q(b.name())} ON {table.qname} AS {b.choice(['PERMISSIVE', 'RESTRICTIVE'])} FOR "
          f"{b.choice(['ALL', 'SELECT', 'UPDATE'])}{to} USING ({using})")


def add_statistics(b: Builder) -> None:
    tables = [t for t in b.tables if len([c for c, ty in t.columns if ty.sortable]) >= 2]
    if not tables:
        return
    table = b.draw(st.sampled_from(tables))
    columns = [c for c, ty in table.columns if ty.sortable][:2]
    name = f"{q(table.schema)}.{q(b.name())}"
    b.run(f"CREATE STATISTICS {name} (ndistinct, dependencies) ON {q(columns[0])}, {q(columns[1])} "
          f"FROM {table.qname}")
    if b.maybe():
        b.run(f"ALTER STATISTICS {name} SET STATISTICS {b.draw(st.integers(0, 1000))}")


def add_collation(b: Builder) -> None:
    name = f"{q(b.schema())}.{q(b.name())}"
    if b.maybe():
        b.run(f"CREATE COLLATION {name} (provider = icu, locale = 'und-u-ks-level2', deterministic = false)")
        b.types.append(Type(f"text COLLATE {name}", _TEXT.values, sortable=True))
    else:
        b.run(f"CREATE COLLATION {name} FROM \"C\"")
        b.types.append(Type(f"text COLLATE {name}", _TEXT.values, sortable=True, text=True))


def add_operator(b: Builder) -> None:
    schema = q(b.schema())
    function = q(b.name())
    b.run(f"CREATE FUNCTION {schema}.{function}(integer, text) RETURNS boolean LANGUAGE sql IMMUTABLE "
          "AS $$SELECT $1::text = $2$$")
    number, symbols = next(b.counter), ""
    while number:
        number, digit = divmod(number, 5)
        symbols += "#%^&|"[digit]
    b.run(f"CREATE OPERATOR {schema}.=~{symbols} (LEFTARG = integer, RIGHTARG = text, FUNCTION = {schema}.{function})")


def add_grants(b: Builder) -> None:
    if not b.roles:
        return
    table = b.draw(st.sampled_from(b.tables))
    role = q(b.choice(b.roles))
    b.late.append(f"GRANT USAGE ON SCHEMA {q(table.schema)} TO {role}")
    b.late.append(f"GRANT SELECT, INSERT ON {table.qname} TO {role}")
    if table.columns:
        b.late.append(f"GRANT UPDATE ({q(table.columns[0][0])}) ON {table.qname} TO {role} WITH GRANT OPTION")
    if b.maybe():
        b.late.append(f"ALTER TABLE {table.qname} OWNER TO {role}")
    if b.maybe() and table.schema != "public":
        b.late.append(f"ALTER SCHEMA {q(table.schema)} OWNER TO {role}")


def add_sequence(b: Builder) -> None:
    """A stand-alone sequence of odd options, a column's default, moved by hand."""
    name = f"{q(b.schema())}.{q(b.name())}"
    b.run(f"CREATE SEQUENCE {name} AS smallint START WITH 7 INCREMENT BY -5 MINVALUE -32768 MAXVALUE 32000 CYCLE "
          "CACHE 3")
    if b.maybe():
        b.run(f"SELECT setval({lit(name)}, {b.draw(st.integers(-32768, 32000))}, {b.choice(['true', 'false'])})")
    plain = [t for t in b.tables if t.changeable]
    if plain and b.maybe():
        table = b.draw(st.sampled_from(plain))
        column = b.name()
        b.run(f"ALTER TABLE {table.qname} ADD COLUMN {q(column)} integer DEFAULT nextval({lit(name)}::regclass)")
        if b.maybe() and name.startswith(f"{q(table.schema)}."):  # a sequence is owned in its own schema only
            b.run(f"ALTER SEQUENCE {name} OWNED BY {table.qname}.{q(column)}")


def add_keys(b: Builder) -> None:
    """Deferrable unique keys and an exclusion constraint the rows cannot break (its predicate holds for none)."""
    table = b.draw(st.sampled_from(b.tables))
    if table.key and not table.partitioned:
        b.run(f"ALTER TABLE {table.qname} ADD CONSTRAINT {q(b.name())} UNIQUE ({q(table.key)}) "
              f"DEFERRABLE{b.choice(['', ' INITIALLY DEFERRED'])}")
    ranges = [c for c, t in table.columns if t.sql == "int4range"]
    if ranges and not table.partitioned:
        b.run(f"ALTER TABLE {table.qname} ADD CONSTRAINT {q(b.name())} EXCLUDE USING gist ({q(ranges[0])} WITH &&) "
              f"WHERE (lower({q(ranges[0])}) > 100000)")
    checkable = [c for c, t in table.columns]
    if checkable and b.maybe():
        # Broken by the rows: NOT VALID, after them.
        b.late.append(f"ALTER TABLE {table.qname} ADD CONSTRAINT {q(b.name())} CHECK ({q(checkable[0])} IS NULL) "
                      "NOT VALID")


def add_typed_table(b: Builder) -> None:
    """A table of a composite type (``OF``), its first column given options of its own."""
    schema = b.schema()
    name = b.name()
    fields = [(b.name(), b.draw(st.sampled_from(BASE_TYPES))) for _ in range(b.draw(st.integers(1, 3)))]
    type_name = f"{q(schema)}.{q(b.name())}"
    b.run(f"CREATE TYPE {type_name} AS ({', '.join(f'{q(n)} {t.sql}' for n, t in fields)})")
    typed = Table(schema, name, fields)
    if b.maybe():
        b.run(f"CREATE TABLE {typed.qname} OF {type_name} ({q(fields[0][0])} WITH OPTIONS DEFAULT NULL "
              f"CONSTRAINT {q(b.name())} CHECK ({q(fields[0][0])} IS NOT DISTINCT FROM {q(fields[0][0])}))")
    else:
        b.run(f"CREATE TABLE {typed.qname} OF {type_name}")
    typed.typed = typed.frozen = True
    b.tables.append(typed)
    b.relations.append((typed.qname, [c for c, _ in fields]))


def add_cast(b: Builder) -> None:
    schema = q(b.schema())
    domain_type, function = q(b.name()), q(b.name())
    b.run(f"CREATE TYPE {schema}.{domain_type} AS (v integer)")
    b.run(f"CREATE FUNCTION {schema}.{function}({schema}.{domain_type}) RETURNS integer LANGUAGE sql IMMUTABLE "
          "AS $$SELECT ($1).v$$")
    b.run(f"CREATE CAST ({schema}.{domain_type} AS integer) WITH FUNCTION {schema}.{function}({schema}.{domain_type})"
          f"{b.choice(['', ' AS ASSIGNMENT', ' AS IMPLICIT'])}")


def add_late_column(b: Builder) -> None:
    """A column of the newest type added to the oldest table: the table's OID comes before its type's."""
    tables = [t for t in b.tables if t.changeable]
    if not tables:
        return
    table = tables[0]
    column_type = b.types[-1] if b.maybe() else b.draw(st.sampled_from(b.types))
    column = b.name()
    default = ""
    if column_type.integer and b.int_functions and b.maybe():
        default = f" DEFAULT {b.choice(b.int_functions)}(1, 2)"
    b.run(f"ALTER TABLE {table.qname} ADD COLUMN {q(column)} {column_type.sql}{default}")
    table.gained(column, column_type)


def add_reading_function(b: Builder) -> None:
    """A SQL-standard function reading a relation (a view, often), used by a CHECK and a column default."""
    readable = [relation for relation, _ in b.relations if relation not in b.unreadable]
    if not readable:
        return
    relation = b.draw(st.sampled_from(readable))
    name = f"{q(b.schema())}.{q(b.name())}"
    b.run(f"CREATE FUNCTION {name}() RETURNS bigint LANGUAGE sql STABLE BEGIN ATOMIC "
          f"SELECT count(*) FROM {relation}; END")
    tables = [t for t in b.tables if t.changeable]
    if tables:
        table = b.draw(st.sampled_from(tables))
        b.run(f"ALTER TABLE {table.qname} ADD CONSTRAINT {q(b.name())} CHECK ({name}() >= 0) NOT VALID")
        column = b.name()
        if table.children:
            # Filling the children's new column runs the function while they are half altered, which
            # PostgreSQL 15 fails ("could not find inherited attribute"): the default comes afterwards.
            b.run(f"ALTER TABLE {table.qname} ADD COLUMN {q(column)} bigint")
            b.run(f"ALTER TABLE {table.qname} ALTER COLUMN {q(column)} SET DEFAULT {name}()")
        else:
            b.run(f"ALTER TABLE {table.qname} ADD COLUMN {q(column)} bigint DEFAULT {name}()")
        table.gained(column, _BIGINT)


def add_regclass_column(b: Builder) -> None:
    """A column of ``regclass`` values naming tables of the schema (loaded by name, with the copy's OIDs)."""
    tables = [t for t in b.tables if t.changeable]
    if not tables:
        return
    table = b.draw(st.sampled_from(tables))
    names = [t.qname for t in b.tables]
    column = b.name()
    b.run(f"ALTER TABLE {table.qname} ADD COLUMN {q(column)} regclass")
    table.gained(column, Type("regclass", st.sampled_from(names).map(lambda n: f"{lit(n)}::regclass"),
                              sortable=False))


def add_partition_extras(b: Builder) -> None:
    """A partitioned table's index, trigger and a foreign key from it (cloned to its partitions)."""
    partitioned = [t for t in b.tables if t.partitioned]
    if not partitioned:
        return
    table = b.draw(st.sampled_from(partitioned))
    payload = table.columns[1][0]
    b.run(f"CREATE INDEX {q(b.name())} ON {table.qname} ({q(payload)} COLLATE \"C\") WHERE {q(payload)} <> ''")
    if not b.trigger_functions:
        add_trigger_function(b)
    trigger = q(b.name())
    b.run(f"CREATE TRIGGER {trigger} AFTER UPDATE ON {table.qname} FOR EACH ROW "
          f"EXECUTE FUNCTION {b.choice(b.trigger_functions)}()")
    b.comment("TRIGGER", f"{trigger} ON {table.qname}")
    keyed = [t for t in b.tables if t.key and not (t.partitioned or t.unlogged)]
    if keyed and b.maybe():
        target = b.draw(st.sampled_from(keyed))
        column = b.name()
        b.run(f"ALTER TABLE {table.qname} ADD COLUMN {q(column)} bigint")
        constraint = q(b.name())
        b.run(f"ALTER TABLE {table.qname} ADD CONSTRAINT {constraint} FOREIGN KEY ({q(column)}) "
              f"REFERENCES {target.qname} ({q(target.key or '')}) ON DELETE SET NULL")
        b.comment("CONSTRAINT", f"{constraint} ON {table.qname}")


def add_options(b: Builder) -> None:
    """Options PostgreSQL 14 and 15 added, and rarer ones: what a hand-made catalogue reader forgets."""
    tables = [t for t in b.tables if t.changeable]
    if not tables:
        return
    table = b.draw(st.sampled_from(tables))
    texts = [c for c, t in table.columns if t.sql == "text"]
    sortable = [c for c, t in table.columns if t.sortable and t.sql in ("integer", "bigint", "text", "date")]
    for _ in range(b.draw(st.integers(1, 4))):
        option = b.draw(st.integers(0, 11))
        if option == 0 and texts:
            b.run(f"ALTER TABLE {table.qname} ALTER COLUMN {q(texts[0])} SET COMPRESSION "
                  f"{b.choice(['lz4', 'pglz'])}")
        elif option == 1 and sortable:
            b.run(f"ALTER TABLE {table.qname} ALTER COLUMN {q(sortable[0])} SET (n_distinct = -0.5, "
                  "n_distinct_inherited = 7)")
        elif option == 2 and sortable:
            # PostgreSQL 15: NULLS NOT DISTINCT. No two rows drawn share a key: it is made before them.
            index = q(b.name())
            b.run(f"CREATE UNIQUE INDEX {index} ON {table.qname} ({q(sortable[0])}) NULLS NOT DISTINCT "
                  "WITH (fillfactor = 50, deduplicate_items = off) WHERE false")
        elif option == 3 and sortable and texts:
            index = f"{q(table.schema)}.{q(b.name())}"
            b.run(f"CREATE INDEX {index.split('.', 1)[1]} ON {table.qname} ({q(sortable[0])}, "
                  f"(md5({q(texts[0])})))")
            b.run(f"ALTER INDEX {index} ALTER COLUMN 2 SET STATISTICS 123")
        elif option == 4 and table.key:
            name = q(b.name())
            b.run(f"CREATE UNIQUE INDEX {name} ON {table.qname} ({q(table.key)})")
            b.run(f"ALTER TABLE {table.qname} REPLICA IDENTITY USING INDEX {name}")
            b.run(f"ALTER TABLE {table.qname} CLUSTER ON {name}")
        elif option == 5:
            b.run(f"ALTER TABLE {table.qname} REPLICA IDENTITY {b.choice(['FULL', 'NOTHING', 'DEFAULT'])}")
        elif option == 6 and table.columns:
            relation = f"{q(b.schema())}.{q(b.name())}"
            b.run(f"CREATE VIEW {relation} WITH (security_invoker = true, security_barrier = true) AS "
                  f"SELECT {q(table.columns[0][0])} FROM {table.qname} WHERE {q(table.columns[0][0])} IS NOT NULL")
            b.run(f"ALTER VIEW {relation} ALTER COLUMN {q(table.columns[0][0])} SET DEFAULT NULL")
            b.comment("COLUMN", f"{relation}.{q(table.columns[0][0])}")
            b.relations.append((relation, [table.columns[0][0]]))
        elif option == 7 and table.columns:
            b.run(f"ALTER TABLE {table.qname} ADD CONSTRAINT {q(b.name())} CHECK "
                  f"({q(table.columns[0][0])} IS NOT DISTINCT FROM {q(table.columns[0][0])}) NO INHERIT")
        elif option == 8:
            b.run(f"CREATE UNLOGGED SEQUENCE {q(b.schema())}.{q(b.name())} AS integer START 3 NO CYCLE")
        elif option == 9:
            b.run(f"ALTER TABLE {table.qname} SET (parallel_workers = 3, toast_tuple_target = 256, "
                  "log_autovacuum_min_duration = 0)")
        elif option == 10 and not table.unlogged:
            if not b.trigger_functions:
                add_trigger_function(b)
            trigger = q(b.name())
            b.run(f"CREATE CONSTRAINT TRIGGER {trigger} AFTER INSERT ON {table.qname} DEFERRABLE INITIALLY DEFERRED "
                  f"FOR EACH ROW EXECUTE FUNCTION {b.choice(b.trigger_functions)}()")
        elif option == 11:
            # A column dropped: the table keeps a hole in its column numbers.
            column = b.name()
            b.run(f"ALTER TABLE {table.qname} ADD COLUMN {q(column)} text DEFAULT 'gone'")
            b.run(f"ALTER TABLE {table.qname} DROP COLUMN {q(column)}")


def add_routines(b: Builder) -> None:
    """Routines of rarer shapes: a procedure, set-returning, variadic, an aggregate, a window function."""
    schema = q(b.schema())
    name = q(b.name())
    kind = b.draw(st.integers(0, 3))
    if kind == 0:
        b.run(f"CREATE PROCEDURE {schema}.{name}(INOUT a integer, b text DEFAULT 'x''y') LANGUAGE plpgsql "
              "AS $$BEGIN a := a + length(b); END$$")
    elif kind == 1:
        b.run(f"CREATE FUNCTION {schema}.{name}(VARIADIC xs integer[]) RETURNS TABLE (n integer, \"Total\" bigint) "
              "LANGUAGE sql STABLE ROWS 7 COST 3 AS $$SELECT x, x::bigint FROM unnest(xs) x$$")
    elif kind == 2:
        b.run(f"CREATE AGGREGATE {schema}.{name}(integer) (SFUNC = int4pl, STYPE = integer, INITCOND = '0', "
              "COMBINEFUNC = int4pl, PARALLEL = SAFE)")
    else:
        b.run(f"CREATE FUNCTION {schema}.{name}(integer) RETURNS integer LANGUAGE plpgsql STRICT LEAKPROOF "
              "PARALLEL SAFE SET work_mem = '1MB' SET \"synco.x\" = 'a b' AS $$BEGIN RETURN $1; END$$")
    if b.roles and b.maybe():
        signature = {0: "(integer, text)", 1: "(integer[])", 2: "(integer)", 3: "(integer)"}[kind]
        routine = "PROCEDURE" if kind == 0 else "FUNCTION"  # an aggregate's privileges are a function's
        b.late.append(f"REVOKE ALL ON {routine} {schema}.{name}{signature} FROM PUBLIC")
        b.late.append(f"GRANT EXECUTE ON {routine} {schema}.{name}{signature} TO {q(b.choice(b.roles))}")
        kind_name = "AGGREGATE" if kind == 2 else routine
        b.late.append(f"ALTER {kind_name} {schema}.{name}{signature} OWNER TO {q(b.choice(b.roles))}")


def add_default_privileges(b: Builder) -> None:
    if not b.roles:
        return
    role, other = q(b.roles[0]), q(b.roles[-1])
    schema = b.schema()
    where = f" IN SCHEMA {q(schema)}" if b.maybe() else ""
    b.run(f"ALTER DEFAULT PRIVILEGES FOR ROLE {role}{where} GRANT SELECT ON TABLES TO {other}")
    b.run(f"ALTER DEFAULT PRIVILEGES FOR ROLE {role}{where} GRANT USAGE ON TYPES TO {other}")
    if not where:
        b.run(f"ALTER DEFAULT PRIVILEGES FOR ROLE {role} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC")
    types = [t.sql for t in b.types if t.sql.startswith('"')]
    if types:
        b.late.append(f"GRANT USAGE ON TYPE {b.choice(types)} TO {role}")


def add_row_type_column(b: Builder) -> None:
    """A column typed as another table's row: the table must come before the column, whatever their OIDs."""
    tables = [t for t in b.tables if not t.partitioned]
    targets = [t for t in b.tables if t.changeable]
    if not tables or not targets:
        return
    row_of = b.draw(st.sampled_from(tables))
    table = b.draw(st.sampled_from(targets))
    if row_of.qname == table.qname:
        return
    # Changing the columns of a table whose row type a column uses may need a rewrite PostgreSQL refuses.
    row_of.frozen = True
    column = b.name()
    b.run(f"ALTER TABLE {table.qname} ADD COLUMN {q(column)} {row_of.qname}")
    table.gained(column, Type(row_of.qname, st.just(f"NULL::{row_of.qname}")
                              | st.just(f"(SELECT x FROM {row_of.qname} x LIMIT 1)"), sortable=False))


def add_identity_elsewhere(b: Builder) -> None:
    """An identity column whose sequence has a name and a schema of its own, then altered."""
    schema, name = b.schema(), b.name()
    sequence = f"{q(schema)}.{q(b.name())}"  # PostgreSQL 15 looks for the table in the sequence's schema
    key, value = b.name(), b.name()
    table = Table(schema, name, [(value, _TEXT)], key=key, identity=True)
    b.run(f"CREATE TABLE {table.qname} ({q(key)} smallint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME {sequence} "
          f"START WITH 30000 INCREMENT BY 7 CYCLE MINVALUE -10) PRIMARY KEY, {q(value)} text)")
    if b.maybe():
        b.run(f"ALTER TABLE {table.qname} ALTER COLUMN {q(key)} SET GENERATED BY DEFAULT")
    if b.maybe():
        b.run(f"ALTER TABLE {table.qname} ALTER COLUMN {q(key)} RESTART WITH 32000")
    b.tables.append(table)
    b.relations.append((table.qname, [key, value]))


def add_rule_and_triggers(b: Builder) -> None:
    """A rule of several actions on a view, a transition-table trigger, an UPDATE OF trigger."""
    tables = [t for t in b.tables if not (t.partitioned or t.frozen) and t.columns]
    if not tables:
        return
    table = b.draw(st.sampled_from(tables))
    first = table.columns[0][0]
    view = f"{q(b.schema())}.{q(b.name())}"
    b.run(f"CREATE VIEW {view} AS SELECT {q(first)} FROM {table.qname}")
    rule = q(b.name())
    b.run(f"CREATE RULE {rule} AS ON INSERT TO {view} DO INSTEAD (INSERT INTO {table.qname} ({q(first)}) "
          f"VALUES (NEW.{q(first)}); INSERT INTO {table.qname} ({q(first)}) VALUES (NEW.{q(first)}))")
    b.comment("RULE", f"{rule} ON {view}")
    b.relations.append((view, [first]))
    if not b.trigger_functions:
        add_trigger_function(b)
    statement = q(b.name())
    b.run(f"CREATE FUNCTION {q(table.schema)}.{statement}() RETURNS trigger LANGUAGE plpgsql AS "
          "$$BEGIN PERFORM count(*) FROM fresh; RETURN NULL; END$$")
    trigger = q(b.name())
    b.run(f"CREATE TRIGGER {trigger} AFTER INSERT ON {table.qname} REFERENCING NEW TABLE AS fresh "
          f"FOR EACH STATEMENT EXECUTE FUNCTION {q(table.schema)}.{statement}()")
    b.run(f"CREATE TRIGGER {q(b.name())} BEFORE UPDATE OF {q(first)} ON {table.qname} FOR EACH ROW "
          f"WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION {b.choice(b.trigger_functions)}()")


def add_policy_with_check(b: Builder) -> None:
    tables = [t for t in b.tables if t.columns]
    if len(tables) < 2:
        return
    table, other = b.draw(st.lists(st.sampled_from(tables), min_size=2, max_size=2, unique_by=lambda t: t.qname))
    policy = q(b.name())
    b.run(f"CREATE POLICY {policy} ON {table.qname} FOR INSERT WITH CHECK "
          f"(EXISTS (SELECT 1 FROM {other.qname} o WHERE o.{q(other.columns[0][0])} IS NOT NULL))")
    b.comment("POLICY", f"{policy} ON {table.qname}")


def add_refused(b: Builder) -> None:
    """What a synco dump refuses (a routine that reaches beyond the database, and a view calling it): the
    dump must stop in one line naming it, loading nothing."""
    name = b.name()
    function = f"{q(b.schema())}.{q(name)}"
    b.run(f"CREATE FUNCTION {function}(pid integer) RETURNS boolean LANGUAGE plpgsql AS "
          "$$BEGIN RETURN pg_terminate_backend(pid); END$$")
    b.run(f"CREATE VIEW {q(b.schema())}.{q(b.name())} AS SELECT {function}(0) AS ended")
    b.refused.append(name)


_STEPS: list[tuple[Callable[[Builder], None], bool]] = [
    # (step, needs a table)
    (add_schema, False), (add_enum, False), (add_composite, False), (add_range, False), (add_domain, False),
    (add_functions, False), (add_collation, False), (add_operator, False), (add_table, False),
    (add_partitioned, False), (add_inheritance, True), (add_index, True), (add_foreign_key, True),
    (add_view, True), (add_trigger, True), (add_rule, True), (add_policy, True), (add_statistics, True),
    (add_grants, True), (add_sequence, False), (add_keys, True), (add_typed_table, False), (add_cast, False),
    (add_late_column, True), (add_reading_function, True), (add_regclass_column, True), (add_partition_extras, True),
    (add_options, True), (add_routines, False), (add_default_privileges, False), (add_row_type_column, True),
    (add_identity_elsewhere, False), (add_rule_and_triggers, True), (add_policy_with_check, True),
]
#: Drawn now and then only: a schema holding it is refused as a whole.
_RARE_STEPS: list[Callable[[Builder], None]] = [add_refused]


def _rows(b: Builder) -> list[str]:
    inserts = []
    for table in b.tables:
        count = b.draw(st.integers(0, 3))
        for _ in range(count):
            values = [b.draw(st.none() | column_type.values) for _, column_type in table.columns]
            if table.partitioned:
                # The key is NOT NULL.
                values[0] = values[0] if values[0] is not None else b.draw(table.columns[0][1].values)
            names = ", ".join(q(c) for c, _ in table.columns)
            row = ", ".join("NULL" if v is None else v for v in values)
            inserts.append(f"INSERT INTO {table.qname} ({names}) VALUES ({row})" if names
                           else f"INSERT INTO {table.qname} DEFAULT VALUES")
    return inserts


@st.composite
def schemas(draw: st.DrawFn, roles: tuple[str, ...] = ()) -> Schema:
    """A random schema with rows; with ``roles``, owners and grants to them, to be dumped with ``--owners``."""
    b = Builder(draw)
    owners = bool(roles) and draw(st.booleans())
    if owners:
        b.roles = list(roles)
    add_table(b)
    for _ in range(draw(st.integers(4, 25))):
        step, needs_table = draw(st.sampled_from(_STEPS))
        if needs_table and not b.tables:
            continue
        step(b)
    if draw(st.booleans()):
        # A function made first whose body names a table made later (bodies are not checked while loading).
        b.statements.insert(0, "SET check_function_bodies = false")
        table = b.tables[-1]
        b.statements.insert(1, f"CREATE FUNCTION public.counter_{len(b.statements)}() RETURNS bigint LANGUAGE sql "
                               f"AS $$SELECT count(*) FROM {table.qname}$$")
        b.statements.insert(2, "SET check_function_bodies = true")
    if draw(st.integers(0, 15)) == 0:
        draw(st.sampled_from(_RARE_STEPS))(b)
    statements = [*b.statements, *_rows(b), *b.updates, *b.late, *b.refresh]
    return Schema(statements, owners, b.refused)
