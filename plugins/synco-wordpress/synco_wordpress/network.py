"""The sites of a multisite network, so that each one answers at its local address, not only the main site.

WordPress finds a network's site by ``wp_blogs.domain`` and ``wp_blogs.path`` and links to each with absolute
URLs. A subdirectory network's sites (``example.com/shop/``) live below the main site's URL, which the rewrite
already follows. A subdomain network's (``shop.example.com``) do not: ``wp search-replace --network
example.com example.test`` turns them into ``shop.example.test``, and so does synco, for the network's own
sites only (a CDN's ``cdn.example.com`` keeps its host). So:

- on the source, ``serve`` publishes the hosts of the network's sites other than the main site's
  (``network_hosts``, from ``<prefix>blogs``) and the network's path (``network_path``);
- on the destination, each site below the main site's domain (``www.`` aside) gets the same name below the local
  one; a site on a host of its own (domain mapping) has no local address synco could know and is named in a
  warning; and a network served locally at another path than production's is refused before anything changes,
  as its sites' paths in ``wp_blogs`` would no longer match a request.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

from synco_core import ConfigError, DatabaseError, Framework, connect_with_engine

log = logging.getLogger(__name__)

#: At most this many hosts are published (a network of thousands of sites on hosts of their own is named in
#: the warning by count beyond the first ones).
MAX_HOSTS = 10_000
#: A host name is at most 253 characters (RFC 1035); a port and brackets fit in the rest.
MAX_HOST_LENGTH = 262


def _path(url: str) -> str:
    return urlsplit(url).path.rstrip("/") + "/"


def _base(host: str) -> str:
    """The domain a subdomain network names its sites below: the main host without ``www.`` (as WordPress's
    ``site-new.php`` makes ``shop.example.com`` on a network at ``www.example.com``)."""
    return host[4:] if host.startswith("www.") else host


def published(framework: Framework, home: str) -> dict[str, str]:
    """``network_hosts`` (the hosts of the network's sites but the main site's, space-separated) and
    ``network_path``, for the destination; the hosts are left empty, with a warning, when ``<prefix>blogs``
    cannot be read."""
    settings = {"network_path": _path(home), "network_hosts": ""}
    database = framework.database
    table = f"{framework.settings.get('table_prefix', 'wp_')}blogs"
    main = urlsplit(home).netloc.lower()
    if database is None:
        return settings
    hosts: set[str] = set()
    try:
        with connect_with_engine(database) as reader:
            for (domain,) in reader.rows(f"SELECT DISTINCT domain FROM {table}"):
                text = (domain.decode("utf-8", "replace") if isinstance(domain, bytes) else str(domain)).strip().lower()
                if (text and text != main and " " not in text and len(text) <= MAX_HOST_LENGTH
                        and len(hosts) < MAX_HOSTS):
                    hosts.add(text)
    except (DatabaseError, ConfigError) as exc:
        log.warning("the sites of the WordPress network could not be read from %s (%s): only the main site's URLs "
                    "will be rewritten on the destination", table, exc)
        return settings
    settings["network_hosts"] = " ".join(sorted(hosts))
    return settings


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def site_pairs(source: Mapping[str, str], home: str, local_home: str) -> list[tuple[str, str]]:
    """(production URL, local URL) of each subdomain site of the network ``source`` published; [] for a
    single site. A ConfigError when the local network would be at another path than production's."""
    network_path = source.get("network_path")
    if not network_path:
        return []
    local_path = _path(local_home)
    if local_path != network_path:
        raise ConfigError(f"a WordPress multisite network cannot move from path {network_path} to {local_path} "
                          f"({local_home}): its sites' paths in wp_blogs would not match; serve it locally at "
                          f"the path production uses (--site-url)")
    old = urlsplit(home)
    new = urlsplit(local_home)
    base, local_host = _base(old.netloc.lower()), new.netloc.lower()
    local_base = _base(local_host)
    pairs: list[tuple[str, str]] = []
    unmapped: list[str] = []
    hosts = (source.get("network_hosts") or "").split()
    if len(hosts) > MAX_HOSTS:
        raise ConfigError(f"the session's network_hosts names {len(hosts)} WordPress network sites, more than the "
                          f"{MAX_HOSTS} serve publishes; refusing it")
    for host in hosts:
        if len(host) > MAX_HOST_LENGTH:
            raise ConfigError(f"the session's network_hosts holds a host of {len(host)} characters, more than "
                              f"{MAX_HOST_LENGTH}; refusing it")
        if host.endswith("." + base) and not _is_address(new.hostname or ""):
            pairs.append((f"{old.scheme}://{host}", f"{new.scheme}://{host[:-len(base)]}{local_base}"))
        elif host != old.netloc.lower():
            unmapped.append(host)
    if unmapped:
        shown = ", ".join(unmapped[:10]) + (f" and {len(unmapped) - 10} more" if len(unmapped) > 10 else "")
        log.warning("WordPress network sites on hosts of their own keep production's URLs (synco cannot know their "
                    "local hosts): %s; run wp search-replace for each after the install", shown)
    return pairs
