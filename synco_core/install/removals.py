"""What installing a received file set takes out of the project's folder: the files ``--max-delete`` counts.

The install replaces the folder with the received copy (the old one kept beside it for a rollback), so every
local file the copy has no file for at the same path goes, except what the install carries into the new
content: what the set's exclude rules match (unless ``--delete-excluded``) and, for a public set (which leaves
dotfiles out), the dot-named entries of every folder the copy has too (:func:`carry_dotfiles`). A file the
copy holds too is replaced, not removed; a local file where the copy has a folder goes.

Counted by the install's pruned walk of the project's folder (:func:`synco_core.trees.select_entries`), with
one ``lstat`` in the received copy per entry (:class:`synco_core.trees.Lookup`): both by descriptors, so any
depth and any path length, never followed through a link; folders themselves are not counted (rsync's
``--max-delete`` counts them, but the install removes no folder that held a file without counting that file).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

from synco_core.partfiles import is_receive_part
from synco_core.trees import Choice, Lookup, select_entries


def files_lost(destination: Path, received: Path, keep: Callable[[str], bool] | None = None,
               dotfiles_carried: bool = False, counted: Collection[str] = ()) -> int:
    """How many files (anything but a folder) under ``destination`` installing ``received`` takes away.

    ``keep``: the exclude rules' matcher (its entries are carried over); ``dotfiles_carried``: a public set,
    whose dot-named entries stay in the folders ``received`` has; ``counted``: relative paths already counted
    (removed from the receive folder by this run's receive, which counted them): not counted again.
    """
    if not destination.is_dir() or destination.is_symlink():
        return 0
    with Lookup(received) as copy:

        def choose(relative: str, is_folder: bool) -> Choice:
            if keep is not None and keep(relative):
                return Choice.SKIP
            folder, _, name = relative.rpartition("/")
            mirrored = copy.has_folder(folder)
            if dotfiles_carried and mirrored and name.startswith("."):
                return Choice.SKIP
            if is_folder:
                return Choice.ENTER
            # A part file of the received set is not installed: the project's file of that name goes.
            if (mirrored and copy.kind(relative) == "file" and not is_receive_part(name)) or relative in counted:
                return Choice.SKIP
            return Choice.TAKE

        return sum(1 for _file in select_entries(destination, choose))
