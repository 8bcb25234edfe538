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

from synco_core import ConfigError, PhpUnknown, load_dotenv_files, read_php_config

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


def with_secrets(project_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` under the secrets file ``CRAFT_SECRETS_PATH`` names (Craft 4.4+): a PHP file returning an
    array, which ``App::env()`` consults before any variable or constant, so its ``CRAFT_DB_PASSWORD`` wins
    over ``.env``'s. A file Craft would not read (none there) changes nothing; one synco cannot read is a
    one-line error naming it, since what it holds would win over every value synco could read. A relative
    path is the project's, where ``craft`` runs."""
    path_text = environ.get("CRAFT_SECRETS_PATH")
    path = project_dir / path_text if path_text else project_dir
    if not path_text or not path.is_file():
        return dict(environ)
    returned = read_php_config(path, environ=environ, environment_loaded=True).returned
    what = f"Craft's secrets file {path} (CRAFT_SECRETS_PATH)"
    if not isinstance(returned, dict):
        reason = returned.reason if isinstance(returned, PhpUnknown) else "it returns no array"
        raise ConfigError(f"{what} cannot be read without PHP ({reason}); give its values as environment "
                          "variables instead")
    secrets: dict[str, str] = {}
    for name, value in returned.items():
        if isinstance(value, PhpUnknown):
            raise ConfigError(f"{what}: {name!r} cannot be read without PHP ({value.reason}); give it as an "
                              "environment variable instead")
        if value is None or isinstance(value, (dict, list)):
            continue  # isset() is false for null: App::env() looks further
        secrets[str(name)] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return {**environ, **secrets}
