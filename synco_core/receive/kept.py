"""Which local files of a set the laptop keeps though the server does not list them: what serve's exclude
rules match.

rsync's ``--delete --exclude X`` never removes ``X`` on the receiving side, since the sender did not look
at it: a file the sender left out is not a file the sender no longer has. synco's serve leaves out what a
set's ``exclude`` patterns match (a plugin's local caches and databases, the user's ``.synco.yml``
patterns, a public set's dotfiles) and says so in the meta (``exclude``, :mod:`synco_core.wire`); receive
(``--delete``, ``--plan``), pull and install keep the laptop's files those patterns match, unless
``--delete-excluded`` asks to remove them too. What a plugin marks as regenerated (``FileSet.regenerated``:
image styles, thumbnails) is not in that list: stale copies of derived files go like any other.

A session that names no patterns (Go synco v2, an older synco) keeps nothing this way, as before.
"""

from __future__ import annotations

from synco_core.globs import ExcludeMatcher
from synco_core.wire import WireFileSet


def keep_matcher(file_set: WireFileSet, delete_excluded: bool = False) -> ExcludeMatcher | None:
    """The matcher of the local files of ``file_set`` to keep (relative to the set's folder); None for none.

    The meta's patterns were checked when it was read (a pattern the matcher refuses makes the meta
    malformed), so this does not fail.
    """
    detail = file_set.public or file_set.private
    if delete_excluded or detail is None or not detail.exclude:
        return None
    return ExcludeMatcher(detail.exclude)


def keep_patterns(wire: object) -> tuple[str, ...]:
    """The patterns of the ``wire`` entry a receive recorded for a set (``.synco-received.json``); none
    when the entry has none or is not as receive writes it (an install then keeps nothing by them)."""
    if not isinstance(wire, dict):
        return ()
    for key in ("publicFiles", "privateEncryptedFiles"):
        detail = wire.get(key)
        if isinstance(detail, dict):
            patterns = detail.get("exclude")
            if isinstance(patterns, list) and all(isinstance(pattern, str) for pattern in patterns):
                return tuple(patterns)
    return ()
