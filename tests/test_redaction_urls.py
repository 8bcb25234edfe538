"""Passwords of URLs quoted in another program's messages never reach synco's output."""

from __future__ import annotations

import pytest

from synco_core import mask_url_passwords, register_secret


@pytest.mark.parametrize(("text", "expected"), [
    ("could not parse postgres://app:s3cr%40t@db:5432/shop: bad port",
     "could not parse postgres://app:***@db:5432/shop: bad port"),
    ("mysql2://root:p%40ss@127.0.0.1/app and sqlite3:db/x.sqlite3",
     "mysql2://root:***@127.0.0.1/app and sqlite3:db/x.sqlite3"),
    ("a URL without a password: https://user@host/x, https://host:8443/y",
     "a URL without a password: https://user@host/x, https://host:8443/y"),
    ("two: postgis://a:b@h/d redis+sentinel://:pw@h2/0", "two: postgis://a:***@h/d redis+sentinel://:***@h2/0"),
    ("unencoded: postgresql://app:p@ss:w?rd@db/shop failed", "unencoded: postgresql://app:***@db/shop failed"),
    ("unencoded: mysql://app:pa?ss@db:3306/shop failed", "unencoded: mysql://app:***@db:3306/shop failed"),
])
def test_url_passwords_are_masked(text: str, expected: str) -> None:
    assert mask_url_passwords(text) == expected


def test_registered_secrets_are_masked_too() -> None:
    register_secret("registered-token-4711")
    assert mask_url_passwords("token registered-token-4711 in postgres://u:x@h/d") == "token *** in postgres://u:***@h/d"
