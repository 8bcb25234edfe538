"""The install that runs while receive downloads: the database loaded from the stream, the rest at the end."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, cast

from synco_core import folderlock
from synco_core.databases import NAMED_SET_PREFIX, database_of_set, for_database_set, is_database_set
from synco_core.destinations import local_destination, local_file_sets
from synco_core.detection import detect
from synco_core.errors import ConfigError, SyncoError, TransferError
from synco_core.install.atend import at_end
from synco_core.install.journal import (
    InstallJournal,
    forget_given_up,
    in_place_note,
    replaced_in_place,
    undo_steps,
)
from synco_core.install.plan import (
    ReceivedSet,
    check_install_target,
    check_target,
    local_hosts_of,
    local_inventory,
    received_set,
    refuse_one_database_twice,
    warn_outside_dump,
)
from synco_core.install.run import (
    InstallReport,
    _install_database,
    database_undoer,
    earlier_record,
    install_received,
    recover_interrupted,
)
from synco_core.install.state import (
    forget_state,
)
from synco_core.plugins import SyncoPluginManager, get_plugin_manager
from synco_core.receive.deletions import RunDeletions
from synco_core.values import (
    DatabaseInventory,
    Framework,
    InstallResult,
    TableManifest,
)
from synco_core.wire import WireFileSet

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

log = logging.getLogger(__name__)

class StreamedDump(Protocol):
    """A dump still arriving (:class:`synco_core.pull.dumpstream.DumpStream`), as an install reads it."""

    set_name: str
    engine: str
    format: str
    #: Filled in when the whole dump has arrived, before :meth:`reader` reports its end.
    manifest: dict[str, TableManifest]
    #: What the source's plugins published with the dump (announced when the stream starts).
    source_settings: dict[str, dict[str, str]]

    @property
    def failed(self) -> bool: ...

    def reader(self) -> BinaryIO: ...


class EarlyDatabaseInstall:
    """The database step of an install, run in a thread as soon as the dump has arrived.

    A pull's database loads while its files are still downloading, instead of after them. Only when no
    confirmation is pending (``--yes``): nothing may change before the user has said yes. The engine's
    install is atomic on its own (scratch database, verify, swap), so an install that fails or never
    starts leaves the local database as it was. The load goes as far as the dump's end and waits there,
    before the engine verifies and swaps, until the rest of the install is done (:meth:`wait`): whatever
    fails before (the receive, a missing file, a refusal, a files step, a stop) ends the load unswapped
    (:meth:`rollback`), and the last install's kept copy and record stay as they were. ``synco install``
    runs its database steps through it too (started and waited for at once), so that a stop lands in the
    main thread, never between the engine's swap and the journal's note of it.
    """

    def __init__(self, framework: Framework, item: ReceivedSet, *, force_remote_target: bool = False,
                 manager: SyncoPluginManager | None = None, stream: StreamedDump | None = None,
                 journal: InstallJournal | None = None, terminate: bool = True, warned: bool = False) -> None:
        self.name = item.name
        self.terminate = terminate
        #: The install's journal, begun here: the rest of the install's steps are added to it.
        self.journal = journal or InstallJournal(framework.project_dir)
        self._framework = framework
        self._manager = manager or get_plugin_manager()
        self._result: InstallResult | None = None
        self._error: BaseException | None = None
        self._rolled_back = False
        self._local_tables: DatabaseInventory | None = None
        #: Loading from a dump that is still arriving (see :meth:`ReceiveInstall.start_streamed`).
        self.stream = stream
        if stream is None and not warned:
            # Before the load starts, as the question or run_install's --yes line would say it.
            warn_outside_dump(framework, item.name, item.manifest, force_remote_target, self._manager)
        elif stream is not None:
            # Read before the load starts: at the stream's end the load may hold locks an inspection waits for.
            self._local_tables = local_inventory(framework, item.name, force_remote_target, self._manager)
        self._thread = threading.Thread(target=self._run, args=(item, force_remote_target),
                                        name="synco-install-database", daemon=True)
        #: Whether the thread began the load, or the rollback came first (see :meth:`_end_or_cancel`); under ``_gate``.
        self._gate = threading.Lock()
        self._began = False
        self._cancelled = False
        #: Set by :meth:`rollback`: the load's next read of the dump fails (see :class:`_StoppableDump`).
        self._stop = threading.Event()
        #: Set by :meth:`wait`: the load, held at the dump's end, goes on to the engine's verify and swap.
        self._go = threading.Event()
        #: Set when the load has read the whole dump and waits for :attr:`_go`.
        self._holding = threading.Event()

    def start(self) -> None:
        """Start loading. Apart from the constructor: its owner keeps the install before the thread runs, so a
        stop (SIGTERM, Ctrl-C) raised in the main thread as the thread starts still finds the load to wait for
        and undo; one raised out of the constructor left a load running that nothing waited for, and the
        process exited under it (its scratch database left, its journal half written)."""
        self._thread.start()

    def _run(self, item: ReceivedSet, force_remote_target: bool) -> None:
        with self._gate:
            if self._cancelled:
                return
            self._began = True
        try:
            source: BinaryIO
            if self.stream is not None:
                stream = self.stream
                source = stream.reader()
                # A stream's tables are known only once it has all arrived: named then, before the engine's
                # swap (it reads the end of the dump before it verifies and swaps).
                inventory = self._local_tables
                if inventory is not None:
                    source = at_end(source, lambda: warn_outside_dump(
                        self._framework, item.name, stream.manifest, inventory=inventory))
            else:
                source = item.path.open("rb")
            # Wrapped, so that a rollback (the pull or receive stopped, a later set failed) ends the load at its
            # next read instead of waiting for all of it to be loaded and then undone: the engine's own atomic
            # install drops its scratch database on the error.
            dump = cast(BinaryIO, io.BufferedReader(_StoppableDump(source, self._stop), 1 << 20))
            self._result = _install_database(item, self._framework, force_remote_target,
                                             local_hosts_of(self._framework), self._manager, dump, self.journal,
                                             self.terminate, at_dump_end=self._hold)
        except BaseException as exc:  # Raised in the waiting thread by wait().
            self._error = exc

    def _hold(self) -> None:
        """At the dump's end, in the load's thread: wait for :meth:`wait` (the rest of the install is in), or
        fail the load's read when stopped first, so the engine drops its scratch copy and swaps nothing."""
        self._holding.set()
        while not self._go.wait(0.2):
            if self._stop.is_set():
                break
        if self._stop.is_set() and not self._go.is_set():
            raise TransferError("the install was stopped")

    def _end_or_cancel(self) -> None:
        """For the rollback: wait for the load; one that has not begun yet never will (a stop cut :meth:`start`
        short, maybe before the thread existed, maybe after: joining a thread never started raises, and one that
        started a moment later would load with nobody waiting)."""
        with self._gate:
            if not self._began:
                self._cancelled = True
        if self._thread.ident is not None:
            # Begun or cancelled, a thread that runs is waited for: it ends with the command, never after it.
            self._thread.join()

    def broken_stream(self) -> bool:
        """True when this install read a dump stream that broke off: it failed, and the target is as it was."""
        if self.stream is None or not self.stream.failed:
            return False
        # A load that read the whole stream before it failed (its last sync) waits at the dump's end: not broken.
        while self._thread.is_alive() and not self._holding.is_set():
            self._thread.join(0.2)
        return self._result is None and not self._holding.is_set()

    def wait(self) -> InstallResult:
        """Let the load go on to its swap, and the install's result once it is done; its error, raised here,
        if it failed."""
        self._go.set()
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def stop(self) -> None:
        """End the load (one not yet at its swap never swaps) and wait for it; the caller undoes the journal."""
        self._stop.set()
        if self._thread.is_alive():
            log.warning("waiting for the database load to end, to leave the local database as it was")
        self._end_or_cancel()

    def rollback(self) -> None:
        """Put the previous database back if this install replaced it (once; reports, never raises)."""
        self.stop()
        if self._rolled_back:
            return
        self._rolled_back = True
        if not self.journal.steps:
            return
        # Undone through the journal (a load that failed has its step "undone": the engine undid it already).
        forget_given_up(self.journal, forget_state)
        try:
            undo_steps(self.journal, database_undoer(self._framework, self._manager))
        except SyncoError as exc:
            log.error("could not roll the database back after a failed install: %s", exc)
            return
        self.journal.close()
        kept = replaced_in_place(self.journal)
        if kept:
            # The receive's own error says what failed; this says what the database holds now.
            note = in_place_note(kept)
            log.error("%s", note[0].upper() + note[1:])

    def undone(self) -> None:
        """The install's own undo put this database back (with the rest of its journal)."""
        self._rolled_back = True


class _StoppableDump(io.RawIOBase):
    """The dump as the early install's engine reads it, failing every read once ``stop`` is set."""

    def __init__(self, source: BinaryIO, stop: threading.Event) -> None:
        super().__init__()
        self._source = source
        self._stop = stop

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        if self._stop.is_set():
            raise TransferError("the install was stopped")
        view = memoryview(buffer).cast("B")
        data = self._source.read1(len(view)) if hasattr(self._source, "read1") else self._source.read(len(view))
        view[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._source.close()
        super().close()


class ReceiveInstall:
    """``--install`` of receive and pull: checks before the download, the database while files arrive.

    Created before the transfer: it detects the local project, refuses a non-local database target and
    asks the engine whether an install could run (:func:`check_install_target`), so nothing is
    downloaded for an install that cannot happen. Receive calls :meth:`set_arrived` for each set it
    completes; with ``yes`` the database set starts installing right away (:class:`EarlyDatabaseInstall`).
    :meth:`finish` installs the rest; :meth:`abandon` undoes the early database install when the transfer
    failed. :mod:`synco_core.install.receive` drives it for ``receive --install`` and ``pull --install``.
    """

    def __init__(self, project_dir: Path, *, yes: bool = False, force_remote_target: bool = False,
                 framework_name: str | None = None, check_database: bool = True,
                 manager: SyncoPluginManager | None = None, site_url: str | None = None,
                 delete_excluded: bool = False, max_delete: int | None = None, terminate: bool = True) -> None:
        self.project_dir = project_dir
        self.terminate = terminate
        self.delete_excluded = delete_excluded
        self.max_delete = max_delete
        self.framework = detect(project_dir, framework_name, manager, side="destination")
        if site_url:
            self.framework.site_url = site_url
        self.force_remote_target = force_remote_target
        check_target(self.framework, force_remote_target)
        if check_database:
            check_install_target(self.framework, force_remote_target, manager)
        self._manager = manager
        #: The named databases' sets checked already (``dbDump-<name>``), so each is checked once.
        self.checked: set[str] = set()
        # Held from here to close(): the journal a killed install left is this project's to recover, and no
        # other install may start between the early database load and the files.
        self._lock: Path | None = folderlock.acquire(project_dir, folderlock.INSTALL_LOCK, "installing into")
        try:
            recovered = recover_interrupted(self.framework, manager)
        except BaseException:
            self.close()
            raise
        if recovered is not None:
            log.warning("%s", recovered)
        # Also under --max-delete, whose count is known only once the files are in: the early load waits at the
        # dump's end, unswapped, until the install's checks have passed, so their refusal throws the load away
        # and finds the project (database, kept copies, record) as it was.
        self.early_database = yes
        self.database: EarlyDatabaseInstall | None = None
        # The last install's record: the kept copies it names that this install leaves as they are are named
        # again in the new one.
        self.earlier = earlier_record(self.framework, manager)

    def check_databases(self, set_names: tuple[str, ...] | list[str]) -> None:
        """Check every named database among ``set_names`` as the default one is checked: on this machine,
        reachable, replaceable by this user, and not the database another of them goes into. Before anything is
        downloaded; the one-line error names it."""
        refuse_one_database_twice(self.framework, [name for name in set_names if is_database_set(name)])
        for set_name in set_names:
            if not set_name.startswith(NAMED_SET_PREFIX) or set_name in self.checked:
                continue
            name = set_name.removeprefix(NAMED_SET_PREFIX)
            if database_of_set(self.framework, set_name) is None:
                raise ConfigError(f"the local {self.framework.name} project has no database {name!r} to install "
                                  f"{set_name} into (leave it out with --only)")
            named = for_database_set(self.framework, set_name)
            check_target(named, self.force_remote_target, local_hosts_of(self.framework))
            try:
                check_install_target(named, self.force_remote_target, self._manager)
            except SyncoError as exc:
                raise type(exc)(f"database {name!r} ({set_name}) cannot be installed into: {exc}") from exc
            self.checked.add(set_name)

    def check_file_sets(self, file_sets: list[WireFileSet]) -> None:
        """Every files set of ``file_sets`` has a place in the local project (the one-line error of the install
        otherwise): a session of another framework is refused before it is downloaded, not after."""
        places = {s.name: info.relative_base_path or "" for s in file_sets
                  for info in (s.public, s.private) if info is not None}
        local_sets = local_file_sets(self.framework, list(places), self._manager)
        for name, hint in places.items():
            try:
                local_destination(self.framework, name, hint, local_sets)
            except ConfigError as exc:
                raise ConfigError(f"{exc}; leave it out with --only, or receive without --install") from None

    def start_streamed(self, stream: StreamedDump) -> None:
        """``synco pull``: start loading the dump while it is still arriving, as ``ssh host mysqldump | mysql``
        would (only with ``--yes``, and only into a database of the same engine; otherwise the dump is
        installed from its file once it is complete, as usual)."""
        local = self.framework.database
        if (not self.early_database or self.database is not None or local is None or local.engine != stream.engine
                or not stream.format):
            return
        item = ReceivedSet(name=stream.set_name, kind="database", path=Path(stream.set_name), engine=stream.engine,
                           format=stream.format, manifest=stream.manifest, source_settings=stream.source_settings)
        log.debug("installing %s while it streams in", item.name)
        self.database = EarlyDatabaseInstall(self.framework, item, force_remote_target=self.force_remote_target,
                                             stream=stream, terminate=self.terminate)
        self.database.start()

    def set_arrived(self, folder: Path, entry: dict[str, Any]) -> None:
        if self.database is not None and self.database.broken_stream():
            # The stream broke off but the dump then arrived whole by download: install that instead (the broken
            # load's journal, its step undone, closed first).
            self.abandon()
        if not self.early_database or self.database is not None or entry.get("kind") != "database":
            return
        if str(entry.get("name") or "").startswith(NAMED_SET_PREFIX):
            return  # A named database is installed with the rest, into its own target, at the end.
        if self.framework.database is None:
            return  # plan_install reports this, with the rest, at the end
        item = received_set(folder, entry)
        log.debug("installing %s while the rest arrives", item.name)
        self.database = EarlyDatabaseInstall(self.framework, item, force_remote_target=self.force_remote_target,
                                             terminate=self.terminate)
        self.database.start()

    def finish(self, folder: Path, *, only: tuple[str, ...] = (), yes: bool = False,
               confirm: Callable[[str], bool] | None = None, post_install: bool = False,
               echo: Callable[[str], None] = print, receive_deleted: RunDeletions | None = None) -> InstallReport:
        if self.database is not None and only and self.database.name not in only:
            self.abandon()
        try:
            return install_received(folder, self.project_dir, only=only, yes=yes, confirm=confirm,
                                    force_remote_target=self.force_remote_target, post_install=post_install,
                                    echo=echo, framework=self.framework, installed_database=self.database,
                                    earlier=self.earlier, delete_excluded=self.delete_excluded,
                                    max_delete=self.max_delete, terminate=self.terminate,
                                    receive_deleted=receive_deleted, requirements_checked=True)
        except BaseException:
            self.abandon()
            raise

    def abandon(self) -> None:
        """The transfer (or the install) failed: roll back a database installed early."""
        if self.database is not None:
            self.database.rollback()
            self.database = None

    def close(self) -> None:
        """Release the project's install lock (after :meth:`finish` or :meth:`abandon`)."""
        if self._lock is not None:
            folderlock.release(self._lock)
            self._lock = None
