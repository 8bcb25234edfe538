"""Reading PHP configuration files without running PHP: ``wp-config.php``, Drupal's ``settings.php``, and
files that ``return [...]`` (Symfony's ``.env.local.php``).

PHP applications keep their database settings in PHP code. Running that code needs a PHP interpreter on the
host and would run whatever else the file does (WordPress's ``wp-config.php`` ends by loading the whole CMS),
so synco evaluates the part of PHP configuration files are written in, and nothing else: assignments to
variables and array elements, ``define()`` and ``const``, ``if`` / ``elseif`` / ``else``, ``include`` and
``require`` of other configuration files (only those the caller allows), ``return``, and expressions built
from literals, constants, variables (``$GLOBALS['x']`` too: the files run in the global scope), ``getenv()``,
``$_ENV`` / ``$_SERVER``, ``__DIR__`` and a fixed set of pure
functions (``dirname``, ``parse_url``, ``json_decode``, ``str_replace`` ...), and the properties of an object an
``(object)`` cast made of an array (Bedrock's ``$dsn->host``). Anything else (a function it does
not know, a method call, ``file_get_contents``) evaluates to a :class:`PhpUnknown` that says why, instead of
being guessed; loops, function and class definitions are stepped over. No code is executed and no file is
read that the caller did not allow; the work is bounded (file size, nesting, includes, the size of values),
so a hostile file costs at most a :class:`~synco_core.ConfigError`.

PHP values map to Python as: strings to ``str``, integers and floats to ``int`` / ``float``, booleans to
``bool``, ``null`` to None, arrays to ``dict`` (in PHP's order, integer keys as ``int``). A class constant
(``PDO::MYSQL_ATTR_SSL_CA``) is its name as a string, which :func:`~synco_core.pdo_tls_options` understands.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synco_core.errors import ConfigError
from synco_core.frameworkutil.configfile import MAX_CONFIG_BYTES, read_config_file
from synco_core.frameworkutil.phpbuiltins import BUILTINS, MAX_STRING
from synco_core.frameworkutil.phpparse import (
    SETS_VARIABLES,
    Node,
    Program,
    Statement,
    changed_in_statements,
    parse,
)
from synco_core.frameworkutil.phpvalues import (
    PREDEFINED,
    PhpConfigObject,
    PhpObject,
    PhpUnknown,
    array_key,
    compare,
    first_unknown,
    loose_equal,
    next_index,
    to_bool,
    to_number,
    to_str,
)

#: Largest file read (configuration files are a few kilobytes): the bound every configuration file shares.
MAX_FILE_BYTES = MAX_CONFIG_BYTES
#: Most files one read may include, and how deep includes may nest.
MAX_FILES = 32
MAX_INCLUDE_DEPTH = 8
#: Most array elements and string characters the evaluation may produce in all (copies included).
MAX_WORK = 500_000


#: ``$_SERVER`` keys the web server sets for each request (the ``HTTP_`` request headers too): synco reads the
#: configuration outside any request, so a setting computed from one (``'https://' . $_SERVER['HTTP_HOST']``, a
#: database chosen by ``SERVER_NAME``) is not known, rather than computed from the null PHP's command line gives.
REQUEST_KEYS = frozenset({"HTTPS", "SERVER_NAME", "SERVER_PORT", "SERVER_ADDR", "SERVER_PROTOCOL", "SERVER_SOFTWARE",
                          "REQUEST_URI", "REQUEST_METHOD", "REQUEST_SCHEME", "REMOTE_ADDR", "REMOTE_PORT",
                          "REMOTE_HOST", "DOCUMENT_ROOT", "CONTEXT_DOCUMENT_ROOT", "QUERY_STRING", "PATH_INFO"})


class EnvironmentArray(dict[Any, Any]):
    """``$_ENV``: the environment; once code synco does not run may have loaded more into it (``opaque``: a
    Dotenv ``->load()``, ``putenv()``), a key the real environment does not set is unknown, not absent."""

    opaque: str | None = None

    def get(self, key: Any, default: Any = None) -> Any:
        if key not in self and isinstance(key, str) and self.opaque:
            return PhpUnknown(f"it may be set in the environment by {self.opaque}")
        return super().get(key, default)


class ServerArray(EnvironmentArray):
    """``$_SERVER``: the environment, where a request's key the environment does not set is unknown."""

    def get(self, key: Any, default: Any = None) -> Any:
        if key not in self and isinstance(key, str) and (key.startswith("HTTP_") or key in REQUEST_KEYS):
            return PhpUnknown(f"$_SERVER['{key}'] is set by the web server for each request")
        return super().get(key, default)


METHODS_NOT_EVALUATED = "object methods are not evaluated"
#: Unknown expressions that, run as a statement of their own, may change the environment: a method or static
#: call (phpdotenv's ``Dotenv::createImmutable(__DIR__)->load()``, ``$dotenv->safeLoad()``).
_MAY_LOAD_ENVIRONMENT = (METHODS_NOT_EVALUATED, "static members are not evaluated")


@dataclass
class PhpConfig:
    """What :func:`read_php_config` found: the constants defined, the variables at the end, the value of a
    top-level ``return``, the files read (the first one first) and notes on what was not evaluated."""

    constants: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    returned: Any = None
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def constant(self, name: str, default: Any = None) -> Any:
        """The constant ``name`` (PHP constants are case-sensitive), or ``default`` when it was not defined."""
        return self.constants.get(name, default)


#: What a file without a top-level ``return`` gives back (an ``include`` of it evaluates to 1).
_NO_RETURN = object()


class _Stop(Exception):
    """``exit`` / ``die``: nothing after it runs."""


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value


#: ``follow(path)`` decides whether an ``include`` / ``require`` of ``path`` is read: True reads it; None steps
#: over it as code that sets no configuration (the framework itself, Composer's autoloader); False leaves it
#: unread as configuration that may set anything (a secrets file outside the project), so every variable and
#: every constant not defined yet is unknown from there on.
FollowRule = Callable[[Path], bool | None]


class _Evaluator:
    def __init__(self, environ: Mapping[str, str], cwd: Path | None, follow: FollowRule | None,
                 functions: Mapping[str, Callable[..., Any]], config: PhpConfig,
                 environment_loaded: bool = False) -> None:
        self.environ = environ
        self.environment_loaded = environment_loaded
        self.cwd = cwd
        self.follow = follow
        self.functions = {name.lower().lstrip("\\"): function for name, function in functions.items()}
        self.config = config
        self.work = 0
        self.file_stack: list[Path] = []
        #: Per file being run (PHP's imports hold for the file that declares them): alias -> imported class.
        self.imports: list[dict[str, str]] = []
        self.included: set[Path] = set()
        #: Why any constant not defined yet may already be defined, and any variable set: an include that was
        #: not read (the first one), or None.
        self.opaque: str | None = None
        #: Why any variable not set yet may be set (a variable variable, extract()), or None.
        self.variables_opaque: str | None = None
        #: The line of the statement being run, for reasons.
        self.line = 0
        #: What may have set environment variables the real environment does not (a Dotenv ``->load()``,
        #: ``putenv()`` that was not evaluated), or None: such a variable is unknown from there on, not unset.
        self.environment_opaque: str | None = None
        #: What ``putenv()`` set (None: unset); ``getenv()`` sees it, ``$_ENV`` and ``$_SERVER`` do not (as in PHP).
        self.putenv: dict[str, str | None] = {}

    # -- bookkeeping

    def spend(self, amount: int) -> None:
        self.work += amount
        if self.work > MAX_WORK:
            raise ConfigError(f"{self.here()}: the configuration builds values too large to read")

    def here(self) -> str:
        return str(self.file_stack[-1]) if self.file_stack else "PHP file"

    def in_file(self) -> str:
        """`` in <file>`` when the statement being run is in a file the first one included, else nothing: a reason
        is shown under the first file's name (``settings.php: ... at line 5``), which must not send the reader
        to the wrong file's line 5 (Platform.sh's ``settings.platformsh.php``)."""
        if len(self.file_stack) < 2:
            return ""
        current, first = self.file_stack[-1], self.file_stack[0]
        return f" in {current.relative_to(first.parent) if current.is_relative_to(first.parent) else current}"

    def is_defined(self, name: str) -> Any:
        if name in self.config.constants:
            return True
        # defined('DB_NAME') || define('DB_NAME', 'fallback') after a secrets file synco did not read: the
        # fallback is not what PHP uses when that file defines the constant.
        return PhpUnknown(f"it may be defined where {self.opaque}") if self.opaque else False

    def unknown_variables(self, reason: str) -> None:
        """Code that was not evaluated may have set any variable (``$$name = ...``, ``extract($row)``): every
        variable is unknown from here on, set or not, never the value it had before."""
        for name in list(self.config.variables):
            if name not in ("_ENV", "_SERVER", "GLOBALS", "this"):
                self.config.variables[name] = PhpUnknown(f"it may be set where {reason}")
        self.variables_opaque = self.variables_opaque or reason

    def sets_anything(self, what: str, where: str) -> None:
        """``what`` (an include, a variable variable, extract()) in code that was not evaluated (``where``)."""
        if what.startswith(("include", "require")):
            self.unread_include(f"a {what} in {where}")
        else:
            self.unknown_variables(f"{what} in {where} was not evaluated")

    def unread_include(self, what: str) -> None:
        """An include that may set anything was not read: what it may have set is unknown from here on.
        Every variable becomes unknown (the file may assign it), and so do the constants it may define
        (see :meth:`is_defined`, :meth:`define`, :meth:`eval_const`)."""
        reason = f"{what} was not read"
        for name in list(self.config.variables):
            if name not in ("_ENV", "_SERVER", "GLOBALS", "this"):
                self.config.variables[name] = PhpUnknown(f"it may be set where {reason}")
        self.opaque = self.opaque or reason

    def getenv(self, name: str, default: Any = None) -> Any:
        """The environment variable ``name``: unknown when it is not set and code that was not evaluated may
        have set it (:attr:`environment_opaque`), else ``default``."""
        if name in self.putenv:
            value = self.putenv[name]
            return default if value is None else value
        if name in self.environ:
            return self.environ[name]
        if self.environment_opaque:
            return PhpUnknown(f"it may be set in the environment by {self.environment_opaque}")
        return default

    def note(self, text: str) -> None:
        if len(self.config.notes) < 200:
            self.config.notes.append(text)

    def copy(self, value: Any) -> Any:
        """PHP arrays are values: a stored array is a copy (bounded by the work budget)."""
        if isinstance(value, dict):
            self.spend(len(value))
            copied = {k: self.copy(v) for k, v in value.items()}
            if isinstance(value, EnvironmentArray):
                array = type(value)(copied)
                array.opaque = value.opaque
                return array
            return copied
        return value

    # -- files

    def run_file(self, path: Path) -> Any:
        """Evaluate ``path``; its top-level ``return`` value, or :data:`_NO_RETURN`."""
        if len(self.config.files) >= MAX_FILES or len(self.file_stack) >= MAX_INCLUDE_DEPTH:
            raise ConfigError(f"{path}: too many nested includes")
        try:
            # Not stat() then read: /dev/zero or a pipe has no size, so the bound is on what is read.
            data = read_config_file(path, kind="PHP configuration file", limit=MAX_FILE_BYTES)
            text = data.decode("utf-8", "surrogateescape")
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
        program = parse(text, str(path))
        self.config.files.append(path)
        self.included.add(path.resolve())
        return self.run_program(program, path)

    def run_program(self, program: Program, path: Path) -> Any:
        """Evaluate a parsed file as ``path``; its top-level ``return`` value, or :data:`_NO_RETURN`."""
        self.file_stack.append(path)
        self.imports.append({})
        try:
            self.run_block(program.statements)
        except _Return as done:
            return done.value
        finally:
            self.file_stack.pop()
            self.imports.pop()
        return _NO_RETURN

    # -- statements

    def run_block(self, statements: list[Statement]) -> None:
        for statement in statements:
            self.run(statement)

    def run(self, statement: Statement) -> None:
        kind = statement.kind
        self.line = statement.line
        if kind == "expr":
            node = statement.parts[0]
            if node[0] == "exit":
                raise _Stop()
            value = self.evaluate(node)
            if isinstance(value, PhpUnknown) and self.environment_opaque is None and not self.environment_loaded and (
                    (node[0] == "unknown" and node[1] in _MAY_LOAD_ENVIRONMENT) or node[0] in ("static", "method")
                    or (node[0] == "call" and node[1].lower() == "putenv")):
                # A call run for what it does (Dotenv's load(), putenv()) may have filled the environment.
                loader = "putenv()" if node[0] == "call" else "a method call"
                self.environment_opaque = f"{loader} at line {statement.line}{self.in_file()} (not evaluated)"
        elif kind == "block":
            self.run_block(statement.parts[0])
        elif kind == "if":
            branches, otherwise = statement.parts
            for condition, body in branches:
                value = self.evaluate(condition)
                if isinstance(value, PhpUnknown):
                    reason = f"an if whose condition is not known ({value.reason}) was not evaluated"
                    self.note(f"{self.here()}:{statement.line}: {reason}")
                    # Whatever any branch may set is unknown now, not what it was before the if.
                    self.forget(*changed_in_statements((branches, otherwise)),
                                f"{reason} at line {statement.line}{self.in_file()}")
                    for include in _includes_in((branches, otherwise)):
                        self.branch_include(include, f"{reason} at line {statement.line}{self.in_file()}")
                    what = _sets_any_variable_in((branches, otherwise))
                    if what is not None:
                        self.sets_anything(what, f"an if at line {statement.line}{self.in_file()}")
                    return
                if to_bool(value):
                    self.run_block(body)
                    return
            self.run_block(otherwise)
        elif kind == "const":
            for name, node in statement.parts:
                self.define(name, self.evaluate(node))
        elif kind == "return":
            raise _Return(self.evaluate(statement.parts[0]))
        elif kind == "exit":
            raise _Stop()
        elif kind == "unset":
            for target in statement.parts:
                self.unset(target)
        elif kind == "skip":
            self.note(f"{self.here()}: {statement.parts[0]}")
            if len(statement.parts) >= 3:
                self.forget(statement.parts[1], statement.parts[2], f"{statement.parts[0]}{self.in_file()}")
            if len(statement.parts) >= 4 and statement.parts[3]:
                construct = statement.parts[0].removesuffix(" is not evaluated")
                self.sets_anything(statement.parts[3], f"{construct}{self.in_file()}")
        elif kind == "use" and self.imports:
            for alias, name in statement.parts:
                self.imports[-1][alias.lower()] = name

    def forget(self, variables: tuple[str, ...], constants: tuple[str, ...], reason: str) -> None:
        """Make what a statement that was not evaluated may have set unknown: its variables, and the constants
        it may define that are not defined yet (PHP keeps a constant's first definition)."""
        for name in variables:
            if name not in ("_ENV", "_SERVER", "GLOBALS", "this"):
                self.config.variables[name] = PhpUnknown(f"it may be set where {reason}")
        for name in constants:
            if name not in self.config.constants:
                self.config.constants[name] = PhpUnknown(f"it may be defined where {reason}")

    def not_run(self, operands: Any, unknown: PhpUnknown) -> None:
        """Operands not evaluated because what decides whether they run is unknown: what they may assign or
        define is unknown too, never left as it was (``unknown || define('X', ...)`` left X undefined)."""
        reason = f"an operand that may not run (after {unknown.reason}) was not evaluated{self.in_file()}"
        if self.opaque and self.opaque in unknown.reason:
            # What an unread file may define decides it: that file is the reason, said once.
            reason = self.opaque
        self.forget(*changed_in_statements(operands), reason)
        for include in _includes_in(operands):
            self.branch_include(include, reason)
        what = _sets_any_variable_in(operands)
        if what is not None:
            self.sets_anything(what, f"an operand that may not run at line {self.line}{self.in_file()}")

    def branch_include(self, node: Node, reason: str) -> None:
        """An include in a branch that was not run: unknown effects, unless it is code that sets no
        configuration (the framework's own files, as :data:`FollowRule` says)."""
        target = self.evaluate(node[2])
        path = None if isinstance(target, PhpUnknown) else self.resolve_path(to_str(target))
        if path is not None and not path.is_file():
            return
        if path is not None and self.follow is not None and self.follow(path) is None:
            return
        self.unread_include(f"{node[1]} in {reason}")

    def define(self, name: Any, value: Any) -> bool:
        if not isinstance(name, str):
            self.note(f"{self.here()}: a constant whose name is not known was not defined")
            return False
        if name in self.config.constants:
            # PHP keeps the first definition (and warns about the second).
            return False
        if self.opaque:
            self.config.constants[name] = PhpUnknown(f"it may be defined first where {self.opaque}")
            return True
        self.config.constants[name] = self.copy(value)
        return True

    def unset(self, target: Node) -> None:
        if target[0] == "var":
            self.config.variables.pop(target[1], None)
            return
        if target[0] == "index" and target[2] is not None:
            path = self.lvalue_path(target)
            if path is None:
                return
            name, keys = path
            if not keys:  # unset($GLOBALS['x']) is unset($x)
                self.config.variables.pop(name, None)
                return
            container = self.config.variables.get(name)
            for key in keys[:-1]:
                if not isinstance(container, dict):
                    return
                container = container.get(key)
            if isinstance(container, dict):
                container.pop(keys[-1], None)

    # -- expressions

    def evaluate(self, node: Node) -> Any:
        kind = node[0]
        handler = getattr(self, "eval_" + kind, None)
        if handler is None:
            return PhpUnknown(f"{kind} is not evaluated")
        return handler(node)

    def eval_lit(self, node: Node) -> Any:
        return node[1]

    def eval_unknown(self, node: Node) -> Any:
        return PhpUnknown(node[1])

    def eval_exit(self, node: Node) -> Any:
        raise _Stop()

    def eval_reference(self, node: Node) -> Any:
        """``$a = &$b``: later writes to either change both, which is not followed, so ``$b`` is unknown too."""
        self.assigned_unknown(node[1], f"a reference at line {self.line}{self.in_file()} was not evaluated")
        return PhpUnknown("references are not evaluated")

    def eval_interp(self, node: Node) -> Any:
        pieces = []
        for part in node[1]:
            if isinstance(part, str):
                pieces.append(part)
                continue
            value = self.evaluate(part)
            if isinstance(value, PhpUnknown):
                return value
            pieces.append(to_str(value))
        return self.string("".join(pieces))

    def string(self, text: str) -> Any:
        if len(text) > MAX_STRING:
            return PhpUnknown("a string longer than the reader's limit")
        self.spend(len(text) // 64 + 1)
        return text

    def eval_var(self, node: Node) -> Any:
        name = node[1]
        if name in ("_SERVER", "_ENV"):
            array = ServerArray(self.environ) if name == "_SERVER" else EnvironmentArray(self.environ)
            array.opaque = self.environment_opaque
            return array
        if name == "GLOBALS":
            # Configuration files run in one scope, the global one, where $GLOBALS['x'] is $x (TYPO3's
            # additional.php changes $GLOBALS['TYPO3_CONF_VARS']); PHP 8.1 and later give a read-only copy.
            return dict(self.config.variables)
        if name == "this":
            return PhpUnknown("$this is not evaluated")
        if name not in self.config.variables and (self.opaque or self.variables_opaque):
            return PhpUnknown(f"it may be set where {self.opaque or self.variables_opaque}")
        return self.config.variables.get(name)

    def eval_magic(self, node: Node) -> Any:
        name = node[1]
        current = self.file_stack[-1] if self.file_stack else None
        if name == "__DIR__" and current is not None:
            return str(current.parent)
        if name == "__FILE__" and current is not None:
            return str(current)
        return PhpUnknown(f"{name} is not evaluated")

    def eval_const(self, node: Node) -> Any:
        name = node[1]
        if name in self.config.constants:
            return self.config.constants[name]
        if name in PREDEFINED:
            return PREDEFINED[name]
        upper = name.upper()
        if upper in ("TRUE", "FALSE", "NULL"):
            return {"TRUE": True, "FALSE": False, "NULL": None}[upper]
        if self.opaque:
            return PhpUnknown(f"it may be defined where {self.opaque}")
        return PhpUnknown(f"the constant {name} is not defined")

    def eval_classconst(self, node: Node) -> Any:
        cls, member = node[1], node[2]
        if member.lower() == "class":
            return cls
        # A plugin may give a class constant's value (Craft's Connection::DRIVER_PGSQL is 'pgsql'), by the name
        # as written or as the file's imports qualify it; any other is its name, which pdo_tls_options reads.
        for name in (f"{cls}::{member}", f"{self.qualified_class(cls)}::{member}"):
            if name in self.config.constants:
                return self.config.constants[name]
        return f"{cls}::{member}"

    def eval_array(self, node: Node) -> Any:
        result: dict[Any, Any] = {}
        for key_node, value_node in node[1]:
            if value_node[0] == "spread":
                spread = self.evaluate(value_node[1])
                if not isinstance(spread, dict):
                    return PhpUnknown("a spread of a value that is not an array")
                for key, value in spread.items():
                    result[next_index(result) if isinstance(key, int) else key] = self.copy(value)
                continue
            value = self.copy(self.evaluate(value_node))
            self.spend(1)
            if key_node is None:
                result[next_index(result)] = value
                continue
            key = self.evaluate(key_node)
            if isinstance(key, PhpUnknown):
                return PhpUnknown(f"an array key is not known ({key.reason})")
            result[array_key(key)] = value
        return result

    def eval_index(self, node: Node) -> Any:
        if node[2] is None:
            return PhpUnknown("[] cannot be read")
        base = self.evaluate(node[1])
        key = self.evaluate(node[2])
        for value in (base, key):
            if isinstance(value, PhpUnknown):
                return value
        if isinstance(base, dict):
            return base.get(array_key(key))
        if isinstance(base, str):
            index = to_number(key)
            if isinstance(index, int) and -len(base) <= index < len(base):
                return base[index]
            return ""
        return None

    def eval_cast(self, node: Node) -> Any:
        value = self.evaluate(node[2])
        if isinstance(value, PhpUnknown):
            return value
        kind = node[1]
        if kind in ("int", "integer"):
            return int(to_number(value))
        if kind in ("float", "double", "real"):
            return float(to_number(value))
        if kind in ("bool", "boolean"):
            return to_bool(value)
        if kind in ("string", "binary"):
            return to_str(value)
        if kind == "array":
            return value if isinstance(value, dict) else ({} if value is None else {0: value})
        if kind == "unset":
            return None
        if kind == "object":
            if isinstance(value, PhpObject):
                return value
            return PhpObject(value if isinstance(value, dict) else ({} if value is None else {"scalar": value}))
        return PhpUnknown(f"({kind}) casts are not evaluated")

    def eval_prop(self, node: Node) -> Any:
        base = self.evaluate(node[1])
        if isinstance(base, PhpUnknown):
            return base
        if isinstance(base, PhpObject):
            return base.properties.get(node[2])
        if isinstance(base, PhpConfigObject):
            return base.settings.get(node[2])
        if base is None and node[3]:
            return None  # ?-> on null
        return PhpUnknown("properties of objects other than (object) casts of arrays are not evaluated")

    def eval_method(self, node: Node) -> Any:
        base, method, arguments, nullsafe = self.evaluate(node[1]), node[2], node[3], node[4]
        if base is None and nullsafe:
            return None  # ?-> on null
        if not isinstance(base, PhpConfigObject):
            # Its arguments are not evaluated: PHP may never run them (the method may not exist).
            return PhpUnknown(METHODS_NOT_EVALUATED)
        values = [self.evaluate(argument) for _, argument in arguments]
        # An object is a handle in PHP: the setter changes it for every variable holding it
        # ($config->server('db'); return $config;).
        base.settings[method] = values[0] if values else True
        return base

    def eval_unary(self, node: Node) -> Any:
        value = self.evaluate(node[2])
        if isinstance(value, PhpUnknown):
            return value
        op = node[1]
        if op == "!":
            return not to_bool(value)
        if op == "-":
            return -to_number(value)
        if op == "+":
            return to_number(value)
        return ~int(to_number(value))

    def eval_ternary(self, node: Node) -> Any:
        condition = self.evaluate(node[1])
        if isinstance(condition, PhpUnknown):
            self.not_run(node[2:], condition)
            return condition
        if to_bool(condition):
            return condition if node[2] is None else self.evaluate(node[2])
        return self.evaluate(node[3])

    def eval_binary(self, node: Node) -> Any:
        op = node[1]
        left = self.evaluate(node[2])
        if op == "??":
            if isinstance(left, PhpUnknown):
                self.not_run(node[3], left)
                return left
            return left if left is not None else self.evaluate(node[3])
        if op in ("&&", "and", "||", "or"):
            if isinstance(left, PhpUnknown):
                # defined('DB_NAME') || define('DB_NAME', 'wp'): whether the define ran is not known.
                self.not_run(node[3], left)
                return left
            truth = to_bool(left)
            if op in ("&&", "and") and not truth:
                return False
            if op in ("||", "or") and truth:
                return True
            right = self.evaluate(node[3])
            return right if isinstance(right, PhpUnknown) else to_bool(right)
        right = self.evaluate(node[3])
        unknown = first_unknown((left, right))
        if unknown is not None:
            return unknown
        if op == ".":
            return self.string(to_str(left) + to_str(right))
        if op == "===":
            return type(left) is type(right) and left == right
        if op == "!==":
            return not (type(left) is type(right) and left == right)
        if op == "==":
            return loose_equal(left, right)
        if op in ("!=", "<>"):
            return not loose_equal(left, right)
        if op == "xor":
            return to_bool(left) != to_bool(right)
        if op == "+" and isinstance(left, dict) and isinstance(right, dict):
            result = self.copy(left)
            for key, value in right.items():
                result.setdefault(key, self.copy(value))
            return result
        if op in ("<", "<=", ">", ">=", "<=>"):
            order = compare(left, right)
            if order is None:
                return PhpUnknown("comparisons of arrays are not evaluated")
            return {"<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0, "<=>": order}[op]
        a, b = to_number(left), to_number(right)
        try:
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            if op == "/":
                return a / b if b else PhpUnknown("division by zero")
            if op == "%":
                return int(a) % int(b) if int(b) else PhpUnknown("modulo by zero")
            if op == "**":
                if abs(b) > 64:
                    return PhpUnknown("a power too large to compute")
                return a**b
            if op in ("|", "&", "^", "<<", ">>"):
                x, y = int(a), int(b)
                if op in ("<<", ">>") and not 0 <= y < 64:
                    return PhpUnknown("a shift out of range")
                return {"|": x | y, "&": x & y, "^": x ^ y, "<<": (x << y) & (2**64 - 1), ">>": x >> y}[op]
        except (OverflowError, ValueError, ZeroDivisionError):
            return PhpUnknown(f"the {op} operation is out of range")
        return PhpUnknown(f"the {op} operator is not evaluated")

    def eval_isset(self, node: Node) -> Any:
        for argument in node[1]:
            value = self.evaluate(argument)
            if isinstance(value, PhpUnknown):
                return value
            if value is None:
                return False
        return True

    def eval_empty(self, node: Node) -> Any:
        value = self.evaluate(node[1][0]) if node[1] else None
        if isinstance(value, PhpUnknown):
            return value
        return not to_bool(value)

    def eval_assign(self, node: Node) -> Any:
        op, target, value_node = node[1], node[2], node[3]
        path = self.lvalue_path(target)
        if path is None:
            self.note(f"{self.here()}: an assignment to a target whose key is not known was not evaluated")
            self.assigned_unknown(target, f"an assignment at line {self.line}{self.in_file()} was not evaluated")
            return PhpUnknown("an assignment target is not known")
        name, keys = path
        if op == "??=":
            current = self.read_path(name, keys)
            if isinstance(current, PhpUnknown) or current is not None:
                return current
            op = "="
        value = self.evaluate(value_node)
        if op != "=":
            current = self.read_path(name, keys)
            value = self.eval_binary(("binary", op[:-1], ("lit", current), ("lit", value)))
        value = self.copy(value)
        self.write_path(name, keys, value)
        return value

    def assigned_unknown(self, target: Node, reason: str) -> None:
        """``target`` was written without being evaluated: the variable it names is unknown, or every variable
        when it names none synco can tell (``$$name``, ``${...}``, ``$GLOBALS[$key]``, ``[$a, $b] = ...``)."""
        name = _variable_of(target)
        if name is None:
            self.unknown_variables(reason)
        elif name not in ("_ENV", "_SERVER", "this"):
            self.forget((name,), (), reason)

    def lvalue_path(self, target: Node) -> tuple[str, list[Any]] | None:
        """A variable and the keys below it (``None`` in ``keys`` appends), or None when a key is not known."""
        keys: list[Any] = []
        node = target
        while node[0] == "index":
            if node[2] is None:
                keys.append(None)
            else:
                key = self.evaluate(node[2])
                if isinstance(key, PhpUnknown):
                    return None
                keys.append(array_key(key))
            node = node[1]
        if node[0] != "var" or node[1] in ("_ENV", "_SERVER", "this"):
            return None
        keys.reverse()
        if node[1] == "GLOBALS":
            # $GLOBALS['x'][...] = ... writes $x (the file runs in the global scope); $GLOBALS itself cannot be
            # written, nor appended to.
            if not keys or not isinstance(keys[0], str):
                return None
            return keys[0], keys[1:]
        return node[1], keys

    def read_path(self, name: str, keys: list[Any]) -> Any:
        value = self.config.variables.get(name)
        for key in keys:
            if key is None or not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    def write_path(self, name: str, keys: list[Any], value: Any) -> None:
        if not keys:
            self.config.variables[name] = value
            return
        root = self.config.variables.get(name)
        if not isinstance(root, dict):
            if isinstance(root, str) and root != "":
                self.note(f"{self.here()}: string offsets are not written")
                return
            root = {}
            self.config.variables[name] = root
        container = root
        for position, key in enumerate(keys):
            last = position == len(keys) - 1
            if key is None:
                key = next_index(container)
            if last:
                self.spend(1)
                container[key] = value
                return
            child = container.get(key)
            if not isinstance(child, dict):
                child = {}
                container[key] = child
            container = child

    def eval_include(self, node: Node) -> Any:
        kind = node[1]
        target = self.evaluate(node[2])
        if isinstance(target, PhpUnknown):
            self.note(f"{self.here()}: {kind} of a path that is not known ({target.reason}) was not read")
            self.unread_include(f"{kind} of a path that is not known{self.in_file()}")
            return PhpUnknown(f"{kind} of a path that is not known")
        path = self.resolve_path(to_str(target))
        if path is None or not path.is_file():
            self.note(f"{self.here()}: {kind} {to_str(target)!r}: no such file")
            return False
        if kind.endswith("_once") and path.resolve() in self.included:
            return True
        verdict = False if self.follow is None else self.follow(path)
        if not verdict:
            self.note(f"{self.here()}: {kind} {path} was not read")
            if verdict is not None:
                self.unread_include(f"{kind} {path}")
            return PhpUnknown(f"{kind} {path.name} was not read")
        value = self.run_file(path)
        # An included file without a return statement gives 1, as PHP's include does.
        return 1 if value is _NO_RETURN else value

    def resolve_path(self, text: str) -> Path | None:
        if not text or "\x00" in text:
            return None
        path = Path(text)
        if path.is_absolute():
            return path
        base = self.cwd or (self.file_stack[-1].parent if self.file_stack else None)
        if base is None:
            return None
        # PHP tries the include_path (".") against the working directory, then the including file's folder.
        candidate = base / path
        if not candidate.exists() and self.file_stack:
            candidate = self.file_stack[-1].parent / path
        return candidate

    def eval_static(self, node: Node) -> Any:
        written, method, arguments = node[1], node[2], node[3]
        cls = written.lstrip("\\")
        # The name as written first (what plugins registered before imports were resolved), then the
        # fully-qualified name the file's `use` imports make of it (a name starting with \ already is one).
        function = self.functions.get(f"{cls}::{method}".lower())
        if function is None and not written.startswith("\\"):
            function = self.functions.get(f"{self.qualified_class(cls)}::{method}".lower())
        if function is None:
            return PhpUnknown(f"{cls}::{method}() at line {self.line}{self.in_file()} is not evaluated")
        return self.call_user(function, arguments, f"{cls}::{method}")

    def qualified_class(self, name: str) -> str:
        """``name`` as PHP resolves it through the current file's ``use`` imports (``App`` after ``use
        craft\\helpers\\App;`` is ``craft\\helpers\\App``; an alias's further segments are kept)."""
        first, _, rest = name.partition("\\")
        imported = self.imports[-1].get(first.lower()) if self.imports else None
        if imported is None:
            return name
        return f"{imported}\\{rest}" if rest else imported

    def call_user(self, function: Callable[..., Any], arguments: tuple[Any, ...], name: str) -> Any:
        values = [self.evaluate(node) for _, node in arguments]
        try:
            return function(*values)
        except (TypeError, ValueError) as exc:
            return PhpUnknown(f"{name}() failed: {exc}")

    def eval_call(self, node: Node) -> Any:
        name, arguments = node[1], node[2]
        lowered = name.lower()
        if lowered in self.functions:
            return self.call_user(self.functions[lowered], arguments, name)
        if lowered in SETS_VARIABLES:
            reason = f"{name}() at line {self.line}{self.in_file()} was not evaluated"
            if lowered != "extract" and len(arguments) >= 2:
                self.assigned_unknown(arguments[1][1], reason)  # parse_str($query, $result) sets $result
            else:
                self.unknown_variables(reason)
            return PhpUnknown(f"{name}() at line {self.line}{self.in_file()} is not evaluated")
        if lowered == "putenv" and len(arguments) == 1:
            setting = self.evaluate(arguments[0][1])
            if isinstance(setting, PhpUnknown):
                return setting
            key, equals, assigned = to_str(setting).partition("=")
            self.putenv[key] = assigned if equals else None
            return True
        if lowered == "define":
            values = [self.evaluate(argument) for _, argument in arguments]
            if len(values) < 2:
                return False
            return self.define(values[0], values[1])
        builtin = BUILTINS.get(lowered)
        if builtin is None:
            # Where, since the message names the first file only: a call in an included settings.local.php.
            return PhpUnknown(f"{name}() at line {self.line}{self.in_file()} is not evaluated")
        values = [self.evaluate(argument) for _, argument in arguments]
        unknown = first_unknown(values)
        if unknown is not None and lowered not in ("defined", "function_exists"):
            return unknown
        try:
            return builtin(self, *values)
        except (TypeError, ValueError, IndexError, OverflowError) as exc:
            return PhpUnknown(f"{name}() could not be evaluated: {type(exc).__name__}")


def _variable_of(target: Node) -> str | None:
    """The variable an assignment target writes (``$x['a']->b`` writes ``$x``; ``$GLOBALS['x']`` writes ``$x``),
    or None when it cannot be told without evaluating it."""
    below: Node | None = None
    while target[0] in ("index", "prop"):
        target, below = target[1], target
    if target[0] != "var":
        return None
    if target[1] != "GLOBALS":
        return str(target[1])
    key = below[2] if below is not None and below[0] == "index" else None
    return key[1] if isinstance(key, tuple) and key[0] == "lit" and isinstance(key[1], str) else None


def _sets_any_variable_in(item: Any) -> str | None:
    """What in parsed statements or nodes that were not evaluated may set variables it does not name: a skipped
    loop's include or variable variable, extract(), an assignment to a target named by a value; or None."""
    if isinstance(item, Statement):
        if item.kind == "skip" and len(item.parts) >= 4 and item.parts[3]:
            return str(item.parts[3])
        return _sets_any_variable_in(item.parts)
    if isinstance(item, list):
        return next((found for element in item if (found := _sets_any_variable_in(element)) is not None), None)
    if not isinstance(item, tuple):
        return None
    if item and item[0] == "call" and len(item) == 3 and str(item[1]).lower() in SETS_VARIABLES:
        return f"{item[1]}()"
    if item and item[0] == "assign" and len(item) == 4 and _variable_of(item[2]) is None:
        return "an assignment to a variable named by a value"
    return next((found for element in item if (found := _sets_any_variable_in(element)) is not None), None)


def _includes_in(item: Any) -> list[Node]:
    """The include / require nodes anywhere in parsed statements."""
    found: list[Node] = []

    def walk(value: Any) -> None:
        if isinstance(value, Statement):
            walk(value.parts)
        elif isinstance(value, list):
            for element in value:
                walk(element)
        elif isinstance(value, tuple):
            if value and value[0] == "include" and len(value) == 3:
                found.append(value)
            for element in value:
                walk(element)

    walk(item)
    return found


def parse_php_config(text: str, *, source: str = "PHP file", path: Path | None = None,
                     environ: Mapping[str, str] | None = None, variables: Mapping[str, Any] | None = None,
                     constants: Mapping[str, Any] | None = None, follow: FollowRule | None = None,
                     functions: Mapping[str, Callable[..., Any]] | None = None, cwd: Path | None = None,
                     environment_loaded: bool = False) -> PhpConfig:
    """Evaluate the PHP configuration ``text`` (see :func:`read_php_config`; ``path`` sets ``__DIR__``)."""
    config = PhpConfig(constants=dict(constants or {}), variables=dict(variables or {}))
    evaluator = _Evaluator(os.environ if environ is None else environ, cwd, follow, functions or {}, config,
                           environment_loaded)
    program = parse(text, source)
    where = path or Path(source)
    try:
        returned = evaluator.run_program(program, where)
        config.returned = None if returned is _NO_RETURN else returned
    except _Stop:
        config.notes.append(f"{source}: exit() stops the configuration")
    except RecursionError:
        raise ConfigError(f"{source}: the configuration is nested too deeply to read") from None
    return config


def read_php_config(path: Path, *, environ: Mapping[str, str] | None = None,
                    variables: Mapping[str, Any] | None = None, constants: Mapping[str, Any] | None = None,
                    follow: FollowRule | None = None, functions: Mapping[str, Callable[..., Any]] | None = None,
                    cwd: Path | None = None, environment_loaded: bool = False) -> PhpConfig:
    """Read the PHP configuration file ``path`` without running PHP.

    :param environ: what ``getenv()``, ``$_ENV`` and ``$_SERVER`` see (default: this process's environment).
    :param variables: variables set before the file runs (Drupal's ``$app_root``, ``$site_path``).
    :param constants: constants defined before the file runs (WordPress's ``ABSPATH``).
    :param follow: ``follow(path)`` is True for an ``include`` / ``require`` to read (the included file runs in
        the same scope, as in PHP); default: none is read, each is noted.
    :param functions: extra functions by name (``"env"``, or ``"Config::define"`` for a static method), called
        with the evaluated arguments; they replace built-in ones of the same name. A static method registered
        by its fully-qualified class name (``"craft\\helpers\\App::env"``) is found however the file spells
        the class: imported with ``use`` (under an alias, in a group) or written out.
    :param cwd: the directory relative paths resolve against (default: the directory of the file being read).
    :param environment_loaded: ``environ`` already holds what the files load into the environment themselves
        (the caller read the ``.env`` their Dotenv loads, as synco-wordpress does for Bedrock). Otherwise, after
        a method or static call run as a statement, or a ``putenv()``, a variable ``environ`` does not set is
        a :class:`PhpUnknown` (that code may have set it), not unset.
    :return: a :class:`PhpConfig`. A syntax error, an unreadable or oversized file or runaway values raise
        :class:`~synco_core.ConfigError` naming the file (and line).
    """
    config = PhpConfig(constants=dict(constants or {}), variables=dict(variables or {}))
    evaluator = _Evaluator(os.environ if environ is None else environ, cwd, follow, functions or {}, config,
                           environment_loaded)
    try:
        returned = evaluator.run_file(path)
        config.returned = None if returned is _NO_RETURN else returned
    except _Stop:
        config.notes.append(f"{path}: exit() stops the configuration")
    except RecursionError:
        raise ConfigError(f"{path}: the configuration is nested too deeply to read") from None
    return config
