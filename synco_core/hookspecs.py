"""The hooks synco calls, each documented where it is declared.

Plugins implement them with :data:`synco_core.hookimpl`. A plugin only implements the hooks it needs;
every hook receives only the arguments its implementation names.

Hooks whose answers are combined (every plugin is asked: :func:`detect_framework`, :func:`amend_framework`,
:func:`default_dump_options`, :func:`list_file_sets`, :func:`source_settings`, :func:`value_rewriter`) are called
plugin by plugin, so one plugin that raises cannot stop the others; an implementation of these as a wrapper
(``wrapper=True`` or ``hookwrapper=True``) is refused when the plugin registers. The firstresult hooks accept
wrappers as pluggy defines them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO, Literal

import pluggy

from synco_core.values import (
    DatabaseConfig,
    DatabaseInventory,
    DatabaseReader,
    DumpOptions,
    DumpRequirements,
    DumpResult,
    FileSet,
    FileSetOptions,
    FilesInstallResult,
    Framework,
    InstallOptions,
    InstallResult,
    ReceivedFileSet,
    ValueRewriter,
)

hookspec = pluggy.HookspecMarker("synco")

#: Which end of a transfer a detection is for (see :func:`detect_framework`).
Side = Literal["source", "destination"]


@hookspec
def detect_framework(project_dir: Path, side: Side) -> Framework | None:
    """Recognise the application in ``project_dir``.

    Called by ``serve``, ``detect`` and ``install`` (on the source and on the destination), once per
    plugin. Every plugin that recognises the project answers; when more than one does, the one with the
    highest :attr:`Framework.priority` wins, and a tie is an error that names the candidates and asks
    for ``--framework``.

    :param project_dir: the application's directory (absolute).
    :param side: ``"source"`` when the answer describes what to send (``serve``, ``detect``, the remote
        side of ``pull``), ``"destination"`` when it describes where received content goes (``install``,
        ``receive --install``, ``pull --install``, ``db rollback``). Most frameworks read the same files
        on both sides and ignore it; one whose configuration holds several environments picks by it
        (synco-rails: ``production`` on the source, ``development`` on the destination, unless
        ``RAILS_ENV`` says otherwise).
    :return: a :class:`~synco_core.Framework` with the database configuration, the web root and the
        plugin's defaults, or None when this is not the plugin's framework.

    Example::

        @hookimpl
        def detect_framework(project_dir):
            if (project_dir / "hugo.toml").exists():
                return Framework(name="Hugo", plugin="hugo", project_dir=project_dir,
                                 web_root=project_dir / "public", reason="hugo.toml found")
            return None
    """


@hookspec
def amend_framework(framework: Framework) -> None:
    """Adjust what another plugin detected, in place.

    Called once per plugin right after the winning :func:`detect_framework` result is chosen, on the
    source and on the destination. ``synco-generic`` uses it to apply a project's ``.synco.yml``
    (an extra excluded table, a sanitising rule, another web root) on top of a framework's own guess.

    :param framework: the detected framework; change its fields (``dump_options``, ``web_root``,
        ``post_install`` ...) directly.
    :return: nothing; the return value is ignored.

    Example::

        @hookimpl
        def amend_framework(framework):
            framework.dump_options.exclude_tables += ("cache",)
    """


@hookspec
def default_dump_options(framework: Framework, inventory: DatabaseInventory | None) -> DumpOptions | None:
    """The framework's default dump options for this database: its sanitising profile, tables without rows.

    Called on the source once per plugin, after :func:`amend_framework`, whenever the dump options of a
    session are resolved (``serve``, ``serve --plan``, ``pull``, ``detect``): once per run, with the
    inventory the core read once. Every plugin is asked and the answers are joined in pluggy's order (a later
    rule for the same column replaces an earlier one); the framework's own ``dump_options`` (and with them
    ``.synco.yml``) are applied on top, so explicit configuration wins.

    The core filters the answers against the inventory: a table without rows, a row filter or a column rewrite
    naming a table (or column) the database does not have is dropped. So declare rules for tables that only
    some installations have (WooCommerce's, an optional module's) without checking; engines refuse rules for
    unknown tables, and the core keeps those away from them. Rules in ``Framework.dump_options``, by contrast,
    are applied as they are (a misspelt table there is an error the user sees).

    Never connect to the database here: what the database holds is in ``inventory``.

    :param framework: the detected and amended framework (check ``framework.plugin`` before answering).
    :param inventory: the tables and columns of ``framework.database`` as ``inspect_database`` describes them,
        or None when there is no database or it could not be inspected from here (then nothing is filtered,
        and the dump itself reports an unreachable database).
    :return: a :class:`~synco_core.DumpOptions` with the defaults (``exclude_tables``, ``where``,
        ``keep_newest``, ``sanitize``, ``smart_exclude_tables``, ``smart_where``), or None when the plugin has
        none for this framework.

    Example::

        @hookimpl
        def default_dump_options(framework, inventory):
            if framework.plugin != "wordpress":
                return None
            prefix = framework.settings["table_prefix"]
            return DumpOptions(
                exclude_tables=(prefix + "woocommerce_sessions",),
                sanitize=(SanitizeRule(prefix + "users", "user_email", transform="email"),),
            )
    """


@hookspec(firstresult=True)
def dump_database(database: DatabaseConfig, out: BinaryIO, options: DumpOptions) -> DumpResult | None:
    """Write a dump of ``database`` to ``out``.

    Called on the source by ``serve`` and ``synco db dump``. Stops at the first non-None result, so an
    engine returns None for a ``database.engine`` it does not handle. The built-in engines are
    ``trylast``: a framework or third-party plugin can take over a dump for its own database.

    :param database: the connection settings; ``database.engine`` says which engine is asked for.
    :param out: a binary stream to write the dump to. Write as you read: never hold the whole dump in
        memory. The caller compresses and encrypts it on the way to disk.
    :param options: tables without rows, row filters and sanitising expressions, all to be applied in
        the SELECT so filtered values never leave the database server.
    :return: a :class:`~synco_core.DumpResult` with the wire type, the server version and a per-table
        manifest (row counts, checksums) for the installer to verify; None when not this engine.

    Example::

        @hookimpl(trylast=True)
        def dump_database(database, out, options):
            if database.engine != "duckdb":
                return None
            ...
            return DumpResult(engine="duckdb", wire_type="DuckdbDump", format="duckdb")
    """


@hookspec
def list_file_sets(framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
    """List the file sets ``serve`` publishes for ``framework``.

    Called on the source once per plugin; the results of all plugins are joined (a later set with the
    same name replaces an earlier one, so ``.synco.yml`` can override a framework's guess). Also called on
    the destination before an install, where the answer says where each set lives in the local project:
    a received set is installed only into the place its local namesake names (``root`` and
    ``relative_base_path``), never where the session says.

    :param framework: what ``detect_framework`` found (check ``framework.plugin`` before answering).
    :param options: ``options.all`` turns off smart filters; ``options.only`` names the wanted sets (the
        core filters by name afterwards, a plugin may use it to skip expensive work).
    :return: public sets (an index of URLs, no copy) and private sets (folders packed and encrypted), or
        None when the plugin has nothing for this framework.

    Each set says what serve leaves out of it, in two fields of glob patterns (as
    :class:`synco_core.ExcludeMatcher` reads them), and the session's meta carries both to the laptop.
    ``FileSet.exclude``: what is there is the laptop's own (a local database, a developer's files, logs);
    ``receive --delete`` and install keep the laptop's files these match, as ``rsync --delete --exclude``
    does (``--delete-excluded`` removes them). This is the default, for third-party plugins and users'
    ``.synco.yml`` alike, because a file kept by mistake costs disk space while a file removed by mistake is
    lost. ``FileSet.regenerated``: derived files the framework makes again from the originals (image styles,
    thumbnails, aggregated CSS); a laptop's copies go stale when an original changes, so install and
    ``--delete`` remove them like any file the server does not list.

    Example::

        @hookimpl
        def list_file_sets(framework, options):
            if framework.plugin != "hugo":
                return None
            return [FileSet(name="static", kind="public", root=framework.project_dir / "public/img",
                            url_prefix="img/", relative_base_path="public/img",
                            exclude=("*.log",), regenerated=("/resized",))]
    """


@hookspec
def source_settings(framework: Framework) -> dict[str, str] | None:
    """Settings of the source site that the destination needs to install its database, published with the dump.

    Called on the source once per plugin, right before the database is dumped (``serve``, ``pull``). Every
    plugin is asked; each answer is kept under the name of the plugin that gave it and published, encrypted,
    with the dump set in the session's meta (``sourceSettings``). On the destination, :func:`value_rewriter`
    receives them. WordPress publishes its ``home`` and ``siteurl`` here, so the destination can replace them
    with the local site's URL while loading. The plugin may read its own database here
    (:func:`synco_core.connect_with_engine`) or ask the framework's console; keep it quick, it runs before the
    dump. Never put a secret here.

    :param framework: the detected and amended framework (check ``framework.plugin`` before answering).
    :return: a mapping of short strings, or None when the plugin has nothing to publish.

    Example::

        @hookimpl
        def source_settings(framework):
            if framework.plugin != "wordpress":
                return None
            return {"home": "https://www.example.com", "siteurl": "https://www.example.com/wp"}
    """


@hookspec
def value_rewriter(framework: Framework, source_settings: Mapping[str, Mapping[str, str]]) -> ValueRewriter | None:
    """A rewrite of string values the engine applies while it loads the dump into the local database.

    Called on the destination once per plugin, right before ``install_database`` (``install``,
    ``receive --install``, ``pull --install``), while the local database still holds its previous content
    (the plugin may read it, with :func:`synco_core.connect_with_engine`, to learn the local site's URL).
    Every plugin is asked; the answers are joined in pluggy's order (a value that contains needles of several
    rewriters goes through each of them in turn) and handed to the engine as ``InstallOptions.rewriter``. The
    engine rewrites each string value that contains one of the rewriter's needles, in the same pass that
    loads it, inside the atomic install: nothing is rewritten in the local database if the load fails, and
    nothing is read twice. The built-in engines support it (MySQL in INSERT statements, PostgreSQL in COPY
    data, SQLite in the loaded copy before it is swapped in); their verification accounts for the changes.

    :param framework: the local framework the dump is installed into (check ``framework.plugin``);
        ``framework.site_url`` holds ``--site-url`` when the user gave one.
    :param source_settings: what the source's plugins published with the dump (:func:`source_settings`), by
        plugin name; empty for a dump without them (an older synco, ``synco db load``).
    :return: a :class:`~synco_core.ValueRewriter`, or None when nothing needs rewriting. Raise a
        :class:`~synco_core.ConfigError` when a rewrite is needed but cannot be worked out (the local URL is not
        known): nothing has been changed yet.

    Example::

        @hookimpl
        def value_rewriter(framework, source_settings):
            source = source_settings.get("wordpress", {}).get("home")
            if framework.plugin != "wordpress" or not source or source == framework.site_url:
                return None
            if framework.site_url is None:
                raise ConfigError(f"the local site's URL is not known; pass --site-url to replace {source}")
            old, new = source.encode(), framework.site_url.encode()
            return ValueRewriter(needles=(old,), rewrite=lambda value: value.replace(old, new),
                                 description=f"{source} -> {framework.site_url}")
    """


@hookspec(firstresult=True)
def install_database(database: DatabaseConfig, dump: BinaryIO, options: InstallOptions) -> InstallResult | None:
    """Load ``dump`` into the local ``database``, replacing its content atomically.

    Called on the destination by ``receive --install``, ``install`` and ``synco db load``. Stops at the
    first non-None result; an engine returns None for an engine it does not handle. An implementation
    must load into scratch space first, verify against ``options.manifest``, and only then swap the
    result in, keeping the previous content for :func:`rollback_database`. On any failure the target is
    left exactly as it was and a :class:`~synco_core.SyncoError` is raised. A process killed at any moment
    (``kill -9``) must leave the target whole, the old or the new content, and whatever else it leaves is
    repaired by the next install or rollback (the built-in engines: see *Database engines*, "What a crash
    leaves"). A database that did not exist is created by the swap, not before. Read the dump to its end
    (a read that returns nothing) before verifying and swapping, with the scratch space made already: an
    install that loads its database while the files arrive waits there until they are in. Call
    ``options.before_swap()`` (when set) once the scratch copy is verified, just before the swap changes the
    target or its kept copy: the project's install journal notes it, and a kill after it is repaired by
    :func:`rollback_database` (which must then find the scratch space and stop at its repair, or find the
    swap done and roll it back); a kill before it by :func:`rollback_database` with ``options.repair_only``.
    Replace the kept copy of an earlier install only in the swap: until then a failed install leaves it to
    ``synco db rollback``.

    :param database: the local target; refuse it unless :meth:`DatabaseConfig.is_local` or
        ``options.force_remote_target``.
    :param dump: the decrypted, decompressed dump as a binary stream (read it once, in order). It may
        still be arriving (``synco pull --install --yes`` loads it while the source dumps it): reads
        then wait for more, and fail when the transfer breaks off, before the end is reported.
    :param options: the dump format, the manifest to verify, how to confirm with the user, and the
        ``rewriter`` to apply to string values while loading (:func:`value_rewriter`; report how many values
        it changed as ``InstallResult.rewritten_values``, or refuse before changing anything when the engine
        cannot apply it). Read ``options.manifest`` after the dump has been read to its end: a streamed
        dump's manifest is filled in only then.
    :return: an :class:`~synco_core.InstallResult`, or None when not this engine.
    """


@hookspec(firstresult=True)
def inspect_database(database: DatabaseConfig) -> DatabaseInventory | None:
    """Describe the tables of ``database`` without reading their rows.

    Called by ``serve --plan`` (row estimates and sizes) and by strict sanitising (every table and
    column must be kept or masked). Stops at the first non-None result; an engine returns None for an
    engine it does not handle. Use the engine's statistics (``information_schema``, ``pg_class``), never
    ``COUNT(*)`` over big tables.

    :param database: the connection settings.
    :return: a :class:`~synco_core.DatabaseInventory`, or None when not this engine.
    """


@hookspec(firstresult=True)
def connect_database(database: DatabaseConfig) -> DatabaseReader | None:
    """Open a connection to ``database`` for a plugin that reads rows of its own tables.

    Called on the source when a plugin asks for one through :func:`synco_core.connect_with_engine` (Neos reads
    Flow's resource table while listing its public files). Stops at the first non-None result; an engine
    returns None for an engine it does not handle. The built-in engines answer with their driver's connection
    (and the same TLS policy as their dumps), read-only where the engine allows it, streaming query results
    (a server-side cursor) so memory stays flat.

    :param database: the connection settings; ``database.engine`` says which engine is asked for.
    :return: a :class:`~synco_core.DatabaseReader` (the caller closes it), or None when not this engine.
        Raise :class:`~synco_core.DatabaseError` with a one-line reason when the server refuses.

    Example::

        @hookimpl(trylast=True)
        def connect_database(database):
            if database.engine != "duckdb":
                return None
            return DuckdbReader(duckdb.connect(database.name, read_only=True))
    """


@hookspec(firstresult=True)
def check_install_target(database: DatabaseConfig, options: InstallOptions) -> bool | None:
    """Check, before anything is downloaded, that :func:`install_database` could replace ``database``.

    Called on the destination by ``receive --install`` and ``pull --install`` before the transfer starts,
    so a wrong port or a user without the needed rights is found in a second, not after the whole
    download. Stops at the first non-None result; an engine returns None for an engine it does not
    handle (the check is then skipped). Connect with the configured credentials and check what the
    install will do (create the scratch database, replace the target); change nothing that stays.

    :param database: the local target (its locality is checked by the core before this is called).
    :param options: the install settings (``local_hosts``, ``force_remote_target``).
    :return: True when the install could go ahead, or None when not this engine. Raise
        :class:`~synco_core.DatabaseError` naming what is wrong (unreachable, refused, no right to create
        or replace the database).
    """


@hookspec(firstresult=True)
def check_dump_requirements(database: DatabaseConfig, requirements: DumpRequirements) -> list[str] | None:
    """Say what the server of ``database`` lacks of what a dump needs, before that dump is downloaded.

    Called on the destination by ``receive --install`` and ``pull --install`` once the session's meta is read
    and before anything is transferred, and by ``install`` before anything is changed, for a dump whose meta
    records ``requires`` (a session of Go synco or of a synco before it records nothing: not called). Read
    the local server (its storage engines, extensions, collations, settings, version) and change nothing.
    Stops at the first non-None result; return None for an engine you do not handle.

    :param database: the local target (it need not exist yet).
    :param requirements: what the source recorded while dumping (its ``dump_database`` answer's
        ``requirements``): the source's version, storage engines, extensions with versions, collations and
        the longest statement the load sends whole.
    :return: one entry per missing thing, each naming it and how to fix it (``storage engine ROCKSDB (install
        mariadb-plugin-rocksdb, then INSTALL SONAME 'ha_rocksdb')``); an empty list when nothing is missing.
        The core refuses the transfer in one line listing them all, unless ``--skip-requirements``. Raise
        :class:`~synco_core.DatabaseError` when the server cannot be read.

    Example::

        @hookimpl
        def check_dump_requirements(database, requirements):
            if database.engine != "duckdb":
                return None
            return [f"extension {name}" for name in requirements.extensions if not duckdb_has(name)]
    """


@hookspec(firstresult=True)
def rollback_database(database: DatabaseConfig, options: InstallOptions) -> InstallResult | None:
    """Put back what the last :func:`install_database` replaced in ``database``.

    Called by ``synco db rollback``. Stops at the first non-None result.

    :param database: the local database an install replaced.
    :param options: confirmation settings (``yes``, ``confirm``) and the local-target guard. Normally what
        the rollback replaces becomes the kept copy, so a second rollback undoes the first; with
        ``options.discard_replaced`` (the undo of an install that failed after its database went in) it is
        dropped instead, and nothing is left to roll back. With ``options.repair_only`` (the recovery of an
        install killed before its swap began) only finish or undo what an interrupted install or rollback
        left (a scratch copy), put nothing back, and return.
    :return: an :class:`~synco_core.InstallResult` describing the restored state, or None when not this
        engine. Raise :class:`~synco_core.SyncoError` when there is nothing to roll back, or when the kept
        copy is empty or incomplete (never report success for it). When the last install was interrupted
        (killed), put back what was there before that install instead and say so in ``note``.
    """


@hookspec(firstresult=True)
def discard_kept_database(database: DatabaseConfig, options: InstallOptions) -> bool | None:
    """Drop the previous content an earlier install kept in ``database``'s engine for a rollback.

    Not called by the installs of this synco any more: they keep the last install's kept copy until the
    engine's swap replaces it, and undo a database step through the engine's rollback only once the engine
    announced its swap (see :func:`install_database`), so a failed install leaves ``synco db rollback``
    something to put back. Kept for plugins and tools that call it. First finish or undo what an interrupted
    install or rollback left (as ``rollback_database`` does), then drop the kept copy; change nothing else.
    Stops at the first non-None result.

    :param database: the local database about to be installed into.
    :param options: the local-target guard settings (``local_hosts``, ``force_remote_target``).
    :return: True when done (also when there was nothing kept), or None when not this engine. An engine
        without it still works: only an install killed before its engine began could then be rolled back
        to the older kept copy.
    """


@hookspec(firstresult=True)
def install_files(framework: Framework, file_set: ReceivedFileSet, source_dir: Path) -> FilesInstallResult | None:
    """Move a received file set to where the local instance expects it.

    Called on the destination by ``receive --install`` and ``install``, once per received file set.
    Stops at the first non-None result. The core's fallback (``trylast``) copies ``source_dir`` into
    ``framework.project_dir / file_set.relative_base_path``; a framework plugin implements this hook
    when its layout differs (Flow's resource storage).

    :param framework: what ``detect_framework`` found in the local project.
    :param file_set: the set's name and kind, and the relative base path of the set of that name in the
        local project (the source's path only had to agree with it).
    :param source_dir: the folder the files were downloaded to (checked: no ``..``, no links out).
    :return: a :class:`~synco_core.FilesInstallResult`, or None to leave the set to other plugins.
    """
