"""synco-craftcms's default dump options: what never ships, what the smart transfer leaves out, what is masked.

Never rows (``--all`` or not): ``sessions`` (login tokens), ``phpsessions`` (PHP sessions kept by
``yii\\web\\DbSession``), ``tokens`` (one-time links: verification, preview) and ``craftidtokens`` (Craft ID
OAuth tokens). Structure only in the smart transfer: caches and queues Craft rebuilds (``cache``, ``queue``,
``resourcepaths``, the template caches, ``deprecationerrors``, the asset indexing data). Sanitised
(``--no-sanitize`` ships them raw): each user's ``email`` and ``unverifiedEmail`` become
``user<id>@example.invalid``, a ``username`` that is an e-mail address (``useEmailAsUsername``) the same,
the password hash one that logs in with ``password``, the verification code and last login IP are cleared;
Craft 5's two-factor tables keep no rows; the personal parts of ``addresses`` and Commerce's order e-mail
and IP, payment source tokens and gateway answers are masked, and the serialized jobs of the queue when
``--all`` ships it.
"""

from __future__ import annotations

from synco_core import BCRYPT_PASSWORD, DumpOptions, SanitizeRule
from synco_craftcms.database import CraftDatabase

#: Craft 5's two-factor tables (``authenticator``: the TOTP secret; ``recoverycodes``; ``webauthn``: passkeys
#: with their names) go too: the copy logs in with the password alone.
NO_ROWS = ("sessions", "phpsessions", "tokens", "craftidtokens", "authenticator", "recoverycodes", "webauthn")

#: Craft 4+'s ``addresses`` (users' and Commerce customers' and orders'): every part of an address that
#: names or locates someone becomes NULL (all nullable; ``countryCode`` stays, so forms and tax zones work).
ADDRESS_COLUMNS = ("fullName", "firstName", "lastName", "organization", "organizationTaxId", "addressLine1",
                   "addressLine2", "addressLine3", "postalCode", "sortingCode", "locality", "dependentLocality",
                   "administrativeArea", "latitude", "longitude")

#: Craft Commerce: an order's customer address and IP, a stored payment source's gateway token (a live card
#: at the gateway: hashed, as the column is NOT NULL) with its description ("Visa ending 4242") and the
#: gateway's answer, and the gateways' answers on transactions (card holders, addresses).
COMMERCE_RULES = (
    ("commerce_orders", "email", "email"),
    ("commerce_orders", "lastIp", "null"),
    ("commerce_paymentsources", "token", "hash"),
    ("commerce_paymentsources", "description", "null"),
    ("commerce_paymentsources", "response", "null"),
    ("commerce_transactions", "response", "null"),
)
SMART_NO_ROWS = ("cache", "queue", "resourcepaths", "templatecaches", "templatecacheelements",
                 "templatecachequeries", "templatecachecriteria", "deprecationerrors", "assetindexdata",
                 "assetindexingsessions")


def quote_column(engine: str, name: str) -> str:
    """A column name in the engine's SQL: Craft's camelCase columns are case-sensitive on PostgreSQL."""
    if engine == "postgresql":
        return '"' + name.replace('"', '""') + '"'
    return "`" + name.replace("`", "``") + "`"


def email_username(engine: str) -> str:
    """``username`` unchanged, unless it is an e-mail address: then ``user<id>@example.invalid``."""
    username, key = quote_column(engine, "username"), quote_column(engine, "id")
    return (f"CASE WHEN {username} LIKE '%@%' THEN CONCAT('user', {key}, '@example.invalid') "
            f"ELSE {username} END")


def dump_options(craft: CraftDatabase) -> DumpOptions:
    users = craft.table("users")
    engine = craft.database.engine
    return DumpOptions(
        exclude_tables=tuple(craft.table(name) for name in NO_ROWS),
        smart_exclude_tables=tuple(craft.table(name) for name in SMART_NO_ROWS),
        sanitize=(
            SanitizeRule(users, "email", transform="email"),
            SanitizeRule(users, "unverifiedEmail", transform="email"),
            SanitizeRule(users, "username", expression=email_username(engine)),
            SanitizeRule(users, "password", transform=f"fixed:{BCRYPT_PASSWORD}"),
            SanitizeRule(users, "verificationCode", transform="null"),
            SanitizeRule(users, "lastLoginAttemptIp", transform="null"),
            # The queue ships with --all only; its serialized jobs hold what they work on (a mail's message
            # and recipients). Emptied, not NULL (the column is NOT NULL): such a job fails on the copy
            # instead of mailing the real recipient.
            SanitizeRule(craft.table("queue"), "job", transform="fixed:"),
            *(SanitizeRule(craft.table("addresses"), column, transform="null") for column in ADDRESS_COLUMNS),
            *(SanitizeRule(craft.table(table), column, transform=transform)
              for table, column, transform in COMMERCE_RULES),
        ),
    )
