"""The PHP functions the configuration reader evaluates: pure ones (``dirname``, ``parse_url``, ``json_decode``,
``str_replace`` ...), the environment (``getenv``, the WordPress image's ``getenv_docker``, the ``env()`` helper of
Bedrock and Laravel), path tests, and calls that only tune PHP itself (``ini_set``), which do nothing here.

Each takes the evaluator first (for the environment, the work budget and path resolution), then the evaluated
arguments; an argument the reader does not know never reaches them.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import unquote, unquote_plus, urlsplit

from synco_core.frameworkutil.configfile import read_config_text
from synco_core.frameworkutil.phpvalues import (
    NUMERIC,
    PREDEFINED,
    URL_PARTS,
    PhpUnknown,
    array_key,
    loose_equal,
    next_index,
    to_bool,
    to_number,
    to_str,
)

#: Longest string a value may hold.
MAX_STRING = 1 << 20


class Evaluator(Protocol):
    """What the functions need of the reader's evaluator."""

    environ: Mapping[str, str]
    functions: dict[str, Callable[..., Any]]

    def spend(self, amount: int) -> None: ...

    def string(self, text: str) -> Any: ...

    def copy(self, value: Any) -> Any: ...

    def resolve_path(self, text: str) -> Path | None: ...

    def getenv(self, name: str, default: Any = None) -> Any: ...

    def eval_const(self, node: tuple[Any, ...]) -> Any: ...

    def is_defined(self, name: str) -> Any: ...



def _getenv(ev: Evaluator, name: Any = None, local_only: Any = False) -> Any:
    if name is None:
        return dict(ev.environ)
    return ev.getenv(to_str(name), False)


def _getenv_docker(ev: Evaluator, name: Any, default: Any = None) -> Any:
    """The official WordPress image's helper: ``NAME_FILE`` (a secret file) wins, then ``NAME``, then the default."""
    key = to_str(name)
    secret_file = ev.environ.get(key + "_FILE")
    if secret_file:
        try:
            # A Docker secret is a small file; bounded like any configuration file, and a pipe (a secrets
            # manager's) is read with a timeout instead of hanging the read.
            text = read_config_text(Path(secret_file), kind="secret file", errors="replace")
        except OSError:
            return PhpUnknown(f"the secret file named by {key}_FILE cannot be read")
        return text[:MAX_STRING].rstrip("\r\n")
    return ev.getenv(key, default)


def _env(ev: Evaluator, name: Any, default: Any = None) -> Any:
    """The ``env()`` helper of Bedrock and Laravel (vlucas/phpdotenv, oscarotero/env): the environment, with
    ``true``/``false``/``null``/``empty`` turned into values."""
    raw = ev.getenv(to_str(name))
    if raw is None or isinstance(raw, PhpUnknown):
        return default if raw is None else raw
    special = {"true": True, "(true)": True, "false": False, "(false)": False, "null": None, "(null)": None,
               "empty": "", "(empty)": ""}
    return special.get(raw.lower(), raw) if raw.lower() in special else raw


def _defined(ev: Evaluator, name: Any) -> Any:
    if not isinstance(name, str):
        return False
    # True, False, or unknown when a file synco did not read may have defined it.
    return True if name in PREDEFINED else ev.is_defined(name)


def _constant(ev: Evaluator, name: Any) -> Any:
    return ev.eval_const(("const", to_str(name)))


def _function_exists(ev: Evaluator, name: Any) -> Any:
    if not isinstance(name, str):
        return PhpUnknown("function_exists() of a name that is not known")
    return name.lower() in BUILTINS or name.lower() in ev.functions


def _dirname(ev: Evaluator, path: Any, levels: Any = 1) -> Any:
    text = to_str(path)
    for _ in range(max(1, int(to_number(levels)))):
        if "/" not in text:
            text = "."
            break
        parent = str(PurePosixPath(text).parent)
        if parent == text:
            break
        text = parent
    return text


def _basename(ev: Evaluator, path: Any, suffix: Any = "") -> Any:
    name = PurePosixPath(to_str(path).rstrip("/")).name
    suffix_text = to_str(suffix)
    return name[: -len(suffix_text)] if suffix_text and name.endswith(suffix_text) and name != suffix_text else name


def _path_check(test: Callable[[Path], bool]) -> Callable[..., Any]:
    def check(ev: Evaluator, path: Any) -> Any:
        resolved = ev.resolve_path(to_str(path))
        try:
            return resolved is not None and test(resolved)
        except OSError:
            return False

    return check


def _realpath(ev: Evaluator, path: Any) -> Any:
    resolved = ev.resolve_path(to_str(path))
    if resolved is None or not resolved.exists():
        return False
    return str(resolved.resolve())


def _trim(function: Callable[[str, str | None], str]) -> Callable[..., Any]:
    def trim(ev: Evaluator, text: Any, characters: Any = None) -> Any:
        chars = None if characters is None else to_str(characters).replace("..", "")
        return function(to_str(text), chars if chars is not None else " \t\n\r\x00\x0b")

    return trim


def _str_replace(ev: Evaluator, search: Any, replace: Any, subject: Any) -> Any:
    searches = list(search.values()) if isinstance(search, dict) else [search]
    replaces = list(replace.values()) if isinstance(replace, dict) else None

    def one(text: str) -> str:
        for index, needle in enumerate(searches):
            needle_text = to_str(needle)
            if not needle_text:
                continue
            if replaces is None:
                with_text = to_str(replace)
            else:
                with_text = to_str(replaces[index]) if index < len(replaces) else ""
            text = text.replace(needle_text, with_text)
        return text

    if isinstance(subject, dict):
        return {key: one(to_str(value)) for key, value in subject.items()}
    return ev.string(one(to_str(subject)))


def _sprintf(ev: Evaluator, template: Any, *values: Any) -> Any:
    arguments = list(values)

    def replace(match: re.Match[str]) -> str:
        spec = match.group(1)
        if spec == "%":
            return "%"
        if not arguments:
            raise ValueError("too few arguments")
        value = arguments.pop(0)
        if spec == "d":
            return str(int(to_number(value)))
        return to_str(value)

    return ev.string(re.sub(r"%([%sd])", replace, to_str(template)))


def _implode(ev: Evaluator, glue: Any, pieces: Any = None) -> Any:
    if pieces is None and isinstance(glue, dict):
        glue, pieces = "", glue
    if isinstance(glue, dict):
        glue, pieces = pieces, glue
    if not isinstance(pieces, dict):
        raise TypeError("implode() needs an array")
    return ev.string(to_str(glue).join(to_str(v) for v in pieces.values()))


def _explode(ev: Evaluator, separator: Any, text: Any, limit: Any = None) -> Any:
    sep = to_str(separator)
    if not sep:
        raise ValueError("empty separator")
    parts = to_str(text).split(sep) if limit is None else to_str(text).split(sep, max(int(to_number(limit)) - 1, 0))
    ev.spend(len(parts))
    return dict(enumerate(parts))


def _array_merge(ev: Evaluator, *arrays: Any) -> Any:
    result: dict[Any, Any] = {}
    for array in arrays:
        if not isinstance(array, dict):
            raise TypeError("array_merge() needs arrays")
        for key, value in array.items():
            if isinstance(key, int):
                result[next_index(result)] = ev.copy(value)
            else:
                result[key] = ev.copy(value)
    return result


def _array_replace(ev: Evaluator, *arrays: Any) -> Any:
    result: dict[Any, Any] = {}
    for array in arrays:
        if not isinstance(array, dict):
            raise TypeError("array_replace() needs arrays")
        for key, value in array.items():
            result[key] = ev.copy(value)
    return result


def _array_replace_recursive(ev: Evaluator, *arrays: Any) -> Any:
    # DDEV's TYPO3 additional.php lays its database over settings.php's with this.
    def replace(base: dict[Any, Any], replacement: dict[Any, Any]) -> dict[Any, Any]:
        result = dict(base)
        for key, value in replacement.items():
            current = result.get(key)
            result[key] = replace(current, value) if isinstance(current, dict) and isinstance(value, dict) \
                else ev.copy(value)
        return result

    if not arrays or not all(isinstance(array, dict) for array in arrays):
        raise TypeError("array_replace_recursive() needs arrays")
    result: dict[Any, Any] = ev.copy(arrays[0])
    for array in arrays[1:]:
        result = replace(result, array)
    return result


def _in_array(ev: Evaluator, needle: Any, haystack: Any, strict: Any = False) -> Any:
    if not isinstance(haystack, dict):
        raise TypeError("in_array() needs an array")
    if to_bool(strict):
        return any(type(v) is type(needle) and v == needle for v in haystack.values())
    return any(loose_equal(v, needle) for v in haystack.values())


def _filter_var(ev: Evaluator, value: Any, filter_id: Any = 516, options: Any = 0) -> Any:
    if filter_id == 258:
        text = to_str(value).strip().lower()
        if text in ("1", "true", "on", "yes"):
            return True
        if text in ("0", "false", "off", "no", ""):
            return False
        return None if isinstance(options, int) and options & 134217728 else False
    if filter_id == 257:
        text = to_str(value).strip()
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else False
    return to_str(value)


def _parse_url(ev: Evaluator, url: Any, component: Any = -1) -> Any:
    text = to_str(url)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return False
    found: dict[str, Any] = {}
    if parts.scheme:
        found["scheme"] = parts.scheme
    if parts.hostname is not None:
        # parse_url keeps the host as written (IPv6 in brackets, case kept).
        netloc = parts.netloc.rsplit("@", 1)[-1]
        host = netloc[: netloc.rfind("]") + 1] if netloc.startswith("[") else netloc.split(":", 1)[0]
        found["host"] = host
    if port is not None:
        found["port"] = port
    if parts.username is not None:
        found["user"] = parts.username
    if parts.password is not None:
        found["pass"] = parts.password
    if parts.path:
        found["path"] = parts.path
    if parts.query:
        found["query"] = parts.query
    if parts.fragment:
        found["fragment"] = parts.fragment
    number = int(to_number(component))
    if number == -1:
        return found
    if 0 <= number < len(URL_PARTS):
        return found.get(URL_PARTS[number])
    return False


def _json_decode(ev: Evaluator, text: Any, associative: Any = None, depth: Any = 512, flags: Any = 0) -> Any:
    raw = to_str(text)
    if len(raw) > MAX_STRING:
        return PhpUnknown("a JSON document larger than the reader's limit")
    try:
        decoded = json.loads(raw)
    except ValueError:
        return None
    as_arrays = to_bool(associative) or (isinstance(flags, int) and flags & 1)
    if not as_arrays and isinstance(decoded, dict):
        return PhpUnknown("json_decode() objects are not evaluated (only associative arrays)")

    def convert(value: Any) -> Any:
        ev.spend(1)
        if isinstance(value, list):
            return {index: convert(item) for index, item in enumerate(value)}
        if isinstance(value, dict):
            return {array_key(key): convert(item) for key, item in value.items()}
        return value

    return convert(decoded)


def _base64_decode(ev: Evaluator, text: Any, strict: Any = False) -> Any:
    try:
        return base64.b64decode(to_str(text) + "==", validate=False).decode("utf-8", "surrogateescape")
    except ValueError:
        return False


def _substr(ev: Evaluator, text: Any, start: Any, length: Any = None) -> Any:
    value = to_str(text)
    begin = int(to_number(start))
    if length is None:
        return value[begin:]
    count = int(to_number(length))
    start_at = begin if begin >= 0 else max(len(value) + begin, 0)
    end = start_at + count if count >= 0 else len(value) + count
    return value[start_at:end]


def _strpos(ev: Evaluator, haystack: Any, needle: Any, offset: Any = 0) -> Any:
    position = to_str(haystack).find(to_str(needle), int(to_number(offset)))
    return False if position == -1 else position


def _count(ev: Evaluator, value: Any, mode: Any = 0) -> Any:
    if isinstance(value, dict):
        return len(value)
    raise TypeError("count() needs an array")


BUILTINS: dict[str, Callable[..., Any]] = {
    "getenv": _getenv,
    "getenv_docker": _getenv_docker,
    "env": _env,
    "defined": _defined,
    "constant": _constant,
    "function_exists": _function_exists,
    "dirname": _dirname,
    "basename": _basename,
    "realpath": _realpath,
    "file_exists": _path_check(lambda p: p.exists()),
    "is_file": _path_check(lambda p: p.is_file()),
    "is_dir": _path_check(lambda p: p.is_dir()),
    "is_readable": _path_check(lambda p: os.access(p, os.R_OK)),
    "is_link": _path_check(lambda p: p.is_symlink()),
    "trim": _trim(lambda s, c: s.strip(c)),
    "ltrim": _trim(lambda s, c: s.lstrip(c)),
    "rtrim": _trim(lambda s, c: s.rstrip(c)),
    "chop": _trim(lambda s, c: s.rstrip(c)),
    "strtolower": lambda ev, s: to_str(s).lower(),
    "strtoupper": lambda ev, s: to_str(s).upper(),
    "ucfirst": lambda ev, s: to_str(s)[:1].upper() + to_str(s)[1:],
    "lcfirst": lambda ev, s: to_str(s)[:1].lower() + to_str(s)[1:],
    "str_replace": _str_replace,
    "sprintf": _sprintf,
    "implode": _implode,
    "join": _implode,
    "explode": _explode,
    "array_merge": _array_merge,
    "array_replace": _array_replace,
    "array_replace_recursive": _array_replace_recursive,
    "in_array": _in_array,
    "array_key_exists": lambda ev, key, array: isinstance(array, dict) and array_key(key) in array,
    "array_keys": lambda ev, array: dict(enumerate(array.keys())),
    "array_values": lambda ev, array: dict(enumerate(array.values())),
    "is_array": lambda ev, value: isinstance(value, dict),
    "is_string": lambda ev, value: isinstance(value, str),
    "is_numeric": lambda ev, value: (isinstance(value, (int, float)) and not isinstance(value, bool))
    or (isinstance(value, str) and NUMERIC.match(value) is not None),
    "is_null": lambda ev, value: value is None,
    "is_bool": lambda ev, value: isinstance(value, bool),
    "count": _count,
    "strlen": lambda ev, s: len(to_str(s).encode("utf-8", "surrogateescape")),
    "strpos": _strpos,
    "str_contains": lambda ev, haystack, needle: to_str(needle) in to_str(haystack),
    "str_starts_with": lambda ev, haystack, needle: to_str(haystack).startswith(to_str(needle)),
    "str_ends_with": lambda ev, haystack, needle: to_str(haystack).endswith(to_str(needle)),
    "substr": _substr,
    "intval": lambda ev, value, base=10: int(to_number(value)),
    "floatval": lambda ev, value: float(to_number(value)),
    "strval": lambda ev, value: to_str(value),
    "boolval": lambda ev, value: to_bool(value),
    "filter_var": _filter_var,
    "parse_url": _parse_url,
    "urldecode": lambda ev, s: unquote_plus(to_str(s)),
    "rawurldecode": lambda ev, s: unquote(to_str(s)),
    "base64_decode": _base64_decode,
    "json_decode": _json_decode,
    "php_sapi_name": lambda ev: "cli",
    "max": lambda ev, *values: max(values, key=to_number),
    "min": lambda ev, *values: min(values, key=to_number),
    "abs": lambda ev, value: abs(to_number(value)),
    # Calls that only change PHP's own behaviour: evaluated as doing nothing.
    "ini_set": lambda ev, *values: False,
    "error_reporting": lambda ev, *values: 0,
    "set_time_limit": lambda ev, *values: True,
    "date_default_timezone_set": lambda ev, *values: True,
    "setlocale": lambda ev, *values: False,
    "assert_options": lambda ev, *values: False,
}
