"""``receive --plan``: what a receive would download and replace, worked out without writing anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synco_core.engines.default_files import excluded_candidates
from synco_core.progress import Reporter
from synco_core.receive.compare import plan_public_files
from synco_core.receive.deletions import SetDeletions, run_refusal, unavailable_refusal
from synco_core.receive.emptied import RemovedFolders, empty_folders
from synco_core.receive.kept import keep_matcher
from synco_core.receive.knownhashes import KnownHashes, known_hashes_file
from synco_core.receive.meta import (
    identities_for,
    wait_ready,
)
from synco_core.receive.otherproject import check_same_project
from synco_core.receive.public import deletes_in, removable
from synco_core.receive.public_index import open_index, scratch_folder
from synco_core.receive.session import (
    ReceiveOptions,
    _already_there,
    _State,
    choose_sets,
    local_name,
)
from synco_core.receive.staging import receiving_folder
from synco_core.receive.transport import Transport
from synco_core.receive.treedigest import unchanged_tree
from synco_core.redaction import mask_url_passwords
from synco_core.tempfolder import temp_root
from synco_core.wire import (
    Meta,
    WireFileSet,
    session_folder_name,
)


def sanitized_flag(meta: Meta, file_set: WireFileSet | None = None) -> bool | None:
    """The source's ``sanitized`` flag: False for a ``serve --no-sanitize`` session, None when not recorded.

    Read defensively from the set's dump details and from the meta, because older writers (and Go synco)
    do not record it at all, and an absent flag must not raise a warning.
    """
    for holder in (file_set.dump if file_set is not None else None, meta):
        value = getattr(holder, "sanitized", None) if holder is not None else None
        if isinstance(value, bool):
            return value
    return None


@dataclass
class SetPlan:
    """What receiving one set would do."""

    name: str
    type: str
    #: ``download``, ``update`` (a public set with some files current), ``skip`` or ``unsupported``.
    action: str
    local: str = ""
    download_bytes: int = 0
    download_files: int = 0
    skipped_files: int = 0
    skipped_bytes: int = 0
    #: Files in the set (public sets), None for single artifacts.
    files: int | None = None
    refused: list[tuple[str, str]] = field(default_factory=list)
    #: Local files the server no longer lists; removed only with ``--delete``.
    vanished: list[str] = field(default_factory=list)
    #: Local folders ``--delete`` removes (those left holding no file the server lists); worked out only
    #: with ``--delete``.
    folders: list[str] = field(default_factory=list)
    delete: bool = False
    sanitize_rules: list[str] = field(default_factory=list)
    sanitized: bool | None = None
    detail: str = ""
    #: Files or folders serve found and left out of the set; ``--delete`` then removes nothing from it.
    left_out_by_serve: int = 0
    #: Why the receive would refuse the set's deletions (``--max-delete``, or a set the server lists no file
    #: in), changing nothing of it; None when it would not.
    delete_refused: str | None = None
    #: Local files (public sets) or entries (private sets) the server does not list that serve's exclude rules
    #: match: the laptop's own, kept (:mod:`synco_core.receive.kept`); and those rules.
    kept: int = 0
    kept_patterns: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "type": self.type, "action": self.action, "local": self.local,
            "downloadBytes": self.download_bytes, "downloadFiles": self.download_files,
            "skippedFiles": self.skipped_files, "skippedBytes": self.skipped_bytes, "files": self.files,
            # A reason may quote a URL with its credentials (a presigned URL's signature): masked, as on the terminal.
            "refused": [{"path": path, "reason": mask_url_passwords(reason)} for path, reason in self.refused],
            "deleteFiles": self.vanished if self.delete else [],
            "deleteFolders": self.folders,
            "vanishedFiles": self.vanished,
            "sanitizeRules": self.sanitize_rules, "sanitized": self.sanitized,
            "detail": mask_url_passwords(self.detail),
            "leftOutByServe": self.left_out_by_serve,
            "deleteRefused": self.delete_refused,
            "keptFiles": self.kept,
            "keptPatterns": self.kept_patterns,
        }


@dataclass
class ReceivePlan:
    """What ``receive`` would do, computed from meta and indexes only (``receive --plan``)."""

    session: str
    target: Path
    meta: Meta
    sets: list[SetPlan] = field(default_factory=list)
    #: Why the receive would refuse the whole run, changing nothing (:mod:`synco_core.receive.deletions`), or
    #: fail a set this synco cannot take; None when it would not. ``receive --plan`` then ends with it and
    #: status 1, as the receive would.
    refusal: str | None = None

    @property
    def download_bytes(self) -> int:
        return sum(s.download_bytes for s in self.sets)

    def to_json(self) -> dict[str, Any]:
        return {
            "session": self.session, "frameworkName": self.meta.framework_name, "target": str(self.target),
            "downloadBytes": self.download_bytes,
            "downloadFiles": sum(s.download_files for s in self.sets),
            "deleteFiles": sum(len(s.vanished) for s in self.sets if s.delete),
            "deleteFolders": sum(len(s.folders) for s in self.sets),
            "refused": mask_url_passwords(self.refusal) if self.refusal is not None else None,
            "sets": [s.to_json() for s in self.sets],
        }


def plan_session(transport: Transport, session: str, key: str, options: ReceiveOptions,
                 reporter: Reporter | None = None, meta: Meta | None = None) -> ReceivePlan:
    """What :func:`receive_session` would download, skip and delete; reads meta and indexes, writes nothing.

    The decisions are the receive's own (:func:`_already_there` for artifacts, :func:`plan_public_files`
    for public files), so the plan and the real run cannot disagree. Indexes are streamed, never held.
    """
    reporter = reporter or Reporter(enabled=False)
    folder = session_folder_name(session)
    identities = identities_for(key)
    with reporter.spinner(f"waiting for session {folder} to be ready"):
        meta = wait_ready(transport, folder, identities, options.timeout, options.poll_interval, first=meta)
    # The plan previews every set unless --only narrows it; it never asks.
    chosen = choose_sets(meta, ReceiveOptions(only=options.only, all=True))
    target = options.target
    # Reading the record of an earlier receive writes nothing (and finds nothing when the target is new).
    state = _State(target)
    # The plan stops where the receive would: it would otherwise list another project's files as deletions.
    check_same_project(state.data, meta, target, options.other_project)
    plan = ReceivePlan(session=folder, target=target, meta=meta)
    counted: list[tuple[SetPlan, SetDeletions]] = []
    for unsupported in (s for s in meta.file_sets if not (s.dump or s.public or s.private)):
        if not options.only or unsupported.name in options.only:
            plan.sets.append(SetPlan(unsupported.name, unsupported.type, "unsupported",
                                     detail=unsupported.unsupported()))
            # The receive fails the set (status 1) and an install refuses the session: so ends the plan.
            plan.refusal = plan.refusal or (f"{unsupported.name}: {unsupported.unsupported()}; a receive would "
                                            "fail this set: leave it out with --only, or upgrade synco")
    for file_set in chosen:
        local = local_name(file_set)
        item = SetPlan(file_set.name, file_set.type, "download", local=local,
                       delete=deletes_in(file_set.public, options.delete) if file_set.public else options.delete,
                       sanitized=sanitized_flag(meta, file_set))
        item.left_out_by_serve = file_set.left_out_count
        keep = keep_matcher(file_set, options.delete_excluded)
        item.kept_patterns = list(keep.patterns) if keep is not None else []
        plan.sets.append(item)
        if file_set.dump is not None:
            item.sanitize_rules = list(file_set.dump.sanitize_rules)
        if file_set.unavailable is not None:
            item.action, item.delete = "unavailable", False
            item.detail = (f"the server could not read its folder ({file_set.unavailable}); a receive changes "
                           "nothing of it")
            plan.refusal = plan.refusal or unavailable_refusal(file_set.name, file_set.unavailable, WOULD)
            continue
        if file_set.public is not None:
            tree = unchanged_tree(state.previous(file_set.name), file_set.public, local, target / local, keep)
            if tree is not None:
                # The receive's own quick path: the index received before, the folder as that receive left it
                # (files only: --delete still takes the folders holding none).
                item.folders = sorted(empty_folders(target / local, keep),
                                      key=lambda f: f + "/") if item.delete else []
                item.files = item.skipped_files = tree["files"]
                item.skipped_bytes = tree["bytes"]
                item.action, item.detail = "skip", "all files up to date"
                continue
            # A first receive that was stopped left its files in the set's staging folder: they count.
            set_dir, _staged = receiving_folder(target / local)
            deleting = item.delete and set_dir.is_dir()
            removed = RemovedFolders(empty_folders(set_dir, keep) if deleting else set())
            # The plan writes nothing into the target: its spool goes to the system's temporary folder.
            with scratch_folder(Path(temp_root())) as scratch, \
                    open_index(transport, folder, file_set, identities, scratch) as entries:
                sorted_files = plan_public_files(
                    entries, set_dir, scratch=scratch,
                    known=KnownHashes(known_hashes_file(target, local), write=False),
                    on_path=removed.path if deleting else None, keep=keep)
            item.folders = removed.finish() if deleting else []
            item.files = sorted_files.listed
            item.download_files = sorted_files.todo_files
            item.download_bytes = sorted_files.todo_bytes
            item.skipped_files = sorted_files.skipped
            item.skipped_bytes = sorted_files.skipped_bytes
            item.refused = sorted_files.refused + sorted_files.same_name
            item.vanished = sorted_files.vanished if set_dir.is_dir() else []
            item.kept = sorted_files.kept
            if item.delete:
                counted.append((item, SetDeletions(file_set.name, item.files, removable(item.vanished))))
            if not sorted_files.todo_files:
                item.action = "skip"
                item.detail = "all files up to date"
            elif sorted_files.skipped:
                item.action = "update"
            continue
        detail = file_set.dump or file_set.private
        assert detail is not None
        size = detail.encrypted_size_bytes or detail.size_bytes
        if _already_there(state.previous(file_set.name), folder, file_set, target / local):
            item.action = "skip"
            item.skipped_files = 1
            item.skipped_bytes = size
            item.detail = "already received"
        else:
            item.download_files = 1
            item.download_bytes = size
            previous = target / local
            if keep is not None and file_set.private is not None and previous.is_dir() and not previous.is_symlink():
                # The receive replaces the folder whole and carries these into the new one.
                item.kept = sum(1 for _entry in excluded_candidates(previous, keep))
    _refuse_deletions(plan, counted, options.max_delete)
    return plan


#: What a plan says a refused run would do.
WOULD = "a receive would receive or change nothing"


def _refuse_deletions(plan: ReceivePlan, counted: list[tuple[SetPlan, SetDeletions]], max_delete: int | None) -> None:
    """The receive's judgement of the run's deletions (:func:`run_refusal`), on the plan: the sets it refuses
    for are shown ``refused``, neither removing nor fetching anything, and the plan carries the refusal."""
    refusal = run_refusal([deletions for _item, deletions in counted], max_delete, WOULD)
    if refusal is None:
        return
    plan.refusal = plan.refusal or refusal
    for item, deletions in counted:
        # Over --max-delete every set with deletions is part of the total; without it, the set listed empty.
        if deletions.removing and (max_delete is not None or not deletions.listed):
            item.action, item.detail, item.delete_refused = "refused", refusal, refusal
            item.delete, item.folders = False, []
            item.download_files = item.download_bytes = 0
