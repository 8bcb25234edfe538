"""Reading a Django settings module without running it, for hosts where no interpreter can import it.

The module is parsed with :mod:`ast` and only a small, safe part of Python is evaluated: literals, names
assigned earlier, string and path arithmetic (``BASE_DIR / "media"``, ``os.path.join(...)``,
``Path(__file__).resolve().parent.parent``), f-strings, ``or`` / ``and`` / conditional expressions, and the
environment as settings read it: ``os.environ.get``, ``os.environ[...]``, ``os.getenv``,
django-environ's ``env(...)`` / ``env.str`` / ``env.int`` / ``env.bool`` / ``env.path`` / ``env.db()``,
python-decouple's ``config(...)`` and dj-database-url's ``config()`` / ``parse()``. ``from .base import *``
(split settings) reads the other module first. ``if`` blocks whose test can be evaluated run the branch
taken; names assigned under any other statement (a loop, a ``try`` handler, an ``if`` that cannot be
decided) become unknown. Nothing is imported or executed, so a settings file can do no harm here.

Values that cannot be worked out are :data:`UNKNOWN`; the caller decides what an unknown setting means.
"""

from __future__ import annotations

import ast
import logging
import os
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from synco_core import ConfigError, load_dotenv_files, parse_database_url, read_config_text

log = logging.getLogger(__name__)

#: How deep ``from .x import *`` may chain.
DEPTH_LIMIT = 8


class _Unknown:
    """A value the reader could not work out, with why when the reader knows (an unset variable): the one line
    a user sees must name what to set, not only that something was unknown."""

    __slots__ = ("reason",)

    def __init__(self, reason: str | None = None) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return "UNKNOWN"


#: What :func:`read_settings` gives for a setting it cannot work out (for no reason it can name); a value
#: unknown for a known reason is another :class:`_Unknown`, so test with :func:`is_unknown`, never ``is``.
UNKNOWN: Any = _Unknown()


def is_unknown(value: Any) -> bool:
    """True for a value the reader could not work out (whatever the reason)."""
    return isinstance(value, _Unknown)


def why_unknown(value: Any) -> str | None:
    """The first reason the reader gave for an unknown part of ``value`` (nested dicts and lists too)."""
    if isinstance(value, _Unknown):
        return value.reason
    if isinstance(value, DatabaseUrl):
        value = value.settings
    parts = value.values() if isinstance(value, dict) else value if isinstance(value, list | tuple) else ()
    return next((reason for reason in map(why_unknown, parts) if reason), None)


def _unset(name: str) -> _CannotEvaluate:
    return _CannotEvaluate(f"the environment variable {name} is not set")


class _CannotEvaluate(Exception):
    """Raised inside the evaluator: the expression is outside what it understands, or needs a variable the
    environment lacks (``reason`` names it)."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason


def _unknown(exc: _CannotEvaluate) -> Any:
    return _Unknown(exc.reason) if exc.reason else UNKNOWN


@dataclass(frozen=True)
class DatabaseUrl:
    """``dj_database_url.config()`` / ``env.db()``: a database named by a URL, converted by the caller."""

    url: str
    #: Django settings given over the URL's, in the order the settings module gave them: assigned after it
    #: was read (``DATABASES["default"]["NAME"] = ...``, ``.update({...})``), or kept from the dict it was
    #: merged into (``DATABASES["default"].update(dj_database_url.config())`` keeps that dict's ``OPTIONS``).
    settings: dict[str, Any] = field(default_factory=dict)
    #: The library that reads the URL (:mod:`synco_django.urlsettings`): ``dj-database-url`` or
    #: ``django-environ`` (``env.db()``), which differ on a repeated query key.
    reader: str = field(default="dj-database-url", compare=False)


#: Functions that load a dotenv file into ``os.environ`` (django-environ's class method, python-dotenv's).
_DOTENV_LOADERS = frozenset({"environ.Env.read_env", "environ.environ.Env.read_env", "dotenv.load_dotenv",
                             "dotenv.main.load_dotenv"})

#: The keys of the dict dj-database-url returns for every URL: merged into a settings dict, they replace
#: that dict's own (``OPTIONS`` too when the URL has query options).
_URL_KEYS = frozenset({"ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT"})

#: Methods of a dict or list a settings module calls as a statement to change it in place; ``update``,
#: ``setdefault``, ``append``, ``extend`` and ``insert`` are worked out, any other makes the value unknown
#: (never left as it was before the change).
_MUTATORS = frozenset({"update", "setdefault", "pop", "popitem", "clear", "append", "extend", "insert", "remove",
                       "sort", "reverse", "__setitem__", "__delitem__"})


@dataclass(frozen=True)
class _Ref:
    """A module, class or function the settings imported, by its dotted name (``os.path.join``)."""

    name: str


@dataclass(frozen=True)
class _Bound:
    """A method of a known value (``BASE_DIR.joinpath``), called later."""

    value: Any
    name: str


class Reader:
    """Evaluates settings modules below ``project_dir`` with ``environ`` as the environment."""

    def __init__(self, project_dir: Path, roots: list[Path], environ: Mapping[str, str],
                 real: Mapping[str, str] | None = None) -> None:
        self.project_dir = project_dir
        self.roots = roots
        #: One dict, changed in place by ``read_env()`` / ``load_dotenv()``, so every ``environ.Env`` sees it.
        self.environ: dict[str, str] = dict(environ)
        #: The real environment, which a dotenv file the settings load never overrides (unless told to).
        self.real: Mapping[str, str] = environ if real is None else real
        self._reading: list[Path] = []
        #: Settings modules read so far, by dotted name.
        self._modules: dict[str, dict[str, Any]] = {}

    # -------------------------------------------------------------------------------------------- modules

    def module_path(self, name: str, package: str = "", level: int = 0) -> Path | None:
        """The file of module ``name`` (relative to ``package`` when ``level``), if it is in the project."""
        if level:
            parts = package.split(".")
            if level > 1:
                parts = parts[:-(level - 1)] if level - 1 < len(parts) else []
            name = ".".join(p for p in [*parts, name] if p)
        for root in self.roots:
            base = root.joinpath(*name.split("."))
            for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                if candidate.is_file():
                    return candidate
        return None

    def read_module(self, path: Path, module: str) -> dict[str, Any]:
        """The names the module at ``path`` defines, with what could be worked out of their values."""
        namespace: dict[str, Any] = {"__file__": str(path), "__name__": module}
        self._run_file(path, module, namespace)
        return namespace

    def _run_file(self, path: Path, module: str, namespace: dict[str, Any]) -> None:
        if path in self._reading or len(self._reading) >= DEPTH_LIMIT:
            log.debug("not reading %s again (import cycle or too deep)", path)
            return
        try:
            # Bounded (1 MiB: a settings module is a few kilobytes) and never waiting on a pipe; a file refused
            # that way is a one-line error rather than a module silently left out of the settings.
            text = read_config_text(path, kind="Django settings module", errors="replace")
            tree = ast.parse(text, str(path))
        except SyntaxError as exc:
            # Python would refuse to import it too: said once, in one line, and its settings stay unknown.
            log.warning("%s is not valid Python (line %s: %s); its settings are read as unknown", path, exc.lineno,
                        exc.msg)
            return
        except (OSError, ValueError) as exc:
            log.debug("cannot parse %s: %s", path, exc)
            return
        self._reading.append(path)
        try:
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            self._run(tree.body, namespace, package)
        finally:
            self._reading.pop()

    # ----------------------------------------------------------------------------------------- statements

    def _run(self, body: list[ast.stmt], ns: dict[str, Any], package: str) -> None:
        for statement in body:
            self._statement(statement, ns, package)

    def _statement(self, node: ast.stmt, ns: dict[str, Any], package: str) -> None:
        self._run_statement(node, ns, package)
        # An if or try runs its statements one by one (each checked here); the parts not run are checked
        # where they are stepped over. A function's body runs only when it is called.
        if not isinstance(node, ast.If | ast.Try | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            self._forget_if_namespace_written(node, ns)

    def _forget_if_namespace_written(self, node: ast.AST, ns: dict[str, Any]) -> None:
        """Code handed the module's namespace (``django_heroku.settings(locals())``, ``globals().update(...)``,
        ``exec(open("local_settings.py").read())``) may set any setting, DATABASES included: the settings read
        so far become unknown, never what they were before (django-heroku's DATABASES is DATABASE_URL's, not
        the sqlite file written above it)."""
        writer = _namespace_writer(node)
        if writer is None:
            return
        log.warning("%s line %d: %s may change any setting; the settings are read as unknown from there on",
                    self._reading[-1] if self._reading else "settings", getattr(node, "lineno", 0), writer)
        for name in list(ns):
            if name.isupper():
                ns[name] = UNKNOWN

    def _run_statement(self, node: ast.stmt, ns: dict[str, Any], package: str) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    ns[alias.asname] = _Ref(alias.name)
                else:
                    top = alias.name.split(".")[0]
                    ns[top] = _Ref(top)
        elif isinstance(node, ast.ImportFrom):
            self._import_from(node, ns, package)
        elif isinstance(node, ast.Assign):
            value = self._value(node.value, ns)
            for target in node.targets:
                self._assign(target, value, ns)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self._assign(node.target, self._value(node.value, ns), ns)
        elif isinstance(node, ast.AugAssign):
            self._augment(node, ns)
        elif isinstance(node, ast.If):
            try:
                taken = bool(self._eval(node.test, ns))
            except _CannotEvaluate as exc:
                for name in _assigned(node):
                    ns[name] = _unknown(exc)
                self._forget_if_namespace_written(node, ns)
            else:
                self._run(node.body if taken else node.orelse, ns, package)
        elif isinstance(node, ast.Try):
            # The body is what normally happens (an optional local settings import); handlers are not run.
            self._run(node.body, ns, package)
            for handler in node.handlers:
                for name in _assigned(handler):
                    ns[name] = UNKNOWN
                self._forget_if_namespace_written(handler, ns)
            self._run(node.orelse, ns, package)
            self._run(node.finalbody, ns, package)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            if not self._load_dotenv_statement(node.value, ns):
                self._method_statement(node.value, ns)
        elif isinstance(node, ast.Expr | ast.Pass | ast.Assert):
            return
        else:
            for name in _assigned(node):
                ns[name] = UNKNOWN

    def _module(self, module: str, package: str, level: int) -> dict[str, Any] | None:
        """The namespace of a settings module of the project, read once per reading (a module is one object
        in Python too: ``from .base import *`` and ``from .base import DATABASES`` share the same dict)."""
        path = self.module_path(module, package, level)
        if path is None:
            return None
        dotted = module if not level else f"{package}.{module}".strip(".")
        if dotted not in self._modules:
            other: dict[str, Any] = {"__file__": str(path), "__name__": dotted}
            self._run_file(path, dotted, other)
            self._modules[dotted] = other
        return self._modules[dotted]

    def _import_from(self, node: ast.ImportFrom, ns: dict[str, Any], package: str) -> None:
        module = node.module or ""
        if any(alias.name == "*" for alias in node.names):
            other = self._module(module, package, node.level)
            if other is None:
                log.debug("from %s%s import *: not a module of the project, not read", "." * node.level, module)
                return
            ns.update({k: v for k, v in other.items() if not k.startswith("_")})
            return
        # from .base import DATABASES, env (cookiecutter-django's split settings): the project's own module's
        # names; a library's (from pathlib import Path) are references the evaluator knows by name.
        other = self._module(module, package, node.level) if node.level else None
        for alias in node.names:
            if other is not None:
                ns[alias.asname or alias.name] = other.get(alias.name, UNKNOWN)
            else:
                ns[alias.asname or alias.name] = _Ref(f"{module}.{alias.name}") if not node.level else UNKNOWN

    def _assign(self, target: ast.expr, value: Any, ns: dict[str, Any]) -> None:
        if isinstance(target, ast.Name):
            ns[target.id] = value
        elif isinstance(target, ast.Subscript):
            # DATABASES["default"] = ... and DATABASES["default"]["HOST"] = ...: set in the dict when known.
            try:
                container = self._eval(target.value, ns)
                key = self._eval(target.slice, ns)
            except _CannotEvaluate:
                container = None
                key = None
            if isinstance(container, dict) and isinstance(key, str | int):
                container[key] = value
            elif isinstance(container, DatabaseUrl) and isinstance(key, str):
                container.settings[key] = value
            else:
                for name in _names_in(target):
                    ns[name] = UNKNOWN
        else:
            for name in _names_in(target):
                ns[name] = UNKNOWN

    def _load_dotenv_statement(self, call: ast.Call, ns: dict[str, Any]) -> bool:
        """``environ.Env.read_env(BASE_DIR / ".env.production")``, ``env.read_env(path)``,
        ``load_dotenv(path)``: the settings load a dotenv file of their choosing, so its variables are what
        ``os.environ`` holds afterwards (the real environment still winning unless ``overwrite=True`` /
        ``override=True``). Without a path (the ``.env`` beside the settings or found above them) the project's
        ``.env``, read from the start, stands for it. True when the call was one of these."""
        try:
            function = self._eval(call.func, ns)
        except _CannotEvaluate:
            return False
        if isinstance(function, _Bound) and isinstance(function.value, _Env) and function.name == "read_env":
            name = "environ.Env.read_env"
        elif isinstance(function, _Ref) and function.name in _DOTENV_LOADERS:
            name = function.name
        else:
            return False
        path_node = call.args[0] if call.args else next(
            (kw.value for kw in call.keywords if kw.arg in ("env_file", "dotenv_path")), None)
        if path_node is None:
            return True
        try:
            path = self._eval(path_node, ns)
        except _CannotEvaluate:
            path = None
        if not isinstance(path, str | Path):
            log.warning("%s: the file %s() reads is not known without Python; the project's .env is used instead",
                        self._reading[-1] if self._reading else "settings", name.rpartition(".")[2])
            return True
        file = Path(path) if Path(path).is_absolute() else self.project_dir / path
        if not file.is_file():
            log.debug("%s(%s): no such file, nothing loaded", name, file)
            return True
        try:
            # The file's own values (its ${NAME} references see the environment so far); who wins is below.
            values = load_dotenv_files([file], environ=self.environ, override_environment=True,
                                       style="python-dotenv")
        except ConfigError as exc:
            log.warning("%s; the settings are read without it", exc)
            return True
        override = any(kw.arg in ("overwrite", "override") and isinstance(kw.value, ast.Constant)
                       and kw.value.value is True for kw in call.keywords)
        self.environ.update(values)
        if not override:
            self.environ.update(self.real)
        log.debug("Django settings load %s (%d variables)", file, len(values))
        return True

    def _method_statement(self, call: ast.Call, ns: dict[str, Any]) -> None:
        """``DATABASES["default"].update(db_from_env)`` (the Heroku template), ``MIDDLEWARE.insert(0, ...)``:
        a settings value changed in place by a method. Worked out where the reader can; otherwise the value
        becomes unknown, so a database changed this way is never read as it was before the change."""
        function = call.func
        if not isinstance(function, ast.Attribute) or function.attr not in _MUTATORS:
            return
        try:
            receiver = self._eval(function.value, ns)
        except _CannotEvaluate:
            # DATABASES.setdefault("default", {}).update(...): a setting reached in a way the reader does not
            # follow is changed all the same.
            root = _root_name(function.value)
            if root is not None and isinstance(ns.get(root), dict | list | DatabaseUrl):
                ns[root] = UNKNOWN
            return
        if not isinstance(receiver, dict | list | DatabaseUrl):
            # os.environ.setdefault(...), a library's object: not a setting this reader holds.
            return
        try:
            if any(isinstance(arg, ast.Starred) for arg in call.args) or any(kw.arg is None for kw in call.keywords):
                raise _CannotEvaluate
            args = [self._eval(arg, ns) for arg in call.args]
            kwargs = {str(kw.arg): self._eval(kw.value, ns) for kw in call.keywords}
            changed = _changed(receiver, function.attr, args, kwargs)
            if changed is not receiver:
                self._store(function.value, changed, ns)
        except _CannotEvaluate as exc:
            for name in _names_in(function.value):
                ns[name] = _unknown(exc)

    def _store(self, target: ast.expr, value: Any, ns: dict[str, Any]) -> None:
        """Put ``value`` where ``target`` (a name or a subscript of a known dict) points."""
        if isinstance(target, ast.Name):
            ns[target.id] = value
            return
        if isinstance(target, ast.Subscript):
            container = self._eval(target.value, ns)
            key = self._eval(target.slice, ns)
            if isinstance(container, dict) and isinstance(key, str | int):
                container[key] = value
                return
            if isinstance(container, DatabaseUrl) and isinstance(key, str):
                container.settings[key] = value
                return
        raise _CannotEvaluate

    def _augment(self, node: ast.AugAssign, ns: dict[str, Any]) -> None:
        """``X += ...`` and ``DATABASES["default"]["NAME"] += ...``: worked out for ``+`` of strings and
        lists, unknown otherwise (never left at the value before the change)."""
        try:
            current: Any = self._eval(node.target, ns)
            added: Any = self._eval(node.value, ns)
            known = isinstance(current, list | tuple | str | int) and type(current) is type(added)
            value = current + added if isinstance(node.op, ast.Add) and known else UNKNOWN
        except _CannotEvaluate as exc:
            value = _unknown(exc)
        self._assign(node.target, value, ns)

    # ---------------------------------------------------------------------------------------- expressions

    def _value(self, node: ast.expr, ns: dict[str, Any]) -> Any:
        try:
            return self._eval(node, ns)
        except _CannotEvaluate as exc:
            return _unknown(exc)

    def _eval(self, node: ast.expr, ns: dict[str, Any]) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in ns:
                value = ns[node.id]
                if isinstance(value, _Unknown):
                    raise _CannotEvaluate(value.reason)
                return value
            if node.id in ("True", "False", "None"):
                return {"True": True, "False": False, "None": None}[node.id]
            if node.id in ("str", "int", "bool", "dict", "list", "tuple", "float"):
                return _Ref(f"builtins.{node.id}")
            raise _CannotEvaluate
        if isinstance(node, ast.JoinedStr):
            return "".join(self._format(part, ns) for part in node.values)
        if isinstance(node, ast.Dict):
            # {**env.db(), "TEST": {...}} (a replica of the default database): a URL merged in stays a URL,
            # the keys around it given over it, as .update() does.
            result: dict[Any, Any] | DatabaseUrl = {}
            for key, value in zip(node.keys, node.values, strict=True):
                if key is None:
                    merged = self._eval(value, ns)
                    if not isinstance(merged, dict | DatabaseUrl):
                        raise _CannotEvaluate
                    copied = (DatabaseUrl(merged.url, dict(merged.settings), merged.reader)
                              if isinstance(merged, DatabaseUrl) else dict(merged))
                    result = _changed(result, "update", [copied], {})
                elif isinstance(result, DatabaseUrl):
                    result.settings[self._eval(key, ns)] = self._value(value, ns)
                else:
                    result[self._eval(key, ns)] = self._value(value, ns)
            return result
        if isinstance(node, ast.List | ast.Tuple):
            items = [self._eval(item, ns) for item in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.BinOp):
            return self._binary(node, ns)
        if isinstance(node, ast.BoolOp):
            last: Any = None
            for value_node in node.values:
                last = self._eval(value_node, ns)
                if isinstance(node.op, ast.Or) and last:
                    return last
                if isinstance(node.op, ast.And) and not last:
                    return last
            return last
        if isinstance(node, ast.UnaryOp):
            operand = self._eval(node.operand, ns)
            if isinstance(node.op, ast.Not):
                return not operand
            if isinstance(node.op, ast.USub | ast.UAdd) and type(operand) in (int, float):
                return -operand if isinstance(node.op, ast.USub) else operand
            raise _CannotEvaluate
        if isinstance(node, ast.IfExp):
            return self._eval(node.body if self._eval(node.test, ns) else node.orelse, ns)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            return self._compare(node, ns)
        if isinstance(node, ast.Attribute):
            return self._attribute(self._eval(node.value, ns), node.attr)
        if isinstance(node, ast.Subscript):
            return self._subscript(self._eval(node.value, ns), self._eval(node.slice, ns))
        if isinstance(node, ast.Call):
            return self._call(node, ns)
        raise _CannotEvaluate

    def _format(self, part: ast.expr, ns: dict[str, Any]) -> str:
        if isinstance(part, ast.Constant):
            return str(part.value)
        if isinstance(part, ast.FormattedValue) and part.format_spec is None:
            value = self._eval(part.value, ns)
            if isinstance(value, str | int | float | Path) and not isinstance(value, bool):
                return str(value)
        raise _CannotEvaluate

    def _binary(self, node: ast.BinOp, ns: dict[str, Any]) -> Any:
        left, right = self._eval(node.left, ns), self._eval(node.right, ns)
        if isinstance(node.op, ast.Div) and isinstance(left, Path) and isinstance(right, str | Path):
            return left / right
        if isinstance(node.op, ast.Add) and type(left) is type(right) and isinstance(left, str | list | tuple | int):
            return left + right
        raise _CannotEvaluate

    def _compare(self, node: ast.Compare, ns: dict[str, Any]) -> bool:
        left, right = self._eval(node.left, ns), self._eval(node.comparators[0], ns)
        op = node.ops[0]
        simple = (str, int, bool, type(None))
        if not isinstance(left, simple) or not isinstance(right, (*simple, list, tuple)):
            raise _CannotEvaluate
        if isinstance(op, ast.Eq):
            return bool(left == right)
        if isinstance(op, ast.NotEq):
            return bool(left != right)
        if isinstance(op, ast.In) and isinstance(right, list | tuple | str):
            return left in right
        if isinstance(op, ast.NotIn) and isinstance(right, list | tuple | str):
            return left not in right
        raise _CannotEvaluate

    @staticmethod
    def _attribute(value: Any, name: str) -> Any:
        if isinstance(value, _Ref):
            return _Ref(f"{value.name}.{name}")
        if isinstance(value, Path):
            if name == "parent":
                return value.parent
            if name == "parents":
                return value.parents
            if name == "name":
                return value.name
            if name in ("resolve", "absolute", "joinpath", "expanduser"):
                return _Bound(value, name)
        if isinstance(value, _Env) and not name.startswith("_"):
            return _Bound(value, name)
        raise _CannotEvaluate

    def _subscript(self, value: Any, key: Any) -> Any:
        if isinstance(value, DatabaseUrl):
            return self._url_setting(value, key)
        if isinstance(value, _Ref) and value.name == "os.environ" and isinstance(key, str):
            if key not in self.environ:
                raise _unset(key)
            return self.environ[key]
        if isinstance(value, dict | list | tuple):
            try:
                return value[key]
            except (KeyError, IndexError, TypeError):
                raise _CannotEvaluate from None
        if type(value).__name__ == "_PathParents" and isinstance(key, int):
            try:
                return value[key]
            except IndexError:
                raise _CannotEvaluate from None
        raise _CannotEvaluate

    def _url_setting(self, value: DatabaseUrl, key: Any) -> Any:
        """``DATABASES["default"]["NAME"]`` of a dict dj-database-url made: what was set over the URL, else
        what the URL says (NAME, USER, PASSWORD, HOST, PORT); anything else is unknown."""
        if key in value.settings:
            return value.settings[key]
        if key not in ("NAME", "USER", "PASSWORD", "HOST", "PORT"):
            raise _CannotEvaluate
        try:
            # dj-database-url's schemes (postgis://, spatialite:// ...) are the core parser's aliases.
            config = parse_database_url(value.url, base_dir=self.project_dir)
        except ConfigError:
            raise _CannotEvaluate from None
        found = {"NAME": config.name, "USER": config.user, "PASSWORD": config.password,
                 "HOST": config.socket or config.host, "PORT": config.port}[key]
        # dj-database-url gives "" for a part the URL leaves out, and the port as a number.
        return "" if found is None else found

    # ---------------------------------------------------------------------------------------------- calls

    def _call(self, node: ast.Call, ns: dict[str, Any]) -> Any:
        function = self._eval(node.func, ns)
        args = [self._eval(arg, ns) for arg in node.args if not isinstance(arg, ast.Starred)]
        if len(args) != len(node.args):
            raise _CannotEvaluate
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            value = self._eval(kw.value, ns)
            if kw.arg is not None:
                kwargs[kw.arg] = value
            elif isinstance(value, dict) and all(isinstance(key, str) for key in value):
                # f(**options): its keys are arguments (dropping them read another variable, or a dict without
                # them, silently).
                kwargs.update(value)
            else:
                raise _CannotEvaluate
        try:
            if isinstance(function, _Bound):
                return self._method(function, args, kwargs)
            if isinstance(function, _Env):
                return function.get(*args, **kwargs)
            if not isinstance(function, _Ref):
                raise _CannotEvaluate
            handler = self._functions.get(function.name)
            if handler is None:
                raise _CannotEvaluate
            return handler(self, args, kwargs)
        except TypeError:
            # Arguments the real function takes but its stand-in here does not: unknown, never a crash.
            raise _CannotEvaluate from None

    def _method(self, bound: _Bound, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if isinstance(bound.value, Path):
            if bound.name in ("resolve", "absolute"):
                return Path(os.path.abspath(bound.value))
            if bound.name == "expanduser":
                return bound.value.expanduser()
            if bound.name == "joinpath" and all(isinstance(a, str | Path) for a in args):
                return bound.value.joinpath(*args)
        if isinstance(bound.value, _Env):
            return bound.value.method(bound.name, args, kwargs)
        raise _CannotEvaluate

    def _env_lookup(self, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """``os.environ.get(name, default)`` / ``os.getenv(name, default)``."""
        if not args or not isinstance(args[0], str):
            raise _CannotEvaluate
        default = args[1] if len(args) > 1 else kwargs.get("default")
        return self.environ.get(args[0], default)

    def _database_url(self, args: list[Any], kwargs: dict[str, Any]) -> DatabaseUrl:
        """``dj_database_url.config(default=..., env="DATABASE_URL")``."""
        variable = kwargs.get("env", "DATABASE_URL")
        url = self.environ.get(str(variable)) or kwargs.get("default")
        if not isinstance(url, str) or not url:
            raise _unset(str(variable))
        return DatabaseUrl(url)

    def _parse_url(self, args: list[Any], kwargs: dict[str, Any]) -> DatabaseUrl:
        """``dj_database_url.parse(url)``."""
        url = args[0] if args else kwargs.get("url")
        if not isinstance(url, str):
            raise _CannotEvaluate
        return DatabaseUrl(url)

    def _decouple(self, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """python-decouple's ``config(name, default=..., cast=...)``: casts to str, int and bool, and
        dj-database-url's ``parse`` (``cast=db_url``, as decouple's documentation writes ``DATABASES``)."""
        if not args or not isinstance(args[0], str):
            raise _CannotEvaluate
        if args[0] in self.environ:
            raw: Any = self.environ[args[0]]
        elif "default" in kwargs:
            # Unlike django-environ, decouple casts the default too: default="sqlite:///..." with
            # cast=db_url is a database, default="False" with cast=bool is False.
            raw = kwargs["default"]
        else:
            raise _unset(args[0])
        cast = kwargs.get("cast")
        if isinstance(cast, _Ref) and cast.name == "dj_database_url.parse":
            return self._parse_url([raw], {})
        return _cast(raw, cast)

    def _make_env(self, args: list[Any], kwargs: dict[str, Any]) -> _Env:
        return _Env(self.environ, {k: v for k, v in kwargs.items() if isinstance(v, tuple)})

    #: The functions the evaluator understands, by dotted name (filled in below the class).
    _functions: ClassVar[dict[str, Callable[[Reader, list[Any], dict[str, Any]], Any]]] = {}


_Function = Callable[[Reader, list[Any], dict[str, Any]], Any]
#: ``os.path`` functions of one argument the reader evaluates.
_OS_PATH_FUNCTIONS: dict[str, Callable[[str], str]] = {
    "dirname": posixpath.dirname, "abspath": os.path.abspath, "realpath": os.path.abspath,
    "normpath": posixpath.normpath, "basename": posixpath.basename, "expanduser": os.path.expanduser,
}


def _os_path(name: str) -> _Function:
    """``os.path.join`` and the one-argument ``os.path`` functions, on strings and paths."""

    def call(reader: Reader, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if kwargs or not args or not all(isinstance(a, str | Path) for a in args):
            raise _CannotEvaluate
        texts = [str(a) for a in args]
        if name == "join":
            return posixpath.join(*texts)
        if len(texts) != 1:
            raise _CannotEvaluate
        return _OS_PATH_FUNCTIONS[name](texts[0])

    return call


def _builtin(kind: type) -> _Function:
    """``str(x)``, ``int(x)``, ``bool(x)`` of a known value (a string from the environment, mostly)."""

    def call(reader: Reader, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if kwargs or len(args) != 1:
            raise _CannotEvaluate
        if kind is str and isinstance(args[0], str | int | float | Path):
            return str(args[0])
        return _cast(args[0], kind)

    return call


def _dict(reader: Reader, args: list[Any], kwargs: dict[str, Any]) -> dict[Any, Any]:
    """``dict(ENGINE=..., NAME=...)``, ``dict(other, KEY=...)``: a new dict, as Python makes it."""
    if len(args) > 1:
        raise _CannotEvaluate
    base: dict[Any, Any] = {}
    if args:
        if isinstance(args[0], dict):
            base = dict(args[0])
        elif isinstance(args[0], list | tuple) and all(isinstance(p, list | tuple) and len(p) == 2 for p in args[0]):
            base = {p[0]: p[1] for p in args[0]}
        else:
            raise _CannotEvaluate
    return {**base, **kwargs}


def _path(reader: Reader, args: list[Any], kwargs: dict[str, Any]) -> Path:
    if kwargs or not args or not all(isinstance(a, str | Path) for a in args):
        raise _CannotEvaluate
    return Path(*args)


Reader._functions = {
    "pathlib.Path": _path,
    "os.environ.get": Reader._env_lookup,
    "os.getenv": Reader._env_lookup,
    "os.environ.setdefault": Reader._env_lookup,
    "dj_database_url.config": Reader._database_url,
    "dj_database_url.parse": Reader._parse_url,
    "decouple.config": Reader._decouple,
    "environ.Env": Reader._make_env,
    "environ.FileAwareEnv": Reader._make_env,
    **{f"os.path.{name}": _os_path(name) for name in ("join", *_OS_PATH_FUNCTIONS)},
    "builtins.dict": _dict,
    "builtins.str": _builtin(str),
    "builtins.int": _builtin(int),
    "builtins.bool": _builtin(bool),
}


_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}


def _cast(raw: Any, kind: Any) -> Any:
    """``raw`` (a string from the environment) as django-environ and decouple cast it."""
    if kind in (None, str) or (isinstance(kind, _Ref) and kind.name == "builtins.str"):
        return raw
    if kind is bool or (isinstance(kind, _Ref) and kind.name == "builtins.bool"):
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise _CannotEvaluate
    if kind is int or (isinstance(kind, _Ref) and kind.name == "builtins.int"):
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise _CannotEvaluate from None
    raise _CannotEvaluate


_MISSING: Any = object()


class _Env:
    """django-environ's ``environ.Env(...)`` object: ``env("X", default=...)``, ``env.str(...)`` ..."""

    def __init__(self, environ: Mapping[str, str], schemes: dict[str, tuple[Any, ...]]) -> None:
        self.environ = environ
        #: ``Env(DEBUG=(bool, False))``: a cast and a default per variable.
        self.schemes = schemes

    def get(self, name: Any = None, cast: Any = None, default: Any = _MISSING, **_: Any) -> Any:
        if not isinstance(name, str):
            raise _CannotEvaluate
        scheme = self.schemes.get(name, ())
        if cast is None and scheme:
            cast = scheme[0]
        if default is _MISSING and len(scheme) > 1:
            default = scheme[1]
        if name in self.environ:
            return _cast(self.environ[name], cast)
        if default is _MISSING:
            raise _unset(name)
        return default

    def method(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if name in ("str", "int", "bool"):
            # env.bool(var, default=NOTSET): the second argument of the typed methods is the default.
            if len(args) > 1:
                kwargs = {**kwargs, "default": args[1]}
            kwargs = {**kwargs, "cast": {"str": str, "int": int, "bool": bool}[name]}
            return self.get(*args[:1], **kwargs)
        if name == "list":
            # env.list(var, cast=None, default=NOTSET): comma-separated, items stripped.
            value = self.get(args[0] if args else kwargs.get("var"), default=kwargs.get("default", _MISSING))
            if isinstance(value, str):
                return [item.strip() for item in value.split(",") if item.strip()]
            return value
        if name == "path":
            value = self.get(*args, **kwargs)
            if not isinstance(value, str | Path):
                raise _CannotEvaluate
            return Path(value)
        if name in ("db", "db_url", "database_url"):
            variable = args[0] if args else kwargs.get("var", "DATABASE_URL")
            url = self.environ.get(str(variable)) or kwargs.get("default")
            if not isinstance(url, str) or not url:
                raise _unset(str(variable))
            return DatabaseUrl(url, reader="django-environ")
        if name in ("read_env",):
            return None
        raise _CannotEvaluate


def _changed(receiver: dict[Any, Any] | list[Any] | DatabaseUrl, method: str, args: list[Any],
             kwargs: dict[str, Any]) -> Any:
    """``receiver`` after ``receiver.method(*args, **kwargs)``: the same object changed in place, or a new
    value (a dict merged with a :class:`DatabaseUrl` becomes one); :class:`_CannotEvaluate` when unknown."""
    if isinstance(receiver, list):
        if method == "append" and len(args) == 1 and not kwargs:
            receiver.append(args[0])
        elif method == "extend" and len(args) == 1 and not kwargs and isinstance(args[0], list | tuple):
            receiver.extend(args[0])
        elif method == "insert" and len(args) == 2 and not kwargs and isinstance(args[0], int):
            receiver.insert(args[0], args[1])
        else:
            raise _CannotEvaluate
        return receiver
    if method == "setdefault" and 1 <= len(args) <= 2 and not kwargs and isinstance(args[0], str | int):
        default = args[1] if len(args) == 2 else None
        if isinstance(receiver, DatabaseUrl):
            if args[0] in _URL_KEYS and args[0] not in receiver.settings:
                return receiver  # the URL gave the key already
            receiver.settings.setdefault(str(args[0]), default)
        else:
            receiver.setdefault(args[0], default)
        return receiver
    if method != "update" or len(args) > 1:
        raise _CannotEvaluate
    other = args[0] if args else {}
    if isinstance(other, DatabaseUrl):
        # dj-database-url's dict replaces the URL's keys; the rest of the old settings stays.
        old = receiver.settings if isinstance(receiver, DatabaseUrl) else receiver
        # A password may hold "?" unencoded; the query starts after the host part.
        has_options = bool(other.url.rpartition("@")[2].partition("?")[2])
        kept = {k: v for k, v in old.items() if k not in _URL_KEYS and not (k == "OPTIONS" and has_options)}
        return DatabaseUrl(other.url, {**kept, **other.settings, **kwargs}, other.reader)
    if not isinstance(other, dict):
        raise _CannotEvaluate
    target = receiver.settings if isinstance(receiver, DatabaseUrl) else receiver
    target.update(other)
    target.update(kwargs)
    return receiver


#: Calls that hand the module's namespace to other code, or run code in it.
_NAMESPACE_CALLS = frozenset({"locals", "globals", "exec", "execfile"})


def _namespace_writer(node: ast.AST) -> str | None:
    """The call in ``node`` through which other code may set the module's names (``locals()`` passed to a
    function, ``globals().update``, ``exec``; ``vars()`` without an argument is ``locals()``), or None."""
    for child in ast.walk(node):
        if isinstance(child, ast.Call) and isinstance(child.func, ast.Name) and (
                child.func.id in _NAMESPACE_CALLS or (child.func.id == "vars" and not child.args)):
            # The statement when it is one call (django_heroku.settings(locals())), else the call itself.
            return ast.unparse(node.value)[:80] if isinstance(node, ast.Expr) else f"{child.func.id}()"
    return None


def _assigned(node: ast.AST) -> set[str]:
    """Every top-level name a statement (and what it contains) may assign."""
    names: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            names.add(child.id)
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(child.name)
        elif isinstance(child, ast.Subscript) and isinstance(child.ctx, ast.Store):
            names.update(_names_in(child))
    return names


def _root_name(node: ast.expr) -> str | None:
    """The name an expression starts from (``DATABASES`` of ``DATABASES.setdefault("default", {})["X"]``)."""
    while isinstance(node, ast.Subscript | ast.Attribute | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _names_in(target: ast.expr) -> set[str]:
    """The base names an assignment target changes (``DATABASES`` of ``DATABASES["default"]["HOST"]``)."""
    while isinstance(target, ast.Subscript | ast.Attribute):
        target = target.value
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, ast.Tuple | ast.List):
        return {name for element in target.elts for name in _names_in(element)}
    return set()


def read_settings(project_dir: Path, module: str, path: Path, root: Path,
                  environ: Mapping[str, str], real: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The names the settings module ``module`` (at ``path``, importable from ``root``) defines.

    ``environ`` is what the settings would see in ``os.environ`` (the real environment over ``.env``);
    ``real`` the real environment alone (default: ``environ``), which a dotenv file the settings load
    themselves does not override.
    """
    roots = list(dict.fromkeys([root, project_dir]))
    return Reader(project_dir, roots, environ, real).read_module(path, module)


def is_known(value: Any) -> bool:
    """True when ``value`` and everything inside it could be worked out."""
    if isinstance(value, _Unknown):
        return False
    if isinstance(value, DatabaseUrl):
        return is_known(value.settings)
    if isinstance(value, dict):
        return all(is_known(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(is_known(v) for v in value)
    return True
