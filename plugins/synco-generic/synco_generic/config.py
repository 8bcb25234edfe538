"""Loading and validating ``.synco.yml``: the ``serve:`` and ``sanitize:`` sections, and ``local_hosts:``.

Everything is checked when the file is read, so a typo fails at once with one line naming the file and
the key (``.synco.yml: serve.file_sets[0].pubic: unknown key``), never halfway through a dump. Other
top-level sections (``receive:``, remotes for ``pull``) belong to other parts of synco and are left
alone here. See the plugin README for the format.

``${NAME}`` references (``${NAME:-default}`` too) are expanded from the environment in the database URL,
the web root and the file sets' paths and URLs only: SQL expressions and fixed values keep their ``$``
signs (bcrypt hashes are full of them).
"""

from __future__ import annotations

import difflib
import functools
import logging
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from synco_core import (
    ConfigError,
    DatabaseConfig,
    ExcludeMatcher,
    SanitizeRule,
    UnsafePathError,
    expand_variables,
    is_config_candidate,
    load_synco_yaml,
    parse_database_url,
    safe_relative_path,
)

log = logging.getLogger(__name__)

CONFIG_NAME = ".synco.yml"
#: Also accepted, as many tools accept both extensions.
ALTERNATIVE_NAMES = (".synco.yaml",)

SERVE_KEYS = frozenset(
    {"name", "database", "web_root", "file_sets", "exclude_tables", "where", "keep_newest", "post_install",
     "sanitize"}
)
#: Serve keys that are also top-level sections of their own (``sanitize:`` works in both places).
TOP_LEVEL_SERVE_KEYS = frozenset({"sanitize"})
DATABASE_KEYS = frozenset({"url"})
FILE_SET_KEYS = frozenset({"name", "path", "public", "url", "exclude", "regenerated", "description", "dotfiles"})
SANITIZE_KEYS = frozenset({"strict", "columns", "no_rows", "where", "keep_newest", "keep"})
#: The explicit forms of a column rule (``{sql: ...}``, ``{transform: ...}``) and of a keep_newest entry.
COLUMN_RULE_KEYS = frozenset({"sql", "transform"})
KEEP_NEWEST_KEYS = frozenset({"column", "rows"})
#: The top-level sections this plugin reads (``sanitise`` is the British spelling of ``sanitize``).
TOP_LEVEL_KEYS = frozenset({"serve", "sanitize", "sanitise", "local_hosts"})
#: The top-level sections other parts of synco read (receive's hosts, pull's remotes), left alone here.
OTHER_SECTIONS = frozenset({"receive", "hosts", "host", "base_url", "baseUrl", "remotes"})

#: Named transforms; the engines turn them into SQL of their dialect.
SIMPLE_TRANSFORMS = frozenset({"null", "email", "hash"})
#: One part of a table or column name: any text but a dot, a double quote or NUL, or a double-quoted name (its
#: quotes doubled) holding those too, as PostgreSQL's manifests write ``"a.b"``. Anything else a database
#: accepts is a name (``order-items``, ``été``, ``drop table;``, a line break): the engines look names up in
#: the database's own list and quote them, never paste them into SQL.
_PART = r'"(?:[^"\x00]|"")+"|[^."\x00]+'
_PARTS = re.compile(_PART)


def _name_parts(text: str, most: int) -> list[str] | None:
    """The dot-separated parts of ``text`` (1 to ``most``), or None when it is not such a name."""
    if not re.fullmatch(rf"(?:{_PART})(?:\.(?:{_PART})){{0,{most - 1}}}", text):
        return None
    return _PARTS.findall(text)


def _unquoted(part: str) -> str:
    return part[1:-1].replace('""', '"') if part.startswith('"') else part
# A value such as "fixed:abc" or "truncate:10" names a transform; "id::text" (a cast) does not.
_TRANSFORM_PREFIX = re.compile(r"([a-z_]+):(?!:)")
_FILE_SET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_REFERENCE = re.compile(
    r"(?P<escape>\\?)\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:-|:=|-)?[^}]*\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


@dataclass(frozen=True)
class FileSetConfig:
    """One ``serve.file_sets`` entry, validated (paths expanded, not yet checked on disk)."""

    name: str
    path: str
    public: bool
    url: str | None = None
    exclude: tuple[str, ...] = ()
    #: Patterns of derived files the application makes again (thumbnails): left out like ``exclude``, but the
    #: laptop's copies are not its own, and go when the server does not list them (``FileSet.regenerated``).
    regenerated: tuple[str, ...] = ()
    description: str = ""
    #: Public sets: also transfer files whose name starts with a dot (left out by default).
    dotfiles: bool = False


@dataclass
class SyncoConfig:
    """What ``.synco.yml`` says, validated."""

    path: Path
    name: str = ""
    database_url: str | None = None
    web_root: str | None = None
    file_sets: list[FileSetConfig] = field(default_factory=list)
    exclude_tables: tuple[str, ...] = ()
    where: dict[str, str] = field(default_factory=dict)
    keep_newest: dict[str, tuple[str, int]] = field(default_factory=dict)
    post_install: list[list[str]] = field(default_factory=list)
    sanitize: list[SanitizeRule] = field(default_factory=list)
    strict: bool = False
    keep: tuple[str, ...] = ()
    #: Whether a ``serve:`` section exists (a file with only ``receive:`` does not configure serving).
    has_serve: bool = False
    #: Top-level ``local_hosts:``: database hosts installs may treat as this machine (docker-compose services).
    local_hosts: tuple[str, ...] = ()

    def database(self, project_dir: Path) -> DatabaseConfig | None:
        """The configured database, or None; ConfigError naming the key when the URL is bad."""
        if not self.database_url:
            return None
        try:
            return parse_database_url(self.database_url, base_dir=project_dir, source=str(self.path))
        except ConfigError as exc:
            raise ConfigError(f"{self.path}: serve.database.url: {exc}") from None


def find_config(project_dir: Path) -> Path | None:
    """The project's ``.synco.yml`` (or ``.synco.yaml``), or None."""
    for name in (CONFIG_NAME, *ALTERNATIVE_NAMES):
        candidate = project_dir / name
        # Anything but a folder: a named pipe (a secrets manager's) is read, a device refused with an error
        # by read_config_text, rather than either being silently taken for no configuration.
        if is_config_candidate(candidate):
            return candidate
    return None


class _Reader:
    """Validates one file's data; every error names the file and the dotted key."""

    def __init__(self, path: Path, environ: Mapping[str, str]) -> None:
        self.path = path
        self.environ = environ

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {message}")

    def mapping(self, value: Any, key: str, allowed: frozenset[str] | None = None) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {type(value).__name__}")
        for name in value:
            if not isinstance(name, str):
                raise self.fail(key, f"keys must be strings, got {name!r}")
            if allowed is not None and name not in allowed:
                raise self.fail(f"{key}.{name}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
        return value

    def string(self, value: Any, key: str, *, allow_empty: bool = False) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.fail(key, f"expected a string, got {type(value).__name__}")
        text = str(value)
        if not text.strip() and not allow_empty:
            raise self.fail(key, "must not be empty")
        return text

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value

    def string_list(self, value: Any, key: str) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, got {type(value).__name__}")
        return [self.string(item, f"{key}[{index}]") for index, item in enumerate(value)]

    def patterns(self, value: Any, key: str) -> tuple[str, ...]:
        """A list of exclude patterns, each one the matcher takes: a bad one is refused here, naming its key,
        not when serve first walks the set."""
        found = self.string_list(value, key)
        for index, pattern in enumerate(found):
            try:
                ExcludeMatcher((pattern,))
            except ConfigError as exc:
                raise self.fail(f"{key}[{index}]", str(exc)) from None
        return tuple(found)

    def expand(self, value: str, key: str) -> str:
        """``${NAME}`` references resolved from the environment; an unset one without default is an error."""
        for match in _REFERENCE.finditer(value):
            name = match.group("braced") or match.group("bare")
            if not match.group("escape") and not match.group("op") and name not in self.environ:
                raise self.fail(key, f"environment variable {name} is not set")
        return expand_variables(value, self.environ.get)

    def table(self, value: Any, key: str) -> str:
        name = self.string(value, key).strip()
        if _name_parts(name, 2) is None:
            raise self.fail(key, f"{name!r} is not a table name (table or schema.table; a part holding a dot or a "
                                 'double quote is double-quoted: "a.b")')
        return name

    def table_column(self, value: str, key: str) -> tuple[str, str]:
        parts = _name_parts(value.strip(), 3)
        if parts is None or len(parts) < 2:
            raise self.fail(key, f"{value!r} is not table.column")
        return self.table(".".join(parts[:-1]), key), _unquoted(parts[-1])

    def column(self, value: str, key: str) -> str:
        parts = _name_parts(value.strip(), 1)
        if parts is None:
            raise self.fail(key, f"{value!r} is not a column name")
        return _unquoted(parts[0])

    def where(self, value: Any, key: str) -> dict[str, str]:
        return {
            self.table(table, f"{key}.{table}"): self.string(condition, f"{key}.{table}")
            for table, condition in self.mapping(value, key).items()
        }

    def keep_newest(self, value: Any, key: str) -> dict[str, tuple[str, int]]:
        result: dict[str, tuple[str, int]] = {}
        for table, spec in self.mapping(value, key).items():
            item_key = f"{key}.{table}"
            if isinstance(spec, str) and ":" in spec:
                column, _, rows_text = spec.partition(":")
                rows: Any = rows_text.strip()
            elif isinstance(spec, dict):
                spec = self.mapping(spec, item_key, KEEP_NEWEST_KEYS)
                if "column" not in spec or "rows" not in spec:
                    raise self.fail(item_key, "needs column and rows")
                column, rows = self.string(spec["column"], f"{item_key}.column"), spec["rows"]
            else:
                raise self.fail(item_key, "expected {column: <name>, rows: <N>} or '<column>:<N>'")
            try:
                count = int(rows)
            except (TypeError, ValueError):
                raise self.fail(item_key, f"rows must be a whole number, got {rows!r}") from None
            if count < 0 or isinstance(rows, bool):
                raise self.fail(item_key, f"rows must be a whole number, got {rows!r}")
            result[self.table(table, item_key)] = (self.column(column, item_key), count)
        return result

    def sanitize_value(self, table: str, column: str, value: Any, key: str) -> SanitizeRule | None:
        """A rule for one column; None for ``keep`` (declared safe, which strict mode accepts)."""
        if isinstance(value, dict):
            spec = self.mapping(value, key, COLUMN_RULE_KEYS)
            if len(spec) != 1:
                raise self.fail(key, "give exactly one of sql or transform")
            if "sql" in spec:
                return SanitizeRule(table, column, expression=self.string(spec["sql"], f"{key}.sql"))
            return SanitizeRule(table, column, transform=self.transform(self.string(spec["transform"], key), key))
        if value is None:
            return SanitizeRule(table, column, transform="null")
        text = self.string(value, key)
        stripped = text.strip()
        if stripped == "keep":
            return None
        if stripped in SIMPLE_TRANSFORMS or _TRANSFORM_PREFIX.match(stripped):
            return SanitizeRule(table, column, transform=self.transform(stripped, key))
        return SanitizeRule(table, column, expression=text)

    def transform(self, value: str, key: str) -> str:
        name, sep, argument = value.partition(":")
        if not sep and name in SIMPLE_TRANSFORMS:
            return name
        if name == "fixed" and sep:
            # The fixed value is kept as written (after the first colon), spaces and dollar signs included.
            return value
        if name == "truncate" and sep:
            if not argument.strip().isdigit():
                raise self.fail(key, f"truncate needs a length: truncate:<n>, got {value!r}")
            return f"truncate:{int(argument)}"
        known = "null, email, hash, fixed:<value>, truncate:<n>"
        raise self.fail(key, f"unknown transform {value!r} (known: {known}; use {{sql: ...}} for an SQL expression)")


def _load_yaml(path: Path) -> Any:
    # Bounded and never waiting on a pipe (a .synco.yml linked to /dev/zero is a one-line error), and a key
    # written twice refused with its line, as every reader of .synco.yml does.
    return load_synco_yaml(path)


def _parse_sanitize(reader: _Reader, data: Any, key: str, config: SyncoConfig) -> None:
    section = reader.mapping(data, key, SANITIZE_KEYS)
    if "strict" in section:
        config.strict = reader.boolean(section["strict"], f"{key}.strict")
    keep = list(config.keep)
    rules = {(rule.table, rule.column): rule for rule in config.sanitize}
    for name, value in reader.mapping(section.get("columns"), f"{key}.columns").items():
        item_key = f"{key}.columns.{name}"
        table, column = reader.table_column(name, item_key)
        rule = reader.sanitize_value(table, column, value, item_key)
        if rule is None:
            keep.append(f"{table}.{column}")
        else:
            rules[(table, column)] = rule
    for index, item in enumerate(reader.string_list(section.get("keep"), f"{key}.keep")):
        item_key = f"{key}.keep[{index}]"
        # "table", "table.column", "schema.table" or "schema.table.column", as written.
        if _name_parts(item.strip(), 3) is None:
            raise reader.fail(item_key, f"{item!r} is not a table or table.column name")
        keep.append(item.strip())
    config.keep = tuple(dict.fromkeys(keep))
    config.sanitize = list(rules.values())
    no_rows = [
        reader.table(table, f"{key}.no_rows[{index}]")
        for index, table in enumerate(reader.string_list(section.get("no_rows"), f"{key}.no_rows"))
    ]
    config.exclude_tables = tuple(dict.fromkeys((*config.exclude_tables, *no_rows)))
    config.where.update(reader.where(section.get("where"), f"{key}.where"))
    config.keep_newest.update(reader.keep_newest(section.get("keep_newest"), f"{key}.keep_newest"))


def _parse_file_set(reader: _Reader, data: Any, key: str) -> FileSetConfig:
    item = reader.mapping(data, key, FILE_SET_KEYS)
    for required in ("name", "path"):
        if required not in item:
            raise reader.fail(key, f"needs {required}")
    name = reader.string(item["name"], f"{key}.name").strip()
    if not _FILE_SET_NAME.fullmatch(name):
        raise reader.fail(f"{key}.name", f"{name!r}: use letters, digits, '.', '_' and '-'")
    path = reader.expand(reader.string(item["path"], f"{key}.path"), f"{key}.path").strip()
    public = reader.boolean(item.get("public", False), f"{key}.public")
    url = None
    if "url" in item:
        if not public:
            raise reader.fail(f"{key}.url", "only public file sets have a url (add public: true)")
        url = reader.expand(reader.string(item["url"], f"{key}.url"), f"{key}.url").strip()
    exclude = reader.patterns(item.get("exclude"), f"{key}.exclude")
    regenerated = reader.patterns(item.get("regenerated"), f"{key}.regenerated")
    description = reader.string(item.get("description", ""), f"{key}.description", allow_empty=True)
    dotfiles = reader.boolean(item.get("dotfiles", False), f"{key}.dotfiles")
    if dotfiles and not public:
        raise reader.fail(f"{key}.dotfiles",
                          "private file sets always include dotfiles; only public sets leave them out")
    return FileSetConfig(name=name, path=path, public=public, url=url, exclude=exclude,
                         regenerated=regenerated, description=description, dotfiles=dotfiles)


def load_config(project_dir: Path, environ: Mapping[str, str] | None = None) -> SyncoConfig | None:
    """The project's validated ``.synco.yml``, or None when it has none.

    :raises ConfigError: invalid YAML, an unknown key, a wrong type, an unset environment variable.
    """
    path = find_config(project_dir)
    if path is None:
        return None
    env = os.environ if environ is None else environ
    reader = _Reader(path, env)
    data = _load_yaml(path)
    top = reader.mapping(data, "(top level)")
    if "sanitize" in top and "sanitise" in top:
        raise reader.fail("sanitise", "give either sanitize or sanitise, not both")
    # Written at the top level, a serve key would be ignored as another part of synco's section, and the
    # project then "has no framework" although its .synco.yml names the database.
    misplaced = sorted(set(top) & (SERVE_KEYS - TOP_LEVEL_SERVE_KEYS))
    if misplaced:
        raise reader.fail(misplaced[0], f"belongs under serve: (serve.{misplaced[0]})")
    _warn_misspelt_sections(path, top)
    config = SyncoConfig(path=path)
    serve = top.get("serve")
    if serve is not None:
        config.has_serve = True
        section = reader.mapping(serve, "serve", SERVE_KEYS)
        if "name" in section:
            config.name = reader.string(section["name"], "serve.name").strip()
        database = section.get("database")
        if isinstance(database, str):
            config.database_url = reader.expand(database, "serve.database")
        elif database is not None:
            db = reader.mapping(database, "serve.database", DATABASE_KEYS)
            if "url" in db:
                config.database_url = reader.expand(reader.string(db["url"], "serve.database.url"),
                                                    "serve.database.url")
        if "web_root" in section:
            config.web_root = reader.expand(reader.string(section["web_root"], "serve.web_root"), "serve.web_root")
        file_sets = section.get("file_sets")
        if file_sets is not None and not isinstance(file_sets, list):
            raise reader.fail("serve.file_sets", "expected a list")
        seen: set[str] = set()
        for index, item in enumerate(file_sets or []):
            file_set = _parse_file_set(reader, item, f"serve.file_sets[{index}]")
            if file_set.name in seen:
                raise reader.fail(f"serve.file_sets[{index}].name", f"duplicate file set name {file_set.name!r}")
            seen.add(file_set.name)
            config.file_sets.append(file_set)
        config.exclude_tables = tuple(
            reader.table(t, f"serve.exclude_tables[{i}]")
            for i, t in enumerate(reader.string_list(section.get("exclude_tables"), "serve.exclude_tables"))
        )
        config.where = reader.where(section.get("where"), "serve.where")
        config.keep_newest = reader.keep_newest(section.get("keep_newest"), "serve.keep_newest")
        commands = section.get("post_install") or []
        if isinstance(commands, str):
            commands = [commands]
        if not isinstance(commands, list):
            raise reader.fail("serve.post_install", "expected a list of commands")
        for index, command in enumerate(commands):
            key = f"serve.post_install[{index}]"
            if isinstance(command, str):
                argv = shlex.split(command)
            elif isinstance(command, list):
                argv = [reader.string(part, key) for part in command]
            else:
                raise reader.fail(key, "expected a command string or a list of arguments")
            if not argv:
                raise reader.fail(key, "empty command")
            config.post_install.append(argv)
        if "sanitize" in section:
            _parse_sanitize(reader, section["sanitize"], "serve.sanitize", config)
    for spelling in ("sanitize", "sanitise"):
        if spelling in top:
            _parse_sanitize(reader, top[spelling], spelling, config)
    config.local_hosts = tuple(
        reader.expand(host, f"local_hosts[{index}]").strip().lower()
        for index, host in enumerate(reader.string_list(top.get("local_hosts"), "local_hosts")))
    return config


def _warn_misspelt_sections(path: Path, top: Mapping[str, Any]) -> None:
    """Warn of a top-level key that is nearly the name of a section synco reads (``local_host:``, ``remote:``).

    Other unknown keys stay silent: the file may hold other tools' settings (Go synco's ``framework:``). A
    misspelt section would otherwise be ignored without a word: ``local_host: [db]`` leaves the install to
    refuse the database as not on this machine, ``remote:`` leaves pull without its remotes.
    """
    known = TOP_LEVEL_KEYS | OTHER_SECTIONS
    for key in top:
        if isinstance(key, str) and key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.8)
            if close:
                _warn_once(f"{path}: {key}: not a section synco reads, so it is ignored; did you mean {close[0]}?")


@functools.cache
def _warn_once(message: str) -> None:
    # The file is read by several hooks of one command (detect, amend, file sets): one warning is enough.
    log.warning("%s", message)


def relative_path(config: SyncoConfig, value: str, key: str, project_dir: Path) -> PurePosixPath:
    """``value`` as a path inside the project (absolute paths inside it are made relative).

    A leading ``~`` or ``~user`` is a home folder, as a shell reads it (never a folder named ``~``): the
    expanded path must then lie inside the project like any absolute path."""
    candidate = Path(value)
    if value.startswith("~"):
        expanded = os.path.expanduser(value)
        if expanded.startswith("~"):
            user = value[1:].split("/", 1)[0]
            raise ConfigError(f"{config.path}: {key}: {value!r}: no user {user!r} on this machine, so '~{user}' "
                              "has no home folder; write the path relative to the project") from None
        candidate = Path(os.path.normpath(expanded))
        value = candidate.as_posix()
    if candidate.is_absolute():
        try:
            value = candidate.relative_to(project_dir).as_posix()
        except ValueError:
            raise ConfigError(f"{config.path}: {key}: {value!r} is outside the project directory") from None
    try:
        return safe_relative_path(value)
    except UnsafePathError:
        raise ConfigError(f"{config.path}: {key}: {value!r} must be a path inside the project (no '..')") from None
