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
    path = urlsplit(uri).path if "://" in uri else uri.split("?", 1)[0]
    return [unquote(part) for part in path.split("/") if part]


def _common_prefix(keys: list[list[str]]) -> list[str]:
    first = keys[0]
    length = len(first)
    for other in keys[1:]:
        length = min(length, len(other))
        for index in range(length):
            if other[index] != first[index]:
                length = index
                break
    return first[:length]


def set_root(data: Mapping[str, Any]) -> str | None:
    """The folder on the source that the absolute keys of ``data`` are files of, or None when none fits.

    Candidates run from the keys' common folder upwards; the root is the highest one from which every
    entry's relative path is also the end of its URL (the file's path is part of both), so a set whose
    files all sit in one subfolder keeps that subfolder in their paths.
    """
    absolute = [key.split("/")[1:] for key in data if key.startswith("/")]
    if not absolute:
        return None
    # A file's own name is never part of the root: at most the folder all keys share.
    common = _common_prefix([parts[:-1] for parts in absolute])
    uris = {key: _uri_segments(entry) for key, entry in data.items() if key.startswith("/")}
    best: int | None = None
    for depth in range(len(common), -1, -1):
        if all(_ends_with(uris[key], key.split("/")[1:][depth:]) for key in uris):
            best = depth
        else:
            break
    if best is None:
        return None
    return "/" + "/".join(common[:best])


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
