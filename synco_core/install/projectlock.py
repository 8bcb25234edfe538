"""``synco db load`` and ``synco db rollback DATABASE_URL`` run in a project: one install there at a time.

They replace a database by its URL, without the project, so they took no project lock: run while an
install in that project had loaded its database and went on with the folders, a ``db load`` kept the
install's content as the kept copy and dropped the previous one, and the install's undo then "put back"
the install's own content. Run after an install there was killed (its journal left), the same happened
with the recovery the next command makes: ``synco db rollback`` said it had put the database back, and it
held what the killed install had loaded, the user's content gone.

So in a folder that is a synco project (one an install ran in, runs in, or was killed in), they hold the
project's install lock as an install does, and refuse while a killed install's journal is there: it
must be undone first, by ``synco db rollback`` without a URL, which puts back what that install replaced.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from synco_core import folderlock
from synco_core.errors import ConfigError
from synco_core.install.journal import JOURNAL_FILE
from synco_core.install.state import STATE_FILE

#: What a folder holds once an install ran there (its record), runs there (its lock) or was killed there.
PROJECT_MARKS = (folderlock.INSTALL_LOCK, JOURNAL_FILE, STATE_FILE)


@contextmanager
def direct_database_command(folder: Path, command: str) -> Iterator[None]:
    """Hold ``folder``'s install lock for ``command`` (``db load``) when it is a synco project; refuse while
    an install killed there is not undone. Elsewhere, nothing."""
    if not any(os.path.lexists(folder / mark) for mark in PROJECT_MARKS):
        yield
        return
    with folderlock.folder_lock(folder, folderlock.INSTALL_LOCK, "installing into"):
        if os.path.lexists(folder / JOURNAL_FILE):
            raise ConfigError(f"an install in {folder} was interrupted before it finished ({JOURNAL_FILE}): run "
                              f"'synco db rollback' there without a database URL first, which puts back what it "
                              f"replaced; {command} now would replace the database that puts back")
        yield
