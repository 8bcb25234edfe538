"""Symfony's environment variable processors, as ``%env(...)%`` applies them to a database setting.

``%env(trim:file:DATABASE_PASSWORD_FILE)%`` reads the variable, then applies the processors from the one next
to its name outwards (``file:`` reads the file it names, ``trim:`` trims that), as Symfony's
``EnvVarProcessor`` does. ``default:``, ``key:`` and ``enum:`` take the next part as their argument
(``default:fallback_parameter:NAME``, ``key:path:url:DATABASE_URL``).

A processor whose result is not known without running the application (``require:`` runs a PHP file,
``const:`` and ``enum:`` need its classes, an application's own processor) is a one-line
:class:`~synco_core.ConfigError` saying what to put in ``.synco.yml``, never the unprocessed value: a
base64-encoded password or the path of a secret's file is not the password.
"""

from __future__ import annotations

import base64
import binascii
import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from synco_core import ConfigError, read_config_text

#: Processors that take the next part of the expression as their argument.
_WITH_ARGUMENT = frozenset({"default", "key", "enum"})
#: Processors that cannot be applied without running the application.
_NEEDS_PHP = {"require": "it runs a PHP file", "const": "it reads a PHP constant",
              "enum": "it builds a PHP enum", "shuffle": "it shuffles at random"}
_ADVICE = "set SYNCO_DATABASE_URL, or give the database in .synco.yml and pass --framework symfony"
#: PHP's trim() characters.
_PHP_SPACE = " \t\n\r\0\x0b"


def php_text(value: Any) -> str:
    """A value as PHP's string conversion gives it (an array is an error: it is no setting's text)."""
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, (dict, list)):
        raise ConfigError("an array where a text value is expected")
    return str(value)


def _bool(value: Any) -> bool:
    """``bool:`` as Symfony applies it: a yes/true/on/1 word, or a non-zero number; anything else is false."""
    text = php_text(value).strip().lower()
    if text in ("1", "true", "on", "yes"):
        return True
    try:
        return float(text) != 0
    except ValueError:
        return False


def _url(value: Any) -> dict[str, Any]:
    """``url:``: the parts of a URL as Symfony gives them (path without its leading slash, user and password
    decoded, absent parts null)."""
    parts = urlsplit(php_text(value))
    if not parts.scheme:
        raise ConfigError("url: the value is not a URL")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("url: the port is not a number") from None
    return {"scheme": parts.scheme, "host": parts.hostname, "port": port,
            "user": unquote(parts.username) if parts.username is not None else None,
            "pass": unquote(parts.password) if parts.password is not None else None,
            "path": parts.path[1:] if parts.path.startswith("/") else parts.path or None,
            "query": parts.query or None, "fragment": parts.fragment or None}


class EnvProcessors:
    """Evaluates the body of one ``%env(...)%``.

    ``lookup`` gives a variable's value (None when it is set nowhere); ``parameter`` a container parameter's
    (``env(NAME)`` is a variable's default); ``base_dir`` is where a relative ``file:`` path starts.
    """

    def __init__(self, lookup: Callable[[str], str | None], parameter: Callable[[str], str | None],
                 base_dir: Path | None) -> None:
        self.lookup = lookup
        self.parameter = parameter
        self.base_dir = base_dir

    def __call__(self, expression: str, resolve: Callable[[str], str]) -> Any:
        """The value of ``expression`` (None when its variable is set nowhere and has no default);
        ``resolve`` replaces ``%parameter%`` references (the ``resolve:`` processor)."""
        if ":" not in expression:
            value = self.lookup(expression)
            return self.parameter(f"env({expression})") if value is None else value
        prefix, rest = expression.split(":", 1)
        argument = ""
        if prefix in _WITH_ARGUMENT:
            if ":" not in rest:
                raise ConfigError(f"%env({expression})%: {prefix}: needs an argument and a variable")
            argument, rest = rest.split(":", 1)
        if prefix in _NEEDS_PHP:
            raise ConfigError(f"%env({expression})% is not known without running the application "
                              f"({prefix}: {_NEEDS_PHP[prefix]}); {_ADVICE}")
        value = self(rest, resolve)
        if prefix == "default":
            return value if value not in (None, "") else (self.parameter(argument) if argument else None)
        if value is None:
            return None
        return self._apply(prefix, argument, value, expression, resolve)

    def _apply(self, prefix: str, argument: str, value: Any, expression: str,
               resolve: Callable[[str], str]) -> Any:
        try:
            if prefix == "resolve":
                return resolve(php_text(value))
            if prefix == "string":
                return php_text(value)
            if prefix in ("bool", "not"):
                return _bool(value) if prefix == "bool" else not _bool(value)
            if prefix == "int":
                return int(float(php_text(value) or 0))
            if prefix == "float":
                return float(php_text(value) or 0)
            if prefix == "trim":
                return php_text(value).strip(_PHP_SPACE)
            if prefix in ("base64", "base64url"):
                text = php_text(value)
                if prefix == "base64url":
                    text = text.replace("-", "+").replace("_", "/")
                return base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode("utf-8")
            if prefix == "file":
                return self._file(php_text(value))
            if prefix == "json":
                return json.loads(php_text(value))
            if prefix == "key":
                if not isinstance(value, dict):
                    raise ConfigError(f"key:{argument}: the value is not an array")
                if argument not in value:
                    raise ConfigError(f"key:{argument}: the array has no such key")
                return value[argument]
            if prefix == "url":
                return _url(value)
            if prefix == "query_string":
                return dict(parse_qsl(php_text(value), keep_blank_values=True))
            if prefix == "csv":
                return next(csv.reader([php_text(value)]), [])
        except ConfigError as exc:
            raise ConfigError(f"%env({expression})%: {exc}") from None
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise ConfigError(f"%env({expression})%: {prefix}: cannot be applied "
                              f"({type(exc).__name__})") from None
        raise ConfigError(f"%env({expression})% uses the processor {prefix}:, which is the application's own: its "
                          f"value is not known without running the application; {_ADVICE}")

    def _file(self, name: str) -> str:
        path = Path(name)
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        try:
            return read_config_text(path, kind="file an %env(file:...)% names")
        except FileNotFoundError:
            raise ConfigError(f"file: {path} does not exist") from None
        except OSError as exc:
            raise ConfigError(f"file: cannot read {path}: {type(exc).__name__}") from None
