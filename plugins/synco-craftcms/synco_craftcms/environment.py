"""The environment a Craft CMS project runs with: the real one, with the project's ``.env`` beneath it.

Craft's ``bootstrap.php`` (or ``web/index.php`` / ``craft`` in Craft 3) loads ``.env`` with phpdotenv's
immutable repository: a variable already set in the real environment keeps its value. ``App::env()`` then
reads ``$_SERVER`` and ``getenv()`` and turns ``true`` / ``false`` / ``null`` and numbers into PHP values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from synco_core import load_dotenv_files

_NUMBER = re.compile(r"^-?(?:\d+|\d*\.\d+)$")

#: The PHP values ``App::env()`` returns.
EnvValue = str | int | float | bool | None


def project_environment(project_dir: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The real environment (``os.environ`` by default) with ``.env``'s variables where it has none."""
    real = dict(os.environ if environ is None else environ)
    return {**load_dotenv_files([project_dir / ".env"], environ=real, style="phpdotenv"), **real}


def normalise_value(value: str) -> EnvValue:
    """``craft\\helpers\\App::normalizeValue()``: what ``App::env()`` makes of a variable's text."""
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if _NUMBER.match(value):
        return float(value) if "." in value else int(value)
    return value


def env_value(environ: Mapping[str, str], name: str) -> EnvValue:
    """``App::env(name)``: the normalised value, or None when the variable is not set."""
    value = environ.get(name)
    return None if value is None else normalise_value(value)


def parse_env(environ: Mapping[str, str], value: str) -> str:
    """``App::parseEnv()`` for a setting: ``$NAME`` is the variable's value (kept as written when unset);
    aliases (``@webroot``) are left to the caller."""
    if value.startswith("$") and re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", value):
        return environ.get(value[1:], value)
    return value


def as_text(value: object) -> str | None:
    """A setting as the string PDO receives (a number from ``App::env`` back to its digits)."""
    if value is None or value is False or value == "":
        return None
    if value is True:
        return "1"
    return str(value)
