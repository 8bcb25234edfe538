"""PDO MySQL driver options of PHP frameworks mapped to the MySQL engine's TLS options."""

from __future__ import annotations

import pytest

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
