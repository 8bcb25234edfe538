"""``%env(...)%`` processors in doctrine.yaml, as real projects use them: Docker secrets read with
``%env(file:...)%`` (``trim:`` for the newline the secret's file ends with), base64-encoded passwords from a
platform's variables, the parts of one URL (``key:pass:url:DATABASE_URL``), JSON blobs of credentials.

Each is applied as Symfony's ``EnvVarProcessor`` applies it; one that needs the running application
(``require:``, ``const:``, ``enum:``, an application's own processor) leaves the database unknown with a
one-line warning, never the unprocessed text as the password.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from synco_symfony.plugin import detect_framework

Make = Callable[..., Path]
PASSWORD = "s3cr3t/pa+ss=wörd"


def doctrine(password: str, extra_env: str = "") -> dict[str, str]:
    return {
        "config/packages/doctrine.yaml": (
            "doctrine:\n  dbal:\n    driver: pdo_mysql\n    host: db.internal\n    dbname: shop\n"
            f"    user: shop\n    password: '{password}'\n"
            "parameters:\n  fallback_password: 'from-parameter'\n"
        ),
        ".env.local": extra_env,
    }


def _b64(text: str, url: bool = False) -> str:
    encoded = base64.b64encode(text.encode()).decode()
    return encoded.replace("+", "-").replace("/", "_").rstrip("=") if url else encoded


@pytest.mark.parametrize(("setting", "env", "secret_file", "expected"), [
    ("%env(base64:DB_PASS)%", f"DB_PASS={_b64(PASSWORD)}\n", None, PASSWORD),
    ("%env(base64url:DB_PASS)%", f"DB_PASS={_b64(PASSWORD, url=True)}\n", None, PASSWORD),
    ("%env(trim:file:DB_PASS_FILE)%", "DB_PASS_FILE={secret}\n", PASSWORD + "\n", PASSWORD),
    ("%env(file:DB_PASS_FILE)%", "DB_PASS_FILE={secret}\n", PASSWORD, PASSWORD),
    ("%env(trim:file:DB_PASS_FILE)%", "DB_PASS_FILE=var/secrets/db\n", PASSWORD + "\r\n", PASSWORD),
    ("%env(key:pass:url:DATABASE_URL)%", "DATABASE_URL=mysql://shop:s3cr3t%2Fpa%2Bss%3Dw%C3%B6rd@db/shop\n",
     None, PASSWORD),
    ("%env(key:password:json:DB_CREDENTIALS)%", '''DB_CREDENTIALS='{{"password": "s3cr3t/pa+ss=w\\u00f6rd"}}'\n''',
     None, PASSWORD),
    ("%env(key:password:json:file:DB_JSON_FILE)%", "DB_JSON_FILE={secret}\n",
     '{"user": "shop", "password": "s3cr3t/pa+ss=wörd"}', PASSWORD),
    ("%env(default:fallback_password:DB_PASS)%", "DB_PASS=\n", None, "from-parameter"),
    ("%env(string:DB_PASS)%", f"DB_PASS={PASSWORD}\n", None, PASSWORD),
], ids=["base64", "base64url", "trim-file", "file", "relative-file", "url-key", "json-key", "json-file",
        "default", "string"])
def test_processors_give_the_real_password(make_project: Make, no_php: None, tmp_path: Path, setting: str,
                                           env: str, secret_file: str | None, expected: str) -> None:
    project = make_project("symfony6", doctrine(setting))
    secret = tmp_path / "run-secrets" / "db"
    if secret_file is not None:
        target = project / "var/secrets/db" if "var/secrets" in env else secret
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(secret_file.encode())
    (project / ".env.local").write_text(env.format(secret=secret))
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert (framework.database.name, framework.database.password) == ("shop", expected)


def test_a_url_read_from_a_secret_file(make_project: Make, no_php: None, tmp_path: Path) -> None:
    secret = tmp_path / "database_url"
    secret.write_text("postgresql://app:pw%40x@pg.internal:5433/catalog?serverVersion=15\n")
    project = make_project("symfony6", {
        "config/packages/doctrine.yaml": "doctrine:\n  dbal:\n    url: '%env(trim:file:DATABASE_URL_FILE)%'\n",
        ".env.local": f"DATABASE_URL_FILE={secret}\n"})
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    db = framework.database
    assert (db.engine, db.host, db.port, db.name, db.user, db.password) == (
        "postgresql", "pg.internal", 5433, "catalog", "app", "pw@x")


@pytest.mark.parametrize("setting", ["%env(require:DB_PASS)%", "%env(const:DB_PASS)%",
                                     "%env(enum:App\\\\DbPassword:DB_PASS)%", "%env(vault_decrypt:DB_PASS)%",
                                     "%env(trim:file:MISSING_FILE_VAR)%", "%env(base64:DB_PASS)%"])
def test_what_only_the_application_knows_is_not_guessed(make_project: Make, no_php: None, setting: str,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    project = make_project("symfony6", doctrine(setting))
    (project / ".env.local").write_text("DB_PASS=not!base64$\nMISSING_FILE_VAR=/nonexistent/secret\n")
    framework = detect_framework(project)
    assert framework is not None and framework.database is None, "the raw text is not the password"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("doctrine.yaml" in w and "%env(" in w for w in warnings), warnings
    assert all("\n" not in w and "not!base64$" not in w for w in warnings)


def test_a_site_url_only_the_application_knows_leaves_the_rest_detected(make_project: Make, no_php: None,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    project = make_project("symfony6", {
        "config/packages/routing.yaml": "framework:\n  router:\n    default_uri: '%env(require:SITE_URI_FILE)%'\n",
        ".env.local": "DATABASE_URL=mysql://shop:pw@db/shop\nSITE_URI_FILE=config/uri.php\n"})
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None and framework.database.name == "shop"
    assert framework.site_url is None
    assert "site URL is unknown" in caplog.text
