"""The MariaDB round trip's family test: random, valid, interdependent schemas and rows (hypothesis).

Each example is a script the ``mariadb`` client loads into a fresh database: tables of random column types,
character sets and collations (per table and per column), generated and invisible columns, CHECK
constraints, foreign keys (self, cyclic, ``ON UPDATE CASCADE``), prefix, unique, full-text, spatial,
descending and ignored indexes, ``AUTO_INCREMENT`` offsets, partitions (RANGE, LIST, HASH, KEY,
subpartitions), system versioning with history, sequences, views over views, routines, triggers and events
made under odd ``sql_mode``, ``character_set_client`` and time zones, and names with backticks, spaces,
letters beyond ASCII and 64 characters. Rows hold every type's edge values, NULL next to empty, every
escape, and values a collation holds equal next to a unique key.

``synco db dump --events`` and ``synco db load`` (into a database the load creates) must then either give a
copy that ``mariadb-dump --no-data --routines --triggers --events`` cannot tell from the source, with equal
``CHECKSUM TABLE`` (and history row counts), or refuse in one line naming what it refused, leaving neither
a dump file nor a target database. ``SYNCO_FUZZ_SCHEMAS`` sets the examples (a few by default, which keeps
the test under a minute of CPU; thousands by hand, with ``--timeout 0``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_mysql_parity import checksums, structure
from test_mysql_support import load_with_client, query

from synco_core.testing.services import mysql_admin_connection, mysql_url_for

pytestmark = pytest.mark.mysql

#: A knob of its own, not SYNCO_FUZZ_EXAMPLES: an example here is a server round trip of seconds, so the
#: parsers' long runs (20,000 examples) would spend a day in it.
EXAMPLES = int(os.environ.get("SYNCO_FUZZ_SCHEMAS", "20"))
#: The suite's run draws the same schemas every time (a new one that fails is a finding for a long run by
#: hand, not a red CI run for a change that did not cause it); a run that sets the number draws new ones.
SCHEMA_FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="SYNCO_FUZZ_SCHEMAS" not in os.environ,
                       suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                              HealthCheck.data_too_large, HealthCheck.large_base_example])


def ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def hexlit(data: bytes) -> str:
    return f"X'{data.hex()}'" if data else "''"


def text_literal(value: str) -> str:
    """``value`` as a literal of utf8mb4 text whatever the session's ``sql_mode`` (no escapes to read)."""
    return f"_utf8mb4 {hexlit(value.encode())}" if value else "''"


def escaped(value: str) -> str:
    """``value`` as a string literal with backslash escapes (where the ``sql_mode`` has them, and a
    literal must be plain: comments, partitioning)."""
    for letter, escape in (("\\", "\\\\"), ("'", "\\'"), ("\x00", "\\0"), ("\x1a", "\\Z")):
        value = value.replace(letter, escape)
    return f"'{value}'"


# Letters of names: a backtick, a space inside, letters beyond ASCII (two and three bytes in UTF-8).
_NAME_DECORATIONS = st.sampled_from(["", "", "", " x", "`q", "ü", "名前", "a b`c", "$", "É ß", "-1"])


@st.composite
def names(draw: st.DrawFn, base: str, ascii_only: bool = False) -> str:
    """A name starting with ``base`` (unique by it, whatever the case), sometimes odd, sometimes 64 letters."""
    if ascii_only:
        return base + draw(st.sampled_from(["", "_x", "$y"]))
    name = base + draw(_NAME_DECORATIONS)
    if draw(st.integers(0, 7)) == 0:
        name = (name + "_" + "é" * 64)[:64]
    return name.rstrip(" ")


# Text that trips literal handling: every escape a dump writer must get right, LIKE and placeholder
# characters, letters of every width, spaces a PAD SPACE collation ignores, letters a collation folds.
_TEXT = st.lists(st.sampled_from(["\x00", "\x1a", "'", '"', "\\", "%", "_", "?", "\n", "\r", "\t", " ", "a", "A",
                                  "á", "ß", "ss", "é", "😀", "名", "ソ", "\u00ad", "`", ";", "--", "/*", "$$"]),
                 max_size=8).map("".join)
_DEFAULTS = st.sampled_from(["", " ", "a ", "x'y", "b\\s", "%_?", "\x00"])
_COLLIDING = st.sampled_from(["a", "A", "á", "a ", "ss", "ß", "", " ", "e", "É"])


@dataclass(frozen=True)
class ColumnKind:
    """A column type, how to draw a value of it as SQL text, and what it can be used for."""

    sql: str
    values: st.SearchStrategy[str]
    indexable: str = "plain"  # "plain", "prefix" (needs a length), "no"
    textual: bool = False


def _ints(sql: str, low: int, high: int) -> ColumnKind:
    return ColumnKind(sql, (st.integers(low, high) | st.sampled_from([low, high, 0])).map(str))


def _bits(width: int) -> ColumnKind:
    return ColumnKind(f"BIT({width})", st.integers(0, 2**width - 1).map(lambda v: f"b'{v:b}'"))


_DATETIMES = st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 31))
_TIMESTAMPS = st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2038, 1, 18))
_TIMES = st.timedeltas(min_value=-dt.timedelta(hours=838, minutes=59, seconds=59),
                       max_value=dt.timedelta(hours=838, minutes=59, seconds=59))


def _time_text(delta: dt.timedelta) -> str:
    sign = "-" if delta < dt.timedelta(0) else ""
    micro = abs(delta) // dt.timedelta(microseconds=1)
    seconds, micro = divmod(micro, 1_000_000)
    return f"'{sign}{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}.{micro:06}'"


def _members(members: list[str]) -> str:
    return ",".join(escaped(member) for member in members)


def _enum_kind(draw: st.DrawFn) -> ColumnKind:
    members = draw(st.lists(st.sampled_from(["a", "b", "A", "á", "", " ", "x'y", "x\\y", "n\x00l", "ß", "ss",
                                             "1", "0", "%", "?"]),
                            min_size=1, max_size=5, unique=True))
    kind = draw(st.sampled_from(["ENUM", "SET"]))
    if kind == "SET":
        members = [member for member in members if "," not in member] or ["a"]
    values = (st.integers(0, len(members)) if kind == "ENUM" else st.integers(0, 2 ** len(members) - 1)).map(str)
    return ColumnKind(f"{kind}({_members(members)})", values)


_GEOMETRIES = {
    "POINT": st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)).map(lambda p: f"POINT({p[0]!r} {p[1]!r})"),
    "LINESTRING": st.just("LINESTRING(0 0, 1 1, 2.5 -3.25)"),
    "POLYGON": st.just("POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))"),
}


@st.composite
def column_kinds(draw: st.DrawFn) -> ColumnKind:
    choice = draw(st.integers(0, 24))
    if choice == 0:
        return draw(st.sampled_from([_ints("TINYINT", -128, 127), _ints("TINYINT UNSIGNED", 0, 255),
                                     _ints("SMALLINT", -(2**15), 2**15 - 1), _ints("MEDIUMINT UNSIGNED", 0, 2**24 - 1),
                                     _ints("INT", -(2**31), 2**31 - 1), _ints("BIGINT", -(2**63), 2**63 - 1),
                                     _ints("BIGINT UNSIGNED", 0, 2**64 - 1)]))
    if choice == 1:
        return draw(st.sampled_from([_bits(1), _bits(7), _bits(64)]))
    if choice == 2:
        return ColumnKind("DECIMAL(65,30)", st.decimals(min_value=-(10**35) + 1, max_value=10**35 - 1, places=30,
                                                        allow_nan=False).map(str))
    if choice == 3:
        return ColumnKind(draw(st.sampled_from(["FLOAT", "DOUBLE"])),
                          st.floats(width=32, allow_nan=False, allow_infinity=False).map(repr))
    if choice == 4:
        return ColumnKind("YEAR", (st.integers(1901, 2155) | st.just(0)).map(str))
    if choice == 5:
        fraction = draw(st.sampled_from(["", "(3)", "(6)"]))
        return ColumnKind(f"TIME{fraction}", _TIMES.map(_time_text))
    if choice == 6:
        return ColumnKind("DATETIME(6)", _DATETIMES.map(lambda v: f"'{v.isoformat(' ')}'")
                          | st.sampled_from(["'0000-00-00 00:00:00'", "'2024-00-00 00:00:00'"]))
    if choice == 7:
        default = draw(st.sampled_from(["NULL DEFAULT NULL",
                                        "NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)",
                                        "NULL ON UPDATE CURRENT_TIMESTAMP(6)"]))
        return ColumnKind(f"TIMESTAMP(6) {default}", _TIMESTAMPS.map(lambda v: f"'{v.isoformat(' ')}'")
                          | st.just("'0000-00-00 00:00:00'"))
    if choice == 8:
        return ColumnKind("DATE", st.dates(min_value=dt.date(1000, 1, 1)).map(lambda v: f"'{v}'")
                          | st.sampled_from(["'0000-00-00'", "'2020-02-00'"]))
    if choice == 9:
        return ColumnKind("JSON", st.sampled_from(['{}', '[1, 2.5, "x\\"y"]', '{"a": null, "é": "\\u0000"}',
                                                   '"string"', "null", "1e308"]).map(text_literal), "no")
    if choice == 10:
        kind = draw(st.sampled_from(sorted(_GEOMETRIES)))
        return ColumnKind(kind, _GEOMETRIES[kind].map(lambda wkt: f"ST_GeomFromText('{wkt}')"), "no")
    if choice == 11:
        return ColumnKind("INET6", st.ip_addresses().map(lambda a: f"'{a}'"))
    if choice == 12:
        return ColumnKind("UUID", st.uuids().map(lambda u: f"'{u}'"))
    if choice in (13, 14):
        return ColumnKind(draw(st.sampled_from(["VARBINARY(40)", "BLOB", "LONGBLOB", "BINARY(6)"])),
                          st.binary(max_size=40).map(hexlit)
                          | st.sampled_from([b"\x00", b"\xff\xfe", b"\xc3(", b"\x00'\\\x1a"]).map(hexlit),
                          "prefix")
    if choice in (15, 16):
        return _enum_kind(draw)
    charset = draw(st.sampled_from(["", " CHARACTER SET latin1", " CHARACTER SET utf8mb3",
                                    " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                                    " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci",
                                    " CHARACTER SET binary", " CHARACTER SET ucs2", " CHARACTER SET sjis",
                                    " CHARACTER SET ascii", " COLLATE utf8mb4_general_ci",
                                    " CHARACTER SET latin1 COLLATE latin1_bin"]))
    sql = draw(st.sampled_from(["VARCHAR(40)", "CHAR(10)", "TEXT", "TINYTEXT", "LONGTEXT"]))
    values = (_TEXT | _COLLIDING).map(text_literal)
    return ColumnKind(sql + charset, values, "prefix" if "TEXT" in sql else "plain", textual=True)


@dataclass
class Table:
    name: str
    engine: str
    columns: list[tuple[str, ColumnKind]]
    partitioned: bool
    versioned: bool
    rows: int = 0
    fk_columns: list[str] = field(default_factory=list)


@dataclass
class Schema:
    """The script that makes the source, and what it holds (for the tests' bookkeeping)."""

    statements: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    #: Objects made over a connection synco's loader refuses (sjis): the dump must refuse, naming one.
    refused: list[str] = field(default_factory=list)

    def script(self) -> bytes:
        return "\n".join(self.statements).encode("utf-8")


_SQL_MODES = ["", "ANSI", "TRADITIONAL", "NO_BACKSLASH_ESCAPES", "PIPES_AS_CONCAT,ANSI_QUOTES",
              "STRICT_ALL_TABLES,NO_ZERO_DATE", "ALLOW_INVALID_DATES", "HIGH_NOT_PRECEDENCE,IGNORE_SPACE",
              "NO_UNSIGNED_SUBTRACTION,REAL_AS_FLOAT", "NO_AUTO_VALUE_ON_ZERO"]
_CLIENT_CHARSETS = ["utf8mb4", "latin1", "utf8mb3", "binary", "ascii"]


def _client(draw: st.DrawFn, schema: Schema, name: str) -> str:
    """A ``character_set_client`` to make ``name`` under: now and then sjis, which the dump must refuse."""
    charset = draw(st.sampled_from([*_CLIENT_CHARSETS, "sjis"] if draw(st.integers(0, 9)) == 0 else _CLIENT_CHARSETS))
    if charset == "sjis":
        schema.refused.append(name)
    return charset


def _string_in(mode: str, value: str) -> str:
    """``value`` as a plain string literal written for ``mode`` (routine bodies keep their text)."""
    if "NO_BACKSLASH_ESCAPES" in mode:
        return "'" + value.replace("'", "''") + "'"
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@st.composite
def tables(draw: st.DrawFn, index: int, schema: Schema) -> Table:
    name = draw(names(f"t{index}"))
    engine = draw(st.sampled_from(["InnoDB", "InnoDB", "InnoDB", "MyISAM", "Aria"]))
    partitioned = draw(st.integers(0, 4)) == 0
    versioned = draw(st.integers(0, 4)) == 0
    kinds = draw(st.lists(column_kinds(), min_size=1, max_size=6))
    if partitioned:  # The server's partitioning takes no spatial column.
        kinds = [kind for kind in kinds if kind.sql not in _GEOMETRIES] or [_ints("SMALLINT", -(2**15), 2**15 - 1)]
    columns: list[tuple[str, ColumnKind]] = []
    # Generated columns are computed from `k`: the server refuses them over an AUTO_INCREMENT column.
    definitions = ["`id` INT NOT NULL AUTO_INCREMENT", "`k` INT"]
    for number, kind in enumerate(kinds):
        column = draw(names(f"c{number}"))
        columns.append((column, kind))
        extra = ""
        if kind.textual and draw(st.booleans()):
            # Letters every character set here holds (a default must fit the column's).
            extra += " DEFAULT " + escaped(draw(_DEFAULTS))
        if draw(st.integers(0, 5)) == 0:
            extra += " INVISIBLE"
        if draw(st.integers(0, 5)) == 0:
            extra += f" COMMENT {escaped(draw(_TEXT))}"
        if versioned and draw(st.integers(0, 4)) == 0:
            extra += " WITHOUT SYSTEM VERSIONING"
        definitions.append(f"{ident(column)} {kind.sql}{extra}")
    spatial = None
    if not partitioned and draw(st.integers(0, 4)) == 0:
        spatial = draw(names("geo"))
        definitions.append(f"{ident(spatial)} POINT NOT NULL DEFAULT ST_GeomFromText('POINT(0 0)')")
    generated = draw(st.sampled_from(["", "VIRTUAL", "PERSISTENT"]))
    if generated:
        expression = draw(st.sampled_from(["`k` * 2", "CONCAT('g', `k`, '\\'')", "MD5(`k`)", "`k` DIV 3"]))
        definitions.append(f"{ident(draw(names('gen')))} VARCHAR(40) AS ({expression}) {generated}")
    keys = ["PRIMARY KEY (`id`)"]
    for number, (column, kind) in enumerate(columns):
        if kind.indexable == "no" or draw(st.integers(0, 2)) != 0:
            continue
        # At most 10: no longer than the shortest column (CHAR(10)), as a prefix must be.
        length = f"({draw(st.integers(1, 10))})" if kind.indexable == "prefix" or (
            kind.textual and draw(st.booleans())) else ""
        if "BINARY(6)" in kind.sql or kind.sql.startswith(("ENUM", "SET", "BIT", "INET6", "UUID", "YEAR", "TIME",
                                                            "DATE", "DECIMAL", "FLOAT", "DOUBLE", "TINYINT",
                                                            "SMALL", "MEDIUM", "INT", "BIGINT")):
            length = ""
        unique = not partitioned and draw(st.integers(0, 2)) == 0
        order = draw(st.sampled_from(["", " DESC", " ASC"]))
        ignored = " IGNORED" if draw(st.integers(0, 4)) == 0 else ""
        keys.append(f"{'UNIQUE ' if unique else ''}KEY {ident(draw(names(f'k{number}')))} "
                    f"({ident(column)}{length}{order}){ignored}")
    texts = [column for column, kind in columns if kind.textual and "binary" not in kind.sql
             and "ucs2" not in kind.sql]
    full_text = [column for column, kind in columns if kind.textual and ("latin1" in kind.sql or "utf8" in kind.sql)]
    if full_text and not partitioned and draw(st.integers(0, 3)) == 0:
        keys.append(f"FULLTEXT KEY {ident(draw(names('ft')))} ({ident(full_text[0])})")
    if spatial:
        keys.append(f"SPATIAL KEY {ident(draw(names('sp')))} ({ident(spatial)})")
    checks = []
    if draw(st.booleans()):
        # Not on `id`: the server refuses a CHECK on an AUTO_INCREMENT column.
        first = ident(columns[0][0])
        checks.append(f"CONSTRAINT {ident(draw(names('chk')))} CHECK ({first} IS NULL OR {first} = {first})")
    if texts and draw(st.booleans()):
        checks.append(f"CHECK ({ident(texts[0])} IS NULL OR {ident(texts[0])} <> 'forbidden')")
    options = [f"ENGINE={engine}"]
    options.append(draw(st.sampled_from(["", "DEFAULT CHARSET=utf8mb4", "DEFAULT CHARSET=latin1",
                                         "DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_bin", "DEFAULT CHARSET=ucs2",
                                         "DEFAULT CHARSET=sjis", "DEFAULT CHARSET=binary"])))
    if draw(st.booleans()):
        options.append(f"AUTO_INCREMENT={draw(st.integers(2, 2**31))}")
    if engine == "InnoDB" and draw(st.booleans()):
        options.append("ROW_FORMAT=" + draw(st.sampled_from(["DYNAMIC", "COMPACT", "REDUNDANT", "COMPRESSED"])))
    if engine == "Aria" and draw(st.booleans()):
        options.append("ROW_FORMAT=PAGE TRANSACTIONAL=1")
    if draw(st.booleans()):
        options.append(f"COMMENT={escaped(draw(_TEXT))}")
    if versioned:
        options.append("WITH SYSTEM VERSIONING")
    partition = ""
    if partitioned:
        partition = draw(st.sampled_from([
            "PARTITION BY RANGE (`id`) (PARTITION p0 VALUES LESS THAN (3), PARTITION `p 1` VALUES LESS THAN (100),"
            " PARTITION pmax VALUES LESS THAN MAXVALUE)",
            "PARTITION BY LIST (`id` MOD 3) (PARTITION p0 VALUES IN (0), PARTITION p1 VALUES IN (1, 2))",
            "PARTITION BY HASH (`id`) PARTITIONS 3",
            "PARTITION BY KEY (`id`) PARTITIONS 2",
            "PARTITION BY RANGE (`id`) SUBPARTITION BY HASH (`id`) SUBPARTITIONS 2"
            " (PARTITION p0 VALUES LESS THAN (5), PARTITION p1 VALUES LESS THAN MAXVALUE)",
            *(["PARTITION BY SYSTEM_TIME (PARTITION p_hist HISTORY, PARTITION p_cur CURRENT)"] if versioned else []),
        ]))
    schema.statements.append(f"CREATE TABLE {ident(name)} (\n  " + ",\n  ".join(definitions + keys + checks)
                             + "\n) " + " ".join(option for option in options if option) + (" " + partition)
                             + ";")
    table = Table(name, engine, [("k", _ints("INT", -(2**31), 2**31 - 1)), *columns], partitioned, versioned)
    if spatial:
        table.columns.append((spatial, ColumnKind("POINT NOT NULL", _GEOMETRIES["POINT"].map(
            lambda wkt: f"ST_GeomFromText('{wkt}')"), "no")))
    return table


@st.composite
def schemas(draw: st.DrawFn) -> Schema:
    schema = Schema()
    schema.statements += ["SET NAMES utf8mb4;", "SET time_zone = '+00:00';", "SET foreign_key_checks = 0;",
                          "SET sql_mode = 'NO_ENGINE_SUBSTITUTION';",
                          # The foreign keys are added to system-versioned tables too.
                          "SET system_versioning_alter_history = KEEP;"]
    sequences = []
    for number in range(draw(st.integers(0, 2))):
        sequence = draw(names(f"s{number}"))
        increment = draw(st.sampled_from([1, -1, 5]))
        low, high = (1, 10) if increment > 0 else (-10, -1)
        cycle = draw(st.sampled_from(["CYCLE", "NOCYCLE"]))
        if cycle == "CYCLE":  # Only one that cannot run out can be a column's default.
            sequences.append(sequence)
        schema.statements.append(
            f"CREATE SEQUENCE {ident(sequence)} START WITH {low if increment > 0 else high} "
            f"MINVALUE {low} MAXVALUE {high} INCREMENT BY {increment} "
            f"{cycle} CACHE {draw(st.sampled_from([0, 1, 3]))};")
        for _ in range(draw(st.integers(0, 12 if cycle == "CYCLE" else 1))):
            schema.statements.append(f"SELECT NEXTVAL({ident(sequence)}) INTO @synco_fuzz;")
    count = draw(st.integers(1, 4))
    for index in range(count):
        schema.tables.append(draw(tables(index, schema)))
    if sequences:
        table = draw(st.sampled_from(schema.tables))
        if table.engine == "InnoDB" and not table.partitioned:
            schema.statements.append(f"ALTER TABLE {ident(table.name)} ADD COLUMN `from_seq` BIGINT "
                                     f"DEFAULT NEXTVAL({ident(sequences[0])});")
    # Foreign keys, after every table: cycles and self references.
    keyed = [table for table in schema.tables if table.engine == "InnoDB" and not table.partitioned]
    for table in keyed:
        for number, parent in enumerate(draw(st.lists(st.sampled_from(keyed), max_size=2))):
            column = f"ref{number}"
            delete = draw(st.sampled_from(["CASCADE", "SET NULL", "RESTRICT", "NO ACTION"]))
            update = draw(st.sampled_from(["CASCADE", "SET NULL", "RESTRICT", "NO ACTION"]))
            schema.statements.append(
                f"ALTER TABLE {ident(table.name)} ADD COLUMN `{column}` INT NULL, ADD CONSTRAINT "
                f"{ident(draw(names(f'fk_{table.name[:20]}_{number}')))} FOREIGN KEY (`{column}`) "
                f"REFERENCES {ident(parent.name)} (`id`) ON DELETE {delete} ON UPDATE {update};")
            table.fk_columns.append(column)
    # Rows, under a permissive mode: zero dates, values cut to fit, duplicates of a unique key dropped.
    for table in schema.tables:
        mode = draw(st.sampled_from(["", "NO_ZERO_IN_DATE", "ALLOW_INVALID_DATES", "NO_BACKSLASH_ESCAPES"]))
        schema.statements.append(f"SET sql_mode = '{mode}';")
        rows = draw(st.integers(0, 6))
        table.rows = rows
        # Rows written and deleted at one instant leave history rows no server loads back.
        instant = table.versioned and rows and draw(st.booleans())
        if instant:
            schema.statements.append("SET timestamp = 1700000000.123456;")
        for _ in range(rows):
            names_, values = [], []
            for column, kind in table.columns:
                value = draw(st.none() | kind.values) if not kind.sql.endswith("NOT NULL") else draw(kind.values)
                names_.append(ident(column))
                values.append("NULL" if value is None else value)
            for column in table.fk_columns:
                names_.append(ident(column))
                values.append(draw(st.sampled_from(["NULL", "1", "2", "3"])))
            schema.statements.append(f"INSERT IGNORE INTO {ident(table.name)} ({', '.join(names_)}) "
                                     f"VALUES ({', '.join(values)});")
        if table.versioned and rows:
            schema.statements.append(f"UPDATE IGNORE {ident(table.name)} SET `k` = `k` DIV 2 ORDER BY `id` LIMIT 2;")
            schema.statements.append(f"DELETE IGNORE FROM {ident(table.name)} ORDER BY `id` LIMIT 1;")
        if instant:
            schema.statements.append("SET timestamp = DEFAULT;")
    schema.statements.append("SET sql_mode = 'NO_ENGINE_SUBSTITUTION';")
    routines = draw_routines(draw, schema)
    draw_views(draw, schema, routines)
    draw_triggers(draw, schema)
    draw_events(draw, schema)
    return schema


def _under(draw: st.DrawFn, schema: Schema, statement: str, ascii_names: bool = True) -> None:
    """``statement`` made under a random ``sql_mode``, client character set and time zone, put back after."""
    charset = draw(st.sampled_from(_CLIENT_CHARSETS)) if ascii_names else "utf8mb4"
    mode = draw(st.sampled_from(_SQL_MODES))
    zone = draw(st.sampled_from(["+00:00", "+05:30", "-11:00", "SYSTEM"]))
    schema.statements += [f"SET NAMES {charset};", f"SET sql_mode = '{mode}';", f"SET time_zone = '{zone}';",
                          "DELIMITER ;;", statement.replace("{mode}", mode) + ";;", "DELIMITER ;",
                          "SET NAMES utf8mb4;", "SET sql_mode = 'NO_ENGINE_SUBSTITUTION';",
                          "SET time_zone = '+00:00';"]


def draw_routines(draw: st.DrawFn, schema: Schema) -> list[str]:
    functions = []
    for number in range(draw(st.integers(0, 2))):
        name = draw(names(f"f{number}", ascii_only=True))
        literal = draw(_TEXT.filter(lambda text: "\x00" not in text))
        comment = draw(st.sampled_from(["", " COMMENT 'back\\\\slash ''q'' é'"]))
        body = draw(st.sampled_from([
            "RETURN CONCAT(x, {lit})",
            "BEGIN DECLARE y VARCHAR(200) DEFAULT {lit}; IF x IS NULL THEN RETURN y; END IF; RETURN CONCAT(y, x); END",
        ])).replace("{lit}", "__LIT__")
        statement = (f"CREATE FUNCTION {ident(name)}(x VARCHAR(100)) RETURNS VARCHAR(300) DETERMINISTIC{comment} "
                     + body)
        mode = draw(st.sampled_from(_SQL_MODES))
        charset = _client(draw, schema, name)
        if charset == "sjis":  # Its bytes of letters beyond ASCII are not all sjis.
            literal = "sjis"
        schema.statements += [f"SET NAMES {charset};", f"SET sql_mode = '{mode}';", "DELIMITER ;;",
                              statement.replace("__LIT__", _string_in(mode, literal)) + ";;", "DELIMITER ;",
                              "SET NAMES utf8mb4;", "SET sql_mode = 'NO_ENGINE_SUBSTITUTION';"]
        functions.append(name)
    for number in range(draw(st.integers(0, 2))):
        name = draw(names(f"p{number}", ascii_only=True))
        table = draw(st.sampled_from(schema.tables))
        body = draw(st.sampled_from([
            f"SELECT COUNT(*) INTO n FROM {ident(table.name)}",
            f"BEGIN SELECT COUNT(*) INTO n FROM {ident(table.name)} WHERE `id` > 0; SET n = n + 1; END",
            "SET n = 42",
        ]))
        _under(draw, schema, f"CREATE PROCEDURE {ident(name)}(OUT n INT) SQL SECURITY "
                             f"{draw(st.sampled_from(['DEFINER', 'INVOKER']))} COMMENT 'proc' {body}",
               ascii_names="é" not in table.name and not any(ord(c) > 127 for c in table.name))
    return functions


def draw_views(draw: st.DrawFn, schema: Schema, functions: list[str]) -> None:
    sources = [(table.name, True, [column for column, kind in table.columns]) for table in schema.tables]
    for number in range(draw(st.integers(0, 3))):
        name = draw(names(f"v{number}"))
        source, updatable, columns = draw(st.sampled_from(sources))
        columns = [column for column in columns if column not in ("id", "fn")]
        chosen = draw(st.lists(st.sampled_from(columns), max_size=3, unique=True)) if columns else []
        algorithm = draw(st.sampled_from(["UNDEFINED", "MERGE", "TEMPTABLE"]))
        security = draw(st.sampled_from(["DEFINER", "INVOKER"]))
        selected = ["`id`", *map(ident, chosen)]
        if functions and draw(st.booleans()):
            selected.append(f"{ident(draw(st.sampled_from(functions)))}(`id`) AS `fn`")
        where = draw(st.sampled_from(["", " WHERE `id` > 1", " WHERE `id` LIKE '%1?'"]))
        check = " WITH CASCADED CHECK OPTION" if updatable and algorithm != "TEMPTABLE" and where and \
            draw(st.booleans()) else ""
        schema.statements.append(f"CREATE ALGORITHM={algorithm} DEFINER=CURRENT_USER SQL SECURITY {security} "
                                 f"VIEW {ident(name)} AS SELECT {', '.join(selected)} FROM {ident(source)}"
                                 f"{where}{check};")
        aliases = ["id", *chosen] + (["fn"] if "`fn`" in selected[-1] else [])
        sources.append((name, algorithm != "TEMPTABLE" and updatable and "`fn`" not in selected[-1], aliases))


def draw_triggers(draw: st.DrawFn, schema: Schema) -> None:
    """Triggers made after the rows: one that changes ``k`` would change the copy's rows if a loader created
    it before loading them; several on one table and event keep their order (``FOLLOWS``/``PRECEDES``)."""
    made: dict[tuple[str, str], list[str]] = {}
    for number in range(draw(st.integers(0, 4))):
        table = draw(st.sampled_from(schema.tables))
        name = draw(names(f"tr{number}", ascii_only=True))
        timing = draw(st.sampled_from(["BEFORE INSERT", "AFTER INSERT", "BEFORE UPDATE", "AFTER DELETE"]))
        row = "OLD" if timing.endswith("DELETE") else "NEW"
        literal = draw(_TEXT.filter(lambda text: "\x00" not in text))
        ascii_table = all(ord(c) < 128 for c in table.name)
        mode = draw(st.sampled_from(_SQL_MODES))
        charset = _client(draw, schema, name) if ascii_table else "utf8mb4"
        if charset == "sjis":
            literal = "sjis"
        change = "SET NEW.`k` = NEW.`k` DIV 2; " if timing.startswith("BEFORE") else ""
        body = (f"BEGIN {change}SET @synco_fuzz = CONCAT({_string_in(mode, literal)}, {row}.`id`); "
                f"IF {row}.`id` < 0 THEN SET @synco_fuzz = NULL; END IF; END")
        before = made.setdefault((table.name, timing), [])
        order = f" {draw(st.sampled_from(['FOLLOWS', 'PRECEDES']))} {ident(draw(st.sampled_from(before)))}" \
            if before and draw(st.booleans()) else ""
        before.append(name)
        schema.statements += [f"SET NAMES {charset};", f"SET sql_mode = '{mode}';", "DELIMITER ;;",
                              f"CREATE DEFINER=CURRENT_USER TRIGGER {ident(name)} {timing} ON {ident(table.name)} "
                              f"FOR EACH ROW{order} {body};;", "DELIMITER ;", "SET NAMES utf8mb4;",
                              "SET sql_mode = 'NO_ENGINE_SUBSTITUTION';"]


def draw_events(draw: st.DrawFn, schema: Schema) -> None:
    for number in range(draw(st.integers(0, 2))):
        name = draw(names(f"e{number}", ascii_only=True))
        table = draw(st.sampled_from(schema.tables))
        schedule = draw(st.sampled_from(["EVERY 1 DAY STARTS '2031-01-01 00:00:00' ENDS '2032-06-01 12:30:00'",
                                         "AT '2035-03-04 05:06:07'", "EVERY 90 MINUTE STARTS '2030-01-01 00:00:00'"]))
        status = draw(st.sampled_from(["ENABLE", "DISABLE", "DISABLE ON SLAVE"]))
        _under(draw, schema, f"CREATE EVENT {ident(name)} ON SCHEDULE {schedule} ON COMPLETION "
                             f"{draw(st.sampled_from(['PRESERVE', 'NOT PRESERVE']))} {status} COMMENT 'ev' "
                             f"DO DELETE FROM {ident(table.name)} WHERE `id` < 0",
               ascii_names=all(ord(c) < 128 for c in table.name))


@pytest.fixture
def throwaway(mysql_database_factory: Callable[[], str]) -> Iterator[Callable[[], str]]:
    """Databases for one example at a time: dropped after it (with the install's scratch databases named after
    them), so that thousands of examples do not pile thousands of databases up until the test ends."""
    made: list[str] = []

    def make() -> str:
        for name in made:
            drop_like(name)
        made.clear()
        made.append(mysql_database_factory())
        return made[-1]

    yield make


def drop_like(prefix: str) -> None:
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
                        (prefix.replace("_", "\\_") + "%",))
            for (name,) in cur.fetchall():
                cur.execute(f"DROP DATABASE IF EXISTS {ident(name)}")
    finally:
        conn.close()


def round_trip(source: str, target: str, dump_file: Path, refused: list[str]) -> None:
    """The copy is exact, or the dump refused one of the objects in ``refused`` in one line, leaving no
    dump file behind."""
    from click.testing import CliRunner

    from synco_core.cli.main import cli

    runner = CliRunner()
    dumped = runner.invoke(cli, ["db", "dump", mysql_url_for(source), "-o", str(dump_file), "--events"])
    if dumped.exit_code != 0:
        assert dumped.exit_code == 1 and isinstance(dumped.exception, SystemExit), dumped.output
        assert len(dumped.output.strip().splitlines()) == 1, dumped.output
        assert not dump_file.exists()
        assert any(name in dumped.output for name in refused), f"the dump refused: {dumped.output.strip()}"
        return
    assert not refused, f"the dump took what was made over an sjis connection: {refused}"
    loaded = runner.invoke(cli, ["db", "load", mysql_url_for(target), str(dump_file), "--yes"])
    if loaded.exit_code != 0:
        assert query(source, "SELECT 1")  # the source is there
        exists = query(source, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME=%s", (target,))
        assert exists[0][0] == 0, "a refused load left a target database behind"
        pytest.fail(f"the load refused: {loaded.output.strip()}")
    before, after = structure(source), structure(target)
    import difflib
    assert before == after, "\n".join(difflib.unified_diff(before, after, "source", "copy", lineterm=""))
    assert exact_checksums(target) == exact_checksums(source)


def exact_checksums(database: str) -> dict[str, object]:
    """CHECKSUM TABLE of every table and sequence, but the rows themselves where the server's checksum is no
    measure of them:

    - a table with a VIRTUAL column: the server checksums the stale bytes of the column's slot, so one
      ``ALTER TABLE ... FORCE`` of an Aria table, rows untouched, changes its CHECKSUM TABLE (MariaDB 10.11;
      an InnoDB one differed once in hundreds of examples, and not on a second run);
    - a system-versioned table: without the history rows whose period ends where it starts, which no server
      loads back (the dump leaves them out, with a warning).
    """
    result = checksums(database)
    for table, versioned in query(database, "SELECT TABLE_NAME, TABLE_TYPE = 'SYSTEM VERSIONED' FROM "
                                            "information_schema.TABLES WHERE TABLE_SCHEMA=%s AND (TABLE_NAME IN "
                                            "(SELECT TABLE_NAME FROM information_schema.COLUMNS WHERE "
                                            "TABLE_SCHEMA=%s AND EXTRA LIKE '%%VIRTUAL GENERATED%%') "
                                            "OR TABLE_TYPE = 'SYSTEM VERSIONED')",
                                  (database, database)):
        stored = [ident(column) for (column,) in query(
            database, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s "
                      "ORDER BY ORDINAL_POSITION", (database, table))]
        history = " FOR SYSTEM_TIME ALL WHERE `row_start` < `row_end`" if versioned else ""
        if versioned:
            stored += ["`row_start`", "`row_end`"]
        result[table] = sorted(map(repr, query(database, f"SELECT {', '.join(stored)} FROM {ident(table)}{history}")))
        result.pop(table + " (rows with history)", None)
    return result


@SCHEMA_FUZZ
@given(schema=schemas())
def test_random_schemas_round_trip_exactly(schema: Schema, throwaway: Callable[[], str], tmp_path: Path) -> None:
    source = throwaway()
    target = source + "_copy"
    load_with_client(source, schema.script())
    dump_file = tmp_path / "dump.sql"
    dump_file.unlink(missing_ok=True)
    round_trip(source, target, dump_file, schema.refused)
