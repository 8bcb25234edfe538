"""Reading PHP files that only ``return`` a literal array, such as ``.env.local.php``.

``composer dump-env prod`` writes ``.env.local.php`` with PHP's ``var_export()``. Its content is data, not
code, so it can be read without a PHP interpreter. This parser accepts exactly that subset: ``array(...)``
and ``[...]`` literals with optional keys, single- and double-quoted strings, numbers, ``true``/``false``/
``null``, and comments; anything else (a function call, a constant, a concatenation) is a
:class:`~synco_core.ConfigError`, so a file that really needs PHP is never misread.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from synco_core import ConfigError

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*|\#[^\n]*|/\*.*?\*/)
  | (?P<open_tag><\?php)
  | (?P<sq>'(?:[^'\\]|\\.)*')
  | (?P<dq>"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<arrow>=>)
  | (?P<punct>[\[\](),;])
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE | re.DOTALL,
)

_DQ_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "v": "\v", "e": "\x1b", "f": "\f", "\\": "\\", "$": "$", '"': '"'}


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                raise ConfigError(f"{source}: unexpected {text[position:position + 20]!r}: not a plain PHP array")
            kind = match.lastgroup or ""
            if kind not in ("space", "open_tag"):
                self.tokens.append((kind, match.group()))
            position = match.end()
        self.index = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.index] if self.index < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if value is not None and token[1].lower() != value:
            raise ConfigError(f"{self.source}: expected {value!r}, found {token[1]!r}: not a plain PHP array")
        self.index += 1
        return token

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "sq":
            return re.sub(r"\\([\\'])", r"\1", text[1:-1])
        if kind == "dq":
            if "$" in re.sub(r"\\\$", "", text):
                raise ConfigError(f"{self.source}: string with variable interpolation: not a plain PHP array")
            return re.sub(r"\\(.)", lambda m: _DQ_ESCAPES.get(m.group(1), "\\" + m.group(1)), text[1:-1])
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "word" and text.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text.lower()]
        if kind == "word" and text.lower() == "array":
            self.take("(")
            return self.items(")")
        if text == "[":
            return self.items("]")
        raise ConfigError(f"{self.source}: unexpected {text!r}: not a plain PHP array")

    def items(self, closing: str) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        next_index = 0
        while self.peek()[1] != closing:
            first = self.value()
            if self.peek()[0] == "arrow":
                self.take()
                result[first] = self.value()
                if isinstance(first, int):
                    next_index = max(next_index, first + 1)
            else:
                result[next_index] = first
                next_index += 1
            if self.peek()[1] == ",":
                self.take()
            elif self.peek()[1] != closing:
                raise ConfigError(f"{self.source}: expected ',' or {closing!r}, found {self.peek()[1]!r}")
        self.take(closing)
        return result


def parse_php_return(text: str, source: str = "PHP file") -> Any:
    """The value of ``<?php return <literal>;``."""
    parser = _Parser(text, source)
    parser.take("return")
    result = parser.value()
    if parser.peek()[1] == ";":
        parser.take()
    if parser.peek()[0] != "end":
        raise ConfigError(f"{source}: unexpected {parser.peek()[1]!r} after the returned array")
    return result


def read_php_array(path: Path) -> dict[str, Any]:
    """The array ``path`` returns, with string keys; a ConfigError when it is anything else."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {type(exc).__name__}") from None
    value = parse_php_return(text, str(path))
    if not isinstance(value, dict):
        raise ConfigError(f"{path} does not return an array")
    return {str(k): v for k, v in value.items()}
