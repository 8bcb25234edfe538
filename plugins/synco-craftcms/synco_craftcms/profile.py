"""synco-craftcms's default dump options: what never ships, what the smart transfer leaves out, what is masked.

Never rows (``--all`` or not): ``sessions`` (login tokens), ``phpsessions`` (PHP sessions kept by
``yii\\web\\DbSession``), ``tokens`` (one-time links: verification, preview), ``craftidtokens`` (Craft ID
OAuth tokens) and the caches (``cache``, ``templatecaches``: serialized and rendered copies). Structure only in
the smart transfer: what Craft rebuilds (``queue``, ``resourcepaths``, the template caches' indexes,
``deprecationerrors``, the asset indexing data). Sanitised
(``--no-sanitize`` ships them raw): each user's ``email`` and ``unverifiedEmail`` become
``user<id>@example.invalid``, a ``username`` that is an e-mail address (``useEmailAsUsername``) the same,
the password hash one that logs in with ``password``, the names, verification code and last login IP are
cleared; Craft 5's two-factor tables keep no rows; the personal parts of ``addresses`` (and Craft 3 Commerce's
``commerce_addresses``), the search keywords of every element that is not content, Commerce's order e-mail, IP
and notes, payment source tokens and gateway answers are masked, and the serialized jobs of the queue when
``--all`` ships it.
"""

from __future__ import annotations

import dataclasses

from synco_core import BCRYPT_PASSWORD, DatabaseInventory, DumpOptions, SanitizeRule, tables_with_columns
from synco_craftcms.database import CraftDatabase

#: Craft 5's two-factor tables (``authenticator``: the TOTP secret; ``recoverycodes``; ``webauthn``: passkeys
#: with their names) go too: the copy logs in with the password alone.
#: The data cache (``cache``: yii's DbCache, serialized values) and Craft 3's template caches (``templatecaches``:
#: rendered HTML, an account page's among it) are copies no rule can mask, which Craft rebuilds: never shipped.
NO_ROWS = ("sessions", "phpsessions", "tokens", "craftidtokens", "authenticator", "recoverycodes", "webauthn",
           "cache", "templatecaches")

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
    # What the customer wrote with the order, and the messages of its status changes.
    ("commerce_orders", "message", "null"),
    ("commerce_orderhistories", "message", "null"),
    ("commerce_paymentsources", "token", "hash"),
    ("commerce_paymentsources", "description", "null"),
    ("commerce_paymentsources", "response", "null"),
    ("commerce_transactions", "response", "null"),
)
#: Craft 3 Commerce's own address table (Craft 4 moved addresses into ``addresses``): every part naming or
#: locating someone becomes NULL (all nullable; the country and state ids stay).
COMMERCE3_ADDRESS_COLUMNS = ("attention", "title", "firstName", "lastName", "fullName", "address1", "address2",
                             "address3", "city", "zipCode", "phone", "alternativePhone", "label", "notes",
                             "businessName", "businessTaxId", "businessId", "stateName", "custom1", "custom2",
                             "custom3", "custom4")
#: The person's name on an account (Craft 4+ ``fullName``, the ``firstName``/``lastName`` of every version):
#: NULL, so that Craft shows the username (or the masked address) instead.
USER_NAME_COLUMNS = ("fullName", "firstName", "lastName")
#: The element types whose search keywords are content (entries, categories, assets, tags, globals, Commerce's
#: products and variants): kept. Every other element's keywords are emptied: an account's e-mail address,
#: username and name, an address, an order's e-mail and addresses, a form plugin's submission (Freeform's,
#: Formie's); ``craft resave/<type> --update-search-index`` rebuilds them from the masked values.
CONTENT_ELEMENT_TYPES = ("craft\\elements\\Entry", "craft\\elements\\Category", "craft\\elements\\Asset",
                         "craft\\elements\\Tag", "craft\\elements\\GlobalSet",
                         "craft\\commerce\\elements\\Product", "craft\\commerce\\elements\\Variant")

SMART_NO_ROWS = ("queue", "resourcepaths", "templatecacheelements",
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


def _literal(engine: str, text: str) -> str:
    """A string literal; MySQL reads a backslash in one as an escape, PostgreSQL (standard strings) does not."""
    if engine == "mysql":
        text = text.replace("\\", "\\\\")
    return "'" + text.replace("'", "''") + "'"


def search_keywords(craft: CraftDatabase, column: str, emptied: str) -> str:
    """``column`` of ``searchindex`` kept for content elements (:data:`CONTENT_ELEMENT_TYPES`), ``emptied``
    for every other element's row."""
    engine = craft.database.engine
    if engine == "postgresql":
        # The dump reads with an empty search path: the table is named with its schema.
        elements = (f"{quote_column(engine, craft.schema or 'public')}."
                    f"{quote_column(engine, craft.table_prefix + 'elements')}")
    else:
        elements = quote_column(engine, craft.table("elements"))
    kept = ", ".join(_literal(engine, name) for name in CONTENT_ELEMENT_TYPES)
    return (f"CASE WHEN {quote_column(engine, 'elementId')} IN (SELECT {quote_column(engine, 'id')} FROM {elements} "
            f"WHERE {quote_column(engine, 'type')} NOT IN ({kept})) THEN {emptied} "
            f"ELSE {quote_column(engine, column)} END")


#: What makes a set of tables a Craft installation, by the columns Craft gives its ``users`` table: another
#: installation in the same database (another ``tablePrefix``, on PostgreSQL another ``schema``) is found by it.
USERS_SHAPE = ("username", "email", "password", "verificationCode")


def installations(craft: CraftDatabase, inventory: DatabaseInventory | None) -> list[CraftDatabase]:
    """``craft`` and every other Craft installation whose tables share its database, each once.

    ``serve`` dumps the whole database (on PostgreSQL every schema): a second site on the hosting account, a
    staging copy in its own schema, the tables an installation left under an old prefix ship with it, and
    are sanitised as the configured one is.
    """
    found = [craft]
    seen = {(craft.schema or "public", craft.table_prefix)}
    postgres = craft.database.engine == "postgresql"
    for table in tables_with_columns(inventory, USERS_SHAPE):
        if not table.endswith("users"):
            continue
        qualifier = table[:-len("users")]
        schema, _, prefix = qualifier.rpartition(".") if postgres else ("", "", qualifier)
        key = (schema or "public", prefix)
        if '"' not in qualifier and key not in seen:
            seen.add(key)
            found.append(dataclasses.replace(craft, table_prefix=prefix, schema=schema or "public", notes=[]))
    return found


def dump_options(craft: CraftDatabase, inventory: DatabaseInventory | None = None) -> DumpOptions:
    """The defaults for ``craft`` and for every other installation in its database (:func:`installations`)."""
    each = [_installation_options(one) for one in installations(craft, inventory)]
    return DumpOptions(
        exclude_tables=tuple(dict.fromkeys(t for options in each for t in options.exclude_tables)),
        smart_exclude_tables=tuple(dict.fromkeys(t for options in each for t in options.smart_exclude_tables)),
        sanitize=tuple(rule for options in each for rule in options.sanitize),
    )


def _installation_options(craft: CraftDatabase) -> DumpOptions:
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
            *(SanitizeRule(users, column, transform="null") for column in USER_NAME_COLUMNS),
            SanitizeRule(craft.table("searchindex"), "keywords", label="emptied but for content elements",
                         expression=search_keywords(craft, "keywords", "''")),
            # PostgreSQL's copy of the keywords, as a text search vector.
            SanitizeRule(craft.table("searchindex"), "keywords_vector", label="emptied but for content elements",
                         expression=search_keywords(craft, "keywords_vector", "''::tsvector")),
            *(SanitizeRule(craft.table("commerce_addresses"), column, transform="null")
              for column in COMMERCE3_ADDRESS_COLUMNS),
            # The queue ships with --all only; its serialized jobs hold what they work on (a mail's message
            # and recipients). Emptied, not NULL (the column is NOT NULL): such a job fails on the copy
            # instead of mailing the real recipient.
            SanitizeRule(craft.table("queue"), "job", transform="fixed:"),
            *(SanitizeRule(craft.table("addresses"), column, transform="null") for column in ADDRESS_COLUMNS),
            *(SanitizeRule(craft.table(table), column, transform=transform)
              for table, column, transform in COMMERCE_RULES),
        ),
    )
