"""Installing a SQLite dump by replacing the database file atomically, and rolling it back.

The dump is written to a temporary file next to the target (``.<file>.synco-new``), checked
with ``PRAGMA integrity_check`` and against the manifest, flushed to disk, and renamed over the target in
one atomic step. The previous file is kept as ``<file>.synco-previous`` for :func:`rollback_database`: a
hard link made under a temporary name and renamed into place, so that name always holds a whole file.
A kill at any moment leaves the target whole (the old file or the new one) and at most a temporary file,
which the next install or rollback removes; a rollback that finds one says the interrupted install had not
changed the target, and changes nothing else. Installs and rollbacks in one folder wait for each other
(``flock`` on the folder, released when a killed process's descriptors close).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from synco_core import hookimpl
from synco_core.engines import crashpoints
from synco_core.engines.guard import check_target, refuse_derived_name
from synco_core.engines.rewrite.sqlite import rewrite_database
from synco_core.engines.sqlite.budget import LoadBudget, ReadBudget
from synco_core.engines.sqlite.common import (
    CHUNK,
    ENGINE,
    LOCK_WAIT_SECONDS,
    PREVIOUS_SUFFIX,
    SQLITE_MAGIC,
    database_path,
    fingerprint,
    first_problems,
    integrity_status,
    quote,
    user_tables,
    virtual_tables,
)
from synco_core.engines.sqlite.gate import ScriptGate
from synco_core.engines.sqlite.writelock import writers_shut_out
from synco_core.errors import ConfigError, DatabaseError, SyncoError
from synco_core.fsutil import open_private
from synco_core.names import MAX_SEGMENT_BYTES
from synco_core.nospace import is_no_space, no_space
from synco_core.permissions import keep_mode_of, new_database_mode
from synco_core.values import (
    DatabaseConfig,
    InstallOptions,
    InstallResult,
)

log = logging.getLogger(__name__)


def _confirm(database: DatabaseConfig, target: Path, options: InstallOptions, action: str) -> None:
    check_target(database, options, action, "SQLite", "this machine",
                 "The current file is kept for 'synco db rollback'.")


def _lines(dump: BinaryIO, first: bytes) -> Iterator[bytes]:
    """The lines of the stream, read in large blocks (decompressing readers need not support readline).

    A line longer than a block (a long BLOB's hex literal) is gathered in a list and joined once: adding
    each block to it made loading a 200 MB value take minutes.
    """
    partial: list[bytes] = []
    block = first
    while block:
        lines = block.split(b"\n")
        if len(lines) > 1:
            partial.append(lines[0])
            yield b"".join(partial) + b"\n"
            for line in lines[1:-1]:
                yield line + b"\n"
            partial = []
        partial.append(lines[-1])
        block = dump.read(CHUNK)
    last = b"".join(partial)
    if last:
        yield last


def _run_script(conn: sqlite3.Connection, dump: BinaryIO, first: bytes, path: Path) -> None:
    """Run an SQL script statement by statement into ``path`` (``conn``'s file), reading it line by line (never
    whole into memory).

    A script without a single statement (an empty file, one cut before its first line ended, or only
    comments) is refused: it is a dump that failed to be written, and loading it would swap the target for
    an empty database.
    """
    pending: list[str] = []
    statements = 0
    read = 0
    # The script comes from the session: it may fill this database and reach nothing else (gate.py), and
    # make it no bigger, nor work longer, than its own size accounts for (budget.py).
    budget: LoadBudget | None = None
    gate = ScriptGate(lambda action: budget.saw(action) if budget is not None else None)

    def installer_pragma(statement: str) -> None:
        conn.set_authorizer(None)
        try:
            conn.execute(statement)
        finally:
            conn.set_authorizer(gate)

    conn.set_authorizer(gate)
    budget = LoadBudget(conn, installer_pragma, str(path))
    for number, raw in enumerate(_lines(dump, first), start=1):
        read += len(raw)
        try:
            line = raw.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            raise DatabaseError(f"the SQLite dump is neither a database file nor an SQL script: line {number} "
                                "is not UTF-8 text") from None
        pending.append(line)
        # A statement ends at a semicolon: only then is the whole of it looked at again.
        if ";" not in line:
            continue
        statement = "".join(pending)
        if sqlite3.complete_statement(statement):
            budget.allow(read)
            try:
                conn.execute(statement)
            except sqlite3.Error as exc:
                refused = gate.refused or budget.explain(exc)
                if refused is not None:
                    raise DatabaseError(f"refusing the statement ending at line {number} of the SQLite dump: "
                                        f"{refused} (a dump may only create and fill the database it is "
                                        "installed into)") from None
                raise DatabaseError(f"the statement ending at line {number} of the SQLite dump failed: {exc}") from exc
            statements += 1
            pending = []
        else:
            pending = [statement]
    budget.close()
    conn.set_authorizer(None)
    if "".join(pending).strip():
        raise DatabaseError("the SQLite dump is truncated: its last statement has no end")
    if not statements:
        raise DatabaseError("the SQLite dump holds no SQL statement (an empty or unfinished file); nothing was changed")


#: The byte of a ``-shm`` file on which every connection to a database in write-ahead-log mode holds a
#: shared lock for as long as it is open (SQLite's unix VFS, "DMS": the first to open it, and the last to
#: close it, take it exclusively).
_SHM_OPEN_BYTE = 128


def _open_elsewhere(target: Path) -> bool:
    """Whether another process has ``target`` open in write-ahead-log mode: it holds the ``-shm`` file's
    byte :data:`_SHM_OPEN_BYTE`, which this process can then not lock exclusively (tried without waiting,
    and let go at once). A connection in rollback-journal mode holds no lock while idle: it is not seen."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no POSIX locks to look at.
        return False
    try:
        fd = os.open(str(target) + "-shm", os.O_RDWR)
    except OSError:
        return False  # No -shm file (no connection open in WAL mode), or none this user may open.
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SHM_OPEN_BYTE)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, _SHM_OPEN_BYTE)
        return False
    finally:
        os.close(fd)


def _warn_if_open(target: Path, open_elsewhere: bool, previous: Path) -> None:
    if open_elsewhere:
        now = f"now {previous}" if previous.exists() else "now removed"
        log.warning("another process had SQLite database %s open (the application?): it goes on with the database "
                    "it opened (%s) until it opens the file again, and what it writes meanwhile is not in %s; "
                    "restart it", target, now, target)


def _remove_sidecars(target: Path) -> None:
    # An empty -wal/-shm of the replaced file must not be paired with the new one.
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(target) + suffix).unlink()


def _target(database: DatabaseConfig) -> Path:
    """The file the database is in: a symbolic link's destination, not the link.

    The new file is renamed over this path, in its own folder, so that the file every user of the database
    opens (through the link or by its own name) is the one replaced, and the link stays a link. Renaming
    over the link itself replaced the link with a plain file and left the database it pointed to as it was.
    """
    path = database_path(database)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    # Named as another file's kept copy or temporary file, its install would replace what that one keeps.
    refuse_derived_name(path.name, OWN_FILES, "SQLite", str(path.parent), fold_case=True)
    if _name_bytes(path.name + SQLITE_SIDECAR) > MAX_SEGMENT_BYTES:
        # SQLite could not make the file's journal (NAME-journal) beside it: no write to it would ever work.
        raise ConfigError(f"cannot use SQLite database {path}: its file name is {_name_bytes(path.name)} bytes long, "
                          f"and SQLite's journal beside it ({SQLITE_SIDECAR}) would exceed the "
                          f"{MAX_SEGMENT_BYTES} bytes a file name may have; use a name of at most "
                          f"{MAX_SEGMENT_BYTES - len(SQLITE_SIDECAR)} bytes; nothing was changed")
    return path


def _check_replaceable(target: Path) -> None:
    """Refuse a target that is not an SQLite database file (an empty file is one, to SQLite).

    A database URL naming the wrong file (a folder, notes, a config file) must not have it swapped out for
    a database. Checked before anything is written: the refusal used to come only after the whole dump was
    loaded beside it, as a bare "file is not a database", leaving the loaded copy behind.
    """
    if not os.path.lexists(target):
        return
    if not target.is_file():
        raise DatabaseError(f"cannot install into {target}: it is not a file")
    try:
        with target.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise DatabaseError(f"cannot install into {target}: {exc.strerror}") from exc
    if head and head != SQLITE_MAGIC:
        raise DatabaseError(f"cannot install into {target}: it is not an SQLite database (no SQLite header); "
                            "nothing was changed: move it away or name another file")


#: The files beside a target, by suffix (``.<file>.synco-new`` ...): what each holds (a target may not be named so).
OWN_FILES = {PREVIOUS_SUFFIX: "the previous content", ".synco-new": "the new file an install writes",
             ".synco-keep": "the previous content while it is being kept", ".synco-swap": "what a rollback takes out"}


def _side_files(target: Path) -> tuple[Path, Path, Path, Path]:
    """The new file being written, the kept copy, the kept copy's temporary name, a rollback's side name.

    The new file is opened for writing, so SQLite makes its ``-journal`` beside it: its name leaves room for
    that. Each name is shortened with a hash of the target's where it would not fit (:func:`_side_name`).
    """
    return (_side_name(target, ".", ".synco-new", SQLITE_SIDECAR), _side_name(target, "", PREVIOUS_SUFFIX),
            _side_name(target, ".", ".synco-keep"), _side_name(target, ".", ".synco-swap"))


#: The longest name SQLite gives a database's own files beside it (``-journal``; ``-wal`` and ``-shm`` are shorter).
SQLITE_SIDECAR = "-journal"


def _name_bytes(name: str) -> int:
    return len(name.encode("utf-8", "surrogateescape"))


def _side_name(target: Path, prefix: str, suffix: str, room: str = "") -> Path:
    """``prefix + target's name + suffix`` beside the target, as long as that (and ``room`` after it) fits in a
    file name (:data:`MAX_SEGMENT_BYTES`); otherwise the target's name is cut (never inside a character) and
    a hash of the whole name put after it, so that two long targets in one folder keep files of their own.
    Before, such a name was refused by the file system late: the load failed as "unable to open database file"."""
    name = f"{prefix}{target.name}{suffix}"
    if _name_bytes(name + room) <= MAX_SEGMENT_BYTES:
        return target.with_name(name)
    digest = hashlib.sha256(target.name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    head = target.name
    while head and _name_bytes(f"{prefix}{head}~{digest}{suffix}{room}") > MAX_SEGMENT_BYTES:
        head = head[:-1]
    return target.with_name(f"{prefix}{head}~{digest}{suffix}")


@contextlib.contextmanager
def _folder_lock(target: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the target's folder (where there is one: not on Windows)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows has no flock; installs there are not serialised.
        yield
        return
    descriptor = os.open(target.parent, os.O_RDONLY)
    try:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SyncoError(f"another synco command is installing into or rolling back {target}; try again "
                                     "when it is done") from None
                time.sleep(0.2)
        yield
    finally:
        os.close(descriptor)


def _sync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable (a rename is in the folder, not in the file)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _recover(target: Path) -> str | None:
    """Finish or undo what an interrupted install or rollback left next to ``target``.

    Returns a sentence for the user when what it found leaves nothing more to do for a rollback: an
    install interrupted before it replaced the target (which is as it was), or a rollback interrupted after
    it did (which is then completed). None when there was nothing to do, or only the side link of a
    rollback that had not replaced the target yet (a rollback then does it in full).
    """
    temp, previous, keeping, side = _side_files(target)
    with contextlib.suppress(FileNotFoundError):
        keeping.unlink()
    note = None
    if os.path.lexists(side):
        if os.path.lexists(previous):
            side.unlink()
        else:
            # The rollback had put the kept file in place; the replaced one becomes the kept copy.
            os.replace(side, previous)
            _sync_folder(target.parent)
            note = (f"an interrupted rollback of SQLite database {target} was completed: it holds the content "
                    "from before the last install")
    if os.path.lexists(temp):
        temp.unlink()
        note = f"an interrupted install had not changed SQLite database {target} yet: it is as it was"
    return note


def _write_new(temp: Path, dump: BinaryIO, options: InstallOptions) -> tuple[int, int, int | None]:
    """Write the dump to ``temp``, check it and apply the install's value rewriter; returns (tables, rows,
    values rewritten: None without a rewriter)."""
    if options.format not in ("sqlite", "sql", "native"):
        raise ConfigError(f"the SQLite engine loads 'sqlite' or 'sql' dumps, not {options.format!r}")
    # The content decides, not the recorded format: a compressed database file arrives as a stream
    # whose name says nothing, and a script never starts with the SQLite file header.
    first = dump.read(len(SQLITE_MAGIC))
    # The loaded copy holds the production data: its owner's alone until it gets the target's mode.
    open_private(temp).close()
    if first == SQLITE_MAGIC:
        with temp.open("wb") as fh:
            fh.write(first)
            shutil.copyfileobj(dump, fh, CHUNK)
    elif options.format == "sqlite":
        raise DatabaseError("the SQLite dump is not a database file (wrong header)")
    else:
        with contextlib.closing(sqlite3.connect(temp, isolation_level=None)) as conn:
            _run_script(conn, dump, first, temp)
    with contextlib.closing(sqlite3.connect(temp, isolation_level=None)) as conn:
        try:
            status = integrity_status(conn)
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"the SQLite dump is damaged: {exc}") from exc
        if status != ["ok"]:
            raise DatabaseError(f"the SQLite dump failed PRAGMA integrity_check: {first_problems(status)}")
        tables = user_tables(conn)
        # The dump may come from a hostile server: reading it may take no more than its size accounts for.
        reading = ReadBudget(temp.stat().st_size)
        for table, expected in options.manifest.items():
            if table not in tables:
                raise DatabaseError(f"verification failed: table {table!r} of the dump is missing after loading")
            try:
                with reading.limiting_values(conn):
                    found = fingerprint(conn, table, reading.spend)
            except sqlite3.DatabaseError as exc:
                raise DatabaseError(f"verification failed: table {table!r} of the dump cannot be read after "
                                    f"loading: {reading.explain(exc)}") from exc
            if found.rows != expected.rows or (expected.checksum and found.checksum != expected.checksum):
                raise DatabaseError(f"verification failed: table {table!r} differs from the dump "
                                    f"({found.rows} rows, the dump had {expected.rows})")
        if not options.manifest:
            rows = sum(_count_rows(conn, table) for table in tables)
        else:
            rows = sum(m.rows for m in options.manifest.values())
        rewritten = None
        if options.rewriter is not None:
            # Verified as it arrived; rewritten before anything is swapped in.
            rewritten = rewrite_database(conn, tables, options.rewriter)
        if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            conn.execute("PRAGMA journal_mode = DELETE")
        # A database in write-ahead-log mode stays in it (the application may rely on it): closing the only
        # connection folds the log into the file and removes it, so the file renamed into place is whole.
    if os.path.lexists(f"{temp}-wal"):
        raise DatabaseError(f"cannot install into {temp.parent}: the loaded copy's write-ahead log was not folded "
                            "back into it")
    with temp.open("rb+") as fh:
        os.fsync(fh.fileno())
    return len(tables), rows, rewritten


def _count_rows(conn: sqlite3.Connection, table: str) -> int:
    """The rows of ``table``; 0 for a virtual table whose module only the application has."""
    try:
        return int(conn.execute(f"SELECT count(*) FROM {quote(table)}").fetchone()[0])
    except sqlite3.OperationalError:
        if table not in virtual_tables(conn):
            raise
        return 0


def _keep(target: Path, previous: Path, keeping: Path, descriptors: contextlib.ExitStack) -> None:
    """``previous`` becomes the target's current file, in one rename (it never names a partial file).

    ``descriptors`` closes the target's descriptor a copy opens, once the write lock is let go
    (:func:`.writelock.writers_shut_out`).
    """
    with contextlib.suppress(FileNotFoundError):
        keeping.unlink()
    # A hard link keeps the old content under the backup name while the rename of the new file swaps the
    # target in one atomic step; where links are not possible, a copy does the same job.
    try:
        os.link(target, keeping)
    except OSError:
        source = descriptors.enter_context(target.open("rb"))
        with keeping.open("wb") as copy:
            shutil.copyfileobj(source, copy, CHUNK)
        shutil.copystat(target, keeping)
    os.replace(keeping, previous)


def _shut_out_writers(target: Path, held: contextlib.ExitStack, doing: str = "install into") -> contextlib.ExitStack:
    """Hold the target's write lock until ``held`` closes (:mod:`.writelock`); the stack of its descriptors.

    ``doing``: what cannot be done, for the one line (``install into``, ``roll back``)."""
    try:
        return held.enter_context(writers_shut_out(target, LOCK_WAIT_SECONDS))
    except DatabaseError:
        raise
    except sqlite3.DatabaseError as exc:
        # Damaged beyond reading its write-ahead log: nothing is replaced.
        raise DatabaseError(f"cannot {doing} {target}: the database there cannot be read ({exc}); "
                            "nothing was changed") from exc


def _replace(target: Path, new: Path, previous: Path | None) -> None:
    """Rename ``new`` over the target and remove the replaced file's ``-wal``/``-shm`` (``previous``: its kept
    copy, None when there was no target)."""
    os.replace(new, target)
    _sync_folder(target.parent)
    crashpoints.reached("sqlite:install:replaced")
    try:
        _remove_sidecars(target)
    except OSError as exc:
        # The new file is in place, but the replaced one's -wal/-shm would be paired with it. The install
        # fails, so it must change nothing: the journal's undo counts on a failed engine install having
        # left the target as it was.
        raise _put_back(target, previous, exc) from exc


@hookimpl(trylast=True)
def install_database(database: DatabaseConfig, dump: BinaryIO, options: InstallOptions) -> InstallResult | None:
    if database.engine != ENGINE:
        return None
    target = _target(database)
    _check_replaceable(target)
    if target.exists():
        _confirm(database, target, options, "replace")
    try:
        return _install(target, dump, options)
    except OSError as exc:
        # A read-only folder or file system, a full disk: one line naming the file, the target untouched.
        raise DatabaseError(f"cannot install into {target}: {exc.strerror or exc} ({exc.filename or target})") from exc


def _install(target: Path, dump: BinaryIO, options: InstallOptions) -> InstallResult:
    target.parent.mkdir(parents=True, exist_ok=True)
    temp, previous, keeping, _ = _side_files(target)
    with _folder_lock(target):
        recovered = _recover(target)
        if recovered:
            log.warning("%s", recovered[0].upper() + recovered[1:])
        backup = None
        try:
            tables, rows, rewritten = _write_new(temp, dump, options)
            crashpoints.reached("sqlite:install:written")
            if options.before_swap is not None:
                options.before_swap()
            # A running application keeps the file it opened: the install cannot make it open the new one.
            # Looked at before this process opens the target: the look closes a descriptor of the -shm file,
            # which would drop the locks of this process's own connection to it.
            open_elsewhere = _open_elsewhere(target)
            with contextlib.ExitStack() as held:
                if target.exists():
                    _keep(target, previous, keeping, _shut_out_writers(target, held))
                    crashpoints.reached("sqlite:install:kept")
                    backup = str(previous)
                if backup is None:
                    os.chmod(temp, new_database_mode())
                else:
                    keep_mode_of(temp, previous)
                _replace(target, temp, previous if backup else None)
        except BaseException as exc:
            # Up to the rename the target is as it was: the loaded copy (as large as the database, on a disk
            # that may be full) and the kept copy's temporary link go with the failure, not at the next run.
            written = temp.stat().st_size if temp.is_file() else 0
            for leftover in (temp, keeping):
                with contextlib.suppress(OSError):
                    leftover.unlink()
            if isinstance(exc, Exception) and is_no_space(exc):
                raise no_space(target.parent, f"the loaded copy of SQLite database {target.name}",
                               more_than=written) from exc
            raise
        _warn_if_open(target, open_elsewhere, previous)
    return InstallResult(engine=ENGINE, database=str(target), tables=tables, rows=rows, backup=backup,
                         rewritten_values=rewritten)


def _put_back(target: Path, previous: Path | None, exc: OSError) -> DatabaseError:
    """Undo the rename of an install that failed after it (``previous``: the replaced file's kept copy, None
    when the install created the target); the error to raise, saying what the target holds now."""
    failed = f"cannot install into {target}: cannot remove {exc.filename or target} ({exc.strerror or exc})"
    try:
        if previous is not None:
            os.replace(previous, target)
        else:
            target.unlink()
        _sync_folder(target.parent)
    except OSError as again:
        return DatabaseError(f"{failed}, and putting the previous content back failed too ({again.strerror or again}): "
                             f"{target} holds the new content")
    return DatabaseError(f"{failed}; the database is as it was")


def _check_kept(target: Path, previous: Path) -> None:
    """Refuse a kept copy that is not a whole database other than the target itself."""
    if not previous.is_file():
        raise SyncoError(f"nothing to roll back: {previous} does not exist")
    if target.exists() and os.path.samefile(target, previous):
        raise SyncoError(f"nothing to roll back: {previous} is the current database itself (an install was "
                         "stopped before it replaced the target)")
    try:
        with contextlib.closing(sqlite3.connect(f"{previous.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            status = integrity_status(conn, "quick_check")
    except sqlite3.DatabaseError as exc:
        raise SyncoError(f"cannot roll back: the kept copy {previous} is not a whole SQLite database ({exc}); "
                         "nothing was changed") from exc
    if status != ["ok"]:
        raise SyncoError(f"cannot roll back: the kept copy {previous} is damaged ({first_problems(status)}); "
                          "nothing was changed")


@hookimpl(trylast=True)
def check_install_target(database: DatabaseConfig, options: InstallOptions) -> bool | None:
    """The install writes ``.<name>.synco-new`` beside the file and renames it over: the folder must take it."""
    if database.engine != ENGINE:
        return None
    target = _target(database)
    _check_replaceable(target)
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise DatabaseError(f"cannot install into {target}: {folder} is not a folder this user may write to")
    return True


@hookimpl(trylast=True)
def discard_kept_database(database: DatabaseConfig, options: InstallOptions) -> bool | None:
    if database.engine != ENGINE:
        return None
    target = _target(database)
    _, previous, _, _ = _side_files(target)
    if not target.parent.is_dir():
        return True
    with _folder_lock(target):
        recovered = _recover(target)
        if recovered:
            log.warning("%s", recovered[0].upper() + recovered[1:])
        if os.path.lexists(previous):
            previous.unlink()
            _sync_folder(target.parent)
    return True


@hookimpl(trylast=True)
def rollback_database(database: DatabaseConfig, options: InstallOptions) -> InstallResult | None:
    if database.engine != ENGINE:
        return None
    target = _target(database)
    _, previous, _, side = _side_files(target)
    with _folder_lock(target) if target.parent.is_dir() else contextlib.nullcontext():
        recovered = _recover(target)
        if recovered is not None or options.repair_only:
            tables = _count_tables(target)
            return InstallResult(engine=ENGINE, database=str(target), tables=tables,
                                 backup=str(previous) if previous.exists() else None,
                                 note=recovered[0].upper() + recovered[1:] if recovered else "")
        if options.drop_created and not os.path.lexists(previous):
            # The install created the file: nothing was there before it.
            _confirm(database, target, options, "roll back")
            target.unlink(missing_ok=True)
            _remove_sidecars(target)
            _sync_folder(target.parent)
            return InstallResult(engine=ENGINE, database=str(target), tables=0, backup=None,
                                 note=f"Removed SQLite database {target}: the install had created it")
        _check_kept(target, previous)
        _confirm(database, target, options, "roll back")
        # Looked at before this process opens the target (see _install).
        open_elsewhere = _open_elsewhere(target)
        with contextlib.ExitStack() as held:
            if target.exists():
                _shut_out_writers(target, held, doing="roll back")
                with contextlib.suppress(FileNotFoundError):
                    side.unlink()
                os.link(target, side)
                crashpoints.reached("sqlite:rollback:linked")
            # The rename puts the previous file in place atomically; the replaced one becomes the new backup,
            # so a second rollback undoes the first.
            os.replace(previous, target)
            _sync_folder(target.parent)
            crashpoints.reached("sqlite:rollback:replaced")
            _remove_sidecars(target)
        _warn_if_open(target, open_elsewhere, previous)
        if side.exists():
            if options.discard_replaced:
                side.unlink()
            else:
                os.replace(side, previous)
            _sync_folder(target.parent)
        tables = _count_tables(target)
    return InstallResult(engine=ENGINE, database=str(target), tables=tables,
                         backup=str(previous) if previous.exists() else None)


def _count_tables(target: Path) -> int:
    if not target.is_file():
        return 0
    with contextlib.closing(sqlite3.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        return len(user_tables(conn))
