"""Shapes of public PostgreSQL databases no one here wrote (GitLab's and Discourse's schemas, AdventureWorks,
the airlines demo, MusicBrainz, osm2pgsql), each put through synco's dump and load: ``pg_dump --schema-only``
must not tell the copy from the source, and every table's rows must hash alike."""

from __future__ import annotations

import io
from collections.abc import Callable

import psycopg
import pytest
from test_postgres_support import fingerprints, schema_dump, sequences

from synco_core.dburl import parse_database_url
from synco_core.engines.postgresql import installer, widerows
from synco_core.engines.postgresql.dumper import PostgresDumper
from synco_core.testing.services import postgres_url_for
from synco_core.values import DumpOptions, InstallOptions, SanitizeRule

pytestmark = pytest.mark.postgres


def round_trip(source_sql: str, postgres_database_factory: Callable[[], str]) -> tuple[str, str, bytes]:
    """(source, target, dump): ``source_sql`` run in a new database, dumped and installed into another."""
    source, target = postgres_database_factory(), postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute(source_sql)
    out = io.BytesIO()
    result = PostgresDumper(parse_database_url(postgres_url_for(source)), DumpOptions(owners=True)).dump(out)
    installer.install(parse_database_url(postgres_url_for(target)), io.BytesIO(out.getvalue()),
                      InstallOptions(yes=True, manifest=result.tables))
    return source, target, out.getvalue()


def assert_same(source: str, target: str) -> None:
    assert schema_dump(target) == schema_dump(source)
    assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))
    assert sequences(postgres_url_for(target)) == sequences(postgres_url_for(source))


def test_the_storage_parameters_of_a_keys_index_are_kept(postgres_database_factory: Callable[[], str]) -> None:
    """A primary key or unique constraint made ``WITH (fillfactor = ...)`` (GitLab's and Discourse's hot
    tables) keeps its index's parameters, on a plain table, a partition and beside INCLUDE or NULLS NOT
    DISTINCT, as an exclusion constraint does: the server prints them for neither key kind."""
    source, target, _ = round_trip("""
        CREATE EXTENSION btree_gist;
        CREATE TABLE keyed (a integer, b text, c integer,
            CONSTRAINT keyed_pk PRIMARY KEY (a) INCLUDE (b) WITH (fillfactor = 50),
            CONSTRAINT keyed_c UNIQUE NULLS NOT DISTINCT (c) WITH (fillfactor = 70, deduplicate_items = off),
            CONSTRAINT keyed_b UNIQUE (b, c) WITH (deduplicate_items = off) DEFERRABLE INITIALLY DEFERRED,
            CONSTRAINT keyed_x EXCLUDE USING gist (c WITH =) WITH (buffering = on, fillfactor = 80) DEFERRABLE);
        CREATE TABLE parted (id integer, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE parted_2024 (id integer, at date, CONSTRAINT parted_2024_own PRIMARY KEY (id, at)
                                  WITH (fillfactor = 60));
        ALTER TABLE parted ATTACH PARTITION parted_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE TABLE parted_rest PARTITION OF parted DEFAULT;
        ALTER INDEX parted_rest_pkey SET (fillfactor = 30);
        INSERT INTO keyed VALUES (1, 'x', 1), (2, 'y', NULL);
        INSERT INTO parted VALUES (1, '2024-05-01'), (2, '2030-01-01');""", postgres_database_factory)
    assert_same(source, target)
    options = "SELECT relname, reloptions FROM pg_class WHERE relkind IN ('i', 'I') AND reloptions IS NOT NULL " \
              "ORDER BY 1"
    with psycopg.connect(postgres_url_for(target)) as conn:
        assert [name for name, _ in conn.execute(options)] == [
            "keyed_b", "keyed_c", "keyed_pk", "keyed_x", "parted_2024_own", "parted_rest_pkey"]


def dump_and_install(source: str, target: str, options: DumpOptions) -> None:
    out = io.BytesIO()
    result = PostgresDumper(parse_database_url(postgres_url_for(source)), options).dump(out)
    installer.install(parse_database_url(postgres_url_for(target)), io.BytesIO(out.getvalue()),
                      InstallOptions(yes=True, manifest=result.tables))


@pytest.mark.parametrize("shaped", [False, True], ids=["whole", "filtered_and_sanitised"])
def test_xml_values_keep_their_declaration(postgres_database_factory: Callable[[], str], shaped: bool,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """An XML value stored with its ``<?xml ...?>`` declaration (AdventureWorks' documents) is stored with it
    in the copy: in an ``xml`` column, one of a domain over a domain over ``xml``, arrays of them (with
    bounds, of two dimensions, of a domain over ``xml[]``), a partition, a table read through a filter or
    beside a sanitised column, a row too wide for one COPY message. The type's output function drops the
    declaration, so the rows' text (and pg_dump's data) looked alike while ``doc::text`` told them apart."""
    source, target = postgres_database_factory(), postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute("""
            CREATE DOMAIN doc AS xml; CREATE DOMAIN checked_doc AS doc CHECK (VALUE IS DOCUMENT);
            CREATE DOMAIN xml_list AS xml[];
            CREATE TABLE docs (id integer PRIMARY KEY, plain xml, deep checked_doc, email text, arr doc[],
                               listed xml_list);
            CREATE TABLE parted (id integer, body xml) PARTITION BY LIST (id);
            CREATE TABLE parted_1 PARTITION OF parted FOR VALUES IN (1, 2, 3, 4);
            INSERT INTO docs VALUES
                (1, '<?xml version="1.0" encoding="UTF-8"?><r a="1"/>', '<?xml version="1.0"?>
<s>ü</s>', 'a@example.org'),
                (2, '<?xml version="1.0" encoding="ISO-8859-1"?><r/>', '<?xml version="1.0" standalone="yes"?><s/>',
                 'b@example.org'),
                (3, 'no declaration <b>mixed</b>', NULL, NULL), (4, NULL, '<s/>', NULL);
            UPDATE docs SET arr = ARRAY[plain, deep]::doc[], listed = ARRAY[[plain], [deep]] WHERE id = 1;
            UPDATE docs SET arr = ('[0:1]={"<?xml version=\\"1.0\\"?><a/>",NULL}')::doc[] WHERE id = 2;
            INSERT INTO docs SELECT 5, ('<?xml version="1.0" encoding="UTF-8"?><big>'
                || string_agg(md5(i::text), '') || '</big>')::xml, NULL, NULL, NULL, NULL
                FROM generate_series(1, 800) i;
            INSERT INTO parted SELECT id, plain FROM docs WHERE id < 5;""")
    rule = SanitizeRule("docs", "email", transform="email")
    options = DumpOptions(where={"docs": "id <> 4"}, sanitize=(rule,)) if shaped else DumpOptions()
    wide: list[object] = []
    original = widerows.write_wide_row

    def spy(*args: object, **kwargs: object) -> None:
        wide.append(args[5])
        original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(widerows, "write_wide_row", spy)
    monkeypatch.setattr(widerows, "WIDE_ROW", 4000)
    monkeypatch.setattr(widerows, "CHUNK", 1000)
    dump_and_install(source, target, options)
    assert len(wide) == 1
    stored = "SELECT 'docs', id, plain::text, deep::text, arr::text[]::text, listed::text[]::text FROM docs " \
             "UNION ALL SELECT 'parted', id, body::text, NULL, NULL, NULL FROM parted ORDER BY 1, 2"
    with psycopg.connect(postgres_url_for(source)) as conn:
        expected = [row for row in conn.execute(stored) if not shaped or row[:2] != ("docs", 4)]
    with psycopg.connect(postgres_url_for(target)) as conn:
        assert conn.execute(stored).fetchall() == expected
    assert expected[0][2].startswith('<?xml version="1.0" encoding="UTF-8"?>') and '?xml' in expected[1][4]


@pytest.mark.parametrize("owners", [False, True], ids=["by_the_loader", "as_their_owners"])
def test_materialized_views_are_filled_under_the_sources_time_zone_and_styles(
        postgres_database_factory: Callable[[], str], owners: bool) -> None:
    """A materialized view whose rows depend on the session (``at::date``, ``at::text``, ``to_char``, an
    interval's text, ``to_tsvector`` of one argument), in a database whose defaults are not the load's (the
    airlines demo's runs in ``Europe/Moscow``), holds the source's rows in the copy: they were computed again
    under the script's UTC and ISO dates (and the loading database's text search configuration: one the
    load replaces keeps its own settings), created with data or refreshed as their owners alike."""
    source, target = postgres_database_factory(), postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        for setting, value in (("TimeZone", "Asia/Yakutsk"), ("DateStyle", "German, DMY"),
                               ("IntervalStyle", "sql_standard"), ("default_text_search_config", "pg_catalog.simple")):
            conn.execute(f'ALTER DATABASE "{source}" SET {setting} = \'{value}\'')
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute("""
            CREATE TABLE flights (id integer PRIMARY KEY, departs timestamptz, takes interval);
            INSERT INTO flights SELECT i, '2024-01-01 22:30:00+00'::timestamptz + i * interval '1 hour',
                                       i * interval '1 day 1 minute' FROM generate_series(1, 5) i;
            CREATE MATERIALIZED VIEW departures AS
                SELECT id, departs::date AS day, departs::text AS shown, to_char(departs, 'YYYY-MM-DD HH24') AS hour,
                       takes::text AS took, to_tsvector('Running ' || id) AS words
                FROM flights;
            CREATE MATERIALIZED VIEW later AS SELECT day, count(*) FROM departures GROUP BY day;""")
    out = io.BytesIO()
    result = PostgresDumper(parse_database_url(postgres_url_for(source)), DumpOptions(owners=owners)).dump(out)
    installer.install(parse_database_url(postgres_url_for(target)), io.BytesIO(out.getvalue()),
                      InstallOptions(yes=True, manifest=result.tables))
    assert schema_dump(target) == schema_dump(source)

    def stored(name: str) -> list[tuple[object, ...]]:
        with psycopg.connect(postgres_url_for(name)) as conn:
            conn.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres'")
            return conn.execute("SELECT d::text, l::text FROM departures d FULL JOIN later l ON l.day = d.day "
                                "ORDER BY 1").fetchall()

    assert stored(target) == stored(source)
    assert str(stored(target)[0][0]).startswith('(1,2024-01-02,"02.01.2024 08:30:00 +09","2024-01-02 08",')
    assert "'running':1" in str(stored(target)[0][0])
