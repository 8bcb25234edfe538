"""A row filter or sanitising expression holding a '%' (LIKE patterns: WordPress's transients) dumps as written.

The paged dump of tables with an integer key used to pass its key range as driver parameters, which made
PyMySQL read every '%' of the query as a format character ("not enough arguments for format string").
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine
from synco_core.testing.services import mysql_admin_connection, mysql_url_for
from synco_core.values import DumpOptions, SanitizeRule

pytestmark = pytest.mark.mysql


@pytest.mark.parametrize("key", ["BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY", "VARCHAR(10) PRIMARY KEY"])
def test_percent_in_filters_and_expressions(mysql_database_factory: Callable[[], str], key: str) -> None:
    name = mysql_database_factory()
    conn = mysql_admin_connection(name)
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE options (id {key}, option_name VARCHAR(50), option_value TEXT)")
        cur.execute("INSERT INTO options VALUES ('1', '_transient_a', 'x'), ('2', 'home', '100% real'), "
                    "('3', '_site_transient_b', 'y')")
    conn.close()
    options = DumpOptions(
        where={"options": "option_name NOT LIKE '\\_transient\\_%' AND option_name NOT LIKE '\\_site\\_transient\\_%'"},
        sanitize=(SanitizeRule("options", "option_value",
                               expression="CASE WHEN option_value LIKE '%real%' THEN '50%' ELSE option_value END"),))
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(mysql_url_for(name)), out, options)
    assert result.tables["options"].rows == 1
    assert b"'home','50%'" in out.getvalue()
