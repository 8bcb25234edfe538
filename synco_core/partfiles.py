"""The names receive gives a download cut short in a file set's folder, which no install takes as content.

Every synco's receive names its part files so: ``<file>.synco-part`` (the first versions), and since
2026-12-05 ``<file>.<tag>.synco-part`` or ``.synco-<hash>.<tag>.synco-part`` for a long name. The install
leaves them where they are, for the next receive to continue; everything that counts what an install puts
into the project (its plan, its sizes, the files it takes away, whether a set holds any file) must leave
them out the same way, or the plan and the install disagree.
"""

from __future__ import annotations

RECEIVE_PART_SUFFIX = ".synco-part"


def is_receive_part(name: str) -> bool:
    """True when the file named ``name`` (one path segment, or a path whose last segment is it) is a part file
    a receive left."""
    return name.endswith(RECEIVE_PART_SUFFIX)
