"""Platform.sh's (and Upsun's) description of an application's services, as its bridges read it.

At run time Platform.sh sets ``PLATFORM_RELATIONSHIPS``: base64-encoded JSON mapping each relationship
name of the application's configuration to a list of endpoints (``scheme``, ``host``, ``port``,
``username``, ``password``, ``path``, ``query`` ...). Its config reader (``platformsh/config-reader``),
which the Laravel and Symfony bridges use, is "in runtime" when ``PLATFORM_APPLICATION_NAME`` and
``PLATFORM_ENVIRONMENT`` are both set, and its ``credentials(name)`` is the first endpoint of a relationship.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from synco_core.errors import ConfigError
from synco_core.redaction import register_secret


def platform_in_runtime(environ: Mapping[str, str]) -> bool:
    """True where Platform.sh's config reader says it is in runtime (not the build hook, not a laptop)."""
    return bool(environ.get("PLATFORM_APPLICATION_NAME")) and bool(environ.get("PLATFORM_ENVIRONMENT"))


def platform_relationship(environ: Mapping[str, str], name: str) -> dict[str, Any] | None:
    """The first endpoint of relationship ``name`` in ``PLATFORM_RELATIONSHIPS``, or None when it has none.

    Its password is registered as a secret. A variable that is not base64-encoded JSON of that shape is a
    one-line :class:`ConfigError` (the application's bridge would fail on it too).
    """
    raw = environ.get("PLATFORM_RELATIONSHIPS")
    if not raw:
        return None
    try:
        relationships = json.loads(base64.b64decode(raw, validate=True))
    except (ValueError, binascii.Error):
        raise ConfigError("PLATFORM_RELATIONSHIPS is not base64-encoded JSON") from None
    if not isinstance(relationships, dict):
        raise ConfigError("PLATFORM_RELATIONSHIPS is not a JSON object of relationships")
    endpoints = relationships.get(name)
    if not endpoints:
        return None
    first = endpoints[0] if isinstance(endpoints, list) else None
    if not isinstance(first, dict):
        raise ConfigError(f"PLATFORM_RELATIONSHIPS: the relationship {name!r} is not a list of endpoints")
    if isinstance(first.get("password"), str):
        register_secret(first["password"])
    return first


def endpoint_parts(endpoint: Mapping[str, Any], name: str, parts: tuple[str, ...]) -> tuple[str, ...]:
    """``parts`` of a relationship's endpoint as text; a one-line error naming the relationship when one is
    missing."""
    if not all(isinstance(endpoint.get(key), str | int) and not isinstance(endpoint.get(key), bool)
               for key in parts):
        raise ConfigError(f"PLATFORM_RELATIONSHIPS: the relationship {name!r} lacks one of "
                          f"{', '.join(parts)}")
    return tuple(str(endpoint[key]) for key in parts)
