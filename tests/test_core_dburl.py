"""``DATABASE_URL`` forms, as frameworks write them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from synco_core.dburl import normalise_engine, parse_database_url
from synco_core.errors import ConfigError
from synco_core.redaction import redact
from synco_core.values import DatabaseConfig


@pytest.mark.parametrize(
    ("url", "engine", "host", "port", "user", "password", "name"),
    [
        ("mysql://app:pw@db.example:3307/shop", "mysql", "db.example", 3307, "app", "pw", "shop"),
        ("mariadb://app:pw@localhost/shop", "mysql", "localhost", None, "app", "pw", "shop"),
        ("mysql2://app@127.0.0.1/shop", "mysql", "127.0.0.1", None, "app", None, "shop"),
        ("postgresql://pg:pw@127.0.0.1:5433/blog", "postgresql", "127.0.0.1", 5433, "pg", "pw", "blog"),
        ("postgres://pg@db/blog", "postgresql", "db", None, "pg", None, "blog"),
        ("pgsql://pg:pw@db/blog", "postgresql", "db", None, "pg", "pw", "blog"),
        ("pdo_mysql://app:pw@db/shop", "mysql", "db", None, "app", "pw", "shop"),
        ("mysql://app:pw@[::1]:3306/shop", "mysql", "::1", 3306, "app", "pw", "shop"),
        ("mysql://db/shop", "mysql", "db", None, None, None, "shop"),
    ],
)
def test_server_forms(url: str, engine: str, host: str, port: int | None, user: str | None,
                      password: str | None, name: str) -> None:
    config = parse_database_url(url)
    assert (config.engine, config.host, config.port, config.user, config.password, config.name) == (
        engine, host, port, user, password, name)


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("mysql://app:p%40ss%3Aw%2Frd@db/shop", "p@ss:w/rd"),
        ("mysql://app:p@ss@db/shop", "p@ss"),
        ("mysql://app:pa:ss@db/shop", "pa:ss"),
        ("mysql://app:pa#ss@db/shop", "pa#ss"),
        ("mysql://app:pa/ss@db/shop", "pa/ss"),
        ("mysql://app:pa?ss@db/shop", "pa?ss"),
        ("mysql://app:p@ss:w?rd@db/shop", "p@ss:w?rd"),
        ("mysql://app:?pw?@db/shop?charset=utf8mb4", "?pw?"),
        ("postgresql://app:pw%20with%20space@db/shop?sslmode=require", "pw with space"),
    ],
)
def test_passwords_with_special_characters(url: str, password: str) -> None:
    config = parse_database_url(url)
    assert config.password == password
    assert (config.host, config.name, config.user) == ("db", "shop", "app")
    assert password not in redact(f"error: {password}")


def test_encoded_user_and_database() -> None:
    config = parse_database_url("mysql://us%40er:pw@db/my%20db")
    assert (config.user, config.name) == ("us@er", "my db")


@pytest.mark.parametrize(
    ("url", "socket", "host"),
    [
        ("mysql://app:pw@localhost/shop?unix_socket=/run/mysqld/mysqld.sock", "/run/mysqld/mysqld.sock", "localhost"),
        ("mysql://app@localhost/shop?socket=/tmp/my.sock", "/tmp/my.sock", "localhost"),
        ("postgresql://pg@/blog?host=/var/run/postgresql", "/var/run/postgresql", None),
        ("mysql://app:pw@%2Frun%2Fmysqld%2Fmysqld.sock/shop", "/run/mysqld/mysqld.sock", None),
    ],
)
def test_sockets(url: str, socket: str, host: str | None) -> None:
    config = parse_database_url(url)
    assert (config.socket, config.host) == (socket, host)
    assert config.is_local()
    assert "unix_socket" not in config.options and "socket" not in config.options


def test_options_are_kept() -> None:
    config = parse_database_url("mysql://app:pw@db/shop?charset=utf8mb4&serverVersion=10.11.2-MariaDB")
    assert dict(config.options) == {"charset": "utf8mb4", "serverVersion": "10.11.2-MariaDB"}


def test_sqlite_relative_and_absolute(tmp_path: Path) -> None:
    relative = parse_database_url("sqlite:///var/data.db", base_dir=tmp_path)
    assert relative.engine == "sqlite" and relative.name == str(tmp_path / "var/data.db")
    absolute = parse_database_url("sqlite:////srv/app/data.db", base_dir=tmp_path)
    assert absolute.name == "/srv/app/data.db"
    assert parse_database_url("sqlite:///:memory:").name == ":memory:"
    assert parse_database_url("pdo_sqlite:////a.db").engine == "sqlite"
    assert relative.is_local()


#: Every spelling frameworks' users write in a DATABASE_URL, and the engine it means: dj-database-url's schemes,
#: Active Record's adapters, SQLAlchemy's dialect+driver, Doctrine/PDO and Laravel driver names.
SPELLINGS = {
    "postgres": "postgresql", "postgresql": "postgresql", "pgsql": "postgresql", "pdo_pgsql": "postgresql",
    "postgis": "postgresql", "timescale": "postgresql", "timescalegis": "postgresql",
    "jdbcpostgresql": "postgresql", "postgresql+psycopg": "postgresql", "postgresql+psycopg2": "postgresql",
    "postgresql+asyncpg": "postgresql", "postgresql+pg8000": "postgresql", "postgis+psycopg": "postgresql",
    "mysql": "mysql", "mariadb": "mysql", "mysql2": "mysql", "mysqli": "mysql", "pdo_mysql": "mysql",
    "mysqlgis": "mysql", "mysql-connector": "mysql", "trilogy": "mysql", "jdbcmysql": "mysql",
    "mysql+pymysql": "mysql", "mysql+mysqldb": "mysql", "mysql+aiomysql": "mysql",
    "mariadb+mariadbconnector": "mysql", "mariadb+pymysql": "mysql",
}


@pytest.mark.parametrize("scheme", sorted(SPELLINGS))
def test_every_framework_spelling_of_a_server_url(scheme: str) -> None:
    for written in (scheme, scheme.upper()):
        config = parse_database_url(f"{written}://app:s3cret@db.example:6000/shop")
        assert (config.engine, config.host, config.port, config.user, config.password, config.name) == (
            SPELLINGS[scheme], "db.example", 6000, "app", "s3cret", "shop")


@pytest.mark.parametrize("scheme", ["sqlite", "sqlite3", "pdo_sqlite", "spatialite", "jdbcsqlite3",
                                    "sqlite+pysqlite", "sqlite+aiosqlite", "spatialite+pysqlite"])
def test_every_framework_spelling_of_an_sqlite_url(scheme: str, tmp_path: Path) -> None:
    assert parse_database_url(f"{scheme}:////srv/app/db.sqlite3").name == "/srv/app/db.sqlite3"
    relative = parse_database_url(f"{scheme}:///var/app.db", base_dir=tmp_path)
    assert (relative.engine, relative.name) == ("sqlite", str(tmp_path / "var" / "app.db"))


def test_unknown_scheme_is_kept_for_third_party_engines() -> None:
    config = parse_database_url("duckdb+native://u@h/analytics")
    assert config.engine == "duckdb"
    assert normalise_engine("PDO_PGSQL") == "postgresql"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("just-a-name", "not a database URL"),
        ("mysql://app:pw@db", "names no database"),
        ("sqlite:///", "names no file"),
        ("mysql://app:topsecret99@db:99999/shop", "invalid port"),
        ("mysql://app:pa#ss@db:port/shop", "invalid port"),
        ("mysql://app:pa?ss@db:port/shop", "invalid port"),
        ("mysql://app:topsecret99?x@db:99999/shop", "invalid port"),
        ("mysql://app:topsecret99@x?y@db:99999/shop", "names no database"),
        ("mysql://app@db[/shop", "invalid host"),
        ("mysql://app:topsecret99[?x@db:port/shop", "invalid host"),
        ("sqlite:///a\0b.db", "control character"),
        ("mysql://app:topsecret99@db/shop\n", "control character"),
        ("postgresql://app:topsecret99@d\udcffb/shop", "not text"),
    ],
)
def test_errors_are_one_line_and_masked(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_database_url(url)
    text = str(info.value)
    assert "\n" not in text
    assert "topsecret99" not in text and "pa#ss" not in text and "pa?ss" not in text and "x?y" not in text


def test_url_round_trip_and_masking() -> None:
    config = parse_database_url("mysql://app:p%40ss@db.example:3307/shop?charset=utf8mb4")
    assert parse_database_url(config.url()).password == "p@ss"
    assert config.url(mask_password=True) == "mysql://app:***@db.example:3307/shop?charset=utf8mb4"
    assert "p@ss" not in repr(config)
    assert config.masked()["password"] == "***"
    assert not config.is_local()


#: Characters of generated passwords as people and password managers write them into a URL unencoded
#: ("%" left out: "%41" is an encoded "A", as every URL parser reads it).
_PASSWORD_CHARACTERS = st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="%")


@given(password=st.text(_PASSWORD_CHARACTERS, min_size=1, max_size=24))
def test_unencoded_passwords_are_read_whole(password: str) -> None:
    """An unencoded password with "@", ":", "/", "#" or "?" is the whole password, the host and port are the
    ones after it. (Only "@" followed later by "?", as in "a@b?c", stays ambiguous: "b" could be the host
    and "c@db..." a query.)"""
    at = password.find("@")
    if at >= 0 and "?" in password[at:]:
        return
    config = parse_database_url(f"mysql://app:{password}@db.example:3307/shop?charset=utf8mb4")
    assert (config.user, config.password, config.host, config.port, config.name) == (
        "app", password, "db.example", 3307, "shop")
    assert config.options == {"charset": "utf8mb4"}


@given(password=st.text(_PASSWORD_CHARACTERS, min_size=6, max_size=24))
@example(password="000/0?")
def test_a_url_synco_refuses_never_shows_its_password(password: str) -> None:
    """Most of these are refused (the port is no number); an unencoded "/" may end the authority early, and
    "app:000/0?..." then reads as host app, port 0: refused too (no server listens on port 0)."""
    try:
        parse_database_url(f"mysql://app:{password}@db.example:port/shop")
    except ConfigError as refused:
        assert password not in str(refused)
    else:
        # "app:123/x?@db...": host app, port 123, database x, a query: what "encode it" is documented for.
        assert "/" in password


def test_port_zero_is_refused() -> None:
    """No server listens on port 0: read so, a password with an unencoded '/' would pass for host and port."""
    with pytest.raises(ConfigError, match=r"invalid port \(0\)") as refused:
        parse_database_url("mysql://app:s3cret@db.example:0/shop")
    assert "s3cret" not in str(refused.value)
    with pytest.raises(ConfigError, match=r"invalid port") as refused:
        parse_database_url("mysql://app:000/0?@db.example:port/shop")
    assert "000/0" not in str(refused.value)


_PART = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)


@given(name=st.one_of(st.none(), _PART), host=st.one_of(st.none(), _PART),
       port=st.one_of(st.none(), st.integers(1, 65535)), user=st.one_of(st.none(), _PART),
       password=st.one_of(st.none(), _PART), setting_name=st.one_of(st.none(), _PART))
def test_url_beside_settings_wins_where_it_speaks_and_the_settings_fill_the_rest(
        name: str | None, host: str | None, port: int | None, user: str | None, password: str | None,
        setting_name: str | None) -> None:
    """Laravel's ConfigurationUrlParser, Active Record's UrlConfig and DBAL's parseDatabaseUrl: a URL over the
    settings beside it, each part of the URL winning, each part it leaves out (the database name too) taken
    from the settings. A URL without a database, beside settings without one, is refused in one line."""
    userinfo = f"{user}{':' + password if password is not None else ''}@" if user is not None else ""
    url = f"mysql://{userinfo}{host or ''}{':' + str(port) if port and host else ''}/{name or ''}"
    beside = DatabaseConfig(engine="mysql", name=setting_name or "", host="settings-host", port=4406,
                            user="settings-user", password="settings-pw", options={"charset": "utf8mb4"})
    if not name and not setting_name:
        with pytest.raises(ConfigError, match="names no database, nor do the settings beside it"):
            parse_database_url(url, beside=beside)
        return
    config = parse_database_url(url, beside=beside)
    assert config.name == (name or setting_name)
    assert config.host == (host or "settings-host")
    assert config.port == (port if port and host else 4406)
    assert config.user == (user if user is not None else "settings-user")
    assert config.password == (password if user is not None and password is not None else "settings-pw")
    assert config.options == {"charset": "utf8mb4"}


def test_url_beside_settings_keeps_the_urls_socket_and_sqlite_file(tmp_path: Path) -> None:
    beside = DatabaseConfig(engine="mysql", name="shop", host="db.example", socket="/settings.sock")
    socket = parse_database_url("mysql://app@localhost/shop?unix_socket=/run/mysqld.sock", beside=beside)
    assert (socket.socket, socket.host) == ("/run/mysqld.sock", "localhost")
    hostless = parse_database_url("mysql://app@%2Frun%2Fm.sock/", beside=beside)
    assert (hostless.socket, hostless.host, hostless.name) == ("/run/m.sock", None, "shop")
    lite = parse_database_url("sqlite:///db.sqlite", base_dir=tmp_path, beside=beside)
    assert (lite.engine, lite.name) == ("sqlite", str(tmp_path / "db.sqlite"))
    # Without settings beside it a URL must name its database, as before.
    with pytest.raises(ConfigError, match="names no database"):
        parse_database_url("mysql://app@db.example:3306")
