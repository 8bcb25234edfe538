"""What the plugins most WordPress sites run keep of people and credentials, and how the profile treats it.

Three kinds, decided per table as WP-CLI's and Drush's sanitising do it (the site still runs, every account
still logs in):

- a plugin's *log* of visitors, logins, sent mail or API requests: its rows are never shipped (structure
  kept), like WooCommerce's API keys; a copy does not need them and ``--no-sanitize`` does not bring them;
- a plugin's *records* (form entries, customers, orders, members' messages): the personal columns are masked,
  so the records are there to work with;
- *settings* holding a credential (an SMTP password, a gateway's secret key): emptied, by name
  (:data:`CREDENTIAL_SETTINGS`) or by what the name says (:data:`CREDENTIAL_NAME_ENDINGS`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from synco_core import SanitizeRule

#: Per site prefix: tables whose rows are logs of people (IP addresses, user agents, e-mails, message bodies)
#: or second factors. Wordfence names its tables in camel case, or in lower case since 7.5 on some servers.
_WORDFENCE = ("wfLogins", "wfHits", "wfBlockedIPLog", "wfLiveTrafficHuman", "wfReverseCache", "wfSNIPCache",
              "wfLocs", "wfCrawlers", "wfNet404s", "wfSecurityEvents", "wfAuditEvents", "wfBlocks7", "wfLeechers",
              # The login security module's TOTP secrets and recovery codes: without them the account logs in
              # with its (local) password.
              "wfls_2fa_secrets")
LOG_TABLES = (
    *_WORDFENCE, *(name.lower() for name in _WORDFENCE if name != name.lower()),
    # Solid Security (iThemes Security): logs, lockouts, temporary bans, devices, magic-link tokens.
    "itsec_logs", "itsec_temp", "itsec_lockouts", "itsec_bans", "itsec_geolocation_cache", "itsec_fingerprints",
    "itsec_opaque_tokens",
    # Activity logs: Simple History, WP Activity Log, Stream.
    "simple_history", "simple_history_contexts", "wsal_occurrences", "wsal_metadata", "stream", "stream_meta",
    # Mail logs: WP Mail SMTP, Post SMTP, WP Mail Logging, Email Log, FluentSMTP.
    "wpmailsmtp_emails_log", "wpmailsmtp_debug_events", "post_smtp_logs", "post_smtp_logmeta", "wpml_mails",
    "email_log", "fsmpt_email_logs",
    # Visits: Redirection's logs, Rank Math's 404 log.
    "redirection_logs", "redirection_404", "rank_math_404_logs",
    # WooCommerce's database log handler, WPForms' debug log, Easy Digital Downloads' API request log.
    "woocommerce_log", "wpforms_logs", "edd_logs_api_requests",
    # Form drafts (Gravity Forms' "save and continue"): a half-filled form, kept for 30 days.
    "gf_draft_submissions", "rg_incomplete_submissions",
)

#: What an e-mail address, an IP address and any other personal value become.
EMAIL = "email"
LOCAL_IP = "fixed:127.0.0.1"
EMPTY = "fixed:"

#: Per site prefix: ``table -> {column: transform}`` for the records plugins keep of people.
RECORD_COLUMNS: dict[str, dict[str, str]] = {
    # Gravity Forms' entries (2.3+, and the rg_ tables before it): every field's value, the sender's address.
    "gf_entry": {"ip": LOCAL_IP, "user_agent": EMPTY, "source_url": EMPTY},
    "gf_entry_meta": {"meta_value": EMPTY},
    "gf_entry_notes": {"value": EMPTY},
    "rg_lead": {"ip": LOCAL_IP, "user_agent": EMPTY, "source_url": EMPTY},
    "rg_lead_detail": {"value": EMPTY},
    "rg_lead_detail_long": {"value": EMPTY},
    "rg_lead_meta": {"meta_value": EMPTY},
    "rg_lead_notes": {"value": EMPTY},
    # Form views: Gravity Forms before 2.4 kept the last visitor's address with each day's count.
    "gf_form_view": {"ip": LOCAL_IP},
    "rg_form_view": {"ip": LOCAL_IP},
    # WPForms' entries: the fields as JSON (an empty object, which WPForms decodes), each field, notes.
    "wpforms_entries": {"fields": "fixed:{}", "ip_address": LOCAL_IP, "user_agent": EMPTY, "user_uuid": EMPTY},
    "wpforms_entry_fields": {"value": EMPTY},
    "wpforms_entry_meta": {"data": EMPTY},
    # WPForms' payments (1.8.2+): the payer's name is the title; the meta holds the card, e-mail and IP address.
    "wpforms_payments": {"title": EMPTY},
    "wpforms_payment_meta": {"meta_value": EMPTY},
    # WooCommerce's saved cards: the last digits, the expiry date, the brand.
    "woocommerce_payment_tokenmeta": {"meta_value": EMPTY},
    # Easy Digital Downloads 3: customers, their addresses, orders, downloads and the e-mails sent.
    "edd_customers": {"email": EMAIL, "name": EMPTY},
    "edd_customer_email_addresses": {"email": EMAIL},
    "edd_customer_addresses": {column: EMPTY for column in (
        "name", "first_name", "last_name", "address", "address2", "city", "region", "postal_code")},
    "edd_orders": {"email": EMAIL, "ip": LOCAL_IP},
    "edd_order_addresses": {column: EMPTY for column in (
        "name", "first_name", "last_name", "address", "address2", "city", "region", "postal_code")},
    "edd_logs_file_downloads": {"ip": LOCAL_IP, "user_agent": EMPTY},
    "edd_logs_emails": {"email": EMAIL},
    # MemberPress: the payment gateway's whole answer per transaction (the payer's details), a subscription's card.
    "mepr_transactions": {"response": EMPTY},
    "mepr_subscriptions": {"cc_last4": EMPTY, "cc_exp_month": EMPTY, "cc_exp_year": EMPTY},
    # LearnDash's quiz leaderboard (and WP-Pro-Quiz's, which it started from).
    "learndash_pro_quiz_toplist": {"name": EMPTY, "email": EMAIL, "ip": LOCAL_IP},
    "wp_pro_quiz_toplist": {"name": EMPTY, "email": EMAIL, "ip": LOCAL_IP},
    # The answers to a quiz's own form (name, e-mail ...), kept with its statistics.
    "learndash_pro_quiz_statistic_ref": {"form_data": "null"},
    "wp_pro_quiz_statistic_ref": {"form_data": "null"},
    # BuddyPress: private messages, invitations by e-mail.
    "bp_messages_messages": {"subject": EMPTY, "message": EMPTY},
    "bp_invitations": {"invitee_email": EMAIL, "content": EMPTY},
}

#: Settings holding credentials, by name, in ``options`` and ``sitemeta`` (and the settings tables of Wordfence).
CREDENTIAL_SETTINGS = (
    # Core: the keys and salts wp_salt() keeps in the options (or, on a network, sitemeta) when wp-config.php
    # does not define them, and regenerates when they are empty; the Post via e-mail account's password;
    # recovery mode's keys.
    *(f"{scheme}_{kind}" for scheme in ("auth", "secure_auth", "logged_in", "nonce") for kind in ("key", "salt")),
    "secret_key", "mailserver_pass", "recovery_keys",
    # Jetpack's connection to WordPress.com (the blog and user tokens): the copy is left disconnected.
    "jetpack_private_options", "jetpack_options",
    # SMTP plugins (the mailer's password or API key; WP Mail SMTP's key that decrypts it).
    "wp_mail_smtp", "wp_mail_smtp_mail_key", "postman_options", "postman_auth_token", "fluentmail-settings",
    "swpsmtp_options", "easy_wp_smtp",
    # WooCommerce's payment gateways (their secret keys: the copy cannot charge with production's account).
    "woocommerce_stripe_settings", "woocommerce_stripe_api_settings", "woocommerce_paypal_settings",
    "woocommerce_ppec_paypal_settings", "woocommerce-ppcp-settings", "woocommerce-ppcp-data-common",
    "woocommerce_braintree_credit_card_settings", "woocommerce_braintree_paypal_settings",
    "woocommerce_square_credit_card_settings", "wc_square_settings",
    "woocommerce_authorize_net_cim_credit_card_settings",
    # Rank Math's Google account tokens.
    "rank_math_google_oauth_tokens",
    # Wordfence's licence key and its login security module's signing secrets.
    "apiKey", "shared-hash-secret", "shared-symmetric-secret",
)
#: Settings holding people's data: the Post via e-mail account, a pending change of the admin address, update
#: notices' recipient, Limit Login Attempts' lists of IP addresses and user names, Wordfence's alert recipients.
PERSONAL_SETTINGS = ("mailserver_login", "adminhash", "network_admin_hash", "auto_core_update_notified",
                     "limit_login_lockouts", "limit_login_logged", "limit_login_retries", "limit_login_retries_valid",
                     "alertEmails")
#: A setting whose name ends so holds a credential, whichever plugin wrote it (``acme_crm_api_key``,
#: ``mollie-payments-for-woocommerce_live_api_key``), unless its value is a yes/no flag (:data:`FLAGS`).
CREDENTIAL_NAME_ENDINGS = ("password", "_pass", "secret", "secret_key", "api_key", "apikey", "api_token",
                           "access_token", "refresh_token", "auth_token", "private_key")
#: Values that are switches, not credentials (``woocommerce_registration_generate_password`` = ``yes``).
FLAGS = ("", "yes", "no", "on", "off", "true", "false", "0", "1")


# Cached: a network of thousands of sites builds the same SQL for each.
@functools.cache
def quoted(values: tuple[str, ...]) -> str:
    """``'a', 'b'``: names for an SQL ``IN`` list (synco's own constants: none holds a quote)."""
    return ", ".join(f"'{value}'" for value in values)


def _like(ending: str) -> str:
    # ESCAPE '!': a backslash escapes in MySQL's string literals, not in SQLite's; '!' is plain in both.
    return "'%" + ending.replace("_", "!_") + "' ESCAPE '!'"


# Cached: a network of thousands of sites builds the same SQL for each.
@functools.cache
def emptied(value_column: str) -> str:
    """An empty value of the kind ``value_column`` holds: a serialized array stays an (empty) array, so the
    plugin reading it still gets an array; anything else becomes the empty string."""
    return f"(CASE WHEN {value_column} LIKE 'a:%' THEN 'a:0:{{}}' ELSE '' END)"


# Cached: a network of thousands of sites builds the same SQL for each.
@functools.cache
def credential_condition(name_column: str, value_column: str, *, named: tuple[str, ...] = ()) -> str:
    """True for a setting (or meta) row ``name_column`` says holds a credential or a person's data."""
    names = quoted((*CREDENTIAL_SETTINGS, *PERSONAL_SETTINGS, *named))
    endings = " OR ".join(f"{name_column} LIKE {_like(ending)}" for ending in CREDENTIAL_NAME_ENDINGS)
    return f"{name_column} IN ({names}) OR (({endings}) AND {value_column} NOT IN ({quoted(FLAGS)}))"


def settings_rule(table: str, name_column: str, value_column: str) -> SanitizeRule:
    """A name/value settings table (Wordfence's) with its credentials emptied."""
    return SanitizeRule(table, value_column, expression=(
        f"CASE WHEN {credential_condition(name_column, value_column)} THEN {emptied(value_column)} "
        f"ELSE {value_column} END"), label="credentials emptied")


def site_plugin_rules(site: str, present: Callable[[str], bool] = lambda table: True) -> list[SanitizeRule]:
    """The rules of one site's plugin tables (``site`` is its table prefix) that ``present`` says it has: most
    sites have few of these plugins, and a network of thousands of sites would build every rule for each."""
    rules = [SanitizeRule(site + table, column, transform=transform)
             for table, columns in RECORD_COLUMNS.items() if present(site + table)
             for column, transform in columns.items()]
    rules += [settings_rule(site + table, name, value) for table, name, value in (
        ("wfConfig", "name", "val"), ("wfconfig", "name", "val"), ("wfls_settings", "name", "value"))
        if present(site + table)]
    # BuddyPress's profile fields: the first is the member's name, which WordPress's display name mirrors (and
    # which ships); the others (phone, address, birthday ...) are emptied.
    rules.append(SanitizeRule(site + "bp_xprofile_data", "value",
                              expression="CASE WHEN field_id = 1 THEN value ELSE '' END",
                              label="emptied except the name (field 1)"))
    # Akismet keeps what it sent about each comment: the author's e-mail, IP address, browser, referrer.
    rules.append(SanitizeRule(site + "commentmeta", "meta_value",
                              expression="CASE WHEN meta_key = 'akismet_as_submitted' THEN '' ELSE meta_value END",
                              label="akismet_as_submitted emptied"))
    return [rule for rule in rules if present(rule.table)]
