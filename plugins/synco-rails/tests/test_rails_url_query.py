"""A database URL's query read as Active Record reads it (``ConnectionUrlResolver`` and the adapters), so that
synco connects to the database Rails connects to, as the same user, or refuses in one line naming the key.

Keys are taken by their own names and never percent-decoded, values decoded ``%xx`` only, the last of a
repeated key wins, blank values leave the section's key in force; ``?username=`` and the URL's other parts
depend on the Active Record version Gemfile.lock pins (the query wins from 7.0, is dropped before).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from synco_rails.databases import database_config
from synco_rails.urlconfig import active_record_major

from synco_core import ConfigError


def config(tmp_path: Path, url: str, major: int | None, **section: Any) -> tuple[Any, ...]:
    if major is not None:
        (tmp_path / "Gemfile.lock").write_text(f"GEM\n  specs:\n    activerecord ({major}.1.3)\n      activemodel\n")
    db = database_config("primary", {"url": url, **section}, tmp_path, "config/database.yml")
    return db.engine, db.name, db.host, db.port, db.user, db.password, db.socket


@pytest.mark.parametrize("url, major, section, expected", [
    # libpq's user is the adapter's username only when no username is given.
    ("postgres://app@db/shop?user=other", None, {}, ("postgresql", "shop", "db", None, "app", None, None)),
    ("postgres://db/shop?user=other", None, {}, ("postgresql", "shop", "db", None, "other", None, None)),
    # The PostgreSQL adapter drops a socket (not a libpq keyword); MySQL's drivers read no unix_socket.
    ("postgres://app@db/shop?socket=/var/run/postgresql", None, {},
     ("postgresql", "shop", "db", None, "app", None, None)),
    ("mysql2://app@db/shop?unix_socket=/tmp/mysql.sock", None, {}, ("mysql", "shop", "db", None, "app", None, None)),
    # mysql2's client library takes the socket only for localhost (or no host); trilogy's host gives way to it.
    ("mysql2://app@db.internal/shop?socket=/run/mysqld/mysqld.sock", None, {},
     ("mysql", "shop", "db.internal", None, "app", None, None)),
    ("mysql2://app@localhost/shop?socket=/run/mysqld/mysqld.sock", None, {},
     ("mysql", "shop", None, None, "app", None, "/run/mysqld/mysqld.sock")),
    ("trilogy://app@db/shop?socket=/run/mysqld/mysqld.sock", None, {},
     ("mysql", "shop", None, None, "app", None, "/run/mysqld/mysqld.sock")),
    # Values are decoded %xx only: a + stays a +, whatever the engine.
    ("mysql2://app@db/shop?password=a+b%2Bc", 7, {}, ("mysql", "shop", "db", None, "app", "a+b+c", None)),
    ("postgres://app@db/shop?password=x+y%20z", 7, {}, ("postgresql", "shop", "db", None, "app", "x+y z", None)),
    # Keys are never decoded: user%6eame is not username.
    ("mysql2://db/shop?user%6eame=eve", 7, {}, ("mysql", "shop", "db", None, None, None, None)),
    # From 7.0 the query wins over the URL's parts; up to 6.1 they are dropped.
    ("postgres://app@db/shop?username=eve&port=6543", 7, {}, ("postgresql", "shop", "db", 6543, "eve", None, None)),
    ("postgres://app@db/shop?username=eve&port=6543", 6, {}, ("postgresql", "shop", "db", None, "app", None, None)),
    ("postgres://db/?database=shop", 6, {"database": "yml_db"}, ("postgresql", "yml_db", "db", None, None, None, None)),
    # The last of a repeated key wins.
    ("postgres://db/shop?username=a&username=eve", 7, {}, ("postgresql", "shop", "db", None, "eve", None, None)),
    # A blank value is dropped after the merge: the section's key applies, not the URL's.
    ("postgres://app@db/shop?username=", 7, {"username": "yml_user"},
     ("postgresql", "shop", "db", None, "yml_user", None, None)),
    ("postgres://app:@db/shop", None, {"password": "yml-pw"},
     ("postgresql", "shop", "db", None, "app", "yml-pw", None)),
    # The query may name another adapter (7.0+).
    ("postgres://app@db/shop?adapter=mysql2", 7, {}, ("mysql", "shop", "db", None, "app", None, None)),
    # mysql2's short names count after the long ones; its passwd does not exist; trilogy reads long names only.
    ("mysql2://app@db/shop?db=other&pass=pw", None, {}, ("mysql", "shop", "db", None, "app", "pw", None)),
    ("mysql2://app:pw@db/?db=other&passwd=no", None, {}, ("mysql", "other", "db", None, "app", "pw", None)),
    ("trilogy://db/shop?user=eve&pass=pw", None, {}, ("mysql", "shop", "db", None, None, None, None)),
    # A database name may hold an "@" (the authority ends at the first "/").
    ("postgres://app@db/shop@2?sslmode=require", None, {}, ("postgresql", "shop@2", "db", None, "app", None, None)),
])
def test_url_query_read_as_active_record_reads_it(tmp_path: Path, url: str, major: int | None,
                                                  section: dict[str, str], expected: tuple[Any, ...]) -> None:
    assert config(tmp_path, url, major, **section) == expected


def test_a_section_without_url_takes_libpq_and_mysql2_names(tmp_path: Path) -> None:
    pg = database_config("primary", {"adapter": "postgresql", "user": "eve", "dbname": "shop", "host": "db",
                                     "socket": "/tmp"}, tmp_path, "config/database.yml")
    assert (pg.user, pg.name, pg.host, pg.socket) == ("eve", "shop", "db", None)
    my = database_config("primary", {"adapter": "mysql2", "user": "eve", "db": "shop", "hostname": "db",
                                     "pass": "pw"}, tmp_path, "config/database.yml")
    assert (my.user, my.name, my.host, my.password) == ("eve", "shop", "db", "pw")


@pytest.mark.parametrize("url, words", [
    # Without Gemfile.lock the versions disagree: refused, naming the key, not guessed.
    ("postgres://app:pw@db/shop?host=other&password=Secret-9", ("?password=, ?host=", "Gemfile.lock")),
    ("postgres://app@db/shop?username=", ("?username=",)),
    ("postgres://app@db/shop?sslmode=require&&x=1", ("empty pair (&&)",)),
    ("postgres://app@db/shop?port=abc", ("?port=",)),
    ("postgres://app@db/shop?port=abc&major=7", ("port is not a number",)),
    ("postgres://app@db/shop?hostaddr=10.0.0.5", ("hostaddr is not supported",)),
    ("postgres://app@db/shop?service=live", ("service is not supported",)),
    ("postgres://app@db:99999/shop", ("invalid host or port",)),
])
def test_a_url_synco_cannot_follow_is_refused_in_one_line(tmp_path: Path, url: str, words: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, url.replace("&major=7", ""), 7 if "major=7" in url else None)
    message = str(caught.value)
    assert "\n" not in message and "Secret-9" not in message
    assert all(word in message for word in words), message


@pytest.mark.parametrize("lock, major", [
    ("GEM\n  specs:\n    activerecord (6.1.7.10)\n    rails (6.1.7.10)\n", 6),
    ("GEM\n  specs:\n    rails (7.2.1)\n      activerecord (= 7.2.1)\n", 7),
    ("GEM\n  specs:\n    rake (13.0.6)\n", None),
    ("\xff\xfe not text", None),
])
def test_the_version_comes_from_gemfile_lock(tmp_path: Path, lock: str, major: int | None) -> None:
    (tmp_path / "Gemfile.lock").write_text(lock, encoding="latin-1")
    assert active_record_major(tmp_path) == major


#: URLs the installed Active Record's own resolver reads beside synco's reading of them.
ODD_URLS = (
    "postgres://app@db/shop?username=eve&port=6543",
    "postgres://db/?database=shop&user=x",
    "postgres://app:@db/shop?password=",
    "postgres://app@db/shop@2?sslmode=require&sslmode=disable",
    "mysql2://app:p%40ss@db:3307/shop?password=a+b%2Bc&host=",
    "mysql2://db/shop?user%6eame=eve&socket=%2Ftmp%2Fx.sock&encoding",
    "trilogy://app@[::1]:3306/shop?pool=5&&",
    "postgresql://u%20v:w%2Fx@db.example/na%2Fme?adapter=mysql2&host=h2",
)


def test_the_url_keys_are_the_installed_active_records(tmp_path: Path) -> None:
    """Each URL's keys as the installed Active Record's ``ConnectionUrlResolver`` gives them (its version's
    reading), compared with :func:`url_settings` for that version."""
    import json
    import subprocess

    from synco_rails.urlconfig import url_settings

    from synco_core.testing.services import require_tool

    ruby = require_tool("ruby", "ruby")
    script = ('require "json"; require "active_record"; require "active_record/database_configurations"; '
              'puts ActiveRecord::VERSION::MAJOR; ARGV.each { |u| puts JSON.generate('
              'ActiveRecord::DatabaseConfigurations::ConnectionUrlResolver.new(u).to_hash) }')
    done = subprocess.run([ruby, "-e", script, *ODD_URLS], capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        pytest.fail(f"Active Record did not load (apt-get install ruby-rails): {done.stderr.strip()[-300:]}")
    major, *hashes = done.stdout.splitlines()
    for url, line in zip(ODD_URLS, hashes, strict=True):
        theirs = json.loads(line)
        assert url_settings(url, int(major), "primary") == theirs, url
