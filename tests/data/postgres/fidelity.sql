-- Fidelity fixture for the PostgreSQL engine: every type, value and object kind a dump must carry over.
-- Loaded with synco's own loader into a fresh database; written for PostgreSQL 15.

CREATE SCHEMA "Sales";
CREATE SCHEMA archive;

-- Extensions: one in the default schema, one in a schema of its own (public.extended uses both types).
CREATE EXTENSION citext;
CREATE SCHEMA ext;
CREATE EXTENSION hstore WITH SCHEMA ext;

CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy', 'it''s "complicated"');
CREATE DOMAIN public.positive_int AS integer NOT NULL CONSTRAINT positive_int_check CHECK (VALUE > 0);
CREATE DOMAIN "Sales"."Email" AS text CONSTRAINT email_at CHECK (VALUE ~ '@');
CREATE TYPE public.address AS (street text, zip character varying(10));
CREATE TYPE public.floatrange AS RANGE (SUBTYPE = double precision);

CREATE SEQUENCE public.gapped_seq START WITH 100 INCREMENT BY 7;

CREATE TABLE public.scalars (
    id integer GENERATED ALWAYS AS IDENTITY (START WITH 10 INCREMENT BY 5) PRIMARY KEY,
    small smallint,
    normal integer,
    big bigint,
    num numeric,
    num_fixed numeric(12, 4),
    r real,
    d double precision,
    b boolean,
    t text,
    vc character varying(50),
    ch character(5),
    by bytea,
    dt date,
    tm time without time zone,
    ttz time with time zone,
    ts timestamp without time zone,
    tstz timestamp with time zone,
    iv interval,
    u uuid,
    j json,
    jb jsonb,
    ia integer[],
    ta text[],
    ma integer[][],
    m public.mood,
    pi public.positive_int,
    ip inet,
    net cidr,
    mac macaddr,
    tsv tsvector,
    pt point,
    ir int4range,
    tr tstzrange,
    fr public.floatrange,
    addr public.address,
    money_like numeric(10, 2) DEFAULT 0.00 NOT NULL,
    g_total numeric GENERATED ALWAYS AS (coalesce(num_fixed, 0) * 2) STORED
);

INSERT INTO public.scalars (small, normal, big, num, num_fixed, r, d, b, t, vc, ch, by, dt, tm, ttz, ts, tstz, iv, u,
                            j, jb, ia, ta, ma, m, pi, ip, net, mac, tsv, pt, ir, tr, fr, addr)
VALUES
    (-32768, -2147483648, -9223372036854775808, 'NaN', -99999999.9999, 'NaN', '-Infinity', false,
     E'tab\there\nnewline\\backslash \u00e9\u4e2d\U0001F600\U00010348\U00020000\U00030000\U000E0041\U000F0000\U0010FFFD end',
     'x', 'ab',
     '\x00', '-infinity', '00:00:00', '00:00:00+14', '-infinity', '-infinity', '-178000000 years', '00000000-0000-0000-0000-000000000000',
     '{"a": [1, 2.50, null], "b": "x\"y"}', '{"b": {"c": [true, false]}, "a": 1}', ARRAY[1, NULL, 3],
     ARRAY['quoted "x"', 'comma,sep', NULL, 'back\slash', '{braces}', 'NULL', ''],
     ARRAY[[1, 2], [3, 4]], 'sad', 1, '::1', '10.0.0.0/8', '08:00:2b:01:02:03', 'a fat:2 cat:1A',
     '(1.5,-2.25)', '[1,10)', '[2020-01-01 00:00:00+00,infinity)', '(,3.5]', ROW('Main St. 1', '12345')),
    (32767, 2147483647, 9223372036854775807, '123456789012345678901234567890.123456789', 99999999.9999,
     'Infinity', 'Infinity', true, '', repeat('y', 50), 'abcde', NULL, 'infinity', '23:59:59.999999',
     '23:59:59.999999-14', 'infinity', 'infinity', '178000000 years 11 mons 30 days 23:59:59.999999',
     'ffffffff-ffff-ffff-ffff-ffffffffffff', '[]', 'null', '{}', '{}', ARRAY[[NULL, 2], [3, NULL]], 'happy', 2147483647,
     '2001:db8::ff00:42:8329/64', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', '', '(0,0)', 'empty', 'empty', 'empty', NULL),
    (0, 0, 0, '-0.000000000000000000001', 0, '-Infinity', 3.141592653589793, NULL, NULL, NULL, NULL, '\x', '2000-02-29',
     '12:34:56', '12:34:56+05:30', '2000-02-29 12:34:56.789', '2000-02-29 12:34:56.789+05:30', '-1 day +02:03:04', NULL,
     'null', '"str"', ARRAY[]::integer[], ARRAY['é', '😀'], NULL, 'it''s "complicated"', 3, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, ROW(NULL, NULL)),
    (1, 2, 3, 4.5, 1.5, 1.17549435e-38, 2.2250738585072014e-308, true, E'\r\n\\N', 'NULL', '\N', NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 4, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL),
    -- double precision NaN, and a character from each of the planes 4 to 13 (unassigned, still valid UTF-8).
    (5, 6, 7, 'NaN', NULL, 0, 'NaN', false,
     E'planes 4-13: \U00040000\U00050000\U00060000\U00070000\U00080000\U00090000\U000A0000\U000B0000\U000C0000\U000D0000 \U0004FFFD',
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 5, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- Types from the extensions.
CREATE TABLE public.extended (id integer PRIMARY KEY, name public.citext NOT NULL UNIQUE, attrs ext.hstore);
INSERT INTO public.extended VALUES (1, 'MiXeD Case', 'a=>1, "b c"=>NULL'), (2, 'other', '');

-- Every byte value once, and a row per byte value too.
UPDATE public.scalars SET by = (SELECT string_agg(set_byte('\x00'::bytea, 0, i), ''::bytea ORDER BY i)
                                FROM generate_series(0, 255) i) WHERE small = -32768;

CREATE TABLE public.bytes (b smallint PRIMARY KEY, v bytea NOT NULL, c text);
INSERT INTO public.bytes SELECT i, set_byte('\x00'::bytea, 0, i), CASE WHEN i BETWEEN 1 AND 127 THEN chr(i) END
FROM generate_series(0, 255) i;

-- Identity and serial columns with gaps in their values.
CREATE TABLE public.serials (
    id serial PRIMARY KEY,
    big_id bigserial,
    by_default bigint GENERATED BY DEFAULT AS IDENTITY,
    from_seq integer DEFAULT nextval('public.gapped_seq') NOT NULL,
    note text
);
INSERT INTO public.serials (note) SELECT 'row ' || i FROM generate_series(1, 10) i;
DELETE FROM public.serials WHERE id IN (2, 5, 6, 10);
SELECT setval('public.serials_id_seq', 40);
INSERT INTO public.serials (by_default, note) VALUES (1000, 'explicit');

-- Mixed-case and reserved-word identifiers, in a second schema.
CREATE TABLE "Sales"."Order" (
    "Id" integer PRIMARY KEY,
    "select" text,
    "user" text,
    "Customer Email" "Sales"."Email",
    "group" integer,
    status public.mood DEFAULT 'ok',
    placed_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT "Order_select_check" CHECK ("select" <> 'forbidden')
);
CREATE TABLE "Sales".line (
    id integer PRIMARY KEY,
    "order" integer NOT NULL REFERENCES "Sales"."Order" ("Id") DEFERRABLE INITIALLY DEFERRED,
    qty integer CHECK (qty > 0),
    price numeric(10, 2)
);
-- Foreign keys in both directions: the order points at its first line, the lines at their order.
ALTER TABLE "Sales"."Order" ADD COLUMN first_line integer;
ALTER TABLE "Sales"."Order" ADD CONSTRAINT order_first_line_fk FOREIGN KEY (first_line) REFERENCES "Sales".line (id)
    DEFERRABLE INITIALLY IMMEDIATE;
INSERT INTO "Sales"."Order" ("Id", "select", "user", "Customer Email", "group", placed_at)
VALUES (1, 'all', 'alice', 'alice@example.com', 1, '2024-01-01 10:00+00'),
       (2, NULL, 'bob', 'bob@example.com', 2, '2024-02-01 10:00+00'),
       (3, 'x', 'carol', NULL, NULL, '2024-03-01 10:00+00');
INSERT INTO "Sales".line VALUES (10, 1, 2, 9.99), (11, 1, 1, 0.01), (12, 2, 5, 100.00), (13, 3, 1, NULL);
UPDATE "Sales"."Order" SET first_line = 10 WHERE "Id" = 1;
UPDATE "Sales"."Order" SET first_line = 12 WHERE "Id" = 2;

-- A partial index and an expression index.
CREATE INDEX order_user_lower ON "Sales"."Order" (lower("user"));
CREATE INDEX order_selected ON "Sales"."Order" ("group") WHERE "select" IS NOT NULL;
CREATE UNIQUE INDEX "Line_Order_Id" ON "Sales".line ("order", id);

-- A partitioned table with its partitions (list and range, one of them partitioned again).
CREATE TABLE archive.events (
    id bigint NOT NULL,
    kind text NOT NULL,
    happened date NOT NULL,
    payload jsonb,
    PRIMARY KEY (id, kind)
) PARTITION BY LIST (kind);
CREATE TABLE archive.events_click PARTITION OF archive.events FOR VALUES IN ('click');
CREATE TABLE archive.events_view PARTITION OF archive.events FOR VALUES IN ('view', 'scroll')
    PARTITION BY RANGE (id);
CREATE TABLE archive.events_view_low PARTITION OF archive.events_view FOR VALUES FROM (MINVALUE) TO (1000);
CREATE TABLE archive.events_view_high PARTITION OF archive.events_view FOR VALUES FROM (1000) TO (MAXVALUE);
CREATE TABLE archive.events_other PARTITION OF archive.events DEFAULT;
CREATE INDEX events_happened ON archive.events (happened);
INSERT INTO archive.events SELECT i, (ARRAY['click', 'view', 'scroll', 'other'])[1 + i % 4], DATE '2024-01-01' + i,
    jsonb_build_object('i', i) FROM generate_series(1, 2000) i;

-- An exclusion constraint.
CREATE TABLE archive.bookings (room integer, during tsrange, EXCLUDE USING gist (during WITH &&));
INSERT INTO archive.bookings VALUES (1, '[2024-01-01 10:00, 2024-01-01 11:00)'), (1, '[2024-01-01 11:00, 2024-01-01 12:00)');

-- A plpgsql function with its trigger, and a SQL function used by a view.
CREATE FUNCTION "Sales".touch_order() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    -- A comment with a ; and a 'quote' inside the body.
    NEW.placed_at := now();
    RETURN NEW;
END;
$body$;
CREATE TRIGGER "Order touch" BEFORE UPDATE OF "user" ON "Sales"."Order" FOR EACH ROW EXECUTE FUNCTION "Sales".touch_order();
CREATE FUNCTION public.line_total(qty integer, price numeric) RETURNS numeric LANGUAGE sql IMMUTABLE
    AS $$ SELECT qty * coalesce(price, 0) $$;
CREATE PROCEDURE public.noop(IN x integer) LANGUAGE plpgsql AS $$ BEGIN PERFORM x; END $$;

-- Views in dependency order (the second reads the first), and a materialized view with an index.
CREATE VIEW "Sales".order_totals AS
    SELECT o."Id" AS order_id, sum(public.line_total(l.qty, l.price)) AS total
    FROM "Sales"."Order" o JOIN "Sales".line l ON l."order" = o."Id" GROUP BY o."Id";
CREATE VIEW public.big_orders AS SELECT * FROM "Sales".order_totals WHERE total > 10;
CREATE MATERIALIZED VIEW archive.event_counts AS SELECT kind, count(*) AS n FROM archive.events GROUP BY kind;
CREATE UNIQUE INDEX event_counts_kind ON archive.event_counts (kind);

-- Comments on many kinds of objects.
COMMENT ON SCHEMA "Sales" IS 'Sales data; it''s mixed case';
COMMENT ON TABLE public.scalars IS 'One column per type';
COMMENT ON COLUMN public.scalars.t IS E'Text with\na newline';
COMMENT ON COLUMN "Sales"."Order"."select" IS 'a reserved word';
COMMENT ON TYPE public.mood IS 'feelings';
COMMENT ON DOMAIN public.positive_int IS 'greater than zero';
COMMENT ON FUNCTION public.line_total(integer, numeric) IS 'quantity times price';
COMMENT ON VIEW "Sales".order_totals IS 'per order';
COMMENT ON MATERIALIZED VIEW archive.event_counts IS 'per kind';
COMMENT ON INDEX "Sales".order_user_lower IS 'case-insensitive lookup';
COMMENT ON CONSTRAINT "Order_select_check" ON "Sales"."Order" IS 'no forbidden selects';
COMMENT ON TRIGGER "Order touch" ON "Sales"."Order" IS 'keeps placed_at fresh';
COMMENT ON SEQUENCE public.gapped_seq IS 'steps of seven';

-- Row security with a policy, and a materialized view that was never populated.
ALTER TABLE "Sales".line ENABLE ROW LEVEL SECURITY;
CREATE POLICY "line owner" ON "Sales".line FOR SELECT TO PUBLIC USING (qty > 0);
CREATE POLICY line_insert ON "Sales".line AS RESTRICTIVE FOR INSERT TO postgres WITH CHECK (price >= 0);
CREATE MATERIALIZED VIEW archive.not_yet AS SELECT 1 AS one WITH NO DATA;

-- Plain inheritance: rows in the parent and in the child are separate tables' rows.
CREATE TABLE archive.base (id integer NOT NULL, note text, CONSTRAINT base_id_positive CHECK (id > 0));
CREATE TABLE archive.derived (extra integer, note text DEFAULT 'merged') INHERITS (archive.base);
ALTER TABLE ONLY archive.derived ALTER COLUMN note SET NOT NULL;
INSERT INTO archive.base VALUES (1, 'parent row');
INSERT INTO archive.derived (id, note, extra) VALUES (2, 'child row', 20);

-- Dependency order: objects the dump must not create by kind alone (types, tables, functions, views).
-- A generated column, a domain CHECK and a domain DEFAULT (written unqualified) that call functions of the
-- database.
CREATE FUNCTION public.twice(x integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT x * 2 $$;
CREATE FUNCTION public.is_even(x integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT x % 2 = 0 $$;
CREATE DOMAIN public.even_int AS integer DEFAULT twice(1) CONSTRAINT even_int_check CHECK (public.is_even(VALUE));
-- A function whose signature uses that domain: it comes after the domain and before the domain's CHECK.
CREATE FUNCTION public.half(x public.even_int) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT x / 2 $$;
-- Columns of another table's row type (and an array of it), that table's name sorting later.
CREATE TABLE public.z_point (x integer, y integer);
CREATE TABLE public.a_path (
    id integer PRIMARY KEY,
    start public.z_point,
    steps public.z_point[],
    n integer,
    doubled integer GENERATED ALWAYS AS (public.twice(n)) STORED,
    even public.even_int
);
INSERT INTO public.z_point VALUES (1, 2);
INSERT INTO public.a_path (id, start, steps, n, even)
VALUES (1, ROW(1, 2), ARRAY[ROW(3, 4)::public.z_point, NULL], 21, 4), (2, NULL, NULL, NULL, NULL);
-- A function taking a table's row type.
CREATE FUNCTION public.path_steps(p public.a_path) RETURNS integer LANGUAGE sql STABLE
    AS $$ SELECT cardinality(p.steps) $$;
-- SQL-standard bodies are bound to what they read when created: one reads a table and is read by a view,
-- one reads a view and is read by another view.
CREATE FUNCTION public.scalar_count() RETURNS bigint LANGUAGE sql STABLE
    BEGIN ATOMIC SELECT count(*) FROM public.scalars; END;
CREATE VIEW public.counts AS SELECT public.scalar_count() AS scalars;
CREATE FUNCTION public.big_order_count() RETURNS bigint LANGUAGE sql STABLE
    BEGIN ATOMIC SELECT count(*) FROM public.big_orders; END;
CREATE VIEW public.more_counts AS SELECT public.big_order_count() AS big_orders;

-- Column settings and replica identities (one ALTER each in the dump, after the table or its index).
ALTER TABLE public.bytes ALTER COLUMN c SET STATISTICS 500;
ALTER TABLE public.bytes ALTER COLUMN c SET STORAGE EXTERNAL;
ALTER TABLE public.bytes ALTER COLUMN c SET COMPRESSION pglz;
ALTER TABLE public.bytes REPLICA IDENTITY FULL;
ALTER TABLE archive.events ALTER COLUMN payload SET STORAGE MAIN;
ALTER TABLE archive.bookings REPLICA IDENTITY NOTHING;
ALTER TABLE "Sales".line REPLICA IDENTITY USING INDEX "Line_Order_Id";
