"""Which local folders ``receive --delete`` removes, worked out for ``receive --plan`` without removing any.

The index lists files only, so ``--delete`` removes, besides the files the index no longer lists, every
folder below the set's folder that then holds no file (:func:`synco_core.receive.public.remove_vanished` and
``remove_empty_folders``), except where the fetch puts a listed file again. The plan named the files and
not these folders. A folder's whole subtree is one run of the merge's paths (index order), so the merge's
paths decide it as they pass: a folder whose run holds only vanished files goes, and so does one whose run
is empty, that is an empty folder (or one of empty folders) no listed path leads into. Memory holds the
folders the current path is in and the empty folders found by one walk before the merge.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from synco_core import trees


def empty_folders(set_dir: Path, keep: Callable[[str], bool] | None = None) -> set[str]:
    """The folders below ``set_dir`` holding nothing but folders that hold nothing (relative, ``/``-separated).

    A link, to a folder too, is something: ``rmdir`` leaves its folder, and the walk of the merge lists it as
    a file. A folder ``keep`` matches is the laptop's (``remove_empty_folders`` leaves it), so something too.
    A folder that cannot be read (nor then removed) leaves none found.
    """
    try:
        return set(trees.empty_folders(set_dir, keep))
    except OSError:
        return set()


class RemovedFolders:
    """Fed every path of the merge in index order (:meth:`path`), then :meth:`finish`: the folders
    ``--delete`` removes, in index order."""

    def __init__(self, empty: set[str]) -> None:
        self._empty = empty
        #: The folders the last path is in, outermost first, each with whether a listed path is in it.
        self._open: list[tuple[str, bool]] = []
        self._removed: list[str] = []

    def path(self, relative: str, vanished: bool) -> None:
        parts = relative.split("/")[:-1]
        folders = ["/".join(parts[:depth]) for depth in range(1, len(parts) + 1)]
        keep = 0
        while keep < len(self._open) and keep < len(folders) and self._open[keep][0] == folders[keep]:
            keep += 1
        self._close(keep)
        for folder in folders[keep:]:
            # A listed path leads into it: an empty folder the fetch fills again stays.
            self._empty.discard(folder)
            self._open.append((folder, False))
        if not vanished:
            self._open = [(folder, True) for folder, _live in self._open]

    def _close(self, keep: int) -> None:
        while len(self._open) > keep:
            folder, live = self._open.pop()
            if not live:
                self._removed.append(folder)

    def finish(self) -> list[str]:
        self._close(0)
        # Index order: a folder sorts as its name with "/" after it.
        return sorted([*self._removed, *self._empty], key=lambda folder: folder + "/")
