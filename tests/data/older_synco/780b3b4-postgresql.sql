--
-- synco PostgreSQL dump
-- PostgreSQL 15.20, database synco_test_h_upgrade_src
-- Database locale: {"collate": "C.UTF-8", "ctype": "C.UTF-8", "encoding": "UTF8", "icu_locale": null, "provider": "c"}
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET default_tablespace = '';
SET default_table_access_method = heap;


--
-- Sequences
--

CREATE SEQUENCE public.posts_id_seq AS integer START WITH 1 INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 CACHE 1 NO CYCLE;

--
-- Tables
--

CREATE TABLE public.posts (
    id integer NOT NULL,
    title text NOT NULL,
    body jsonb,
    created timestamp with time zone,
    tags text[],
    amount numeric(10,2),
    data bytea
);

--
-- Column defaults and sequence ownership
--

ALTER TABLE ONLY public.posts ALTER COLUMN id SET DEFAULT nextval('public.posts_id_seq'::regclass);
ALTER TABLE ONLY public.posts ALTER COLUMN created SET DEFAULT now();
ALTER SEQUENCE public.posts_id_seq OWNED BY public.posts.id;

--
-- Data
--

COPY public.posts (id, title, body, created, tags, amount, data) FROM stdin;
1	héllo	{"a": 1}	2026-12-07 11:27:14.668657+00	{x,y}	12.50	\\x00ff
2	tab\there	\N	2026-12-07 11:27:14.668657+00	\N	\N	\N
\.


--
-- Sequence positions
--

SELECT pg_catalog.setval('public.posts_id_seq', 2, true);

--
-- Constraints and indexes
--

ALTER TABLE ONLY public.posts
    ADD CONSTRAINT posts_pkey PRIMARY KEY (id);
CREATE INDEX posts_title_idx ON public.posts USING btree (title);

--
-- Views and materialized views
--

CREATE VIEW public.v AS
SELECT posts.title
   FROM public.posts;

--
-- Comments
--

COMMENT ON SCHEMA public IS 'standard public schema';

--
-- Event triggers
--


-- synco PostgreSQL dump complete
