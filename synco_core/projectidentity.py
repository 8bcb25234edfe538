"""Which project a session is of, told without the server's paths or host names (``project`` in the meta).

A receive folder holds one project's content: a second site received into it would mix its files with the
first one's (and ``--delete`` would remove the first one's). A receiver tells two projects apart by this.
It is made of what stays the same across deploys, containers and environments of one site and differs
between two sites on one server: the framework and the database it uses (engine and name, the file's name for
SQLite). Not the project folder (a deploy tool's release folder changes with every deploy), nor the host (a
container's name changes with every pod). Two sites with the very same database name are not told apart.
"""

from __future__ import annotations

import hashlib
import os

from synco_core.values import Framework
from synco_core.wire import MAX_PROJECT_NAME


def project_identity(framework: Framework) -> dict[str, str] | None:
    """The meta's ``project``: ``id`` (a digest) and ``name`` (for the one line that names it); None for a
    project without a database, which has nothing that names it across deploys."""
    database = framework.database
    if database is None:
        return None
    name = os.path.basename(database.name) if database.engine == "sqlite" else database.name
    digest = hashlib.blake2b("\0".join((framework.name, database.engine, name)).encode("utf-8", "surrogateescape"),
                             digest_size=12, person=b"synco-project").hexdigest()
    shown = f"{framework.name} project of the {database.engine} database {name!r}"
    return {"id": f"blake2b:{digest}", "name": shown[:MAX_PROJECT_NAME]}
