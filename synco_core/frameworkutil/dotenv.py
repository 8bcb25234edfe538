"""Reading ``.env`` files the way PHP frameworks do (Symfony Dotenv and vlucas/phpdotenv, which Laravel uses).

Supported syntax, the common ground of both libraries:

- ``NAME=value`` lines, blank lines and ``# comments``; an optional ``export`` prefix;
- unquoted values end at `` #`` (an inline comment) and are trimmed;
- ``'single quoted'`` values are literal and may span lines;
- ``"double quoted"`` values may span lines, understand ``\\n \\r \\t \\" \\\\ \\$`` and expand variables;
- variable references ``${NAME}``, ``$NAME``, ``${NAME:-default}`` and ``${NAME:=default}`` in unquoted and
  double-quoted values; ``\\$`` keeps a literal dollar sign.

Which references a ``$`` starts differs between the libraries, and a password with a ``$`` in it is common,
so ``style`` says whose rules apply (:data:`DotenvStyle`):

- ``symfony`` (the default): all four forms; an undefined variable is empty;
- ``phpdotenv`` (vlucas/phpdotenv 5, Laravel 8 and later): only ``${NAME}``; ``$NAME`` and the
  ``${NAME:-default}`` forms stay as written, and so does ``${NAME}`` when NAME is undefined;
- ``python-dotenv`` (Django projects): ``${NAME}`` and ``${NAME:-default}``; ``$NAME`` and the other forms
  stay as written; an undefined variable is empty.

Like both libraries (in their default, immutable mode), a variable already set in the real environment
wins over the file, and references resolve against the real environment first, then against what the
files defined so far. A leading byte order mark is dropped, as phpdotenv and python-dotenv drop it (Symfony's
Dotenv refuses such a file, and so does ``style="symfony"``, saying why). Malformed lines raise a one-line
:class:`~synco_core.errors.ConfigError` naming the file and line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Literal

from synco_core.errors import ConfigError
from synco_core.frameworkutil.configfile import MAX_CONFIG_BYTES, read_config_text

#: The most a ``.env`` file may hold: a file past it is refused with a one-line error instead of filling the
#: memory (the bound every configuration file shares, see :mod:`.configfile`).
MAX_DOTENV_BYTES = MAX_CONFIG_BYTES

#: Whose rules decide which ``$`` references are expanded (see the module's documentation).
DotenvStyle = Literal["symfony", "phpdotenv", "python-dotenv"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_REFERENCE = re.compile(
    r"(?P<escape>\\?)\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|:=|-)(?P<default>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))?"
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "\\$"}


def expand_variables(
    value: str,
    lookup: Callable[[str], str | None],
    assign: Callable[[str, str], None] | None = None,
    *,
    style: DotenvStyle = "symfony",
) -> str:
    """Replace ``${NAME}``-style references in ``value`` using ``lookup`` (None means undefined: empty).

    ``${NAME:-default}`` uses ``default`` when NAME is undefined or empty; ``${NAME:=default}`` does the
    same and also defines NAME through ``assign``. An escaped ``\\$`` stays a literal ``$``. ``style``
    leaves the forms another library does not expand as written (``$NAME`` for phpdotenv and python-dotenv).
    """

    def replace(match: re.Match[str]) -> str:
        if match.group("escape"):
            # "\\$" is a literal dollar sign, whatever follows it ("p\\$1" is "p$1").
            return match.group(0)[1:]
        name = match.group("braced") or match.group("bare")
        if not name:
            return match.group(0)
        op = match.group("op")
        if style != "symfony" and (match.group("bare") or (op and (style == "phpdotenv" or op != ":-"))):
            # Neither phpdotenv nor python-dotenv reads "$NAME" as a reference: "pa$word" is a password.
            return match.group(0)
        current = lookup(name)
        if style == "phpdotenv" and current is None:
            # phpdotenv's Resolver keeps "${NAME}" as written when NAME is not defined.
            return match.group(0)
        if op in (":-", ":=") and not current:
            default = expand_variables(match.group("default") or "", lookup, assign)
            if op == ":=" and assign is not None:
                assign(name, default)
            return default
        if op == "-" and current is None:
            return expand_variables(match.group("default") or "", lookup, assign)
        return current or ""

    return _REFERENCE.sub(replace, value)


def _unescape_double(raw: str) -> str:
    """Resolve backslash escapes of a double-quoted value; ``\\$`` is kept for the expansion step."""
    out: list[str] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "\\" and index + 1 < len(raw) and raw[index + 1] in _ESCAPES:
            out.append(_ESCAPES[raw[index + 1]])
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _find_closing(text: str, start: int, quote: str) -> int:
    """Index of the quote closing the value that opened at ``start - 1``, or -1."""
    index = start
    while index < len(text):
        char = text[index]
        if quote == '"' and char == "\\":
            index += 2
            continue
        if char == quote:
            return index
        index += 1
    return -1


def parse_dotenv(
    text: str,
    *,
    environ: Mapping[str, str] | None = None,
    defined: Mapping[str, str] | None = None,
    source: str = ".env",
    style: DotenvStyle = "symfony",
) -> dict[str, str]:
    """The variables ``text`` defines, in file order, with references expanded.

    :param text: the file content.
    :param environ: the real environment; references resolve against it first (default: ``os.environ``).
    :param defined: variables earlier files defined, for references to them.
    :param source: the file name used in error messages.
    :param style: whose rules decide which ``$`` references expand (:data:`DotenvStyle`).
    :raises ConfigError: a line that is not ``NAME=value``, or a quote that is never closed.
    """
    env = os.environ if environ is None else environ
    earlier = dict(defined or {})
    values: dict[str, str] = {}

    def lookup(name: str) -> str | None:
        if name in env:
            return env[name]
        if name in values:
            return values[name]
        return earlier.get(name)

    def assign(name: str, value: str) -> None:
        if name not in env:
            values[name] = value

    if text.startswith("\ufeff"):
        # A byte order mark (Windows editors write one): phpdotenv and python-dotenv drop it; Symfony's Dotenv
        # refuses the file ("Invalid character in variable name"), so synco says why instead of guessing.
        if style == "symfony":
            raise ConfigError(f"{source} starts with a byte order mark (BOM), which Symfony's Dotenv refuses: "
                              "save it as UTF-8 without BOM")
        text = text[1:]
    position = 0
    length = len(text)
    while position < length:
        line_end = text.find("\n", position)
        if line_end == -1:
            line_end = length
        line = text[position:line_end]
        line_number = text.count("\n", 0, position) + 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            position = line_end + 1
            continue
        if stripped.startswith("export ") or stripped.startswith("export\t"):
            stripped = stripped[len("export"):].lstrip()
        name, sep, rest = stripped.partition("=")
        name = name.strip()
        if not sep or not _NAME.fullmatch(name):
            # What the line holds is not shown: a line that is no assignment is often a secret's own (the body
            # of a private key pasted without quotes, the rest of a password that broke onto a second line).
            found = "what comes before '=' is not a variable name" if sep else "the line has no '='"
            raise ConfigError(f"{source}, line {line_number}: expected NAME=value ({found})")
        # The value starts right after "=" and its spaces; quoted values may go on over several lines,
        # so they are parsed against the whole text, not the line.
        value_offset = line.index("=") + 1
        while value_offset < len(line) and line[value_offset] in " \t":
            value_offset += 1
        value_start = position + value_offset
        rest = line[value_offset:]
        if rest[:1] in ("'", '"'):
            quote = rest[0]
            close = _find_closing(text, value_start + 1, quote)
            if close == -1:
                raise ConfigError(f"{source}, line {line_number}: {name} has an unterminated {quote} quote")
            raw = text[value_start + 1 : close]
            after_end = text.find("\n", close)
            if after_end == -1:
                after_end = length
            trailing = text[close + 1 : after_end].strip()
            if trailing and not trailing.startswith("#"):
                raise ConfigError(f"{source}, line {line_number}: unexpected text after the quoted value of {name}")
            # Single quotes are literal in both libraries; only double quotes expand and unescape.
            value = raw if quote == "'" else expand_variables(_unescape_double(raw), lookup, assign, style=style)
            position = after_end + 1
        else:
            comment = re.search(r"\s#", rest)
            raw = (rest[: comment.start()] if comment else rest).strip()
            if raw.startswith("#"):
                raw = ""
            value = expand_variables(raw, lookup, assign, style=style)
            position = line_end + 1
        values[name] = value
    return values


def load_dotenv_files(
    paths: Iterable[Path],
    *,
    environ: Mapping[str, str] | None = None,
    override_environment: bool = False,
    style: DotenvStyle = "symfony",
) -> dict[str, str]:
    """Parse ``paths`` in order (missing files are skipped); later files override earlier ones.

    :param paths: for example ``.env``, ``.env.local``, ``.env.prod``, ``.env.prod.local`` (Symfony).
    :param environ: the real environment (default: ``os.environ``).
    :param override_environment: let the files win over the real environment (phpdotenv's mutable
        mode); by default a variable set in the environment keeps its value, as both libraries do.
    :param style: whose rules decide which ``$`` references expand (:data:`DotenvStyle`).
    :return: every variable the files define, with the environment's value where it wins.
    """
    env = dict(os.environ if environ is None else environ)
    merged: dict[str, str] = {}
    for path in paths:
        try:
            # Bounded, and a named pipe (a password manager's .env) is read with a timeout, never waited on.
            text = read_config_text(path, kind=".env file", limit=MAX_DOTENV_BYTES)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.__class__.__name__}") from None
        lookup_env = {} if override_environment else env
        merged.update(parse_dotenv(text, environ=lookup_env, defined=merged, source=str(path), style=style))
    if not override_environment:
        for name in merged:
            if name in env:
                merged[name] = env[name]
    return merged
