"""A pg_dump 17 script loaded into an older PostgreSQL server.

pg_dump 17 and later write ``SET transaction_timeout = 0;`` at the top of every plain script, among the
other timeouts they switch off. A server before 17 has no such setting, and synco's loader stopped on
that tenth line: a dump of a production server on 17 did not load on a laptop running 15 or 16. Where the
setting does not exist there is nothing to switch off; a value other than 0 is run as written.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import psycopg
import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import install_with_engine
from synco_core.errors import DatabaseError
from synco_core.testing.services import postgres_url_for
from synco_core.values import InstallOptions

pytestmark = pytest.mark.postgres

HEADER = b"""--
-- PostgreSQL database dump
--

-- Dumped from database version 17.2
-- Dumped by pg_dump version 17.2

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
%s
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

CREATE TABLE public.t (id integer);

COPY public.t (id) FROM stdin;
1
2
\\.

--
-- PostgreSQL database dump complete
--
"""


@pytest.mark.parametrize("line", [b"SET transaction_timeout = 0;", b"SET transaction_timeout TO 0;",
                                  b"set session Transaction_Timeout = '0' ;", b"SET transaction_timeout = '5min';"])
def test_pg_dump_17_switching_transaction_timeout_off_loads_anywhere(
        line: bytes, postgres_database_factory: Callable[[], str]) -> None:
    url = postgres_url_for(postgres_database_factory())
    with psycopg.connect(url) as conn:
        knows = conn.info.server_version >= 170000
    data = HEADER % line
    install = lambda: install_with_engine(parse_database_url(url), io.BytesIO(data),  # noqa: E731
                                          InstallOptions(yes=True))
    if b"5min" in line and not knows:
        # Not switching it off: run as written, and refused by a server that has no such setting.
        with pytest.raises(DatabaseError, match="transaction_timeout"):
            install()
        return
    assert install().rows == 2
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM public.t").fetchone() == (2,)
