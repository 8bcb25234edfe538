"""The local-target guard parses addresses: what counts as "this machine" for the installers.

Loopback addresses written as addresses (all of 127.0.0.0/8, ``::1``, IPv4-mapped forms), ``localhost``,
sockets, no host at all and the project's ``local_hosts`` are local; everything else is not, however
much it looks like a loopback address: a name that merely starts with one (``127.0.0.1.prod.example.com``,
``localhost.evil.com``) is whatever its DNS says, and the shorthands ``inet_aton`` accepts (``127.1``,
``0x7f.1``, ``2130706433``) are refused with them. The properties are checked over generated hosts; the
installers of all three engines and the MySQL TLS policy follow the same rule.
"""

from __future__ import annotations

import ipaddress
import socket
import string

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from synco_core.dburl import parse_database_url
from synco_core.engines import guard
from synco_core.engines.mysql.connect import tls_settings
from synco_core.errors import ConfigError
from synco_core.values import DatabaseConfig, InstallOptions

loopback_v4 = st.integers(0x7F000000, 0x7FFFFFFF).map(lambda n: str(ipaddress.IPv4Address(n)))
other_v4 = st.integers(0, 2**32 - 1).filter(lambda n: n >> 24 != 127).map(lambda n: str(ipaddress.IPv4Address(n)))
other_v6 = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address).filter(
    lambda a: not a.is_loopback and not (a.ipv4_mapped and a.ipv4_mapped.is_loopback)).map(str)
label = st.text(string.ascii_lowercase + string.digits + "-", min_size=1, max_size=12)
domain = st.lists(label, min_size=1, max_size=4).map(".".join)


def mysql(host: str | None, **changes: object) -> DatabaseConfig:
    return DatabaseConfig(engine="mysql", name="app", host=host, user="u").replace(**changes)


@given(loopback_v4)
@example("127.0.0.1")
@example("127.255.255.255")
def test_every_ipv4_loopback_address_is_local(address: str) -> None:
    assert mysql(address).is_local()
    for mapped in (f"::ffff:{address}", f"[::ffff:{address}]"):
        assert mysql(mapped).is_local(), mapped


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "LocalHost", "::1", "[::1]", "0:0:0:0:0:0:0:1",
                                  "::ffff:7f00:1", "::1%lo"])
def test_loopback_spellings_are_local(host: str) -> None:
    assert mysql(host).is_local()


@pytest.mark.parametrize("database", [
    DatabaseConfig(engine="mysql", name="app"),  # no host: the driver's local default
    DatabaseConfig(engine="mysql", name="app", host="db.example.com", socket="/run/mysqld/mysqld.sock"),
    DatabaseConfig(engine="postgresql", name="app", host="/var/run/postgresql"),  # libpq's socket directory
    DatabaseConfig(engine="sqlite", name="/tmp/app.db", host="db.example.com"),
], ids=["no-host", "socket", "socket-directory", "sqlite"])
def test_sockets_files_and_the_default_are_local(database: DatabaseConfig) -> None:
    assert database.is_local()


@given(other_v4)
@example("0.0.0.0")
@example("10.0.0.1")
@example("128.0.0.1")
@example("126.255.255.255")
def test_no_other_ipv4_address_is_local(address: str) -> None:
    assert not mysql(address).is_local()
    assert not mysql(f"::ffff:{address}").is_local()


@given(other_v6)
@example("::")
@example("::127.0.0.1")  # IPv4-compatible, not mapped: another address
@example("fe80::1")
def test_no_other_ipv6_address_is_local(address: str) -> None:
    assert not mysql(address).is_local()
    assert not mysql(f"[{address}]").is_local()


@given(st.one_of(loopback_v4, st.just("localhost"), st.just("::1")), domain)
@example("127.0.0.1", "prod.example.com")
@example("localhost", "evil.com")
@example("127.126.246.1", "0")
def test_a_loopback_address_followed_by_a_domain_is_a_name_not_local(loopback: str, suffix: str) -> None:
    for host in (f"{loopback}.{suffix}", f"{suffix}.{loopback}", f"{loopback}{suffix}", f"{loopback}.",
                 f" {loopback}", f"{loopback} ", f"{loopback}:3306", f"{loopback}\n{suffix}"):
        if _loopback_address(host):
            continue  # digits glued on may make another loopback address: 127.126.246.1 and 0, 127.126.246.10
        assert not mysql(host).is_local(), host


def _loopback_address(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def inet_aton_spellings(address: int) -> list[str]:
    """Other ways C's inet_aton (and so some drivers) reads ``address``: one number, hex, octal, short forms."""
    octets = address.to_bytes(4, "big")
    return [
        str(address), hex(address), "0" + oct(address)[2:],
        f"{octets[0]}.{int.from_bytes(octets[1:], 'big')}",
        f"{octets[0]}.{octets[1]}.{int.from_bytes(octets[2:], 'big')}",
        ".".join(hex(o) for o in octets), ".".join("0" + oct(o)[2:] for o in octets),
        f"{hex(octets[0])}.{int.from_bytes(octets[1:], 'big')}",
    ]


@given(st.integers(0x7F000000, 0x7FFFFFFF))
@example(0x7F000001)
def test_inet_aton_shorthands_of_loopback_are_not_local(address: int) -> None:
    for spelling in inet_aton_spellings(address):
        if spelling == str(ipaddress.IPv4Address(address)):
            continue  # "127.0.0.1" is itself one of them when no octet needs the short form
        # They do reach this machine through inet_aton: the guard refuses them all the same.
        assert socket.inet_aton(spelling) == address.to_bytes(4, "big"), spelling
        assert not mysql(spelling).is_local(), spelling


@given(st.text(max_size=40))
@example("127.0.0.1.prod.example.com")
@example("localhost.evil.com")
@example("0x7f.1")
@example("[localhost]")
def test_whatever_counts_as_local_is_loopback_without_asking_dns(host: str) -> None:
    """The one direction that matters: a host the guard calls local is localhost or a loopback literal."""
    if not host or host.startswith("/"):
        return  # no host and socket directories are local by design (see above)
    if not mysql(host).is_local():
        return
    if host.lower() == "localhost":
        return
    literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    address = ipaddress.ip_address(literal)  # raises if the guard called a non-address local
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    assert (mapped or address).is_loopback


@given(label, domain)
def test_local_hosts_match_exactly_and_ignore_case(name: str, suffix: str) -> None:
    assert mysql(name).is_local((name,))
    assert mysql(name.upper()).is_local((name,))
    assert not mysql(f"{name}.{suffix}").is_local((name,))
    assert not mysql(f"{suffix}.{name}").is_local((name,))
    assert not mysql(f"x{name}").is_local((name,))
    assert not mysql(name).is_local()


@pytest.mark.parametrize("url", [
    "mysql://root@127.0.0.1.prod.example.com/app",
    "mysql://root@localhost.evil.com/app",
    "mysql://root@127.1/app",
    "mysql://root@0x7f.1/app",
    "postgresql://postgres@127.0.0.1.nip.io/app",
    "postgresql://postgres@[::ffff:10.0.0.1]/app",
])
def test_the_installers_guard_refuses_lookalikes(url: str) -> None:
    database = parse_database_url(url)
    with pytest.raises(ConfigError, match="not on this machine"):
        guard.check_target(database, InstallOptions(yes=True), "replace", "X", database.host or "")


def test_postgresql_without_a_host_is_judged_by_pghost(monkeypatch: pytest.MonkeyPatch) -> None:
    """libpq connects to PGHOST when the URL has no host: the PostgreSQL guard judges that host."""
    from synco_core.engines.postgresql.installer import guard as postgres_guard

    database = parse_database_url("postgresql://postgres@/app")
    monkeypatch.setenv("PGHOST", "db.prod.example.com")
    with pytest.raises(ConfigError, match=r"db\.prod\.example\.com"):
        postgres_guard(database, InstallOptions(yes=True), "replace")
    monkeypatch.setenv("PGHOST", "/var/run/postgresql")
    postgres_guard(database, InstallOptions(yes=True), "replace")
    monkeypatch.delenv("PGHOST")
    monkeypatch.setenv("PGHOSTADDR", "10.1.2.3")
    with pytest.raises(ConfigError, match=r"10\.1\.2\.3"):
        postgres_guard(database, InstallOptions(yes=True), "replace")


@pytest.mark.parametrize(("host", "plain"), [("127.0.0.1", True), ("localhost", True), ("127.0.0.1.example.com", False),
                                             ("localhost.example.com", False), ("127.1", False)])
def test_mysql_tls_policy_uses_the_same_rule(host: str, plain: bool) -> None:
    """No TLS by default only on loopback: a lookalike name gets the remote-host policy (TLS when offered)."""
    from synco_core.values import is_loopback_host

    assert ("ssl_disabled" in tls_settings(mysql(host))) == plain
    assert is_loopback_host(host) == plain
