"""The sanitising profile on the personal data and credentials WordPress core and the plugins most sites run
keep outside the tables ``test_wordpress_sanitize`` covers: keys and salts, SMTP and payment gateways'
credentials, two-factor secrets and application passwords, form entries, security and mail logs, shops'
customers, members' messages (see :mod:`wp_ecosystem` for the tables).

After a dump with the options ``serve`` uses (and with ``serve --all``), no marker may be left in any row, what
is not personal stays, and the dump still loads into an empty database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from synco_wordpress.profile import dump_options
from wp_ecosystem import CORE, KEPT, LEAK, SITE, create
from wp_support import configure, copy_site

from synco_core import dump_with_engine
from synco_core.testing import SyncoPluginManager, detect, serve_dump_options
from synco_core.testing.services import (
    create_mysql_database,
    drop_mysql_databases,
    install_into_empty_copy,
    mysql_admin_connection,
)


def rows_of(dump: bytes) -> str:
    return "\n".join(line for line in dump.decode("utf-8", "replace").splitlines() if line.startswith("INSERT INTO"))


@pytest.fixture(scope="module")
def ecosystem_database() -> Iterator[Callable[[str, tuple[int, ...]], str]]:
    """``database(prefix, sites)``: core's and the sites' tables under ``prefix``, made once per module. The
    cases differing only in the dump's options share it: a dump only reads the database."""
    made: dict[tuple[str, tuple[int, ...]], str] = {}

    def database(prefix: str, sites: tuple[int, ...]) -> str:
        if (prefix, sites) not in made:
            name = made[prefix, sites] = create_mysql_database()
            conn = mysql_admin_connection()
            with conn.cursor() as cur:
                cur.execute(f"USE `{name}`")
                create(cur, CORE, prefix)
                for site in ("", *(f"{n}_" for n in sites)):
                    create(cur, SITE, prefix + site)
            conn.close()
        return made[prefix, sites]

    yield database
    drop_mysql_databases(made.values())


@pytest.mark.mysql
@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("all_rows", [False, True], ids=["default", "serve-all"])
@pytest.mark.parametrize(("prefix", "sites"), [("wp_", ()), ("shop7_", (2,))])
def test_no_secret_or_personal_data_of_core_or_plugins_leaves(
        prefix: str, sites: tuple[int, ...], all_rows: bool, no_php: None, wordpress_manager: SyncoPluginManager,
        tmp_path: Path, request: pytest.FixtureRequest,
        ecosystem_database: Callable[[str, tuple[int, ...]], str]) -> None:
    database = ecosystem_database(prefix, sites)
    site_dir = copy_site(tmp_path / "site")
    configure(site_dir, database, prefix=prefix)
    framework = detect(site_dir)
    assert framework.database is not None
    out = tmp_path / "dump.sql"
    with out.open("wb") as stream:
        result = dump_with_engine(framework.database, stream, serve_dump_options(framework, all=all_rows))

    rows = rows_of(out.read_bytes())
    leaked = sorted({found.group(0) for found in LEAK.finditer(rows)})
    assert not leaked, f"personal data or credentials in the dump: {leaked}"
    # Binary columns (Wordfence's IP addresses, 2FA secrets) are dumped in hexadecimal.
    hexed = {marker: marker.encode().hex() for marker in ("s3cr3t", "203.0.113")}
    assert not [m for m, h in hexed.items() if re.search(h, rows, re.IGNORECASE)]
    assert "cb0071" not in rows.lower(), "an address of 203.0.113.0/24 in binary form (INET6_ATON) is in the dump"
    for site in ("", *(f"{n}_" for n in sites)):
        for value in KEPT:
            assert value in rows, f"{value} is not personal and must stay ({prefix}{site})"
        assert re.search(r"'woocommerce_registration_generate_password','yes'", rows), "a yes/no setting stays"
        assert f"INSERT INTO `{prefix}{site}posts`" in rows, "posts ship"
    # Emptied of their kind: a serialized array stays an array for the plugin reading it; WordPress makes new
    # keys and salts for empty ones; a personal data request keeps a (unique, invalid) address and its action.
    assert "'wp_mail_smtp','a:0:{}'" in rows and "'auth_key',''" in rows and "'mailserver_pass',''" in rows
    assert "'user5@example.invalid','','','export_personal_data',''" in rows
    # Two-factor login is off in the copy (its codes would be e-mailed to the masked address): the password does.
    assert "'_two_factor_enabled_providers','a:0:{}'" in rows and "'_two_factor_provider',''" in rows
    assert "'flamingo_contact'" in rows and "'flamingo_contact-2'" in rows
    assert ("'action created'" in rows) == all_rows, "Action Scheduler's log ships with --all, its texts kept"
    # An order's key, masked the same everywhere it is kept: the copy's downloads and order pages still work.
    masked_keys = set(re.findall(r"wc_order_[0-9a-f]{13}\b", rows))
    assert len(masked_keys) == 1, f"the order key is masked alike in every table: {masked_keys}"
    assert not re.search(r"INSERT INTO `[^`]*(wfLogins|wfhits|wfls_2fa_secrets|itsec_logs|wpmailsmtp_emails_log)`",
                         rows), "logs and second factors never ship"
    # Every account still logs in (the plugin's documented local password) and the dump loads.
    install_into_empty_copy(framework.database, out, result, request, tmp_path / "copy.sqlite", wordpress_manager)


@pytest.mark.mysql
@pytest.mark.hook("default_dump_options")
def test_other_installations_in_the_same_database_are_sanitised(
        no_php: None, wordpress_manager: SyncoPluginManager, tmp_path: Path, request: pytest.FixtureRequest,
        mysql_database_factory: Callable[[], str]) -> None:
    """Shared hosting gives one database to several WordPress installations, and a site moved to a new prefix
    leaves the old one's tables behind: ``serve`` dumps the whole database, so every installation's users,
    options and plugins' tables are sanitised as the configured one's are, whatever their prefix. Tables of users
    shaped as WordPress's (``wp_2_users``, a network's site given its own) are too."""
    database = mysql_database_factory()
    conn = mysql_admin_connection(database)
    with conn.cursor() as cur:
        create(cur, CORE, "wp_")
        create(cur, SITE, "wp_")
        create(cur, CORE, "blog_")
        for site in ("blog_", "blog_3_"):
            create(cur, SITE, site)
        create(cur, CORE[:2], "wp_2_")
    conn.close()
    site_dir = copy_site(tmp_path / "site")
    configure(site_dir, database, prefix="wp_")
    framework = detect(site_dir)
    assert framework.database is not None
    out = tmp_path / "dump.sql"
    with out.open("wb") as stream:
        result = dump_with_engine(framework.database, stream, serve_dump_options(framework))

    rows = rows_of(out.read_bytes())
    leaked = sorted({found.group(0) for found in LEAK.finditer(rows)})
    assert not leaked, f"personal data or credentials in the dump: {leaked}"
    for prefix in ("wp_", "blog_", "wp_2_"):
        assert "'user1@example.invalid'" in "\n".join(
            line for line in rows.splitlines() if line.startswith(f"INSERT INTO `{prefix}users`"))
    for site in ("wp_", "blog_", "blog_3_"):
        assert f"INSERT INTO `{site}options`" in rows and "kept-blogname" in rows
    install_into_empty_copy(framework.database, out, result, request, tmp_path / "copy.sqlite", wordpress_manager)


def test_every_rule_reads_in_a_few_words() -> None:
    """``serve --plan``, ``detect`` and the receiver list each rule by what it does: a rule whose SQL spans
    dozens of names (the credentials' list, the private post types' subquery) is shown by its label."""
    rules = dump_options("wp_", None).sanitize
    long = [rule.describe() for rule in rules if len(rule.shown()) > 160]
    assert not long, f"rules shown as their SQL: {long}"
