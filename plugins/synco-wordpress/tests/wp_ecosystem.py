"""Tables and rows of WordPress core and of the plugins most sites run, as those create them (their public
schemas, reduced to the columns that matter), with personal data and credentials written as marker values.

Every personal value or credential matches :data:`LEAK` (``pii``, ``s3cr3t`` or an address in
203.0.113.0/24); every value that must survive the sanitising is listed in :data:`KEPT`.
"""

from __future__ import annotations

import re
from typing import Any

from wp_support import php_serialize

LEAK = re.compile(r"pii[\w.@-]*|s3cr3t\w*|203\.0\.113\.\d+")

#: ``(statement, rows)``: ``{p}`` is the table prefix; each row is inserted with the statement's placeholders.
Table = tuple[str, str, list[tuple[Any, ...]]]


def _ser(value: Any) -> str:
    return php_serialize(value)


def _edd_address(table: str, owner: str) -> Table:
    """Easy Digital Downloads 3's addresses, of a customer or of an order."""
    return (f"""CREATE TABLE `{{p}}{table}` (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        {owner} BIGINT UNSIGNED NOT NULL DEFAULT 0, type VARCHAR(20) NOT NULL DEFAULT 'billing',
        name MEDIUMTEXT NOT NULL, address MEDIUMTEXT NOT NULL, address2 MEDIUMTEXT NOT NULL, city MEDIUMTEXT NOT
        NULL, region MEDIUMTEXT NOT NULL, postal_code VARCHAR(32) NOT NULL DEFAULT '', country MEDIUMTEXT NOT NULL)""",
            f"INSERT INTO `{{p}}{table}` ({owner}, name, address, address2, city, region, postal_code, country) "
            "VALUES (1, %s, %s, %s, %s, %s, %s, 'CH')",
            [("pii-Ann", "pii-street", "pii-floor", "pii-Bern", "pii-BE", "pii-3000")])


def _quiz_toplist(table: str, address: str) -> Table:
    """LearnDash's quiz leaderboard (its own table name, and the WP-Pro-Quiz one it started from)."""
    return (f"""CREATE TABLE `{{p}}{table}` (toplist_id INT NOT NULL AUTO_INCREMENT, quiz_id INT NOT NULL,
        date INT UNSIGNED NOT NULL, user_id BIGINT UNSIGNED NOT NULL, name VARCHAR(30) NOT NULL,
        email VARCHAR(200) NOT NULL, points INT UNSIGNED NOT NULL, result FLOAT UNSIGNED NOT NULL,
        ip VARCHAR(100) NOT NULL, PRIMARY KEY (toplist_id, quiz_id))""",
            f"INSERT INTO `{{p}}{table}` (quiz_id, date, user_id, name, email, points, result, ip) "
            "VALUES (1, 1, 0, %s, %s, 10, 100, %s)", [("pii-Ann", "pii-ld@real.example", address)])


CORE: list[Table] = [
    ("""CREATE TABLE `{p}users` (ID BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        user_login VARCHAR(60) NOT NULL DEFAULT '', user_pass VARCHAR(255) NOT NULL DEFAULT '',
        user_email VARCHAR(100) NOT NULL DEFAULT '', user_activation_key VARCHAR(255) NOT NULL DEFAULT '',
        display_name VARCHAR(250) NOT NULL DEFAULT '')""",
     "INSERT INTO `{p}users` (user_login, user_pass, user_email, user_activation_key, display_name) "
     "VALUES (%s, %s, %s, %s, %s)",
     [("admin", "$P$Bs3cr3thash", "pii-admin@real.example", "", "Admin")]),
    ("""CREATE TABLE `{p}usermeta` (umeta_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT UNSIGNED NOT NULL DEFAULT 0, meta_key VARCHAR(255), meta_value LONGTEXT)""",
     "INSERT INTO `{p}usermeta` (user_id, meta_key, meta_value) VALUES (1, %s, %s)",
     [("nickname", "admin"),
      ("_application_passwords", _ser({0: {"uuid": "u1", "name": "CI", "password": "$generic$s3cr3tapphash",
                                           "last_ip": "203.0.113.20"}})),
      ("community-events-location", _ser({"description": "pii-Bern", "ip": "203.0.113.0"})),
      ("_two_factor_totp_key", "s3cr3tTOTPKEY"),
      ("_two_factor_backup_codes", _ser({0: "$P$Bs3cr3tbackup"})),
      ("_two_factor_email_token", "s3cr3temailtoken"),
      # The providers the account logs in with: e-mailed codes would go to its masked address.
      ("_two_factor_enabled_providers", _ser({0: "Two_Factor_Email", 1: "Two_Factor_Totp"})),
      ("_two_factor_provider", "Two_Factor_Email"),
      ("_new_email", _ser({"hash": "s3cr3thash", "newemail": "pii-new@real.example"})),
      # Easy Digital Downloads keeps a user's API keys as the meta_key (the value names which key it is).
      ("s3cr3teddpublickey", "edd_user_public_key"), ("s3cr3teddsecretkey", "edd_user_secret_key"),
      ("dismissed_wp_pointers", "kept-pointer")]),
    ("""CREATE TABLE `{p}signups` (signup_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        domain VARCHAR(200) NOT NULL DEFAULT '', user_login VARCHAR(60) NOT NULL DEFAULT '',
        user_email VARCHAR(100) NOT NULL DEFAULT '', activation_key VARCHAR(50) NOT NULL DEFAULT '',
        meta LONGTEXT)""",
     "INSERT INTO `{p}signups` (domain, user_login, user_email, activation_key, meta) VALUES (%s, %s, %s, %s, %s)",
     # BuddyPress keeps the new member's password hash and profile fields in the sign-up's meta.
     [("", "newbie", "pii-signup@real.example", "s3cr3tactivation",
       _ser({"field_1": "pii-Newbie", "password": "$P$Bs3cr3tsignup"}))]),
]

#: The tables every site of a network has.
SITE: list[Table] = [
    ("""CREATE TABLE `{p}options` (option_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        option_name VARCHAR(191) NOT NULL DEFAULT '' UNIQUE, option_value LONGTEXT NOT NULL,
        autoload VARCHAR(20) NOT NULL DEFAULT 'yes')""",
     "INSERT INTO `{p}options` (option_name, option_value) VALUES (%s, %s)",
     [("blogname", "kept-blogname"), ("mailserver_login", "pii-postbymail@real.example"),
      ("mailserver_pass", "s3cr3tmailpass"),
      *((f"{scheme}_{kind}", f"s3cr3t-{scheme}-{kind}") for scheme in ("auth", "secure_auth", "logged_in", "nonce")
        for kind in ("key", "salt")),
      ("secret_key", "s3cr3toldsecret"),
      ("recovery_keys", _ser({"k1": {"hashed_key": "$P$Bs3cr3trecovery", "created_at": 1700000000}})),
      ("adminhash", _ser({"hash": "s3cr3tadminhash", "newemail": "pii-newadmin@real.example"})),
      ("auto_core_update_notified", _ser({"type": "success", "email": "pii-updates@real.example"})),
      ("jetpack_private_options", _ser({"blog_token": "s3cr3tblogtoken.x", "user_tokens": {1: "s3cr3tuser"}})),
      ("jetpack_options", _ser({"id": 12345, "blog_token": "s3cr3toldblogtoken"})),
      ("wp_mail_smtp", _ser({"mail": {"mailer": "smtp"}, "smtp": {"host": "smtp.example.com",
                                                                  "pass": "s3cr3tsmtppass"},
                             "sendgrid": {"api_key": "SG.s3cr3tsendgrid"}})),
      ("wp_mail_smtp_mail_key", "s3cr3tsodiumkey"),
      ("postman_options", _ser({"basic_auth_password": "s3cr3tpostman", "sender_email": "pii-from@real.example"})),
      ("postman_auth_token", _ser({"access_token": "s3cr3taccess"})),
      ("fluentmail-settings", _ser({"connections": {"c1": {"provider_settings": {"password": "s3cr3tfluent"}}}})),
      ("swpsmtp_options", _ser({"smtp_settings": {"password": "s3cr3teasywp"}})),
      ("woocommerce_stripe_settings", _ser({"enabled": "yes", "secret_key": "sk_live_s3cr3t",
                                            "webhook_secret": "whsec_s3cr3t"})),
      ("woocommerce_paypal_settings", _ser({"api_password": "s3cr3tpaypal", "api_signature": "s3cr3tsig"})),
      ("woocommerce-ppcp-settings", _ser({"client_secret_production": "s3cr3tppcp"})),
      ("mollie-payments-for-woocommerce_live_api_key", "live_s3cr3tmollie"),
      ("rank_math_google_oauth_tokens", _ser({"access_token": "s3cr3tgoogle", "refresh_token": "s3cr3trefresh"})),
      ("limit_login_lockouts", _ser({"203.0.113.30": 1700000000})),
      ("limit_login_logged", _ser({"203.0.113.31": {"pii-user": {"counter": 3}}})),
      # Any plugin's credential, found by its option's name; a yes/no setting of the same kind of name is not one.
      ("acme_crm_api_key", "s3cr3tcrm"), ("acme_crm_client_secret", "s3cr3tclient"),
      ("acme_crm_access_token", "s3cr3tcrmaccess"),
      ("woocommerce_registration_generate_password", "yes")]),
    ("""CREATE TABLE `{p}posts` (ID BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        post_title TEXT NOT NULL, post_content LONGTEXT NOT NULL, post_excerpt TEXT NOT NULL,
        post_name VARCHAR(200) NOT NULL DEFAULT '', post_password VARCHAR(255) NOT NULL DEFAULT '',
        post_type VARCHAR(20) NOT NULL DEFAULT 'post')""",
     "INSERT INTO `{p}posts` (ID, post_title, post_content, post_excerpt, post_name, post_password, post_type) "
     "VALUES (%s, %s, %s, %s, %s, %s, %s)",
     [(1, "kept-title", "kept-content", "", "hello-world", "", "post"),
      # Contact Form 7's messages and senders, as Flamingo keeps them.
      (2, "pii-contact@real.example", "pii-Ann pii-contact@real.example", "", "pii-contact-real-example", "",
       "flamingo_contact"),
      (3, "pii-Question about my order", "pii-Hello, my phone is 079", "pii-excerpt", "pii-question", "",
       "flamingo_inbound"),
      # A Ninja Forms submission.
      (4, "", "", "", "pii-sub", "", "nf_sub"),
      # A personal data export request (Tools > Export Personal Data): the title is the e-mail address, the
      # password the hash of the confirmation key.
      (5, "pii-requester@real.example", '{"pii":"x"}', "", "export_personal_data", "$P$Bs3cr3tconfirm",
       "user_request"),
      # Post SMTP's log of sent mail (before its own tables).
      (6, "pii-Your order", "pii-Dear customer", "", "pii-mail", "", "postman_sent_mail"),
      (7, "kept-reply", "kept-reply-content", "", "reply", "", "reply")]),
    ("""CREATE TABLE `{p}postmeta` (meta_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        post_id BIGINT UNSIGNED NOT NULL DEFAULT 0, meta_key VARCHAR(255), meta_value LONGTEXT)""",
     "INSERT INTO `{p}postmeta` (post_id, meta_key, meta_value) VALUES (%s, %s, %s)",
     [(1, "_edit_lock", "kept-lock"), (2, "_email", "pii-contact@real.example"), (2, "_name", "pii-Ann"),
      (3, "_from_email", "pii-contact@real.example"), (3, "_field_your-message", "pii-message"),
      (3, "_meta", _ser({"remote_ip": "203.0.113.40", "user_agent": "pii-UA"})),
      (4, "_field_12", "pii-ninja"), (4, "_seq_num", "pii-1"),
      (5, "_export_data_raw", "pii-raw"), (6, "original_to", "pii-to@real.example"),
      # bbPress: every reply's author IP, an anonymous poster's details.
      (7, "_bbp_author_ip", "203.0.113.41"), (7, "_bbp_anonymous_email", "pii-anon@real.example"),
      (7, "_bbp_anonymous_name", "pii-Anon"), (7, "_bbp_anonymous_website", "https://pii.example"),
      (7, "_bbp_forum_id", "kept-forum"),
      # Easy Digital Downloads 2's payments (posts of type edd_payment).
      (8, "_edd_payment_user_email", "pii-edd@real.example"), (8, "_edd_payment_user_ip", "203.0.113.42"),
      (8, "_edd_payment_meta", _ser({"user_info": {"first_name": "pii-First", "email": "pii-edd@real.example"}})),
      # An order's key: with the order's number it opens the order's pages on production.
      (100, "_order_key", "wc_order_s3cr3tkey1")]),
    ("""CREATE TABLE `{p}commentmeta` (meta_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        comment_id BIGINT UNSIGNED NOT NULL DEFAULT 0, meta_key VARCHAR(255), meta_value LONGTEXT)""",
     "INSERT INTO `{p}commentmeta` (comment_id, meta_key, meta_value) VALUES (%s, %s, %s)",
     # Akismet keeps what it was sent about each comment.
     [(1, "akismet_as_submitted", _ser({"user_ip": "203.0.113.43", "comment_author_email": "pii-c@real.example",
                                        "user_agent": "pii-UA"})),
      (1, "akismet_result", "false")]),
    # WooCommerce: saved cards' details, the database log.
    ("""CREATE TABLE `{p}woocommerce_payment_tokenmeta` (meta_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT
        PRIMARY KEY, payment_token_id BIGINT UNSIGNED NOT NULL, meta_key VARCHAR(255) NULL,
        meta_value LONGTEXT NULL)""",
     "INSERT INTO `{p}woocommerce_payment_tokenmeta` (payment_token_id, meta_key, meta_value) VALUES (1, %s, %s)",
     [("last4", "pii-4242"), ("expiry_year", "pii-2030"), ("expiry_month", "pii-12"), ("card_type", "pii-visa")]),
    ("""CREATE TABLE `{p}woocommerce_log` (log_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        timestamp DATETIME NOT NULL, level SMALLINT NOT NULL, source VARCHAR(200) NOT NULL,
        message LONGTEXT NOT NULL, context LONGTEXT NULL)""",
     "INSERT INTO `{p}woocommerce_log` (timestamp, level, source, message) VALUES ('2024-01-01', 200, %s, %s)",
     [("stripe", "pii-customer@real.example charged")]),
    ("""CREATE TABLE `{p}wc_order_operational_data` (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        order_id BIGINT UNSIGNED NULL UNIQUE, order_key VARCHAR(100) NULL, created_via VARCHAR(100) NULL)""",
     "INSERT INTO `{p}wc_order_operational_data` (order_id, order_key, created_via) VALUES (%s, %s, 'checkout')",
     [(100, "wc_order_s3cr3tkey1"), (101, None)]),
    ("""CREATE TABLE `{p}woocommerce_downloadable_product_permissions` (permission_id BIGINT UNSIGNED NOT NULL
        AUTO_INCREMENT PRIMARY KEY, download_id VARCHAR(36) NOT NULL, product_id BIGINT UNSIGNED NOT NULL,
        order_id BIGINT UNSIGNED NOT NULL DEFAULT 0, order_key VARCHAR(200) NOT NULL, user_email VARCHAR(200) NOT
        NULL)""",
     "INSERT INTO `{p}woocommerce_downloadable_product_permissions` (download_id, product_id, order_id, order_key, "
     "user_email) VALUES ('d1', 5, 100, %s, %s)", [("wc_order_s3cr3tkey1", "pii-dl@real.example")]),
    # Action Scheduler: a pending action carrying a customer's address, the log (shipped with --all).
    ("""CREATE TABLE `{p}actionscheduler_actions` (action_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        hook VARCHAR(191) NOT NULL, status VARCHAR(20) NOT NULL, args VARCHAR(191), extended_args VARCHAR(8000))""",
     "INSERT INTO `{p}actionscheduler_actions` (hook, status, args, extended_args) VALUES (%s, %s, %s, %s)",
     [("acme_send_followup", "pending", '["pii-followup@real.example"]', None),
      ("acme_send_digest", "pending", "0123456789abcdef0123456789abcdef", '[{"to":"pii-digest@real.example"}]'),
      ("woocommerce_cleanup_draft_orders", "pending", '["kept-args"]', None)]),
    ("""CREATE TABLE `{p}actionscheduler_logs` (log_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        action_id BIGINT UNSIGNED NOT NULL, message TEXT NOT NULL)""",
     "INSERT INTO `{p}actionscheduler_logs` (action_id, message) VALUES (1, %s)",
     [("action failed: could not send to pii-followup@real.example",), ("action created",)]),
    # Easy Digital Downloads' orders keep a key that opens the receipt (below, with the customers).
    # Gravity Forms (2.3+ and the older rg_ tables).
    ("""CREATE TABLE `{p}gf_entry` (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, form_id MEDIUMINT
        UNSIGNED NOT NULL, ip VARCHAR(45) NOT NULL, source_url VARCHAR(200) NOT NULL DEFAULT '',
        user_agent VARCHAR(250) NOT NULL DEFAULT '', status VARCHAR(20) NOT NULL DEFAULT 'active')""",
     "INSERT INTO `{p}gf_entry` (form_id, ip, source_url, user_agent) VALUES (1, %s, %s, %s)",
     [("203.0.113.50", "https://shop.example.com/contact/?email=pii-q@real.example", "pii-UA")]),
    ("""CREATE TABLE `{p}gf_entry_meta` (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, form_id
        MEDIUMINT UNSIGNED NOT NULL DEFAULT 0, entry_id BIGINT UNSIGNED NOT NULL, meta_key VARCHAR(255),
        meta_value LONGTEXT, item_index VARCHAR(60))""",
     "INSERT INTO `{p}gf_entry_meta` (form_id, entry_id, meta_key, meta_value) VALUES (1, 1, %s, %s)",
     [("1", "pii-Ann"), ("2", "pii-gf@real.example"), ("3", "pii-message")]),
    ("""CREATE TABLE `{p}gf_entry_notes` (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, entry_id INT
        UNSIGNED NOT NULL, user_name VARCHAR(250), user_id BIGINT, date_created DATETIME NOT NULL,
        value LONGTEXT, note_type VARCHAR(50))""",
     "INSERT INTO `{p}gf_entry_notes` (entry_id, user_name, date_created, value) VALUES (1, %s, '2024-01-01', %s)",
     [("admin", "pii-called back on 079")]),
    ("""CREATE TABLE `{p}gf_draft_submissions` (uuid CHAR(32) NOT NULL PRIMARY KEY, email VARCHAR(255),
        form_id MEDIUMINT UNSIGNED NOT NULL, date_created DATETIME NOT NULL, ip VARCHAR(45) NOT NULL,
        source_url LONGTEXT NOT NULL, submission LONGTEXT NOT NULL)""",
     "INSERT INTO `{p}gf_draft_submissions` VALUES ('abc', %s, 1, '2024-01-01', %s, '', %s)",
     [("pii-draft@real.example", "203.0.113.51", '{"1":"pii-draft"}')]),
    ("""CREATE TABLE `{p}rg_lead` (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, form_id MEDIUMINT
        UNSIGNED NOT NULL, ip VARCHAR(39) NOT NULL, source_url VARCHAR(200) NOT NULL DEFAULT '',
        user_agent VARCHAR(250) NOT NULL DEFAULT '')""",
     "INSERT INTO `{p}rg_lead` (form_id, ip, user_agent) VALUES (1, %s, %s)", [("203.0.113.52", "pii-UA")]),
    ("""CREATE TABLE `{p}rg_lead_detail` (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, lead_id INT
        UNSIGNED NOT NULL, form_id MEDIUMINT UNSIGNED NOT NULL, field_number FLOAT NOT NULL,
        value VARCHAR(200))""",
     "INSERT INTO `{p}rg_lead_detail` (lead_id, form_id, field_number, value) VALUES (1, 1, 1, %s)",
     [("pii-old-entry",)]),
    ("""CREATE TABLE `{p}rg_lead_detail_long` (lead_detail_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
        value LONGTEXT)""",
     "INSERT INTO `{p}rg_lead_detail_long` VALUES (1, %s)", [("pii-long-entry",)]),
    # How often each form was seen, and from where (Gravity Forms before 2.4 kept the last visitor's address).
    ("""CREATE TABLE `{p}gf_form_view` (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, form_id MEDIUMINT
        UNSIGNED NOT NULL, date_created DATETIME NOT NULL, ip CHAR(15), count MEDIUMINT UNSIGNED NOT NULL DEFAULT 1)""",
     "INSERT INTO `{p}gf_form_view` (form_id, date_created, ip) VALUES (1, '2024-01-01', %s)", [("203.0.113.54",)]),
    # WPForms' payments (1.8.2+): the payer's name as the title, the card and address in the meta.
    ("""CREATE TABLE `{p}wpforms_payments` (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, form_id BIGINT NOT NULL,
        status VARCHAR(10) NOT NULL DEFAULT '', total_amount DECIMAL(26,8) NOT NULL DEFAULT 0, entry_id BIGINT NOT
        NULL DEFAULT 0, gateway VARCHAR(20) NOT NULL DEFAULT '', title VARCHAR(255) NOT NULL DEFAULT '')""",
     "INSERT INTO `{p}wpforms_payments` (form_id, status, total_amount, entry_id, gateway, title) VALUES "
     "(1, 'completed', 10, 1, 'stripe', %s)", [("pii-Payer Name",)]),
    ("""CREATE TABLE `{p}wpforms_payment_meta` (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, payment_id BIGINT
        NOT NULL, meta_key VARCHAR(255), meta_value LONGTEXT)""",
     "INSERT INTO `{p}wpforms_payment_meta` (payment_id, meta_key, meta_value) VALUES (1, %s, %s)",
     [("ip_address", "203.0.113.55"), ("credit_card_last4", "pii-4242"), ("customer_email", "pii-payer@real.example")]),
    # WPForms (with entries).
    ("""CREATE TABLE `{p}wpforms_entries` (entry_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, form_id BIGINT
        NOT NULL, fields LONGTEXT NOT NULL, ip_address VARCHAR(128) NOT NULL, user_agent VARCHAR(256) NOT NULL,
        user_uuid VARCHAR(36) NOT NULL)""",
     "INSERT INTO `{p}wpforms_entries` (form_id, fields, ip_address, user_agent, user_uuid) VALUES (1, %s, %s, %s, %s)",
     [('{"1":{"value":"pii-wpf@real.example"}}', "203.0.113.53", "pii-UA", "pii-uuid")]),
    ("""CREATE TABLE `{p}wpforms_entry_fields` (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, entry_id BIGINT
        NOT NULL, form_id BIGINT NOT NULL, field_id INT NOT NULL, value LONGTEXT NOT NULL)""",
     "INSERT INTO `{p}wpforms_entry_fields` (entry_id, form_id, field_id, value) VALUES (1, 1, 1, %s)",
     [("pii-wpf@real.example",)]),
    ("""CREATE TABLE `{p}wpforms_entry_meta` (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, entry_id BIGINT
        NOT NULL, form_id BIGINT NOT NULL, user_id BIGINT NOT NULL, type VARCHAR(255) NOT NULL,
        data LONGTEXT NOT NULL)""",
     "INSERT INTO `{p}wpforms_entry_meta` (entry_id, form_id, user_id, type, data) VALUES (1, 1, 1, 'note', %s)",
     [("pii-note",)]),
    # Wordfence (its tables named in camel case, or in lower case since 7.5) and its login security module.
    ("""CREATE TABLE `{p}wfLogins` (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, hitID INT, ctime
        DOUBLE NOT NULL, fail TINYINT UNSIGNED NOT NULL, action VARCHAR(40) NOT NULL, username VARCHAR(255) NOT
        NULL, userID INT UNSIGNED NOT NULL, IP BINARY(16), UA TEXT)""",
     "INSERT INTO `{p}wfLogins` (ctime, fail, action, username, userID, IP, UA) "
     "VALUES (1, 1, 'loginFailValidUsername', %s, 1, INET6_ATON('203.0.113.60'), %s)",
     [("pii-login", "pii-UA")]),
    ("""CREATE TABLE `{p}wfhits` (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, ctime DOUBLE NOT NULL,
        IP BINARY(16), URL TEXT, referer TEXT, UA TEXT)""",
     "INSERT INTO `{p}wfhits` (ctime, IP, URL, referer, UA) VALUES (1, INET6_ATON('203.0.113.61'), %s, %s, %s)",
     [("https://shop.example.com/?pii=1", "https://pii.example", "pii-UA")]),
    ("""CREATE TABLE `{p}wfls_2fa_secrets` (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, user_id BIGINT
        UNSIGNED NOT NULL, secret TINYBLOB NOT NULL, recovery BLOB NOT NULL, ctime INT UNSIGNED NOT NULL,
        vtime INT UNSIGNED NOT NULL, mode VARCHAR(20) NOT NULL DEFAULT 'authenticator')""",
     "INSERT INTO `{p}wfls_2fa_secrets` (user_id, secret, recovery, ctime, vtime) VALUES (1, %s, %s, 1, 1)",
     [(b"s3cr3ttotp", b"s3cr3trecovery")]),
    ("""CREATE TABLE `{p}wfls_settings` (name VARCHAR(191) NOT NULL PRIMARY KEY, value LONGBLOB,
        autoload ENUM('no','yes') NOT NULL DEFAULT 'yes')""",
     "INSERT INTO `{p}wfls_settings` (name, value) VALUES (%s, %s)",
     [("shared-hash-secret", b"s3cr3thash"), ("shared-symmetric-secret", b"s3cr3tsym"), ("xmlrpc-enabled", b"1")]),
    ("""CREATE TABLE `{p}wfConfig` (name VARCHAR(100) NOT NULL PRIMARY KEY, val LONGBLOB,
        autoload ENUM('no','yes') NOT NULL DEFAULT 'yes')""",
     "INSERT INTO `{p}wfConfig` (name, val) VALUES (%s, %s)",
     [("apiKey", b"s3cr3twordfencekey"), ("alertEmails", b"pii-alerts@real.example"), ("firewallEnabled", b"1")]),
    # Solid Security (iThemes Security).
    ("""CREATE TABLE `{p}itsec_logs` (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, module VARCHAR(50)
        NOT NULL DEFAULT '', code VARCHAR(100) NOT NULL DEFAULT '', data LONGTEXT NOT NULL, url VARCHAR(500) NOT
        NULL DEFAULT '', user_id BIGINT UNSIGNED NOT NULL DEFAULT 0, remote_ip VARCHAR(50) NOT NULL DEFAULT '')""",
     "INSERT INTO `{p}itsec_logs` (module, code, data, remote_ip) VALUES ('brute_force', 'invalid-login', %s, %s)",
     [(_ser({"username": "pii-user"}), "203.0.113.62")]),
    ("""CREATE TABLE `{p}itsec_lockouts` (lockout_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        lockout_type VARCHAR(25) NOT NULL, lockout_host VARCHAR(40), lockout_user BIGINT UNSIGNED,
        lockout_username VARCHAR(60))""",
     "INSERT INTO `{p}itsec_lockouts` (lockout_type, lockout_host, lockout_username) VALUES ('brute_force', %s, %s)",
     [("203.0.113.63", "pii-user")]),
    # Mail logs: WP Mail SMTP, Post SMTP, WP Mail Logging, Email Log, FluentSMTP.
    ("""CREATE TABLE `{p}wpmailsmtp_emails_log` (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        subject VARCHAR(191) NOT NULL, people TEXT NOT NULL, headers TEXT NOT NULL, content_plain LONGTEXT NOT NULL,
        content_html LONGTEXT NOT NULL, status TINYINT UNSIGNED NOT NULL DEFAULT 0)""",
     "INSERT INTO `{p}wpmailsmtp_emails_log` (subject, people, headers, content_plain, content_html) "
     "VALUES (%s, %s, '', %s, %s)",
     [("pii-Your password reset", '{"to":["pii-to@real.example"]}', "pii-reset link s3cr3tresetkey", "pii-html")]),
    ("""CREATE TABLE `{p}post_smtp_logs` (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, original_to TEXT,
        original_subject TEXT, original_message LONGTEXT, from_header VARCHAR(255))""",
     "INSERT INTO `{p}post_smtp_logs` (original_to, original_subject, original_message) VALUES (%s, %s, %s)",
     [("pii-to@real.example", "pii-subject", "pii-message")]),
    ("""CREATE TABLE `{p}wpml_mails` (mail_id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, timestamp TIMESTAMP NOT NULL
        DEFAULT CURRENT_TIMESTAMP, host VARCHAR(200) NOT NULL DEFAULT '0', receiver VARCHAR(200) NOT NULL DEFAULT '0',
        subject VARCHAR(200) NOT NULL DEFAULT '0', message TEXT, headers TEXT, attachments VARCHAR(800) NOT NULL
        DEFAULT '0')""",
     "INSERT INTO `{p}wpml_mails` (host, receiver, subject, message) VALUES (%s, %s, %s, %s)",
     [("203.0.113.64", "pii-to@real.example", "pii-subject", "pii-message")]),
    ("""CREATE TABLE `{p}email_log` (id MEDIUMINT NOT NULL AUTO_INCREMENT PRIMARY KEY, to_email VARCHAR(500) NOT
        NULL, subject VARCHAR(500) NOT NULL, message TEXT NOT NULL, headers TEXT NOT NULL, ip_address VARCHAR(15))""",
     "INSERT INTO `{p}email_log` (to_email, subject, message, headers, ip_address) VALUES (%s, %s, %s, '', %s)",
     [("pii-to@real.example", "pii-subject", "pii-message", "203.0.113.65")]),
    ("""CREATE TABLE `{p}fsmpt_email_logs` (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        `to` VARCHAR(255), `from` VARCHAR(255), subject VARCHAR(255), body LONGTEXT)""",
     "INSERT INTO `{p}fsmpt_email_logs` (`to`, `from`, subject, body) VALUES (%s, 'shop@example.com', %s, %s)",
     [("pii-to@real.example", "pii-subject", "pii-body")]),
    # Redirection's and Rank Math's logs of visits.
    ("""CREATE TABLE `{p}redirection_logs` (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, created DATETIME
        NOT NULL, url MEDIUMTEXT NOT NULL, agent MEDIUMTEXT, referrer MEDIUMTEXT, ip VARCHAR(45))""",
     "INSERT INTO `{p}redirection_logs` (created, url, agent, referrer, ip) VALUES ('2024-01-01', '/old', %s, %s, %s)",
     [("pii-UA", "https://pii.example/", "203.0.113.66")]),
    ("""CREATE TABLE `{p}redirection_404` (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, created DATETIME
        NOT NULL, url MEDIUMTEXT NOT NULL, agent VARCHAR(255), referrer VARCHAR(255), ip VARCHAR(45))""",
     "INSERT INTO `{p}redirection_404` (created, url, agent, referrer, ip) VALUES ('2024-01-01', '/x', %s, %s, %s)",
     [("pii-UA", "https://pii.example/", "203.0.113.67")]),
    ("""CREATE TABLE `{p}rank_math_404_logs` (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        uri VARCHAR(255) NOT NULL, accessed DATETIME NOT NULL, times_accessed BIGINT NOT NULL DEFAULT 1,
        referer VARCHAR(255) NOT NULL DEFAULT '', user_agent VARCHAR(255) NOT NULL DEFAULT '')""",
     "INSERT INTO `{p}rank_math_404_logs` (uri, accessed, referer, user_agent) VALUES ('/x', '2024-01-01', %s, %s)",
     [("https://pii.example/", "pii-UA")]),
    # Easy Digital Downloads 3.
    ("""CREATE TABLE `{p}edd_customers` (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, user_id BIGINT
        UNSIGNED NOT NULL DEFAULT 0, email VARCHAR(100) NOT NULL DEFAULT '' UNIQUE, name VARCHAR(255) NOT NULL
        DEFAULT '', status VARCHAR(20) NOT NULL DEFAULT '')""",
     "INSERT INTO `{p}edd_customers` (user_id, email, name) VALUES (%s, %s, %s)",
     [(1, "pii-edd1@real.example", "pii-Ann"), (0, "pii-edd2@real.example", "pii-Bob")]),
    ("""CREATE TABLE `{p}edd_customer_email_addresses` (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        customer_id BIGINT UNSIGNED NOT NULL DEFAULT 0, type VARCHAR(20) NOT NULL DEFAULT 'secondary',
        email VARCHAR(100) NOT NULL DEFAULT '')""",
     "INSERT INTO `{p}edd_customer_email_addresses` (customer_id, email) VALUES (1, %s)",
     [("pii-edd1b@real.example",)]),
    *(_edd_address(table, owner) for table, owner in (("edd_customer_addresses", "customer_id"),
                                                      ("edd_order_addresses", "order_id"))),
    ("""CREATE TABLE `{p}edd_orders` (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, status VARCHAR(20)
        NOT NULL DEFAULT 'complete', user_id BIGINT UNSIGNED NOT NULL DEFAULT 0, customer_id BIGINT UNSIGNED NOT
        NULL DEFAULT 0, email VARCHAR(100) NOT NULL DEFAULT '', ip VARCHAR(60) NOT NULL DEFAULT '',
        payment_key VARCHAR(64) NOT NULL DEFAULT '', total DECIMAL(18,9) NOT NULL DEFAULT 0)""",
     "INSERT INTO `{p}edd_orders` (customer_id, email, ip, payment_key, total) VALUES (1, %s, %s, %s, 20)",
     [("pii-edd1@real.example", "203.0.113.70", "s3cr3tpaymentkey")]),
    ("""CREATE TABLE `{p}edd_logs_file_downloads` (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        product_id BIGINT UNSIGNED NOT NULL DEFAULT 0, customer_id BIGINT UNSIGNED NOT NULL DEFAULT 0,
        ip VARCHAR(60) NOT NULL DEFAULT '', user_agent VARCHAR(200) NOT NULL DEFAULT '')""",
     "INSERT INTO `{p}edd_logs_file_downloads` (product_id, customer_id, ip, user_agent) VALUES (1, 1, %s, %s)",
     [("203.0.113.71", "pii-UA")]),
    ("""CREATE TABLE `{p}edd_logs_api_requests` (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT UNSIGNED NOT NULL DEFAULT 0, api_key VARCHAR(32) NOT NULL DEFAULT 'public',
        token VARCHAR(32) NOT NULL DEFAULT '', request LONGTEXT NOT NULL, ip VARCHAR(60) NOT NULL DEFAULT '')""",
     "INSERT INTO `{p}edd_logs_api_requests` (api_key, token, request, ip) VALUES (%s, %s, %s, %s)",
     [("s3cr3tkey", "s3cr3ttoken", "pii-request", "203.0.113.72")]),
    # MemberPress: the gateway's raw answer per transaction, a subscription's card.
    ("""CREATE TABLE `{p}mepr_transactions` (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, amount DECIMAL(16,2)
        NOT NULL, user_id BIGINT NOT NULL, trans_num VARCHAR(255), status VARCHAR(255), response LONGTEXT)""",
     "INSERT INTO `{p}mepr_transactions` (amount, user_id, trans_num, status, response) VALUES (10, 1, 'ch_1', "
     "'complete', %s)", [('{"billing_details":{"email":"pii-mp@real.example","name":"pii-Ann"}}',)]),
    ("""CREATE TABLE `{p}mepr_subscriptions` (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, user_id BIGINT NOT NULL,
        subscr_id VARCHAR(255), cc_last4 VARCHAR(10), cc_exp_month VARCHAR(10), cc_exp_year VARCHAR(10))""",
     "INSERT INTO `{p}mepr_subscriptions` (user_id, subscr_id, cc_last4, cc_exp_month, cc_exp_year) VALUES "
     "(1, 'sub_1', %s, %s, %s)", [("pii4", "pii12", "pii2030")]),
    *(_quiz_toplist(table, address) for table, address in (("learndash_pro_quiz_toplist", "203.0.113.73"),
                                                           ("wp_pro_quiz_toplist", "203.0.113.74"))),
    # LearnDash's quiz statistics keep the answers to a quiz's own form (name, e-mail ...).
    ("""CREATE TABLE `{p}learndash_pro_quiz_statistic_ref` (statistic_ref_id INT UNSIGNED NOT NULL AUTO_INCREMENT
        PRIMARY KEY, quiz_id INT NOT NULL, user_id BIGINT UNSIGNED NOT NULL, create_time INT NOT NULL,
        is_old TINYINT UNSIGNED NOT NULL, form_data TEXT NULL)""",
     "INSERT INTO `{p}learndash_pro_quiz_statistic_ref` (quiz_id, user_id, create_time, is_old, form_data) VALUES "
     "(1, 1, 1, 0, %s)", [('{"1":"pii-Ann","2":"pii-ld@real.example"}',)]),
    # BuddyPress: private messages, profile fields, invitations.
    ("""CREATE TABLE `{p}bp_messages_messages` (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, thread_id BIGINT
        NOT NULL, sender_id BIGINT NOT NULL, subject VARCHAR(200) NOT NULL, message LONGTEXT NOT NULL,
        date_sent DATETIME NOT NULL)""",
     "INSERT INTO `{p}bp_messages_messages` (thread_id, sender_id, subject, message, date_sent) VALUES "
     "(1, 1, %s, %s, '2024-01-01')", [("pii-subject", "pii-private message")]),
    ("""CREATE TABLE `{p}bp_xprofile_data` (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, field_id
        BIGINT UNSIGNED NOT NULL, user_id BIGINT UNSIGNED NOT NULL, value LONGTEXT NOT NULL,
        last_updated DATETIME NOT NULL)""",
     "INSERT INTO `{p}bp_xprofile_data` (field_id, user_id, value, last_updated) VALUES (%s, 1, %s, '2024-01-01')",
     [(1, "kept-display-name"), (2, "pii-phone"), (3, "pii-birthday")]),
    ("""CREATE TABLE `{p}bp_invitations` (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, user_id BIGINT NOT NULL,
        inviter_id BIGINT NOT NULL, invitee_email VARCHAR(100) DEFAULT NULL, class VARCHAR(120) NOT NULL,
        content LONGTEXT DEFAULT '')""",
     "INSERT INTO `{p}bp_invitations` (user_id, inviter_id, invitee_email, class, content) VALUES "
     "(0, 1, %s, 'BP_Members_Invitation_Manager', %s)", [("pii-invitee@real.example", "pii-join us")]),
    # Activity logs: Simple History, WP Activity Log, Stream.
    ("""CREATE TABLE `{p}simple_history_contexts` (context_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        history_id BIGINT UNSIGNED NOT NULL, `key` VARCHAR(255), value LONGTEXT)""",
     "INSERT INTO `{p}simple_history_contexts` (history_id, `key`, value) VALUES (1, %s, %s)",
     [("_server_remote_addr", "203.0.113.75"), ("user_email", "pii-sh@real.example")]),
    ("""CREATE TABLE `{p}stream` (ID BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, summary LONGTEXT NOT NULL,
        ip VARCHAR(39) NULL)""",
     "INSERT INTO `{p}stream` (summary, ip) VALUES (%s, %s)", [("pii-user logged in", "203.0.113.76")]),
]

#: Values the sanitising leaves as they are: the site still runs and its content is all there.
KEPT = ("kept-args", "kept-blogname", "kept-title", "kept-content", "kept-lock", "kept-reply-content", "kept-forum",
        "kept-pointer", "kept-display-name")


def create(cur: Any, tables: list[Table], prefix: str) -> None:
    for statement, insert, rows in tables:
        cur.execute(statement.format(p=prefix))
        for row in rows:
            cur.execute(insert.format(p=prefix), row)
