"""PHP values as the configuration reader (:mod:`synco_core.frameworkutil.phpconfig`) computes them: the
:class:`PhpUnknown` marker for what only PHP could compute, and PHP 8's conversions and comparisons of scalars
(``to_str``, ``to_bool``, ``to_number``, ``loose_equal``, ``compare``, ``array_key``)."""

from __future__ import annotations

import re
from typing import Any

#: Predefined constants a configuration file may use.
PREDEFINED: dict[str, Any] = {
    "DIRECTORY_SEPARATOR": "/", "PATH_SEPARATOR": ":", "PHP_EOL": "\n", "PHP_OS": "Linux", "PHP_OS_FAMILY": "Linux",
    "PHP_INT_MAX": 2**63 - 1, "PHP_INT_MIN": -(2**63), "PHP_INT_SIZE": 8, "PHP_SAPI": "cli",
    "FILTER_VALIDATE_BOOLEAN": 258, "FILTER_VALIDATE_BOOL": 258, "FILTER_VALIDATE_INT": 257,
    "FILTER_NULL_ON_FAILURE": 134217728, "FILTER_DEFAULT": 516,
    "PHP_URL_SCHEME": 0, "PHP_URL_HOST": 1, "PHP_URL_PORT": 2, "PHP_URL_USER": 3, "PHP_URL_PASS": 4,
    "PHP_URL_PATH": 5, "PHP_URL_QUERY": 6, "PHP_URL_FRAGMENT": 7,
    "JSON_THROW_ON_ERROR": 4194304, "JSON_OBJECT_AS_ARRAY": 1,
    "E_ALL": 32767, "E_ERROR": 1, "E_WARNING": 2, "E_NOTICE": 8, "E_DEPRECATED": 8192, "E_STRICT": 2048,
    "E_USER_DEPRECATED": 16384,
}
URL_PARTS = ("scheme", "host", "port", "user", "pass", "path", "query", "fragment")

class PhpUnknown:
    """A value the reader cannot know without running PHP; ``reason`` says why (for error messages).

    It is falsy-free on purpose: using it as a boolean raises ``TypeError``, so code that forgets to check
    for it fails loudly instead of taking a branch at random.
    """

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"PhpUnknown({self.reason!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PhpUnknown) and other.reason == self.reason

    def __hash__(self) -> int:
        return hash(("PhpUnknown", self.reason))

    def __bool__(self) -> bool:
        raise TypeError(f"the PHP value is not known ({self.reason}); check for PhpUnknown first")


class PhpObject:
    """A ``stdClass`` made by an ``(object)`` cast of an array: its properties are the array's entries.

    Not a ``dict``, so it never passes for an array (``$object['key']`` is an error in PHP, not a lookup).
    """

    __slots__ = ("properties",)

    def __init__(self, properties: dict[Any, Any]) -> None:
        self.properties = {str(key): value for key, value in properties.items()}

    def __repr__(self) -> str:
        return f"PhpObject({list(self.properties)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PhpObject) and other.properties == self.properties

    __hash__ = None  # type: ignore[assignment]


class PhpConfigObject:
    """A fluent configuration object a plugin's function made (Craft's ``DbConfig::create()``): each method
    call sets the setting of its name to its argument (``true`` when it has none, as a flag's setter defaults)
    and returns the object, which is a handle as in PHP (every variable holding it sees the change), so
    ``->server('db')->port(3306)`` reads as ``{'server': 'db', 'port': 3306}``;
    ``->name`` reads a setting back. ``cls`` is the class, for messages.
    """

    __slots__ = ("cls", "settings")

    def __init__(self, cls: str, settings: dict[str, Any] | None = None) -> None:
        self.cls = cls
        self.settings = dict(settings or {})

    def __repr__(self) -> str:
        return f"PhpConfigObject({self.cls!r}, {list(self.settings)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PhpConfigObject) and (other.cls, other.settings) == (self.cls, self.settings)

    __hash__ = None  # type: ignore[assignment]


def is_known(value: Any) -> bool:
    """True when ``value`` holds no :class:`PhpUnknown` anywhere (inside arrays too)."""
    if isinstance(value, PhpUnknown):
        return False
    if isinstance(value, dict):
        return all(is_known(item) for item in value.values())
    if isinstance(value, PhpObject):
        return all(is_known(item) for item in value.properties.values())
    if isinstance(value, PhpConfigObject):
        return all(is_known(item) for item in value.settings.values())
    return True


def first_unknown(values: Any) -> PhpUnknown | None:
    for value in values:
        if isinstance(value, PhpUnknown):
            return value
    return None


def to_str(value: Any) -> str:
    """PHP's string conversion of a scalar."""
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value).replace("e+", "E+").replace("e-", "E-")
    if isinstance(value, dict):
        return "Array"
    return str(value)


def to_bool(value: Any) -> bool:
    if isinstance(value, dict):
        return bool(value)
    if isinstance(value, str):
        return value not in ("", "0")
    return bool(value)


NUMERIC = re.compile(r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$")


def to_number(value: Any) -> int | float:
    if isinstance(value, bool) or value is None:
        return int(bool(value))
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        match = re.match(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", value)
        if not match:
            return 0
        text = match.group(0)
        return float(text) if any(c in text for c in ".eE") else int(text)
    return 1 if value else 0


def loose_equal(a: Any, b: Any) -> bool:
    """PHP 8's ``==``."""
    if a is None or b is None:
        other = b if a is None else a
        if isinstance(other, str):
            return other == ""
        return not to_bool(other)
    if isinstance(a, bool) or isinstance(b, bool):
        return to_bool(a) == to_bool(b)
    if isinstance(a, str) and isinstance(b, str):
        if NUMERIC.match(a) and NUMERIC.match(b):
            return to_number(a) == to_number(b)
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, str):
        return (NUMERIC.match(b) is not None and a == to_number(b)) or (not NUMERIC.match(b) and to_str(a) == b)
    if isinstance(b, (int, float)) and isinstance(a, str):
        return loose_equal(b, a)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(loose_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def compare(a: Any, b: Any) -> int | None:
    """PHP 8's ``<=>`` for scalars (-1, 0, 1); None for arrays."""
    if isinstance(a, dict) or isinstance(b, dict):
        return None
    if a is None and isinstance(b, str):
        a = ""
    elif b is None and isinstance(a, str):
        b = ""
    elif isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        x, y = to_bool(a), to_bool(b)
        return (x > y) - (x < y)
    if isinstance(a, str) and isinstance(b, str):
        if NUMERIC.match(a) and NUMERIC.match(b):
            p, q = to_number(a), to_number(b)
            return (p > q) - (p < q)
        return (a > b) - (a < b)
    if isinstance(a, str) and not NUMERIC.match(a):
        text = to_str(b)
        return (a > text) - (a < text)
    if isinstance(b, str) and not NUMERIC.match(b):
        text = to_str(a)
        return (text > b) - (text < b)
    p, q = to_number(a), to_number(b)
    return (p > q) - (p < q)


def array_key(key: Any) -> int | str:
    """PHP's array key normalisation: integer strings become integers, booleans and floats integers."""
    if isinstance(key, bool):
        return int(key)
    if isinstance(key, int):
        return key
    if isinstance(key, float):
        return int(key)
    if key is None:
        return ""
    text = str(key)
    if re.fullmatch(r"-?[1-9][0-9]*|0", text) and abs(int(text)) < 2**63:
        return int(text)
    return text


def next_index(array: dict[Any, Any]) -> int:
    integers = [k for k in array if isinstance(k, int)]
    return max(integers) + 1 if integers else 0
