"""Secrets never reach a log line, an error message or a traceback."""

from __future__ import annotations

import io
import logging

import pytest

from synco_core import redaction
from synco_core.redaction import RedactingFilter, redact, register_secret


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
