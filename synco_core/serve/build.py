"""``build_session``: fill a session folder with the dump, the public indexes and the private tars.

This is the whole source side of a transfer minus publishing: it takes a detected framework and a
:class:`SessionFolder` and leaves the folder in state Ready. ``serve`` publishes the folder over HTTP;
``synco pull`` can build it in a temporary directory and stream the files over ssh instead.

The meta file is rewritten after every step (Created -> Initializing -> one file set at a time -> Ready),
so a receiver polling it sees progress and never an artifact that is not complete.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import stat
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from synco_core import __version__, dumpprogress, leftout
from synco_core.databases import (
    DB_SET_NAME,
    NAMED_SET_PREFIX,
    database_of_set,
    is_database_set,
    requested_named_sets,
)
from synco_core.detection import list_file_sets
from synco_core.dumpoptions import (
    SessionDump,
    describe_rules,
    resolve_database_dump,
    resolve_session_dump,
    table_key,
    table_keys,
)
from synco_core.engines.dispatch import dump_with_engine, inspect_with_engine
from synco_core.errors import ConfigError, SyncoError
from synco_core.fsutil import second_of
from synco_core.index.hashcache import HashCache, cache_file, cache_folder, clock_of
from synco_core.index.order import sorted_walk
from synco_core.plugins import SyncoPluginManager
from synco_core.projectidentity import project_identity
from synco_core.rewriting import collect_source_settings
from synco_core.serve.folder import ZSTD_LEVEL, SessionFolder
from synco_core.serve.private_tar import add_members
from synco_core.serve.public_set import DOTFILES, PublicSetOptions, public_candidates, write_public_set
from synco_core.serve.setroot import unavailable_reason
from synco_core.serve.ttl import is_synco_folder
from synco_core.values import (
    DatabaseConfig,
    DumpRequirements,
    DumpResult,
    FileSet,
    FileSetOptions,
    Framework,
    PublicFile,
)
from synco_core.wire import (
    DUMP_TYPES,
    INDEX_FORMAT_LEFT_OUT,
    INDEX_FORMAT_LINES,
    PRIVATE_FILES,
    PUBLIC_FILES,
    SESSION_PREFIX,
    DumpInfo,
    Meta,
    PrivateFilesInfo,
    WireFileSet,
)

if TYPE_CHECKING:
    # Only for the annotations: the remote side of ``synco pull`` builds sessions on hosts where the
    # receive side (and zstandard, which it needs) may be missing.
    from synco_core.progress import DumpBar, Reporter

log = logging.getLogger(__name__)

#: The wire types a Go synco v2 ``receive`` understands; ``--compat`` sessions hold nothing else.
GO_TYPES = frozenset({"MysqlDump", PUBLIC_FILES, PRIVATE_FILES})
#: The only engine whose dumps Go synco v2 can load.
GO_ENGINE = "mysql"


@dataclass
class BuildOptions:
    """What to put into a session."""

    #: ``--all``: include the sets the framework skips by default (thumbnails, caches).
    all: bool = False
    #: ``--only``: names of the sets wanted (``dbDump`` for the database, ``dbDump-<name>`` for another of the
    #: project's named databases, which only this brings in); empty means everything else.
    only: tuple[str, ...] = ()
    #: Compress dumps, tars and indexes with zstd. Off for a session a Go synco v2 receiver must read.
    compress: bool = True
    #: The zstd level (1-22) when compressing.
    zstd_level: int = ZSTD_LEVEL
    #: Apply the sanitising rules (``--no-sanitize`` turns the column rewrites off).
    sanitize: bool = True
    #: ``--compat``: refuse what a Go synco v2 receiver cannot read (engines other than MySQL).
    compat: bool = False
    #: The dump options, resolved once (``serve`` resolves and checks them before creating the session
    #: folder); None: the build resolves them itself, once, when it dumps.
    dump: SessionDump | None = None
    #: The dump options of the named databases ``only`` asks for, by set name, resolved and checked before
    #: the session folder exists (``serve``); a set missing here is resolved when it is dumped.
    named_dumps: dict[str, SessionDump] = field(default_factory=dict)
    #: Leave the default database out (``pull`` streams it on its own); named databases still come.
    skip_database: bool = False
    #: Hash public files larger than the pack threshold (off only to measure what hashing costs; without
    #: it no hash cache is kept either).
    hash_large: bool = True
    #: Pack small public files (off under ``--compat``: Go synco v2 fetches every file by its URL).
    packs: bool = True
    #: The plugins' ``source_settings``, when the caller asked them already (a streamed pull announces them
    #: before the dump starts); None: asked right before the dump.
    source_settings: dict[str, dict[str, str]] | None = None


@dataclass(frozen=True)
class BuildContext:
    """What one build needs from the run it is part of, beside the options that say what goes in."""

    #: Unix time after which the session is removed (recorded in meta for the receiver).
    expires_at: int | None = None
    #: Told (set name, URI, (device, inode) of its file or None) for every index entry relative to the
    #: session's base URL, then (set name, None, None) when the set is written; ``serve --listen`` sends
    #: exactly these files.
    on_public_uri: Callable[[str, str | None, tuple[int, int] | None], None] | None = None
    #: Where temporary files of the build go (sorting a plugin's entries); None: the system's.
    work_dir: Path | None = None


#: ``on_step(message)`` is told what is being done, for progress output.
StepCallback = Callable[[str], None]


def _safe_artifact_part(name: str) -> str:
    """A set name reduced to characters that are safe in a file name and a URL."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "set"


def build_session(
    framework: Framework,
    folder: SessionFolder,
    options: BuildOptions,
    on_step: StepCallback | None = None,
    manager: SyncoPluginManager | None = None,
    reporter: Reporter | None = None,
    context: BuildContext | None = None,
) -> Meta:
    """Create ``folder`` and build the session of ``framework`` in it; returns the final (Ready) meta.

    The folder is created when missing (``serve`` creates it first, to put the TTL marker in). On an
    exception the folder is left as it is: removing it is the caller's decision. ``reporter`` shows the
    dump's and the packing's progress (in a terminal); ``context`` is what the run adds (expiry, scratch
    folder, who is told of the public URIs).
    """
    context = context or BuildContext()
    step = on_step or (lambda message: log.info("%s", message))
    folder.path.mkdir(parents=True, exist_ok=True)
    folder.zstd_level = options.zstd_level
    # The session's own name and age, so a receiver can refuse the meta of another session (a replay).
    session_id = folder.path.name if folder.path.name.startswith(SESSION_PREFIX) else None
    meta = Meta(state="Created", framework_name=framework.name, generator=f"synco-py {__version__}",
                expires_at=context.expires_at, session_id=session_id, created_at=int(time.time()),
                project=project_identity(framework))
    folder.write_meta(meta)
    meta.state = "Initializing"
    folder.write_meta(meta)

    wanted = set(options.only)
    named = requested_named_sets(framework, options.only)
    if includes_database(framework, options):
        meta.file_sets.append(dump_set(framework, folder, options, step, manager, reporter=reporter))
        folder.write_meta(meta)
    for set_name in named:
        meta.file_sets.append(dump_set(framework, folder, options, step, manager, set_name))
        folder.write_meta(meta)

    # Whether a receiver may take a set missing from this session for one renamed or removed on the server.
    whole = not options.only
    file_set_names = tuple(name for name in options.only if not is_database_set(name))
    if not options.only or file_set_names:
        sets = list_file_sets(framework, FileSetOptions(all=options.all, only=file_set_names), manager)
        for file_set in sets:
            if file_set.skipped_reason:
                step(f"skipping {file_set.name}: {file_set.skipped_reason}")
                whole = False
                continue
            if file_set.smart_skip and not options.all and file_set.name not in wanted:
                step(f"skipping {file_set.name} (left out by default; --all includes it)")
                whole = False
                continue
            reason = unavailable_reason(file_set.root) if file_set.root is not None and file_set.entries is None \
                else None
            if reason is not None:
                # A private set is one tar that replaces the laptop's copy whole: it is left out of the session.
                what = "published as unavailable" if file_set.kind == "public" else "left out of the session"
                log.warning("%s: %s; the set is %s, and no receiver changes its copy of it (a share that is not "
                            "mounted looks like this; a set emptied on purpose is an empty folder)", file_set.name,
                            reason, what)
                whole = False
                if file_set.kind == "public":
                    meta.file_sets.append(write_unavailable_set(file_set, folder, options, reason))
                    folder.write_meta(meta)
                continue
            if file_set.kind == "public":
                step(f"indexing public files of {file_set.name}")
                meta.file_sets.append(write_public_index(file_set, folder, options, framework, context))
            else:
                step(f"packing private files of {file_set.name}")
                meta.file_sets.append(write_private_tar(file_set, folder, options, reporter))
            folder.write_meta(meta)
    elif DB_SET_NAME in wanted and not framework.database:
        raise ConfigError(f"--only {DB_SET_NAME}: the {framework.name} project has no database configured")

    meta.whole_project = whole or None
    meta.state = "Ready"
    folder.write_meta(meta)
    return meta


def dump_set(framework: Framework, folder: SessionFolder, options: BuildOptions, step: StepCallback,
             manager: SyncoPluginManager | None = None, set_name: str = DB_SET_NAME,
             reporter: Reporter | None = None) -> WireFileSet:
    """A database file set (the default database unless ``set_name`` names another): the compat and
    strict checks, then the dump (``synco pull`` runs the default one in a thread of its own, beside the
    rest of :func:`build_session`)."""
    database = database_of_set(framework, set_name)
    assert database is not None
    check_compat(framework, options)
    # Resolving checks strict mode too; serve has done both before the session folder existed.
    if set_name == DB_SET_NAME:
        dump = options.dump or resolve_session_dump(framework, all=options.all, sanitize=options.sanitize,
                                                    manager=manager)
    else:
        dump = options.named_dumps.get(set_name) or resolve_database_dump(
            framework, set_name, all=options.all, sanitize=options.sanitize, manager=manager)
    which = "" if set_name == DB_SET_NAME else f" {set_name.removeprefix(NAMED_SET_PREFIX)!r}"
    step(f"dumping the {database.engine} database{which}")
    return write_dump(framework, folder, options, dump, manager, set_name, reporter)


def includes_database(framework: Framework, options: BuildOptions) -> bool:
    """True when the session holds a dump of the framework's database."""
    return (framework.database is not None and not options.skip_database
            and (not options.only or DB_SET_NAME in options.only))


def check_compat(framework: Framework, options: BuildOptions) -> None:
    """Under ``--compat``, refuse a database Go synco v2 cannot load (it only knows MySQL dumps, and one
    database per session)."""
    if not options.compat:
        return
    if includes_database(framework, options):
        assert framework.database is not None
        if framework.database.engine != GO_ENGINE:
            raise ConfigError(f"--compat: Go synco v2 can only load MySQL dumps, not {framework.database.engine}; "
                              f"leave the database out with --only or drop --compat")
    named = requested_named_sets(framework, options.only)
    if named:
        raise ConfigError(f"--compat: Go synco v2 knows one database per session ({DB_SET_NAME}); "
                          f"leave {', '.join(named)} out or drop --compat")


def write_dump(framework: Framework, folder: SessionFolder, options: BuildOptions, dump: SessionDump,
               manager: SyncoPluginManager | None = None, set_name: str = DB_SET_NAME,
               reporter: Reporter | None = None) -> WireFileSet:
    """Dump a database of the framework through the engines: dump -> zstd -> age -> ``dump.*.enc`` (the
    default database) or ``dump-<name>.*.enc`` (the named database of the set ``dbDump-<name>``)."""
    database = database_of_set(framework, set_name)
    assert database is not None
    dump_options = dump.options
    source_settings = options.source_settings
    if source_settings is None:
        source_settings = collect_source_settings(framework, manager)
    stem = "dump" if set_name == DB_SET_NAME else f"dump-{_safe_artifact_part(set_name.removeprefix(NAMED_SET_PREFIX))}"
    # The file name depends on the format the engine chooses, which is known only after dumping; the
    # artifact is therefore written under a neutral name and renamed once the result is in.
    neutral = f"{stem}.enc"
    with folder.artifact(neutral, compress=options.compress, dump=True) as (plain, stats):
        bar: contextlib.AbstractContextManager[DumpBar | None] = contextlib.nullcontext()
        if reporter is not None and reporter.enabled:
            tables, rows = _dump_estimate(database, dump, manager)
            bar = reporter.dump_task(f"dumping {database.engine}", tables, rows, lambda: plain.size)
        with bar as listener, dumpprogress.listening(listener):
            result = dump_with_engine(database, cast(BinaryIO, plain), dump_options, manager)
    extension = "sqlite" if result.format == "sqlite" else ("sql" if result.format == "sql" else result.format)
    file_name = f"{stem}.{_safe_artifact_part(extension)}{'.zst' if options.compress else ''}.enc"
    os.replace(folder.path / neutral, folder.path / file_name)
    written = stats[0]
    wire_type = result.wire_type if result.wire_type else "MysqlDump"
    if wire_type not in DUMP_TYPES:
        log.debug("engine %s reports the wire type %s, unknown to Go synco", result.engine, wire_type)
    if options.compat and wire_type not in GO_TYPES:
        raise ConfigError(f"--compat: the {result.engine} engine wrote a {wire_type}, which Go synco v2 cannot read")
    info = DumpInfo(
        file_name=file_name,
        size_bytes=written.size_bytes,
        compression=written.compression,
        sha256=written.sha256,
        encrypted_size_bytes=written.encrypted_size_bytes,
        engine=result.engine,
        server_version=result.server_version or None,
        format=result.format,
        # The engine's own words are preferred (they name what it really did, per table); an engine
        # that reports nothing still gets the rules it was given recorded, so receive can print them.
        sanitize_rules=list(result.applied_rules) or describe_rules(dump_options),
        tables=dict(result.tables),
        sanitized=options.sanitize,
        strict=dump_options.strict or None,
        source_settings=source_settings,
        requires=_requirements(result),
    )
    return WireFileSet(name=set_name, type=wire_type, dump=info)


def _requirements(result: DumpResult) -> DumpRequirements | None:
    """What the dump needs of the loading server, with the source's version (``requires``); None when the
    engine recorded nothing (a third-party engine: nothing is checked before the download then)."""
    requires = result.requirements
    if requires is None:
        return None
    if not requires.server_version and result.server_version:
        requires = dataclasses.replace(requires, server_version=result.server_version)
    return requires if requires else None


def _dump_estimate(database: DatabaseConfig, dump: SessionDump,
                   manager: SyncoPluginManager | None) -> tuple[int, int]:
    """(tables with rows to dump, their rows by the server's statistics), for the progress display; (0, 0)
    when the engine cannot say. Tables dumped without rows do not count."""
    inventory = dump.inventory
    if inventory is None:
        try:
            inventory = inspect_with_engine(database, manager)
        except SyncoError as exc:
            log.debug("no estimate for the dump's progress: %s", exc)
            return 0, 0
    excluded = {key for name in dump.options.exclude_tables for key in table_keys(name)}
    dumped = [t for t in inventory.tables if t.kind == "table" and table_key(t.name) not in excluded]
    return len(dumped), sum(max(0, t.rows_estimate) for t in dumped)


def _walk(root: Path, exclude: tuple[str, ...]) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(relative posix path, directory entry) of everything below ``root``, in index order, exclusions applied.

    Directories are yielded too (before their content), so a tar keeps empty folders; an excluded folder
    is neither yielded nor entered, nor is a synco session folder (a set whose root holds the web root
    must not carry the sessions published there). Links to folders are yielded but not followed.
    """
    return sorted_walk(root, exclude, skip_folder=is_synco_folder)


def public_entries(file_set: FileSet) -> Iterator[PublicFile]:
    """The files of a public set in index order (the plugin's own entries, or a walk of ``root``), with their
    sizes, without reading any content (``serve --plan``)."""
    for item in public_candidates(file_set, is_synco_folder):
        size, mtime = item.size, item.mtime
        if item.walked:
            try:
                # Through links, as the web server sends them.
                info = os.stat(item.source or "")
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            size, mtime = info.st_size, second_of(info)
        yield PublicFile(path=item.path, size=size, mtime=mtime, uri=item.uri, is_absolute_url=item.is_absolute_url,
                         sha1=item.sha1, source=item.source)


def _hash_cache(framework: Framework, file_set: FileSet, options: BuildOptions, session: Path) -> HashCache | None:
    """The hash cache of ``file_set``, in a private folder outside the web root and the set; None without.
    The clock of the session folder's file system (the web root's, often the set's) is measured there."""
    if not options.hash_large:
        return None
    avoid = [root for root in (framework.web_root, file_set.root) if root is not None]
    folder = cache_folder(avoid)
    if folder is None:
        log.debug("no folder for the hash cache; every file of %s is hashed", file_set.name)
        return None
    return HashCache(cache_file(folder, file_set.root or framework.project_dir, file_set.name),
                     clock=clock_of(session))


def write_public_index(file_set: FileSet, folder: SessionFolder, options: BuildOptions,
                       framework: Framework | None = None, context: BuildContext | None = None) -> WireFileSet:
    """Write the encrypted index of a public set, and its packs of small files (the rest stay where they are)."""
    context = context or BuildContext()
    cache = _hash_cache(framework, file_set, options, folder.path) if framework is not None else None
    notify = context.on_public_uri
    try:
        with leftout.counting(file_set.name, log) as tally:
            result = write_public_set(file_set, folder, PublicSetOptions(
                prefix=f"Resources-{_safe_artifact_part(file_set.name)}", compress=options.compress,
                # Packs are age files: a session written without encryption (a bare pull host) has none.
                hash_large=options.hash_large, packs=options.packs and bool(folder.recipients), cache=cache,
                skip_folder=is_synco_folder, go_uris=options.compat,
                spill_dir=context.work_dir,
                on_relative_uri=((lambda uri, identity: notify(file_set.name, uri, identity)) if notify is not None
                                 else None),
            ))
    except BaseException:
        if cache is not None:
            cache.discard()
        raise
    if cache is not None:
        cache.commit()
        log.debug("%s: %d files hashed, %d hashes from the cache", file_set.name, result.hashed, result.cache_hits)
    if notify is not None:
        notify(file_set.name, None, None)
    # A receiver told files were left out keeps its copies of them under --delete (as rsync after an I/O error).
    result.info.left_out_count = tally.counts[leftout.SKIPPED] or None
    if result.info.left_out_count and result.info.index_format == INDEX_FORMAT_LINES:
        result.info.index_format = INDEX_FORMAT_LEFT_OUT
    # Not in mustUnderstand: a reader that ignores them removes the laptop's copies under --delete, as every
    # reader did before they were written; refusing the set there would take every set with a cache folder.
    result.info.exclude = kept_on_the_laptop(file_set)
    result.info.exclude_regenerated = list(file_set.regenerated)
    return WireFileSet(name=file_set.name, type=PUBLIC_FILES, public=result.info,
                       must_understand=("leftOutCount",) if result.info.left_out_count else ())


def write_unavailable_set(file_set: FileSet, folder: SessionFolder, options: BuildOptions,
                          reason: str) -> WireFileSet:
    """A public set whose folder serve cannot read (:mod:`synco_core.serve.setroot`): an empty index, marked.

    ``unavailable`` (named in ``mustUnderstand``) tells this synco's receivers to leave the set alone; the
    folder itself counts as left out (``leftOutCount`` 1, ``indexFormat`` 3), so readers from before
    ``unavailable`` refuse the set, or remove nothing from it, instead of taking the empty index for an
    emptied folder.
    """
    empty = dataclasses.replace(file_set, root=None, entries=lambda: iter(()))
    result = write_public_set(empty, folder, PublicSetOptions(
        prefix=f"Resources-{_safe_artifact_part(file_set.name)}", compress=options.compress, packs=False))
    result.info.left_out_count = 1
    result.info.index_format = INDEX_FORMAT_LEFT_OUT
    return WireFileSet(name=file_set.name, type=PUBLIC_FILES, public=result.info,
                       must_understand=("leftOutCount", "unavailable"), unavailable=reason)


def kept_on_the_laptop(file_set: FileSet) -> list[str]:
    """The patterns of what serve leaves out of ``file_set`` whose local matches are the laptop's own: its
    ``exclude``, and for a public set without ``dotfiles`` the dotfiles (a local ``.gitignore``)."""
    dotfiles = file_set.kind == "public" and not file_set.dotfiles
    return [*file_set.exclude, *((DOTFILES,) if dotfiles else ())]


def write_private_tar(file_set: FileSet, folder: SessionFolder, options: BuildOptions,
                      reporter: Reporter | None = None) -> WireFileSet:
    """Pack a private folder as a tar streamed through zstd and age; sockets, devices and FIFOs are left out,
    and so is what a receiver would refuse (see :mod:`synco_core.serve.private_tar`)."""
    if file_set.root is None or not file_set.root.is_dir():
        raise ConfigError(f"private file set {file_set.name!r}: folder {file_set.root} does not exist")
    name = f"encrypted-resources-{_safe_artifact_part(file_set.name)}"
    # Stream mode ("w|") never seeks, so the tar can go straight into the compressor.
    packing: contextlib.AbstractContextManager[Callable[[int], None]] = (
        reporter.bytes_task(f"packing {file_set.name}", None) if reporter is not None
        else contextlib.nullcontext(lambda _n: None))
    with folder.artifact(name, compress=options.compress) as (plain, stats), packing as advance, \
            tarfile.open(fileobj=cast(BinaryIO, plain), mode="w|", format=tarfile.PAX_FORMAT) as tar, \
            leftout.counting(file_set.name, log) as tally:
        count = add_members(tar, file_set.root, _walk(file_set.root, file_set.left_out), advance)
    return WireFileSet(name=file_set.name, type=PRIVATE_FILES, private=PrivateFilesInfo(
        tar_uri=name, size_bytes=stats[0].size_bytes, relative_base_path=file_set.relative_base_path,
        compression=stats[0].compression, sha256=stats[0].sha256,
        encrypted_size_bytes=stats[0].encrypted_size_bytes, file_count=count,
        left_out_count=tally.counts[leftout.SKIPPED] or None,
        exclude=kept_on_the_laptop(file_set), exclude_regenerated=list(file_set.regenerated),
    ))
