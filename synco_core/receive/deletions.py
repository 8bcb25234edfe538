"""``--max-delete N`` over a whole run, and the refusals a receive makes before it changes anything.

rsync's ``--max-delete=N`` is a total over the run: it deletes up to N files, then skips the further
deletions, warns, and ends with status 25, the tree left half deleted. synco counts the same total (every
public set of a receive, then what an install takes out of the project's folders, :mod:`synco_core.install.plan`)
but is stricter about what happens when it is passed: a run that would delete more than N files deletes
none, and receives nothing either. The set lists that tell are the meta and the indexes, so the whole run is
judged before the database or any set arrives: a refusal then leaves the receive folder, the project and its
database as they were, and running again with a larger N (or after the share is mounted on the server) does
the whole run, where rsync's would have left an arbitrary part of the deletions done.

A set the server could not read (``unavailable`` in the meta) is refused the same way: a receive that
goes on with the other sets would leave the laptop with a database of today beside that set of yesterday,
and an install of it would be refused at the end anyway.

Without ``--max-delete`` only a set the server lists no file in while the laptop holds some is refused (an
unmounted share is published exactly like that): :func:`synco_core.receive.public.delete_refusal`.

Files are counted, not folders. A private set received again replaces the receive folder's copy whole and
is not counted there: its tar lists nothing before it has arrived, so the run could not be judged first.
What its install takes out of the project is counted (:mod:`synco_core.install.removals`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from synco_core.errors import SyncoError

#: What a refused run says it did.
NOTHING_DONE = "nothing was received or changed"


class RunRefusedError(SyncoError):
    """The run would delete more than ``--max-delete`` allows, empty a set the server lists no file in, or
    receive a set the server could not read: refused before anything was received or changed."""


@dataclass(frozen=True)
class SetDeletions:
    """What ``--delete`` would remove of one public set: ``removing`` local files, its index listing ``listed``."""

    name: str
    listed: int
    removing: int


@dataclass
class RunDeletions:
    """What a run's receive removed (``--delete``): how many files, and their paths by set name. An install in
    the same run counts them once: a file gone from the receive folder's copy and then from the project is
    one file to the user."""

    total: int = 0
    paths: dict[str, frozenset[str]] = field(default_factory=dict)


def run_refusal(sets: Sequence[SetDeletions], max_delete: int | None, outcome: str = NOTHING_DONE) -> str | None:
    """Why a run that would remove ``sets``' files is refused as a whole, or None.

    With ``max_delete``: more files in all than N. Without it: a set listed empty that would lose files; the
    ``--max-delete`` the line suggests is the run's total, which is what the option counts.
    """
    total = sum(item.removing for item in sets)
    if max_delete is not None:
        if total <= max_delete:
            return None
        parts = ", ".join(f"{item.name} {item.removing}" for item in sets if item.removing)
        return (f"--delete would remove {total} local file(s) in all ({parts}), more than --max-delete "
                f"{max_delete}; {outcome}")
    for item in sets:
        if not item.listed and item.removing:
            return (f"{item.name}: the server lists no file in this set, and --delete would remove all "
                    f"{item.removing} local file(s) of it (a share not mounted on the server looks like this); "
                    f"{outcome}: pass --max-delete {total} if the set was emptied on purpose")
    return None


def unavailable_refusal(name: str, reason: str, outcome: str = NOTHING_DONE) -> str:
    """The line for a run refused because the server could not read the folder of set ``name``."""
    return (f"{name}: the server could not read its folder ({reason}); {outcome}: mount it on the server and "
            "serve again, or leave the set out with --only")
