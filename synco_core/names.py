"""The one rule for text from the other side that ends up in a file name.

A session's meta, its indexes and its tars come from a server the laptop does not control. Every string
of theirs that becomes part of a local path passes through this module, and nowhere else is such text
checked or joined into a path:

- :func:`safe_name` for names synco itself builds file names from: file set names (``<set>.sql``,
  ``<set>/``), artifact names (``dump.sql.zst.enc``), the dump format used as an extension, session ids.
  These are plain tokens: ``[A-Za-z0-9][A-Za-z0-9._-]*``, never a path, never hidden, never one of the
  suffixes synco gives its own temporary and kept files (``.part``, ``.synco-part``, ``.synco-old`` ...).
- :func:`safe_relative_path` for paths below a folder: the keys of a public files index and the members
  of a tar. Any text is allowed in a segment except what could leave the folder or mislead a reader: no
  absolute path, no ``..``, no backslash, no NUL or other control character, no drive letter, nothing
  longer than a file system accepts.

Where synco can, it derives a local name from local knowledge instead of server text at all: a dump is
saved as ``<set>.sql`` (or ``.sqlite``), whatever the server calls its artifact.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from synco_core.errors import UnsafePathError

#: Longest segment most file systems accept, in bytes of UTF-8.
MAX_SEGMENT_BYTES = 255
#: Longest relative path accepted (Linux's PATH_MAX).
MAX_PATH_BYTES = 4096
#: Longest file set name: the local names built from it (``<set>.sqlite.<session>.enc.part``) must still fit
#: in :data:`MAX_SEGMENT_BYTES`.
MAX_SET_NAME = 100

#: C0 and C1 control characters and DEL: in a file name they hide what a listing or an error line shows.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*", re.ASCII)
#: Suffixes of the names synco gives its own temporary and kept files; a received name never ends so, or it
#: could take the place of one of them.
RESERVED_SUFFIXES = (".part", ".synco-part", ".synco-old", ".synco-new", ".synco-previous", ".synco-swap", ".tmp")

#: A relative path needing no checking or normalising: segments of ordinary characters, none starting with
#: a dot (so no ``..``, no ``.``, no empty segment, no drive letter, no backslash, no control character),
#: none too long. What it matches, :func:`safe_relative_path` would return unchanged; the fast paths of hot
#: loops test this first.
PLAIN_RELATIVE_PATH = re.compile(
    r"[\w\-~+@=,][\w.\-~+@=,]{0,254}(?:/[\w\-~+@=,][\w.\-~+@=,]{0,254})*", re.ASCII
)


def safe_name(value: str, what: str, max_length: int = MAX_SEGMENT_BYTES) -> str:
    """``value`` if it is a plain name synco may build a file name from; :class:`UnsafePathError` otherwise.

    ``what`` says what the value is for the message (``file set name``, ``dump format``).
    """
    if not isinstance(value, str) or not _NAME.fullmatch(value) or len(value) > max_length:
        raise UnsafePathError(f"unsafe {what} {_shown(value)}: only letters, digits, '.', '_' and '-' "
                              f"(not first), at most {max_length} characters")
    if value.lower().endswith(RESERVED_SUFFIXES):
        raise UnsafePathError(f"unsafe {what} {_shown(value)}: ends like a temporary file of synco")
    return value


def safe_segment(value: str, what: str = "path") -> str:
    """One segment of a relative path from the other side (not ``.``, which callers drop first)."""
    if value == "..":
        raise UnsafePathError(f"unsafe {what} segment '..'")
    if "\\" in value or _CONTROL.search(value):
        raise UnsafePathError(f"unsafe {what} segment {_shown(value)}: backslash or control character")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise UnsafePathError(f"unsafe {what} segment {_shown(value)}: not valid Unicode") from None
    if size > MAX_SEGMENT_BYTES:
        raise UnsafePathError(f"unsafe {what} segment {_shown(value)}: longer than {MAX_SEGMENT_BYTES} bytes")
    return value


def safe_relative_path(name: str) -> PurePosixPath:
    """``name`` as a relative path that cannot leave its base: no absolute paths, no ``..``, no NUL."""
    if not isinstance(name, str) or not name or "\x00" in name or "\\" in name:
        raise UnsafePathError(f"unsafe path {_shown(name)}")
    if name.startswith("/") or any(part == ".." for part in name.split("/")):
        raise UnsafePathError(f"unsafe path {_shown(name)}: absolute or with '..'")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts:
        raise UnsafePathError(f"unsafe path {_shown(name)}: empty")
    first = parts[0]
    if len(first) >= 2 and first[1] == ":" and first[0].isascii() and first[0].isalpha():
        # "C:/x" is absolute on Windows and "C:x" is relative to the drive's current folder: both leave the base.
        raise UnsafePathError(f"unsafe path {_shown(name)}: drive letter")
    for part in parts:
        try:
            safe_segment(part)
        except UnsafePathError as exc:
            raise UnsafePathError(f"unsafe path {_shown(name)}: {str(exc).removeprefix('unsafe path ')}") from None
    if len(name.encode("utf-8")) > MAX_PATH_BYTES:
        raise UnsafePathError(f"unsafe path {_shown(name[:60] + '...')}: longer than {MAX_PATH_BYTES} bytes")
    return PurePosixPath(*parts)


def receiver_refusal(relative: str) -> str | None:
    """Why a receiver would refuse ``relative`` as an index path (:func:`safe_relative_path`), None when it takes it.

    A receiver refuses a whole index for one such path, so serve leaves that file out and says why.
    """
    if PLAIN_RELATIVE_PATH.fullmatch(relative):
        return None
    try:
        safe_relative_path(relative)
    except UnsafePathError as exc:
        return str(exc)
    return None


@dataclass(frozen=True)
class Folding:
    """Which spellings of a name a folder's file system takes for one file: names differing only in case
    (APFS and HFS+ by default, exFAT, NTFS as Windows sees it), only in how an accented letter is encoded,
    composed or decomposed (APFS and HFS+, even case-sensitive; not exFAT or NTFS, which hold ``café`` in
    both forms as two files), or only in dots at the end of a segment, which it drops (Linux's exFAT and FAT
    drivers, Windows: ``clip.`` is ``clip`` there). False when it tells every spelling apart (ext4)."""

    case: bool = False
    normalisation: bool = False
    trailing_dots: bool = False

    def __bool__(self) -> bool:
        return self.case or self.normalisation or self.trailing_dots

    def what(self) -> str:
        """What this file system ignores, for messages."""
        ignored = (("case", self.case), ("Unicode normalisation", self.normalisation),
                   ("dots at the end of names", self.trailing_dots))
        return " and ".join(what for what, ignores in ignored if ignores)

    def key(self, name: str) -> str:
        """``name`` (a segment, or a ``/``-separated path) as this file system sees it: two names with the same
        key are one file there."""
        if self.trailing_dots:
            name = "/".join(part.rstrip(".") or part for part in name.split("/"))
        if self.normalisation:
            name = unicodedata.normalize("NFC", name)
        if self.case:
            name = name.casefold()
            if self.normalisation:
                # casefold() can decompose ('ǰ'): normalised again, so both forms still meet.
                name = unicodedata.normalize("NFC", name)
        return name


#: A file system that tells every spelling apart (ext4).
FOLD_NONE = Folding()
#: A file system that ignores case, normalisation and dots at the end: what any other may take for one file.
FOLD_ALL = Folding(case=True, normalisation=True, trailing_dots=True)


def folded(name: str, folding: Folding = FOLD_ALL) -> str:
    """``name`` as a file system that takes the spellings ``folding`` says for one sees it (by default one
    that tells neither upper from lower case nor composed from decomposed characters apart)."""
    return folding.key(name)


#: Characters Windows (NTFS as Windows and WSL see it), exFAT and FAT take in no name.
_WINDOWS_REFUSED = '\\:*?"<>|'
#: Device names Windows reserves, with any extension (``aux.txt`` is the device AUX).
_WINDOWS_DEVICES = frozenset({"CON", "PRN", "AUX", "NUL", *(f"{port}{n}" for port in ("COM", "LPT")
                                                                  for n in "123456789\u00b9\u00b2\u00b3")})


def windows_rule(name: str) -> str | None:
    """The rule of Windows' (and so of NTFS, exFAT and FAT disks') that the one segment ``name`` breaks, for a
    message; None when it breaks none. Linux takes every such name, so a server may have them."""
    refused = "".join(sorted({char for char in name if char in _WINDOWS_REFUSED}))
    if refused:
        return f"Windows, exFAT and FAT take no {' '.join(refused)} in a name"
    if name.endswith((".", " ")):
        return "Windows and FAT take no name ending with a dot or a space"
    device = name.split(".", 1)[0].rstrip(" ").upper()
    if device in _WINDOWS_DEVICES:
        return f"{device} is a device name Windows reserves, with any extension"
    return None


def _shown(value: object) -> str:
    """``value`` for an error line: quoted with its control characters escaped, long values cut."""
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
