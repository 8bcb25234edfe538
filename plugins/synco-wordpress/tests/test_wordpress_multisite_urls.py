"""A multisite network's sites on the laptop: each site's URLs follow the local address, not only the main site's.

A subdomain network (``SUBDOMAIN_INSTALL``) serves site 2 at ``blog.example.com``: WordPress finds a site by
``wp_blogs.domain`` and links to it with absolute URLs, so a copy that rewrites only the main site's URL leaves
site 2 pointing at production, and the laptop's ``blog.example.test`` finds no site at all. ``wp search-replace
--network example.com example.test`` turns ``blog.example.com`` into ``blog.example.test``; synco does the same
for the network's own sites (published by serve from ``wp_blogs``), and only for them: a subdomain that is not a
site of the network (a CDN's) keeps its host. A site on a host of its own (domain mapping) has no local address
synco could know: it is named in a warning. A network served locally at another path than production's would
not find its sites (``wp_blogs.path``): refused before anything changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from synco_wordpress import urls
from synco_wordpress.searchreplace import UrlReplacer
from test_wordpress_network_hosts_cost import Reference
from wp_support import configure, copy_site, populate

from synco_core import ConfigError, ValueRewriter
from synco_core.testing import SyncoPluginManager, detect
from synco_core.testing.services import mysql_admin_connection

MULTISITE = "define( 'WP_ALLOW_MULTISITE', true );\ndefine( 'MULTISITE', true );\n"


def network(site: Path, database: str, *, subdomains: bool, main: str = "example.com", path: str = "/") -> None:
    configure(site, database, extra=MULTISITE + f"define( 'SUBDOMAIN_INSTALL', {str(subdomains).lower()} );\n"
                                                f"define( 'DOMAIN_CURRENT_SITE', '{main}' );\n"
                                                f"define( 'PATH_CURRENT_SITE', '{path}' );\n")


def blogs(database: str, rows: list[tuple[str, str]]) -> None:
    conn = mysql_admin_connection(database)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE wp_blogs (blog_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, site_id BIGINT NOT "
                    "NULL DEFAULT 0, domain VARCHAR(200) NOT NULL DEFAULT '', path VARCHAR(100) NOT NULL DEFAULT '')")
        cur.executemany("INSERT INTO wp_blogs (site_id, domain, path) VALUES (1, %s, %s)", rows)
    conn.close()


@pytest.mark.mysql
def test_serve_publishes_the_sites_of_the_network(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                                   no_php: None, mysql_database_factory: Callable[[], str]) -> None:
    database = mysql_database_factory()
    populate(database, home="https://example.com")
    blogs(database, [("example.com", "/"), ("blog.example.com", "/"), ("shop.example.com", "/"),
                     ("brand-two.org", "/"), ("example.com", "/sub/")])
    site = copy_site(tmp_path / "site")
    network(site, database, subdomains=True)
    published = urls.source_settings(detect(site))
    assert published["home"] == "https://example.com"
    assert published["network_hosts"] == "blog.example.com brand-two.org shop.example.com"
    assert published["network_path"] == "/"


def _serialized(text: str) -> bytes:
    return f's:{len(text.encode())}:"{text}";'.encode()


def rewriter(site: Path, published: dict[str, str], local: str) -> ValueRewriter:
    framework = detect(site)
    framework.site_url = local
    found = urls.value_rewriter(framework, {"wordpress": published})
    assert found is not None
    return found


SUBDOMAIN_NETWORK = {"home": "https://example.com", "siteurl": "https://example.com",
                     "network_hosts": "blog.example.com shop.example.com brand-two.org", "network_path": "/"}


@pytest.mark.parametrize(("local", "local_base"), [("http://example.test", "example.test"),
                                                   ("http://www.example.test", "example.test"),
                                                   ("https://example.localhost:8443", "example.localhost:8443")])
def test_each_subdomain_site_follows_the_local_host(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                                    no_php: None, local: str, local_base: str,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    site = copy_site(tmp_path / "site")
    network(site, "unreachable", subdomains=True)
    scheme = local.split("://")[0]
    with caplog.at_level(logging.WARNING):
        rewrite = rewriter(site, SUBDOMAIN_NETWORK, local).rewrite
    for form, expected in [
        (b"https://blog.example.com/2024/hello/", f"{scheme}://blog.{local_base}/2024/hello/".encode()),
        (b'{"u":"https:\\/\\/shop.example.com\\/cart"}', f'{{"u":"{scheme}:\\/\\/shop.{local_base}\\/cart"}}'.encode()),
        (b"https%3A%2F%2Fblog.example.com%2Fx", f"{scheme}%3A%2F%2Fblog.{local_base.replace(':', '%3A')}%2Fx".encode()),
        # wp_blogs.domain: the host alone.
        (b"blog.example.com", f"blog.{local_base}".encode()),
        (b"example.com", local.split("://")[1].encode()),
        # Serialized: the length follows.
        (b's:24:"https://blog.example.com";', _serialized(f"{scheme}://blog.{local_base}")),
        # Not sites of the network: kept.
        (b"https://cdn.example.com/a.png", b"https://cdn.example.com/a.png"),
        (b"https://blog.example.com.evil.org/", b"https://blog.example.com.evil.org/"),
        (b"https://brand-two.org/", b"https://brand-two.org/"),
    ]:
        assert rewrite(form) == expected, form
    warned = [r.getMessage() for r in caplog.records if "brand-two.org" in r.getMessage()]
    assert len(warned) == 1 and "\n" not in warned[0], "a mapped domain is named, in one line"


def test_a_network_served_at_another_path_is_refused(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                                     no_php: None) -> None:
    site = copy_site(tmp_path / "site")
    network(site, "unreachable", subdomains=False)
    published = {"home": "https://example.com", "siteurl": "https://example.com", "network_hosts": "",
                 "network_path": "/"}
    with pytest.raises(ConfigError, match=r"multisite network .*path / .*/net/"):
        rewriter(site, published, "http://localhost/net")
    # The same path at another host is what a local network does.
    assert rewriter(site, published, "http://example.test").rewrite(b"https://example.com/site2/") == (
        b"http://example.test/site2/")


def _site_two(database: str, home: str, blog_host: str) -> None:
    """Site 2 of the network: its own options, a post linking to itself and to the main site, its upload."""
    conn = mysql_admin_connection(database)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE wp_2_options LIKE wp_options")
        cur.execute("CREATE TABLE wp_2_posts LIKE wp_posts")
        blog = f"{home.split('://')[0]}://{blog_host}"
        cur.executemany("INSERT INTO wp_2_options (option_name, option_value) VALUES (%s, %s)",
                        [("home", blog), ("siteurl", blog), ("admin_email", "pii-blog@real.example")])
        cur.execute("INSERT INTO wp_2_posts (ID, post_title, post_content, guid) VALUES (1, 'Hi', %s, %s)",
                    (f'<img src="{blog}/wp-content/uploads/sites/2/2024/05/cover.txt"> <a href="{home}/">main</a>',
                     f"{blog}/?p=1"))
        cur.execute("CREATE TABLE wp_site (id BIGINT PRIMARY KEY, domain VARCHAR(200), path VARCHAR(100))")
        cur.execute("INSERT INTO wp_site VALUES (1, %s, '/')", (home.split("://")[1],))
    conn.close()


@pytest.mark.mysql
@pytest.mark.slow
@pytest.mark.hook("value_rewriter")
@pytest.mark.hook("source_settings")
def test_subdomain_network_end_to_end(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None,
                                      mysql_database_factory: Callable[[], str],
                                      web_server: Callable[[Path], str]) -> None:
    """serve -> receive -> install of a subdomain network: site 2's URLs, its wp_blogs domain and its uploads
    (``uploads/sites/2``) all answer at the laptop's address, and its options are sanitised like the main site's."""
    prod, local = "https://example.com", "http://example.test"
    source_db, target_db = mysql_database_factory(), mysql_database_factory()
    populate(source_db, home=prod)
    blogs(source_db, [("example.com", "/"), ("blog.example.com", "/")])
    _site_two(source_db, prod, "blog.example.com")
    populate(target_db, home=local)
    source = copy_site(tmp_path / "production")
    network(source, source_db, subdomains=True)
    upload = source / "wp-content/uploads/sites/2/2024/05/cover.txt"
    upload.parent.mkdir(parents=True)
    upload.write_text("site 2's cover\n")
    target = copy_site(tmp_path / "laptop")
    network(target, target_db, subdomains=True, main="example.test")

    from synco_core.testing.services import serve_receive_install

    serve_receive_install(source, web_server(source), tmp_path / "received", target)

    conn = mysql_admin_connection(target_db)
    with conn.cursor() as cur:
        cur.execute("SELECT domain FROM wp_blogs ORDER BY blog_id")
        assert [row[0] for row in cur.fetchall()] == ["example.test", "blog.example.test"]
        cur.execute("SELECT domain FROM wp_site")
        assert cur.fetchall() == (("example.test",),)
        cur.execute("SELECT option_name, option_value FROM wp_2_options")
        options = dict(cur.fetchall())
        cur.execute("SELECT post_content, guid FROM wp_2_posts")
        ((body, guid),) = cur.fetchall()
    conn.close()
    assert options["home"] == options["siteurl"] == "http://blog.example.test"
    assert options["admin_email"] == "admin@example.invalid"
    assert body == ('<img src="http://blog.example.test/wp-content/uploads/sites/2/2024/05/cover.txt"> '
                    '<a href="http://example.test/">main</a>')
    assert guid == "http://blog.example.test/?p=1"
    assert (target / "wp-content/uploads/sites/2/2024/05/cover.txt").read_text() == "site 2's cover\n"


PIECES = ["https://", "http://", "//", "https:\\/\\/", "https%3A%2F%2F", "example.com", "blog.example.com",
          "www.example.com", "shop.", "example.com.au", ":8443", "/", "%2F", ".", "x", " ", "wp", "example.community"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30))
def test_several_hosts_rewrite_as_one_alternation(pieces: list[str]) -> None:
    """The rewrite of a network's several hosts looks for each form only where its host is, yet changes exactly
    what one regular expression of every form (the longest first) changes: the leftmost match, the longest there."""
    pairs = [("https://example.com", "http://example.test"), ("https://blog.example.com", "http://blog.example.test"),
             ("https://example.com/wp", "http://example.test/wp")]
    replacer, reference = UrlReplacer(pairs), Reference(pairs)
    text = "".join(pieces).encode()
    assert reference.pattern is not None
    expected = replacer.hosts.get(text) or reference.pattern.sub(lambda m: replacer.mapping[m.group(0)], text)
    assert replacer.plain(text) == expected, "a value that is a host alone is that host's (wp_blogs.domain)"
