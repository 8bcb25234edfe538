"""The value types that cross the hooks.

Plugin authors import these from :mod:`synco_core`. They are deliberately small, typed and free of
behaviour that needs a database or the network, so a plugin can build them in its tests without any
service running.
"""

from __future__ import annotations

import abc
import dataclasses
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

#: Driver options whose value is a secret: ``?password=`` and ``passwd`` (pymysql, mysqlclient), ``sslpassword``
#: (libpq's client key passphrase), a token or secret of a cloud driver. Their values are masked wherever a
#: configuration is shown, as the password is.
_SECRET_OPTION = re.compile(r"(?i)(?:password|passwd|pwd|passphrase|secret|token)$")


def is_secret_option(key: str) -> bool:
    """True when a database option named ``key`` holds a secret (see :data:`_SECRET_OPTION`)."""
    return bool(_SECRET_OPTION.search(key.replace("-", "_")))


def is_loopback_host(host: str) -> bool:
    """True when ``host`` names this machine by itself, without asking any resolver.

    That is ``localhost`` and the loopback addresses written as addresses: all of 127.0.0.0/8, ``::1`` (with
    or without brackets or a zone), and IPv4-mapped forms such as ``::ffff:127.0.0.1``. Nothing else, however
    it starts or resolves: ``127.0.0.1.example.com`` and ``localhost.example.com`` are names in someone's
    DNS, and the shorthands C's ``inet_aton`` accepts (``127.1``, ``0x7f.1``, ``2130706433``) are refused
    with them, since what they reach depends on the library that reads them.
    """
    if host.lower() == "localhost":
        return True
    name = host[1:-1] if host.startswith("[") and host.endswith("]") and ":" in host else host
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


@dataclass(frozen=True)
class DatabaseConfig:
    """Where a database lives and how to log in.

    ``engine`` is the normalised engine name (``mysql``, ``postgresql``, ``sqlite``, or whatever a
    third-party engine plugin answers to); ``name`` is the database name, or the file path for SQLite.
    The password, and every option naming a secret (:func:`is_secret_option`), never shows in ``repr()``,
    :meth:`masked` or a masked :meth:`url`, so a config can be logged safely; both are registered as secrets
    when the config is made, so a driver's message quoting them is redacted even where the plugin that read
    them did not register them.
    """

    engine: str
    name: str
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    socket: str | None = None
    #: Driver options such as ``charset``, ``sslmode``, ``serverVersion`` (strings, as in a URL query).
    options: Mapping[str, str] = field(default_factory=dict)
    #: Where the config was read from (``.env``, ``./flow configuration:show`` ...), for ``detect``.
    source: str = ""

    def __post_init__(self) -> None:
        # Imported here: ``import synco_core`` (every command, the remote side of pull) loads this module only.
        from synco_core.redaction import register_secret

        register_secret(self.password)
        self._lift_option_fields()
        for key, value in self.options.items():
            if is_secret_option(key):
                register_secret(str(value))

    def _lift_option_fields(self) -> None:
        """Move the settings of this config's own fields that a plugin gave among the options (``password``,
        PyMySQL's ``passwd``, ``user``, ``host``, ``port``, ``dbname`` ...) into those fields, as a URL's query
        is read (:mod:`synco_core.dburlquery`): left among the options, no engine read them, and the connection
        went without the password, as another user or to another server."""
        from synco_core.dburlquery import FIELD_KEYS, lift, port_of
        from synco_core.errors import ConfigError

        keys = FIELD_KEYS.get(self.engine, {})
        if not any(key in self.options for names in keys.values() for key in names):
            return
        options = {str(key): str(value) for key, value in self.options.items()}
        given = {"user": self.user, "password": self.password, "host": self.host,
                 "port": str(self.port) if self.port else None, "name": self.name}
        try:
            lifted = lift(self.engine, options, given)
            port = port_of(lifted["port"]) if "port" in lifted else self.port
        except ConfigError as exc:
            where = f" ({self.source})" if self.source else ""
            raise ConfigError(f"database configuration{where}: {exc}".replace("database URL ", "")) from None
        changes: dict[str, Any] = {name: lifted[name] for name in ("user", "password", "host", "name")
                                   if name in lifted}
        changes.update(port=port, options=options)
        for name, value in changes.items():
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        shown = {field.name: getattr(self, field.name) for field in dataclasses.fields(self) if field.repr}
        shown["options"] = self._masked_options()
        return f"{type(self).__name__}({', '.join(f'{name}={value!r}' for name, value in shown.items())})"

    def _masked_options(self) -> dict[str, str]:
        return {key: "***" if is_secret_option(key) else value for key, value in self.options.items()}

    def is_local(self, extra_local_hosts: Iterable[str] = ()) -> bool:
        """True when the database is on this machine: a file, a socket, no host (the driver's local
        default), a loopback host (:func:`is_loopback_host`), or exactly one of ``extra_local_hosts`` (the
        ``local_hosts`` a project's ``.synco.yml`` names, such as a docker-compose service)."""
        if self.engine == "sqlite" or self.socket or not self.host or self.host.startswith("/"):
            return True
        return is_loopback_host(self.host) or self.host.lower() in {h.lower() for h in extra_local_hosts}

    def url(self, *, mask_password: bool = False) -> str:
        """The ``DATABASE_URL`` form; with ``mask_password`` the password is shown as ``***``."""
        if self.engine == "sqlite":
            return f"sqlite:///{self.name}"
        auth = ""
        if self.user is not None:
            auth = quote(self.user, safe="")
            if self.password:
                auth += ":" + ("***" if mask_password else quote(self.password, safe=""))
            auth += "@"
        host = self.host or ""
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        port = f":{self.port}" if self.port else ""
        query_items = self._masked_options() if mask_password else dict(self.options)
        if self.socket:
            query_items["unix_socket"] = self.socket
        # "*" stays as it is in a masked value, as in the masked password.
        query = "&".join(f"{quote(k, safe='')}={quote(v, safe='*')}" for k, v in query_items.items())
        return f"{self.engine}://{auth}{host}{port}/{quote(self.name, safe='')}" + (f"?{query}" if query else "")

    def masked(self) -> dict[str, Any]:
        """A JSON-ready description with the password replaced by ``***`` (or null when there is none)."""
        data = dataclasses.asdict(self)
        data["options"] = self._masked_options()
        data["password"] = "***" if self.password else None
        data["url"] = self.url(mask_password=True)
        return data

    def replace(self, **changes: Any) -> DatabaseConfig:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class SanitizeRule:
    """One column rewritten inside the dump's SELECT, so the raw value never leaves the server.

    ``expression`` is an SQL expression in the source engine's dialect that replaces the column value,
    for example ``CONCAT('user', id, '@example.invalid')``. Named transforms (``null``, ``email``,
    ``fixed:...``) are turned into expressions by the engine before dumping.
    """

    table: str
    column: str
    #: SQL expression in the source engine's dialect (used when ``transform`` is None).
    expression: str = ""
    #: A named transform the engine turns into its own SQL: ``null``, ``email`` (unique per row),
    #: ``fixed:<value>``, ``hash`` (SHA-256 hex of a key made for each dump, never written, and the value:
    #: equal values stay equal within the dump, and no list of guesses finds one), ``truncate:<n>``.
    transform: str | None = None
    #: How the rule is shown (``serve --plan``, ``detect``, the receiver's list of applied rules) instead of its
    #: ``expression``, which may be long: ``"emptied (text only)"``. Not used by any engine.
    label: str = ""

    def shown(self) -> str:
        """What the rule does, in a few words: its transform, else its label, else its expression."""
        return self.transform or self.label or self.expression

    def describe(self) -> str:
        return f"{self.table}.{self.column} -> {self.shown()}"


@dataclass
class DumpOptions:
    """What to leave out or rewrite while dumping. Everything is applied in the SELECT on the server."""

    #: Tables whose structure is dumped but not their rows.
    exclude_tables: tuple[str, ...] = ()
    #: Per table, an SQL condition rows must meet to be dumped.
    where: Mapping[str, str] = field(default_factory=dict)
    #: Per table, keep only the newest N rows: (ordering column, N), as ``ORDER BY col DESC LIMIT N`` with the
    #: primary key (or every column) breaking ties, highest first.
    keep_newest: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    #: Column rewrites; see :class:`SanitizeRule`.
    sanitize: tuple[SanitizeRule, ...] = ()
    #: Stored routines (MySQL): dumped unless turned off; without them, the views and triggers that call
    #: them are left out too (and named), so that the dump loads.
    routines: bool = True
    #: Events (MySQL): scheduled jobs, dumped only on request (a copy would run them); left out with a
    #: warning naming them otherwise.
    events: bool = False
    #: ``native`` lets an engine ship its own format (SQLite: the database file); ``sql`` asks for a script.
    format: Literal["native", "sql"] = "native"
    #: Keep owners and grants (PostgreSQL).
    owners: bool = False
    #: Leave out objects of kinds the engine cannot carry, and everything that depends on them, instead of
    #: refusing to dump (``--skip-unsupported``); the engine names what it left out, so a dump never fails
    #: to load.
    skip_unsupported: bool = False
    #: Keep credentials stored in the database's schema (PostgreSQL user mapping passwords), left out by
    #: default (``--secrets``).
    secrets: bool = False
    #: Free-form settings for third-party engines.
    extra: dict[str, Any] = field(default_factory=dict)
    #: Tables whose rows the framework's smart transfer leaves out (Neos thumbnails, event log), dumped
    #: like ``exclude_tables`` by default; ``serve --all`` dumps their rows again. See :meth:`effective`.
    smart_exclude_tables: tuple[str, ...] = ()
    #: Row filters of the smart transfer (resources only thumbnails use), dropped by ``serve --all``.
    smart_where: Mapping[str, str] = field(default_factory=dict)
    #: Strict sanitising (``.synco.yml`` ``sanitize: {strict: true}``): refuse to dump while a table or
    #: column exists that the rules neither keep nor mask.
    strict: bool = False
    #: Strict mode: ``table`` or ``table.column`` names the user declared safe to ship unchanged.
    keep: tuple[str, ...] = ()

    def effective(self, *, all: bool = False) -> DumpOptions:
        """These options with the smart transfer applied (default) or dropped (``all``, i.e. ``--all``).

        The result has the smart tables merged into ``exclude_tables`` and the smart filters into
        ``where`` (an explicit ``where`` for the same table wins), and empty ``smart_*`` fields.
        """
        if all:
            return dataclasses.replace(self, smart_exclude_tables=(), smart_where={})
        excluded = self.exclude_tables + tuple(t for t in self.smart_exclude_tables if t not in self.exclude_tables)
        return dataclasses.replace(
            self,
            exclude_tables=excluded,
            where={**dict(self.smart_where), **dict(self.where)},
            smart_exclude_tables=(),
            smart_where={},
        )


@dataclass
class TableManifest:
    """What was dumped for one table, so the destination can verify after loading."""

    rows: int
    #: Engine-specific checksum of the dumped rows (hex), or None when the engine computes none.
    checksum: str | None = None


@dataclass
class DumpRequirements:
    """What loading a dump needs of the destination's server, recorded by the source while dumping (the meta's
    ``requires``) and checked by ``check_dump_requirements`` before a byte of the dump is downloaded.

    Each field is empty (or None) when the engine does not know or the dump needs nothing of that kind.
    """

    #: The source server's version (``10.11.6-MariaDB``, ``16.4``).
    server_version: str = ""
    #: MySQL/MariaDB storage engines of the dumped tables (``InnoDB``, ``ROCKSDB``), as the source names them.
    engines: list[str] = field(default_factory=list)
    #: PostgreSQL extensions the dump creates, by name, with the source's version.
    extensions: dict[str, str] = field(default_factory=dict)
    #: Collations the dumped tables and columns name (MySQL), or the server-provided collations their columns
    #: use (PostgreSQL: those of ``pg_catalog``, which the dump does not create).
    collations: list[str] = field(default_factory=list)
    #: The longest statement the load must send to the server whole, in bytes: one row's ``INSERT`` (synco's
    #: MySQL loader cuts a multi-row ``INSERT`` between its rows); None when the engine does not count it.
    max_statement_bytes: int | None = None

    def __bool__(self) -> bool:
        return bool(self.server_version or self.engines or self.extensions or self.collations
                    or self.max_statement_bytes)


@dataclass
class DumpResult:
    """What ``dump_database`` wrote."""

    #: The engine name that wrote the dump (``mysql``, ``postgresql``, ``sqlite``).
    engine: str
    #: The wire-format type of the file set (``MysqlDump``, ``PostgresDump``, ``SqliteDump``).
    wire_type: str
    #: ``sql`` for a script, ``sqlite`` for a database file, or an engine's own name.
    format: str
    server_version: str = ""
    tables: dict[str, TableManifest] = field(default_factory=dict)
    #: What was filtered and rewritten, in words, for the receiver to print.
    applied_rules: list[str] = field(default_factory=list)
    #: What loading the dump needs of the destination's server (the meta's ``requires``); None: not recorded.
    requirements: DumpRequirements | None = None


@dataclass
class ValueRewriter:
    """A rewrite of the string values of a dump that the engines apply while loading it (``value_rewriter``).

    WordPress stores its own URL in the database, PHP-serialized strings and JSON included; a copy loaded as it
    is sends the browser back to production. A plugin returns one of these from ``value_rewriter`` and the
    engine applies it to every string value it loads, inside the atomic install: no second pass over the
    database, nothing changed if the load fails.

    Only a value that contains one of ``needles`` is passed to ``rewrite``, and the engines search a whole
    statement (MySQL) or block of rows (PostgreSQL's COPY) for them before looking at its values, so a load
    without a match costs one byte search per statement.
    """

    #: A value is rewritten only when it contains one of these (bytes, as the dump holds them: UTF-8 text).
    needles: tuple[bytes, ...]
    #: The new value for one string value that contains a needle (return it unchanged when nothing applies).
    rewrite: Callable[[bytes], bytes]
    #: What it does, in words, for the install's report (``https://example.com -> http://localhost:8080``).
    description: str = ""


@dataclass
class InstallOptions:
    """How to load a dump into the local database."""

    #: The dump format as recorded by the source (``sql`` or ``sqlite``).
    format: str = "sql"
    #: Per table manifest from the source; the installer verifies row counts (and checksums) against it.
    manifest: Mapping[str, TableManifest] = field(default_factory=dict)
    #: Replace without asking.
    yes: bool = False
    #: Allow a target that is not on this machine.
    force_remote_target: bool = False
    #: Hosts that count as local besides loopback (docker-compose services named in ``.synco.yml``).
    local_hosts: tuple[str, ...] = ()
    #: Asks the user; returns True to go on. None means "no terminal": refuse unless ``yes``.
    confirm: Callable[[str], bool] | None = None
    #: ``rollback_database`` only: drop what the rollback replaces instead of keeping it for another
    #: rollback. The undo of a failed install sets it: the content it takes out was never wanted, and kept
    #: it would be what the next ``synco db rollback`` puts in.
    discard_replaced: bool = False
    #: ``rollback_database`` only: the install being undone created the target (there was no database of
    #: that name before it). With no kept copy, putting back then means dropping the target, instead of
    #: refusing with "nothing to roll back" and leaving a database nobody had.
    drop_created: bool = False
    #: ``install_database`` only: rewrite string values while loading (the plugins' ``value_rewriter``
    #: answers, joined); an engine that cannot apply it must refuse before changing anything.
    rewriter: ValueRewriter | None = None
    #: End the other sessions on the target where the swap needs it to themselves (PostgreSQL); False
    #: (``--no-terminate``): wait for them to leave, a bounded time, then refuse in one line naming them.
    terminate_sessions: bool = True
    #: ``install_database`` only: called (when set) once the loaded scratch copy is verified, just before the
    #: swap changes the target or its kept copy. The project's install journal notes there that the step may
    #: have replaced something: a kill before it leaves the target and the last install's kept copy as they
    #: were, whatever the engine had loaded or already cleaned up.
    before_swap: Callable[[], None] | None = None
    #: ``rollback_database`` only: finish or undo what an interrupted install or rollback left (a scratch
    #: copy, a swap cut short), and put nothing back: the recovery of an install killed before its swap.
    repair_only: bool = False


@dataclass
class InstallResult:
    """What ``install_database`` did."""

    engine: str
    database: str
    tables: int = 0
    rows: int = 0
    #: Where the previous content was kept for ``synco db rollback`` (a database, schema or file name).
    backup: str | None = None
    #: A sentence for the user when the engine did something else than asked: a rollback that found an
    #: install (or rollback) interrupted by a crash undoes that one instead, and says so here.
    note: str = ""
    #: How many string values ``InstallOptions.rewriter`` changed; None when the engine did not apply one.
    rewritten_values: int | None = None
    #: The engine replaced the database's content inside it, keeping no copy (a user who may not create the
    #: scratch database): there is nothing for a rollback to put back, and no backup does not mean that the
    #: install created the database.
    replaced_in_place: bool = False


@dataclass(frozen=True)
class PublicFile:
    """One entry of a public files index: a file the application already serves publicly."""

    #: Destination path relative to the file set's base (forward slashes, no ``..``).
    path: str
    size: int
    mtime: int
    #: Relative to the session's base URL, or a full ``http(s)://`` URL when ``is_absolute_url``.
    uri: str
    is_absolute_url: bool = False
    #: Content hash where the storage layout gives one for free (Flow resources carry their SHA-1).
    sha1: str | None = None
    #: The file on the source's disk that the URI serves, when the plugin knows it: serve then hashes it
    #: (SHA-256, for the receiver to check) and may pack it with other small files. None: served by URI only
    #: (a bucket, a CDN without a local copy); the receiver can then only check the size. A source below
    #: the set's ``root`` is read below it with no link followed: one reached through a link gets no hash.
    source: str | None = None


@dataclass
class FileSet:
    """A set of files ``serve`` publishes: either public (an index of URLs) or private (packed, encrypted).

    For a public set, ``entries`` yields the index entries; when it is None the core walks ``root`` and
    builds URLs as ``url_prefix + relative path``. For a private set, ``root`` is the folder to pack.
    """

    name: str
    kind: Literal["public", "private"]
    #: Folder on the source that holds the files.
    root: Path | None = None
    #: Where the files belong relative to the project directory (``storage/app/public``), used on install.
    relative_base_path: str = ""
    #: Public sets: URL path of ``root`` relative to the web root (``storage/``), when ``entries`` is None.
    url_prefix: str = ""
    #: Public sets: a generator of index entries, for layouts the core cannot guess (Flow, S3).
    entries: Callable[[], Iterator[PublicFile]] | None = None
    #: Glob patterns (relative to ``root``, ``**`` allowed) of files never transferred. What they match on the
    #: laptop is the laptop's own (a local cache, a developer's files, a local database): ``receive --delete``
    #: and install keep it, as ``rsync --delete --exclude`` does, unless ``--delete-excluded``.
    exclude: tuple[str, ...] = ()
    #: Glob patterns of files never transferred because the framework makes them again from the originals
    #: (image styles, thumbnails, aggregated CSS): they go stale when an original changes, so the laptop's
    #: copies are removed by install and ``--delete`` like any file the server does not list.
    regenerated: tuple[str, ...] = ()
    #: Public sets: also list files and folders whose name starts with a dot. Left out by default: they
    #: are not uploaded content (``.gitignore``, ``.htaccess``), and web servers refuse to serve them
    #: (Laravel's recommended nginx rule answers 403), which would leave the set incomplete.
    dotfiles: bool = False
    #: Excluded by the framework's smart defaults; ``serve --all`` includes it again.
    smart_skip: bool = False
    #: Why the set cannot be transferred (shown by ``detect``); a skipped set is never published.
    skipped_reason: str | None = None
    description: str = ""

    @property
    def left_out(self) -> tuple[str, ...]:
        """Every pattern serve leaves out of the set: ``exclude`` and ``regenerated``."""
        return (*self.exclude, *self.regenerated)


@dataclass
class Framework:
    """What a framework plugin found in a project directory."""

    #: Display name, as written to ``meta.json`` (``Neos/Flow``, ``Laravel``, ``Symfony``).
    name: str
    #: Short name of the plugin that detected it (``neos``): its entry-point name. ``--framework`` matches this,
    #: ``name``, or the entry-point name of the plugin that answered.
    plugin: str
    project_dir: Path
    database: DatabaseConfig | None = None
    #: The folder the web server serves (``Web``, ``public``); serve publishes sessions under it.
    web_root: Path | None = None
    #: Path prefixes the public site is likely reached under, for receive's host search (``/_Resources``).
    public_prefixes: tuple[str, ...] = ()
    #: Why the plugin thinks this is its framework, for ``detect`` and for ambiguity messages.
    reason: str = ""
    #: Dump settings the framework wants by default (smart transfer, sanitising profile).
    dump_options: DumpOptions = field(default_factory=DumpOptions)
    #: Commands to run in the project after an install (``./flow resource:publish``).
    post_install: list[list[str]] = field(default_factory=list)
    #: Variables the post-install commands get over synco's own environment: what the project's entry point
    #: would load and the commands themselves do not (Django's ``.env`` read by python-dotenv in ``wsgi.py``,
    #: the settings module synco found, Rails' environment), so that they see the database synco installed
    #: into. Never shown (values may hold passwords); synco's own secrets are never passed on.
    post_install_env: dict[str, str] = field(default_factory=dict)
    #: 1 = explicit configuration, 0 = guessed, -1 = a fallback. Higher wins when several plugins match; a value
    #: outside -1..1 is counted as the nearest end (see :func:`synco_core.detection.detect_candidates`).
    priority: int = 0
    #: Plugin-specific data passed back to its own ``list_file_sets`` / ``install_files``.
    settings: dict[str, Any] = field(default_factory=dict)
    #: Where the settings were read from (``php``, ``files``), shown under ``--debug`` and by ``detect``.
    config_source: str = ""
    #: The site's public URL, at which ``web_root`` is served (Laravel's ``APP_URL``, Flow's ``baseUri``,
    #: Symfony's router context, ``hosts:`` in ``.synco.yml``): ``serve`` puts it into the receive command
    #: it prints as ``--base-url``. None when the application does not say.
    base_url: str | None = None
    #: Where ``base_url`` was read from (``APP_URL in .env``), for the message that shows it.
    base_url_source: str = ""
    #: The URL the site is reached at, when known: what the plugin read (WordPress's ``WP_HOME``) or, on the
    #: destination, ``--site-url``, which wins. Plugins that rewrite the source's URLs on install use it.
    site_url: str | None = None
    #: The project's other databases by name, besides ``database`` (Django's aliases besides ``default``,
    #: Rails' databases besides ``primary``): listed by ``detect``, dumped only when ``serve --only
    #: dbDump-<name>`` asks for one, and installed into the local project's database of the same name.
    #: Names hold letters, digits, ``_``, ``.`` and inner ``-``; list others in ``settings["connections"]``.
    databases: dict[str, DatabaseConfig] = field(default_factory=dict)


@dataclass(frozen=True)
class ReceivedFileSet:
    """A file set as the destination knows it after downloading it."""

    name: str
    kind: Literal["public", "private"]
    relative_base_path: str = ""


@dataclass
class FileSetOptions:
    """How ``serve`` asks for file sets."""

    #: ``--all``: turn off the framework's smart filters (thumbnails, caches, event logs).
    all: bool = False
    #: ``--only``: the names of the sets wanted (empty means all).
    only: tuple[str, ...] = ()


@dataclass
class FilesInstallResult:
    """What ``install_files`` did."""

    #: Where the files now are.
    destination: Path
    files: int = 0
    #: Where the previous content was moved, for rollback, if anything was replaced.
    backup: Path | None = None
    #: Folders (relative to ``destination``) carried over from the previous content (``install_tree``'s
    #: ``keep``): a rollback carries them back, or they would vanish with the replaced folder.
    kept: tuple[str, ...] = ()


@dataclass
class TableInfo:
    """One table as ``inspect_database`` sees it (for ``--plan`` and strict sanitising)."""

    name: str
    columns: list[str]
    #: The engine's cheap estimate (statistics), not a COUNT(*).
    rows_estimate: int = 0
    size_bytes: int = 0
    #: ``table`` or ``view`` (views have no rows to dump).
    kind: str = "table"


@dataclass
class DatabaseInventory:
    """What ``inspect_database`` returns."""

    engine: str
    server_version: str
    tables: list[TableInfo] = field(default_factory=list)
    #: The engine finds a table whatever the case of its name: SQLite always, MySQL/MariaDB with
    #: ``lower_case_table_names`` set (Windows, macOS and some hosted servers, which store ``WP_users`` as
    #: ``wp_users``). Rules are matched to the inventory's tables the same way.
    tables_ignore_case: bool = False
    #: The same for column names: MySQL/MariaDB and SQLite always ignore their case.
    columns_ignore_case: bool = False
    #: What a dump of the database would need of the loading server, as far as it is known before dumping
    #: (not the longest statement): ``pull --install`` checks it before the remote side dumps anything.
    requirements: DumpRequirements | None = None


class DatabaseReader(abc.ABC):
    """A connection an engine opened for a plugin reading rows of its own tables (``connect_database``).

    Use it as a context manager, or call :meth:`close`. Write queries with :attr:`placeholder` for the
    parameters, since drivers differ (``%s`` for MySQL and PostgreSQL, ``?`` for SQLite)::

        with connect_with_engine(database) as reader:
            sql = f"SELECT sha1, filename FROM resources WHERE collection = {reader.placeholder}"
            for sha1, filename in reader.rows(sql, ("persistent",)):
                ...
    """

    #: The parameter placeholder of the engine's driver.
    placeholder: str = "%s"

    @abc.abstractmethod
    def rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """The rows of one query as tuples, fetched in batches as they are read (never all at once).

        Raises :class:`~synco_core.DatabaseError` with a one-line reason when the query fails.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection (a second call does nothing)."""

    def __enter__(self) -> DatabaseReader:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
