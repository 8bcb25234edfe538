"""The parser of the PHP configuration reader: tokens into a small syntax tree of statements and expressions.

It covers the PHP that configuration files are written in (assignments, ``define()``, ``const``, ``if`` /
``elseif`` / ``else`` in both syntaxes, ``include`` / ``require``, ``return``, expressions with PHP 8's
operator precedence) and recognises the rest only well enough to step over it: function and class
definitions, loops, ``switch`` and ``try`` become :class:`Skip` statements, and expressions the evaluator does
not compute (``new``, closures) become ``("unknown", reason)`` nodes; a method call on a static call's result
or a variable is a ``("method", ...)`` node, which the evaluator computes only on a ``PhpConfigObject``.
Nodes are plain tuples whose first item names them; :mod:`synco_core.frameworkutil.phpconfig` evaluates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synco_core.errors import ConfigError
from synco_core.frameworkutil.phptokens import Token, tokenize

#: Deepest nesting of expressions and blocks the parser follows (hostile input cannot exhaust the stack).
MAX_DEPTH = 100

Node = tuple[Any, ...]

#: Binary operators: precedence (higher binds tighter) and whether they associate to the right.
_BINARY: dict[str, tuple[int, bool]] = {
    "or": (1, False), "xor": (2, False), "and": (3, False),
    "??": (7, True), "||": (8, False), "&&": (9, False), "|": (10, False), "^": (11, False), "&": (12, False),
    "==": (13, False), "!=": (13, False), "===": (13, False), "!==": (13, False), "<>": (13, False),
    "<=>": (13, False),
    "<": (14, False), "<=": (14, False), ">": (14, False), ">=": (14, False),
    ".": (15, False), "<<": (16, False), ">>": (16, False), "+": (17, False), "-": (17, False),
    "*": (18, False), "/": (18, False), "%": (18, False), "instanceof": (19, False), "**": (21, True),
}
#: What a method call may be made on for the evaluator to see it (a static call's result, a variable, another
#: method call's): anything else (``new``, a closure) stays unknown without its arguments being read.
_FLUENT_BASES = frozenset({"static", "method", "var"})
_TERNARY = 6
_UNARY = 20
_ASSIGNMENT_OPS = frozenset({"=", ".=", "??=", "+=", "-=", "*=", "/=", "%=", "**=", "|=", "&=", "^=", "<<=", ">>="})
_CASTS = frozenset({"int", "integer", "bool", "boolean", "float", "double", "real", "string", "array", "object",
                    "unset", "binary"})
_SKIPPED_CONSTRUCTS = frozenset({"function", "class", "interface", "trait", "enum", "abstract", "final", "readonly",
                                 "for", "foreach", "while", "do", "switch", "try", "match", "goto"})
#: Skipped constructs whose body does not run where they stand.
_DEFINITIONS = frozenset({"function", "class", "interface", "trait", "enum", "abstract", "final", "readonly"})
_IGNORED_STATEMENTS = frozenset({"use", "global", "static", "echo", "print", "declare", "namespace"})
_INCLUDES = frozenset({"include", "include_once", "require", "require_once"})


def changed_in_tokens(tokens: list[Token]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The variables assigned (``$x = ...``, ``$x['a'][] = ...``, ``$x .= ...``, ``$x++``) and the constants
    defined (``define('X', ...)``) in a stretch of tokens that is not evaluated."""
    variables: list[str] = []
    constants: list[str] = []
    for position, token in enumerate(tokens):
        if token.kind == "var":
            following = position + 1
            # Step over subscripts and property names: $databases['default']['default'] = ...
            while following < len(tokens) and tokens[following].kind == "op" and tokens[following].value in ("[", "->"):
                if tokens[following].value == "->":
                    following += 2
                    continue
                depth = 0
                while following < len(tokens):
                    value = tokens[following].value if tokens[following].kind == "op" else None
                    depth += 1 if value == "[" else -1 if value == "]" else 0
                    following += 1
                    if depth == 0:
                        break
            after = tokens[following] if following < len(tokens) else None
            if after is not None and after.kind == "op" and (after.value in _ASSIGNMENT_OPS
                                                              or after.value in ("++", "--")):
                variables.append(_global_name(tokens, position) or str(token.value)[1:])
        elif (token.kind == "name" and str(token.value).lower().lstrip("\\") == "define"
              and position + 2 < len(tokens) and tokens[position + 1].kind == "op"
              and tokens[position + 1].value == "(" and tokens[position + 2].kind == "str"):
            constants.append(str(tokens[position + 2].value))
    return tuple(dict.fromkeys(variables)), tuple(dict.fromkeys(constants))


#: Functions that set variables the code does not name: ``extract($row)``, ``parse_str($query)``.
SETS_VARIABLES = frozenset({"extract", "parse_str", "mb_parse_str"})


def sets_any_variable_in_tokens(tokens: list[Token]) -> str | None:
    """What in a stretch of tokens that is not evaluated may set variables it does not name, or define
    constants: an include (of a file that may set anything), a variable variable (``$$name``, ``${...}``), or
    :data:`SETS_VARIABLES`; None when nothing does."""
    for position, token in enumerate(tokens):
        following = tokens[position + 1] if position + 1 < len(tokens) else None
        if token.kind == "name" and str(token.value).lower().lstrip("\\") in _INCLUDES:
            return str(token.value).lower()
        if token.kind == "op" and token.value == "$" and following is not None \
                and (following.kind == "var" or (following.kind == "op" and following.value in ("$", "{"))):
            return "a variable variable"
        if token.kind == "name" and str(token.value).lower().lstrip("\\") in SETS_VARIABLES \
                and following is not None and following.kind == "op" and following.value == "(":
            return f"{str(token.value).lstrip(chr(92))}()"
    return None


def _global_name(tokens: list[Token], position: int) -> str | None:
    """The variable ``$GLOBALS['x']`` names when the token at ``position`` starts one, else None."""
    if tokens[position].value != "$GLOBALS" or position + 3 >= len(tokens):
        return None
    opening, key, closing = tokens[position + 1:position + 4]
    if opening.kind == "op" and opening.value == "[" and key.kind == "str" and closing.kind == "op" \
            and closing.value == "]":
        return str(key.value)
    return None


def changed_in_statements(statements: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The variables assigned and the constants defined anywhere in parsed statements (the branches of an
    ``if`` that is not evaluated)."""
    variables: list[str] = []
    constants: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, Statement):
            if item.kind == "skip":
                variables.extend(item.parts[1] if len(item.parts) > 1 else ())
                constants.extend(item.parts[2] if len(item.parts) > 2 else ())
            walk(item.parts)
            return
        if isinstance(item, list):
            for element in item:
                walk(element)
            return
        if not isinstance(item, tuple):
            return
        if item and item[0] == "assign" and len(item) == 4:
            target, below = item[2], None
            while isinstance(target, tuple) and target and target[0] in ("index", "prop"):
                target, below = target[1], target
            if isinstance(target, tuple) and len(target) == 2 and target[0] == "var" and isinstance(target[1], str):
                # $GLOBALS['x'][...] = ... assigns $x.
                key = below[2] if target[1] == "GLOBALS" and below is not None and below[0] == "index" else None
                named = key[1] if isinstance(key, tuple) and len(key) == 2 and key[0] == "lit" else None
                variables.append(named if isinstance(named, str) else target[1])
        elif item and item[0] == "call" and len(item) == 3 and str(item[1]).lower() == "define" and item[2]:
            # Arguments are (name of a named argument or None, node): define('X', ...) is ("lit", "X").
            first = item[2][0][1] if isinstance(item[2][0], tuple) and len(item[2][0]) == 2 else None
            if isinstance(first, tuple) and len(first) == 2 and first[0] == "lit" and isinstance(first[1], str):
                constants.append(first[1])
        for element in item:
            walk(element)

    walk(statements)
    return tuple(dict.fromkeys(variables)), tuple(dict.fromkeys(constants))


def _incremented(node: Node) -> Node:
    """``$x++`` / ``--$x``: not evaluated (PHP increments strings too), so ``$x`` is unknown after it."""
    return ("assign", "=", node, ("unknown", "increment is not evaluated"))


@dataclass
class Statement:
    """One statement: ``kind`` is ``expr``, ``if``, ``const``, ``return``, ``exit``, ``unset``, ``use``,
    ``block`` or ``skip``; ``parts`` holds its nodes."""

    kind: str
    line: int
    parts: tuple[Any, ...] = ()


@dataclass
class Program:
    """A parsed file."""

    statements: list[Statement] = field(default_factory=list)
    source: str = ""


class Parser:
    """A recursive-descent parser over the tokens of one file."""

    def __init__(self, tokens: list[Token], source: str) -> None:
        self.tokens = tokens
        self.source = source
        self.index = 0
        self.depth = 0

    # -- tokens

    def peek(self, ahead: int = 0) -> Token:
        index = min(self.index + ahead, len(self.tokens) - 1)
        return self.tokens[index]

    def next(self) -> Token:
        token = self.peek()
        if token.kind != "end":
            self.index += 1
        return token

    def at(self, value: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        if token.kind == "op":
            return token.value == value
        return token.kind == "name" and str(token.value).lower() == value

    def accept(self, value: str) -> bool:
        if self.at(value):
            self.index += 1
            return True
        return False

    def expect(self, value: str) -> Token:
        token = self.peek()
        if not self.at(value):
            raise self.error(f"expected {value!r}, found {token.shown()}", token)
        return self.next()

    def error(self, message: str, token: Token | None = None) -> ConfigError:
        token = token or self.peek()
        return ConfigError(f"{self.source}:{token.line}: {message}")

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("nested too deeply")

    # -- statements

    def program(self) -> Program:
        statements = []
        while self.peek().kind != "end":
            statements.append(self.statement())
        return Program(statements, self.source)

    def block_until(self, *enders: str) -> list[Statement]:
        statements = []
        while not any(self.at(e) for e in enders):
            if self.peek().kind == "end":
                raise self.error(f"expected {' or '.join(enders)} before the end of the file")
            statements.append(self.statement())
        return statements

    def statement(self) -> Statement:
        self.deeper()
        try:
            return self._statement()
        finally:
            self.depth -= 1

    def _statement(self) -> Statement:
        token = self.peek()
        line = token.line
        if self.accept(";"):
            return Statement("block", line, ([],))
        if self.accept("{"):
            body = self.block_until("}")
            self.expect("}")
            return Statement("block", line, (body,))
        if token.kind == "name":
            word = str(token.value).lower()
            if word == "if":
                return self.if_statement()
            if word == "const":
                self.next()
                definitions = []
                while True:
                    name = self.next()
                    if name.kind != "name":
                        raise self.error("expected a constant name after const", name)
                    self.expect("=")
                    definitions.append((str(name.value), self.expression()))
                    if not self.accept(","):
                        break
                self.end_statement()
                return Statement("const", line, tuple(definitions))
            if word == "return":
                self.next()
                value: Node = ("lit", None) if self.at(";") or self.peek().kind == "end" else self.expression()
                self.end_statement()
                return Statement("return", line, (value,))
            if word in ("exit", "die"):
                self.next()
                if self.accept("("):
                    self.skip_balanced("(", ")")
                self.end_statement()
                return Statement("exit", line)
            if word == "unset" and self.at("(", 1):
                self.next()
                self.expect("(")
                targets = [] if self.at(")") else self.arguments(")")
                self.expect(")")
                self.end_statement()
                return Statement("unset", line, tuple(value for _, value in targets))
            if word == "namespace" and (self.at("{", 1) or (self.peek(1).kind == "name" and self.at("{", 2))):
                self.next()
                if self.peek().kind == "name":
                    self.next()
                self.expect("{")
                body = self.block_until("}")
                self.expect("}")
                return Statement("block", line, (body,))
            if word == "use" and self.peek(1).kind == "name" and not self.at("::", 1):
                return self.use_statement(line)
            if word in _IGNORED_STATEMENTS and not self.at("(", 1) and not self.at("::", 1):
                self.skip_statement()
                return Statement("block", line, ([],))
            closure = word in ("function", "static") and (self.at("(", 1) or self.at("fn", 1) or self.at("function", 1))
            if word in _SKIPPED_CONSTRUCTS and word != "match" and not closure:
                start = self.index
                self.skip_construct()
                # What a loop, switch or try may change stays visible: its assignments and define()s become
                # unknown, never left at the value before it. A definition's body runs later, if ever.
                tokens = self.tokens[start:self.index]
                changed = ((), ()) if word in _DEFINITIONS else changed_in_tokens(tokens)
                opaque = None if word in _DEFINITIONS else sets_any_variable_in_tokens(tokens)
                return Statement("skip", line, (f"{word} (line {line}) is not evaluated", *changed, opaque))
        node = self.expression()
        self.end_statement()
        return Statement("expr", line, (node,))

    def use_statement(self, line: int) -> Statement:
        """``use A\\B;``, ``use A\\B as C;``, ``use A\\{B, C as D};``: the class names the file imports, as
        ``(alias, fully-qualified name)`` pairs. ``use function`` / ``use const`` and anything unexpected are
        stepped over: an import only changes how a name is spelt, never what a file does."""
        self.next()
        imports: list[tuple[str, str]] = []
        if str(self.peek().value).lower() in ("function", "const"):
            self.skip_statement()
            return Statement("block", line, ([],))
        while True:
            token = self.next()
            if token.kind != "name":
                self.index -= 1
                self.skip_statement()
                return Statement("block", line, ([],))
            prefix = str(token.value).strip("\\")
            if self.accept("\\") and self.accept("{"):
                while not self.at("}") and self.peek().kind == "name":
                    name = prefix + "\\" + str(self.next().value).strip("\\")
                    imports.append(self._use_alias(name))
                    if not self.accept(","):
                        break
                if not self.accept("}"):
                    self.skip_statement()
                    return Statement("block", line, ([],))
            else:
                imports.append(self._use_alias(prefix))
            if not self.accept(","):
                break
        self.end_statement()
        return Statement("use", line, tuple(imports))

    def _use_alias(self, name: str) -> tuple[str, str]:
        if self.at("as") and self.peek(1).kind == "name":
            self.next()
            return (str(self.next().value), name)
        return (name.rsplit("\\", 1)[-1], name)

    def end_statement(self) -> None:
        if self.peek().kind == "end":
            return
        if not self.accept(";"):
            token = self.peek()
            raise self.error(f"expected ';', found {token.shown()}", token)

    def if_statement(self) -> Statement:
        line = self.next().line
        branches: list[tuple[Node, list[Statement]]] = []
        self.expect("(")
        condition = self.expression()
        self.expect(")")
        if self.accept(":"):
            # The alternative syntax: if (...): ... elseif (...): ... else: ... endif;
            body = self.block_until("elseif", "else", "endif")
            branches.append((condition, body))
            otherwise: list[Statement] = []
            while True:
                if self.accept("elseif"):
                    self.expect("(")
                    condition = self.expression()
                    self.expect(")")
                    self.expect(":")
                    branches.append((condition, self.block_until("elseif", "else", "endif")))
                elif self.accept("else"):
                    if self.at("if"):
                        raise self.error("'else if' cannot be used with the alternative if syntax")
                    self.expect(":")
                    otherwise = self.block_until("endif")
                else:
                    break
            self.expect("endif")
            self.end_statement()
            return Statement("if", line, (tuple(branches), otherwise))
        branches.append((condition, [self.statement()]))
        otherwise = []
        while True:
            if self.at("elseif") or (self.at("else") and self.at("if", 1)):
                if self.accept("else"):
                    pass
                self.next()
                self.expect("(")
                condition = self.expression()
                self.expect(")")
                branches.append((condition, [self.statement()]))
            elif self.accept("else"):
                otherwise = [self.statement()]
                break
            else:
                break
        return Statement("if", line, (tuple(branches), otherwise))

    # -- skipping what is not evaluated

    def skip_balanced(self, opening: str, closing: str) -> None:
        """Skip to the ``closing`` that matches an ``opening`` already consumed."""
        depth = 1
        while depth:
            token = self.next()
            if token.kind == "end":
                raise self.error(f"expected {closing!r} before the end of the file", token)
            if token.kind == "op" and token.value in ("(", "[", "{"):
                depth += 1
            elif token.kind == "op" and token.value in (")", "]", "}"):
                depth -= 1
        del opening

    def skip_statement(self) -> None:
        """Skip to the end of a simple statement (its ``;``), stepping over anything bracketed."""
        while not self.at(";") and self.peek().kind != "end":
            token = self.next()
            if token.kind == "op" and token.value in ("(", "[", "{"):
                self.skip_balanced(str(token.value), "")
        self.accept(";")

    def skip_construct(self) -> None:
        """Skip a definition, loop, switch or try: up to and including its last block.

        Everything up to the first ``{`` (or ``:`` of an alternative syntax, or ``;`` of a body-less
        statement) is the head; then the block; then any ``else`` / ``catch`` / ``finally`` / ``while`` tail.
        """
        word = str(self.next().value).lower()
        while True:
            token = self.peek()
            if token.kind == "end":
                return
            if self.at("("):
                self.next()
                self.skip_balanced("(", ")")
                continue
            if self.at(";"):
                self.next()
                return
            if self.at("{"):
                self.next()
                self.skip_balanced("{", "}")
                break
            if self.at(":") and word in ("for", "foreach", "while", "switch"):
                self.next()
                ender = {"for": "endfor", "foreach": "endforeach", "while": "endwhile", "switch": "endswitch"}[word]
                depth = 0
                while not (self.at(ender) and depth == 0):
                    inner = self.next()
                    if inner.kind == "end":
                        raise self.error(f"expected {ender} before the end of the file", inner)
                    if inner.kind == "op" and inner.value in ("(", "[", "{"):
                        self.skip_balanced(str(inner.value), "")
                self.next()
                self.end_statement()
                return
            self.next()
        if word == "try":
            while self.at("catch") or self.at("finally"):
                self.next()
                if self.accept("("):
                    self.skip_balanced("(", ")")
                self.expect("{")
                self.skip_balanced("{", "}")
        elif word == "do" and self.accept("while"):
            self.expect("(")
            self.skip_balanced("(", ")")
            self.end_statement()

    # -- expressions

    def expression(self, minimum: int = 0) -> Node:
        self.deeper()
        try:
            return self._expression(minimum)
        finally:
            self.depth -= 1

    def _expression(self, minimum: int) -> Node:
        left = self.unary()
        while True:
            token = self.peek()
            op = str(token.value).lower() if token.kind in ("op", "name") else ""
            if op in ("?", "?:") and minimum <= _TERNARY:
                self.next()
                if op == "?:" or self.at(":"):
                    if op == "?":
                        self.next()
                    right = self.expression(_TERNARY + 1)
                    left = ("ternary", left, None, right)
                else:
                    middle = self.expression(0)
                    self.expect(":")
                    right = self.expression(_TERNARY + 1)
                    left = ("ternary", left, middle, right)
                continue
            if op not in _BINARY or (token.kind == "name" and op not in ("or", "xor", "and", "instanceof")):
                return left
            precedence, right_assoc = _BINARY[op]
            if precedence < minimum:
                return left
            self.next()
            if op == "instanceof":
                self.unary()
                left = ("unknown", "instanceof is not evaluated")
                continue
            right = self.expression(precedence if right_assoc else precedence + 1)
            left = ("binary", op, left, right)

    def unary(self) -> Node:
        token = self.peek()
        if token.kind == "op" and token.value in ("!", "-", "+", "~", "@"):
            self.next()
            operand = self.expression(_UNARY if token.value != "!" else 19)
            return operand if token.value == "@" else ("unary", token.value, operand)
        if token.kind == "op" and token.value in ("++", "--"):
            self.next()
            return _incremented(self.unary())
        if token.kind == "op" and token.value == "&":
            self.next()
            return self.unary()
        if (token.kind == "op" and token.value == "(" and self.peek(1).kind == "name"
                and str(self.peek(1).value).lower() in _CASTS and self.at(")", 2)):
            self.index += 3
            return ("cast", str(self.peek(-2).value).lower(), self.expression(_UNARY))
        if token.kind == "name":
            word = str(token.value).lower()
            if word in _INCLUDES:
                self.next()
                return ("include", word, self.expression(_TERNARY))
            if word in ("print",):
                self.next()
                self.expression(_TERNARY)
                return ("lit", 1)
            if word == "new":
                self.next()
                if self.accept("class"):
                    # An anonymous class: its constructor arguments, extends / implements, then its body.
                    while not self.at("{") and self.peek().kind != "end":
                        self.next()
                    self.expect("{")
                    self.skip_balanced("{", "}")
                    return ("unknown", "new objects are not evaluated")
                self.postfix(self.primary())
                return ("unknown", "new objects are not evaluated")
            if word in ("clone", "yield", "throw"):
                self.next()
                self.expression(_TERNARY)
                return ("unknown", f"{word} is not evaluated")
        return self.postfix(self.primary())

    def primary(self) -> Node:
        token = self.next()
        kind, value = token.kind, token.value
        if kind == "str":
            return ("lit", value)
        if kind == "interp":
            return ("interp", tuple(self.interpolation_part(part, token) for part in value))  # type: ignore[attr-defined]
        if kind == "num":
            return ("lit", value)
        if kind == "var":
            return ("var", str(value)[1:])
        if kind == "op" and value == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if kind == "op" and value == "[":
            return ("array", tuple(self.array_items("]")))
        if kind == "op" and value == "$":
            # $$name or ${expr}: variable variables are not evaluated.
            if self.accept("{"):
                self.skip_balanced("{", "}")
            else:
                self.primary()
            return ("unknown", "variable variables are not evaluated")
        if kind == "name":
            word = str(value)
            lowered = word.lower().lstrip("\\")
            if lowered == "array" and self.at("("):
                self.next()
                return ("array", tuple(self.array_items(")")))
            if lowered == "list" and self.at("("):
                self.next()
                self.skip_balanced("(", ")")
                return ("unknown", "list() is not evaluated")
            if lowered in ("isset", "empty") and self.at("("):
                self.next()
                arguments = [node for _, node in self.arguments(")")]
                self.expect(")")
                return (lowered, tuple(arguments))
            if lowered in ("function", "fn", "static"):
                return self.closure()
            if lowered == "match" and self.at("("):
                self.next()
                self.skip_balanced("(", ")")
                self.expect("{")
                self.skip_balanced("{", "}")
                return ("unknown", "match is not evaluated")
            if lowered in ("true", "false", "null"):
                return ("lit", {"true": True, "false": False, "null": None}[lowered])
            if lowered in ("exit", "die"):
                if self.accept("("):
                    self.skip_balanced("(", ")")
                return ("exit",)
            if self.at("("):
                self.next()
                arguments = self.arguments(")")
                self.expect(")")
                return ("call", word.lstrip("\\"), tuple(arguments))
            if self.at("::"):
                self.next()
                member = self.next()
                if member.kind == "var":
                    return ("unknown", f"{word}::{member.value} is not evaluated")
                if self.at("("):
                    self.next()
                    arguments = self.arguments(")")
                    self.expect(")")
                    # The leading backslash is kept: a fully-qualified name is not resolved through imports.
                    return ("static", word, str(member.value), tuple(arguments))
                return ("classconst", word.lstrip("\\"), str(member.value))
            if word.startswith("__") and word.endswith("__"):
                return ("magic", word.upper())
            return ("const", word.lstrip("\\"))
        raise self.error(f"unexpected {token.shown()}", token)

    def closure(self) -> Node:
        """Step over ``function (...) use (...) {...}``, ``fn (...) => expr`` and their ``static`` forms."""
        while not self.at("(") and self.peek().kind != "end":
            self.next()
        self.expect("(")
        self.skip_balanced("(", ")")
        if self.accept("use"):
            self.expect("(")
            self.skip_balanced("(", ")")
        if self.accept(":"):
            while not (self.at("{") or self.at("=>")) and self.peek().kind != "end":
                self.next()
        if self.accept("=>"):
            self.expression(_TERNARY)
        else:
            self.expect("{")
            self.skip_balanced("{", "}")
        return ("unknown", "closures are not evaluated")

    def postfix(self, node: Node) -> Node:
        while True:
            if self.accept("["):
                if self.accept("]"):
                    node = ("index", node, None)
                    continue
                key = self.expression()
                self.expect("]")
                node = ("index", node, key)
            elif self.at("{") and node[0] in ("var", "index"):
                # $string{0}: removed in PHP 8, so it only appears in files too old to matter; not evaluated.
                self.next()
                self.skip_balanced("{", "}")
                node = ("unknown", "string offsets with {} are not evaluated")
            elif self.at("->") or self.at("?->"):
                nullsafe = self.next().value == "?->"
                member = self.next()
                if member.kind == "op" and member.value == "{":
                    self.skip_balanced("{", "}")
                if member.kind == "name" and node[0] in _FLUENT_BASES and self.at("("):
                    # A chain of setters on a configuration object (Craft's DbConfig::create()->server(...)):
                    # evaluated when a plugin made the object, unknown otherwise.
                    self.next()
                    arguments = self.arguments(")")
                    self.expect(")")
                    node = ("method", node, str(member.value), tuple(arguments), nullsafe)
                elif self.accept("("):
                    self.skip_balanced("(", ")")
                    node = ("unknown", "object methods are not evaluated")
                elif member.kind == "name" and node[0] != "unknown":
                    # A property of an object built from an array ((object) parse_url(...), Bedrock's $dsn->host).
                    node = ("prop", node, str(member.value), nullsafe)
                else:
                    node = ("unknown", "object properties and methods are not evaluated")
            elif self.at("::") and node[0] != "unknown":
                self.next()
                member = self.next()
                if self.accept("("):
                    self.skip_balanced("(", ")")
                node = ("unknown", "static members are not evaluated")
            elif self.at("(") and node[0] in ("var", "index", "unknown", "method"):
                self.next()
                self.skip_balanced("(", ")")
                node = ("unknown", "calls through variables are not evaluated")
            elif self.peek().kind == "op" and self.peek().value in _ASSIGNMENT_OPS:
                op = str(self.next().value)
                reference = op == "=" and self.accept("&")
                value = self.expression(4)
                # A target the evaluator cannot write ($$name, [$a, $b], $o->p) stays an assignment: what it may
                # set is made unknown there. So is what a reference ($a = &$b) lets later writes change.
                return ("assign", op, node, ("reference", value) if reference else value)
            elif self.peek().kind == "op" and self.peek().value in ("++", "--"):
                self.next()
                node = _incremented(node)
            else:
                return node

    def arguments(self, closing: str) -> list[tuple[str | None, Node]]:
        """Call arguments up to ``closing`` (not consumed): (name for a named argument or None, value)."""
        arguments: list[tuple[str | None, Node]] = []
        while not self.at(closing):
            if self.accept("..."):
                if self.at(closing):
                    # A first-class callable (strlen(...)): a closure, not a call.
                    return [(None, ("unknown", "first-class callables are not evaluated"))]
                self.expression()
                arguments.append((None, ("unknown", "spread arguments are not evaluated")))
            elif self.peek().kind == "name" and self.at(":", 1) and not self.at("::", 1):
                name = str(self.next().value)
                self.next()
                arguments.append((name, self.expression()))
            else:
                arguments.append((None, self.expression()))
            if not self.accept(","):
                break
        return arguments

    def array_items(self, closing: str) -> list[tuple[Node | None, Node]]:
        """The items of an array literal up to ``closing`` (consumed): (key or None, value)."""
        items: list[tuple[Node | None, Node]] = []
        while not self.accept(closing):
            if self.accept(","):
                continue
            if self.accept("..."):
                items.append((None, ("spread", self.expression())))
            else:
                first = self.expression()
                if self.accept("=>"):
                    items.append((first, self.expression()))
                else:
                    items.append((None, first))
            if not self.at(closing):
                self.expect(",")
        return items

    def interpolation_part(self, part: object, token: Token) -> object:
        if isinstance(part, str):
            return part
        assert isinstance(part, tuple)
        if part[0] == "expr":
            tokens = tokenize("<?php " + part[1] + ";", self.source)
            inner = Parser([Token(t.kind, t.value, token.line, t.source) for t in tokens], self.source)
            return inner.expression()
        name, keys = part[1], part[2]
        node: Node = ("var", name)
        for key in keys:
            if isinstance(key, tuple):
                node = ("prop", node, str(key[1]), False)
                continue
            node = ("index", node, ("lit", key))
        return node


def parse(text: str, source: str = "PHP file") -> Program:
    """Parse ``text`` (a PHP file) into a :class:`Program`; a ConfigError names the line of a syntax error."""
    try:
        return Parser(tokenize(text, source), source).program()
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply") from None
