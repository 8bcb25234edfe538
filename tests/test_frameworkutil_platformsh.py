"""Platform.sh's PLATFORM_RELATIONSHIPS as its config reader and the framework bridges read it."""

from __future__ import annotations

import base64
import json

import pytest

from synco_core import (
    ConfigError,
    platform_endpoint_parts,
    platform_in_runtime,
    platform_relationship,
    redact,
)


def _encoded(value: object) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def test_first_endpoint_of_a_relationship_and_its_password_a_secret() -> None:
    endpoints = [{"scheme": "mysql", "host": "database.internal", "port": 3306, "path": "main", "username": "user",
                  "password": "rel-secret-3141"}, {"scheme": "mysql", "host": "replica.internal"}]
    environ = {"PLATFORM_RELATIONSHIPS": _encoded({"database": endpoints, "redis": []})}
    endpoint = platform_relationship(environ, "database")
    assert endpoint is not None and endpoint["host"] == "database.internal"
    assert redact("rel-secret-3141") == "***"
    assert platform_endpoint_parts(endpoint, "database", ("host", "port")) == ("database.internal", "3306")
    assert platform_relationship(environ, "redis") is None and platform_relationship(environ, "other") is None
    assert platform_relationship({}, "database") is None


@pytest.mark.parametrize("raw, message", [
    ("not base64!", "is not base64-encoded JSON"), (_encoded([1, 2]), "is not a JSON object"),
    (_encoded({"database": "x"}), "is not a list of endpoints"),
])
def test_a_relationship_variable_that_is_not_platformshs_is_one_line(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        platform_relationship({"PLATFORM_RELATIONSHIPS": raw}, "database")


def test_missing_parts_are_named() -> None:
    with pytest.raises(ConfigError, match="relationship 'database' lacks one of host, port"):
        platform_endpoint_parts({"host": "h", "port": True}, "database", ("host", "port"))


def test_runtime_needs_the_application_and_the_environment() -> None:
    assert platform_in_runtime({"PLATFORM_APPLICATION_NAME": "app", "PLATFORM_ENVIRONMENT": "main"})
    assert not platform_in_runtime({"PLATFORM_APPLICATION_NAME": "app"})
    assert not platform_in_runtime({"PLATFORM_ENVIRONMENT": "main"})
