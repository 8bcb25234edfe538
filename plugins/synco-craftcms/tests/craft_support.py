"""Craft CMS projects laid out as the craftcms/craft starter lays them out, for synco-craftcms's tests."""

from __future__ import annotations

from pathlib import Path

from synco_core import DatabaseConfig
from synco_core.testing.services import mysql_admin_connection, postgres_admin_connection

CRAFT4_ENV = """# Read by Craft's bootstrap.php through phpdotenv
CRAFT_APP_ID=CraftCMS--3fd4b3e2
CRAFT_ENVIRONMENT=production
CRAFT_SECURITY_KEY=not-a-real-key-0123456789
CRAFT_DB_DRIVER=mysql
CRAFT_DB_SERVER=db.internal
CRAFT_DB_PORT=3306
CRAFT_DB_DATABASE=craft
CRAFT_DB_USER=craft
CRAFT_DB_PASSWORD="s3cr$t pass"
CRAFT_DB_SCHEMA=public
CRAFT_DB_TABLE_PREFIX=
PRIMARY_SITE_URL=https://www.example.org
"""

COMPOSER = '{"require": {"craftcms/cms": "^4.5.0", "vlucas/phpdotenv": "^5.4.0"}}\n'

FILES: dict[str, str] = {
    "craft": "#!/usr/bin/env php\n<?php\nrequire __DIR__ . '/bootstrap.php';\n",
    "bootstrap.php": "<?php\ndefine('CRAFT_BASE_PATH', __DIR__);\n",
    "composer.json": COMPOSER,
    ".env": CRAFT4_ENV,
    "config/general.php": "<?php\nuse craft\\config\\GeneralConfig;\nuse craft\\helpers\\App;\n\n"
                          "return GeneralConfig::create()->defaultWeekStartDay(1)->omitScriptNameInUrls();\n",
    "config/project/project.yaml": "dateModified: 1700000000\nsystem:\n  edition: solo\n  schemaVersion: 4.5.3.0\n",
    "config/project/sites/default--0b1f3c3e-aaaa-4bbb-8ccc-000000000001.yaml":
        "baseUrl: $PRIMARY_SITE_URL\nhandle: default\nhasUrls: true\nlanguage: en-US\nname: Example\nprimary: true\n",
    "config/project/volumes/images--6f2a0b1c-aaaa-4bbb-8ccc-000000000002.yaml":
        "fs: images\nhandle: images\nname: Images\ntransformFs: ''\ntransformSubpath: ''\n",
    "config/project/volumes/documents--6f2a0b1c-aaaa-4bbb-8ccc-000000000003.yaml":
        "fs: documents\nhandle: documents\nname: Documents\n",
    "config/project/fs/images.yaml": "hasUrls: true\nname: Images\nsettings:\n  path: '@webroot/uploads/images'\n"
                                     "type: craft\\fs\\Local\nurl: '@web/uploads/images'\n",
    "config/project/fs/documents.yaml": "hasUrls: false\nname: Documents\nsettings:\n  path: '@storage/documents'\n"
                                        "type: craft\\fs\\Local\nurl: null\n",
    "config/project/imageTransforms/thumb--6f2a0b1c-aaaa-4bbb-8ccc-000000000004.yaml":
        "handle: thumb\nheight: 200\nmode: crop\nname: Thumb\nwidth: 200\n",
    "web/index.php": "<?php\nrequire dirname(__DIR__) . '/bootstrap.php';\n",
    "web/uploads/images/cat.jpg": "cat picture",
    "web/uploads/images/2024/dog.jpg": "dog picture",
    "web/uploads/images/_thumb/cat.jpg": "thumbnail of the cat",
    "web/uploads/images/_200x200_crop_center-center_none/cat.jpg": "ad-hoc transform of the cat",
    "storage/documents/contract.pdf": "private contract",
    "storage/logs/web.log": "a log line",
}


def make_craft4(base: Path, files: dict[str, str | None] | None = None) -> Path:
    """A Craft 4 project in ``base``; ``files`` adds, replaces or (with None) removes files."""
    for relative, text in {**FILES, **(files or {})}.items():
        path = base / relative
        if text is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return base


def set_env(project: Path, **values: str) -> None:
    """Replace (or add) variables in the project's ``.env``."""
    lines = [line for line in (project / ".env").read_text().splitlines() if line.split("=", 1)[0] not in values]
    (project / ".env").write_text("\n".join([*lines, *(f"{k}={v}" for k, v in values.items())]) + "\n")


USERS = [
    (1, "admin", "admin@real.example", None, "$2y$13$realhashrealhashrealhash", "203.0.113.9", "code1"),
    (2, "editor@real.example", "editor@real.example", "new@real.example", "$2y$13$otherhash", None, None),
    (3, "nopassword", "pending@real.example", None, None, None, None),
]

def create_schema(engine: str, database: DatabaseConfig, prefix: str, schema: str) -> None:
    """Craft's tables as its install migration creates them (the columns the profile touches)."""
    q = (lambda name: f'"{name}"') if engine == "postgresql" else (lambda name: f"`{name}`")
    table = (lambda name: f"{q(schema)}.{q(prefix + name)}") if schema != "public" else (lambda n: q(prefix + n))
    statements = [] if schema == "public" else [f"CREATE SCHEMA {q(schema)}"]
    statements += [
        f"CREATE TABLE {table('users')} ({q('id')} INTEGER PRIMARY KEY, {q('username')} VARCHAR(255), "
        f"{q('email')} VARCHAR(255) NOT NULL, {q('unverifiedEmail')} VARCHAR(255), {q('password')} VARCHAR(255), "
        f"{q('lastLoginAttemptIp')} VARCHAR(45), {q('verificationCode')} VARCHAR(255))",
        f"CREATE TABLE {table('sessions')} ({q('id')} INTEGER PRIMARY KEY, {q('userId')} INTEGER, "
        f"{q('token')} CHAR(100))",
        f"CREATE TABLE {table('queue')} ({q('id')} INTEGER PRIMARY KEY, "
        f"{q('job')} {'BYTEA' if engine == 'postgresql' else 'LONGBLOB'} NOT NULL, {q('description')} TEXT)",
        f"CREATE TABLE {table('entries')} ({q('id')} INTEGER PRIMARY KEY, {q('title')} VARCHAR(255))",
        f"INSERT INTO {table('sessions')} VALUES (1, 1, 'session-token')",
        # A queued mail (Craft serializes the job with its message: the recipient's address).
        f"INSERT INTO {table('queue')} VALUES (1, 'O:...SendEmail...secret-to@buyer.example', "
        "'Sending email')",
        f"INSERT INTO {table('entries')} VALUES (1, 'Hello Craft')",
        # Craft 4+'s addresses (users' and Commerce's), Craft 5's two-factor tables, and Commerce's orders,
        # stored payment sources and gateway transactions: every personal value or secret says "secret-".
        f"CREATE TABLE {table('addresses')} ({q('id')} INTEGER PRIMARY KEY, {q('ownerId')} INTEGER, "
        f"{q('countryCode')} VARCHAR(255) NOT NULL, {q('administrativeArea')} VARCHAR(255), "
        f"{q('locality')} VARCHAR(255), {q('dependentLocality')} VARCHAR(255), {q('postalCode')} VARCHAR(255), "
        f"{q('sortingCode')} VARCHAR(255), {q('addressLine1')} VARCHAR(255), {q('addressLine2')} VARCHAR(255), "
        f"{q('addressLine3')} VARCHAR(255), {q('organization')} VARCHAR(255), "
        f"{q('organizationTaxId')} VARCHAR(255), {q('fullName')} VARCHAR(255), {q('firstName')} VARCHAR(255), "
        f"{q('lastName')} VARCHAR(255), {q('latitude')} VARCHAR(255), {q('longitude')} VARCHAR(255))",
        f"INSERT INTO {table('addresses')} VALUES (1, 1, 'NL', 'secret-UT', 'secret-Utrecht', 'secret-dl', "
        "'secret-3511', 'secret-sc', 'secret-Street 1', 'secret-line2', 'secret-line3', 'secret-Org', 'secret-NL00', "
        "'secret-Ann Real', 'secret-Ann', 'secret-Real', 'secret-52.09', 'secret-5.12')",
        f"CREATE TABLE {table('authenticator')} ({q('id')} INTEGER PRIMARY KEY, {q('userId')} INTEGER NOT NULL, "
        f"{q('auth2faSecret')} VARCHAR(255), {q('oldTimestamp')} INTEGER)",
        f"INSERT INTO {table('authenticator')} VALUES (1, 1, 'secret-totp', 0)",
        f"CREATE TABLE {table('recoverycodes')} ({q('id')} INTEGER PRIMARY KEY, {q('recoveryCodes')} TEXT)",
        f"INSERT INTO {table('recoverycodes')} VALUES (1, 'secret-recovery')",
        f"CREATE TABLE {table('webauthn')} ({q('id')} INTEGER PRIMARY KEY, {q('userId')} INTEGER NOT NULL, "
        f"{q('credentialId')} VARCHAR(255), {q('credential')} TEXT, {q('credentialName')} VARCHAR(255))",
        f"INSERT INTO {table('webauthn')} VALUES (1, 1, 'secret-cred', 'secret-key', 'secret-Ann phone')",
        f"CREATE TABLE {table('commerce_orders')} ({q('id')} INTEGER PRIMARY KEY, {q('number')} VARCHAR(32), "
        f"{q('email')} VARCHAR(255), {q('lastIp')} VARCHAR(255), {q('customerId')} INTEGER)",
        f"INSERT INTO {table('commerce_orders')} VALUES (1, 'abc', 'secret-buyer@shop.example', 'secret-ip', 1)",
        f"CREATE TABLE {table('commerce_paymentsources')} ({q('id')} INTEGER PRIMARY KEY, "
        f"{q('customerId')} INTEGER, {q('gatewayId')} INTEGER, {q('token')} VARCHAR(255) NOT NULL, "
        f"{q('description')} VARCHAR(255), {q('response')} TEXT)",
        f"INSERT INTO {table('commerce_paymentsources')} VALUES (1, 1, 1, 'secret-pm_token', "
        "'secret-Visa ending 4242', 'secret-gateway answer')",
        f"CREATE TABLE {table('commerce_transactions')} ({q('id')} INTEGER PRIMARY KEY, {q('orderId')} INTEGER, "
        f"{q('reference')} VARCHAR(255), {q('response')} TEXT, {q('message')} TEXT)",
        f"INSERT INTO {table('commerce_transactions')} VALUES (1, 1, 'ch_1', 'secret-card holder', 'Approved')",
    ]
    for row in USERS:
        values = ", ".join("NULL" if v is None else str(v) if isinstance(v, int) else f"'{v}'" for v in row)
        statements.append(f"INSERT INTO {table('users')} VALUES ({values})")
    if engine == "postgresql":
        with postgres_admin_connection(database.name) as conn:
            for statement in statements:
                conn.execute(statement)
    else:
        with mysql_admin_connection(database.name) as conn, conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
