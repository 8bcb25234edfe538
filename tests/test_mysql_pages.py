"""How the MySQL dumper reads a table's rows, whatever its key: pages by integer ranges, or streamed straight
from the socket, and user conditions and expressions sent to the server as written (real MariaDB on
127.0.0.1)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from test_mysql_support import dump_bytes, install_bytes, load_with_client, query, snapshot

from synco_core.values import DumpOptions, SanitizeRule

pytestmark = pytest.mark.mysql

#: Every shape of table the dumper reads differently: an integer key (ranges), a composite key starting
#: with an integer (ranges of it), a string key, a date-first composite key, a unique index instead of a
#: primary key and no key (streamed), wide rows with binary values (streamed, escaped in Python).
SHAPES = {
    "int_key": "id INT NOT NULL PRIMARY KEY, note VARCHAR(40), n INT",
    "int_date_key": "id INT NOT NULL, day DATE NOT NULL, note VARCHAR(40), n INT, PRIMARY KEY (id, day)",
    "string_key": "id INT NOT NULL, code VARCHAR(20) COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, "
                  "note VARCHAR(40), n INT",
    "date_first_key": "id INT NOT NULL, day DATE NOT NULL, note VARCHAR(40), n INT, PRIMARY KEY (day, id)",
    "unique_not_null": "id INT NOT NULL, code VARBINARY(20) NOT NULL, note VARCHAR(40), n INT, UNIQUE KEY (code)",
    "no_key": "id INT, note VARCHAR(40), n INT",
    "wide": "id INT NOT NULL PRIMARY KEY, note VARCHAR(40), n INT, blob_value BLOB",
}
#: Text a condition or expression may hold that a driver's parameter formatting would take for its own.
AWKWARD = ["50%", "%s", "%(x)s", "{}", "{0}", "$1", "?", "it's", 'say "hi"', "back\\slash", "%%", "plain"]


def fill(database: str, shape: str) -> None:
    """3000 rows, each ``note`` one of :data:`AWKWARD`; codes with trailing spaces for string keys."""
    notes = ", ".join("'" + note.replace("\\", "\\\\").replace("'", "''") + "'" for note in AWKWARD)
    columns, values = ["id"], ["seq"]
    if "day" in SHAPES[shape]:
        columns.append("day")
        values.append("'2024-01-01' + INTERVAL seq % 7 DAY")
    if "code" in SHAPES[shape]:
        columns.append("code")
        values.append("CONCAT('c', seq, IF(seq % 3 = 0, ' ', ''))")
    columns += ["note", "n"]
    values += [f"ELT(1 + seq % {len(AWKWARD)}, {notes})", "seq * 10"]
    load_with_client(database, f"CREATE TABLE t ({SHAPES[shape]}); INSERT INTO t ({', '.join(columns)}) "
                               f"SELECT {', '.join(values)} FROM seq_1_to_3000;".encode())
    if shape == "wide":
        query(database, "UPDATE t SET blob_value = REPEAT(UNHEX('00275C0D'), 400)")


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_filters_and_expressions_reach_the_server_verbatim(shape: str,
                                                           mysql_database_factory: Callable[[], str]) -> None:
    """A ``where:`` filter and a sanitising expression holding ``%``, ``%s``, ``{}``, ``$1``, ``?``, quotes and
    backslashes: the rows and values are those the same SQL gives on the source (before: "not enough
    arguments for format string" on tables paged by an integer key)."""
    source = mysql_database_factory()
    fill(source, shape)
    condition = ("note LIKE '%\\%%' OR note IN ('%s', '{}', '$1', '?', 'it''s', 'back\\\\slash', '%(x)s') "
                 "OR note LIKE '%\"%' OR n = 90")
    expression = "CONCAT('%s {} $1 ? ''q'' \\\\ ', note)"
    options = DumpOptions(where={"t": condition}, sanitize=(SanitizeRule("t", "note", expression),))
    data, result = dump_bytes(source, options)
    expected = query(source, f"SELECT id, {expression} FROM t WHERE {condition} ORDER BY id")
    assert 0 < len(expected) < 3000
    assert result.tables["t"].rows == len(expected)
    target = mysql_database_factory()
    install_bytes(target, data, manifest=result.tables)
    assert query(target, "SELECT id, note FROM t ORDER BY id") == expected


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_keep_newest_with_awkward_column_names_and_filters(shape: str,
                                                          mysql_database_factory: Callable[[], str]) -> None:
    source = mysql_database_factory()
    fill(source, shape)
    condition = "note <> '%s' AND note NOT LIKE '%\\%%'"
    options = DumpOptions(where={"t": condition}, keep_newest={"t": ("n", 25)})
    data, result = dump_bytes(source, options)
    expected = query(source, f"SELECT id FROM t WHERE {condition} ORDER BY n DESC LIMIT 25")
    target = mysql_database_factory()
    install_bytes(target, data, manifest=result.tables)
    assert sorted(query(target, "SELECT id FROM t")) == sorted(expected)


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("statement_bytes", [2000, 50_000])
def test_pages_neither_skip_nor_repeat_rows(shape: str, statement_bytes: int, monkeypatch: pytest.MonkeyPatch,
                                           mysql_database_factory: Callable[[], str]) -> None:
    """With small statements a table is read in hundreds of pages: the copy is identical, by checksum."""
    from synco_core.engines.mysql import dump

    monkeypatch.setattr(dump, "STATEMENT_BYTES", statement_bytes)
    monkeypatch.setattr(dump, "MIN_STATEMENT_BYTES", 100)
    source = mysql_database_factory()
    fill(source, shape)
    data, result = dump_bytes(source)
    assert result.tables["t"].rows == 3000
    assert data.count(b"INSERT INTO") > 3000 * 30 // statement_bytes // 4
    target = mysql_database_factory()
    install_bytes(target, data, manifest=result.tables)
    assert snapshot(target) == snapshot(source)


@pytest.mark.parametrize("statement_bytes", [300, 1_000_000])
def test_composite_keys_with_big_groups_strings_and_ties(statement_bytes: int, monkeypatch: pytest.MonkeyPatch,
                                                        mysql_database_factory: Callable[[], str]) -> None:
    """One value of a key's integer first column holds more rows than a page (read by ranges of the next
    integer column within it); string keys that differ only in case, accents or trailing spaces under
    their collations; a descending key part; history rows sharing their key; large values."""
    from synco_core.engines.mysql import dump

    monkeypatch.setattr(dump, "STATEMENT_BYTES", statement_bytes)
    monkeypatch.setattr(dump, "MIN_STATEMENT_BYTES", 100)
    source = mysql_database_factory()
    load_with_client(source, """
CREATE TABLE tenant (tenant INT NOT NULL, id INT NOT NULL, v VARCHAR(30), PRIMARY KEY (tenant, id));
INSERT INTO tenant SELECT IF(seq < 900, 1, seq), seq, REPEAT('x', seq % 30) FROM seq_1_to_1000;
CREATE TABLE names (a VARCHAR(10) COLLATE utf8mb4_bin NOT NULL, b VARCHAR(10) COLLATE latin1_general_ci NOT NULL,
                    c CHAR(3) COLLATE utf8mb4_unicode_ci NOT NULL, d DATETIME(6) NOT NULL,
                    PRIMARY KEY (a, b, c, d DESC));
INSERT INTO names VALUES ('A', 'x', 'é', '2024-01-01'), ('a', 'x', 'é', '2024-01-01'), ('a ', 'X ', 'g ', '2024-01-01'),
  ('a', 'y', 'f', '2024-01-01 00:00:00.000001'), ('b', 'x', 'e', '2024-01-01'), ('b', 'x', 'e', '2023-12-31'),
  ('\\\\', '''', '%', '2024-01-01'), ('', '', '', '0000-00-00 00:00:00');
CREATE TABLE versions (code VARCHAR(5) NOT NULL PRIMARY KEY, v LONGTEXT) WITH SYSTEM VERSIONING;
INSERT INTO versions VALUES ('k1', REPEAT('a', 200)), ('k2', 'b');
UPDATE versions SET v = CONCAT(v, '!'); UPDATE versions SET v = CONCAT(v, '?') WHERE code = 'k1';
""".encode())
    data, result = dump_bytes(source)
    assert result.tables["tenant"].rows == 1000 and result.tables["names"].rows == 8
    assert result.tables["versions"].rows == 5
    target = mysql_database_factory()
    install_bytes(target, data, manifest=result.tables)
    assert snapshot(target) == snapshot(source)
