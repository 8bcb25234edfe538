"""A ``DATABASE_URL``'s query and a ``DATABASES`` entry's ``OPTIONS`` read as Django connects with them, so that
synco connects to the database Django connects to, as the same user, or refuses in one line naming the key.

dj-database-url and django-environ put the query into ``OPTIONS`` (decoded as a form: ``+`` is a space, blank
values dropped; the last repeated key for dj-database-url, the first for django-environ). PostgreSQL's backend
lets ``OPTIONS['dbname']`` win over ``NAME`` and ``USER``/``PASSWORD``/``HOST``/``PORT`` win over the other
libpq keys; MySQL's lets every ``OPTIONS`` key win, and its client takes a socket only for localhost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from synco_django.databases import database_config
from synco_django.static import DatabaseUrl

from synco_core import ConfigError

PG = "django.db.backends.postgresql"
MY = "django.db.backends.mysql"


def read(entry: Any, tmp_path: Path) -> tuple[Any, ...]:
    db = database_config("default", entry, tmp_path, "settings.py")
    return db.engine, db.name, db.host, db.port, db.user, db.password, db.socket


@pytest.mark.parametrize("url, reader, expected", [
    # PostgreSQL: USER/PASSWORD/HOST/PORT win over the query's libpq keys, which fill in what they leave out.
    ("postgres://app@db/shop?user=eve", "dj-database-url", ("postgresql", "shop", "db", None, "app", None, None)),
    ("postgres://db/shop?user=eve&password=pw&port=6543", "dj-database-url",
     ("postgresql", "shop", "db", 6543, "eve", "pw", None)),
    ("postgres://app:a+b@db/shop?password=other", "dj-database-url",
     ("postgresql", "shop", "db", None, "app", "a+b", None)),
    # ... but OPTIONS' dbname wins over NAME.
    ("postgres://app@db/shop?dbname=other", "dj-database-url", ("postgresql", "other", "db", None, "app", None, None)),
    # The query is decoded as a form: + is a space; a blank value is dropped.
    ("postgres://db/shop?password=a+b%2B&user=", "dj-database-url",
     ("postgresql", "shop", "db", None, None, "a b+", None)),
    ("postgres://app@%2Fvar%2Frun%2Fpostgresql/shop", "dj-database-url",
     ("postgresql", "shop", None, None, "app", None, "/var/run/postgresql")),
    # MySQL: OPTIONS win over everything, mysqlclient's passwd over password and db over database.
    ("mysql://app@db/shop?user=eve", "dj-database-url", ("mysql", "shop", "db", None, "eve", None, None)),
    ("mysql://app:pw@db/shop?password=p1&passwd=p2&database=d1&db=d2", "dj-database-url",
     ("mysql", "d2", "db", None, "app", "p2", None)),
    # The client library takes the socket only for localhost (or no host).
    ("mysql://app@db.internal/shop?unix_socket=/run/mysqld/mysqld.sock", "dj-database-url",
     ("mysql", "shop", "db.internal", None, "app", None, None)),
    ("mysql://app@localhost/shop?unix_socket=/run/mysqld/mysqld.sock", "dj-database-url",
     ("mysql", "shop", None, None, "app", None, "/run/mysqld/mysqld.sock")),
    # A repeated key: the last for dj-database-url, the first for django-environ.
    ("mysql://app@db/shop?db=first&db=last", "dj-database-url", ("mysql", "last", "db", None, "app", None, None)),
    ("mysql://app@db/shop?db=first&db=last", "django-environ", ("mysql", "first", "db", None, "app", None, None)),
    # django-environ decodes + in the database name; its socket folder may be the path's start.
    ("postgres://app@db/my+shop", "django-environ", ("postgresql", "my shop", "db", None, "app", None, None)),
    ("postgres:////var/run/postgresql/shop", "django-environ",
     ("postgresql", "shop", None, None, None, None, "/var/run/postgresql")),
])
def test_database_url_read_as_django_connects(tmp_path: Path, url: str, reader: str,
                                              expected: tuple[Any, ...]) -> None:
    assert read(DatabaseUrl(url, reader=reader), tmp_path) == expected


def test_options_of_a_databases_dict_count_as_the_backend_counts_them(tmp_path: Path) -> None:
    pg = {"ENGINE": PG, "NAME": "shop", "USER": "app", "HOST": "db",
          "OPTIONS": {"dbname": "other", "user": "eve", "host": "elsewhere", "port": 6543, "sslmode": "require"}}
    assert read(pg, tmp_path) == ("postgresql", "other", "db", 6543, "app", None, None)
    my = {"ENGINE": MY, "NAME": "shop", "USER": "app", "HOST": "db",
          "OPTIONS": {"user": "eve", "db": "x", "unix_socket": "/run/mysqld/mysqld.sock", "charset": "utf8mb4"}}
    assert read(my, tmp_path) == ("mysql", "x", "db", None, "eve", None, None)
    # The module's OPTIONS over a URL's, key by key.
    over = DatabaseUrl("mysql://app@db/shop?user=eve", {"OPTIONS": {"user": "zoe"}})
    assert read(over, tmp_path)[4] == "zoe"


@pytest.mark.parametrize("entry, words", [
    (DatabaseUrl("postgres://app@db/shop?hostaddr=10.0.0.5"), "OPTIONS['hostaddr'] is not supported"),
    (DatabaseUrl("postgres://app:Secret-7@db:99999/shop"), "invalid host or port"),
    ({"ENGINE": MY, "USER": "app", "OPTIONS": {"user": "eve"}}, "names no database (NAME)"),
])
def test_what_synco_cannot_follow_is_refused_in_one_line(tmp_path: Path, entry: Any, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read(entry, tmp_path)
    assert words in str(caught.value) and "\n" not in str(caught.value) and "Secret-7" not in str(caught.value)
