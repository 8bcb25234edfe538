"""synco-drupal's default dump options: the smart transfer and the sanitising profile.

Smart transfer (``serve --all`` ships these rows too): ``cachetags``, the log (``watchdog``), flood control
(``flood``) and the queue (``queue``) keep their structure only: Drupal rebuilds or does not need them.
``sessions`` never ships rows, ``--all`` or not: they are logins; nor do Webform's ``webform_submission_log``,
the cache bins (``cache_*``: serialized copies of accounts, rendered pages and forms, which no rule can mask;
Drupal rebuilds them) and the expirable store ``key_value_expire`` (forms in progress and private drafts).

Sanitising (``--no-sanitize`` drops it), after ``drush sql:sanitize``: each account's ``mail`` and ``init`` in
``users_field_data`` become ``user<uid>@example.invalid`` (its ``name`` too when it is an e-mail address, as
e-mail registration makes it) and its password one every account of the copy logs in with (``password``); the
TFA module's secrets in ``users_data`` and the site's private key and cron key in the state are emptied;
comments' author names, e-mail addresses, home pages and host names are masked too, and so are Contact
Storage's messages, Webform's submitted values, and what the log and flood control record of
visitors (rows only ``--all`` ships).

The configurable fields keep most of a site's personal data, one table per field (``user__field_phone``,
Commerce's ``profile__address``): the text of every field table of accounts, customer profiles, orders and
contact messages is emptied whatever the field is called (:func:`field_table_rules`), the engine keeping what is
not text (:func:`text_field_mask`), and so are Commerce's order e-mail and IP addresses and the payment
gateway's references to stored cards. The hash matches the site's Drupal: bcrypt, which Drupal 10.1 and later
check with ``password_verify``, or Drupal's own salted SHA-512 (``$S$``) for the versions before.
"""

from __future__ import annotations

import hashlib
import re

from synco_core import BCRYPT_PASSWORD, DatabaseInventory, DumpOptions, SanitizeRule, address_masked, quote_name
from synco_drupal.prefixes import site_prefixes

#: The named tables without rows in the smart transfer (the prefix goes in front).
SMART_TABLES = ("cachetags", "watchdog", "flood", "queue")
#: Core's cache bins, named so the profile is complete when the database cannot be inspected.
CACHE_BINS = ("bootstrap", "config", "container", "data", "default", "discovery", "dynamic_page_cache", "entity",
              "menu", "page", "render", "toolbar")
#: What ``serialize([])`` gives: the log's messages still render, with their placeholders unfilled.
EMPTY_PHP_ARRAY = "a:0:{}"
#: What ``serialize(NULL)`` gives: a value Drupal reads as unset.
PHP_NULL = "N;"
#: Secrets of the site in the state (``key_value``, collection ``state``): the private key behind its CSRF and
#: image style tokens, and the key of the cron URL. Drupal makes a new private key when it finds none.
STATE_SECRETS = ("system.private_key", "system.cron_key")
#: Modules whose per-account data (``users_data``) are second factors: the TFA module's TOTP seed, recovery codes
#: and settings. Emptied, the copy logs in with the password alone.
SECOND_FACTOR_MODULES = ("tfa",)
_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base64(data: bytes) -> str:
    """phpass's base-64 (Drupal's ``_password_base64_encode``)."""
    output = []
    index = 0
    count = len(data)
    while True:
        value = data[index]
        index += 1
        output.append(_ITOA64[value & 0x3F])
        if index < count:
            value |= data[index] << 8
        output.append(_ITOA64[(value >> 6) & 0x3F])
        if index >= count:
            break
        index += 1
        if index < count:
            value |= data[index] << 16
        output.append(_ITOA64[(value >> 12) & 0x3F])
        if index >= count:
            break
        index += 1
        output.append(_ITOA64[(value >> 18) & 0x3F])
        if index >= count:
            break
    return "".join(output)


def drupal_sha512_hash(password: str, salt: str = "synco123", count_log2: int = 15) -> str:
    """Drupal's ``$S$`` password hash (PhpassHashedPassword with SHA-512), 55 characters."""
    setting = "$S$" + _ITOA64[count_log2] + salt
    secret = password.encode()
    digest = hashlib.sha512(salt.encode() + secret).digest()
    for _ in range(1 << count_log2):
        digest = hashlib.sha512(digest + secret).digest()
    return (setting + _base64(digest))[:55]


#: ``password`` for Drupal 9 and 10.0, whose password service knows only its own hashes.
SHA512_PASSWORD = drupal_sha512_hash("password")


def password_hash(modern: bool) -> str:
    return BCRYPT_PASSWORD if modern else SHA512_PASSWORD


def _email(engine: str, key: str) -> str:
    """A unique, invalid address built from the row's id, in the engine's SQL (NULL stays NULL)."""
    if engine == "sqlite":
        made = f"'user' || {key} || '@example.invalid'"
    else:
        made = f"CONCAT('user', {key}, '@example.invalid')"
    return made


#: The entity types whose field tables (``<type>__<field>``) hold people's data: accounts, Commerce's customer
#: profiles (billing and shipping addresses) and orders, and the fields added to contact forms (Contact Storage
#: keeps the messages).
PERSONAL_FIELD_TABLES = ("user__", "profile__", "profile_revision__", "commerce_order__", "contact_message__")
#: Field tables of these entity types that hold no one's data, kept whole: an order's adjustments are serialized
#: PHP (an empty string would not unserialize).
KEPT_FIELD_TABLES = ("commerce_order__adjustments",)
#: Columns every field table has (which entity, which value), kept.
FIELD_KEY_COLUMNS = frozenset(("bundle", "deleted", "entity_id", "revision_id", "langcode", "delta"))
#: Properties that name rather than describe (``<field>_<property>``): references to other entities and
#: configuration (text formats, language and country codes), kept so that the copy still works.
KEPT_PROPERTIES = ("_target_id", "_target_revision_id", "_target_type", "_format", "_langcode", "_country_code")
#: What a date or date-and-time kept as text becomes (Datetime fields store ``Y-m-d`` or ``Y-m-d\TH:i:s``):
#: a date still, so that Drupal can parse it, but not the person's.
DATE_SHAPES = (("____-__-__", "1970-01-01"), ("____-__-__T__:__:__", "1970-01-01T00:00:00"))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def text_field_mask(engine: str, table: str, column: str, *, json_functions: bool = True) -> str:
    """An expression emptying ``column`` of ``table`` where it holds text, and keeping any other value as it is.

    The hook sees column names only, and a property called ``value`` is text in one field and an integer,
    decimal or boolean in another, or a serialized blob: the engine tells them apart. MySQL/MariaDB give
    numbers, dates and binary strings the ``binary`` collation; PostgreSQL names the column's type, whose
    category says whether it is a string (the text of a value kept is cast back to the type by the engine).
    SQLite keeps text in any column, and Drupal writes its blobs (a link's serialized options) as text: a value
    is text there when both it and the column's declared type are (the affinity rules: a type naming CHAR, CLOB
    or TEXT, and not INT). NULL stays NULL; a date kept as text
    becomes the epoch, in its shape; JSON (the JSON Field module's columns) an empty value of its kind, as a JSON
    column takes nothing else (``json_functions``: the MySQL server has ``JSON_VALID()``).
    """
    name = quote_name(engine, column)
    # JSON's branch: before the values kept on PostgreSQL (a json column is not text there), after them on MySQL
    # (a number is valid JSON).
    json = json_first = ""
    if engine == "mysql":
        other, text = f"COLLATION({name}) = 'binary'", name
        keep = name
        if json_functions:
            # A JSON column refuses '' (MariaDB's JSON is text checked by JSON_VALID): any JSON becomes an empty
            # one of its kind, in a text column too (still masked, and still loads whatever the column is).
            json = (f"WHEN JSON_VALID({name}) THEN CASE JSON_TYPE({name}) WHEN 'OBJECT' THEN '{{}}' "
                    "WHEN 'ARRAY' THEN '[]' WHEN 'STRING' THEN '\"\"' WHEN 'BOOLEAN' THEN 'null' "
                    "WHEN 'NULL' THEN 'null' ELSE '0' END")
    elif engine == "postgresql":
        # pg_typeof() is the column's declared type; LIKE on it as text type-checks whatever that type is.
        text = keep = f"({name})::text"
        json_first = (f"WHEN pg_catalog.pg_typeof({name}) IN ('json'::pg_catalog.regtype, 'jsonb'::pg_catalog.regtype) "
                f"THEN CASE pg_catalog.jsonb_typeof({text}::jsonb) WHEN 'object' THEN '{{}}' WHEN 'array' THEN '[]' "
                "WHEN 'string' THEN '\"\"' WHEN 'number' THEN '0' ELSE 'null' END")
        # The string category: text, character varying and character, and citext or a domain over any of them.
        other = (f"(SELECT t.typcategory FROM pg_catalog.pg_type t WHERE t.oid = pg_catalog.pg_typeof({name})) "
                 "<> 'S'")
    else:
        # Not correlated with the row: SQLite reads the declared type once per statement (LIKE ignores case).
        declared_text = (f"(SELECT type NOT LIKE '%INT%' AND (type LIKE '%CHAR%' OR type LIKE '%CLOB%' OR type LIKE "
                         f"'%TEXT%') FROM pragma_table_info({_literal(table)}) WHERE name = {_literal(column)} "
                         "COLLATE NOCASE)")
        other = f"typeof({name}) <> 'text' OR NOT {declared_text}"
        text = keep = name
    dates = " ".join(f"WHEN {text} LIKE '{shape}' THEN '{epoch}'" for shape, epoch in DATE_SHAPES)
    return f"CASE WHEN {name} IS NULL THEN NULL {json_first} WHEN {other} THEN {keep} {json} {dates} ELSE '' END"


def mysql_has_json(server_version: str) -> bool:
    """Whether the server has ``JSON_VALID()``: MySQL 5.7.8 and later, MariaDB 10.2 and later (Drupal 9 needs
    no less; an unreadable version is taken for a recent one)."""
    numbers = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", server_version.strip())
    if numbers is None:
        return True
    found = tuple(int(part or 0) for part in numbers.groups())
    return found >= ((10, 2, 0) if "mariadb" in server_version.lower() else (5, 7, 8))


def field_table_rules(prefix: str, engine: str, inventory: DatabaseInventory) -> list[SanitizeRule]:
    """Rules emptying the text of every field of the entity types in :data:`PERSONAL_FIELD_TABLES`.

    Configurable fields are named by the site builder (and a long name makes the table ``user__`` and a hash),
    so they are found in the inventory by their table's prefix: what ``drush sql:sanitize`` masks (text, e-mail,
    telephone and link fields of accounts) and also addresses, Commerce's customer profiles and orders.
    """
    fold = str.lower if inventory.tables_ignore_case else str
    column_fold = str.lower if inventory.columns_ignore_case else str
    starts = tuple(fold(prefix + start) for start in PERSONAL_FIELD_TABLES)
    kept = {fold(prefix + name) for name in KEPT_FIELD_TABLES}
    json_functions = engine != "mysql" or mysql_has_json(inventory.server_version)
    rules = []
    for table in inventory.tables:
        name = fold(table.name)
        if table.kind != "table" or not name.startswith(starts) or name in kept:
            continue
        for column in table.columns:
            folded = column_fold(column)
            if folded in FIELD_KEY_COLUMNS or folded.endswith(KEPT_PROPERTIES):
                continue
            mask = text_field_mask(engine, table.name, column, json_functions=json_functions)
            # Labelled: the expression is long, and serve --plan would print it for every field column.
            rules.append(SanitizeRule(table.name, column, expression=mask, label="emptied if text (other types kept)"))
    return rules


def dump_options(prefix: str, engine: str, inventory: DatabaseInventory | None, *, modern_hash: bool) -> DumpOptions:
    """The defaults for a site with tables named ``<prefix>...`` on ``engine``, and for every other site whose
    tables share its database (:func:`synco_drupal.prefixes.site_prefixes`): serve dumps them all."""
    sites = [_site_options(site, engine, inventory, modern_hash=modern_hash)
             for site in site_prefixes(prefix, inventory)]
    return DumpOptions(
        exclude_tables=tuple(dict.fromkeys(t for options in sites for t in options.exclude_tables)),
        sanitize=tuple(rule for options in sites for rule in options.sanitize),
        smart_exclude_tables=tuple(dict.fromkeys(t for options in sites for t in options.smart_exclude_tables)),
    )


def _site_options(prefix: str, engine: str, inventory: DatabaseInventory | None, *, modern_hash: bool) -> DumpOptions:
    """The defaults for the one site with tables named ``<prefix>...``."""
    users = prefix + "users_field_data"
    comments = prefix + "comment_field_data"
    user_mail = f"CASE WHEN mail IS NULL OR mail = '' THEN mail ELSE {_email(engine, 'uid')} END"
    user_init = f"CASE WHEN init IS NULL OR init = '' THEN init ELSE {_email(engine, 'uid')} END"
    comment_mail = f"CASE WHEN mail IS NULL OR mail = '' THEN mail ELSE {_email(engine, 'cid')} END"
    order_mail = f"CASE WHEN mail IS NULL OR mail = '' THEN mail ELSE {_email(engine, 'order_id')} END"
    contact_mail = f"CASE WHEN mail IS NULL OR mail = '' THEN mail ELSE {_email(engine, 'id')} END"
    state_secrets = ", ".join(_literal(name) for name in STATE_SECRETS)
    factor_modules = ", ".join(_literal(name) for name in SECOND_FACTOR_MODULES)
    rules: tuple[SanitizeRule, ...] = (
        SanitizeRule(users, "mail", expression=user_mail),
        SanitizeRule(users, "name", label="user<uid>@example.invalid if an e-mail address",
                     expression=address_masked(engine, quote_name(engine, "name"), quote_name(engine, "uid"))),
        SanitizeRule(users, "init", expression=user_init),
        SanitizeRule(users, "pass", transform=f"fixed:{password_hash(modern_hash)}"),
        SanitizeRule(prefix + "users_data", "value", label="emptied for second factors (" + factor_modules + ")",
                     expression=(f"CASE WHEN module IN ({factor_modules}) AND serialized = 1 THEN '{PHP_NULL}' "
                                 f"WHEN module IN ({factor_modules}) THEN '' ELSE value END")),
        SanitizeRule(prefix + "key_value", "value", label="NULL for the state's secrets (" + state_secrets + ")",
                     expression=(f"CASE WHEN collection = 'state' AND name IN ({state_secrets}) THEN '{PHP_NULL}' "
                                 "ELSE value END")),
        # What an anonymous commenter typed in (Drupal shows a registered author's account name instead).
        SanitizeRule(comments, "name", expression="CASE WHEN name IS NULL OR name = '' THEN name ELSE 'Anonymous' END"),
        SanitizeRule(comments, "mail", expression=comment_mail),
        SanitizeRule(comments, "homepage", transform="fixed:"),
        SanitizeRule(comments, "hostname", transform="fixed:127.0.0.1"),
        # Contact Storage's messages: the sender and what was sent.
        SanitizeRule(prefix + "contact_message", "name", transform="fixed:"),
        SanitizeRule(prefix + "contact_message", "mail", expression=contact_mail),
        SanitizeRule(prefix + "contact_message", "subject", transform="fixed:"),
        SanitizeRule(prefix + "contact_message", "message", transform="fixed:"),
        SanitizeRule(prefix + "contact_message", "ip_address", transform="fixed:127.0.0.1"),
        # Webform's submissions keep their structure (which form, when, by whom), without the values typed in.
        SanitizeRule(prefix + "webform_submission_data", "value", transform="fixed:"),
        SanitizeRule(prefix + "webform_submission", "remote_addr", transform="fixed:127.0.0.1"),
        SanitizeRule(prefix + "webform_submission", "token", transform="fixed:"),
        SanitizeRule(prefix + "webform_submission", "uri", transform="fixed:"),
        # Rows only ``serve --all`` ships: the log's placeholders (e-mail addresses, names), the pages and
        # links it names (a password reset link is a login) and the visitors' addresses.
        SanitizeRule(prefix + "watchdog", "variables", transform=f"fixed:{EMPTY_PHP_ARRAY}"),
        SanitizeRule(prefix + "watchdog", "location", transform="fixed:"),
        SanitizeRule(prefix + "watchdog", "referer", transform="fixed:"),
        SanitizeRule(prefix + "watchdog", "hostname", transform="fixed:127.0.0.1"),
        SanitizeRule(prefix + "flood", "identifier", transform="fixed:127.0.0.1"),
        # Drupal Commerce: the customer's address and IP address on each order, and the payment gateway's
        # references to the customer's stored card and payments (the card's last digits too).
        SanitizeRule(prefix + "commerce_order", "mail", expression=order_mail),
        SanitizeRule(prefix + "commerce_order", "ip_address", transform="fixed:127.0.0.1"),
        SanitizeRule(prefix + "commerce_payment_method", "remote_id", transform="fixed:"),
        SanitizeRule(prefix + "commerce_payment_method", "card_number", transform="fixed:"),
        SanitizeRule(prefix + "commerce_payment", "remote_id", transform="fixed:"),
    )
    if inventory is not None:
        rules += tuple(field_table_rules(prefix, engine, inventory))
    caches = [prefix + "cache_" + name for name in CACHE_BINS]
    if inventory is not None:
        fold = str.lower if inventory.tables_ignore_case else str
        known = {fold(name) for name in caches}
        caches += [t.name for t in inventory.tables
                   if fold(t.name).startswith(fold(prefix + "cache_")) and fold(t.name) not in known]
    return DumpOptions(
        # Logins, Webform's log of each submission (its messages and data repeat the values typed in), the caches
        # and the expirable store: serialized copies of what the rules mask elsewhere (cached accounts, rendered
        # pages, forms being filled in), which Drupal rebuilds.
        exclude_tables=(prefix + "sessions", prefix + "webform_submission_log", *caches, prefix + "key_value_expire"),
        sanitize=rules,
        smart_exclude_tables=tuple(prefix + name for name in SMART_TABLES),
    )
