"""A temporary folder of a given mode, as another user's group could share it, for the temp-folder tests."""

from __future__ import annotations

import os
from pathlib import Path

from synco_core.testing.services import unavailable


def temp_folder(tmp_path: Path, mode: int) -> Path:
    """``tmp_path/tmp-<mode>`` with ``mode``; group-writable without the sticky bit, it belongs to a group of other
    users too (the web server's): this user's private group would make it this user's alone."""
    folder = tmp_path / f"tmp-{mode:o}"
    folder.mkdir()
    os.chmod(folder, mode)
    if mode & 0o020 and not mode & 0o1000:
        if os.getuid() == 0:
            os.chown(folder, -1, 65534)
        else:
            shared = [group for group in os.getgroups() if group != os.getgid()]
            if not shared:
                unavailable("this user is in no group but its own, and cannot give a folder another one")
            os.chown(folder, -1, shared[0])
    return folder


def private_folder_inside(tmp_path: Path, mode: int, how: str) -> tuple[Path, Path, Path]:
    """(the shared folder of ``mode``, a private folder of this user's inside it, the ``TMPDIR`` to name: that
    folder, or with ``how`` "linked" a link to it from a private place)."""
    shared = temp_folder(tmp_path, mode)
    folder = shared / "mine"
    folder.mkdir(mode=0o700)
    if how != "linked":
        return shared, folder, folder
    link = tmp_path / "my-tmp"
    link.symlink_to(folder)
    return shared, folder, link
