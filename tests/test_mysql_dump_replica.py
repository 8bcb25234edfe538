"""A MySQL dump read from a replica (a private MariaDB primary and its ``read_only`` replica), as agencies
dump a replica kept for backups and reports, while the replica applies the primary's changes.

The dump must write nothing there (a user with the dump's rights and no more reads it), hold one moment of
the database, and stop in one line naming the table when a migration the replica applies changes a table
the dump has not read yet; the replica's applier waits for the dump's end on a table it has read, and goes
on replicating.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from private_servers import mariadb_admin, mariadb_caught_up, mariadb_replication

from synco_core.engines.mysql import schema
from synco_core.engines.mysql.dump import dump
from synco_core.errors import DatabaseError
from synco_core.values import DatabaseConfig, DumpOptions

pytestmark = pytest.mark.mysql


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DatabaseConfig, DatabaseConfig]]:
    with mariadb_replication(tmp_path_factory.mktemp("replication")) as (primary, replica):
        # The classic backup grant, with what the dump's routines need (docs/engines.md, Privileges).
        mariadb_admin(primary, "CREATE USER dumper@'%'",
                      "GRANT SELECT, SHOW VIEW, TRIGGER, LOCK TABLES, EVENT, EXECUTE ON *.* TO dumper@'%'")
        yield primary, replica


def _database(primary: DatabaseConfig, replica: DatabaseConfig, name: str) -> DatabaseConfig:
    mariadb_admin(primary, f"CREATE DATABASE {name}",
                  f"CREATE TABLE {name}.a (id INT PRIMARY KEY, n INT NOT NULL)",
                  f"INSERT INTO {name}.a SELECT seq, seq FROM {name}.seq_1_to_100",
                  f"CREATE TABLE {name}.b (id INT PRIMARY KEY, v INT NOT NULL)",
                  f"INSERT INTO {name}.b VALUES (1, 1), (2, 2)")
    mariadb_caught_up(primary, replica)
    return replica.replace(name=name, user="dumper")


#: What the primary commits once the dump has read table ``a`` (tables are dumped by name), and what the
#: dump must then hold: the rows before it, or a stop naming the table.
MIGRATIONS = {
    "rows changed in a table read": ("UPDATE {db}.a SET n = n + 1", None),
    "rows changed in a table not read yet": ("UPDATE {db}.b SET v = v + 1", None),
    "a table read altered": ("ALTER TABLE {db}.a ADD COLUMN z INT", None),
    "a table not read yet altered": ("ALTER TABLE {db}.b ADD COLUMN z INT", "`b`"),
    "a table not read yet dropped": ("DROP TABLE {db}.b", "`b`"),
}


@pytest.mark.parametrize("migration", sorted(MIGRATIONS))
def test_a_replica_applying_the_primarys_changes_is_dumped_at_one_moment(
        migration: str, pair: tuple[DatabaseConfig, DatabaseConfig], monkeypatch: pytest.MonkeyPatch) -> None:
    primary, replica = pair
    source = _database(primary, replica, f"app_{sorted(MIGRATIONS).index(migration)}")
    statement, stopped_at = MIGRATIONS[migration]
    real = schema.show_create_table
    calls: list[int] = []

    def primary_migrates_once_a_is_read(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:  # the dump is at b: it has read a's rows and holds a
            mariadb_admin(primary, statement.format(db=source.name))
            # Applied on the replica, or waiting there for the dump's hold on the table it alters.
            threading.Event().wait(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(schema, "show_create_table", primary_migrates_once_a_is_read)
    out = io.BytesIO()
    if stopped_at:
        with pytest.raises(DatabaseError) as raised:
            dump(source, out, DumpOptions())
        message = str(raised.value)
        assert stopped_at in message and "run it again" in message and "\n" not in message, message
    else:
        result = dump(source, out, DumpOptions())
        assert {name: table.rows for name, table in result.tables.items()} == {"a": 100, "b": 2}
        assert b"(1,1)" in out.getvalue() and b"(2,2)" in out.getvalue(), "the rows before the change"
        assert b" `z` " not in out.getvalue(), "the definitions before the change"
    # The replica's applier waited for the dump, if at all, and has applied everything since.
    mariadb_caught_up(primary, replica)
