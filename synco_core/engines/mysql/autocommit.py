"""A dump's ``SET`` that turns ``autocommit`` off among other settings, as the parallel load must run it.

The load's worker connections commit every INSERT on its own (docs/performance.md), so a dump's ``SET
autocommit=0`` is not run there nor on the main connection. A ``SET`` assigning more than that (``SET
autocommit=0, sql_mode='NO_BACKSLASH_ESCAPES'``, ``SET SESSION sql_mode=..., @@autocommit=0``) was skipped
whole when it began with ``autocommit``, and the mode it set never reached the server (the splitter had followed
it in the text alone, so the gate and the server read the next rows' strings apart); begun with another name, it
turned autocommit off on every worker. Its other assignments now run as any ``SET`` of the dump does, on the
main connection and every worker, and the server's answer is what the splitter follows.
"""

from __future__ import annotations

from synco_core.engines.mysql.qualify import SKIPPED, Mode, Token, tokens

_SCOPES = frozenset({"SESSION", "LOCAL", "GLOBAL"})
_NAMES = frozenset({"@@AUTOCOMMIT", "@@SESSION.AUTOCOMMIT", "@@LOCAL.AUTOCOMMIT"})


def _assigns_autocommit(assignment: list[Token]) -> bool:
    meaningful = [token for token in assignment if token.kind not in SKIPPED]
    if meaningful and meaningful[0].kind == "word" and meaningful[0].text.upper() in _SCOPES:
        meaningful = meaningful[1:]
    if not meaningful:
        return False
    first = meaningful[0]
    if first.kind == "variable":
        return first.text.replace("`", "").upper() in _NAMES
    return first.kind in ("word", "quoted") and first.name.upper() == "AUTOCOMMIT"


def without_autocommit(statement: bytes, mode: Mode) -> bytes | None:
    """``statement`` (a ``SET``) without its assignments to the session's ``autocommit``: None when it has none,
    empty when nothing else is left."""
    parsed = tokens(statement.decode("latin-1"), mode)
    at = 0
    while at < len(parsed) and parsed[at].kind in SKIPPED:
        at += 1
    if at >= len(parsed) or parsed[at].text.upper() != "SET":
        return None
    head = parsed[:at + 1]
    rest = parsed[at + 1:]
    tail: list[Token] = []
    while rest and rest[-1].kind in SKIPPED:
        tail.insert(0, rest.pop())
    assignments: list[list[Token]] = [[]]
    depth = 0
    for token in rest:
        if token.kind == "paren":
            depth += 1
        elif token.text == ")":
            depth -= 1
        if token.text == "," and depth == 0:
            assignments.append([])
            continue
        assignments[-1].append(token)
    meaningful = [token for token in rest if token.kind not in SKIPPED]
    if meaningful and meaningful[0].kind == "word" and meaningful[0].text.upper() == "STATEMENT":
        return None  # SET STATEMENT ... FOR: settings for one statement only.
    kept = [assignment for assignment in assignments if not _assigns_autocommit(assignment)]
    if len(kept) == len(assignments):
        return None
    if not kept:
        return b""
    body = ", ".join("".join(token.text for token in assignment).strip() for assignment in kept)
    opened = "".join(token.text for token in head)
    closed = "".join(token.text for token in tail)
    return (opened + " " + body + (" " + closed.strip() if closed.strip() else "")).encode("latin-1")
