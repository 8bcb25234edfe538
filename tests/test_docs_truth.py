"""The reference pages tell the truth about what the code reads, accepts and prints (the companion of test_docs.py).

Each check goes both ways where it can: what the code reads or accepts is documented, and what the docs name
is read or accepted. Checked here: the environment variables (docs/configuration.md's table), the keys of
``.synco.yml`` (its section of docs/configuration.md, and every YAML example of it in the docs through the real
parsers), the error messages the docs quote, the Python blocks of the plugin guide, and the relative links of
the pages mkdocs does not build (README.md, the plugins' READMEs).
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest
import yaml

from synco_core import hookspecs
from synco_core.testing.services import require_module

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"


def code_files() -> Iterator[Path]:
    """The Python that ships or runs synco: the core, every plugin, the example plugin, the nox sessions."""
    yield from (ROOT / "synco_core").rglob("*.py")
    for package in (ROOT / "plugins").glob("*/synco_*"):
        if package.is_dir() and not package.name.endswith(".egg-info"):
            yield from package.rglob("*.py")
    yield from (DOCS / "examples" / "synco-hugo" / "synco_hugo").rglob("*.py")
    yield ROOT / "noxfile.py"


@functools.cache
def code_trees() -> tuple[ast.Module, ...]:
    return tuple(ast.parse(path.read_text(encoding="utf-8")) for path in code_files())


@functools.cache
def constants() -> frozenset[str]:
    """Every string constant of that code (implicitly joined literals are one)."""
    return frozenset(node.value for tree in code_trees() for node in ast.walk(tree)
                     if isinstance(node, ast.Constant) and isinstance(node.value, str))


def doc_pages() -> list[Path]:
    pages = [ROOT / "README.md", *sorted(DOCS.rglob("*.md")), *sorted((ROOT / "plugins").glob("*/README.md"))]
    return [page for page in pages if "tests" not in page.relative_to(ROOT).parts]


def section(text: str, heading: str) -> str:
    """From the level-2 ``heading`` line to the next level-2 heading."""
    match = re.search(rf"^## {re.escape(heading)}[^\n]*$(?P<body>.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no section '## {heading}'"
    return match["body"]


# --- environment variables ------------------------------------------------------------------------------------

def documented_variables() -> dict[str, str]:
    """Every variable of the configuration reference's table, with its row."""
    table = section(CONFIGURATION.read_text(encoding="utf-8"), "Environment variables")
    found: dict[str, str] = {}
    for row in table.splitlines():
        cells = row.split("|")
        if row.startswith("| `") and len(cells) > 2:
            for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[1]):
                found[name] = row
    return found


def test_every_synco_variable_the_code_reads_is_documented() -> None:
    read = {value for value in constants() if re.fullmatch(r"SYNCO_[A-Z0-9_]+", value)}
    assert {"SYNCO_KEY", "SYNCO_LOAD_PLUGINS", "SYNCO_PIPE_TIMEOUT"} <= read  # the scan itself works
    missing = sorted(read - set(documented_variables()))
    assert not missing, f"read by the code but not in docs/configuration.md's environment variables: {missing}"


@pytest.mark.parametrize("name", sorted(documented_variables()))
def test_every_documented_variable_is_read(name: str) -> None:
    # A name that no string of the code spells whole is read nowhere: a renamed or removed variable.
    assert name in constants(), f"docs/configuration.md documents {name}, which no code reads"


# --- .synco.yml keys -----------------------------------------------------------------------------------------

def accepted_keys() -> dict[str, frozenset[str]]:
    """What each part of synco accepts in ``.synco.yml``, from the parsers' own constants."""
    config = require_module("synco_generic.config", "synco-generic is installed with nox -s tests")
    from synco_core.pull.remote import REMOTE_KEYS
    from synco_core.receive.locate import HOST_ITEM_KEYS, HOST_KEYS

    return {
        "top level": config.TOP_LEVEL_KEYS | HOST_KEYS | {"receive", "remotes"},
        "serve": config.SERVE_KEYS,
        "serve.database": config.DATABASE_KEYS,
        "serve.file_sets[]": config.FILE_SET_KEYS,
        "sanitize": config.SANITIZE_KEYS,
        "sanitize.columns.*": config.COLUMN_RULE_KEYS,
        "keep_newest.*": config.KEEP_NEWEST_KEYS,
        "remotes.*": REMOTE_KEYS,
        "hosts (receive)": HOST_KEYS | HOST_ITEM_KEYS,
    }


def synco_yml_section() -> str:
    text = CONFIGURATION.read_text(encoding="utf-8")
    return text[text.index("## `.synco.yml`"):text.index("## `DATABASE_URL` forms")]


@pytest.mark.parametrize("part", ["top level", "serve", "serve.database", "serve.file_sets[]", "sanitize",
                                  "sanitize.columns.*", "keep_newest.*", "remotes.*", "hosts (receive)"])
def test_every_key_the_parsers_accept_is_documented(part: str) -> None:
    body = synco_yml_section()
    missing = sorted(key for key in accepted_keys()[part]
                     if not re.search(rf"(^\s*-?\s*{key}:|`{key}:?`|[{{,]\s*{key}:)", body, re.M))
    assert not missing, f"{part}: accepted in .synco.yml but not documented in docs/configuration.md: {missing}"


def yaml_blocks(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return [m["code"] for m in re.finditer(r"^```ya?ml\n(?P<code>.*?)^```$", text, re.M | re.S)]


SYNCO_YML_EXAMPLES = [(page, index) for page in doc_pages() for index, block in enumerate(yaml_blocks(page))
                      if set(yaml.safe_load(block) or {}) & {"serve", "sanitize", "remotes", "hosts", "local_hosts"}]


def test_synco_yml_examples_found() -> None:
    assert {page.name for page, _ in SYNCO_YML_EXAMPLES} >= {"configuration.md", "README.md"}


@pytest.mark.parametrize(("page", "index"), SYNCO_YML_EXAMPLES,
                         ids=[f"{page.relative_to(ROOT)}#{index}" for page, index in SYNCO_YML_EXAMPLES])
def test_synco_yml_example_is_accepted(page: Path, index: int, tmp_path: Path) -> None:
    """Each `.synco.yml` example of the docs, copied as it stands, passes every reader of the file."""
    config_module = require_module("synco_generic.config", "synco-generic is installed with nox -s tests")
    from synco_core.pull.remote import load_remotes, remote_from_config
    from synco_core.receive.locate import configured_hosts

    block = yaml_blocks(page)[index]
    (tmp_path / ".synco.yml").write_text(block, encoding="utf-8")
    environ = {"DATABASE_URL": "mysql://shop:pw@db/shop", "DB_PASSWORD": "pw", "DB_HOST": "db"}
    config_module.load_config(tmp_path, environ)  # raises on an unknown key, a wrong type, a bad rule
    for name, entry in load_remotes(tmp_path / ".synco.yml").items():
        remote_from_config(name, entry, set)
    data: dict[str, Any] = yaml.safe_load(block)
    hosts = data.get("hosts") or []
    assert len(configured_hosts(tmp_path)) == len(hosts)


# --- quoted error messages ------------------------------------------------------------------------------------

#: Messages the docs quote from other programs (a database server, a shell), not from synco.
OTHER_PROGRAMS = (
    "permission denied for table", "query would be affected by row-level security", "permission denied to create",
)
#: Wording the code composes from parts (names.safe_name's ``f"unsafe {what} ..."``), as the docs quote it.
COMPOSED = ("unsafe dump format",)
#: Code, not messages, that the docs quote in words (a comment, a Python expression).
NOT_MESSAGES = ("x if c else y", "-- create user rows")
#: Where a quoted message's literal text ends: an elision, a placeholder, a name or value that differs per run.
PLACEHOLDER = re.compile(r"\.\.\.|…|<|'|\"|\(|(?<=\s)\S*[A-Z\d]\S*|\S*[/$`{\[]\S*|;")
COMMAND = re.compile(r"^(?:synco|python3?|php|ssh|docker|kubectl|pip|nox|apt-get|rsync|uvx|age|wp|rails|bundle|"
                     r"platform|cat|mariadb-dump|psql|manage\.py|resource:publish|from|import|def|class)\b|=|\|")


def quoted_messages() -> Iterator[tuple[str, str]]:
    """(page, message) for each message the pages quote: in backticks, or a fenced line starting ``Error:``."""
    for page in doc_pages():
        text = page.read_text(encoding="utf-8")
        for block in re.findall(r"^```[a-z]*\n(.*?)^```$", text, re.M | re.S):
            for line in block.splitlines():
                if line.startswith("Error: "):
                    yield page.relative_to(ROOT).as_posix(), line
        prose = re.sub(r"^```.*?^```$", "", text, flags=re.M | re.S)
        for match in re.finditer(r"(?<!`)`([^`]+)`(?!`)", prose):
            yield page.relative_to(ROOT).as_posix(), " ".join(match[1].split())


def literal_prefix(message: str) -> str:
    """The words a message starts with up to its first placeholder, without ``Error:``."""
    message = message.removeprefix("Error: ")
    stop = PLACEHOLDER.search(message)
    return (message[:stop.start()] if stop else message).strip().rstrip(":,").strip()


def message_prefixes() -> list[tuple[str, str]]:
    found = []
    for page, message in quoted_messages():
        prefix = literal_prefix(message)
        if (len(prefix.split()) >= 4 and not COMMAND.search(message) and " -" not in prefix
                and not prefix.startswith(OTHER_PROGRAMS) and prefix not in NOT_MESSAGES):
            found.append((page, prefix))
    return sorted(set(found))


def test_message_prefixes_found() -> None:
    prefixes = {prefix for _, prefix in message_prefixes()}
    assert "no space left on the disk that holds dump: set" in prefixes


Template = tuple[str | None, ...]


def message_templates() -> Iterator[Template]:
    """Every string of the code as literal pieces and ``None`` for each value an f-string puts in."""
    for tree in code_trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                yield tuple(" ".join(str(part.value).split()) if isinstance(part, ast.Constant) else None
                            for part in node.values)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield (" ".join(node.value.split()),)


def literal_match(text: str, pieces: Template) -> int:
    """How many characters of ``text`` the literal pieces match when ``text`` is the start of what ``pieces``
    print, each ``None`` standing for any value; -1 when it cannot be."""
    if not text or not pieces:
        return 0 if not text else -1
    first, rest = pieces[0], pieces[1:]
    if first is None:
        return max(literal_match(text[cut:], rest) for cut in range(len(text) + 1))
    if text.startswith(first):
        after = literal_match(text[len(first):], rest)
        return -1 if after < 0 else len(first) + after
    return len(text) if first.startswith(text) else -1


def literal_match_anywhere(text: str, pieces: Template) -> int:
    """:func:`literal_match` for ``text`` starting anywhere: in a value, or inside one of the literal pieces."""
    best = literal_match(text, (None, *pieces))
    head = text[:8]
    for index, piece in enumerate(pieces):
        start = piece.find(head) if piece else -1
        while piece and start >= 0:
            best = max(best, literal_match(text, (piece[start:], *pieces[index + 1:])))
            start = piece.find(head, start + 1)
    return best


def printed_by_the_code(prefix: str, templates: list[Template]) -> bool:
    # Quoted from anywhere in a message (a value may stand before it), with a value such as a folder's name
    # in it; most of it must be the code's own words. A message joined from parts ("<path>: <key>: <message>",
    # "remote side: <how>") counts when each part of three words or more does.
    words = [word for word in re.findall(r"[a-z]{4,}", prefix)]
    candidates = [t for t in templates if all(any(w in piece for piece in t if piece) for w in words[:2])]
    if prefix in COMPOSED or any(literal_match_anywhere(prefix, t) >= 0.75 * len(prefix) for t in candidates):
        return True
    parts = [part for part in prefix.split(": ") if len(part.split()) >= 3]
    return bool(parts) and parts != [prefix] and all(printed_by_the_code(part, templates) for part in parts)


def test_every_quoted_message_prefix_exists_in_the_code() -> None:
    templates = list(set(message_templates()))
    stale = [f"{page}: {prefix!r}" for page, prefix in message_prefixes()
             if not printed_by_the_code(prefix, templates)]
    assert not stale, "the docs quote messages the code does not print:\n" + "\n".join(stale)


def test_quoted_unknown_key_messages_list_the_keys_the_parser_allows(tmp_path: Path) -> None:
    """A documented ``unknown key (allowed: ...)`` line is what the parser prints for that key today."""
    config_module = require_module("synco_generic.config", "synco-generic is installed with nox -s tests")
    quoted = [(page, message) for page, message in quoted_messages() if "unknown key (allowed:" in message]
    assert any("(allowed: ...)" not in message for _, message in quoted)
    for page, message in quoted:
        match = re.search(r"(?P<key>[\w.\[\]]+)\.(?P<name>\w+): unknown key \(allowed: (?P<allowed>[^)]*)\)", message)
        if match is None or match["allowed"] == "...":
            continue
        key = re.sub(r"\[\d+\]", "[]", match["key"])
        allowed = {"serve.file_sets[]": config_module.FILE_SET_KEYS, "serve": config_module.SERVE_KEYS,
                   "serve.sanitize": config_module.SANITIZE_KEYS, "sanitize": config_module.SANITIZE_KEYS}[key]
        assert match["allowed"] == ", ".join(sorted(allowed)), f"{page}: {message}"


# --- Python blocks of the plugin guide -----------------------------------------------------------------------

def python_blocks(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return [m["code"] for m in re.finditer(r"^```python\n(?P<code>.*?)^```$", text, re.M | re.S)]


PYTHON_PAGES = [page for page in doc_pages() if python_blocks(page)]


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PYTHON_PAGES])
def test_python_blocks_compile(page: Path) -> None:
    for index, block in enumerate(python_blocks(page)):
        compile(block, f"{page.name} block {index}", "exec")


def test_the_guides_plugin_block_loads_through_pluggy() -> None:
    """The plugin the guide shows, run as written, is a plugin: pluggy validates every hook against its spec."""
    guide = DOCS / "writing-a-plugin.md"
    blocks = [block for block in python_blocks(guide) if "@hookimpl" in block]
    assert blocks, "the plugin guide shows no hook implementations"
    for block in blocks:
        module = types.ModuleType("synco_guide_example")
        exec(compile(block, guide.name, "exec"), vars(module))
        manager = pluggy.PluginManager(hookspecs.hookspec.project_name)
        manager.add_hookspecs(hookspecs)
        manager.register(module, "guide")
        implemented = {impl.function.__name__ for caller in manager.hook.__dict__.values()
                       if isinstance(caller, pluggy.HookCaller) for impl in caller.get_hookimpls()}
        assert implemented >= {"detect_framework"}, implemented


# --- links of the pages mkdocs does not build ----------------------------------------------------------------

def anchors(page: Path) -> set[str]:
    """The ids mkdocs gives the headings of ``page`` (toc's slugify, or an explicit ``{ #id }``)."""
    ids: set[str] = set()
    for heading in re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), re.M):
        explicit = re.search(r"\{\s*#([\w-]+)\s*\}\s*$", heading)
        if explicit:
            ids.add(explicit[1])
            continue
        text = re.sub(r"[`*]", "", heading).strip().lower()
        ids.add(re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", text)))
    return ids


OUTSIDE_MKDOCS = [ROOT / "README.md", *sorted((ROOT / "plugins").glob("*/README.md")),
                  *sorted((ROOT / "examples").glob("*/README.md"))]


@pytest.mark.parametrize("page", OUTSIDE_MKDOCS, ids=[p.relative_to(ROOT).as_posix() for p in OUTSIDE_MKDOCS])
def test_relative_links_resolve(page: Path) -> None:
    text = re.sub(r"^```.*?^```$", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_pages_the_code_sends_readers_to_exist() -> None:
    """Help texts, messages and docstrings that name a docs page (``docs/engines.md``) name one that exists."""
    named = {match for path in code_files()
             for match in re.findall(r"\bdocs/[\w/-]+\.md(?:#[\w-]+)?", path.read_text(encoding="utf-8"))}
    assert named, "the scan found no page named in the code"
    broken = []
    for reference in sorted(named):
        page, _, anchor = reference.partition("#")
        if not (ROOT / page).is_file():
            broken.append(f"{reference}: no such page")
        elif anchor and anchor not in anchors(ROOT / page):
            broken.append(f"{reference}: no heading #{anchor}")
    assert not broken, "; ".join(broken)


def test_the_documented_plugins_json_is_what_synco_plugins_prints() -> None:
    """The keys docs/configuration.md gives for ``synco plugins --json`` are the keys it prints, per section."""
    text = section(CONFIGURATION.read_text(encoding="utf-8"), "Commands")
    row = next(line for line in text.splitlines() if line.startswith('| `--json` | print `{"plugins"'))
    documented = {name: set(re.findall(r'"(\w+)"', keys))
                  for name, keys in re.findall(r'"(\w+)": \[\{([^}]*)\}\]', row)}
    # One plugin left out and one unknown name: every section has an entry to compare.
    environ = {**os.environ, "SYNCO_DISABLE_PLUGINS": "generic,no-such-plugin"}
    done = subprocess.run([sys.executable, "-m", "synco_core", "plugins", "--json"], env=environ,
                          capture_output=True, text=True, check=True, timeout=120)
    printed = json.loads(done.stdout)
    assert set(printed) == set(documented)
    for name, entries in printed.items():
        assert entries, f"no {name} entry to compare"
        assert {key for entry in entries for key in entry} == documented[name], name
