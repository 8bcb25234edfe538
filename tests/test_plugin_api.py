"""The plugin API has an edge: plugins reach the core only through ``synco_core`` (and their tests through
``synco_core.testing``), the public names all exist and are documented, and importing the package stays cheap.

Like pytest's ``pytest`` in front of ``_pytest``: every other module of the core is internal, so a plugin that
imports one would break on any refactoring. The check parses every Python file of ``plugins/`` and
``docs/examples/`` (the plugins synco ships, and the example third-party plugin the docs walk through).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import synco_core
import synco_core.testing

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_ROOTS = sorted([*(ROOT / "plugins").glob("synco-*"), *(ROOT / "docs/examples").glob("synco-*")])
#: What plugin code may import from the core, and what its tests may import besides.
CODE_MODULES = frozenset({"synco_core"})
TEST_MODULES = frozenset({"synco_core", "synco_core.testing", "synco_core.testing.services"})
UTILITIES_PAGE = ROOT / "docs" / "plugin-utilities.md"
TESTING_NAMES = frozenset(getattr(synco_core.testing, "__all__", ()))


def plugin_files() -> Iterator[tuple[Path, bool]]:
    """Every Python file of every plugin, and whether it is test code (under ``tests/``, or a conftest)."""
    for plugin in PLUGIN_ROOTS:
        for path in sorted(plugin.rglob("*.py")):
            relative = path.relative_to(plugin)
            if relative.parts[0] in ("build", ".nox") or ".egg-info" in str(relative):
                continue
            yield path, relative.parts[0] == "tests" or path.name == "conftest.py"


def core_references(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """(line, module, imported name or None) for every reference to a ``synco_core`` module in ``path``:
    import statements (at any depth, in functions too) and module names given as strings to
    ``importlib.import_module``, ``pytest.importorskip`` or ``-p`` pytest options."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "synco_core":
                    yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "synco_core":
                for alias in node.names:
                    yield node.lineno, node.module, alias.name
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for match in re.finditer(r"\bsynco_core(?:\.\w+)*", node.value):
                text = node.value
                # A module name on its own (an import by string), not prose that mentions one.
                if text.strip() == match.group(0) or text.startswith("-p "):
                    yield node.lineno, match.group(0), None


def test_plugins_exist() -> None:
    # Guards the walk itself: with no files found, the edge test below would pass vacuously.
    names = {p.name for p in PLUGIN_ROOTS}
    assert {"synco-generic", "synco-laravel", "synco-neos", "synco-symfony", "synco-django", "synco-rails",
            "synco-hugo"} <= names
    assert sum(1 for _ in plugin_files()) > 20


@pytest.mark.parametrize("plugin", PLUGIN_ROOTS, ids=lambda p: p.name)
def test_plugin_imports_only_the_public_api(plugin: Path) -> None:
    wrong = []
    for path, is_test in plugin_files():
        if not path.is_relative_to(plugin):
            continue
        allowed = TEST_MODULES if is_test else CODE_MODULES
        for line, module, name in core_references(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if module not in allowed:
                wrong.append(f"{where}: {module}")
            elif name is not None and module == "synco_core" and name not in synco_core.__all__:
                wrong.append(f"{where}: synco_core.{name} (not in synco_core.__all__)")
            elif name is not None and module == "synco_core.testing" and name not in TESTING_NAMES:
                wrong.append(f"{where}: synco_core.testing.{name} (not in synco_core.testing.__all__)")
    assert not wrong, "imports of synco_core internals (export what plugins need from synco_core):\n" + "\n".join(
        wrong)


def test_every_public_name_exists() -> None:
    missing = [name for name in synco_core.__all__ if not hasattr(synco_core, name)]
    assert not missing
    assert len(set(synco_core.__all__)) == len(synco_core.__all__)
    testing_missing = [name for name in synco_core.testing.__all__ if not hasattr(synco_core.testing, name)]
    assert not testing_missing


def test_every_public_name_is_documented() -> None:
    """The "Plugin utilities" page is the reference of the public API: each name has an entry there."""
    text = UTILITIES_PAGE.read_text(encoding="utf-8")
    undocumented = [name for name in synco_core.__all__ if f"`{name}" not in text]
    assert not undocumented, f"not on {UTILITIES_PAGE.relative_to(ROOT)}: {', '.join(undocumented)}"
    testing_undocumented = [name for name in synco_core.testing.__all__ if f"`{name}" not in text]
    assert not testing_undocumented, f"synco_core.testing names not documented: {', '.join(testing_undocumented)}"


def test_utilities_page_is_in_the_navigation() -> None:
    assert "plugin-utilities.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


HEAVY = ("pymysql", "psycopg", "cryptography", "zstandard", "httpx", "click", "yaml", "rich", "sqlite3")


def test_import_synco_core_stays_cheap() -> None:
    """``import synco_core`` (every command, the remote side of pull) loads no driver and no utility module:
    the utilities load on first use."""
    code = ("import sys, synco_core; "
            "print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] in {'synco_core', *sys.argv[1:]})))")
    loaded = subprocess.run([sys.executable, "-c", code, *HEAVY], capture_output=True, text=True, check=True,
                            cwd=ROOT).stdout.split()
    assert set(loaded) == {"synco_core", "synco_core.errors", "synco_core.values"}, loaded


def test_utility_loads_on_first_use() -> None:
    code = ("import sys, synco_core; assert 'synco_core.dburl' not in sys.modules; "
            "from synco_core import parse_database_url; assert 'synco_core.dburl' in sys.modules; "
            "print(parse_database_url('sqlite:////tmp/x.db').engine)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT)
    assert (result.returncode, result.stdout.strip()) == (0, "sqlite"), result.stderr


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        synco_core.nothing_here  # noqa: B018
    with pytest.raises(ImportError):
        from synco_core import nothing_here  # noqa: F401


def test_mypy_checks_every_plugin() -> None:
    """``nox -s typecheck`` runs mypy --strict on the files pyproject.toml lists: every plugin package is one."""
    # Read without tomllib, which Python 3.10 lacks: the list is the one after [tool.mypy].
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(r"^\[tool\.mypy\]$.*?^files = \[(?P<files>.*?)\]", text, re.M | re.S)
    assert block, "pyproject.toml has no files list under [tool.mypy]"
    files = re.findall(r'"([^"]+)"', block["files"])
    packages = sorted(
        str(package.relative_to(ROOT)) for plugin in PLUGIN_ROOTS for package in plugin.glob("synco_*")
        if package.is_dir() and (package / "__init__.py").exists()
    )
    assert packages and set(packages) <= set(files), f"not type-checked: {sorted(set(packages) - set(files))}"
    assert "synco_core" in files


#: Modules below synco_core that plugins are told to import: the test API only.
PUBLIC_SUBMODULES = {"synco_core.testing", "synco_core.testing.services"}


@pytest.mark.parametrize("page", ["docs/writing-a-plugin.md", "synco_core/hookspecs.py"])
def test_what_plugin_authors_are_told_to_call_is_public(page: str) -> None:
    """The guide and the hook reference send a plugin only to ``synco_core``'s public names, never to a module
    behind it (those "may change in any release"), so following them never makes a plugin depend on internals."""
    text = (ROOT / page).read_text(encoding="utf-8")
    if page.endswith(".py"):
        # What the module says to plugin authors: its docstrings, not its own imports.
        tree = ast.parse(text)
        nodes = [tree, *(node for node in tree.body if isinstance(node, ast.FunctionDef))]
        text = "\n".join(ast.get_docstring(node) or "" for node in nodes)
    private = sorted({
        dotted for dotted in re.findall(r"synco_core(?:\.[A-Za-z_]+)+", text)
        if dotted not in PUBLIC_SUBMODULES and dotted.split(".")[1] not in synco_core.__all__
        and not dotted.startswith("synco_core.testing.")
    })
    assert not private, f"{page} sends plugins to internal names: {', '.join(private)}"
