"""A receive folder is one project's: a session of another project is refused before anything is written.

Received into a folder that holds another site's content, a session's files would mix with that site's in
sets of the same name (``uploads``), ``--delete`` would remove that site's files, and ``--install`` would
install the mixture. rsync cannot tell, but synco knows which project a session is of (the meta's
``project``, :mod:`synco_core.projectidentity`) and notes it in ``.synco-received.json``. A folder whose
record names no project (an older synco's) or a session that names none (Go synco, a project without a
database) is not judged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synco_core.errors import ConfigError
from synco_core.wire import Meta


def check_same_project(record: dict[str, Any], meta: Meta, target: Path, other_project: bool) -> None:
    """Refuse ``meta`` when ``target``'s record (``record``) names another project, unless ``other_project``."""
    noted = record.get("project")
    if other_project or meta.project is None or not isinstance(noted, dict) or not isinstance(noted.get("id"), str):
        return
    if noted["id"] == meta.project["id"]:
        return
    shown = noted.get("name") if isinstance(noted.get("name"), str) else noted["id"]
    raise ConfigError(f"{target} holds what synco received of another project ({shown}), and this session is of "
                      f"the {meta.project['name']}: receive it into another folder (--target), or pass "
                      "--other-project to make this folder this project's (its sets of the same name are then "
                      "brought up to date from this one; also for a staging and a production server of one "
                      "site whose databases have different names)")


def project_to_note(record: dict[str, Any], meta: Meta) -> Any:
    """What the record notes as its project after receiving ``meta``: the session's, else the one noted."""
    return meta.project if meta.project is not None else record.get("project")
