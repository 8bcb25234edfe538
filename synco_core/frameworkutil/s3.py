"""Listing an S3 (or S3-compatible) bucket whose files are served from a public URL, as public-file entries.

Frameworks keep uploads in buckets (Laravel's ``s3`` disks, django-storages' ``S3Storage``) and serve them
from the bucket's URL or a CDN in front of it. Only ``ListObjectsV2`` is needed: the files themselves are
fetched by the receiver straight from that public URL, so no object is ever read here. Requests are
signed with AWS Signature Version 4 when there are credentials (anonymous otherwise), and pages are
streamed one at a time (1000 keys each), so memory stays flat for buckets of any size.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from synco_core.errors import TransferError, UnsafePathError
from synco_core.fsutil import safe_relative_path
from synco_core.redaction import register_secret
from synco_core.values import PublicFile

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_UNRESERVED = "-_.~"


@dataclass(frozen=True)
class S3Location:
    """A bucket, the key prefix of the files in it, and where they are served publicly."""

    bucket: str
    region: str
    #: Custom endpoint (MinIO, DigitalOcean Spaces, R2 ...); empty for AWS itself.
    endpoint: str = ""
    path_style: bool = False
    access_key: str = ""
    secret_key: str = field(default="", repr=False)
    session_token: str = field(default="", repr=False)
    #: The key prefix of the files (Laravel's ``root``, django-storages' ``location``), without slashes around it.
    prefix: str = ""
    #: Where the bucket's keys are served publicly: an object's URL is this, a slash, and its whole key.
    public_url: str = ""

    def __post_init__(self) -> None:
        # Registered here, whoever read them (Laravel's disks, django-storages): a listing's error or a
        # library's log line quoting them is then redacted as a database password is.
        register_secret(self.secret_key)
        register_secret(self.session_token)

    def list_url(self) -> str:
        """The URL of the bucket listing (without query)."""
        if self.endpoint:
            base = self.endpoint.rstrip("/")
            if "://" not in base:
                base = "https://" + base
            if self.path_style:
                return f"{base}/{quote(self.bucket, safe='')}/"
            parts = urlsplit(base)
            return f"{parts.scheme}://{self.bucket}.{parts.netloc}{parts.path}/"
        if self.path_style:
            return f"https://s3.{self.region}.amazonaws.com/{quote(self.bucket, safe='')}/"
        return f"https://{self.bucket}.s3.{self.region}.amazonaws.com/"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def signed_headers(location: S3Location, url: str, query: str, now: datetime.datetime) -> dict[str, str]:
    """The headers of a SigV4-signed GET of ``url?query`` (``query`` already canonical: sorted, encoded)."""
    parts = urlsplit(url)
    payload_hash = hashlib.sha256(b"").hexdigest()
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    headers = {"host": parts.netloc, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
    if location.session_token:
        headers["x-amz-security-token"] = location.session_token
    if not location.access_key:
        return headers
    names = sorted(headers)
    canonical_request = "\n".join([
        "GET",
        quote(parts.path or "/", safe="/" + _UNRESERVED),
        query,
        "".join(f"{name}:{headers[name].strip()}\n" for name in names),
        ";".join(names),
        payload_hash,
    ])
    scope = f"{amz_date[:8]}/{location.region}/s3/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()]
    )
    key = _hmac(("AWS4" + location.secret_key).encode("utf-8"), amz_date[:8])
    for part in (location.region, "s3", "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={location.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return headers


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _mtime(text: str) -> int:
    """Seconds since the epoch of an S3 ``LastModified`` (``2024-01-02T03:04:05.000Z``), rounded down.

    AWS writes UTC with a ``Z``; other S3 servers write an offset (``+02:00``) or none (read as UTC): each
    names the same instant, which a laptop dates its copy by. Text that is no time at all gives 0.
    """
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return (moment - _EPOCH) // datetime.timedelta(seconds=1)


def s3_public_entries(location: S3Location, client: httpx.Client | None = None) -> Iterator[PublicFile]:
    """Every object under the location's prefix as a public-file entry with its absolute public URL.

    Paths are relative to the prefix; pages are fetched one at a time as the entries are consumed.

    :raises TransferError: the bucket refused the listing (wrong credentials, no such bucket ...).
    """
    own_client = client is None
    # Imported here: every synco command loads the plugins, few list a bucket.
    import httpx

    http = client or httpx.Client(timeout=60.0)
    prefix = location.prefix + "/" if location.prefix else ""
    public_base = location.public_url.rstrip("/")
    url = location.list_url()
    token: str | None = None
    try:
        while True:
            params = {"list-type": "2", "max-keys": "1000"}
            if prefix:
                params["prefix"] = prefix
            if token:
                params["continuation-token"] = token
            query = "&".join(
                f"{quote(k, safe=_UNRESERVED)}={quote(v, safe=_UNRESERVED)}" for k, v in sorted(params.items())
            )
            headers = signed_headers(location, url, query, datetime.datetime.now(datetime.timezone.utc))
            headers.pop("host")
            try:
                response = http.get(f"{url}?{query}", headers=headers)
            except httpx.HTTPError as exc:
                raise TransferError(f"cannot list s3 bucket {location.bucket}: {type(exc).__name__}") from None
            if response.status_code != 200:
                raise TransferError(
                    f"listing s3 bucket {location.bucket} failed: HTTP {response.status_code} {_error_code(response)}"
                )
            root = ET.fromstring(response.content)
            for item in root.iter(f"{_NS}Contents"):
                key = item.findtext(f"{_NS}Key") or ""
                if not key or key.endswith("/"):
                    continue
                relative = key[len(prefix):] if key.startswith(prefix) else key
                try:
                    path = safe_relative_path(relative).as_posix()
                except UnsafePathError:
                    log.warning("s3 key %r skipped: not a safe relative path", key)
                    continue
                yield PublicFile(
                    path=path,
                    size=int(item.findtext(f"{_NS}Size") or 0),
                    mtime=_mtime(item.findtext(f"{_NS}LastModified") or ""),
                    uri=f"{public_base}/{quote(key, safe='/' + _UNRESERVED)}",
                    is_absolute_url=True,
                )
            token = root.findtext(f"{_NS}NextContinuationToken")
            if (root.findtext(f"{_NS}IsTruncated") or "").lower() != "true" or not token:
                return
    finally:
        if own_client:
            http.close()


def _error_code(response: httpx.Response) -> str:
    """The ``<Code>`` of an S3 error document, if the body is one."""
    try:
        return ET.fromstring(response.content).findtext("Code") or ""
    except ET.ParseError:
        return ""
