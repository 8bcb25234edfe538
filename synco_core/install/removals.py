"""What installing a received file set takes out of the project's folder: the files ``--max-delete`` counts.

The install replaces the folder with the received copy (the old one kept beside it for a rollback), so every
local file the copy has no file for at the same path goes, except what the install carries into the new
content: what the set's exclude rules match (unless ``--delete-excluded``) and, for a public set (which leaves
dotfiles out), the dot-named entries of every folder the copy has too (:func:`carry_dotfiles`). A file the
copy holds too is replaced, not removed; a local file where the copy has a folder goes.

Counted by walking the project's folder once, with one ``lstat`` in the received copy per entry; never
followed through a link; folders themselves are not counted (rsync's ``--max-delete`` counts them, but the
install removes no folder that held a file without counting that file).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Collection
from pathlib import Path


def _kind(path: str) -> str:
    """``dir``, ``file`` (anything but a folder) or ``""`` (nothing there)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return ""
    return "dir" if stat.S_ISDIR(mode) else "file"


def files_lost(destination: Path, received: Path, keep: Callable[[str], bool] | None = None,
               dotfiles_carried: bool = False, counted: Collection[str] = ()) -> int:
    """How many files (anything but a folder) under ``destination`` installing ``received`` takes away.

    ``keep``: the exclude rules' matcher (its entries are carried over); ``dotfiles_carried``: a public set,
    whose dot-named entries stay in the folders ``received`` has; ``counted``: relative paths already counted
    (removed from the receive folder by this run's receive, which counted them): not counted again.
    """
    if not destination.is_dir() or destination.is_symlink():
        return 0
    count = 0
    # (local folder, its relative path with a slash at the end or "", whether ``received`` has that folder)
    pending = [(os.fspath(destination), "", _kind(os.fspath(received)) == "dir")]
    while pending:
        current, prefix, mirrored = pending.pop()
        try:
            with os.scandir(current) as entries:
                listed = list(entries)
        except OSError:
            continue
        for entry in listed:
            relative = prefix + entry.name
            if keep is not None and keep(relative):
                continue
            if dotfiles_carried and mirrored and entry.name.startswith("."):
                continue
            there = _kind(os.path.join(received, *relative.split("/"))) if mirrored else ""
            if entry.is_dir(follow_symlinks=False):
                pending.append((entry.path, relative + "/", there == "dir"))
            elif there != "file" and relative not in counted:
                count += 1
    return count
