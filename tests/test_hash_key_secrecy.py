"""The ``hash`` transform's key never stands in the text of the statement that reads the rows.

The key is what keeps a hashed e-mail address from being matched against a list of guesses
(synco_core/hashkey.py). It was a literal in the dump's ``COPY (SELECT ...)`` and ``SELECT``, whose text
pg_stat_activity and SHOW PROCESSLIST show while it runs and which a slow-statement log
(``log_min_duration_statement``, the slow query log, as hosting providers keep them) keeps on disk: whoever
could read those had the key. Private servers logging every statement show what the server saw.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from private_servers import mariadb, mariadb_admin, postgresql, postgresql_admin

from synco_core.engines.dispatch import dump_with_engine
from synco_core.values import DumpOptions, SanitizeRule

#: A SHA-256 key in hex (synco_core.hashkey) as a literal.
KEY_LITERAL = re.compile(r"'[0-9a-f]{64}'")
HASH_RULE = DumpOptions(sanitize=(SanitizeRule("users", "email", transform="hash"),))


@pytest.mark.postgres
def test_the_hash_key_is_not_in_the_copy_statement(plugin_manager: object) -> None:
    with postgresql(settings=["log_min_duration_statement=0"]) as server:
        postgresql_admin(server, "CREATE DATABASE app")
        postgresql_admin(server, "CREATE TABLE users (id int PRIMARY KEY, email text)",
                         "INSERT INTO users VALUES (1, 'alice@example.com'), (2, 'bob@example.com')", dbname="app")
        out = io.BytesIO()
        dump_with_engine(server.replace(name="app"), out, HASH_RULE)
        [(log,)] = postgresql_admin(server, "SELECT pg_catalog.pg_read_file(pg_catalog.current_setting("
                                            "'data_directory') || '/../server.log')")
    assert b"alice@example.com" not in out.getvalue()
    copies = [line for line in log.splitlines() if "COPY (" in line and "sha256" in line]
    assert copies, "the statement reading the rows is logged"
    assert not [line for line in copies if KEY_LITERAL.search(line)], copies


@pytest.mark.mysql
def test_the_hash_key_is_not_in_the_select(plugin_manager: object, tmp_path: Path) -> None:
    slow_log = tmp_path / "slow.log"
    logging = ["--slow-query-log=1", "--long-query-time=0", f"--slow-query-log-file={slow_log}"]
    with mariadb(tmp_path, logging) as server:
        mariadb_admin(server, "CREATE DATABASE app",
                      "CREATE TABLE app.users (id int PRIMARY KEY, email varchar(100)) DEFAULT CHARSET latin1",
                      "INSERT INTO app.users VALUES (1, 'alice@example.com'), (2, 'bob@example.com')")
        out = io.BytesIO()
        dump_with_engine(server.replace(name="app"), out, HASH_RULE)
    assert b"alice@example.com" not in out.getvalue()
    selects = [line for line in slow_log.read_text(errors="replace").splitlines() if "SHA2(" in line]
    assert selects, "the statement reading the rows is logged"
    assert not [line for line in selects if KEY_LITERAL.search(line)], selects
