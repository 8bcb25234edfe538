"""``receive_session``: from a transport and a key to a target folder holding the chosen file sets.

Layout of the target folder (what ``synco install DIR`` reads):

- ``<set>.sql`` (or ``.sqlite``, or ``.<format>``) per database dump, decrypted and decompressed;
- ``<set>/`` per public or private file set;
- ``.synco-received.json``: the session's meta as received plus, per set, the local path and the
  checksums that let a rerun skip what is already there.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from synco_core import folderlock, hostilejson
from synco_core.engines.default_files import carry_excluded
from synco_core.errors import ConfigError, CryptoError, SyncoError, TransferError, UnsafePathError
from synco_core.fsutil import atomic_output, open_private
from synco_core.globs import ExcludeMatcher
from synco_core.names import MAX_SET_NAME, safe_name
from synco_core.nospace import NoSpaceError, no_space
from synco_core.origins import RefusedRequestError
from synco_core.progress import Reporter
from synco_core.receive.artifact import ArtifactSpec, receive_artifact
from synco_core.receive.compare import TodoSpool, name_folding
from synco_core.receive.deletions import (
    RunDeletions,
    RunRefusedError,
    SetDeletions,
    run_refusal,
    unavailable_refusal,
)
from synco_core.receive.files import PART_SUFFIX
from synco_core.receive.interception import InterceptedError, SiteWitness
from synco_core.receive.kept import keep_matcher
from synco_core.receive.knownhashes import KnownHashes, known_hashes_file
from synco_core.receive.leftovers import tidy
from synco_core.receive.limits import NotDeclaredError, SizeExceededError
from synco_core.receive.merged import MergedSet, folder_times_kept, merge_with_folder
from synco_core.receive.meta import (
    check_not_earlier,
    identities_for,
    wait_ready,
)
from synco_core.receive.otherproject import check_same_project, project_to_note
from synco_core.receive.packfetch import PackSource
from synco_core.receive.public import (
    DeleteLimitError,
    deletes_in,
    receive_public_files,
    removable,
    remove_empty_folders,
)
from synco_core.receive.public_index import fetch_pack_table, open_index, scratch_folder
from synco_core.receive.staging import receiving_folder
from synco_core.receive.tarsafe import extract_stream
from synco_core.receive.transport import NotFoundError, Transport
from synco_core.receive.treedigest import artifact_state, tree_record, unchanged_tree
from synco_core.recordversion import RECORD_VERSION, newer_record, record_version
from synco_core.trees import remove_tree
from synco_core.wire import (
    META_FILE,
    DumpInfo,
    Meta,
    NewerFormatError,
    PackInfo,
    PrivateFilesInfo,
    PublicFilesInfo,
    PublicIndexEntry,
    WireFileSet,
    WireFormatError,
    session_folder_name,
)

log = logging.getLogger(__name__)


RECEIVED_FILE = ".synco-received.json"


@dataclass
class ReceiveOptions:
    """How to receive."""

    target: Path = Path("dump")
    #: Names of the sets wanted; empty together with ``all`` False means "ask ``choose``, else all".
    only: tuple[str, ...] = ()
    all: bool = False
    jobs: int = 8
    delete: bool = False
    #: ``--delete-excluded``: remove the local files serve's exclude rules match too (:mod:`.kept`); without
    #: it they are the laptop's own and stay, whatever else is removed or replaced.
    delete_excluded: bool = False
    #: Seconds to wait for the session to become Ready.
    timeout: float = 600.0
    poll_interval: float = 1.0
    #: Interactive chooser: gets the sets, returns the names wanted.
    choose: Callable[[list[WireFileSet]], list[str]] | None = None
    #: Called with the target and the set's ``.synco-received.json`` entry as each set is complete
    #: (``--install`` starts loading the database while the files still arrive).
    on_set_arrived: Callable[[Path, dict[str, Any]], None] | None = None
    #: A dump that already arrived another way (``synco pull`` streams it during the build): given the
    #: set, returns its complete plaintext file, checked against the set's size and SHA-256, which is
    #: moved into place instead of downloading the artifact; None downloads it as usual.
    prefetched: Callable[[WireFileSet], Path | None] | None = None
    #: Sets that are not in the meta because they were still being made when it was written (``synco pull``
    #: streams the dump beside the files): called once the meta's sets are done, returns them (waiting for
    #: them as needed); they are then received like the others. Errors it raises end the receive.
    late_sets: Callable[[], list[WireFileSet]] | None = None
    #: False when the session cannot be received again (``synco pull`` makes a new one each time): what a
    #: full disk cut short is then removed instead of kept for a run that would continue it.
    resumable: bool = True
    #: ``--other-project``: receive a session of another project than the one the target holds.
    other_project: bool = False
    #: ``--max-delete N``: with ``delete``, a public set that would lose more than N local files is refused,
    #: nothing of it changed; None: only a set the server lists no file in is refused (:func:`delete_refusal`).
    max_delete: int | None = None
    #: Told the meta once the session passed every check that refuses it as a whole (expiry, format, what
    #: must be understood, another project, an earlier session), before anything in the target changes: a
    #: pull starts loading its streamed dump only then.
    on_accepted: Callable[[Meta], None] | None = None


@dataclass
class SetOutcome:
    name: str
    type: str
    status: str  # "downloaded", "skipped", "failed", "partial"
    detail: str = ""
    bytes: int = 0
    files_downloaded: int = 0
    files_skipped: int = 0
    files_failed: list[tuple[str, str]] = field(default_factory=list)
    #: The failed files the server will not give (HTTP 403/404: denied, or removed since serve).
    files_missing: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    removed: int = 0
    #: Why a failed set failed when running again cannot help: ``gone`` (the session is no longer on the
    #: server), ``refused`` (what arrived is damaged, unsafe or not what the meta declares), ``in-the-way``
    #: (a local file or folder the server does not have is where its files go: ``--delete`` frees it) or ``same-name``
    #: (files the target's file system takes for others, names differing only in case, or whose names it
    #: cannot hold, ``a:b.jpg`` on exFAT); "" otherwise.
    cause: str = ""
    #: Public files that arrived without a content hash in the index (Go synco v2): checked by size only.
    size_checked: int = 0
    #: Files or folders serve found in the set's folder and left out (its output names them).
    left_out_by_serve: int = 0
    #: Local files the server does not list that its exclude rules match: kept (public sets; :mod:`.kept`).
    kept: int = 0
    #: Local entries of a private set's previous copy that its exclude rules match, carried into the new one.
    kept_entries: int = 0

    @property
    def only_missing(self) -> bool:
        """True for a public set that is complete but for files the server will not give."""
        return self.status == "partial" and len(self.files_missing) == len(self.files_failed) > 0


#: :attr:`SetOutcome.cause` of a set some of whose files the target's file system cannot tell from others.
SAME_NAME = "same-name"
#: :attr:`SetOutcome.cause` of a set whose failed files all have a local file or folder in their way.
IN_THE_WAY = "in-the-way"
#: :attr:`SetOutcome.cause` of a set written in a form only a newer synco reads (:class:`NewerFormatError`).
NEWER = "newer"
#: :attr:`SetOutcome.cause` of a public set whose folder serve could not read (``unavailable`` in the meta).
UNAVAILABLE = "unavailable"
#: :attr:`SetOutcome.cause` of a public set ``--delete`` would take more local files of than allowed.
DELETE_LIMIT = "delete-limit"


@dataclass
class ReceiveSummary:
    """What a receive did; ``ok`` is False when anything failed."""

    session: str
    target: Path
    meta: Meta
    sets: list[SetOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(outcome.status in ("downloaded", "skipped") for outcome in self.sets)

    @property
    def bytes(self) -> int:
        """The bytes that came over the network (not what resumed downloads already held)."""
        return sum(outcome.bytes for outcome in self.sets)

    def deletions(self) -> RunDeletions:
        """What this receive's ``--delete`` removed, for an install of the same run to count once
        (:class:`~synco_core.receive.deletions.RunDeletions`)."""
        found = RunDeletions()
        for outcome in self.sets:
            if outcome.removed:
                paths = frozenset(path for path in outcome.vanished if not path.endswith(PART_SUFFIX))
                found.paths[outcome.name] = paths
                found.total += len(paths)
        return found

    @property
    def missing(self) -> list[str]:
        """``set/path`` of every file the server would not give."""
        return [f"{outcome.name}/{path}" for outcome in self.sets for path in outcome.files_missing]

    @property
    def complete_but_missing(self) -> bool:
        """True when everything arrived except files the server will not give (installable on request)."""
        failed = [outcome for outcome in self.sets if outcome.status not in ("downloaded", "skipped")]
        return bool(failed) and all(outcome.only_missing for outcome in failed)

    @property
    def retryable(self) -> bool:
        """True when something failed and running the same command again may finish it."""
        failed = [outcome for outcome in self.sets if outcome.status not in ("downloaded", "skipped")]
        return bool(failed) and not self.complete_but_missing and not any(outcome.cause for outcome in failed)

    def advice(self) -> str:
        """What to do next, in words: never "run it again" when that cannot help."""
        failed = [outcome for outcome in self.sets if outcome.status not in ("downloaded", "skipped")]
        if not failed:
            return "all done."
        if self.complete_but_missing:
            return (f"complete but for {len(self.missing)} public file(s) the server would not give; running "
                    "again will not fetch them.")
        if any(outcome.cause == "gone" for outcome in failed):
            return ("the session is gone from the server (serve stopped, or its time to live ran out): start "
                    "serve again and receive the new session.")
        if any(outcome.cause == UNAVAILABLE for outcome in failed):
            return ("the server could not read the folder of a set (see above), so nothing of that set was changed "
                    "here; running again will get the same until the folder is there (mount the share on the "
                    "server, then serve again), or leave the set out with --only.")
        if any(outcome.cause == DELETE_LIMIT for outcome in failed):
            return ("--delete would remove more local files of a set than allowed (see above), so nothing of that "
                    "set was changed; running again will get the same: check the server's folder, or pass "
                    "--max-delete N to allow it.")
        if any(outcome.cause == NEWER for outcome in failed):
            return ("part of the session is in a form only a newer synco reads (see above); running the same "
                    "command again would get the same: upgrade synco on this machine, then receive again.")
        if any(outcome.cause == "refused" for outcome in failed):
            return ("what the server sent was refused (see above); running the same command again would get the "
                    "same: ask for a new session, or check the server (and any cache or CDN in front of it).")
        if all(outcome.cause == SAME_NAME for outcome in failed):
            return ("the files named above were not written, as the target's file system takes each for another "
                    "file whose name differs only in case (or in how an accented letter is encoded), or cannot "
                    "hold its name; running again will not write them: receive into a folder on a case-sensitive "
                    "file system that takes any name (ext4, APFS case-sensitive) to get them.")
        if all(outcome.cause == IN_THE_WAY for outcome in failed):
            return ("local files the server does not have are in the way of the files named above (a file where "
                    "the server now has a folder, a folder of local files where it has a file); running again "
                    "will not write them: receive with --delete to remove what the server does not have, or "
                    "move them away.")
        return "some sets failed; run the same command again to continue."


def local_name(file_set: WireFileSet) -> str:
    """Where a set lands in the target: ``<name>.sql`` / ``.sqlite`` for dumps, ``<name>`` for folders.

    Built from the set's name (which passes the naming rule of :mod:`synco_core.names`) and, for a dump,
    an extension chosen here: ``sql`` or ``sqlite`` for the formats synco knows, the format itself only
    for an engine's own format, and only when it is a plain name too.
    """
    name = safe_name(file_set.name, "file set name", MAX_SET_NAME)
    if file_set.dump is not None:
        return f"{name}.{dump_format(file_set)}"
    return name


def dump_format(file_set: WireFileSet) -> str:
    """The dump's format (``sql``, ``sqlite``, or a third-party engine's own name), checked as a name."""
    assert file_set.dump is not None
    fmt = file_set.dump.format or ("sqlite" if file_set.type == "SqliteDump" else "sql")
    return fmt if fmt in ("sql", "sqlite") else safe_name(fmt, "dump format", 32)


def _pack_source(transport: Transport, folder: str, public: PublicFilesInfo,
                 identities: Sequence[Any]) -> PackSource | None:
    """The set's packs (their table fetched when first needed), or None when it has none."""
    if not public.packs_file_name:
        return None

    def load() -> list[PackInfo]:
        try:
            return fetch_pack_table(transport, folder, public, identities)
        except (TransferError, CryptoError) as exc:
            log.warning("the pack table of %s cannot be read (%s); fetching its files one by one", folder, exc)
            return []

    return PackSource(folder, load)


def choose_sets(meta: Meta, options: ReceiveOptions) -> list[WireFileSet]:
    """The sets to receive: ``--only``, else ``--all``, else the chooser, else all of them."""
    supported = [s for s in meta.file_sets if s.dump or s.public or s.private]
    if options.only:
        names = {s.name for s in meta.file_sets}
        unknown = [name for name in options.only if name not in names]
        if unknown:
            raise ConfigError(f"unknown file set(s): {', '.join(unknown)}; the session has: "
                              f"{', '.join(s.name for s in meta.file_sets) or 'none'}")
        return [s for s in supported if s.name in options.only]
    if options.all or options.choose is None:
        return supported
    wanted = set(options.choose(supported))
    return [s for s in supported if s.name in wanted]


class _State:
    """``.synco-received.json``: what is in the target and where it came from."""

    def __init__(self, target: Path) -> None:
        self.path = target / RECEIVED_FILE
        self.data: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            loaded = hostilejson.loads(self._read())
            if isinstance(loaded, dict):
                self.data = loaded
        if newer_record(self.data):
            # A newer synco's record would be half carried over into this one's: refused before any download.
            record_version(self.data, self.path, "receive record")
        sets = self.data.get("fileSets")
        self.sets: dict[str, dict[str, Any]] = {}
        if isinstance(sets, list):
            for entry in sets:
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    self.sets[entry["name"]] = entry

    def _read(self) -> bytes:
        """The record's bytes (a damaged one is no record: everything is compared again).

        Anything but a file under its name is refused in one line before anything is downloaded: a FIFO
        had the receive wait for ever, a folder had every set fail after its download, named as the
        record's temporary file.
        """
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
        except OSError:
            os.close(fd)
            raise
        if not regular:
            os.close(fd)
            raise ConfigError(f"{self.path} is not a file: remove it (it is where receive notes what it received)")
        with open(fd, "rb") as handle:
            return handle.read()

    def previous(self, name: str) -> dict[str, Any] | None:
        return self.sets.get(name)

    def record(self, session: str, meta: Meta, file_set: WireFileSet, local: str, **extra: Any) -> dict[str, Any]:
        """Note ``file_set`` as received (saved at once); returns its entry."""
        wire = file_set.to_json()
        detail = file_set.dump or file_set.public or file_set.private
        entry: dict[str, Any] = {
            "name": file_set.name,
            "type": file_set.type,
            "kind": "database" if file_set.dump else ("public" if file_set.public else "private"),
            "path": local,
            "relativeBasePath": file_set.relative_base_path,
            "session": session,
            "artifact": getattr(detail, "file_name", None) or getattr(detail, "tar_uri", None)
            or getattr(detail, "index_file_name", None),
            "receivedAt": int(time.time()),
        }
        if file_set.dump:
            entry.update({"engine": file_set.dump.engine, "format": dump_format(file_set),
                          "serverVersion": file_set.dump.server_version,
                          "tables": file_set.dump.to_json().get("tables", {}),
                          "sanitizeRules": list(file_set.dump.sanitize_rules),
                          "sourceSettings": file_set.dump.source_settings,
                          "sha256": file_set.dump.sha256, "sizeBytes": file_set.dump.size_bytes})
        if file_set.private:
            entry.update({"sha256": file_set.private.sha256, "sizeBytes": file_set.private.size_bytes})
        entry.update(extra)
        entry["wire"] = wire
        self.sets[file_set.name] = entry
        self.save(session, meta)
        return entry

    def save(self, session: str, meta: Meta) -> None:
        project = project_to_note(self.data, meta)
        self.data = {
            "version": RECORD_VERSION,
            "session": session,
            "frameworkName": meta.framework_name,
            "fileSets": list(self.sets.values()),
        }
        if project is not None:
            self.data["project"] = project
        if meta.created_at is not None:
            # An earlier serve of this session's name is refused from now on (check_not_earlier).
            self.data["createdAt"] = meta.created_at
        # Through a part file removed on failure: a full disk left a half-written one behind.
        with atomic_output(self.path, ".part", private=True) as out:
            out.write((json.dumps(self.data, indent=2) + "\n").encode())


def _already_there(previous: dict[str, Any] | None, session: str, file_set: WireFileSet, path: Path) -> bool:
    """True when ``path`` holds exactly this artifact from an earlier receive (no need to ask the server)."""
    if previous is None or not path.exists():
        return False
    # As that receive left it (a dump cut short or edited, a private file changed, added or removed since is
    # fetched again). A record of a synco that did not note it counts as changed: fetched once more.
    noted = previous.get("localState")
    if not isinstance(noted, str) or noted != artifact_state(path):
        return False
    detail = file_set.dump or file_set.private
    if detail is None:
        return False
    if detail.sha256:
        # Same content, whichever session brought it (a new session of an unchanged database).
        return bool(previous.get("sha256") == detail.sha256 and previous.get("sizeBytes") == detail.size_bytes)
    # Without a checksum (Go synco sessions) only the very same artifact of the same session counts.
    return bool(previous.get("session") == session and previous.get("wire") == file_set.to_json())


def _remove_tree_or_file(path: Path) -> None:
    remove_tree(path)


def _clear_stale_parts(target: Path, stem: str, keep: Path) -> None:
    """Remove part files a different session left for the same set (they cannot be resumed)."""
    for stale in target.glob(f"{stem}.synco-*.enc.part"):
        if stale != keep:
            stale.unlink(missing_ok=True)


def _artifact_spec(target: Path, folder: str, file_set: WireFileSet, stem: str, remote_name: str,
                   detail: DumpInfo | PrivateFilesInfo) -> ArtifactSpec:
    """What to download for a dump or a private tar; its part file is ``<stem>.<session>.enc.part``, and
    parts other sessions left for the same set are removed (they cannot be resumed)."""
    part_enc = target / f"{stem}.{folder}.enc.part"
    _clear_stale_parts(target, stem, part_enc)
    return ArtifactSpec(
        remote_path=f"{folder}/{remote_name}", part_path=part_enc, encrypted_size=detail.encrypted_size_bytes,
        plain_size=detail.size_bytes, sha256=detail.sha256, compression=detail.compression, label=file_set.name,
    )


def _transferred(detail: DumpInfo | PrivateFilesInfo) -> int:
    """The bytes an artifact takes to arrive (the plaintext size when the encrypted one is not recorded)."""
    return detail.encrypted_size_bytes or detail.size_bytes


def download_bytes(file_set: WireFileSet) -> int:
    """What receiving ``file_set`` downloads: the compressed, encrypted artifact, or a public set's files.

    This is the size the chooser and the plans show, so it matches what the summary counts afterwards
    (a dump's plain size, often three times larger, is not what crosses the network).
    """
    detail = file_set.dump or file_set.private
    if detail is not None:
        return _transferred(detail)
    return file_set.public.size_bytes if file_set.public is not None else 0


def _receive_dump(transport: Transport, folder: str, file_set: WireFileSet, target: Path,
                  identities: Sequence[Any], reporter: Reporter) -> int:
    assert file_set.dump is not None
    dump = file_set.dump
    local = local_name(file_set)
    final = target / local
    plain_part = target / f"{local}.part"
    spec = _artifact_spec(target, folder, file_set, local, dump.file_name, dump)

    def write(stream: BinaryIO) -> None:
        # The decrypted dump is the production database: readable by its owner alone, whatever the umask.
        with open_private(plain_part) as out:
            shutil.copyfileobj(stream, out, 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())

    try:
        with reporter.bytes_task(file_set.name, _transferred(dump)) as advance:
            receive_artifact(transport, spec, identities, write, advance)
        os.replace(plain_part, final)
    finally:
        plain_part.unlink(missing_ok=True)
    return spec.received


def _receive_private(transport: Transport, folder: str, file_set: WireFileSet, target: Path,
                     identities: Sequence[Any], reporter: Reporter, left_out: list[tuple[str, str]],
                     keep: ExcludeMatcher | None = None) -> tuple[int, int]:
    """Receive a private set's tar into its folder, which it replaces whole; returns the bytes received and
    the entries of the previous folder ``keep`` matched, carried into the new one (the laptop's own)."""
    assert file_set.private is not None
    private = file_set.private
    local = local_name(file_set)
    final = target / local
    staging = target / f"{local}.synco-part"
    spec = _artifact_spec(target, folder, file_set, f"{local}.tar", private.tar_uri, private)
    earlier = len(left_out)

    def extract(stream: BinaryIO) -> int:
        # Called again when a part file did not continue into the server's file: from an empty staging folder.
        remove_tree(staging)
        del left_out[earlier:]
        return extract_stream(stream, staging, left_out)

    try:
        with reporter.bytes_task(file_set.name, _transferred(private)) as advance:
            receive_artifact(transport, spec, identities, extract, advance)
        carried = 0
        if os.path.lexists(final):
            old = target / f"{local}.synco-old"
            if old.exists():
                _remove_tree_or_file(old)
            os.replace(final, old)
            if keep is not None and old.is_dir() and not old.is_symlink():
                # Before the old copy goes: what serve's rules left out is the laptop's, not the server's.
                carried = len(carry_excluded(old, staging, keep))
            _remove_tree_or_file(old)
        os.replace(staging, final)
    finally:
        remove_tree(staging, ignore_errors=True)
    return spec.received, carried


def receive_session(
    transport: Transport,
    session: str,
    key: str,
    options: ReceiveOptions,
    reporter: Reporter | None = None,
    meta: Meta | None = None,
) -> ReceiveSummary:
    """Receive ``session`` from ``transport`` into ``options.target``; never raises for one failed set.

    Errors that concern the whole session (wrong key, no session, not ready in time) raise a
    :class:`SyncoError`; a set that fails is recorded in the summary and the others still go on.
    ``meta`` may be passed when the caller fetched it already (locating the server does).
    """
    reporter = reporter or Reporter(enabled=False)
    folder = session_folder_name(session)
    identities = identities_for(key)
    with reporter.spinner(f"waiting for session {folder} to be ready"):
        meta = wait_ready(transport, folder, identities, options.timeout, options.poll_interval, first=meta)
    chosen = choose_sets(meta, options)
    # The summary's time is the transfer's: waiting for Ready and for the user's choice do not count.
    started = time.monotonic()
    target = options.target
    check_local_names(chosen)
    make_target(target)
    # Sets "media" and "Media" are one folder there: each would take the other's files for gone (and
    # remove them with --delete), and fetch its own again at every run.
    check_local_names(chosen, ignoring_case=name_folding(target).case)
    with folderlock.folder_lock(target, folderlock.RECEIVE_LOCK, "using"):
        return _receive_sets(transport, folder, meta, chosen, identities, options, reporter, started)


def check_target_not_shared(target: Path, advice: str = "pass --target FOLDER of your own") -> None:
    """Refuse (one line) a receive folder other users may rearrange, or one to be made in such a folder.

    It holds the decrypted session: another user who owns it, or may write to it without the sticky bit, could
    not read the 0600 dump but could rename it away after its check and put theirs in its place, which an install
    then loads into the local database (as PostgreSQL's superuser, ``COPY ... TO PROGRAM`` runs a command), or
    put links where receive writes; as a ``TMPDIR`` of that kind is refused (:mod:`synco_core.tempfolder`).
    """
    from synco_core.tempfolder import rearrangeable_at

    shared = rearrangeable_at(str(target))
    if shared is not None:
        raise ConfigError(f"the receive folder {target} is in {shared}, which other users may rearrange (writable by "
                          "them without the sticky bit of /tmp, or not yours): they could replace what is received "
                          f"before it is installed; {advice}")


def make_target(target: Path) -> None:
    """Create the receive folder, or say in one line why it cannot be one."""
    check_target_not_shared(target)
    try:
        # A receive folder made here is for its owner alone: other users of the machine never see the data.
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"the receive folder {target} is a file, not a folder; pass --target FOLDER") from None
    except NotADirectoryError:
        raise ConfigError(f"cannot make the receive folder {target}: a part of that path is a file, not a "
                          "folder; pass --target FOLDER") from None
    except OSError as exc:
        raise ConfigError(f"cannot make the receive folder {target}: {exc.strerror}") from None
    # A folder that exists but takes nothing (a read-only disk or mount, another user's folder) failed every
    # set in turn, each with its own error and the advice to run again, which met the same refusal.
    if not os.access(target, os.W_OK | os.X_OK):
        read_only = bool(os.statvfs(target).f_flag & os.ST_RDONLY)
        why = "it is on a read-only file system" if read_only else "this user may not write into it"
        raise ConfigError(f"cannot write into the receive folder {target}: {why}; pass --target FOLDER") from None


def _receive_sets(transport: Transport, folder: str, meta: Meta, chosen: list[WireFileSet], identities: Any,
                  options: ReceiveOptions, reporter: Reporter, started: float) -> ReceiveSummary:
    target = options.target
    state = _State(target)
    check_same_project(state.data, meta, target, options.other_project)
    check_not_earlier(state.data, folder, meta)
    refused = [s for s in meta.file_sets if not (s.dump or s.public or s.private)
               and (not options.only or s.name in options.only)]
    if refused and options.on_set_arrived is not None:
        # An install follows (it takes what arrives), and it installs every set or none: it would be refused at
        # the end, after its database had been loaded early and rolled back and --delete (implied) had
        # emptied the receive folder's copies of what the laptop holds alone.
        raise ConfigError(f"{refused[0].unsupported()}; an install takes every set of the session or none, so "
                          "nothing was received or installed: leave it out with --only, or receive without "
                          "--install")
    with contextlib.ExitStack() as held:
        return _judged_and_received(transport, folder, meta, chosen, identities, options, reporter, started, state,
                                    refused, held)


def _judged_and_received(transport: Transport, folder: str, meta: Meta, chosen: list[WireFileSet], identities: Any,
                         options: ReceiveOptions, reporter: Reporter, started: float, state: _State,
                         refused: list[WireFileSet], held: contextlib.ExitStack[bool | None]) -> ReceiveSummary:
    target = options.target
    # Judged before anything arrives (the database included) and before a pull starts loading its dump: a
    # refusal changes nothing. The merges that counted are kept for the receive (``held`` drops those it
    # never takes).
    quick, merged = _check_run(transport, folder, chosen, identities, options, state, held)
    if options.on_accepted is not None:
        options.on_accepted(meta)
    summary = ReceiveSummary(session=folder, target=target, meta=meta)
    # What --delete removed so far in this run: --max-delete is a total over every set.
    spent = 0
    for unsupported in refused:
        summary.sets.append(SetOutcome(unsupported.name, unsupported.type, "failed",
                                       unsupported.unsupported(), cause=NEWER))
    arrived = options.on_set_arrived or (lambda _target, _entry: None)

    def ordered() -> Iterator[WireFileSet]:
        # The database first: an install can then load it while the files are on their way.
        yield from sorted(chosen, key=lambda chosen_set: chosen_set.dump is None)
        if options.late_sets is not None:
            for late in options.late_sets():
                meta.file_sets.append(late)
                yield late

    for file_set in ordered():
        outcome = SetOutcome(file_set.name, file_set.type, "downloaded")
        summary.sets.append(outcome)
        try:
            local = local_name(file_set)
            if file_set.unavailable is not None:
                # Not an empty set: nothing of it is fetched, removed, recorded or installed (rsync's
                # "change_dir ... failed", which deletes nothing either).
                outcome.status, outcome.cause = "failed", UNAVAILABLE
                outcome.detail = (f"the server could not read its folder ({file_set.unavailable}); nothing of it "
                                  "was changed here")
                continue
            outcome.left_out_by_serve = _left_out_by_serve(file_set, options.delete)
            if file_set.public is not None:
                public = file_set.public
                delete = deletes_in(public, options.delete)
                keep = keep_matcher(file_set, options.delete_excluded)
                tree = quick[file_set.name] if file_set.name in quick else \
                    unchanged_tree(state.previous(file_set.name), public, local, target / local, keep)
                if tree is not None:
                    # The very index received before, and the folder holds exactly what that receive left;
                    # the digest is of files only, so --delete still takes the folders that hold none.
                    if delete:
                        remove_empty_folders(target / local, keep)
                    outcome.status, outcome.detail = "skipped", "all files up to date"
                    outcome.files_skipped = tree["files"]
                    arrived(target, state.record(folder, meta, file_set, local, fileCount=tree["files"], tree=tree))
                    continue
                ready = merged.pop(file_set.name, None)
                with contextlib.ExitStack() as scope:
                    entries: Iterable[tuple[str, PublicIndexEntry]] = ()
                    scratch: Path | None = None
                    packs: PackSource | None = None
                    known: KnownHashes | None = None
                    if ready is not None:
                        scope.callback(ready.close)
                    else:
                        scratch = scope.enter_context(scratch_folder(target))
                        entries = scope.enter_context(open_index(transport, folder, file_set, identities, scratch))
                        packs = _pack_source(transport, folder, public, identities)
                        known = KnownHashes(known_hashes_file(target, local))
                    with reporter.files_task(file_set.name, public.file_count or 0,
                                             public.size_bytes) as (on_bytes, on_file):
                        result = receive_public_files(transport, entries, target / local, jobs=options.jobs,
                                                      delete=delete, on_bytes=on_bytes, on_file=on_file,
                                                      packs=packs, scratch=scratch, known=known,
                                                      max_delete=options.max_delete, keep=keep,
                                                      deleted_before=spent, merged=ready,
                                                      witness=SiteWitness(transport, f"{folder}/{META_FILE}"))
                if delete:
                    spent += removable(result.vanished)
                check_disk_space(target, (reason for _path, reason in result.failed), file_set, options.resumable)
                outcome.bytes = result.bytes
                outcome.files_downloaded = result.downloaded
                outcome.files_skipped = result.skipped
                outcome.files_failed = result.failed
                outcome.files_missing = result.missing
                outcome.vanished = result.vanished
                outcome.removed = result.removed
                outcome.kept = result.kept
                outcome.size_checked = result.size_checked
                if result.failed:
                    outcome.status = "partial"
                    outcome.detail = f"{len(result.failed)} of {result.listed} files failed"
                    if result.missing:
                        outcome.detail += f" ({len(result.missing)} not given by the server)"
                    if result.refused == len(result.failed):
                        outcome.cause = "refused"
                    elif result.same_name == len(result.failed):
                        outcome.cause = SAME_NAME
                    elif result.in_the_way == len(result.failed):
                        outcome.cause = IN_THE_WAY
                elif not result.downloaded:
                    outcome.status = "skipped"
                    outcome.detail = "all files up to date"
                entry = state.record(folder, meta, file_set, local, fileCount=result.listed,
                                     tree=tree_record(public, result.tree, result.listed, result.tree_bytes,
                                                      kept=bool(result.kept)))
                if not result.failed:
                    arrived(target, entry)
                continue
            previous = state.previous(file_set.name)
            if previous is not None and _already_there(previous, folder, file_set, target / local):
                outcome.status = "skipped"
                outcome.detail = "already received"
                earlier, count = _left_out_before(previous)
                if earlier:
                    # Received as far as this folder can hold it: say so again, or the summary reads "all done".
                    outcome.status, outcome.files_failed, outcome.cause = "partial", earlier, SAME_NAME
                    outcome.detail = f"already received; {count} file(s) not written"
                arrived(target, previous)
                continue
            left_out: list[tuple[str, str]] = []
            streamed = options.prefetched(file_set) if options.prefetched and file_set.dump is not None else None
            if streamed is not None:
                assert file_set.dump is not None
                os.replace(streamed, target / local)
                outcome.bytes = _transferred(file_set.dump)
                outcome.detail = "streamed while the source dumped it"
            elif file_set.dump is not None:
                outcome.bytes = _receive_dump(transport, folder, file_set, target, identities, reporter)
            else:
                outcome.bytes, outcome.kept_entries = _receive_private(
                    transport, folder, file_set, target, identities, reporter, left_out,
                    keep_matcher(file_set, options.delete_excluded))
                if left_out:
                    # Received as far as this folder can hold it: another run would leave out the same files.
                    outcome.status, outcome.files_failed, outcome.cause = "partial", left_out, SAME_NAME
                    outcome.detail = f"{len(left_out)} file(s) not written"
            # The names are the session's: a tar of a million of them must not make the state file that big.
            extra: dict[str, Any] = {"leftOut": [list(item) for item in left_out[:LEFT_OUT_NOTED]],
                                     "leftOutCount": len(left_out)} if left_out else {}
            arrived(target, state.record(folder, meta, file_set, local, localState=artifact_state(target / local),
                                         **extra))
        except DiskFullError:
            outcome.status = "failed"
            if options.resumable:
                raise
            _unless_resumable(options, folder)
            # Said again once the parts are gone: the room left is then what the line says.
            raise disk_full(target, file_set, resumable=False) from None
        except NoSpaceError as exc:
            # A file of the receive's own (its record, an index) that did not fit: the whole receive stops too.
            outcome.status = "failed"
            _unless_resumable(options, folder)
            raise disk_full(target, file_set, options.resumable) from exc
        except InterceptedError:
            # Every later answer would be the same page: no other set is asked for, and none is taken as missing.
            outcome.status = "failed"
            raise
        except SyncoError as exc:
            outcome.status = "failed"
            outcome.detail = str(exc)
            outcome.cause = failure_cause(exc)
            if outcome.cause == "gone":
                outcome.detail += " (the session is gone from the server)"
        except OSError as exc:
            if (exc.strerror or "") in DISK_FULL:
                _unless_resumable(options, folder)
            check_disk_space(target, [exc.strerror or ""], file_set, options.resumable)
            outcome.status = "failed"
            outcome.detail = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
        except KeyboardInterrupt:
            outcome.status = "interrupted"
            raise
        finally:
            log.debug("%s: %s %s", file_set.name, outcome.status, outcome.detail)
    if not chosen:
        state.save(folder, meta)
    _tidy(target, meta, folder, state)
    summary.seconds = time.monotonic() - started
    return summary


def _tidy(target: Path, meta: Meta, folder: str, state: _State) -> None:
    """Remove what earlier receives left for their own use and nothing will use again (:mod:`.leftovers`)."""
    locals_: set[str] = set()
    dumps: set[str] = set()
    for file_set in meta.file_sets:
        try:
            local = local_name(file_set)
        except SyncoError:
            # A name this synco refuses: nothing of it was written under any name here.
            continue
        locals_.add(local)
        if file_set.dump is not None:
            dumps.add(local)
    tidy(target, locals_, dumps, folder, state.sets.values(), whole_project=meta.whole_project is True)


def _check_run(transport: Transport, folder: str, chosen: Sequence[WireFileSet], identities: Any,
               options: ReceiveOptions, state: _State, held: contextlib.ExitStack[bool | None],
               ) -> tuple[dict[str, dict[str, Any] | None], dict[str, MergedSet]]:
    """Refuse the whole run (:class:`RunRefusedError`) before anything is received when a chosen set is one the
    server could not read, or when ``--delete`` would remove more local files than :func:`run_refusal`
    allows; returns the quick re-sync checks made on the way (:func:`unchanged_tree`) and the merges made
    (:class:`MergedSet`), by set name, which the receive then does not make again.

    Without ``--max-delete`` only a set the server says lists no file can be refused, so only such sets are
    merged here; with it, every set ``--delete`` applies to whose folder changed since it was received. The
    merge is the receive's own, kept until its set is received (its files to fetch on disk, ``held`` drops it
    should the run end first), so the count costs no second reading of the index. A set whose index cannot
    be read here is left to the receive, which fails it with its reason and still holds the limit
    (``deleted_before``).
    """
    target = options.target
    for file_set in chosen:
        if file_set.unavailable is not None:
            raise RunRefusedError(unavailable_refusal(file_set.name, file_set.unavailable))
    quick: dict[str, dict[str, Any] | None] = {}
    merged: dict[str, MergedSet] = {}
    counted: list[SetDeletions] = []
    for file_set in chosen:
        public = file_set.public
        if public is None or not deletes_in(public, options.delete):
            continue
        if options.max_delete is None and public.file_count:
            continue
        try:
            local = local_name(file_set)
        except SyncoError:
            continue  # Failed with its reason by the receive, which writes nothing of it.
        keep = keep_matcher(file_set, options.delete_excluded)
        tree = quick[file_set.name] = unchanged_tree(state.previous(file_set.name), public, local, target / local,
                                                     keep)
        set_dir, _staged = receiving_folder(target / local)
        if tree is not None or not set_dir.is_dir():
            continue
        ready = _merge_ahead(transport, folder, file_set, identities, target, local, set_dir, keep)
        if ready is None:
            continue
        held.callback(ready.close)
        merged[file_set.name] = ready
        counted.append(SetDeletions(file_set.name, ready.plan.listed, removable(ready.plan.vanished)))
    refusal = run_refusal(counted, options.max_delete)
    if refusal is not None:
        raise RunRefusedError(refusal)
    return quick, merged


def _merge_ahead(transport: Transport, folder: str, file_set: WireFileSet, identities: Any, target: Path,
                 local: str, set_dir: Path, keep: Callable[[str], bool] | None) -> MergedSet | None:
    """The receive's merge of ``file_set`` with ``set_dir``, made before the run is judged; None when its index
    cannot be read (the receive then fails the set with the reason)."""
    public = file_set.public
    assert public is not None
    holding = contextlib.ExitStack()
    spool: TodoSpool | None = None
    known: KnownHashes | None = None
    try:
        scratch = holding.enter_context(scratch_folder(target))
        spool = TodoSpool(scratch)
        packs = _pack_source(transport, folder, public, identities)
        known = KnownHashes(known_hashes_file(target, local))
        with open_index(transport, folder, file_set, identities, scratch) as entries, folder_times_kept(set_dir):
            plan = merge_with_folder(entries, set_dir, spool, packs, known, keep)
        spool.park()
    except BaseException as exc:
        if spool is not None:
            spool.close()
        if known is not None:
            known.discard()
        holding.close()
        if isinstance(exc, SyncoError):
            log.debug("%s: not counted before the receive (%s)", file_set.name, exc)
            return None
        raise
    return MergedSet(plan, spool, known, packs, holding)


def _unless_resumable(options: ReceiveOptions, folder: str) -> None:
    """Remove the part files of session ``folder`` when no run will continue them (a pull's one-off session):
    on a full disk they would only keep its space taken."""
    if not options.resumable:
        for part in options.target.glob(f"*.{folder}.enc.part"):
            with contextlib.suppress(OSError):
                part.unlink()


#: The members left out of a private set that its state notes by name (the rest only counted).
LEFT_OUT_NOTED = 1000


def _left_out_by_serve(file_set: WireFileSet, delete: bool) -> int:
    """How many files or folders serve left out of ``file_set`` (0 when none, or not counted), said once."""
    count = file_set.left_out_count
    if count:
        kept = "; --delete removes nothing from this set, as their local copies would look gone" \
            if delete and file_set.public is not None else ""
        log.warning("%s: serve left out %d file(s) or folder(s) it found on the server (its output names them)%s",
                    file_set.name, count, kept)
    return count


def _left_out_before(previous: dict[str, Any]) -> tuple[list[tuple[str, str]], int]:
    """The members a private set's earlier receive could not write here (its ``leftOut``), as (name, why),
    and how many there were in all."""
    noted = previous.get("leftOut")
    if not isinstance(noted, list):
        return [], 0
    named = [(str(item[0]), str(item[1])) for item in noted if isinstance(item, list) and len(item) == 2]
    count = previous.get("leftOutCount")
    return named, count if isinstance(count, int) and count >= len(named) else len(named)


#: How a full disk (or an exhausted quota) reads in a failure, also one reported by a worker process.
DISK_FULL = frozenset(os.strerror(number) for number in (errno.ENOSPC, errno.EDQUOT))


class DiskFullError(TransferError, NoSpaceError):
    """The receive folder's filesystem is full: no set can go on, and running again only helps once freed."""


def set_needs(file_set: WireFileSet) -> int:
    """About the room ``file_set`` takes in the receive folder while it arrives: an artifact's encrypted part
    file and what it decrypts to are both there until the part is removed."""
    detail = file_set.dump or file_set.private
    if detail is not None:
        return (detail.encrypted_size_bytes or 0) + detail.size_bytes
    return file_set.public.size_bytes if file_set.public is not None else 0


def disk_full(target: Path, file_set: WireFileSet, resumable: bool = True) -> DiskFullError:
    """The one line for a receive whose folder's disk filled up while ``file_set`` arrived."""
    said = no_space(target, f"set {file_set.name}", set_needs(file_set),
                    " (or pass --target on another disk)")
    return DiskFullError(f"{said}; it continues with what has arrived" if resumable else said)


def check_disk_space(target: Path, reasons: Iterable[str], file_set: WireFileSet, resumable: bool = True) -> None:
    """Stop the whole receive, in one line, when any of ``reasons`` is a full disk.

    Every further file would fail the same way, and the usual advice ("run the same command again") would
    not help before space is freed.
    """
    if any(reason in DISK_FULL for reason in reasons):
        raise disk_full(target, file_set, resumable) from None


def failure_cause(exc: BaseException) -> str:
    """``gone``, ``newer``, ``refused`` or "" (running again may help) for the error a set failed with."""
    if isinstance(exc, NotFoundError):
        return "gone"
    if isinstance(exc, NewerFormatError):
        return NEWER
    if isinstance(exc, DeleteLimitError):
        return DELETE_LIMIT
    if isinstance(exc, (CryptoError, UnsafePathError, SizeExceededError, NotDeclaredError, WireFormatError,
                        ConfigError, RefusedRequestError)):
        return "refused"
    return ""


def check_local_names(file_sets: Sequence[WireFileSet], ignoring_case: bool = False) -> None:
    """Refuse sets that would be saved under the same local name (``a`` as a dump and ``a.sql`` as a folder);
    ``ignoring_case``: names differing only in case are the same (the target's file system ignores case)."""
    seen: dict[str, tuple[str, str]] = {}
    for file_set in file_sets:
        try:
            local = local_name(file_set)
        except UnsafePathError:
            continue  # Reported as that set's failure.
        # Set names are ASCII (safe_name): lower() is all the folding there is.
        key = local.lower() if ignoring_case else local
        if key in seen:
            first, first_local = seen[key]
            if first_local != local:
                raise ConfigError(f"file sets {first!r} and {file_set.name!r} would be one folder in the target, "
                                  "whose file system does not tell upper from lower case: receive them one at a "
                                  "time into two targets (--only and --target)")
            raise WireFormatError(f"malformed meta: file sets {first!r} and {file_set.name!r} would both be "
                                  f"saved as {local!r}")
        seen[key] = (file_set.name, local)
