"""synco-wordpress's default dump options: the smart transfer and the sanitising profile.

Every table is named with the installation's ``$table_prefix``, optional ones included (WooCommerce's, a
multisite's): the core drops the rules naming tables or columns the database does not have. A multisite's
sites each have their own tables (``wp_2_options``, ``wp_2_comments``, ``wp_2_wc_orders`` ...): every rule for a
site's table applies to each site found in the inventory (:func:`site_prefixes`).

Smart transfer (``serve --all`` ships these rows too):

- transients and site transients (``_transient_*``, ``_site_transient_*``) in the options tables and the
  network's ``sitemeta``: caches WordPress rebuilds;
- WooCommerce's sessions (``woocommerce_sessions``): shoppers' carts;
- Action Scheduler's log (``actionscheduler_logs``) and its completed actions.

Sanitising (dropped by ``--no-sanitize``): users' e-mail addresses (``user<ID>@example.invalid``) and names,
password hashes (every account logs in locally with ``password``: WordPress accepts bcrypt hashes), activation
keys, login session tokens in ``usermeta``; the site owner's ``admin_email``; comment authors' e-mail addresses,
IP addresses and browsers; a multisite's sign-ups and registration log; WooCommerce's customer lookup, order
addresses, orders' e-mail, IP and user agent, the same details of orders kept in ``postmeta`` (before HPOS, and
in its compatibility mode) and of customers in ``usermeta``, download permissions' e-mail and the download
log's IP, saved payment tokens and webhook secrets, shoppers' sessions (whose rows only ``--all`` ships).
API keys (WooCommerce's ``woocommerce_api_keys``) are never shipped.
"""

from __future__ import annotations

import re

from synco_core import BCRYPT_PASSWORD, DatabaseInventory, DumpOptions, SanitizeRule

#: Every account of the copy logs in with "password" (wp_check_password hands bcrypt to password_verify).
PASSWORD_HASH = BCRYPT_PASSWORD

TRANSIENTS = "option_name NOT LIKE '\\_transient\\_%' AND option_name NOT LIKE '\\_site\\_transient\\_%'"
SITE_TRANSIENTS = "meta_key NOT LIKE '\\_site\\_transient\\_%'"
#: The address parts WooCommerce keeps per customer (usermeta) and per order (postmeta, with a ``_`` in front).
ADDRESS_FIELDS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "postcode", "state",
                  "phone")
#: The billing and shipping details WooCommerce keeps per customer in usermeta.
CUSTOMER_META = tuple(f"{kind}_{field}" for kind in ("billing", "shipping") for field in ADDRESS_FIELDS)
#: An account's own name in usermeta (its profile), blanked like the customer's.
PROFILE_META = ("first_name", "last_name")
#: What a pre-HPOS order (a ``shop_order`` post) keeps in postmeta, and HPOS's compatibility mode copies there:
#: the addresses, the search index WooCommerce builds from them (HPOS keeps that in ``wc_orders_meta``), the
#: customer's IP address and browser.
ORDER_META = (*(f"_{key}" for key in CUSTOMER_META), "_billing_address_index", "_shipping_address_index",
              "_customer_user_agent")
#: The site owner's address, in each site's options and the network's sitemeta.
ADMIN_EMAIL_OPTIONS = ("admin_email", "new_admin_email")
ADMIN_EMAIL = "admin@example.invalid"
#: What ``serialize([])`` gives.
EMPTY_PHP_ARRAY = "a:0:{}"


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _usermeta_expression() -> str:
    """Session tokens, names and WooCommerce's customer details blanked, billing e-mail made unique and invalid."""
    return ("CASE WHEN meta_key = 'session_tokens' THEN '' "
            "WHEN meta_key = 'billing_email' THEN CONCAT('user', user_id, '@example.invalid') "
            f"WHEN meta_key IN ({_quoted(CUSTOMER_META + PROFILE_META)}) THEN '' ELSE meta_value END")


def _order_meta_expression(order: str) -> str:
    """An order's e-mail in its meta made invalid (unique per order: ``order`` is the column naming it), its IP
    address local, the other details blanked."""
    return (f"CASE WHEN meta_key = '_billing_email' THEN CONCAT('user', {order}, '@example.invalid') "
            "WHEN meta_key = '_customer_ip_address' THEN '127.0.0.1' "
            f"WHEN meta_key IN ({_quoted(ORDER_META)}) THEN '' ELSE meta_value END")


def _admin_email_expression(name_column: str, value_column: str) -> str:
    return (f"CASE WHEN {name_column} IN ({_quoted(ADMIN_EMAIL_OPTIONS)}) THEN '{ADMIN_EMAIL}' "
            f"ELSE {value_column} END")


def site_prefixes(prefix: str, inventory: DatabaseInventory | None) -> list[str]:
    """``prefix`` and, on a multisite network, every other site's ``<prefix><id>_`` found in the inventory.

    A site is known by its options table, which WordPress creates for every site; a plugin's own table
    such as ``wp_2fa_codes`` is not a site's.
    """
    prefixes = [prefix]
    if inventory is not None:
        # A server that ignores the case of table names may store ``WP_2_options`` as ``wp_2_options``.
        flags = re.IGNORECASE if inventory.tables_ignore_case else 0
        per_site = re.compile(re.escape(prefix) + r"(\d+)_options", flags)
        ids = {int(found.group(1)) for t in inventory.tables if (found := per_site.fullmatch(t.name))}
        prefixes += [f"{prefix}{site}_" for site in sorted(ids)]
    return prefixes


def _site_rules(site: str) -> list[SanitizeRule]:
    """The rules of one site's own tables (``site`` is its table prefix)."""
    rules = [
        SanitizeRule(site + "options", "option_value",
                     expression=_admin_email_expression("option_name", "option_value")),
        SanitizeRule(site + "comments", "comment_author_email", transform="email"),
        SanitizeRule(site + "comments", "comment_author_IP", transform="fixed:127.0.0.1"),
        SanitizeRule(site + "comments", "comment_agent", transform="fixed:"),
        SanitizeRule(site + "postmeta", "meta_value", expression=_order_meta_expression("post_id")),
        # HPOS keeps an order's address search index (``_billing_address_index`` ...) in its own meta table.
        SanitizeRule(site + "wc_orders_meta", "meta_value", expression=_order_meta_expression("order_id")),
        SanitizeRule(site + "wc_customer_lookup", "email", transform="email"),
        SanitizeRule(site + "wc_orders", "billing_email", transform="email"),
        SanitizeRule(site + "wc_orders", "ip_address", transform="fixed:127.0.0.1"),
        SanitizeRule(site + "wc_orders", "user_agent", transform="fixed:"),
        SanitizeRule(site + "wc_order_addresses", "email", transform="email"),
        SanitizeRule(site + "woocommerce_downloadable_product_permissions", "user_email", transform="email"),
        SanitizeRule(site + "wc_download_log", "user_ip_address", transform="fixed:127.0.0.1"),
        # Credentials: a saved card's reference at the payment gateway, the key a webhook's payload is signed with.
        SanitizeRule(site + "woocommerce_payment_tokens", "token", transform="fixed:"),
        SanitizeRule(site + "wc_webhooks", "secret", transform="fixed:"),
        # Rows only ``serve --all`` ships: a shopper's session holds the customer's address with the cart.
        SanitizeRule(site + "woocommerce_sessions", "session_value", transform=f"fixed:{EMPTY_PHP_ARRAY}"),
    ]
    for column in ("first_name", "last_name", "username", "city", "postcode", "state"):
        rules.append(SanitizeRule(site + "wc_customer_lookup", column, transform="fixed:"))
    for column in ADDRESS_FIELDS:
        rules.append(SanitizeRule(site + "wc_order_addresses", column, transform="fixed:"))
    return rules


def dump_options(prefix: str, inventory: DatabaseInventory | None) -> DumpOptions:
    """The defaults for an installation with tables named ``<prefix>...``."""
    rules = [
        SanitizeRule(prefix + "users", "user_email", transform="email"),
        SanitizeRule(prefix + "users", "user_pass", transform=f"fixed:{PASSWORD_HASH}"),
        SanitizeRule(prefix + "users", "user_activation_key", transform="fixed:"),
        SanitizeRule(prefix + "usermeta", "meta_value", expression=_usermeta_expression()),
        SanitizeRule(prefix + "sitemeta", "meta_value", expression=_admin_email_expression("meta_key", "meta_value")),
        SanitizeRule(prefix + "signups", "user_email", transform="email"),
        SanitizeRule(prefix + "signups", "activation_key", transform="fixed:"),
        SanitizeRule(prefix + "registration_log", "email", transform="email"),
        SanitizeRule(prefix + "registration_log", "IP", transform="fixed:127.0.0.1"),
    ]
    sites = site_prefixes(prefix, inventory)
    smart_where: dict[str, str] = {}
    for site in sites:
        rules += _site_rules(site)
        smart_where[site + "options"] = TRANSIENTS
        smart_where[site + "actionscheduler_actions"] = "status <> 'complete'"
    smart_where[prefix + "sitemeta"] = SITE_TRANSIENTS
    return DumpOptions(
        exclude_tables=tuple(site + "woocommerce_api_keys" for site in sites),
        sanitize=tuple(rules),
        smart_exclude_tables=tuple(site + name for site in sites
                                   for name in ("woocommerce_sessions", "actionscheduler_logs")),
        smart_where=smart_where,
    )
