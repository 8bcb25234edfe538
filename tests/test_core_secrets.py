"""Secrets never reach a log line, an error message or a traceback."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from synco_core import redaction
from synco_core.dburl import parse_database_url
from synco_core.redaction import RedactingFilter, redact, register_secret
from synco_core.values import DatabaseConfig


def test_redact_plain_and_encoded() -> None:
    register_secret("p@ss/w0rd:x")
    assert redact("login p@ss/w0rd:x failed") == "login *** failed"
    assert redact("mysql://u:p%40ss%2Fw0rd%3Ax@h/db") == "mysql://u:***@h/db"


def test_short_and_empty_values_are_not_secrets() -> None:
    register_secret(None)
    register_secret("")
    register_secret("abc")
    assert redact("abc and the rest") == "abc and the rest"


def test_longest_secret_first() -> None:
    register_secret("longsecret")
    register_secret("longsecret-with-suffix")
    assert redact("x longsecret-with-suffix y") == "x *** y"


def _log_through_filter(emit: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("synco_core.test_secrets")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        assert callable(emit)
        emit(logger)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    return stream.getvalue()


def test_filter_redacts_message_arguments() -> None:
    register_secret("arg-secret-123")
    text = _log_through_filter(lambda log: log.warning("connecting with %s to %s", "arg-secret-123", "db"))
    assert text == "connecting with *** to db\n"


def test_filter_redacts_traceback() -> None:
    register_secret("tb-secret-456")

    def emit(log: logging.Logger) -> None:
        try:
            raise ValueError("bad password tb-secret-456")
        except ValueError:
            log.error("failed", exc_info=True)

    text = _log_through_filter(emit)
    assert "Traceback" in text and "ValueError: bad password ***" in text
    assert "tb-secret-456" not in text


@pytest.mark.parametrize("value", ["äöü-secret", "with space and+plus"])
def test_unicode_and_special_characters(value: str) -> None:
    register_secret(value)
    assert value not in redact(f"x{value}y")


def test_secrets_isolated_keeps_one_tests_passwords_out_of_the_next() -> None:
    """The registry lives as long as the process: a test's password "secret" masked "the secrets vault"
    in a later test of the same worker."""
    with redaction.secrets_isolated():
        redaction.register_secret("outer-pw")
        with redaction.secrets_isolated():
            assert redaction.redact("outer-pw") == "outer-pw"
            redaction.register_secret("secret")
            assert redaction.redact("the secrets vault") == "the ***s vault"
        assert redaction.redact("the secrets vault, outer-pw") == "the secrets vault, ***"


@pytest.mark.parametrize("option", ["password", "passwd", "sslpassword", "PASSWORD", "session_token"])
def test_a_password_given_as_a_driver_option_is_never_shown(option: str) -> None:
    """``?password=`` (libpq and pymysql take it), Django's ``OPTIONS: {'passwd': ...}``, libpq's ``sslpassword``:
    the value showed in ``repr()`` (so in every ``--debug`` hook trace), ``synco detect`` and masked URLs."""
    config = parse_database_url(f"postgresql://u@db.example.com/app?{option}=opt-Secret-77&sslmode=require")
    masked_url = config.url(mask_password=True)
    assert "opt-Secret-77" not in repr(config) and "opt-Secret-77" not in masked_url
    assert "opt-Secret-77" not in json.dumps(config.masked())
    # libpq's own ?password= is the config's password (libpq logs in with it), masked where the password is.
    shown = "u:***@db.example.com/app?" if option == "password" else f"u@db.example.com/app?{option}=***&"
    assert masked_url == f"postgresql://{shown}sslmode=require"
    assert "'sslmode': 'require'" in repr(config), "other options are shown as they are"
    assert redact("FATAL: bad key opt-Secret-77") == "FATAL: bad key ***", "a driver's message quoting it"


def test_a_config_registers_its_password_whoever_made_it() -> None:
    """A plugin that built a config from its framework's files without registering the password left a driver's
    message quoting it unredacted."""
    DatabaseConfig(engine="mysql", name="app", password="plugin-pw-42")
    assert redact("Access denied (plugin-pw-42)") == "Access denied (***)"


def test_the_hook_trace_masks_passwords_in_what_plugins_answered() -> None:
    """The hook trace is written to the core's logger, but shows plugins' objects: a framework's ``settings``
    holding ``{'smtp_password': ...}`` went out under --debug as it was."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger(redaction.HOOK_LOGGER)
    logger.addHandler(handler)
    try:
        logger.warning("finish detect_framework --> %r", {"settings": {"smtp_password": "hook-Secret-9"}})
    finally:
        logger.removeHandler(handler)
    assert "hook-Secret-9" not in stream.getvalue() and "'smtp_password': ***" in stream.getvalue()


@pytest.mark.parametrize("name", ["token", "access_token", "X-Amz-Signature", "X-Amz-Credential",
                                  "X-Amz-Security-Token", "sig", "api_key", "apiKey", "key", "auth", "code",
                                  "client_secret", "password"])
def test_a_credential_in_a_urls_query_is_masked(name: str) -> None:
    """A URL's query may carry a credential (a proxy's ``?token=``, a presigned URL's signature, an API key): a
    message quoting the URL showed it, in errors, log records and tracebacks alike."""
    value = "Qv7-credential-Zk2"
    text = f"cannot fetch https://cdn.example/f.jpg?v=1&{name}={value}&size=2#top (HTTP 403)"
    for masked in (redaction.mask_url_passwords(text), redaction.mask_passwords(text)):
        assert value not in masked
        assert masked == f"cannot fetch https://cdn.example/f.jpg?v=1&{name}=***&size=2#top (HTTP 403)"
    # Settings that are no credential stay as they are.
    plain = "postgresql://u@h/db?sslkey=/etc/k.pem&sslmode=require&monkey=1 users.password=null"
    assert redaction.mask_url_passwords(plain) == plain


def test_a_token_in_the_base_url_is_not_in_receives_error(tmp_path: Path,
                                                          web_server: Callable[[Path], str]) -> None:
    from synco_core import age
    from synco_core.cli.main import cli

    token = "Tok-base-url-5Hq9"
    base = web_server(tmp_path) + f"?token={token}"
    result = CliRunner().invoke(cli, ["--debug", "receive", "synco-0123456789abcdef01234567",
                                      age.generate_identity().to_string(), "--base-url", base, "--all",
                                      "--target", str(tmp_path / "out"), "--timeout", "5"])
    assert result.exit_code == 1 and "is not on the server" in result.stderr
    assert token not in result.output, result.output


def test_a_secret_of_bytes_that_are_not_utf8_is_registered_and_redacted() -> None:
    """A password from a latin-1 command line or file holds surrogate escapes: registering it raised
    UnicodeEncodeError (its URL-encoded form), which ended the command."""
    secret = "pass\udce9word"
    register_secret(secret)
    assert redact(f"denied for {secret}") == "denied for ***"
    assert redact("denied for pass%E9word") == "denied for ***"
    assert redaction.mask_url_passwords(f"https://cdn.example/f?token={secret}") == "https://cdn.example/f?token=***"
