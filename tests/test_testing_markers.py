"""``synco_core.testing.assert_no_markers``, the check every plugin's personal-data test ends with, fails on
what it exists to catch: a planted marker in the dump (in text or, asked to, in a blob's hexadecimal) or a
value that is not personal gone."""

from __future__ import annotations

import pytest

from synco_core.testing import PII_MARKERS, assert_no_markers


@pytest.mark.parametrize("dump", [
    b"INSERT INTO users VALUES (1,'pii-ann@real.example');",
    b"INSERT INTO logins VALUES (1,'203.0.113.7');",
    b"INSERT INTO users VALUES (1,'PII-Shouted');",
])
def test_a_marker_left_in_the_dump_fails(dump: bytes) -> None:
    with pytest.raises(AssertionError, match="personal data or credentials in the dump"):
        assert_no_markers(dump)


def test_a_marker_in_a_blob_fails_when_asked() -> None:
    dump = b"INSERT INTO data VALUES (1,X'" + b"pii-secret".hex().encode() + b"');"
    assert_no_markers(dump)
    with pytest.raises(AssertionError, match="in hexadecimal"):
        assert_no_markers(dump, in_blobs=True)


def test_a_value_that_is_not_personal_must_stay() -> None:
    dump = b"INSERT INTO posts VALUES (1,'kept-post');"
    assert_no_markers(dump, kept=(b"kept-post",))
    with pytest.raises(AssertionError, match="kept-title"):
        assert_no_markers(dump, kept=(b"kept-post", b"kept-title"))


def test_the_markers_leave_ordinary_values_alone() -> None:
    assert not PII_MARKERS.search(b"INSERT INTO t VALUES ('pin', 'api', '203.0.114.1', 'user1@example.invalid');")
