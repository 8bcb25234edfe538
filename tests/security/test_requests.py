"""Issue 14, item 4: requests go only where the user pointed.

Absolute public-file URLs are fetched only from the session's origin or from origins the encrypted meta
declares (``urlOrigins``); never from loopback, link-local or private addresses unless the session itself
is on such an address (judged by the addresses a name resolves to and the address actually connected);
``Authorization`` only to the exact origin it was given for; with a password, https never falls back to
http.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from crafted_session import CraftedServer, CraftedSession, error_lines, run_receive
from hypothesis import given
from hypothesis import strategies as st

from synco_core.cli.main import cli
from synco_core.origins import LINK_LOCAL, LOOPBACK, PRIVATE, PUBLIC, UNUSABLE, address_allowed, address_scope
from synco_core.receive import HttpTransport, ReceiveOptions, receive_session

BODY = b"public file body\n"


def _entry(uri: str, size: int = len(BODY)) -> dict[str, object]:
    return {"sizeBytes": size, "mTime": 1_700_000_000, "publicUri": uri, "isAbsoluteUrl": uri.startswith("http")}


def _cdn(crafted_server: Callable[..., CraftedServer], tmp_path: Path) -> CraftedServer:
    root = tmp_path / "cdn"
    root.mkdir()
    (root / "x.txt").write_bytes(BODY)
    return crafted_server(root)


def test_an_origin_the_session_does_not_declare_is_never_asked(crafted: CraftedSession,
                                                               crafted_server: Callable[..., CraftedServer],
                                                               tmp_path: Path) -> None:
    cdn = _cdn(crafted_server, tmp_path)
    crafted.ready(crafted.public_set({"x.txt": _entry(cdn.url + "x.txt")}, urlOrigins=None))
    result = run_receive(crafted, crafted_server(crafted.web_root).url, tmp_path / "t")
    assert result.exit_code == 1, result.output
    assert f"the index names files on {cdn.origin}, which the session does not declare" in result.output
    assert cdn.requests == []


def test_a_declared_origin_is_fetched_from(crafted: CraftedSession, crafted_server: Callable[..., CraftedServer],
                                          tmp_path: Path) -> None:
    cdn = _cdn(crafted_server, tmp_path)
    crafted.ready(crafted.public_set({"x.txt": _entry(cdn.url + "x.txt")}))
    result = run_receive(crafted, crafted_server(crafted.web_root).url, tmp_path / "t")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t" / "public" / "x.txt").read_bytes() == BODY


def test_go_sessions_fetch_absolute_urls_from_their_own_host_only(crafted: CraftedSession,
                                                                  crafted_server: Callable[..., CraftedServer],
                                                                  tmp_path: Path) -> None:
    """Go synco v2 declares no origins: its absolute URLs must be on the session's own server."""
    (crafted.web_root / "own.txt").write_bytes(BODY)
    server = crafted_server(crafted.web_root)
    cdn = _cdn(crafted_server, tmp_path)
    own = crafted.public_set({"own.txt": _entry(server.url + "own.txt")}, name="own", urlOrigins=None,
                             indexSizeBytes=None, encryptedSizeBytes=None, compress=False)
    other = crafted.public_set({"x.txt": _entry(cdn.url + "x.txt")}, name="other", urlOrigins=None,
                               indexSizeBytes=None, encryptedSizeBytes=None, compress=False)
    crafted.ready(own, other, generator=None, sessionId=None, createdAt=None, expiresAt=None)
    result = run_receive(crafted, server.url, tmp_path / "t")
    assert result.exit_code == 1, result.output
    assert (tmp_path / "t" / "own" / "own.txt").read_bytes() == BODY
    assert "does not declare" in result.output
    assert cdn.requests == []


@pytest.mark.parametrize("origin, address", [
    ("http://192.0.2.2:1", "192.0.2.2"), ("http://169.254.169.254", "169.254.169.254"), ("http://10.0.0.1", "10.0.0.1"),
    ("http://[fd00::1]", "fd00::1"), ("http://[fe80::1]", "fe80::1"), ("http://100.64.0.1", "100.64.0.1"),
    ("http://0.0.0.0:1", "0.0.0.0"),
])
def test_internal_addresses_need_a_session_on_one(crafted: CraftedSession,
                                                  crafted_server: Callable[..., CraftedServer],
                                                  tmp_path: Path, origin: str, address: str) -> None:
    """A session on 127.0.0.1 (loopback) may not point at the LAN, a cloud metadata service or link-local."""
    crafted.ready(crafted.public_set({"x.txt": _entry(origin + "/x.txt")}))
    result = run_receive(crafted, crafted_server(crafted.web_root).url, tmp_path / "t", "--jobs", "1")
    assert result.exit_code == 1, result.output
    assert "failed: x.txt: refusing to fetch from" in result.output, result.output
    assert f"it is at {address}, a {address_scope(address)} address" in result.output, result.output
    assert "run the same command again" not in result.output, "a refusal is not worth another try"


class Names:
    """A resolver for names that do not exist in DNS (the transport asks it instead of the system's)."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.table.get(host) or ["127.0.0.1"]


@pytest.mark.parametrize("addresses, fetched", [
    (["127.0.0.1"], True),
    (["169.254.169.254"], False),
    (["10.1.2.3"], False),
    (["127.0.0.1", "10.1.2.3"], False),
    (["::ffff:10.1.2.3"], False),
], ids=["same-kind", "metadata", "lan", "one-bad-address", "mapped-v6"])
def test_a_name_is_judged_by_the_addresses_it_resolves_to(crafted: CraftedSession,
                                                          crafted_server: Callable[..., CraftedServer],
                                                          tmp_path: Path, addresses: list[str], fetched: bool) -> None:
    cdn = _cdn(crafted_server, tmp_path)
    url = f"http://cdn.test:{cdn.port}/x.txt"
    crafted.ready(crafted.public_set({"x.txt": _entry(url)}))
    server = crafted_server(crafted.web_root)
    names = Names({"cdn.test": addresses})
    transport = HttpTransport(server.url, resolve=names)
    try:
        summary = receive_session(transport, crafted.session_id, crafted.key,
                                  ReceiveOptions(target=tmp_path / "t", all=True, jobs=1))
    finally:
        transport.close()
    assert "cdn.test" in names.asked
    [outcome] = summary.sets
    if fetched:
        assert outcome.status == "downloaded", outcome
        assert cdn.requests[0].headers["Host"] == f"cdn.test:{cdn.port}"
    else:
        assert outcome.status == "partial", outcome
        assert "refusing to fetch from cdn.test" in outcome.files_failed[0][1]
        assert cdn.requests == []


def test_credentials_go_to_the_exact_origin_only(crafted: CraftedSession,
                                                 crafted_server: Callable[..., CraftedServer],
                                                 tmp_path: Path) -> None:
    """Same host, another port: another origin, so no ``Authorization`` (curl's rule)."""
    cdn = _cdn(crafted_server, tmp_path)
    (crafted.web_root / "own.txt").write_bytes(BODY)
    crafted.ready(crafted.public_set({"x.txt": _entry(cdn.url + "x.txt"), "own.txt": _entry("own.txt")}))
    server = crafted_server(crafted.web_root)
    url = f"http://user:s3cret-pw@127.0.0.1:{server.port}/"
    result = run_receive(crafted, url, tmp_path / "t")
    assert result.exit_code == 0, result.output
    assert "s3cret-pw" not in result.output
    assert all("Authorization" in r.headers for r in server.requests)
    assert cdn.requests and not any("Authorization" in r.headers for r in cdn.requests)


def test_redirects_to_another_origin_are_refused(crafted: CraftedSession,
                                                 crafted_server: Callable[..., CraftedServer],
                                                 tmp_path: Path) -> None:
    cdn = _cdn(crafted_server, tmp_path)
    crafted.ready(crafted.public_set({"own.txt": _entry("own.txt")}))
    server = crafted_server(crafted.web_root)
    server.redirect("/own.txt", cdn.url + "x.txt")
    result = run_receive(crafted, f"http://user:s3cret-pw@127.0.0.1:{server.port}/", tmp_path / "t")
    assert result.exit_code == 1, result.output
    assert "refusing redirect" in result.output
    assert cdn.requests == []


@pytest.mark.parametrize("location", ["http://elsewhere.invalid/x.txt", "file:///etc/passwd", "ftp://127.0.0.1/x",
                                      "gopher://127.0.0.1:70/x", "//elsewhere.invalid/x.txt"])
def test_a_refused_redirect_is_a_refusal_not_a_reason_to_retry(crafted: CraftedSession,
                                                              crafted_server: Callable[..., CraftedServer],
                                                              tmp_path: Path, location: str) -> None:
    """Any other host or scheme; receive said "run the same command again to continue", which meets it again."""
    crafted.ready(crafted.public_set({"own.txt": _entry("own.txt")}))
    server = crafted_server(crafted.web_root)
    server.redirect("/own.txt", location)
    result = run_receive(crafted, server.url, tmp_path / "t")
    assert result.exit_code == 1, result.output
    assert "refusing redirect" in result.output or "only http(s) URLs are fetched" in result.output
    assert "running the same command again would get the same" in result.output, result.output
    assert not (tmp_path / "t" / "public" / "own.txt").exists()


@pytest.mark.parametrize("uri", ["file:///etc/passwd", "ftp://127.0.0.1/x", "javascript:alert(1)", "data:,x"])
def test_a_public_uri_of_another_scheme_is_a_refusal(crafted: CraftedSession,
                                                     crafted_server: Callable[..., CraftedServer],
                                                     tmp_path: Path, uri: str) -> None:
    crafted.ready(crafted.public_set({"own.txt": _entry(uri)}))
    server = crafted_server(crafted.web_root)
    result = run_receive(crafted, server.url, tmp_path / "t")
    assert result.exit_code == 1, result.output
    assert "only http(s) URLs are fetched" in result.output
    assert "running the same command again would get the same" in result.output, result.output


def test_with_a_password_https_never_falls_back_to_http(crafted: CraftedSession,
                                                        crafted_server: Callable[..., CraftedServer],
                                                        tmp_path: Path) -> None:
    """``user:pw@host`` without a scheme: tried over https only, so the password never crosses in clear."""
    crafted.ready(crafted.dump_set())
    server = crafted_server(crafted.web_root)
    result = CliRunner().invoke(cli, ["receive", crafted.session_id, crafted.key, "--base-url",
                                      f"user:s3cret-pw@127.0.0.1:{server.port}", "--target", str(tmp_path / "t"),
                                      "--all"])
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert "https://127.0.0.1" in line and "http://127.0.0.1" not in line, line
    assert "s3cret-pw" not in result.output
    assert not any("Authorization" in r.headers for r in server.requests)


# ------------------------------------------------------------------------------------------ properties

_IPV4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
_IPV6 = st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n)))


@given(st.one_of(_IPV4, _IPV6), st.sampled_from([None, LOOPBACK, LINK_LOCAL, PRIVATE, PUBLIC]))
def test_only_public_addresses_or_the_sessions_own_kind(address: str, session: str | None) -> None:
    ip = ipaddress.ip_address(address)
    plain = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
    scope = address_scope(address)
    if plain.is_loopback or plain.is_link_local or plain.is_unspecified or plain.is_multicast or not plain.is_global:
        assert scope != PUBLIC
    allowed = address_allowed(address, session)
    assert allowed == (scope == PUBLIC or (scope != UNUSABLE and scope == session))
    if isinstance(ip, ipaddress.IPv4Address):
        assert address_scope(f"::ffff:{address}") == scope, "an IPv4-mapped address is the IPv4 address"


def test_serve_declares_the_origins_of_the_absolute_urls_it_indexes(tmp_path: Path) -> None:
    """What receive will fetch from is written by serve from the file sets' own URLs (an S3 disk, a CDN)."""
    import zstandard

    from synco_core import age
    from synco_core.receive.meta import identities_for
    from synco_core.serve import BuildOptions, SessionFolder, SessionKey
    from synco_core.serve.build import write_public_index
    from synco_core.values import FileSet, PublicFile

    def entries() -> Iterator[PublicFile]:
        yield PublicFile("a.jpg", 1, 1, "https://bucket.s3.eu-west-1.amazonaws.com/a.jpg", True)
        yield PublicFile("b.jpg", 1, 1, "https://CDN.example.com:8443/b.jpg?v=1", True)
        yield PublicFile("c.jpg", 1, 1, "uploads/c.jpg")

    key = SessionKey.generate()
    folder = SessionFolder(tmp_path / "synco-origins0123456789", key.recipients)
    folder.path.mkdir()
    file_set = write_public_index(FileSet(name="media", kind="public", entries=entries), folder, BuildOptions())
    assert file_set.public is not None
    assert file_set.public.url_origins == ["https://bucket.s3.eu-west-1.amazonaws.com", "https://cdn.example.com:8443"]
    raw = (folder.path / file_set.public.index_file_name).read_bytes()
    index = zstandard.ZstdDecompressor().decompressobj().decompress(age.decrypt_bytes(raw, identities_for(key.secret)))
    assert file_set.public.index_size_bytes == len(index)
