"""Flow's backendOptions as DBAL and PHP's MySQL client read them: a ``url``'s query keys are DBAL's parameters by
name (``?username=``, ``?passwd=``, ``?db=``, ``?database=``, ``?socket=`` are nothing to it, ``?dbname=`` is the
database), and ``unix_socket`` counts only when the host is ``localhost`` or not given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from synco_neos.database import database_from_backend_options

from synco_core import ConfigError


def read(options: dict[str, Any], tmp_path: Path) -> tuple[Any, ...]:
    db = database_from_backend_options(options, tmp_path, "Settings.yaml")
    return db.engine, db.name, db.host, db.user, db.password, db.socket


@pytest.mark.parametrize("options, expected", [
    ({"url": "mysql://app@db/neos?username=eve&passwd=x&db=other&database=other&socket=/tmp/s"},
     ("mysql", "neos", "db", "app", None, None)),
    ({"url": "mysql://app@db?dbname=neos"}, ("mysql", "neos", "db", "app", None, None)),
    ({"url": "pdo-mysql://app@db/neos"}, ("mysql", "neos", "db", "app", None, None)),
    ({"url": "pgsql://app@db/neos?unix_socket=/var/run/postgresql"}, ("postgresql", "neos", "db", "app", None, None)),
    # PHP's MySQL client: the socket only for localhost (or no host).
    ({"url": "mysql://app@db.internal/neos?unix_socket=/run/mysqld/mysqld.sock"},
     ("mysql", "neos", "db.internal", "app", None, None)),
    ({"driver": "pdo_mysql", "dbname": "neos", "host": "db.internal", "user": "app",
      "unix_socket": "/run/mysqld/mysqld.sock"}, ("mysql", "neos", "db.internal", "app", None, None)),
    ({"driver": "mysqli", "dbname": "neos", "host": "localhost", "user": "app",
      "unix_socket": "/run/mysqld/mysqld.sock"}, ("mysql", "neos", None, "app", None, "/run/mysqld/mysqld.sock")),
    ({"driver": "pdo_mysql", "dbname": "neos", "user": "app", "unix_socket": "/run/mysqld/mysqld.sock"},
     ("mysql", "neos", None, "app", None, "/run/mysqld/mysqld.sock")),
])
def test_backend_options_read_as_dbal_reads_them(tmp_path: Path, options: dict[str, Any],
                                                 expected: tuple[Any, ...]) -> None:
    assert read(options, tmp_path) == expected


def test_a_url_giving_the_user_twice_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read({"url": "mysql://app:Secret-5@db/neos?user=eve"}, tmp_path)
    assert "user name twice" in str(caught.value) and "Secret-5" not in str(caught.value)
