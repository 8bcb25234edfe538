"""PDO MySQL driver options of PHP frameworks mapped to the MySQL engine's TLS options."""

from __future__ import annotations

import pytest

from synco_core import ConfigError, DatabaseConfig, PhpUnknown, pdo_mysql_endpoint
from synco_core.frameworkutil.pdo import attribute_name, tls_options


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("PDO::MYSQL_ATTR_SSL_CA", "MYSQL_ATTR_SSL_CA"),
        ("\\PDO::MYSQL_ATTR_SSL_CERT", "MYSQL_ATTR_SSL_CERT"),
        ("Pdo\\Mysql::ATTR_SSL_KEY", "MYSQL_ATTR_SSL_KEY"),
        ("MYSQL_ATTR_SSL_VERIFY_SERVER_CERT", "MYSQL_ATTR_SSL_VERIFY_SERVER_CERT"),
        (1009, "MYSQL_ATTR_SSL_CA"),
        ("1014", "MYSQL_ATTR_SSL_VERIFY_SERVER_CERT"),
        (1002, None),
        ("not a constant", None),
    ],
)
def test_attribute_names(key: object, name: str | None) -> None:
    assert attribute_name(key) == name


def test_tls_options() -> None:
    assert tls_options({"PDO::MYSQL_ATTR_SSL_CA": "/ca.pem", 1008: "/cert.pem", 1007: "/key.pem",
                        1014: "1", 1002: "SET NAMES utf8mb4", 1010: "/capath"}) == {
        "ssl_ca": "/ca.pem", "ssl_cert": "/cert.pem", "ssl_key": "/key.pem", "ssl_verify_cert": "true"}
    assert tls_options({1014: False, 1009: None, 1008: ""}) == {"ssl_verify_cert": "false"}
    assert tls_options({1012: "/ca.pem"}, numbers={1012: "MYSQL_ATTR_SSL_CA"}) == {"ssl_ca": "/ca.pem"}
    assert tls_options([]) == {} and tls_options(None) == {}


@pytest.mark.parametrize("key", ["PDO::MYSQL_ATTR_SSL_CA", "Pdo\\Mysql::ATTR_SSL_CERT", 1007,
                                 "PDO::MYSQL_ATTR_SSL_VERIFY_SERVER_CERT"])
def test_a_tls_option_only_php_knows_is_an_error_not_left_out(key: object) -> None:
    """Left out, or taken as the text of the unknown value, the connection would go without the TLS the
    application uses (or verify a server it does not)."""
    with pytest.raises(ConfigError, match=r"cannot be read without PHP \(ca_path\(\) is not evaluated\)"):
        tls_options({key: PhpUnknown("ca_path() is not evaluated")})
    assert tls_options({key: None, "PDO::ATTR_PERSISTENT": PhpUnknown("other options do not matter")}) == {}


@pytest.mark.parametrize("engine", ["mysql", "postgresql", "sqlite"])
@pytest.mark.parametrize("host", [None, "", "localhost", "127.0.0.1", "db.example.com", "LOCALHOST"])
@pytest.mark.parametrize("socket", [None, "", "/run/mysqld/mysqld.sock"])
def test_a_mysql_host_beside_a_socket_is_taken_as_php_takes_it(engine: str, host: str | None,
                                                                  socket: str | None) -> None:
    """mysqlnd connects through the socket only for ``localhost`` (or no host), else over TCP to the host: the
    endpoint synco reaches is the one the site does, and only MySQL's settings with both are touched."""
    config = DatabaseConfig(engine=engine, name="app", host=host, port=3306, user="u", password="p", socket=socket)
    endpoint = pdo_mysql_endpoint(config)
    if engine != "mysql" or not socket or not host:
        assert endpoint == config
    elif host == "localhost":
        assert endpoint == config.replace(host=None)
    else:
        assert endpoint == config.replace(socket=None)
