"""Exclude patterns of file sets, with ``.gitignore``-like semantics, shared by every walk of a file set.

Patterns are relative to the file set's root and use forward slashes:

- ``*`` and ``?`` stay inside one path segment, ``[ab]`` / ``[!ab]`` / ``[a-z]`` are character classes;
- ``**`` spans any number of segments: ``**/cache/**`` matches ``cache``, ``cache/a`` and ``x/y/cache/b``;
- a pattern without a slash (``*.log``, ``private/``) matches the name at any depth;
- a pattern with a slash inside, or a leading ``/`` (``/public``), is anchored at the root;
- a trailing ``/`` is dropped (``private/`` is ``private``);
- a matched folder excludes everything below it, so walks prune it instead of entering it.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from synco_core.errors import ConfigError


def _char_class(pattern: str, index: int) -> tuple[str, int] | None:
    """The regex of the ``[...]`` class starting at ``index`` and the index after it; None when unclosed."""
    start = index + 1
    negate = start < len(pattern) and pattern[start] == "!"
    if negate:
        start += 1
    # As in fnmatch and .gitignore, a ``]`` right after the opening bracket is a member, not the end.
    close = pattern.find("]", start + 1 if start < len(pattern) and pattern[start] == "]" else start)
    if close == -1:
        return None
    # Every member escaped except the range dash: no regex syntax (``^``, ``\``, ``[``, ``&&``) leaks through.
    body = "".join(char if char == "-" else re.escape(char) for char in pattern[start:close])
    return f"[{'^' if negate else ''}{body}]", close + 1


def escape(path: str) -> str:
    """``path`` as a pattern matching only itself (for plugins that exclude a literal folder)."""
    return "".join(f"[{char}]" if char in "*?[" else char for char in path)


#: A node's way out on one character: a test of the character, and the node it leads to.
_Edge = tuple[Callable[[str], bool], int]


def _not_slash(char: str) -> bool:
    return char != "/"


def _any_char(_char: str) -> bool:
    return True


def _is_slash(char: str) -> bool:
    return char == "/"


def _member_of(compiled: re.Pattern[str]) -> Callable[[str], bool]:
    """The test of one character against a ``[...]`` class."""
    return lambda char: compiled.fullmatch(char) is not None


class _Nfa:
    """The patterns as one nondeterministic automaton over characters (Thompson's construction).

    Every pattern's pieces (a character, ``?``, a class, ``*``, ``**``, ``**/``) become a node or two with
    character edges and empty moves; the patterns share one start. Matching walks a set of nodes along the
    path, so it costs at most (path length) x (nodes), whatever the pattern: Python's regular expressions
    backtrack, and ``*a*a*a*b`` against a long name of ``a`` took seconds there.
    """

    def __init__(self) -> None:
        self.edges: list[list[_Edge]] = []
        self.empty: list[list[int]] = []
        self.accepting: set[int] = set()
        self.starts: list[int] = []

    def node(self) -> int:
        self.edges.append([])
        self.empty.append([])
        return len(self.edges) - 1

    def add(self, given: str, anchored_as_given: bool = False) -> None:
        """Add one pattern; with ``anchored_as_given`` a pattern without a ``/`` matches the whole path only."""
        pattern = given.strip()
        anchored = anchored_as_given or pattern.startswith("/") or "/" in pattern.rstrip("/")
        pattern = pattern.strip("/")
        if not anchored:
            pattern = "**/" + pattern
        # ``x/**`` is ``x`` and everything below it, which every match takes anyway (see ``closure_accepts``).
        if pattern.endswith("/**"):
            pattern = pattern[:-3]
        current = self.node()
        self.starts.append(current)
        index = 0
        while index < len(pattern):
            if pattern.startswith("**/", index):
                # ``(.*/)?``: nothing, or anything that ends with a ``/``. The loop is a node of its own: one
                # whose empty move skips to ``after`` would take anything at all, ``/`` at the end or not.
                loop, after = self.node(), self.node()
                self.empty[current] += [loop, after]
                self.edges[loop] += [(_any_char, loop), (_is_slash, after)]
                index += 3
            elif pattern.startswith("**", index):
                after = self.node()
                self.empty[current].append(after)
                self.edges[current].append((_any_char, current))
                index += 2
            elif pattern[index] == "*":
                after = self.node()
                self.empty[current].append(after)
                self.edges[current].append((_not_slash, current))
                index += 1
            else:
                test: Callable[[str], bool]
                if pattern[index] == "?":
                    test, index = _not_slash, index + 1
                elif pattern[index] == "[" and (found := _char_class(pattern, index)) is not None:
                    try:
                        # One character against one class: the regex engine cannot backtrack here. A ``--`` in
                        # a class keeps today's meaning; Python's warning of a future one is not the user's.
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore", FutureWarning)
                            compiled = re.compile(found[0], re.DOTALL)
                    except re.error as exc:
                        raise ConfigError(f"exclude pattern {given!r}: {exc}") from None
                    test, index = _member_of(compiled), found[1]
                else:
                    test, index = pattern[index].__eq__, index + 1
                after = self.node()
                self.edges[current].append((test, after))
            current = after
        self.accepting.add(current)

    def closure(self, nodes: Iterable[int]) -> frozenset[int]:
        seen = set(nodes)
        pending = list(seen)
        while pending:
            for following in self.empty[pending.pop()]:
                if following not in seen:
                    seen.add(following)
                    pending.append(following)
        return frozenset(seen)

    def step(self, nodes: frozenset[int], char: str) -> frozenset[int]:
        return self.closure(target for node in nodes for test, target in self.edges[node] if test(char))


#: Deterministic states a matcher keeps before it starts its table afresh: the table grows by at most one state
#: per character matched, and a hostile meta could otherwise make it grow with every path.
MAX_STATES = 4096


class _Automaton:
    """The :class:`_Nfa` made deterministic as paths need it: each set of nodes met becomes one state, and each
    character's move from it is worked out once and then looked up. Every character of a path costs one
    dictionary lookup, or (the first time) one move of the set of nodes: never more than linear time."""

    def __init__(self, nfa: _Nfa) -> None:
        self.nfa = nfa
        self._reset()

    def _reset(self) -> None:
        self.ids: dict[frozenset[int], int] = {}
        self.sets: list[frozenset[int]] = []
        #: Per state: the next state by character.
        self.moves: list[dict[str, int]] = []
        #: Per state: whether the characters so far are a whole match of some pattern.
        self.accepts: list[bool] = []
        #: Per state: no pattern can match any longer (no node left).
        self.dead: list[bool] = []
        self.start = self._state(self.nfa.closure(self.nfa.starts))

    def _state(self, nodes: frozenset[int]) -> int:
        found = self.ids.get(nodes)
        if found is None:
            found = self.ids[nodes] = len(self.sets)
            self.sets.append(nodes)
            self.moves.append({})
            self.accepts.append(not self.nfa.accepting.isdisjoint(nodes))
            self.dead.append(not nodes)
        return found

    def _move(self, state: int, char: str) -> int:
        if len(self.sets) >= MAX_STATES:
            nodes = self.sets[state]
            self._reset()
            state = self._state(nodes)
        following = self._state(self.nfa.step(self.sets[state], char))
        self.moves[state][char] = following
        return following

    def resume(self, nodes: frozenset[int], text: str) -> frozenset[int]:
        """The nodes after ``text`` from ``nodes`` (a walk keeps its folders' and goes on with each name)."""
        state = self._state(nodes)
        for char in text:
            following = self.moves[state].get(char)
            state = self._move(state, char) if following is None else following
            if self.dead[state]:
                break
        return self.sets[state]

    def matches(self, text: str, below: bool) -> bool:
        """Whether a pattern matches ``text`` whole, or (``below``) a part of it that ends before a ``/``."""
        state = self.start
        moves, accepts, dead = self.moves, self.accepts, self.dead
        for char in text:
            if below and char == "/" and accepts[state]:
                # A matched folder takes everything below it.
                return True
            following = moves[state].get(char)
            if following is None:
                following = self._move(state, char)
                # The move may have started the tables afresh (MAX_STATES).
                moves, accepts, dead = self.moves, self.accepts, self.dead
            state = following
            if dead[state]:
                return False
        return accepts[state]


class ExcludeMatcher:
    """``matcher(relative_posix_path)`` is True when a pattern matches the path or one of its folders.

    Serve (what it leaves out) and receive (which local files it keeps) use this one matcher, so both sides
    agree on every path; it never backtracks (:class:`_Nfa`), so no pattern a meta names can stall a receive.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(p for p in patterns if p.strip())
        self._automaton: _Automaton | None = None
        if self.patterns:
            nfa = _Nfa()
            for pattern in self.patterns:
                nfa.add(pattern)
            self._automaton = _Automaton(nfa)
        #: ``name_only(name)``: for patterns that can only ever match one whole name (no ``/``, no ``**``, no
        #: class, which could hold a ``/``), a match of a name alone. A walk that prunes excluded folders
        #: then judges an entry by its name: its folders did not match, so the full path matches exactly when
        #: the name does (and the name is a few characters, the path dozens). None for any other patterns.
        self.name_only: Callable[[str], bool] | None = None
        if self.patterns and all(_name_only(pattern) for pattern in self.patterns):
            names = _Nfa()
            for pattern in self.patterns:
                names.add(pattern, anchored_as_given=True)
            by_name = _Automaton(names)
            self.name_only = lambda name: by_name.matches(name, below=False)

    def __bool__(self) -> bool:
        return self._automaton is not None

    def __call__(self, relative: str) -> bool:
        return self._automaton is not None and self._automaton.matches(relative, below=True)

    def root(self) -> frozenset[int]:
        """Where a walk of the set's root starts (see :meth:`entry`); the patterns' start."""
        assert self._automaton is not None
        return self._automaton.sets[self._automaton.start]

    def entry(self, folder: frozenset[int], name: str) -> tuple[bool, frozenset[int]]:
        """A walk's test of entry ``name`` of a folder it reached with ``folder`` (:meth:`root`, else the
        second item of this answer for the folder, given to :meth:`inside`): whether a pattern matches it, as
        ``matcher(path)`` answers for a path whose folders did not match, and where the name leaves the
        patterns. The folders' part of the path is not matched again for every entry: a walk of a folder of
        thousands of files costs each file its name's characters only."""
        automaton = self._automaton
        assert automaton is not None
        # resume(), inlined: this runs once for every entry of a walk.
        state = automaton.ids.get(folder)
        if state is None:
            state = automaton._state(folder)
        moves, dead = automaton.moves, automaton.dead
        for char in name:
            following = moves[state].get(char)
            if following is None:
                following = automaton._move(state, char)
                moves, dead = automaton.moves, automaton.dead
            state = following
            if dead[state]:
                break
        return automaton.accepts[state], automaton.sets[state]

    def inside(self, after: frozenset[int]) -> frozenset[int]:
        """Where a walk starts the entries of a folder :meth:`entry` left at ``after``."""
        assert self._automaton is not None
        return self._automaton.resume(after, "/")


def _name_only(pattern: str) -> bool:
    """True for a pattern that matches names alone, at any depth: unanchored, and nothing in it can match a ``/``."""
    pattern = pattern.strip().rstrip("/")
    return bool(pattern) and not any(mark in pattern for mark in ("/", "**", "["))


def walk_files(root: Path, exclude: Iterable[str] = ()) -> Iterator[tuple[str, Path]]:
    """Every regular file below ``root`` as (relative posix path, path), excluded ones left out, in index order.

    Excluded folders are pruned before the walk enters them; symbolic links to folders are not followed
    (a link could lead anywhere on the server); synco's own folders (sessions, its cache) are left out.
    """
    # Imported here: the walk's module uses this one's matcher.
    from synco_core.index.order import sorted_walk
    from synco_core.serve.ttl import is_synco_folder

    for relative, entry in sorted_walk(root, ExcludeMatcher(exclude), skip_folder=is_synco_folder):
        path = Path(entry.path)
        if not entry.is_dir(follow_symlinks=False) and path.is_file():
            yield relative, path
