"""The system's temporary folder, never the current directory in its stead.

:func:`tempfile.gettempdir` tries ``$TMPDIR``, ``/tmp``, ``/var/tmp`` and ``/usr/tmp``, and when none of them
is writable it quietly takes the current directory: the project on the laptop (a pull's zipapp, several MB,
was built there), the web root on a server (serve's scratch folder, which the site may then serve). So that
last resort is refused, in one line, unless ``$TMPDIR`` names that directory on purpose. So is a folder other
users may rearrange, or one inside such a folder (:func:`rearrangeable_at`): synco's scratch folders there could
be renamed away and replaced.
"""

from __future__ import annotations

import os
import stat
import tempfile

from synco_core.errors import ConfigError

#: What :func:`temp_root` says on this computer when only the current directory is writable.
NO_TEMP_FOLDER_HERE = (
    "no writable temporary folder ($TMPDIR, /tmp, /var/tmp, /usr/tmp); synco will not write "
    "into the current directory instead: make one writable or set TMPDIR"
)


#: Said (with the folder) when the temporary folder lets other users rename or replace what synco makes there.
SHARED_TEMP_FOLDER_HERE = ("the temporary folder %s may be rearranged by other users (writable by them without "
                           "the sticky bit of /tmp, or not yours): what synco writes there could be replaced or "
                           "read; set TMPDIR to a folder of your own")


def own_group(group: int) -> bool:
    """Whether ``group`` is this user's private group (named as the user, its primary group, nobody else listed
    in it): a folder writable by that group (under ``umask 002``) is writable by this user alone."""
    import grp
    import pwd

    try:
        name = pwd.getpwuid(os.getuid()).pw_name
        entry = grp.getgrgid(group)
    except (KeyError, OSError):
        return False
    return group == os.getgid() and entry.gr_name == name and set(entry.gr_mem) <= {name}


def rearrangeable(info: os.stat_result) -> bool:
    """Whether a folder of ``info`` lets users other than this one and root rename or replace an entry of this
    user's in it: another user's folder, or one others may write to without the sticky bit. pull's zipapp
    loader (``synco_core.pull.bootstrap.LOADER``) repeats this test in its own few lines."""
    if info.st_uid not in (0, os.getuid()):
        return True
    if info.st_mode & stat.S_ISVTX:
        return False
    return others_may_write(info)


def others_may_write(info: os.stat_result) -> bool:
    """Whether users other than this one and root may write to the file or folder of ``info``: it is writable by
    all, or by a group that is not this user's private one."""
    return bool(info.st_mode & 0o002 or (info.st_mode & 0o020 and not own_group(info.st_gid)))


def rearrangeable_at(folder: str) -> str | None:
    """``folder`` or the first folder above it (as named, and as links resolve) that is :func:`rearrangeable`,
    if any: a folder of this user's, private itself, is renamed away as a whole from a parent others may write
    to, and a folder of theirs put in its place. Folders not made yet are passed over: for a folder to be made,
    the answer is about the folders it will be made in."""
    places: dict[str, None] = {}
    for start in (os.path.abspath(folder), os.path.realpath(folder)):
        while True:
            places[start] = None
            up = os.path.dirname(start)
            if up == start:
                break
            start = up
    for place in places:
        try:
            info = os.stat(place)
        except OSError:
            continue
        if rearrangeable(info):
            return place
    return None


def temp_root(refusal: str = NO_TEMP_FOLDER_HERE, shared: str = SHARED_TEMP_FOLDER_HERE) -> str:
    """``tempfile.gettempdir()``, unless that fell back to the current directory (:class:`ConfigError`
    ``refusal`` then) or is, or is inside, a folder other users may rearrange (:func:`rearrangeable_at`;
    ``shared`` with that folder then)."""
    try:
        folder = tempfile.gettempdir()
    except FileNotFoundError:
        # Not even the current directory is writable: the same want, said the same way.
        raise ConfigError(refusal) from None
    here = os.path.realpath(os.getcwd())
    if os.path.realpath(folder) == here and os.path.realpath(os.environ.get("TMPDIR") or "/") != here:
        raise ConfigError(refusal)
    # Scratch folders are made there by name and used by name: in a folder others may rearrange, they could
    # rename one away and put their own under its name (a plaintext copy of a database then goes into theirs).
    shared_folder = rearrangeable_at(folder)
    if shared_folder is not None:
        raise ConfigError(shared % shared_folder)
    return folder
