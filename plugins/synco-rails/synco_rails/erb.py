"""Evaluating the ERB of Rails' YAML configuration files without Ruby, for the forms such files use.

Rails renders ``config/database.yml`` and ``config/storage.yml`` with ERB before parsing the YAML. Without
Ruby, synco evaluates the tags itself, but only the expressions these files really hold:

- ``<%= ENV["X"] %>`` and ``<%= ENV['X'] %>`` (empty when unset, as Ruby's ``nil.to_s``);
- ``<%= ENV.fetch("X") %>`` (an error when unset, as Ruby raises), ``ENV.fetch("X", "d")`` and
  ``ENV.fetch("X") { "d" }`` (also with numbers, ``nil``, ``true``, ``false`` or another of these
  expressions as the default: ``<%= ENV.fetch("RAILS_MAX_THREADS") { 5 } %>``);
- ``a || b``, ``.presence``, ``.to_s``, ``.to_i``, ``Integer(...)``, parentheses;
- ``Rails.root``, ``Rails.root.join("storage", "x")``, ``Rails.env``; string and number literals, with
  ``#{...}`` inside double quotes;
- ``<%# comments %>``, ``<%%`` (a literal ``<%``), and the ``<%-`` / ``-%>`` trim markers.

An output tag this evaluator does not understand on a YAML comment line (``#   key: <%= ... %>``) renders
as nothing: whatever Ruby would print there lands in the comment. ``rails new`` writes such lines into
every ``config/storage.yml`` (``Rails.application.credentials.dig(...)`` for the cloud services).

Anything else (``<% if ... %>``, a method of the application) is refused with a one-line
:class:`~synco_core.ConfigError` naming the file and the line, instead of a guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synco_core import ConfigError

_TAG = re.compile(r"<%(?!%)(?P<lead>-?)(?P<kind>[=#]?)(?P<body>.*?)(?P<trim>-?)%>", re.S)
_SINGLE_QUOTED = r"'(?:[^'\\]|\\.)*'"
_SINGLE = re.compile(_SINGLE_QUOTED)
#: Tokens of the expressions; double-quoted strings are scanned apart (their ``#{...}`` may hold quotes).
_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>""" + _SINGLE_QUOTED + r""")
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op>\|\||[.(){},\[\]])
    | (?P<name>[A-Za-z_][A-Za-z_0-9]*[?!]?)
    )""", re.X)


class UnsupportedErb(Exception):
    """An expression outside what this evaluator understands."""


def _string_end(text: str, start: int) -> int:
    """The index after the double-quoted string starting at ``start`` (``#{...}`` may hold quotes)."""
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
        elif char == '"':
            return position + 1
        elif text.startswith("#{", position):
            position = _interpolation_end(text, position + 2)
        else:
            position += 1
    raise UnsupportedErb


def _interpolation_end(text: str, start: int) -> int:
    """The index after the ``}`` closing an interpolation whose code starts at ``start``."""
    depth, position = 1, start
    while position < len(text):
        char = text[position]
        if char == '"':
            position = _string_end(text, position)
            continue
        if char == "'":
            match = _SINGLE.match(text, position)
            if match is None:
                raise UnsupportedErb
            position = match.end()
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        position += 1
        if depth == 0:
            return position
    raise UnsupportedErb


class Missing(Exception):
    """``ENV.fetch("X")`` of a variable that is not set (Ruby raises ``KeyError``)."""


@dataclass(frozen=True)
class Context:
    """What the expressions can see: the environment, the application's root and environment name."""

    environ: Mapping[str, str]
    root: Path
    rails_env: str


class _RailsRoot:
    """``Rails.root``: a path, for ``.join`` and for printing."""


class _Parser:
    def __init__(self, text: str, context: Context) -> None:
        self.tokens = self._tokenize(text)
        self.position = 0
        self.context = context

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        position = 0
        text = text.strip()
        while position < len(text):
            spaces = len(text[position:]) - len(text[position:].lstrip())
            if text.startswith('"', position + spaces):
                end = _string_end(text, position + spaces)
                tokens.append(("string", text[position + spaces:end]))
                position = end
                continue
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise UnsupportedErb
            kind = match.lastgroup
            assert kind is not None
            tokens.append((kind, match.group(kind)))
            position = match.end()
        return tokens

    def peek(self, value: str | None = None) -> bool:
        if self.position >= len(self.tokens):
            return False
        return value is None or self.tokens[self.position][1] == value

    def take(self, value: str | None = None) -> tuple[str, str]:
        if not self.peek(value):
            raise UnsupportedErb
        token = self.tokens[self.position]
        self.position += 1
        return token

    def parse(self) -> Any:
        value = self.expression()
        if self.position != len(self.tokens):
            raise UnsupportedErb
        return value

    def expression(self) -> Any:
        # Ruby evaluates a || b lazily: an unset ENV.fetch on the left raises before || is reached.
        value = self.term()
        while self.peek("||"):
            self.take("||")
            right = self.term()
            if value is None or value is False:
                value = right
        return value

    def term(self) -> Any:
        value = self.primary()
        while self.peek("."):
            self.take(".")
            _, method = self.take()
            value = self.method(value, method)
        return value

    def method(self, value: Any, name: str) -> Any:
        if name == "presence":
            return None if value is None or (isinstance(value, str) and not value.strip()) else value
        if name == "to_s":
            return self.to_s(value)
        if name == "to_i":
            match = re.match(r"\s*[-+]?\d+", self.to_s(value))
            return int(match.group(0)) if match else 0
        if name == "join" and isinstance(value, Path):
            return value.joinpath(*(str(self.to_s(a)) for a in self.arguments()))
        if name == "root" and value is _RailsRoot:
            return self.context.root
        if name == "env" and value is _RailsRoot:
            return self.context.rails_env
        if name in ("to_path",) and isinstance(value, Path):
            return str(value)
        raise UnsupportedErb

    def arguments(self) -> list[Any]:
        values: list[Any] = []
        if not self.peek("("):
            return values
        self.take("(")
        while not self.peek(")"):
            values.append(self.expression())
            if not self.peek(")"):
                self.take(",")
        self.take(")")
        return values

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            return self.string(text)
        if kind == "number":
            return float(text) if "." in text else int(text)
        if text == "(":
            value = self.expression()
            self.take(")")
            return value
        if kind != "name":
            raise UnsupportedErb
        if text in ("nil", "true", "false"):
            return {"nil": None, "true": True, "false": False}[text]
        if text == "Rails":
            return _RailsRoot
        if text == "Integer":
            (argument,) = self.arguments() or [None]
            try:
                return int(self.to_s(argument))
            except ValueError:
                raise UnsupportedErb from None
        if text == "ENV":
            return self.env()
        raise UnsupportedErb

    def env(self) -> Any:
        if self.peek("["):
            self.take("[")
            name = self.expression()
            self.take("]")
            return self.context.environ.get(str(name))
        self.take(".")
        _, method = self.take()
        if method != "fetch":
            raise UnsupportedErb
        arguments = self.arguments()
        if not arguments or len(arguments) > 2:
            raise UnsupportedErb
        name = str(arguments[0])
        default: Any = arguments[1] if len(arguments) == 2 else Missing
        if self.peek("{"):
            self.take("{")
            default = self.expression()
            self.take("}")
        if name in self.context.environ:
            return self.context.environ[name]
        if default is Missing:
            raise Missing(name)
        return default

    def string(self, text: str) -> str:
        quote, body = text[0], text[1:-1]
        if quote == "'":
            return re.sub(r"\\([\\'])", r"\1", body)
        result: list[str] = []
        position = 0
        while position < len(body):
            char = body[position]
            if char == "\\" and position + 1 < len(body):
                result.append({"n": "\n", "t": "\t", "s": " ", "0": "\0"}.get(body[position + 1], body[position + 1]))
                position += 2
            elif body.startswith("#{", position):
                end = _interpolation_end(body, position + 2)
                result.append(self.to_s(_Parser(body[position + 2:end - 1], self.context).parse()))
                position = end
            else:
                result.append(char)
                position += 1
        return "".join(result)

    @staticmethod
    def to_s(value: Any) -> str:
        if value is None:
            return ""
        if value is True or value is False:
            return "true" if value else "false"
        if value is _RailsRoot:
            raise UnsupportedErb
        return str(value)


def evaluate(expression: str, context: Context) -> str:
    """The text ``<%= expression %>`` renders (raises :class:`UnsupportedErb` or :class:`Missing`)."""
    return _Parser.to_s(_Parser(expression, context).parse())


def _on_comment_line(text: str, position: int) -> bool:
    """Whether the line holding ``position`` is a YAML comment up to there (only blanks before its ``#``)."""
    start = text.rfind("\n", 0, position) + 1
    return text[start:position].lstrip(" \t").startswith("#")


#: What an ``<%= %>`` tag synco cannot evaluate renders as when the caller collects them (``unknown``): a word
#: YAML keeps as it is inside any scalar, numbered, so that a value holding it names its tag.
UNKNOWN_MARK = "synco-unknown-erb-"
_UNKNOWN = re.compile(re.escape(UNKNOWN_MARK) + r"(\d+)-")


def unknown_in(value: Any, unknown: list[str]) -> str | None:
    """The reason of the first unevaluated tag (see :func:`render`'s ``unknown``) ``value`` holds, at any depth."""
    if isinstance(value, str):
        found = _UNKNOWN.search(value)
        return unknown[int(found.group(1))] if found and int(found.group(1)) < len(unknown) else None
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list):
        for item in value:
            reason = unknown_in(item, unknown)
            if reason is not None:
                return reason
    return None


def render(text: str, context: Context, source: str, unknown: list[str] | None = None) -> str:
    """``text`` with its ERB tags rendered; ``source`` names the file in errors.

    :param unknown: when given, an ``<%= %>`` tag this evaluator does not understand (credentials) renders as a
        mark (:data:`UNKNOWN_MARK`) and its one-line reason is appended here, for the caller to refuse only a
        value that holds it (:func:`unknown_in`); otherwise it raises.
    :raises ConfigError: a tag this evaluator does not understand, or ``ENV.fetch`` of an unset variable
        without a default; the message names the file, the line and the tag (never a value).
    """
    out: list[str] = []
    position = 0
    for match in _TAG.finditer(text):
        before = text[position:match.start()]
        line = text.count("\n", 0, match.start()) + 1
        kind, body = match.group("kind"), match.group("body")
        if match.group("lead"):
            # <%- strips the indentation before the tag on its line.
            before = re.sub(r"[ \t]+\Z", "", before)
        out.append(before.replace("<%%", "<%"))
        position = match.end()
        if match.group("trim") and text.startswith("\n", position):
            position += 1
        if kind == "#":
            continue
        tag = " ".join(match.group(0).split())
        if kind != "=":
            if body.strip():
                raise ConfigError(f"{source} line {line}: unsupported ERB {tag} (without Ruby synco evaluates "
                                  "only <%= %> tags such as ENV[\"X\"], ENV.fetch(\"X\", \"default\"), Rails.root)")
            continue
        try:
            out.append(evaluate(body, context))
        except (UnsupportedErb, RecursionError):
            if unknown is not None and not _on_comment_line(text, match.start()):
                unknown.append(f"{source} line {line}: {tag} cannot be evaluated without Ruby")
                out.append(f"{UNKNOWN_MARK}{len(unknown) - 1}-")
            elif not _on_comment_line(text, match.start()):
                raise ConfigError(f"{source} line {line}: unsupported ERB {tag} (without Ruby synco evaluates "
                                  "ENV[\"X\"], ENV.fetch(\"X\", \"default\"), ENV.fetch(\"X\") { \"default\" }, "
                                  "|| and Rails.root.join)") from None
        except Missing as missing:
            # Ruby raises there too, comment or not: the application would not boot.
            raise ConfigError(f"{source} line {line}: {tag} needs the environment variable {missing} "
                              "(ENV.fetch without a default)") from None
    out.append(text[position:].replace("<%%", "<%"))
    return "".join(out)
