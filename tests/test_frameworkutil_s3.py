"""Listing an S3 bucket as public-file entries (``synco_core.s3_public_entries``), against the ``s3_bucket``
stand-in of ``synco_core.testing.services``: pages, signing, prefixes, URLs, refusals and unsafe keys."""

from __future__ import annotations

import datetime

import pytest

from synco_core import S3Location, TransferError, s3_public_entries
from synco_core.frameworkutil.s3 import signed_headers
from synco_core.redaction import redact
from synco_core.testing.services import FakeBucket


def test_listing_pages_and_urls(s3_bucket: FakeBucket) -> None:
    s3_bucket.objects = [("media/a.png", 10), ("media/sub dir/b.png", 20), ("media/c.txt", 30), ("media/folder/", 0),
                         ("other/d.txt", 40)]
    location = S3Location(bucket="shop", region="eu-central-1", endpoint=s3_bucket.endpoint, path_style=True,
                          access_key="AKIDEXAMPLE", secret_key="wJalrXUtnFEMI", prefix="media",
                          public_url="https://cdn.example.com/")
    entries = list(s3_public_entries(location))
    assert [(e.path, e.size, e.uri) for e in entries] == [
        ("a.png", 10, "https://cdn.example.com/media/a.png"),
        ("sub dir/b.png", 20, "https://cdn.example.com/media/sub%20dir/b.png"),
        ("c.txt", 30, "https://cdn.example.com/media/c.txt"),
    ]
    assert all(e.is_absolute_url and e.mtime == 1709294400 for e in entries)
    assert len(s3_bucket.requests) == 2, "two pages of two keys"
    assert s3_bucket.requests[0]["prefix"] == ["media/"]
    assert s3_bucket.requests[1]["continuation-token"] == ["2"]


def test_listing_refused(s3_bucket: FakeBucket) -> None:
    location = S3Location(bucket="shop", region="us-east-1", endpoint=s3_bucket.endpoint, path_style=True,
                          public_url="https://cdn.example.com")
    with pytest.raises(TransferError, match="HTTP 403 AccessDenied"):
        list(s3_public_entries(location))


def test_anonymous_listing_of_a_public_bucket(s3_bucket: FakeBucket) -> None:
    s3_bucket.access_key = None
    s3_bucket.objects = [("x.txt", 1)]
    location = S3Location(bucket="pub", region="us-east-1", endpoint=s3_bucket.endpoint, path_style=True,
                          public_url="https://pub.example.com")
    assert [e.uri for e in s3_public_entries(location)] == ["https://pub.example.com/x.txt"]


def test_unsafe_keys_are_skipped(s3_bucket: FakeBucket) -> None:
    s3_bucket.objects = [("../escape.txt", 1), ("ok.txt", 2), ("/abs.txt", 3)]
    location = S3Location(bucket="b", region="us-east-1", endpoint=s3_bucket.endpoint, path_style=True,
                          access_key="AKIDEXAMPLE", secret_key="k", public_url="https://cdn.example.com")
    assert [e.path for e in s3_public_entries(location)] == ["ok.txt"]


def test_endpoint_styles() -> None:
    assert S3Location(bucket="b", region="eu-west-1").list_url() == "https://b.s3.eu-west-1.amazonaws.com/"
    assert S3Location(bucket="b", region="eu-west-1", path_style=True).list_url() == (
        "https://s3.eu-west-1.amazonaws.com/b/")
    assert S3Location(bucket="b", region="x", endpoint="https://minio.local:9000").list_url() == (
        "https://b.minio.local:9000/")
    assert S3Location(bucket="b", region="x", endpoint="minio.local", path_style=True).list_url() == (
        "https://minio.local/b/")


def test_signature_matches_the_aws_example() -> None:
    """AWS's own documented GET-bucket-listing example (SigV4 "Example: GET Bucket (List Objects)")."""
    location = S3Location(bucket="examplebucket", region="us-east-1", access_key="AKIAIOSFODNN7EXAMPLE",
                          secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    now = datetime.datetime(2013, 5, 24, tzinfo=datetime.timezone.utc)
    headers = signed_headers(location, "https://examplebucket.s3.amazonaws.com/", "max-keys=2&prefix=J", now)
    assert headers["authorization"].endswith(
        "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")


def test_the_secret_key_is_a_secret_whoever_read_it() -> None:
    """django-storages' secret key and a session token were never registered: a library's message quoting them
    went out under --debug as it was (Laravel's plugin registered its own)."""
    location = S3Location(bucket="b", region="x", access_key="AKIDEXAMPLE", secret_key="s3-Secret-Key-81",
                          session_token="s3-Session-Token-82")
    assert "s3-Secret-Key-81" not in repr(location)
    assert redact("signing with s3-Secret-Key-81 and s3-Session-Token-82") == "signing with *** and ***"


@pytest.mark.parametrize(("text", "seconds"), [
    ("2024-03-01T12:00:00.000Z", 1709294400),
    ("2024-03-01T12:00:00Z", 1709294400),
    # Other S3 servers write an offset, or none: the same instant (it was read as 1970 before).
    ("2024-03-01T14:00:00.000+02:00", 1709294400),
    ("2024-03-01T07:00:00-05:00", 1709294400),
    ("2024-03-01T12:00:00", 1709294400),
    ("2024-03-01T12:00:00.999999Z", 1709294400),
    ("1969-12-31T23:59:59.5Z", -1),
    ("not a time", 0),
])
def test_last_modified_in_every_form_names_its_instant(text: str, seconds: int) -> None:
    from synco_core.frameworkutil.s3 import _mtime

    assert _mtime(text) == seconds
