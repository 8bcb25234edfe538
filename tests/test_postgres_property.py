"""Property test: random rows of random column types survive dump -> install exactly (real PostgreSQL).

Values are given to the server as text and cast there, so every value is one the server holds, and the
copy is compared by the server's own text of each value (``::text`` under ``extra_float_digits = 3``, so
floats show every bit) and of each whole row. The same rows go through the ordinary COPY and through the
wide-row path, where every row is cut into pieces of a few bytes (inside escapes and characters).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from synco_core.dburl import parse_database_url
from synco_core.engines.postgresql import installer, widerows
from synco_core.engines.postgresql.dumper import PostgresDumper
from synco_core.testing.services import postgres_admin_connection, postgres_url_for
from synco_core.values import DumpOptions, InstallOptions, ValueRewriter

pytestmark = pytest.mark.postgres

TYPES = """
CREATE TYPE mood AS ENUM ('', ' sp ', 'quo''te', 'back\\slash', 'ünï', 'a,b', '{x}', '"dq"', 'NULL');
CREATE TYPE pair AS (a int, b text, c numeric[]);
CREATE DOMAIN positive AS numeric CHECK (VALUE > 0);
"""


@dataclass(frozen=True)
class Kind:
    """A column type and the text of the values to draw for it (cast by the server)."""

    sql: str
    values: st.SearchStrategy[str] = field(repr=False)


def _text(max_size: int) -> st.SearchStrategy[str]:
    # PostgreSQL text holds every code point but NUL; surrogates are not characters.
    return st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=max_size)


_SPECIAL_FLOATS = ["NaN", "Infinity", "-Infinity", "-0", "0"]
_BC_DATES = st.dates(max_value=dt.date(4713, 12, 31)).map(lambda d: f"{d.isoformat()} BC")
_LATE_DATES = st.integers(10000, 294276).map(lambda y: f"{y}-12-31")
_TIMES = st.times().map(lambda t: t.isoformat())
_OFFSETS = st.integers(-(15 * 3600 + 59 * 60 + 59), 15 * 3600 + 59 * 60 + 59).map(
    lambda s: f"{'-' if s < 0 else '+'}{abs(s) // 3600:02}:{abs(s) // 60 % 60:02}:{abs(s) % 60:02}")
_JSON_SCALARS = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | _text(6)
                 | st.floats(allow_nan=False, allow_infinity=False)
                 | st.sampled_from(["1e400", "1.000000000000000000001", "-0", "0.0e0", "1E+2"]).map(lambda t: _Raw(t)))


class _Raw(str):
    """A number written as it is (json keeps the text of its numbers)."""


def _json_text(draw: st.DrawFn, value: Any) -> str:
    """JSON with the spacing and duplicate keys drawn too: ``json`` keeps them, ``jsonb`` does not."""
    space = draw(st.sampled_from(["", " ", "\n", "\t ", "\r\n"]))
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, list):
        return "[" + space + ("," + space).join(_json_text(draw, item) for item in value) + "]"
    if isinstance(value, dict):
        items = [(key, item) for key, item in value.items()]
        if items and draw(st.booleans()):
            items.append(items[0])  # a duplicate key
        return "{" + ",".join(f"{space}{json.dumps(key)}{space}:{_json_text(draw, item)}" for key, item in items) + "}"
    return json.dumps(value, ensure_ascii=draw(st.booleans()))


_JSON_VALUES = st.recursive(_JSON_SCALARS, lambda children: st.lists(children, max_size=3)
                            | st.dictionaries(_text(4), children, max_size=3), max_leaves=6)


@st.composite
def json_texts(draw: st.DrawFn) -> str:
    return _json_text(draw, draw(_JSON_VALUES))


@st.composite
def intervals(draw: st.DrawFn) -> str:
    months = draw(st.integers(-2**31, 2**31 - 1))
    days = draw(st.integers(-2**31, 2**31 - 1))
    micros = draw(st.integers(-2**63, 2**63 - 1))
    return f"{months} mons {days} days {micros} microseconds"


def _bounds(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Range text: empty, or bounds (either may be missing) with any inclusivity."""
    bound = st.none() | values
    pair = st.tuples(st.sampled_from("[("), bound, bound, st.sampled_from("])"))
    return st.just("empty") | pair.map(lambda p: f'{p[0]}{"" if p[1] is None else json.dumps(p[1])},'
                                                 f'{"" if p[2] is None else json.dumps(p[2])}{p[3]}')


def _ordered_range(low: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    pair = st.tuples(st.sampled_from("[("), low, low, st.sampled_from("])")).filter(lambda p: p[1] <= p[2])
    return pair.map(lambda p: f"{p[0]}{p[1]},{p[2]}{p[3]}")


@st.composite
def arrays(draw: st.DrawFn, element: st.SearchStrategy[str]) -> str:
    """Array text with one or two dimensions, any lower bounds, NULL and quoted elements."""
    shape = draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))
    lows = [draw(st.integers(-5, 5)) for _ in shape]

    def build(level: int) -> str:
        if level == len(shape):
            item = draw(st.none() | element)
            return "NULL" if item is None else '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return "{" + ",".join(build(level + 1) for _ in range(shape[level])) + "}"

    dims = "".join(f"[{low}:{low + size - 1}]" for low, size in zip(lows, shape, strict=True))
    return f"{dims}={build(0)}" if draw(st.booleans()) else build(0) if lows else "{}"


KINDS = [
    Kind("numeric", st.decimals(allow_nan=False, allow_infinity=False).map(str)
         | st.sampled_from(["NaN", "Infinity", "-Infinity", "-0", "1e-16383", "9" * 1000 + "." + "9" * 900])),
    Kind("numeric(7,3)", st.decimals(min_value="-9999.999", max_value="9999.999", places=3).map(str)),
    Kind("real", st.floats(width=32).map(repr) | st.sampled_from([*_SPECIAL_FLOATS, "1.4e-45", "3.4028235e38"])),
    Kind("double precision", st.floats().map(repr) | st.sampled_from([*_SPECIAL_FLOATS, "4.9e-324"])),
    Kind("money", st.integers(-2**63, 2**63 - 1).map(lambda c: f"{c // 100 if c >= 0 else -(-c // 100)}."
                                                           f"{abs(c) % 100:02}")),
    Kind("timestamp", st.datetimes().map(str) | _BC_DATES | _LATE_DATES
         | st.sampled_from(["infinity", "-infinity", "4713-01-01 00:00:00 BC", "294276-12-31 23:59:59.999999"])),
    Kind("timestamptz", st.tuples(st.datetimes().map(str), _OFFSETS).map(" ".join)
         | st.sampled_from(["infinity", "-infinity", "4713-01-01 00:00:00+00 BC", "294276-12-31 23:59:59.999999+00"])),
    Kind("date", st.dates().map(str) | _BC_DATES | st.sampled_from(["infinity", "-infinity", "5874897-12-31"])),
    Kind("time", _TIMES | st.just("24:00:00")),
    Kind("timetz", st.tuples(_TIMES | st.just("24:00:00"), _OFFSETS).map(lambda p: p[0] + p[1])),
    Kind("interval", intervals()),
    Kind("text", _text(30)),
    Kind("character(5)", _text(5)),
    Kind("varchar(8)", _text(8)),
    Kind('"char"', st.characters(codec="ascii", exclude_characters="\x00")),
    Kind("bytea", st.binary(max_size=40).map(lambda b: "\\x" + b.hex())),
    Kind("json", json_texts()),
    Kind("jsonb", json_texts()),
    Kind("xml", st.sampled_from(["", "<a  x='1'>t&amp;&lt;</a><!-- c -->", " <x/> text ", "<?pi x?><a>\n</a>",
                                 "<a><![CDATA[<&>]]></a>"])),
    Kind("bit(5)", st.integers(0, 31).map(lambda v: format(v, "05b"))),
    Kind("varbit", st.text("01", max_size=80)),
    Kind("uuid", st.uuids().map(str)),
    Kind("inet", st.ip_addresses().map(str) | st.sampled_from(["::ffff:1.2.3.4/96", "10.1.2.3/8", "fe80::1/64"])),
    Kind("cidr", st.sampled_from(["10.0.0.0/8", "::/0", "2001:db8::/32", "255.255.255.255/32", "0.0.0.0/0"])),
    Kind("macaddr8", st.binary(min_size=8, max_size=8).map(lambda b: b.hex(":"))),
    Kind("mood", st.sampled_from(["", " sp ", "quo'te", "back\\slash", "ünï", "a,b", "{x}", '"dq"', "NULL"])),
    Kind("pair", st.tuples(st.none() | st.integers(-2**31, 2**31 - 1), st.none() | _text(6),
                           st.none() | arrays(st.sampled_from(["NaN", "1.5", "-0"])))
         .map(lambda p: "(" + ",".join("" if v is None else '"' + str(v).replace("\\", "\\\\").replace('"', '""') + '"'
                                       for v in p) + ")")),
    Kind("positive", st.decimals(min_value="0.000001", allow_nan=False, allow_infinity=False).map(str)),
    Kind("tsvector", st.sampled_from(["", "'a':1A,2B 'it''s':3C,4D 'x\\\\y' ' '", "a:1 b:2,3"])),
    Kind("tsquery", st.sampled_from(["", "'a':AB & !'b' <-> 'c' <2> ('d':*)", "x | y"])),
    Kind("point", st.tuples(st.floats(), st.floats()).map(lambda p: f"({p[0]!r},{p[1]!r})")),
    Kind("integer[]", arrays(st.integers(-2**31, 2**31 - 1).map(str))),
    Kind("text[]", arrays(_text(5) | st.sampled_from(["NULL", "null", "", " ", "{", "\\"]))),
    Kind("double precision[]", arrays(st.floats().map(repr))),
    Kind("timestamptz[]", arrays(st.sampled_from(["infinity", "4713-01-01 00:00:00+00 BC", "2000-01-01 00:00+05:30"]))),
    Kind("mood[]", arrays(st.sampled_from(["", "a,b", '"dq"', "NULL", "{x}"]))),
    Kind("pair[]", arrays(st.sampled_from(["(,,)", "(1,\"a\"\"b\",)", "(,\\\\,{NULL})"]))),
    Kind("int4range", _bounds(st.integers(-2**31, 2**31 - 1).map(str)).filter(lambda t: _sane_range(t))),
    Kind("numrange", st.just("empty") | _ordered_range(st.decimals(allow_nan=False, allow_infinity=False))),
    Kind("tstzrange", st.sampled_from(["empty", "(,)", "[-infinity,infinity]", "(\"4713-01-01 00:00:00+00 BC\",)",
                                       "[2000-01-01 00:00+14,2000-01-01 00:00-12)"])),
    Kind("int8multirange", st.sampled_from(["{}", "{(,)}", "{[1,2],[4,5)}", "{(,5),[7,)}", "{empty}"])),
    Kind("datemultirange", st.sampled_from(["{}", "{[2000-01-01,2000-01-02), [2001-01-01,)}", "{(,infinity]}"])),
]


def _sane_range(text: str) -> bool:
    if text == "empty":
        return True
    low, high = (bound.strip('"') for bound in text[1:-1].split(","))
    return not (low and high and int(low) > int(high))


Table = tuple[list[Kind], list[tuple[str | None, ...]]]


@st.composite
def tables(draw: st.DrawFn) -> Table:
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=5))
    rows = draw(st.lists(st.tuples(*[st.none() | kind.values for kind in kinds]), max_size=5))
    return kinds, rows


#: Tables drawn per example. Each example's fixed cost (the dump's catalog reads, the install's scratch
#: database created, swapped in and the previous one dropped) dwarfs a table's: several tables, each its own
#: case, go through one round trip, which is the same code path for each of them.
PER_EXAMPLE = 4
_ALL_TABLES = ", ".join(f"r{index}" for index in range(PER_EXAMPLE + 1))


@pytest.fixture
def databases(postgres_database_factory: Callable[[], str]) -> tuple[str, str]:
    return postgres_database_factory(), postgres_database_factory()


def _values(database: str, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    with psycopg.connect(postgres_url_for(database), autocommit=True) as conn:
        conn.execute("SET extra_float_digits = 3")
        conn.execute("SET TimeZone = 'UTC'")
        texts = ", ".join(f"{name}::text" for name in columns)
        return conn.execute(f"SELECT id, {texts}, md5({table}::text) FROM {table} ORDER BY id").fetchall()


def _round_trip(databases: tuple[str, str], drawn: list[Table], rewriter: ValueRewriter | None = None) -> None:
    source, target = databases
    cases = []
    for kinds, rows in drawn:
        if rewriter:
            # Each row holds the needle in its last column, so the rewriter takes every row apart.
            kinds = [*kinds, _BY_TYPE["text"]]
            rows = [(*row, f"{index}{_NEEDLE.decode()}\\{index}") for index, row in enumerate(rows)]
        cases.append((kinds, rows, [f"c{index}" for index in range(len(kinds))]))
    conn = postgres_admin_connection(source)
    try:
        conn.execute(f"DROP TABLE IF EXISTS {_ALL_TABLES}")
        if conn.execute("SELECT to_regtype('mood')").fetchone()[0] is None:
            conn.execute(TYPES)
        for number, (kinds, rows, names) in enumerate(cases):
            conn.execute(f"CREATE TABLE r{number} (id serial PRIMARY KEY, "
                         f"{', '.join(f'{name} {kind.sql}' for name, kind in zip(names, kinds, strict=True))})")
            casts = ", ".join(f"%s::{kind.sql}" for kind in kinds)
            for row in rows:
                conn.execute(f"INSERT INTO r{number} ({', '.join(names)}) VALUES ({casts})", row)
    finally:
        conn.close()
    out = io.BytesIO()
    result = PostgresDumper(parse_database_url(postgres_url_for(source)), DumpOptions()).dump(out)
    for number, (kinds, rows, _) in enumerate(cases):
        assert result.tables[f"r{number}"].rows == len(rows), f"r{number}: {kinds}"
    installer.install(parse_database_url(postgres_url_for(target)), io.BytesIO(out.getvalue()),
                      InstallOptions(yes=True, manifest=result.tables, rewriter=rewriter))
    for number, (kinds, _, names) in enumerate(cases):
        table = f"r{number}"
        expected = _values(source, table, names)
        if rewriter:
            # Only the needle's column changes (and so the row's md5).
            new = _REPLACEMENT.decode()
            expected = [(*row[:-2], row[-2].replace(_NEEDLE.decode(), new)) for row in expected]
            assert [row[:-1] for row in _values(target, table, names)] == expected, f"{table}: {kinds}"
            continue
        assert _values(target, table, names) == expected, f"{table}: {kinds}"


_NEEDLE, _REPLACEMENT = b"https://prod.example", b"http://local.test:8080"
REWRITER = ValueRewriter(needles=(_NEEDLE,), rewrite=lambda value: value.replace(_NEEDLE, _REPLACEMENT))
#: 12 tables drawn per test, PER_EXAMPLE to an example (the first example is hypothesis's simplest draw).
_SETTINGS = settings(max_examples=12 // PER_EXAMPLE + 1, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


_BY_TYPE = {kind.sql: kind for kind in KINDS}
#: Values at every type's edges, checked every run whatever the draw.
EDGES = ([_BY_TYPE[name] for name in ("numeric", "real", "double precision", "interval", "timestamptz", "json",
                                      "integer[]", "text")],
         [("NaN", "-0", "-0", "-2147483648 mons -2147483648 days -9223372036854775807 microseconds",
           "4713-01-01 00:00:00+00 BC", '{"a" : 1, "a": 2e400 }', "[-5:-4][3:4]={{1,NULL},{3,4}}", "\\N\t\r\n"),
          ("-Infinity", "1.4e-45", "4.9e-324", "2147483647 mons 2147483647 days 9223372036854775807 microseconds",
           "294276-12-31 23:59:59.999999+00", "[]", "{}", "\u2028\uffff\U0010ffff\\."),
          # The smallest interval: PostgreSQL's other styles print it as text it cannot read back.
          (None, "NaN", "-Infinity", "-9223372036854775808 microseconds", "-infinity", None, "[0:0]={NULL}", ""),
          (None, None, None, "-2147483648 mons -2147483648 days -9223372036854775808 microseconds", None, None, None,
           None)])


@_SETTINGS
@given(drawn=st.lists(tables(), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
@example(drawn=[EDGES])
def test_random_rows_round_trip_exactly(databases: tuple[str, str],
                                        drawn: list[Table]) -> None:
    _round_trip(databases, drawn)


@_SETTINGS
@given(drawn=st.lists(tables(), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
@example(drawn=[EDGES])
def test_random_rows_round_trip_exactly_when_every_row_is_wide(
        databases: tuple[str, str], drawn: list[Table],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Every row is written in pieces, every value of more than one byte cut into pieces of four.
    monkeypatch.setattr(widerows, "may_have_wide_rows", lambda *_: True)
    monkeypatch.setattr(widerows, "WIDE_ROW", -1)
    monkeypatch.setattr(widerows, "CHUNK", 4)
    _round_trip(databases, drawn)


@_SETTINGS
@given(drawn=st.lists(tables(), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
@example(drawn=[EDGES])
def test_rows_a_rewriter_changes_keep_their_other_values(
        databases: tuple[str, str], drawn: list[Table]) -> None:
    """A COPY row holding a needle is taken apart, rewritten and put together again: its every other value,
    of any type, comes back exactly."""
    _round_trip(databases, drawn, REWRITER)
