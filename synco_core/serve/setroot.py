"""Whether serve can read a file set's folder at all: a folder that is not there is no empty set.

On many servers the uploads folder is a mount (NFS, EFS, a Docker volume) or a link to shared storage.
When it is not there at the moment serve runs, a walk finds nothing, and a set published as empty made
``receive --delete`` (and ``--install``, which implies it) remove every file of it on the laptop. rsync, in
the same situation, fails with ``change_dir ... failed`` and deletes nothing; serve likewise publishes such
a set as *unavailable* (:attr:`synco_core.wire.WireFileSet.unavailable`), which no receiver deletes from.

What counts as not there: a folder that does not exist, a link leading nowhere, something that is not a
folder, a folder this user may not list, and a folder at or below a mount point ``/etc/fstab`` names that
is not mounted now (an unmounted mount point is an ordinary empty folder, told apart only by that list).
An empty mount point that no list names cannot be told from an empty folder, nor can an empty share that
is mounted: those are published as the empty sets they look like, and the laptop's default refusal to
empty a set (``receive --max-delete``) is what protects its copy.
"""

from __future__ import annotations

import os
from pathlib import Path

from synco_core.wire import shortened_reason

#: The mount table of the system and what is mounted now, as this process sees them (its mount namespace).
FSTAB = Path("/etc/fstab")
MOUNTINFO = Path("/proc/self/mountinfo")


def _unescape(field: str) -> str:
    """A path of fstab or mountinfo, whose spaces, tabs, newlines and backslashes are octal escapes."""
    if "\\" not in field:
        return field
    out: list[str] = []
    index = 0
    while index < len(field):
        escape = field[index + 1:index + 4]
        if field[index] == "\\" and len(escape) == 3 and all(c in "01234567" for c in escape):
            out.append(chr(int(escape, 8)))
            index += 4
        else:
            out.append(field[index])
            index += 1
    return "".join(out)


def fstab_mount_points(fstab: Path | None = None) -> list[str]:
    """The mount points ``fstab`` (:data:`FSTAB`) names (swap and the root left out); none when it cannot be
    read."""
    try:
        text = (fstab or FSTAB).read_text(errors="replace")
    except OSError:
        return []
    points: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2 or fields[0].startswith("#"):
            continue
        point = _unescape(fields[1])
        if point.startswith("/") and point != "/":
            points.append(os.path.normpath(point))
    return points


def mounted_points(mountinfo: Path | None = None) -> set[str] | None:
    """The mount points mounted now (:data:`MOUNTINFO`); None when that cannot be known (no /proc: nothing is
    judged then)."""
    try:
        text = (mountinfo or MOUNTINFO).read_text(errors="replace")
    except OSError:
        return None
    points: set[str] = set()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 5:
            points.add(os.path.normpath(_unescape(fields[4])))
    return points


def unmounted_mount_point(folder: str, fstab: Path | None = None, mountinfo: Path | None = None) -> str | None:
    """The mount point ``fstab`` names at or above ``folder`` that is not mounted now, or None."""
    points = fstab_mount_points(fstab)
    if not points:
        return None
    mounted = mounted_points(mountinfo)
    if mounted is None:
        return None
    for point in points:
        if (folder == point or folder.startswith(point.rstrip("/") + "/")) and point not in mounted:
            return point
    return None


def unavailable_reason(root: Path, fstab: Path | None = None, mountinfo: Path | None = None) -> str | None:
    """Why serve cannot read the folder ``root`` of a set (one clause naming it, within
    :data:`~synco_core.wire.MAX_UNAVAILABLE_CHARS`), or None when it can."""
    reason = _reason(root, fstab, mountinfo)
    return shortened_reason(reason) if reason is not None else None


def _reason(root: Path, fstab: Path | None, mountinfo: Path | None) -> str | None:
    if not os.path.lexists(root):
        return f"folder {root} does not exist"
    if root.is_symlink() and not root.exists():
        return f"folder {root} is a link to {os.readlink(root)}, which does not exist"
    if not root.is_dir():
        return f"{root} is not a folder"
    real = os.path.realpath(root)
    point = unmounted_mount_point(real, fstab, mountinfo)
    if point is not None:
        where = f"folder {root}" + (f" (really {real})" if real != os.path.abspath(root) else "")
        return f"{where} is on {point}, which /etc/fstab names and which is not mounted"
    try:
        with os.scandir(root) as entries:
            next(entries, None)
    except OSError as exc:
        return f"folder {root} cannot be listed: {exc.strerror or exc}"
    return None
