"""synco-wordpress's default dump options: the smart transfer and the sanitising profile.

Every table is named with the installation's ``$table_prefix``, optional ones included (WooCommerce's, a
multisite's): the core drops the rules naming tables or columns the database does not have. A multisite's
sites each have their own tables (``wp_2_options``, ``wp_2_comments`` ...); those are found in the inventory.

Smart transfer (``serve --all`` ships these rows too):

- transients and site transients (``_transient_*``, ``_site_transient_*``) in the options tables and the
  network's ``sitemeta``: caches WordPress rebuilds;
- WooCommerce's sessions (``woocommerce_sessions``): shoppers' carts;
- Action Scheduler's log (``actionscheduler_logs``) and its completed actions.

Sanitising (dropped by ``--no-sanitize``): users' e-mail addresses (``user<ID>@example.invalid``), password
hashes (every account logs in locally with ``password``: WordPress accepts bcrypt hashes), activation keys,
login session tokens in ``usermeta``; comment authors' e-mail addresses, IP addresses and browsers; a
multisite's sign-ups and registration log; WooCommerce's customer lookup, order addresses, orders' e-mail,
IP and user agent, and the billing and shipping details kept in ``usermeta``. API keys (WooCommerce's
``woocommerce_api_keys``) are never shipped.
"""

from __future__ import annotations

import re

from synco_core import BCRYPT_PASSWORD, DatabaseInventory, DumpOptions, SanitizeRule

#: Every account of the copy logs in with "password" (wp_check_password hands bcrypt to password_verify).
PASSWORD_HASH = BCRYPT_PASSWORD

TRANSIENTS = "option_name NOT LIKE '\\_transient\\_%' AND option_name NOT LIKE '\\_site\\_transient\\_%'"
SITE_TRANSIENTS = "meta_key NOT LIKE '\\_site\\_transient\\_%'"
#: The billing and shipping details WooCommerce keeps per customer in usermeta.
CUSTOMER_META = tuple(f"{kind}_{field}" for kind in ("billing", "shipping") for field in (
    "first_name", "last_name", "company", "address_1", "address_2", "city", "postcode", "state", "phone"))


def _usermeta_expression() -> str:
    """Session tokens and WooCommerce's customer details blanked, billing e-mail made unique and invalid."""
    details = ", ".join(f"'{key}'" for key in CUSTOMER_META)
    return ("CASE WHEN meta_key = 'session_tokens' THEN '' "
            "WHEN meta_key = 'billing_email' THEN CONCAT('user', user_id, '@example.invalid') "
            f"WHEN meta_key IN ({details}) THEN '' ELSE meta_value END")


def _site_tables(prefix: str, inventory: DatabaseInventory | None, name: str) -> list[str]:
    """``<prefix><name>`` and a multisite's ``<prefix><id>_<name>`` tables found in the inventory."""
    tables = [prefix + name]
    if inventory is not None:
        per_site = re.compile(re.escape(prefix) + r"\d+_" + re.escape(name))
        tables += sorted(t.name for t in inventory.tables if per_site.fullmatch(t.name))
    return tables


def dump_options(prefix: str, inventory: DatabaseInventory | None) -> DumpOptions:
    """The defaults for an installation with tables named ``<prefix>...``."""
    rules = [
        SanitizeRule(prefix + "users", "user_email", transform="email"),
        SanitizeRule(prefix + "users", "user_pass", transform=f"fixed:{PASSWORD_HASH}"),
        SanitizeRule(prefix + "users", "user_activation_key", transform="fixed:"),
        SanitizeRule(prefix + "usermeta", "meta_value", expression=_usermeta_expression()),
        SanitizeRule(prefix + "signups", "user_email", transform="email"),
        SanitizeRule(prefix + "signups", "activation_key", transform="fixed:"),
        SanitizeRule(prefix + "registration_log", "email", transform="email"),
        SanitizeRule(prefix + "registration_log", "IP", transform="fixed:127.0.0.1"),
        SanitizeRule(prefix + "wc_customer_lookup", "email", transform="email"),
        SanitizeRule(prefix + "wc_orders", "billing_email", transform="email"),
        SanitizeRule(prefix + "wc_orders", "ip_address", transform="fixed:127.0.0.1"),
        SanitizeRule(prefix + "wc_orders", "user_agent", transform="fixed:"),
        SanitizeRule(prefix + "wc_order_addresses", "email", transform="email"),
    ]
    for column in ("first_name", "last_name", "username", "city", "postcode", "state"):
        rules.append(SanitizeRule(prefix + "wc_customer_lookup", column, transform="fixed:"))
    for column in ("first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode",
                   "phone"):
        rules.append(SanitizeRule(prefix + "wc_order_addresses", column, transform="fixed:"))
    for comments in _site_tables(prefix, inventory, "comments"):
        rules += [
            SanitizeRule(comments, "comment_author_email", transform="email"),
            SanitizeRule(comments, "comment_author_IP", transform="fixed:127.0.0.1"),
            SanitizeRule(comments, "comment_agent", transform="fixed:"),
        ]
    smart_where = {table: TRANSIENTS for table in _site_tables(prefix, inventory, "options")}
    smart_where[prefix + "sitemeta"] = SITE_TRANSIENTS
    smart_where[prefix + "actionscheduler_actions"] = "status <> 'complete'"
    return DumpOptions(
        exclude_tables=(prefix + "woocommerce_api_keys",),
        sanitize=tuple(rules),
        smart_exclude_tables=(prefix + "woocommerce_sessions", prefix + "actionscheduler_logs"),
        smart_where=smart_where,
    )
