"""synco-drupal's default dump options: the smart transfer and the sanitising profile.

Smart transfer (``serve --all`` ships these rows too): the cache tables (``cache_*``, ``cachetags``), the log
(``watchdog``), flood control (``flood``) and the queue (``queue``) keep their structure only: Drupal rebuilds
or does not need them. ``sessions`` never ships rows, ``--all`` or not: they are logins; nor does Webform's
``webform_submission_log``.

Sanitising (``--no-sanitize`` drops it), after ``drush sql:sanitize``: each account's ``mail`` and ``init`` in
``users_field_data`` become ``user<uid>@example.invalid`` and its password one every account of the copy logs in
with (``password``); comments' author names, e-mail addresses, home pages and host names are masked too, and so
are Contact Storage's messages, Webform's submitted values, and what the log and flood control record of
visitors (rows only ``--all`` ships). The hash matches the site's Drupal: bcrypt, which Drupal 10.1 and later
check with ``password_verify``, or Drupal's own salted SHA-512 (``$S$``) for the versions before.
"""

from __future__ import annotations

import hashlib

from synco_core import BCRYPT_PASSWORD, DatabaseInventory, DumpOptions, SanitizeRule

#: The named tables without rows in the smart transfer (the prefix goes in front).
SMART_TABLES = ("cachetags", "watchdog", "flood", "queue")
#: Core's cache bins, named so the profile is complete when the database cannot be inspected.
CACHE_BINS = ("bootstrap", "config", "container", "data", "default", "discovery", "dynamic_page_cache", "entity",
              "menu", "page", "render", "toolbar")
#: What ``serialize([])`` gives: the log's messages still render, with their placeholders unfilled.
EMPTY_PHP_ARRAY = "a:0:{}"
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


def dump_options(prefix: str, engine: str, inventory: DatabaseInventory | None, *, modern_hash: bool) -> DumpOptions:
    """The defaults for a site with tables named ``<prefix>...`` on ``engine``."""
    users = prefix + "users_field_data"
    comments = prefix + "comment_field_data"
    user_mail = f"CASE WHEN mail IS NULL OR mail = '' THEN mail ELSE {_email(engine, 'uid')} END"
    user_init = f"CASE WHEN init IS NULL OR init = '' THEN init ELSE {_email(engine, 'uid')} END"
    comment_mail = f"CASE WHEN mail IS NULL OR mail = '' THEN mail ELSE {_email(engine, 'cid')} END"
    contact_mail = f"CASE WHEN mail IS NULL OR mail = '' THEN mail ELSE {_email(engine, 'id')} END"
    rules = (
        SanitizeRule(users, "mail", expression=user_mail),
        SanitizeRule(users, "init", expression=user_init),
        SanitizeRule(users, "pass", transform=f"fixed:{password_hash(modern_hash)}"),
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
    )
    caches = [prefix + "cache_" + name for name in CACHE_BINS]
    if inventory is not None:
        fold = str.lower if inventory.tables_ignore_case else str
        known = {fold(name) for name in caches}
        caches += [t.name for t in inventory.tables
                   if fold(t.name).startswith(fold(prefix + "cache_")) and fold(t.name) not in known]
    return DumpOptions(
        # Logins, and Webform's log of each submission (its messages and data repeat the values typed in).
        exclude_tables=(prefix + "sessions", prefix + "webform_submission_log"),
        sanitize=rules,
        smart_exclude_tables=(*caches, *(prefix + name for name in SMART_TABLES)),
    )
