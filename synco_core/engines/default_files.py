"""The default ``install_files``: copy a received set to ``project_dir / relative_base_path``.

Registered ``trylast`` like any built-in, so a framework plugin with its own layout (Flow's resource
storage) answers first. The previous folder is moved aside (``.<folder>.synco-previous``) and only removed
by the next install, so ``synco db rollback``'s file counterpart can put it back.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from synco_core import hookimpl
from synco_core.errors import ConfigError
from synco_core.fsutil import safe_relative_path
from synco_core.types import FilesInstallResult, Framework, ReceivedFileSet

BACKUP_SUFFIX = ".synco-previous"


def install_tree(source_dir: Path, destination: Path) -> FilesInstallResult:
    """Replace ``destination`` by a copy of ``source_dir``; keep the old one beside it until next time.

    The copy is built under a temporary name next to the destination and renamed in, so a failure in the
    middle leaves the destination exactly as it was.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.with_name(destination.name + ".synco-new")
    # A dot name keeps the previous copy out of directory listings and web servers' reach.
    backup = destination.with_name("." + destination.name + BACKUP_SUFFIX)
    if staging.exists():
        shutil.rmtree(staging)
    files = 0
    replaced = False
    try:
        shutil.copytree(source_dir, staging, symlinks=True, copy_function=shutil.copy2)
        files = sum(len(names) for _, _, names in os.walk(staging))
        if destination.exists() or destination.is_symlink():
            # Only the newest previous state is kept; an older backup would restore the wrong content.
            if backup.is_dir() and not backup.is_symlink():
                shutil.rmtree(backup)
            elif backup.exists() or backup.is_symlink():
                backup.unlink()
            os.replace(destination, backup)
            replaced = True
        os.replace(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return FilesInstallResult(destination=destination, files=files, backup=backup if replaced else None)


@hookimpl(trylast=True)
def install_files(framework: Framework, file_set: ReceivedFileSet, source_dir: Path) -> FilesInstallResult | None:
    if not file_set.relative_base_path:
        raise ConfigError(f"file set {file_set.name!r} has no destination path (relativeBasePath)")
    relative = safe_relative_path(file_set.relative_base_path)
    return install_tree(source_dir, framework.project_dir.joinpath(*relative.parts))
