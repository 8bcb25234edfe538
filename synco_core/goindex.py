"""Public index keys that Go synco v2's Laravel serve writes as absolute paths, made relative to their set.

Go synco's Laravel serve keys each public file by the disk's root on the server plus the file's path
(``/var/www/app/storage/app/public/img/logo.png``) and gives it the full URL the disk serves it at
(``https://shop.example.com/storage/img/logo.png``). The meta does not say where the root ends, but
every entry does: the file's path is the end of its key *and* the end of its URL, so the root is what the
keys share before the part their URLs repeat. Keys under that root become relative to it
(``img/logo.png``); a key outside it stays absolute, and the index's path check refuses the index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit


def _uri_segments(entry: Any) -> list[str]:
    """The decoded path segments of an entry's ``publicUri`` (a full URL or a path), or [] when it has none."""
    uri = entry.get("publicUri") if isinstance(entry, Mapping) else None
    if not isinstance(uri, str):
        return []
    try:
        path = urlsplit(uri).path if "://" in uri else uri.split("?", 1)[0]
    except ValueError:
        # A URL urlsplit cannot read (``http://[::1/``) names no path: its key fits no root and stays absolute,
        # so the index's path check refuses it, as the origin check would refuse the URL.
        return []
    return [unquote(part) for part in path.split("/") if part]


def set_root(data: Mapping[str, Any]) -> str | None:
    """The folder on the source that the absolute keys of ``data`` are files of, or None when none fits.

    Candidates run from the keys' common folder upwards; the root is the highest one from which every
    entry's relative path is also the end of its URL (the file's path is part of both), so a set whose
    files all sit in one subfolder keeps that subfolder in their paths.
    """
    finder = RootFinder()
    for key, entry in data.items():
        finder.add(key, entry)
    return finder.root()


class RootFinder:
    """:func:`set_root` one entry at a time, so an index read as a stream needs no second pass.

    For each absolute key, the deepest root it allows is where its path stops being the end of its URL;
    the root is the deepest of those over all keys, provided it lies within the folder every key shares.
    Memory holds that shared folder and two numbers.
    """

    def __init__(self) -> None:
        self._common: list[str] | None = None
        self._deepest = 0
        self._fits = True
        #: Keys seen that are absolute, and that are not.
        self.absolute = 0
        self.relative = 0

    def add(self, key: str, entry: Any) -> None:
        if not key.startswith("/"):
            self.relative += 1
            return
        self.absolute += 1
        parts = key.split("/")[1:]
        folder = parts[:-1]
        if self._common is None:
            self._common = folder
        else:
            length = min(len(self._common), len(folder))
            for index in range(length):
                if folder[index] != self._common[index]:
                    length = index
                    break
            del self._common[length:]
        segments = _uri_segments(entry)
        shared = 0
        while (shared < len(parts) and shared < len(segments)
               and parts[len(parts) - 1 - shared] == segments[len(segments) - 1 - shared]):
            shared += 1
        if not shared:
            self._fits = False
        self._deepest = max(self._deepest, len(parts) - shared)

    def root(self) -> str | None:
        if self._common is None or not self._fits or self._deepest > len(self._common):
            return None
        return "/" + "/".join(self._common[:self._deepest])


def _ends_with(segments: list[str], tail: list[str]) -> bool:
    return bool(tail) and len(segments) >= len(tail) and segments[len(segments) - len(tail):] == tail


def rebase_absolute_keys(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the absolute keys under their set's root made relative to it; other keys unchanged.

    Keys that are not under the root (or when no root fits) stay as they are: absolute, and so refused
    by the index's path check like any unsafe path.
    """
    root = set_root(data)
    if root is None:
        return data
    prefix = root.rstrip("/") + "/"
    rebased: dict[str, Any] = {}
    for key, entry in data.items():
        rebased[key[len(prefix):] if key.startswith(prefix) and len(key) > len(prefix) else key] = entry
    return rebased
