"""What earlier receives wrote into a target for their own use and nothing will use again, removed.

A receive keeps files of its own beside the sets in its target: the hashes each public set was received as
(``.synco-known-<key>.sha256``), a first receive's staging folder (``.<set>.synco-new``), the part files of a
dump or a private set's tar (``<set>.<session>.enc.part``, ``<set>.sql.part``) and a private set's extraction
folder (``<set>.synco-part``). A receive that is stopped or killed leaves them for the next one to continue.
Once a set is gone from the sessions the user receives (removed on the server, or renamed: a set's name is
its folder's), or its folder was deleted, nothing read or continued them again: they stayed for good, a
half-received copy of production data among them. rsync and DDEV leave no such litter.

So at the end of every receive, with the folder's receive lock held (no other receive writes there), these
go, and only names synco makes at the top of the target (a set's local name is one flat name):

- known hashes, unless their set is in this session, or its folder is still there with its record in
  ``.synco-received.json`` (they describe that copy; a set that comes back without them is compared by size
  and mtime, as before they existed), or its staging folder stays (below);
- a staging folder of a set not in this session (what never got its final name is synco's, not the user's),
  and part files another session left for such a set, only when the session holds the whole project
  (``wholeProject``: the set was renamed or removed on the server). A ``serve --only`` session, a serve that
  skipped sets, a Go or older synco's session may just not carry the set this time: receiving it must not
  throw away a first receive of another set that the user continues from another session;
- part files of another session for a set of this one (a download resumes only within its session) and a
  dump's plain part file;
- a private set's extraction folder (an extraction always starts from an empty one).

What a set brought (its folder, its dump) is never removed, whether the server still has the set or not: it
is the user's copy, as rsync without ``--delete`` keeps it; so is its record. ``<set>.synco-old`` (the
previous content of a private set, the only copy when a receive was killed between two renames) is never
removed here, nor the receive lock file: removed, a receive waiting on it would hold a lock no later one sees.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from synco_core.receive.knownhashes import known_hashes_file
from synco_core.receive.staging import STAGING_SUFFIX
from synco_core.scratch import remove_file_if_unlocked
from synco_core.trees import remove_tree

log = logging.getLogger(__name__)

#: ``.synco-known-<24 hex>.sha256`` and its drafts (``....sha256.t<hex>.part``, ``....partial.part``).
_KNOWN = re.compile(r"\.synco-known-[0-9a-f]{24}\.sha256(?:\.t[0-9a-f]+(?:\.partial)?\.part)?")
#: ``<stem>.synco-<session id>.enc.part``: a dump's or a private tar's download.
_ENCRYPTED_PART = re.compile(r"(.+)\.synco-[A-Za-z0-9_-]+\.enc\.part")


def tidy(target: Path, locals_: set[str], dumps: set[str], session: str,
         records: Iterable[dict[str, Any]], whole_project: bool = False) -> list[str]:
    """Remove from ``target`` what earlier receives left for their own use (see above) and return the names.

    ``locals_``: the local names of this session's sets, chosen or not (``dumps``: those of its dumps);
    ``session``: its folder name
    (``synco-<id>``); ``records``: the entries of ``.synco-received.json``; ``whole_project``: the session
    holds every set of the project (its meta's ``wholeProject``)."""
    current = {known_hashes_file(target, local).name for local in locals_}
    records = list(records)
    for record in records:
        path = record.get("path")
        if record.get("kind") == "public" and isinstance(path, str) and path and "/" not in path \
                and os.path.isdir(target / path):
            current.add(known_hashes_file(target, path).name)
    dumps = dumps | {record["path"] for record in records
                     if record.get("kind") == "database" and isinstance(record.get("path"), str)}
    removed: list[str] = []
    try:
        with os.scandir(target) as scan:
            entries = [(entry.name, entry.is_dir(follow_symlinks=False), entry.is_symlink()) for entry in scan]
    except OSError as exc:
        log.debug("%s not tidied: %s", target, exc)
        return removed
    if not whole_project:
        # A staging folder that stays is continued with its hashes.
        current.update(known_hashes_file(target, staged).name for staged in
                       (_staged_set(name) for name, is_folder, is_link in entries if is_folder and not is_link)
                       if staged)
    for name, is_folder, is_link in entries:
        if is_link:
            continue
        if _KNOWN.fullmatch(name):
            if is_folder:
                continue
            if not name.endswith(".sha256"):
                # A draft: its receive is over (this one holds the folder's lock), unless it is still locked.
                with contextlib.suppress(OSError):
                    if remove_file_if_unlocked(target / name, os.geteuid(), 0):
                        removed.append(name)
            elif name not in current:
                _remove(target / name, removed, folder=False)
            continue
        staged = _staged_set(name) if is_folder else None
        if staged is not None:
            if whole_project and staged not in locals_:
                _remove(target / name, removed, folder=True)
            continue
        if is_folder and name.endswith(".synco-part"):
            _remove(target / name, removed, folder=True)
            continue
        if is_folder:
            continue
        if name.endswith(f".{session}.enc.part"):
            continue
        part = _ENCRYPTED_PART.fullmatch(name)
        if part is not None:
            stem = part.group(1)
            if whole_project or stem in locals_ or stem.removesuffix(".tar") in locals_:
                _remove(target / name, removed, folder=False)
            continue
        # A dump's plain part: only beside the name of a dump, never any "*.part".
        if name.endswith(".part") and name[:-5] in dumps:
            _remove(target / name, removed, folder=False)
    if removed:
        log.info("removed what earlier receives left for their own use: %s", ", ".join(removed))
    return removed


def _staged_set(name: str) -> str | None:
    """The set whose staging folder ``name`` is (``.<set>.synco-new``), or None."""
    if not (name.startswith(".") and name.endswith(STAGING_SUFFIX)):
        return None
    inner = name[1:-len(STAGING_SUFFIX)]
    # A set's name never starts with a dot: ``..x.synco-new`` is no receive's staging.
    return inner if inner and not inner.startswith(".") else None


def _remove(path: Path, removed: list[str], folder: bool) -> None:
    try:
        if folder:
            remove_tree(path)
        else:
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode):
                return
            path.unlink()
    except OSError as exc:
        # Litter only: a receive never fails for it.
        log.debug("%s not removed: %s", path, exc)
        return
    with contextlib.suppress(ValueError):
        removed.append(path.name)
