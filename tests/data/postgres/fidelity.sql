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
-- Column settings of materialized views (pg_dump writes them as for a table's columns).
ALTER MATERIALIZED VIEW archive.event_counts ALTER COLUMN n SET STATISTICS 50;
ALTER MATERIALIZED VIEW archive.event_counts ALTER COLUMN kind SET STORAGE MAIN;
ALTER MATERIALIZED VIEW archive.event_counts ALTER COLUMN kind SET COMPRESSION lz4;
ALTER MATERIALIZED VIEW archive.event_counts ALTER COLUMN kind SET (n_distinct = 4);
ALTER MATERIALIZED VIEW archive.not_yet ALTER COLUMN one SET STATISTICS 0;

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

-- Every other object kind pg_dump carries: each must come back exactly (pg_dump --schema-only cannot tell the
-- copy from the source), and a view or function body that uses one must load after it.

-- Aggregates: plain (with initcond, sort operator), moving, with combine/serial/deserial, ordered-set and
-- hypothetical-set; a view and a SQL-standard function body use them.
CREATE FUNCTION public._group_concat(text, text) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN $2 IS NULL THEN $1 WHEN $1 IS NULL THEN $2 ELSE $1 || ', ' || $2 END $$;
CREATE AGGREGATE public.group_concat(text) (SFUNC = public._group_concat, STYPE = text);
CREATE AGGREGATE public.max_int(integer) (SFUNC = int4larger, STYPE = integer, COMBINEFUNC = int4larger,
    SORTOP = >, PARALLEL = SAFE);
CREATE AGGREGATE public.moving_sum(integer) (SFUNC = int4_sum, STYPE = bigint, COMBINEFUNC = int8pl,
    MSFUNC = int4_avg_accum, MINVFUNC = int4_avg_accum_inv, MSTYPE = bigint[], MFINALFUNC = int2int4_sum,
    MINITCOND = '{0,0}', INITCOND = '0');
CREATE AGGREGATE public.big_sum(bigint) (SFUNC = int8_avg_accum, STYPE = internal, SSPACE = 48,
    FINALFUNC = numeric_poly_sum, COMBINEFUNC = int8_avg_combine, SERIALFUNC = int8_avg_serialize,
    DESERIALFUNC = int8_avg_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE public.pct_disc(double precision ORDER BY anyelement) (SFUNC = ordered_set_transition,
    STYPE = internal, FINALFUNC = percentile_disc_final, FINALFUNC_EXTRA, FINALFUNC_MODIFY = SHAREABLE);
CREATE AGGREGATE public.my_rank(VARIADIC "any" ORDER BY VARIADIC "any") (SFUNC = ordered_set_transition_multi,
    STYPE = internal, FINALFUNC = rank_final, FINALFUNC_EXTRA, HYPOTHETICAL);
CREATE AGGREGATE "Sales"."Mood Count"(public.mood) (SFUNC = int8inc_any, STYPE = bigint, INITCOND = '0');
COMMENT ON AGGREGATE public.group_concat(text) IS 'joins texts';
COMMENT ON AGGREGATE public.pct_disc(double precision ORDER BY anyelement) IS 'ordered-set';
CREATE VIEW public.aggregated AS
    SELECT public.group_concat(t ORDER BY t) AS texts, public.max_int(normal) AS biggest,
           public.moving_sum(normal) AS total, public.big_sum(big) AS big_total,
           public.pct_disc(0.5) WITHIN GROUP (ORDER BY normal) AS median,
           public.my_rank(3) WITHIN GROUP (ORDER BY normal) AS rank_of_3,
           "Sales"."Mood Count"(m) AS moods
    FROM public.scalars;
CREATE FUNCTION public.text_list() RETURNS text LANGUAGE sql STABLE
    BEGIN ATOMIC SELECT public.group_concat(vc) FROM public.scalars; END;
-- A window function of one's own (not an aggregate).
CREATE FUNCTION public.numbered() RETURNS bigint LANGUAGE internal WINDOW IMMUTABLE AS 'window_row_number';

-- Rules: INSTEAD and ALSO, on a table and on a view, one conditional, one disabled.
CREATE TABLE public.audit_log (id serial PRIMARY KEY, what text NOT NULL, at integer);
CREATE TABLE public.payments (id integer PRIMARY KEY, amount numeric NOT NULL, paid date NOT NULL);
CREATE TABLE public.payments_2024 (CHECK (paid >= '2024-01-01' AND paid < '2025-01-01'), PRIMARY KEY (id))
    INHERITS (public.payments);
CREATE RULE payments_2024_insert AS ON INSERT TO public.payments
    WHERE (new.paid >= '2024-01-01' AND new.paid < '2025-01-01')
    DO INSTEAD INSERT INTO public.payments_2024 VALUES (new.id, new.amount, new.paid);
CREATE RULE payments_log AS ON UPDATE TO public.payments DO ALSO INSERT INTO public.audit_log (what, at)
    VALUES ('payment ' || new.id, new.id);
CREATE RULE "no delete; ever" AS ON DELETE TO public.payments DO INSTEAD NOTHING;
ALTER TABLE public.payments DISABLE RULE "no delete; ever";
CREATE VIEW public.payments_view AS SELECT id, amount FROM public.payments;
CREATE RULE payments_view_insert AS ON INSERT TO public.payments_view
    DO INSTEAD INSERT INTO public.payments VALUES (new.id, new.amount, DATE '2024-06-01');
CREATE RULE payments_view_log AS ON INSERT TO public.payments_view DO ALSO
    INSERT INTO public.audit_log (what) VALUES ('view insert');
COMMENT ON RULE payments_log ON public.payments IS 'every update is logged';
INSERT INTO public.payments VALUES (1, 10, '2023-05-01'), (2, 20, '2024-05-01');
INSERT INTO public.payments_view VALUES (3, 30);

-- NOT VALID constraints over rows that break them: a domain CHECK, a table CHECK and a foreign key.
CREATE DOMAIN public.short_text AS text;
CREATE TABLE public.loose (id integer PRIMARY KEY, label public.short_text, qty integer, payment integer);
INSERT INTO public.loose VALUES (1, 'a rather long label', -1, 99), (2, 'ok', 1, 1);
ALTER DOMAIN public.short_text ADD CONSTRAINT short_text_length CHECK (length(VALUE) < 10) NOT VALID;
ALTER TABLE public.loose ADD CONSTRAINT loose_qty_positive CHECK (qty > 0) NOT VALID;
ALTER TABLE public.loose ADD CONSTRAINT loose_payment_fk FOREIGN KEY (payment) REFERENCES public.payments (id) NOT VALID;
COMMENT ON CONSTRAINT short_text_length ON DOMAIN public.short_text IS 'not checked for old rows';

-- The public schema's comment.
COMMENT ON SCHEMA public IS 'the application''s schema';

-- Operators, operator classes and families, and an index and an exclusion constraint using them.
CREATE FUNCTION public.int_rev_cmp(integer, integer) RETURNS integer LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT btint4cmp($2, $1) $$;
CREATE OPERATOR public.=== (LEFTARG = integer, RIGHTARG = integer, FUNCTION = int4eq, COMMUTATOR = OPERATOR(public.===),
    NEGATOR = OPERATOR(public.!==), RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR public.!== (LEFTARG = integer, RIGHTARG = integer, FUNCTION = int4ne, COMMUTATOR = OPERATOR(public.!==),
    NEGATOR = OPERATOR(public.===), RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR public.<<< (LEFTARG = integer, RIGHTARG = integer, FUNCTION = int4gt);
CREATE OPERATOR public.<<= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = int4ge);
CREATE OPERATOR public.>>> (LEFTARG = integer, RIGHTARG = integer, FUNCTION = int4lt);
CREATE OPERATOR public.>>= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = int4le);
CREATE OPERATOR public.~~~ (RIGHTARG = text, FUNCTION = upper);
CREATE FUNCTION "Sales".same_mood(public.mood, public.mood) RETURNS boolean LANGUAGE sql IMMUTABLE
    AS $$ SELECT $1 = $2 $$;
CREATE OPERATOR "Sales".@@ (LEFTARG = public.mood, RIGHTARG = public.mood, FUNCTION = "Sales".same_mood);
CREATE OPERATOR CLASS public.int_rev_ops FOR TYPE integer USING btree AS
    OPERATOR 1 public.<<<, OPERATOR 2 public.<<=, OPERATOR 3 public.===, OPERATOR 4 public.>>=,
    OPERATOR 5 public.>>>, FUNCTION 1 public.int_rev_cmp(integer, integer);
CREATE OPERATOR FAMILY public.int_eq_fam USING hash;
CREATE OPERATOR CLASS public.int_eq_ops FOR TYPE integer USING hash FAMILY public.int_eq_fam AS
    OPERATOR 1 public.===, FUNCTION 1 hashint4(integer);
ALTER OPERATOR FAMILY public.int_eq_fam USING hash ADD FUNCTION 2 (integer, integer) hashint4extended(integer, bigint);
CREATE OPERATOR FAMILY public.empty_fam USING gist;
CREATE OPERATOR CLASS public.int_default_ops DEFAULT FOR TYPE public.positive_int USING hash AS
    OPERATOR 1 =(integer, integer), FUNCTION 1 hashint4(integer);
CREATE INDEX scalars_normal_rev ON public.scalars (normal public.int_rev_ops);
CREATE TABLE public.slots (n integer, EXCLUDE USING hash (n public.int_eq_ops WITH OPERATOR(public.===)));
INSERT INTO public.slots VALUES (1), (2);
COMMENT ON OPERATOR public.===(integer, integer) IS 'equal, again';
COMMENT ON OPERATOR CLASS public.int_rev_ops USING btree IS 'descending';
COMMENT ON OPERATOR FAMILY public.int_eq_fam USING hash IS 'equality';
CREATE VIEW public.rev_equal AS SELECT normal === 0 AS zero, ~~~ t AS shout FROM public.scalars;

-- Casts: with a function, binary-coercible, I/O; implicit and assignment.
CREATE FUNCTION public.mood_score(public.mood) RETURNS integer LANGUAGE sql IMMUTABLE
    AS $$ SELECT array_position(enum_range(NULL::public.mood), $1) $$;
CREATE CAST (public.mood AS integer) WITH FUNCTION public.mood_score(public.mood) AS ASSIGNMENT;
CREATE CAST (public.address AS text) WITH INOUT;
COMMENT ON CAST (public.mood AS integer) IS 'position in the enum';

-- Collations (libc, ICU, nondeterministic) used by a column, a domain and an index.
CREATE COLLATION public.c_copy FROM "C";
CREATE COLLATION public.posix_like (LC_COLLATE = 'C', LC_CTYPE = 'C');
CREATE COLLATION "Sales"."Case Blind" (PROVIDER = icu, LOCALE = 'und-u-ks-level2', DETERMINISTIC = false);
CREATE COLLATION public.german_phone (PROVIDER = icu, LOCALE = 'de-u-co-phonebk');
CREATE DOMAIN public.code AS text COLLATE public.c_copy;
CREATE TABLE public.named (
    id integer PRIMARY KEY,
    name text COLLATE "Sales"."Case Blind" NOT NULL,
    code public.code,
    sorted text COLLATE public.german_phone
);
CREATE INDEX named_sorted ON public.named (sorted COLLATE public.posix_like);
INSERT INTO public.named VALUES (1, 'Abc', 'x', 'Müller'), (2, 'abd', 'y', 'Mueller');
COMMENT ON COLLATION "Sales"."Case Blind" IS 'ignores case';

-- An encoding conversion.
CREATE CONVERSION "Sales".latin_in FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;
CREATE DEFAULT CONVERSION public.latin2_in FOR 'LATIN2' TO 'UTF8' FROM iso8859_to_utf8;
COMMENT ON CONVERSION "Sales".latin_in IS 'latin1 in';

-- Text search: a parser, a template, dictionaries and configurations, used by a generated column.
CREATE TEXT SEARCH PARSER public.plain_parser (START = prsd_start, GETTOKEN = prsd_nexttoken, END = prsd_end,
    LEXTYPES = prsd_lextype, HEADLINE = prsd_headline);
CREATE TEXT SEARCH TEMPLATE public.plain_template (INIT = dsimple_init, LEXIZE = dsimple_lexize);
CREATE TEXT SEARCH TEMPLATE public.lexize_only (LEXIZE = dsimple_lexize);
CREATE TEXT SEARCH DICTIONARY public.plain_dict (TEMPLATE = public.plain_template, STOPWORDS = 'english',
    ACCEPT = false);
CREATE TEXT SEARCH DICTIONARY public.english_stem (TEMPLATE = snowball, LANGUAGE = 'english');
CREATE TEXT SEARCH CONFIGURATION public.plain_cfg (PARSER = public.plain_parser);
ALTER TEXT SEARCH CONFIGURATION public.plain_cfg ADD MAPPING FOR asciiword, word WITH public.plain_dict, simple;
ALTER TEXT SEARCH CONFIGURATION public.plain_cfg ADD MAPPING FOR numword WITH simple;
CREATE TEXT SEARCH CONFIGURATION "Sales"."Stemmed" (COPY = english);
ALTER TEXT SEARCH CONFIGURATION "Sales"."Stemmed" ALTER MAPPING FOR asciiword WITH public.english_stem;
ALTER TEXT SEARCH CONFIGURATION "Sales"."Stemmed" DROP MAPPING FOR email;
CREATE TABLE public.documents (
    id integer PRIMARY KEY,
    body text NOT NULL,
    words tsvector GENERATED ALWAYS AS (to_tsvector('public.plain_cfg', body)) STORED
);
CREATE INDEX documents_stemmed ON public.documents USING gin (to_tsvector('"Sales"."Stemmed"'::regconfig, body));
INSERT INTO public.documents (id, body) VALUES (1, 'The quick brown foxes jumped'), (2, 'over 2 lazy dogs');
COMMENT ON TEXT SEARCH CONFIGURATION public.plain_cfg IS 'plain words';
COMMENT ON TEXT SEARCH DICTIONARY public.plain_dict IS 'no stop words';
COMMENT ON TEXT SEARCH PARSER public.plain_parser IS 'the default parser, again';
COMMENT ON TEXT SEARCH TEMPLATE public.plain_template IS 'simple';

-- Extended statistics, with options.
CREATE STATISTICS public.scalars_dependencies (dependencies, ndistinct) ON small, normal FROM public.scalars;
CREATE STATISTICS "Sales"."order stats" ON lower("user"), "group" FROM "Sales"."Order";
ALTER STATISTICS public.scalars_dependencies SET STATISTICS 500;
COMMENT ON STATISTICS public.scalars_dependencies IS 'small and normal go together';

-- Column options.
ALTER TABLE public.scalars ALTER COLUMN normal SET (n_distinct = 100);
ALTER TABLE archive.events ALTER COLUMN kind SET (n_distinct = 4, n_distinct_inherited = -0.5);

-- Access methods of the database's own, a table using one and an operator class for the other.
CREATE ACCESS METHOD heap_again TYPE TABLE HANDLER heap_tableam_handler;
CREATE ACCESS METHOD hash_again TYPE INDEX HANDLER hashhandler;
CREATE OPERATOR CLASS public.int_again_ops DEFAULT FOR TYPE integer USING hash_again AS
    OPERATOR 1 =(integer, integer), FUNCTION 1 hashint4(integer);
CREATE TABLE public.other_storage (id integer, note text) USING heap_again;
CREATE INDEX other_storage_id ON public.other_storage USING hash_again (id);
INSERT INTO public.other_storage VALUES (1, 'stored by heap_again');
COMMENT ON ACCESS METHOD heap_again IS 'heap by another name';

-- A base type with its shell, I/O functions, an array, and a range over it with all its options.
CREATE TYPE public.int_like;
CREATE FUNCTION public.int_like_in(cstring) RETURNS public.int_like LANGUAGE internal IMMUTABLE STRICT AS 'int4in';
CREATE FUNCTION public.int_like_out(public.int_like) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'int4out';
CREATE TYPE public.int_like (INPUT = public.int_like_in, OUTPUT = public.int_like_out, LIKE = integer,
    CATEGORY = 'N', DEFAULT = '7');
CREATE TABLE public.base_values (v public.int_like, vs public.int_like[]);
INSERT INTO public.base_values VALUES ('1', '{2,3}'), (DEFAULT, NULL);
CREATE CAST (public.int_like AS integer) WITHOUT FUNCTION AS IMPLICIT;
-- Hashing for it, added to a built-in operator family (pg_dump leaves such members out).
CREATE FUNCTION public.int_like_hash(public.int_like) RETURNS integer LANGUAGE internal IMMUTABLE STRICT
    AS 'hashint4';
ALTER OPERATOR FAMILY integer_ops USING hash ADD
    FUNCTION 1 (public.int_like, public.int_like) public.int_like_hash(public.int_like);
CREATE FUNCTION public.float_diff(double precision, double precision) RETURNS double precision LANGUAGE sql
    IMMUTABLE STRICT AS $$ SELECT $1 - $2 $$;
CREATE TYPE public.text_range AS RANGE (SUBTYPE = text, COLLATION = "C", SUBTYPE_OPCLASS = text_pattern_ops,
    MULTIRANGE_TYPE_NAME = public.text_ranges);
CREATE TYPE public.float_range2 AS RANGE (SUBTYPE = double precision, SUBTYPE_DIFF = public.float_diff);
CREATE TYPE public.collated AS (name text COLLATE "C", note text);
CREATE TABLE public.ranges (r public.text_range, rs public.text_ranges, c public.collated, f public.float_range2);
INSERT INTO public.ranges VALUES ('[a,m)', '{[a,b),[x,z)}', ROW('x', 'y'), '[1.5,2.5)');
COMMENT ON COLUMN public.collated.name IS 'byte order';
COMMENT ON TYPE public.int_like IS 'an integer by another name';

-- A typed table, an unlogged sequence, toast options.
CREATE TYPE public.person AS (name text, born date);
CREATE TABLE public.people OF public.person (PRIMARY KEY (name), born WITH OPTIONS DEFAULT '2000-01-01');
INSERT INTO public.people VALUES ('Ada', '1815-12-10');
CREATE UNLOGGED SEQUENCE public.scratch_seq;
ALTER TABLE public.documents SET (toast.autovacuum_enabled = false, fillfactor = 90);

-- Foreign-data wrappers, servers, user mappings and foreign tables.
CREATE FUNCTION public.fdw_validator(text[], oid) RETURNS void LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE FOREIGN DATA WRAPPER dummy_fdw VALIDATOR public.fdw_validator OPTIONS (debug 'true');
CREATE FOREIGN DATA WRAPPER "plain wrapper";
CREATE SERVER films_server TYPE 'films' VERSION '1.0' FOREIGN DATA WRAPPER dummy_fdw OPTIONS (host 'films.example');
CREATE SERVER "bare server" FOREIGN DATA WRAPPER "plain wrapper";
CREATE USER MAPPING FOR PUBLIC SERVER films_server OPTIONS (user 'reader', password 'secret-pw');
CREATE USER MAPPING FOR CURRENT_USER SERVER "bare server";
CREATE FOREIGN TABLE public.films (
    code text OPTIONS (column_name 'film_code') NOT NULL,
    title text COLLATE "C" DEFAULT 'untitled',
    len interval CHECK (len > '0')
) SERVER films_server OPTIONS (table_name 'films', schema_name 'remote');
ALTER FOREIGN TABLE public.films ALTER COLUMN title SET STATISTICS 10;
CREATE TABLE archive.remote_events (id integer, at date) PARTITION BY RANGE (at);
CREATE FOREIGN TABLE archive.remote_events_old PARTITION OF archive.remote_events
    FOR VALUES FROM ('2000-01-01') TO ('2010-01-01') SERVER films_server;
CREATE TABLE archive.remote_events_new PARTITION OF archive.remote_events
    FOR VALUES FROM ('2010-01-01') TO (MAXVALUE);
INSERT INTO archive.remote_events_new VALUES (1, '2020-01-01');
CREATE VIEW public.film_titles AS SELECT title FROM public.films;
COMMENT ON FOREIGN DATA WRAPPER dummy_fdw IS 'does nothing';
COMMENT ON SERVER films_server IS 'where films live';
COMMENT ON FOREIGN TABLE public.films IS 'films elsewhere';
COMMENT ON COLUMN public.films.code IS 'the code';

-- Publications: all tables; tables with a column list and a row filter; a schema.
CREATE PUBLICATION everything FOR ALL TABLES WITH (publish = 'insert, update');
CREATE PUBLICATION "some things" FOR TABLE public.payments (id, amount) WHERE (id > 0), TABLE public.named
    WITH (publish_via_partition_root = true);
CREATE PUBLICATION archived FOR TABLES IN SCHEMA archive, TABLE public.slots;
CREATE PUBLICATION nothing_yet;
COMMENT ON PUBLICATION everything IS 'for the reporting replica';

-- Large objects with their data and comments (fixed OIDs: a dump keeps them).
SELECT lo_create(4242001);
SELECT lo_put(4242001, 0, convert_to('a small large object', 'UTF8'));
SELECT lo_create(4242002);
SELECT lo_put(4242002, 0, (SELECT string_agg(sha256(int4send(i)), ''::bytea ORDER BY i) FROM generate_series(1, 60000) i));
SELECT lo_create(4242003);
COMMENT ON LARGE OBJECT 4242001 IS 'small';

-- Policies and comments on them; comments on columns of views and composite types.
COMMENT ON POLICY "line owner" ON "Sales".line IS 'everyone sees positive lines';
COMMENT ON COLUMN public.aggregated.texts IS 'all texts';
COMMENT ON EXTENSION citext IS 'case-insensitive text (our words)';

-- A trigger on a partitioned table, with comments on two of the partitions' clones (pg_dump leaves them out).
CREATE FUNCTION archive.event_seen() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER seen BEFORE INSERT ON archive.events FOR EACH ROW EXECUTE FUNCTION archive.event_seen();
COMMENT ON TRIGGER seen ON archive.events_click IS 'the click partition''s clone';
COMMENT ON TRIGGER seen ON archive.events_view_low IS 'a clone of a clone';

-- Event triggers come last: they would fire for the rest of this script.
CREATE TABLE public.ddl_log (tag text, at timestamp with time zone DEFAULT now());
CREATE FUNCTION public.log_ddl() RETURNS event_trigger LANGUAGE plpgsql
    AS $$ BEGIN INSERT INTO public.ddl_log (tag) VALUES (tg_tag); END $$;
CREATE EVENT TRIGGER log_ddl ON ddl_command_end WHEN TAG IN ('CREATE TABLE', 'DROP TABLE')
    EXECUTE FUNCTION public.log_ddl();
CREATE EVENT TRIGGER "quiet one" ON sql_drop EXECUTE FUNCTION public.log_ddl();
ALTER EVENT TRIGGER "quiet one" DISABLE;
CREATE EVENT TRIGGER replica_only ON ddl_command_start EXECUTE FUNCTION public.log_ddl();
ALTER EVENT TRIGGER replica_only ENABLE REPLICA;
COMMENT ON EVENT TRIGGER log_ddl IS 'logs table DDL';
