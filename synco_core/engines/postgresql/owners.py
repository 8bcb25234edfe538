"""``ALTER ... OWNER TO`` a role the loading role cannot give objects to, left out of a load.

``pg_dump``'s plain output hands every object to its owner on the source (``ALTER TABLE t OWNER TO
app_prod``). Where the dump is loaded that role often does not exist, or the loading role (a laptop's
application role, not a superuser) is no member of it, and PostgreSQL refuses the statement: the whole
install failed on it. Such a statement is left out instead, so the object stays the loading role's, as
``pg_restore --no-owner`` would have it, and the roles are named in one warning. Statements that the loading
role may run are run as they are (synco's own dumps carry owners only with ``--owners``).
"""

from __future__ import annotations

import re

from psycopg import pq

from synco_core.engines.postgresql.script import strip_comments

#: The statement's last words: ``OWNER TO`` and one role, quoted or not.
_OWNER_TO = re.compile(rb"\AALTER\s.+\sOWNER\s+TO\s+(\"(?:[^\"]|\"\")*\"|[^\s\";]+)\Z", re.IGNORECASE | re.DOTALL)
#: Roles that are always the loading role itself.
_SELF = frozenset({b"current_user", b"session_user", b"current_role"})
#: PostgreSQL 16 asks for the right to SET ROLE to the new owner, earlier versions for membership.
_SET_OPTION_VERSION = 160000


class ForeignOwners:
    """Tells the ``OWNER TO`` statements to leave out, and remembers their roles (with how many objects)."""

    def __init__(self, pgconn: pq.abc.PGconn) -> None:
        self._pgconn = pgconn
        self._may_own: dict[str, bool] = {}
        #: Role left out -> how many objects the dump gave it.
        self.skipped: dict[str, int] = {}

    def skip(self, keywords: bytes, text: bytes) -> bool:
        """True for an ``ALTER ... OWNER TO role`` (``keywords``: the statement with its quoted parts
        emptied) that the loading role could not run because of the role."""
        if keywords[:5].upper() != b"ALTER" or _OWNER_TO.match(keywords) is None:
            return False
        match = _OWNER_TO.match(strip_comments(text))
        if match is None:
            return False
        word = match.group(1)
        if word.startswith(b'"'):
            role = word[1:-1].replace(b'""', b'"').decode("utf-8", "surrogateescape")
        elif word.lower() in _SELF:
            return False
        else:
            role = word.lower().decode("utf-8", "surrogateescape")
        if role not in self._may_own:
            self._may_own[role] = self._check(role)
        if self._may_own[role]:
            return False
        self.skipped[role] = self.skipped.get(role, 0) + 1
        return True

    def _check(self, role: str) -> bool:
        option = b"SET" if self._pgconn.server_version >= _SET_OPTION_VERSION else b"MEMBER"
        result = self._pgconn.exec_params(
            b"SELECT pg_catalog.pg_has_role(current_user, r.oid, '" + option + b"') FROM pg_catalog.pg_roles r "
            b"WHERE r.rolname = $1", [role.encode("utf-8", "surrogateescape")])
        if result.status != pq.ExecStatus.TUPLES_OK:
            # Unknown: let the statement run and the server say what it thinks of it.
            return True
        return result.ntuples == 1 and result.get_value(0, 0) == b"t"

    def warning(self, loading_role: str) -> str | None:
        """One sentence naming what was left out, None when nothing was."""
        if not self.skipped:
            return None
        roles = ", ".join(sorted(self.skipped))
        return (f"{sum(self.skipped.values())} objects stay owned by {loading_role}: the dump gives them to "
                f"roles that do not exist here or that {loading_role} may not give objects to ({roles})")
