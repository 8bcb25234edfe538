"""synco-wordpress's default dump options: the smart transfer and the sanitising profile.

Every table is named with the installation's ``$table_prefix``, optional ones included (WooCommerce's, a
multisite's): the core drops the rules naming tables or columns the database does not have. A multisite's
sites each have their own tables (``wp_2_options``, ``wp_2_comments``, ``wp_2_wc_orders`` ...): every rule for a
site's table applies to each site found in the inventory (:func:`site_prefixes`).
Another installation's tables in the same database (another prefix) get the same rules
(:func:`installation_prefixes`).

Smart transfer (``serve --all`` ships these rows too):

- transients and site transients (``_transient_*``, ``_site_transient_*``) in the options tables and the
  network's ``sitemeta``: caches WordPress rebuilds;
- WooCommerce's sessions (``woocommerce_sessions``): shoppers' carts;
- Action Scheduler's log (``actionscheduler_logs``) and its completed actions.

Sanitising (dropped by ``--no-sanitize``): users' e-mail addresses (``user<ID>@example.invalid``) and names,
password hashes (every account logs in locally with ``password``: WordPress accepts bcrypt hashes), activation
keys, login session tokens, application passwords and two-factor secrets in ``usermeta``; the site owner's
``admin_email``; credentials and people's data in the options and ``sitemeta`` (keys and salts, SMTP, payment
gateways', Jetpack's ...; see :mod:`synco_wordpress.ecosystem`); comment authors' e-mail addresses, IP addresses
and browsers, and what Akismet sent about them; messages from people kept as posts (Flamingo, Ninja Forms, Post
SMTP, personal data requests); a multisite's sign-ups and registration log; WooCommerce's customer lookup, order
addresses, orders' e-mail, IP and user agent, the same details of orders kept in ``postmeta`` (before HPOS, and
in its compatibility mode) and of customers in ``usermeta``, download permissions' e-mail and the download
log's IP, saved payment tokens and webhook secrets, shoppers' sessions (whose rows only ``--all`` ships); other
plugins' records of people (:data:`synco_wordpress.ecosystem.RECORD_COLUMNS`).
API keys (WooCommerce's ``woocommerce_api_keys``) and plugins' logs of people and second factors
(:data:`synco_wordpress.ecosystem.LOG_TABLES`) are never shipped.
"""

from __future__ import annotations

import functools
import re

from synco_core import BCRYPT_PASSWORD, DatabaseInventory, DumpOptions, SanitizeRule
from synco_wordpress.ecosystem import LOG_TABLES, credential_condition, emptied, quoted, site_plugin_rules

#: Every account of the copy logs in with "password" (wp_check_password hands bcrypt to password_verify).
PASSWORD_HASH = BCRYPT_PASSWORD

# ESCAPE '!': a backslash is an escape in MySQL's string literals and not in SQLite's, '!' is plain in both.
TRANSIENTS = ("option_name NOT LIKE '!_transient!_%' ESCAPE '!' "
              "AND option_name NOT LIKE '!_site!_transient!_%' ESCAPE '!'")
SITE_TRANSIENTS = "meta_key NOT LIKE '!_site!_transient!_%' ESCAPE '!'"
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
#: A user's credentials and traces in usermeta: application passwords (hashed, as ``user_pass``), the Two Factor
#: plugin's (and Solid Security's) TOTP key, backup codes and e-mailed token, a pending change of e-mail address,
#: the location (and IP address) the dashboard's events widget found; and the account's two-factor providers,
#: so that it logs in with its (local) password alone: an e-mailed code would go to its masked address.
USER_SECRET_META = ("_application_passwords", "_two_factor_totp_key", "_two_factor_backup_codes",
                    "_two_factor_email_token", "_two_factor_enabled_providers", "_two_factor_provider",
                    "_new_email", "community-events-location")
#: Easy Digital Downloads keeps a user's API keys as the *name* of a usermeta row, whose value says which key it is.
EDD_KEY_VALUES = ("edd_user_public_key", "edd_user_secret_key")
#: Post meta of people outside WooCommerce: bbPress's poster IP address (every reply) and anonymous posters,
#: Easy Digital Downloads 2's payments.
IP_META = ("_bbp_author_ip", "_edd_payment_user_ip")
EMAIL_META = ("_bbp_anonymous_email", "_edd_payment_user_email")
PERSONAL_META = ("_bbp_anonymous_name", "_bbp_anonymous_website", "_edd_payment_meta")
#: Posts that are messages from people, not content: Contact Form 7's senders and messages as Flamingo keeps
#: them, Ninja Forms' submissions, Post SMTP's log of sent mail, and core's personal data requests (titled with
#: the requester's e-mail address). Their texts and meta are emptied; the rows stay.
PRIVATE_POST_TYPES = ("flamingo_contact", "flamingo_inbound", "nf_sub", "postman_sent_mail", "user_request")
#: Of those, the types whose slug WordPress derived from the sender (core's requests keep the action there).
PRIVATE_SLUG_TYPES = ("flamingo_contact", "flamingo_inbound", "nf_sub", "postman_sent_mail")
#: What ``serialize([])`` gives.
EMPTY_PHP_ARRAY = "a:0:{}"


def concat(engine: str, *parts: str) -> str:
    """SQL joining ``parts`` as text: MySQL's CONCAT(), SQLite's ``||`` (CONCAT() is SQLite 3.44's); both give
    NULL when a part is NULL."""
    if engine == "mysql":
        return f"CONCAT({', '.join(parts)})"
    return "(" + " || ".join(parts) + ")"


@functools.cache
def _usermeta_expression(engine: str) -> str:
    """Session tokens, names and WooCommerce's customer details blanked, billing e-mail made unique and invalid,
    credentials (:data:`USER_SECRET_META`, and what a name says is one) emptied."""
    address = concat(engine, "'user'", "user_id", "'@example.invalid'")
    return ("CASE WHEN meta_key = 'session_tokens' THEN '' "
            f"WHEN meta_key = 'billing_email' THEN {address} "
            f"WHEN meta_key IN ({quoted(CUSTOMER_META + PROFILE_META)}) THEN '' "
            f"WHEN {credential_condition('meta_key', 'meta_value', named=USER_SECRET_META)} "
            f"THEN {emptied('meta_value')} ELSE meta_value END")


@functools.cache
def _usermeta_key_expression(engine: str) -> str:
    """Easy Digital Downloads' API keys, kept as usermeta names, replaced by a name unique per row."""
    renamed = concat(engine, "'edd_api_key_'", "umeta_id")
    return f"CASE WHEN meta_value IN ({quoted(EDD_KEY_VALUES)}) THEN {renamed} ELSE meta_key END"


@functools.cache
def _order_meta_expression(engine: str, order: str, posts: str | None = None) -> str:
    """An order's e-mail in its meta made invalid (unique per order: ``order`` is the column naming it), its IP
    address local, the other details blanked; likewise other plugins' people in post meta, and every meta of the
    private posts (:data:`PRIVATE_POST_TYPES`) in ``posts`` (the site's posts table, if it has one)."""
    private = (f"WHEN {order} IN (SELECT ID FROM {_quote_name(posts)} WHERE post_type IN "
               f"({quoted(PRIVATE_POST_TYPES)})) THEN '' " if posts else "")
    address = concat(engine, "'user'", order, "'@example.invalid'")
    return (f"CASE WHEN meta_key IN ('_billing_email', {quoted(EMAIL_META)}) THEN {address} "
            f"WHEN meta_key IN ('_customer_ip_address', {quoted(IP_META)}) THEN '127.0.0.1' "
            f"WHEN meta_key IN ({quoted(ORDER_META + PERSONAL_META)}) THEN {emptied('meta_value')} "
            f"WHEN meta_key = '_order_key' THEN {_rekeyed(engine, 'meta_value', ORDER_KEY_PREFIX, ORDER_KEY_LENGTH)} "
            f"{private}ELSE meta_value END")


@functools.cache
def _rekeyed(engine: str, column: str, prefix: str, length: int) -> str:
    """A random key that opens pages on production (an order's, a receipt's) replaced by another of its form,
    derived from it: the same key gives the same replacement in every table, so the copy's links still match,
    and the original (random, 13 characters or more) cannot be found from it."""
    # SHA2(): MySQL's; the SQLite engine offers the same function to sanitising expressions.
    derived = concat(engine, f"'{prefix}'", f"SUBSTR(SHA2({column}, 256), 1, {length})")
    return f"CASE WHEN {column} IS NULL OR {column} = '' THEN {column} ELSE {derived} END"


ORDER_KEY_PREFIX = "wc_order_"
ORDER_KEY_LENGTH = 13
#: Action Scheduler's arguments and log messages with an e-mail address in them (a follow-up mail to a customer).
HAS_ADDRESS = "LIKE '%@%'"


def _quote_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@functools.cache
def _settings_expression(name_column: str, value_column: str) -> str:
    """The site owner's address made invalid, credentials and people's data emptied (keys and salts, which
    WordPress regenerates; SMTP, payment gateways', Jetpack's ...: see :mod:`synco_wordpress.ecosystem`)."""
    return (f"CASE WHEN {name_column} IN ({quoted(ADMIN_EMAIL_OPTIONS)}) THEN '{ADMIN_EMAIL}' "
            f"WHEN {credential_condition(name_column, value_column)} THEN {emptied(value_column)} "
            f"ELSE {value_column} END")


#: How the long rules are shown (``serve --plan``, ``detect``).
SETTINGS_LABEL = "admin_email made invalid, credentials and people's data emptied"
PRIVATE_POSTS_LABEL = "emptied for messages from people (" + ", ".join(PRIVATE_POST_TYPES) + ")"
META_LABEL = "an order's (and other plugins') people made invalid or emptied, order keys replaced"


@functools.cache
def _private_posts_expression(column: str, private_value: str, types: tuple[str, ...] = PRIVATE_POST_TYPES) -> str:
    return f"CASE WHEN post_type IN ({quoted(types)}) THEN {private_value} ELSE {column} END"


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


#: The tables that make a set of tables a WordPress installation (or a site of one), by the columns WordPress
#: gives them: another installation in the same database is found by these, whatever its prefix.
INSTALLATION_SHAPES = (("users", ("user_login", "user_pass", "user_email")),
                       ("options", ("option_name", "option_value")))


def installation_prefixes(prefix: str, inventory: DatabaseInventory | None) -> list[str]:
    """``prefix`` and the prefix of every other set of WordPress tables in the database.

    ``serve`` dumps the whole database, and one database often holds more than the configured installation:
    several installations on a shared hosting account, the tables a site left under its old prefix, a
    network's site with tables of users of its own (``wp_2_users``). A prefix is one that names a table shaped
    as WordPress's users or options table (:data:`INSTALLATION_SHAPES`); the configured one comes first.
    """
    prefixes = [prefix]
    if inventory is None:
        return prefixes
    fold = inventory.tables_ignore_case
    known = {prefix.lower() if fold else prefix}
    for table in inventory.tables:
        name = table.name.lower() if fold else table.name
        columns = {c.lower() for c in table.columns} if inventory.columns_ignore_case else set(table.columns)
        for suffix, needed in INSTALLATION_SHAPES:
            wanted = {c.lower() for c in needed} if inventory.columns_ignore_case else set(needed)
            if name.endswith(suffix) and wanted <= columns:
                found = table.name[:-len(suffix)]
                if (found.lower() if fold else found) not in known:
                    known.add(found.lower() if fold else found)
                    prefixes.append(found)
    return prefixes


class _Columns:
    """The columns of each table of an inventory, looked up as its engine looks names up (once per profile: a
    network of thousands of sites asks for each site's tables)."""

    def __init__(self, inventory: DatabaseInventory | None) -> None:
        self.inventory = inventory
        self.fold_tables = inventory is not None and inventory.tables_ignore_case
        self.fold_columns = inventory is not None and inventory.columns_ignore_case
        self.by_table: dict[str, set[str]] = {}
        for table in inventory.tables if inventory is not None else ():
            columns = {c.lower() for c in table.columns} if self.fold_columns else set(table.columns)
            self.by_table.setdefault(self.table_key(table.name), set()).update(columns)

    def table_key(self, name: str) -> str:
        return name.lower() if self.fold_tables else name

    def exists(self, table: str) -> bool:
        """True when the inventory has ``table`` (assumed without an inventory)."""
        return self.inventory is None or self.table_key(table) in self.by_table

    def has(self, table: str, columns: tuple[str, ...]) -> bool:
        """True when ``table`` has ``columns`` (assumed without an inventory), for rules whose expressions read
        columns besides the one they rewrite, which the core cannot check."""
        if self.inventory is None:
            return True
        found = self.by_table.get(self.table_key(table))
        wanted = {c.lower() for c in columns} if self.fold_columns else set(columns)
        return found is not None and wanted <= found


def _private_post_rules(site: str, engine: str) -> list[SanitizeRule]:
    """Messages from people kept as posts (:data:`PRIVATE_POST_TYPES`) emptied, the rows kept."""
    address = concat(engine, "'user'", "ID", "'@example.invalid'")
    emptied_for = {"post_title": f"CASE WHEN post_type = 'user_request' THEN {address} ELSE '' END",
                   "post_content": "''", "post_excerpt": "''", "post_password": "''"}
    rules = [SanitizeRule(site + "posts", column, expression=_private_posts_expression(column, value),
                          label=PRIVATE_POSTS_LABEL) for column, value in emptied_for.items()]
    rules.append(SanitizeRule(site + "posts", "post_name", label=PRIVATE_POSTS_LABEL, expression=(
        _private_posts_expression("post_name", concat(engine, "post_type", "'-'", "ID"), PRIVATE_SLUG_TYPES))))
    return rules


def _site_rules(site: str, columns: _Columns, engine: str) -> list[SanitizeRule]:
    """The rules of one site's own tables (``site`` is its table prefix)."""
    posts = site + "posts" if columns.has(site + "posts", ("ID", "post_type")) else None
    rules = [
        SanitizeRule(site + "options", "option_value", expression=_settings_expression("option_name", "option_value"),
                     label=SETTINGS_LABEL),
        SanitizeRule(site + "comments", "comment_author_email", transform="email"),
        SanitizeRule(site + "comments", "comment_author_IP", transform="fixed:127.0.0.1"),
        SanitizeRule(site + "comments", "comment_agent", transform="fixed:"),
        SanitizeRule(site + "postmeta", "meta_value", expression=_order_meta_expression(engine, "post_id", posts),
                     label=META_LABEL + (", private posts' meta emptied" if posts else "")),
        # HPOS keeps an order's address search index (``_billing_address_index`` ...) in its own meta table.
        SanitizeRule(site + "wc_orders_meta", "meta_value", expression=_order_meta_expression(engine, "order_id"),
                     label=META_LABEL),
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
        # An order's key opens its pages (order received, pay for order, downloads) on production.
        *(SanitizeRule(site + table, "order_key", label="replaced by a key derived from it",
                       expression=_rekeyed(engine, "order_key", ORDER_KEY_PREFIX, ORDER_KEY_LENGTH))
          for table in ("wc_order_operational_data", "woocommerce_downloadable_product_permissions")),
        SanitizeRule(site + "edd_orders", "payment_key", label="replaced by a key derived from it",
                     expression=_rekeyed(engine, "payment_key", "", 32)),
        # Pending actions run on the laptop: one carrying an address (a mail to a customer) loses its arguments
        # and fails there instead. The log (shipped with --all) loses the messages naming one.
        SanitizeRule(site + "actionscheduler_actions", "args", label="'[]' when it holds an e-mail address",
                     expression=f"CASE WHEN args {HAS_ADDRESS} THEN '[]' ELSE args END"),
        SanitizeRule(site + "actionscheduler_actions", "extended_args", label="NULL when it holds an e-mail address",
                     expression=f"CASE WHEN extended_args {HAS_ADDRESS} THEN NULL ELSE extended_args END"),
        SanitizeRule(site + "actionscheduler_logs", "message", label="emptied when it holds an e-mail address",
                     expression=f"CASE WHEN message {HAS_ADDRESS} THEN '' ELSE message END"),
        # Rows only ``serve --all`` ships: a shopper's session holds the customer's address with the cart.
        SanitizeRule(site + "woocommerce_sessions", "session_value", transform=f"fixed:{EMPTY_PHP_ARRAY}"),
    ]
    for column in ("first_name", "last_name", "username", "city", "postcode", "state"):
        rules.append(SanitizeRule(site + "wc_customer_lookup", column, transform="fixed:"))
    for column in ADDRESS_FIELDS:
        rules.append(SanitizeRule(site + "wc_order_addresses", column, transform="fixed:"))
    if posts is not None:
        rules += _private_post_rules(site, engine)
    # Only the rules of tables the site has: the core would drop the others, after a network of thousands of sites
    # had built them all.
    return [rule for rule in rules if columns.exists(rule.table)] + site_plugin_rules(site, columns.exists)


def _installation_rules(prefix: str, engine: str) -> list[SanitizeRule]:
    """The rules of the tables an installation (a network) shares between its sites."""
    return [
        SanitizeRule(prefix + "users", "user_email", transform="email"),
        SanitizeRule(prefix + "users", "user_pass", transform=f"fixed:{PASSWORD_HASH}"),
        SanitizeRule(prefix + "users", "user_activation_key", transform="fixed:"),
        SanitizeRule(prefix + "usermeta", "meta_value", expression=_usermeta_expression(engine),
                     label="session tokens, names, customer details and credentials emptied, billing_email made "
                           "invalid"),
        SanitizeRule(prefix + "usermeta", "meta_key", expression=_usermeta_key_expression(engine),
                     label="Easy Digital Downloads' API keys renamed"),
        SanitizeRule(prefix + "sitemeta", "meta_value", expression=_settings_expression("meta_key", "meta_value"),
                     label=SETTINGS_LABEL),
        SanitizeRule(prefix + "signups", "user_email", transform="email"),
        SanitizeRule(prefix + "signups", "activation_key", transform="fixed:"),
        # What the sign-up keeps until activation: BuddyPress's password hash and profile fields.
        SanitizeRule(prefix + "signups", "meta", transform=f"fixed:{EMPTY_PHP_ARRAY}"),
        SanitizeRule(prefix + "registration_log", "email", transform="email"),
        SanitizeRule(prefix + "registration_log", "IP", transform="fixed:127.0.0.1"),
    ]


def dump_options(prefix: str, inventory: DatabaseInventory | None, engine: str = "mysql") -> DumpOptions:
    """The defaults for an installation with tables named ``<prefix>...``, and for every other installation in
    its database (:func:`installation_prefixes`), in the SQL of ``engine`` (MySQL, or SQLite through the SQLite
    drop-in: the expressions differ only in how they join text)."""
    columns = _Columns(inventory)
    rules: list[SanitizeRule] = []
    sites: dict[str, str] = {}
    smart_where: dict[str, str] = {}
    for installation in installation_prefixes(prefix, inventory):
        rules += _installation_rules(installation, engine)
        smart_where[installation + "sitemeta"] = SITE_TRANSIENTS
        # A network's site is found as a set of tables too; its own sites, if any, were found with the network's.
        if columns.table_key(installation) not in sites:
            for site in site_prefixes(installation, inventory):
                sites.setdefault(columns.table_key(site), site)
    for site in sites.values():
        rules += _site_rules(site, columns, engine)
        smart_where[site + "options"] = TRANSIENTS
        smart_where[site + "actionscheduler_actions"] = "status <> 'complete'"
    return DumpOptions(
        exclude_tables=tuple(site + name for site in sites.values() for name in ("woocommerce_api_keys", *LOG_TABLES)
                             if columns.exists(site + name)),
        sanitize=tuple(rules),
        smart_exclude_tables=tuple(site + name for site in sites.values()
                                   for name in ("woocommerce_sessions", "actionscheduler_logs")),
        smart_where=smart_where,
    )
