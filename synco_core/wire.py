"""The session wire format: ``meta.json.enc`` and the public files index, as typed classes.

The JSON names are those of Go synco v2 (``state``, ``frameworkName``, ``fileSets``, ``mysqlDump`` ...), so a
session published by the Go tool reads back here and one published here can be read by the Go tool as far
as its types go. Everything this implementation adds (``compression``, ``sha256``, ``engine``, the table
manifest ...) is an extra key that the Go reader ignores; in the same way every reader here ignores keys it
does not know. An addition an older reader must not ignore comes with a value it refuses (``indexFormat`` 3
for ``leftOutCount``), and a value this reader does not know where it must is a :class:`NewerFormatError`.

Sizes follow Go synco: ``sizeBytes`` counts the plaintext (the bytes before encryption, and before
compression when there is any), which is what a user wants to see in a file set chooser. The size of the
encrypted file, needed to verify and resume a download, is the addition ``encryptedSizeBytes``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from synco_core import hostilejson
from synco_core.errors import ConfigError, TransferError, UnsafePathError
from synco_core.globs import ExcludeMatcher
from synco_core.goindex import rebase_absolute_keys
from synco_core.names import MAX_SET_NAME, PLAIN_RELATIVE_PATH, safe_name, safe_relative_path
from synco_core.values import DumpRequirements, TableManifest

#: The name of the encrypted meta file inside a session folder.
META_FILE = "meta.json.enc"
#: Session folders are named ``synco-<id>`` in the web root.
SESSION_PREFIX = "synco-"

State = Literal["Created", "Initializing", "Ready"]
STATES: tuple[State, ...] = ("Created", "Initializing", "Ready")

#: Wire type -> the JSON key holding its details. ``SqliteDump`` is this implementation's addition.
DUMP_TYPES: dict[str, str] = {
    "MysqlDump": "mysqlDump",
    "PostgresDump": "postgresDump",
    "SqliteDump": "sqliteDump",
}
PUBLIC_FILES = "PublicFiles"
PRIVATE_FILES = "PrivateEncryptedFiles"
#: Every wire type this reader understands, with its detail key.
DETAIL_KEYS: dict[str, str] = {**DUMP_TYPES, PUBLIC_FILES: "publicFiles", PRIVATE_FILES: "privateEncryptedFiles"}


class WireFormatError(TransferError):
    """A meta file or index that decrypted fine but does not have the expected shape."""


class NewerFormatError(WireFormatError):
    """A value a newer synco may write where this reader must understand it (a compression, an index format,
    a state, a file set type): the words name this synco's version and the upgrade, not damage."""

    def __init__(self, what: str) -> None:
        from synco_core import __version__

        super().__init__(f"{what}, which this synco ({__version__}) does not know: the session needs a newer "
                         "synco here; upgrade synco on this machine")


#: The additions this reader understands among those a writer names in a ``mustUnderstand`` list (of the meta
#: or of a file set): what a reader must not ignore, as ignoring it could cost the laptop's files (a reader
#: that took ``leftOutCount``'s left-out files for deleted ones removed their copies under ``--delete``). A
#: name missing here is a newer writer's: the meta, or that set, is refused, never read without it.
UNDERSTOOD = frozenset({"leftOutCount", "unavailable"})


def _not_understood(data: Mapping[str, Any], where: str) -> list[str]:
    """The names of ``data``'s ``mustUnderstand`` this reader does not know."""
    return sorted(set(_strings(data, "mustUnderstand", where)) - UNDERSTOOD)


def unsupported_type_message(wire_type: str) -> str:
    """Why a file set of a type this reader does not know is left out (a newer writer's type)."""
    return str(NewerFormatError(f"file set type {wire_type!r}"))


def _get(data: Mapping[str, Any], key: str, kind: type, where: str, default: Any = None, required: bool = False) -> Any:
    """``data[key]`` checked against ``kind``; a wrong type is a one-line :class:`WireFormatError`."""
    value = data.get(key)
    if value is None:
        if required:
            raise WireFormatError(f"malformed {where}: {key!r} is missing")
        return default
    # JSON numbers may come as floats from other writers; whole floats are accepted as integers.
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if kind is int and isinstance(value, bool):
        raise WireFormatError(f"malformed {where}: {key!r} should be a number")
    if not isinstance(value, kind):
        raise WireFormatError(f"malformed {where}: {key!r} should be {kind.__name__}, not {type(value).__name__}")
    return value


def _strings(data: Mapping[str, Any], key: str, where: str) -> list[str]:
    """``data[key]`` as a list of strings (empty when absent)."""
    values = _get(data, key, list, where, [])
    if not all(isinstance(value, str) for value in values):
        raise WireFormatError(f"malformed {where}: {key!r} should be a list of strings")
    return list(values)


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without the additions that are unset, so Go-style sessions stay byte-for-byte small."""
    return {k: v for k, v in data.items() if v is not None and v != [] and v != {}}


def _check_compression(value: str | None, where: str) -> str | None:
    if value not in (None, "zstd"):
        raise NewerFormatError(f"{where} is compressed with {value!r}")
    return value


@dataclass
class DumpInfo:
    """A database dump artifact (``mysqlDump``, ``postgresDump``, ``sqliteDump``)."""

    file_name: str
    #: Plaintext size (decompressed), as Go synco counts it.
    size_bytes: int
    # --- additions of this implementation; None / empty when the writer (Go synco) did not record them.
    compression: str | None = None
    #: SHA-256 (hex) of the plaintext dump.
    sha256: str | None = None
    encrypted_size_bytes: int | None = None
    engine: str | None = None
    server_version: str | None = None
    #: ``sql`` for a script, ``sqlite`` for a database file.
    format: str | None = None
    #: The filter and sanitize rules applied on the source, in words.
    sanitize_rules: list[str] = field(default_factory=list)
    tables: dict[str, TableManifest] = field(default_factory=dict)
    #: False when the source ran ``serve --no-sanitize`` (column rewrites dropped: raw personal data);
    #: True when the sanitising rules were applied; None when the writer did not say (Go synco).
    sanitized: bool | None = None
    #: True when the source checked the schema in strict mode (every column masked or declared safe).
    strict: bool | None = None
    #: What the source's plugins published for the destination's (``source_settings``), by plugin name.
    source_settings: dict[str, dict[str, str]] = field(default_factory=dict)
    #: ``requires``: what loading the dump needs of the destination's server (checked before the download);
    #: None when the writer did not record it (Go synco, synco before it): nothing is checked then.
    requires: DumpRequirements | None = None

    def to_json(self) -> dict[str, Any]:
        return _compact({
            "fileName": self.file_name,
            "sizeBytes": self.size_bytes,
            "compression": self.compression,
            "sha256": self.sha256,
            "encryptedSizeBytes": self.encrypted_size_bytes,
            "engine": self.engine,
            "serverVersion": self.server_version,
            "format": self.format,
            "sanitizeRules": list(self.sanitize_rules),
            "tables": {name: _compact({"rows": t.rows, "checksum": t.checksum}) for name, t in self.tables.items()},
            "sanitized": self.sanitized,
            "strict": self.strict,
            "sourceSettings": {name: dict(values) for name, values in self.source_settings.items()},
            "requires": requirements_to_json(self.requires) if self.requires is not None else None,
        })

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> DumpInfo:
        tables_raw = _get(data, "tables", dict, where, {})
        tables: dict[str, TableManifest] = {}
        for name, entry in tables_raw.items():
            if not isinstance(entry, dict):
                raise WireFormatError(f"malformed {where}: table {name!r} should be an object")
            tables[str(name)] = TableManifest(
                rows=_get(entry, "rows", int, where, 0), checksum=_get(entry, "checksum", str, where)
            )
        rules = _get(data, "sanitizeRules", list, where, [])
        file_name = _get(data, "fileName", str, where, required=True)
        _check_file_name(file_name, where)
        fmt = _get(data, "format", str, where)
        if fmt is not None:
            # The format may become the extension of the local dump (a third-party engine's own format).
            _checked(fmt, "dump format", where, max_length=32)
        return cls(
            file_name=file_name,
            size_bytes=_get(data, "sizeBytes", int, where, 0),
            compression=_check_compression(_get(data, "compression", str, where), where),
            sha256=_get(data, "sha256", str, where),
            encrypted_size_bytes=_get(data, "encryptedSizeBytes", int, where),
            engine=_get(data, "engine", str, where),
            server_version=_get(data, "serverVersion", str, where),
            format=fmt,
            sanitize_rules=[str(rule) for rule in rules],
            tables=tables,
            sanitized=_get(data, "sanitized", bool, where),
            strict=_get(data, "strict", bool, where),
            source_settings=_source_settings(_get(data, "sourceSettings", dict, where, {}), where),
            requires=requirements_from_json(_get(data, "requires", dict, where), where),
        )


#: The most names a ``requires`` list holds, and the longest name (a hostile meta stays small in memory).
MAX_REQUIRED_NAMES = 1000
MAX_REQUIRED_NAME = 200


def requirements_to_json(requires: DumpRequirements) -> dict[str, Any]:
    return _compact({
        "serverVersion": requires.server_version or None,
        "engines": list(requires.engines),
        "extensions": dict(requires.extensions),
        "collations": list(requires.collations),
        "maxStatementBytes": requires.max_statement_bytes,
    })


def _required_name(value: object, what: str, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_REQUIRED_NAME or not value.isprintable():
        raise WireFormatError(f"malformed {where}: requires.{what} should hold short names")
    return value


def requirements_from_json(data: Mapping[str, Any] | None, where: str) -> DumpRequirements | None:
    """``requires`` of a dump (None when absent: nothing is checked, as for Go synco's sessions)."""
    if data is None:
        return None
    engines = _get(data, "engines", list, where, [])
    extensions = _get(data, "extensions", dict, where, {})
    collations = _get(data, "collations", list, where, [])
    if max(len(engines), len(extensions), len(collations)) > MAX_REQUIRED_NAMES:
        raise WireFormatError(f"malformed {where}: requires lists more than {MAX_REQUIRED_NAMES} names")
    size = _get(data, "maxStatementBytes", int, where)
    if size is not None and (isinstance(size, bool) or size < 0):
        raise WireFormatError(f"malformed {where}: requires.maxStatementBytes should be a size")
    version = _get(data, "serverVersion", str, where, "")
    return DumpRequirements(
        server_version=_required_name(version, "serverVersion", where) if version else "",
        engines=[_required_name(name, "engines", where) for name in engines],
        extensions={_required_name(name, "extensions", where): _required_name(value, "extensions", where)
                    for name, value in extensions.items()},
        collations=[_required_name(name, "collations", where) for name in collations],
        max_statement_bytes=size,
    )


def _source_settings(raw: Mapping[str, Any], where: str) -> dict[str, dict[str, str]]:
    """``sourceSettings``: plugin name -> {name: text}."""
    settings: dict[str, dict[str, str]] = {}
    for plugin, values in raw.items():
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise WireFormatError(f"malformed {where}: sourceSettings of {plugin!r} should map names to strings")
        settings[str(plugin)] = {str(k): v for k, v in values.items()}
    return settings


#: ``indexFormat`` of an index written one entry per line, in index order (see docs/wire-format.md).
INDEX_FORMAT_LINES = 2
#: ``indexFormat`` of a set serve left files out of (``leftOutCount``): the layout of
#: :data:`INDEX_FORMAT_LINES` under a number the receivers from before ``leftOutCount`` refuse, since they
#: would take those files for files gone from the server and ``receive --delete`` would remove their copies.
INDEX_FORMAT_LEFT_OUT = 3
#: The index formats written one entry per line.
LINE_FORMATS = (INDEX_FORMAT_LINES, INDEX_FORMAT_LEFT_OUT)


@dataclass
class PublicFilesInfo:
    """A public file set: an encrypted index of files fetched from their public URLs."""

    index_file_name: str
    #: Total size of the files the index lists.
    size_bytes: int
    # --- additions
    #: Compression of the index itself.
    compression: str | None = None
    file_count: int | None = None
    encrypted_size_bytes: int | None = None
    relative_base_path: str | None = None
    #: 2: one entry per line, in index order, streamable; None: a JSON object of any layout (Go synco v2).
    index_format: int | None = None
    #: Size of the index's plaintext (after decompression).
    index_size_bytes: int | None = None
    #: The pack table artifact (``Resources-<set>.packs.json.enc``) when small files were packed.
    packs_file_name: str | None = None
    packs_size_bytes: int | None = None
    packs_encrypted_size_bytes: int | None = None
    pack_count: int | None = None
    #: Files in packs, and their total size (they are also in ``fileCount`` and ``sizeBytes``).
    packed_file_count: int | None = None
    packed_size_bytes: int | None = None
    #: Origins (``https://cdn.example.com``) of the absolute URLs the index names: the only hosts besides the
    #: session's own that receive fetches from.
    url_origins: list[str] = field(default_factory=list)
    #: SHA-256 of the index's plaintext (after decompression): a receiver checks the index against it, and
    #: one that received this very index before (the same session, or a new one of an unchanged set) only
    #: has to check its own files.
    index_sha256: str | None = None
    #: SHA-256 of the pack table's plaintext: binds the table to this set (every artifact is encrypted to the
    #: same key, so another set's table, served in its place, decrypts). None: a session from before it.
    packs_sha256: str | None = None
    #: Files and folders serve found in the set's folder and left out (unreadable folders, links leading out
    #: of the set, names a receiver could not write); serve's output names them. None: none, or a writer
    #: that does not count them (Go synco v2).
    left_out_count: int | None = None
    #: Patterns serve left out of the set (:mod:`synco_core.globs`) whose matches on the laptop are the
    #: laptop's own: ``receive --delete`` and install keep them unless ``--delete-excluded``. Empty: none, or a
    #: writer that does not say (Go synco v2), where every file the index does not list is taken for gone.
    exclude: list[str] = field(default_factory=list)
    #: Patterns serve left out because the framework makes those files again from the originals: their
    #: copies on the laptop are stale, and removed as any file the index does not list. For the record only.
    exclude_regenerated: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return _compact({
            "indexFileName": self.index_file_name,
            "sizeBytes": self.size_bytes,
            "compression": self.compression,
            "fileCount": self.file_count,
            "encryptedSizeBytes": self.encrypted_size_bytes,
            "relativeBasePath": self.relative_base_path,
            "indexFormat": self.index_format,
            "indexSizeBytes": self.index_size_bytes,
            "packsFileName": self.packs_file_name,
            "packsSizeBytes": self.packs_size_bytes,
            "packsEncryptedSizeBytes": self.packs_encrypted_size_bytes,
            "packCount": self.pack_count,
            "packedFileCount": self.packed_file_count,
            "packedSizeBytes": self.packed_size_bytes,
            "urlOrigins": list(self.url_origins),
            "indexSha256": self.index_sha256,
            "packsSha256": self.packs_sha256,
            "leftOutCount": self.left_out_count,
            "exclude": list(self.exclude),
            "excludeRegenerated": list(self.exclude_regenerated),
        })

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> PublicFilesInfo:
        name = _get(data, "indexFileName", str, where, required=True)
        _check_file_name(name, where)
        packs = _get(data, "packsFileName", str, where)
        if packs is not None:
            _check_file_name(packs, where)
        return cls(
            index_file_name=name,
            size_bytes=_get(data, "sizeBytes", int, where, 0),
            compression=_check_compression(_get(data, "compression", str, where), where),
            file_count=_get(data, "fileCount", int, where),
            encrypted_size_bytes=_get(data, "encryptedSizeBytes", int, where),
            relative_base_path=_get(data, "relativeBasePath", str, where),
            index_format=_get(data, "indexFormat", int, where),
            index_size_bytes=_get(data, "indexSizeBytes", int, where),
            packs_file_name=packs,
            packs_size_bytes=_get(data, "packsSizeBytes", int, where),
            packs_encrypted_size_bytes=_get(data, "packsEncryptedSizeBytes", int, where),
            pack_count=_get(data, "packCount", int, where),
            packed_file_count=_get(data, "packedFileCount", int, where),
            packed_size_bytes=_get(data, "packedSizeBytes", int, where),
            url_origins=_strings(data, "urlOrigins", where),
            index_sha256=_hex_digest(_get(data, "indexSha256", str, where), 64, "indexSha256", where),
            packs_sha256=_hex_digest(_get(data, "packsSha256", str, where), 64, "packsSha256", where),
            left_out_count=_count(data, "leftOutCount", where),
            exclude=_patterns(data, "exclude", where),
            exclude_regenerated=_patterns(data, "excludeRegenerated", where),
        )


@dataclass
class PrivateFilesInfo:
    """A private file set: a tar of a folder, compressed (optionally) and encrypted."""

    tar_uri: str
    #: Plaintext tar size.
    size_bytes: int
    relative_base_path: str = ""
    # --- additions
    compression: str | None = None
    sha256: str | None = None
    encrypted_size_bytes: int | None = None
    file_count: int | None = None
    #: As :attr:`PublicFilesInfo.left_out_count`.
    left_out_count: int | None = None
    #: As :attr:`PublicFilesInfo.exclude` and :attr:`PublicFilesInfo.exclude_regenerated`.
    exclude: list[str] = field(default_factory=list)
    exclude_regenerated: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = _compact({
            "tarUri": self.tar_uri,
            "sizeBytes": self.size_bytes,
            "compression": self.compression,
            "sha256": self.sha256,
            "encryptedSizeBytes": self.encrypted_size_bytes,
            "fileCount": self.file_count,
            "leftOutCount": self.left_out_count,
            "exclude": list(self.exclude),
            "excludeRegenerated": list(self.exclude_regenerated),
        })
        # Go synco always writes relativeBasePath, even when empty.
        data["relativeBasePath"] = self.relative_base_path
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> PrivateFilesInfo:
        uri = _get(data, "tarUri", str, where, required=True)
        _check_file_name(uri, where)
        return cls(
            tar_uri=uri,
            size_bytes=_get(data, "sizeBytes", int, where, 0),
            relative_base_path=_get(data, "relativeBasePath", str, where, ""),
            compression=_check_compression(_get(data, "compression", str, where), where),
            sha256=_get(data, "sha256", str, where),
            encrypted_size_bytes=_get(data, "encryptedSizeBytes", int, where),
            file_count=_get(data, "fileCount", int, where),
            left_out_count=_count(data, "leftOutCount", where),
            exclude=_patterns(data, "exclude", where),
            exclude_regenerated=_patterns(data, "excludeRegenerated", where),
        )


#: The longest ``unavailable`` reason kept, in characters: serve's names one folder (a path of up to 4,096
#: bytes), while a hostile meta's could be megabytes, shown in every line that names the set.
MAX_UNAVAILABLE_CHARS = 600


def shortened_reason(text: str) -> str:
    """``text`` within :data:`MAX_UNAVAILABLE_CHARS`, cut with an ellipsis where it was longer."""
    return text if len(text) <= MAX_UNAVAILABLE_CHARS else text[:MAX_UNAVAILABLE_CHARS - 3] + "..."


#: The most exclude patterns a set may name, and the longest pattern: what a real set names is a few dozen
#: short patterns, and the matcher's work on a path grows with their total length.
MAX_PATTERNS = 1000
MAX_PATTERN_LENGTH = 1024


def _patterns(data: Mapping[str, Any], key: str, where: str) -> list[str]:
    """A list of exclude patterns; too many or too long ones make the meta malformed (nothing is removed)."""
    values = _strings(data, key, where)
    if len(values) > MAX_PATTERNS or any(len(value) > MAX_PATTERN_LENGTH for value in values):
        raise WireFormatError(f"malformed {where}: {key!r} holds more than {MAX_PATTERNS} patterns or one longer "
                              f"than {MAX_PATTERN_LENGTH} characters")
    try:
        # A pattern the matcher refuses could not tell which local files to keep: the meta is refused whole,
        # so nothing is received and nothing removed (serve never writes one: its own walk refuses it).
        ExcludeMatcher(values)
    except ConfigError as exc:
        raise WireFormatError(f"malformed {where}: {key!r}: {exc}") from None
    return values


def _count(data: Mapping[str, Any], key: str, where: str) -> int | None:
    """A count that may be absent; a negative one is a malformed meta."""
    value: int | None = _get(data, key, int, where)
    if value is not None and value < 0:
        raise WireFormatError(f"malformed {where}: {key!r} should not be negative")
    return value


def _checked(value: str, what: str, where: str, max_length: int = 255) -> str:
    """``value`` through the one naming rule (:func:`synco_core.names.safe_name`), the error naming ``where``."""
    try:
        return safe_name(value, what, max_length)
    except UnsafePathError as exc:
        raise WireFormatError(f"malformed {where}: {exc}") from None


def _check_file_name(name: str, where: str) -> None:
    """An artifact name must stay inside the session folder: one plain name."""
    _checked(name, "artifact name", where)


@dataclass
class WireFileSet:
    """One entry of ``fileSets``: a name, a type, and the details of that type."""

    name: str
    type: str
    dump: DumpInfo | None = None
    public: PublicFilesInfo | None = None
    private: PrivateFilesInfo | None = None
    #: ``mustUnderstand``: additions of this set a reader must know to receive it (:data:`UNDERSTOOD`).
    must_understand: tuple[str, ...] = ()
    #: Why this reader cannot receive the set, when it names additions this reader does not know.
    newer: str = ""
    #: ``unavailable``: why serve could not read the set's folder at all (missing, a link to nothing,
    #: unreadable, a share listed in fstab and not mounted). Such a set is not an empty one: a receiver
    #: neither fetches nor removes anything of it. Named in ``mustUnderstand``, and published with a
    #: ``leftOutCount`` of 1 (the folder itself), so that readers from before it refuse the set or delete
    #: nothing from it.
    unavailable: str | None = None

    def unsupported(self) -> str:
        """Why a set with no details this reader takes (a newer type, or additions it must know) is left out."""
        return self.newer or unsupported_type_message(self.type)

    @property
    def is_dump(self) -> bool:
        return self.type in DUMP_TYPES

    @property
    def size_bytes(self) -> int:
        detail = self.dump or self.public or self.private
        return detail.size_bytes if detail else 0

    @property
    def left_out_count(self) -> int:
        """Files or folders serve found in the set's folder and left out (0 for a dump, or when not counted)."""
        detail = self.public or self.private
        return (detail.left_out_count or 0) if detail is not None else 0

    @property
    def relative_base_path(self) -> str:
        if self.private:
            return self.private.relative_base_path
        if self.public:
            return self.public.relative_base_path or ""
        return ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.must_understand:
            data["mustUnderstand"] = list(self.must_understand)
        if self.unavailable is not None:
            data["unavailable"] = self.unavailable
        detail = self.dump or self.public or self.private
        if detail is not None:
            data[DETAIL_KEYS.get(self.type, self.type[:1].lower() + self.type[1:])] = detail.to_json()
        return data

    @classmethod
    def from_json(cls, data: Any) -> WireFileSet:
        if not isinstance(data, dict):
            raise WireFormatError("malformed meta: a file set should be an object")
        name = _get(data, "name", str, "meta", required=True)
        _checked(name, "file set name", "meta", max_length=MAX_SET_NAME)
        type_ = _get(data, "type", str, f"file set {name!r}", required=True)
        where = f"file set {name!r}"
        file_set = cls(name=name, type=type_)
        key = DETAIL_KEYS.get(type_)
        if key is None:
            # A type from a newer writer: kept, so the receiver can list it as "not supported" and go on.
            return file_set
        unknown = _not_understood(data, where)
        if unknown:
            # Its details are not read: a receive without what they mean could remove the laptop's files.
            file_set.newer = str(NewerFormatError(f"file set {name!r} needs {', '.join(unknown)}"))
            return file_set
        file_set.must_understand = tuple(_strings(data, "mustUnderstand", where))
        unavailable = _get(data, "unavailable", str, where)
        file_set.unavailable = shortened_reason(unavailable) if unavailable is not None else None
        detail = _get(data, key, dict, where, required=True)
        if type_ in DUMP_TYPES:
            file_set.dump = DumpInfo.from_json(detail, where)
        elif type_ == PUBLIC_FILES:
            file_set.public = PublicFilesInfo.from_json(detail, where)
        else:
            file_set.private = PrivateFilesInfo.from_json(detail, where)
        return file_set


@dataclass
class Meta:
    """The content of ``meta.json.enc``."""

    state: State = "Created"
    framework_name: str = ""
    file_sets: list[WireFileSet] = field(default_factory=list)
    # --- additions
    #: Who wrote the session (``synco-py 0.1.0``); Go synco writes nothing here.
    generator: str | None = None
    #: Unix time after which the source removes the session (None: unknown or kept).
    expires_at: int | None = None
    #: The session folder's name (``synco-<id>``) and when the session was made (Unix time): a receiver
    #: refuses a meta that names another session (a replayed one) or whose time has run out.
    session_id: str | None = None
    created_at: int | None = None
    #: True when the session holds every set of the project (serve left none out: no ``--only``, no set
    #: skipped or left out by default). Only then is a set missing from it renamed or removed on the server,
    #: and what a receive keeps for that set's use (its staging folder, its part files) litter; a session
    #: without it (``serve --only``, Go synco, an older synco) may simply not carry that set this time.
    whole_project: bool | None = None
    #: Which project the session is of (:mod:`synco_core.projectidentity`): ``id`` and ``name``.
    project: dict[str, str] | None = None

    def file_set(self, name: str) -> WireFileSet | None:
        return next((s for s in self.file_sets if s.name == name), None)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "state": self.state,
            "frameworkName": self.framework_name,
            "fileSets": [s.to_json() for s in self.file_sets],
        }
        data.update(_compact({"generator": self.generator, "sessionId": self.session_id,
                              "createdAt": self.created_at, "expiresAt": self.expires_at,
                              "wholeProject": self.whole_project, "project": self.project}))
        return data

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), indent=None, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def from_json(cls, data: Any) -> Meta:
        if not isinstance(data, dict):
            raise WireFormatError("malformed meta: not a JSON object")
        state = _get(data, "state", str, "meta", required=True)
        if state not in STATES:
            raise NewerFormatError(f"the meta's state is {state!r}")
        unknown = _not_understood(data, "meta")
        if unknown:
            raise NewerFormatError(f"the session needs {', '.join(unknown)}")
        sets_raw = _get(data, "fileSets", list, "meta", [])
        file_sets = [WireFileSet.from_json(item) for item in sets_raw]
        names = [file_set.name for file_set in file_sets]
        if len(set(names)) != len(names):
            twice = sorted({name for name in names if names.count(name) > 1})
            raise WireFormatError(f"malformed meta: more than one file set named {', '.join(twice)}")
        return cls(
            state=state,
            framework_name=_get(data, "frameworkName", str, "meta", ""),
            file_sets=file_sets,
            generator=_get(data, "generator", str, "meta"),
            expires_at=_get(data, "expiresAt", int, "meta"),
            session_id=_get(data, "sessionId", str, "meta"),
            created_at=_get(data, "createdAt", int, "meta"),
            whole_project=_get(data, "wholeProject", bool, "meta"),
            project=_project(_get(data, "project", dict, "meta")),
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> Meta:
        return cls.from_json(_loads(raw, "meta"))


#: The longest ``id`` and ``name`` of a meta's ``project`` (:mod:`synco_core.projectidentity`).
MAX_PROJECT_ID = 64
MAX_PROJECT_NAME = 200


def _project(value: dict[str, Any] | None) -> dict[str, str] | None:
    """The meta's ``project``: two short strings, ``id`` and ``name``."""
    if value is None:
        return None
    ident, name = value.get("id"), value.get("name")
    if not (isinstance(ident, str) and isinstance(name, str) and 0 < len(ident) <= MAX_PROJECT_ID
            and len(name) <= MAX_PROJECT_NAME):
        raise WireFormatError("malformed meta: 'project' should hold a short 'id' and 'name'")
    return {"id": ident, "name": name}


_HEX = frozenset("0123456789abcdef")


def _hex_digest(value: str | None, length: int, what: str, where: str) -> str | None:
    """A hex digest in lower case, or None; anything else is a malformed index."""
    if value is None:
        return None
    lowered = value.lower()
    if len(lowered) != length or not _HEX.issuperset(lowered):
        raise WireFormatError(f"malformed {where}: {what} is not a {length}-digit hex digest")
    return lowered


class PublicIndexEntry(NamedTuple):
    """One file of a public files index; the map key is its destination path relative to the set.

    A named tuple rather than a frozen dataclass: a receive makes one per file of the index (and again
    per file it fetches), and a frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``, about three times the cost (0.3 s of a re-sync of 300,000 files). The fields'
    order is the row of :class:`synco_core.index.stream.IndexWriter` and of the records receive passes
    between its processes (``(path, *entry)``): append new fields at the end.
    """

    size_bytes: int
    mtime: int
    public_uri: str
    is_absolute_url: bool = False
    #: Additions: content hashes where the source knows them for free.
    sha1: str | None = None
    #: Addition: SHA-256 (hex) of the content, checked by the receiver before the file gets its name.
    sha256: str | None = None
    #: Addition: the pack holding the file (its position in the pack table) and where in the pack's
    #: plaintext the file starts; the file is ``size_bytes`` long there.
    pack: int | None = None
    pack_offset: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "sizeBytes": self.size_bytes,
            "mTime": self.mtime,
            "publicUri": self.public_uri,
            "isAbsoluteUrl": self.is_absolute_url,
        }
        if self.sha1:
            data["sha1"] = self.sha1
        if self.sha256:
            data["sha256"] = self.sha256
        if self.pack is not None:
            data["pack"] = self.pack
            data["packOffset"] = self.pack_offset
        return data

    @property
    def absolute(self) -> bool:
        """True when ``public_uri`` is a full URL (Go synco only tells by the scheme)."""
        return self.is_absolute_url or self.public_uri.startswith(("http://", "https://"))

    @classmethod
    def from_json(cls, path: str, entry: Any) -> PublicIndexEntry:
        """The entry of ``path`` in an index, every field checked (a wrong type is a one-line error)."""
        if type(entry) is dict:
            # Indexes hold hundreds of thousands of entries: the common, well-formed one is taken directly.
            size, mtime, uri = entry.get("sizeBytes"), entry.get("mTime"), entry.get("publicUri")
            absolute, sha1, sha256 = entry.get("isAbsoluteUrl", False), entry.get("sha1"), entry.get("sha256")
            pack, offset = entry.get("pack"), entry.get("packOffset")
            if (type(size) is int and type(mtime) is int and type(uri) is str and absolute is False
                    and size >= 0 and sha1 is None
                    and (sha256 is None or (type(sha256) is str and len(sha256) == 64 and _HEX.issuperset(sha256)))
                    and ((pack is None and offset is None)
                         or (type(pack) is int and type(offset) is int and pack >= 0 and offset >= 0))):
                return cls(size, mtime, uri, False, None, sha256, pack, offset)
        if not isinstance(entry, dict):
            raise WireFormatError(f"malformed public files index: entry {path!r} should be an object")
        where = f"public files index entry {path!r}"
        uri = _get(entry, "publicUri", str, where, required=True)
        is_absolute = _get(entry, "isAbsoluteUrl", bool, where, False)
        if is_absolute and not uri.startswith(("http://", "https://")):
            raise WireFormatError(f"malformed {where}: absolute URL {uri!r} is not http(s)")
        size = _get(entry, "sizeBytes", int, where, 0)
        pack = _get(entry, "pack", int, where)
        offset = _get(entry, "packOffset", int, where)
        if size < 0 or (pack is not None and pack < 0) or (offset is not None and offset < 0):
            raise WireFormatError(f"malformed {where}: a size or offset is negative")
        if (pack is None) != (offset is None):
            raise WireFormatError(f"malformed {where}: 'pack' and 'packOffset' go together")
        return cls(
            size_bytes=size,
            mtime=_get(entry, "mTime", int, where, 0),
            public_uri=uri,
            is_absolute_url=is_absolute,
            sha1=_hex_digest(_get(entry, "sha1", str, where), 40, "sha1", where),
            sha256=_hex_digest(_get(entry, "sha256", str, where), 64, "sha256", where),
            pack=pack,
            pack_offset=offset,
        )


def index_path(path: str) -> str:
    """An index key as a normalised relative path; raises UnsafePathError (naming it) for an unsafe one."""
    return path if PLAIN_RELATIVE_PATH.fullmatch(path) else str(safe_relative_path(path))


def public_index_to_bytes(index: Mapping[str, PublicIndexEntry]) -> bytes:
    """The index as compact JSON, keys sorted so the same tree always gives the same bytes."""
    return json.dumps(
        {path: index[path].to_json() for path in sorted(index)}, separators=(",", ":")
    ).encode()


def public_index_from_bytes(raw: bytes) -> dict[str, PublicIndexEntry]:
    """Parse an index; every path is checked (no ``..``, not absolute) before anything uses it.

    Absolute keys under one root (Go synco v2's Laravel sessions) are first made relative to it
    (:mod:`synco_core.goindex`); any other absolute key makes the whole index refused.
    """
    data = _loads(raw, "public files index")
    if not isinstance(data, dict):
        raise WireFormatError("malformed public files index: not a JSON object")
    if any(key.startswith("/") for key in data):
        # Go synco v2's Laravel serve keys files by their absolute path on the server.
        data = rebase_absolute_keys(data)
    # Raises UnsafePathError, which names the path: an index that tries to escape is refused whole.
    return {index_path(path): PublicIndexEntry.from_json(path, entry) for path, entry in data.items()}


@dataclass(frozen=True)
class PackInfo:
    """One pack of small files: an age file whose payload is the files' contents, back to back.

    The payload key and offset let a receiver open chunks of the pack without its header (see
    ``synco_core.age.random_access``); they are as secret as the index that lists them.
    """

    file_name: str
    #: Plaintext size (the files' sizes added up).
    size_bytes: int
    encrypted_size_bytes: int
    #: Where the payload starts in the file: the age header plus the 16-byte nonce.
    payload_offset: int
    #: The payload key, 32 bytes.
    payload_key: bytes
    file_count: int

    def to_json(self) -> dict[str, Any]:
        return {"fileName": self.file_name, "sizeBytes": self.size_bytes,
                "encryptedSizeBytes": self.encrypted_size_bytes, "payloadOffset": self.payload_offset,
                "payloadKey": self.payload_key.hex(), "fileCount": self.file_count}

    @classmethod
    def from_json(cls, data: Any, where: str) -> PackInfo:
        if not isinstance(data, dict):
            raise WireFormatError(f"malformed {where}: a pack should be an object")
        name = _get(data, "fileName", str, where, required=True)
        _check_file_name(name, where)
        key_hex = _hex_digest(_get(data, "payloadKey", str, where, required=True), 64, "payloadKey", where)
        numbers = {field: _get(data, field, int, where, required=True)
                   for field in ("sizeBytes", "encryptedSizeBytes", "payloadOffset", "fileCount")}
        if any(value < 0 for value in numbers.values()):
            raise WireFormatError(f"malformed {where}: a size is negative")
        assert key_hex is not None
        return cls(file_name=name, size_bytes=numbers["sizeBytes"], encrypted_size_bytes=numbers["encryptedSizeBytes"],
                   payload_offset=numbers["payloadOffset"], payload_key=bytes.fromhex(key_hex),
                   file_count=numbers["fileCount"])


def pack_table_to_bytes(packs: list[PackInfo]) -> bytes:
    """The pack table artifact's plaintext: ``{"packs": [...]}``, in pack order."""
    return json.dumps({"packs": [pack.to_json() for pack in packs]}, separators=(",", ":")).encode()


def pack_table_from_bytes(raw: bytes) -> list[PackInfo]:
    data = _loads(raw, "pack table")
    if not isinstance(data, dict) or not isinstance(data.get("packs"), list):
        raise WireFormatError("malformed pack table: not an object with a 'packs' list")
    return [PackInfo.from_json(item, f"pack table entry {number}") for number, item in enumerate(data["packs"])]


def _loads(raw: bytes, what: str) -> Any:
    try:
        return hostilejson.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireFormatError(f"malformed {what}: not JSON ({exc.msg if hasattr(exc, 'msg') else exc})") from None


def session_folder_name(session: str) -> str:
    """``abc`` or ``synco-abc`` -> ``synco-abc`` (Go synco prints the full folder name as the session)."""
    session = session.strip().strip("/")
    try:
        safe_name(session, "session id")
    except UnsafePathError as exc:
        raise WireFormatError(str(exc).replace("unsafe session id", "invalid session id", 1)) from None
    return session if session.startswith(SESSION_PREFIX) else SESSION_PREFIX + session
