"""Docs and code cannot drift apart: every hook and every CLI command must be documented, and tested.

Like datasette's ``tests/test_docs.py``: adding a hook to :mod:`synco_core.hookspecs` without a reference
entry in docs/writing-a-plugin.md, a ``:param`` line per argument and a test of its own fails here; so does a
command or option of ``synco`` that docs/configuration.md does not mention.

A test counts as a hook's own test when its function name contains the hook name
(``def test_install_files_...``) or it is marked ``@pytest.mark.hook("install_files")`` (on the function, the
class, or as a module's ``pytestmark``).
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from synco_core import hookspecs
from synco_core.cli.main import cli
from synco_core.testing.services import require_module

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PLUGIN_GUIDE = DOCS / "writing-a-plugin.md"
CONFIGURATION = DOCS / "configuration.md"


def hook_specs() -> dict[str, inspect.Signature]:
    """Every function of the hookspecs module that carries the ``synco`` hookspec marker."""
    marker = f"{hookspecs.hookspec.project_name}_spec"
    return {
        name: inspect.signature(obj)
        for name, obj in vars(hookspecs).items()
        if inspect.isfunction(obj) and hasattr(obj, marker)
    }


HOOKS = sorted(hook_specs())


def hook_reference() -> str:
    """The "Hook reference" section of the plugin guide (up to the next level-2 heading)."""
    text = PLUGIN_GUIDE.read_text(encoding="utf-8")
    match = re.search(r"^## Hook reference\s*$(?P<body>.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"{PLUGIN_GUIDE.relative_to(ROOT)} has no '## Hook reference' section"
    return match["body"]


def test_hookspecs_found() -> None:
    # Guards the introspection itself: if the marker attribute changed, every check below would pass vacuously.
    assert {"detect_framework", "dump_database", "list_file_sets", "install_database", "install_files"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_in_reference_with_arguments(hook: str) -> None:
    arguments = ", ".join(hook_specs()[hook].parameters)
    heading = f"### `{hook}({arguments})`"
    assert heading in hook_reference().splitlines(), f"missing from the hook reference: {heading}"


def test_reference_lists_no_unknown_hook() -> None:
    documented = re.findall(r"^### `(\w+)\(", hook_reference(), re.M)
    assert sorted(documented) == HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_hookspec_docstring_has_params(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert doc, f"hookspec {hook} has no docstring"
    for argument in hook_specs()[hook].parameters:
        assert f":param {argument}:" in doc, f"hookspec {hook}: no ':param {argument}:' in its docstring"
    assert ":return:" in doc, f"hookspec {hook}: no ':return:' in its docstring"


@pytest.mark.parametrize("hook", HOOKS)
def test_hookspec_docstring_says_how_results_combine(hook: str) -> None:
    """A plugin author must learn from the docstring whether the first answer wins or every plugin's counts."""
    spec = getattr(hookspecs, hook)
    doc = " ".join((inspect.getdoc(spec) or "").split())
    if getattr(spec, f"{hookspecs.hookspec.project_name}_spec")["firstresult"]:
        assert "first non-None" in doc, f"hookspec {hook} is firstresult but does not say 'first non-None'"
    else:
        assert "first non-None" not in doc, f"hookspec {hook} is not firstresult but says 'first non-None'"
        assert any(words in doc.lower() for words in ("every plugin", "joined", "ignored")), (
            f"hookspec {hook}: say how the results of several plugins combine (every plugin / joined / ignored)"
        )


def _test_sources() -> Iterator[Path]:
    yield from (ROOT / "tests").rglob("*.py")
    for plugin_tests in (ROOT / "plugins").glob("*/tests"):
        yield from plugin_tests.rglob("*.py")


@pytest.fixture(scope="module")
def test_texts() -> list[str]:
    return [path.read_text(encoding="utf-8", errors="replace") for path in _test_sources()
            if path.resolve() != Path(__file__).resolve()]


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook: str, test_texts: list[str]) -> None:
    named = re.compile(rf"^\s*(?:async\s+)?def\s+test_\w*{hook}\w*\s*\(", re.M)
    marked = re.compile(rf"""mark\.hook\(\s*["']{hook}["']\s*\)""")
    assert any(named.search(text) or marked.search(text) for text in test_texts), (
        f"hook {hook} has no test of its own: name one test_..{hook}.. or mark it @pytest.mark.hook({hook!r})"
    )


def walk_commands(group: click.Group, prefix: str = "synco") -> Iterator[tuple[str, click.Command]]:
    """Every command of the CLI as (full name, command), subgroups included.

    Goes through ``list_commands``/``get_command``, the API click itself uses for ``--help``, because the
    group loads its command modules on demand.
    """
    ctx = click.Context(group, info_name=prefix.rsplit(" ", 1)[-1])
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            # Internal commands (the remote end of `synco pull`) are not part of the user interface.
            continue
        full = f"{prefix} {name}"
        yield full, command
        if isinstance(command, click.Group):
            yield from walk_commands(command, full)


COMMANDS = dict(walk_commands(cli))


def test_commands_found() -> None:
    assert {"synco plugins", "synco detect", "synco db", "synco db dump"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_in_configuration_reference(name: str) -> None:
    text = CONFIGURATION.read_text(encoding="utf-8")
    assert re.search(rf"`{re.escape(name)}(?:[` ])", text), f"{name} is not mentioned in docs/configuration.md"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_options_documented(name: str) -> None:
    """Every long option of a command appears in that command's section (from its heading to the next)."""
    text = CONFIGURATION.read_text(encoding="utf-8")
    match = re.search(rf"^#+ `{re.escape(name)}`.*?$(?P<body>.*?)(?=^#+ |\Z)", text, re.M | re.S)
    assert match, f"docs/configuration.md has no heading `{name}`"
    body = match["body"]
    for param in COMMANDS[name].params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        longest = max(param.opts + param.secondary_opts, key=len)
        if longest in ("--help", "--debug"):
            continue
        for option in param.opts + param.secondary_opts:
            if option.startswith("--"):
                assert option in body, f"{name}: option {option} is not documented in its section"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_documented_options_exist(name: str) -> None:
    """The other direction: an option in a command's table exists, unless its row says it is planned."""
    text = CONFIGURATION.read_text(encoding="utf-8")
    match = re.search(rf"^#+ `{re.escape(name)}`.*?$(?P<body>.*?)(?=^#+ |\Z)", text, re.M | re.S)
    assert match, f"docs/configuration.md has no heading `{name}`"
    actual = {opt for p in COMMANDS[name].params if isinstance(p, click.Option) for opt in p.opts + p.secondary_opts}
    for row in match["body"].splitlines():
        cells = row.split("|")
        if not row.startswith("| `") or len(cells) < 3 or "planned" in cells[2]:
            continue
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", cells[1]):
            assert option in actual, f"{name}: the docs list {option}, which the command does not have"


def synopsis(name: str) -> str:
    """The command's usage lines: the code spans of its section that start with the command's name."""
    text = CONFIGURATION.read_text(encoding="utf-8")
    match = re.search(rf"^#+ `{re.escape(name)}`.*?$(?P<body>.*?)(?=^#+ |\Z)", text, re.M | re.S)
    assert match, f"docs/configuration.md has no heading `{name}`"
    return " ".join(re.findall(rf"^`({re.escape(name)}(?: [^`]*)?)`$", match["body"], re.M | re.S))


@pytest.mark.parametrize("name", [name for name in sorted(COMMANDS) if synopsis(name)])
def test_synopsis_names_every_option_and_argument(name: str) -> None:
    """The usage line a reader copies from: each option (one of its spellings) and argument is there, and
    nothing else is."""
    usage = synopsis(name)
    for param in COMMANDS[name].params:
        if isinstance(param, click.Option):
            if param.hidden or {"--help", "--debug"} & set(param.opts):
                continue
            spellings = param.opts + param.secondary_opts
            assert any(re.search(rf"{re.escape(o)}(?![\w-])", usage) for o in spellings), \
                f"{name}: the usage line lacks {max(spellings, key=len)}"
        else:
            shown = param.metavar or (param.name or "").upper()  # as --help shows it
            assert shown in usage, f"{name}: the usage line lacks the argument {shown}"
    actual = {opt for p in COMMANDS[name].params if isinstance(p, click.Option) for opt in p.opts + p.secondary_opts}
    unknown = sorted(set(re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*)", usage)) - actual)
    assert not unknown, f"{name}: the usage line shows {unknown}, which the command does not have"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_documented_defaults_are_the_defaults(name: str) -> None:
    """An option row's "default N" (or "default `word`") is the value the command really uses."""
    text = CONFIGURATION.read_text(encoding="utf-8")
    match = re.search(rf"^#+ `{re.escape(name)}`.*?$(?P<body>.*?)(?=^#+ |\Z)", text, re.M | re.S)
    assert match, f"docs/configuration.md has no heading `{name}`"
    options = {opt: p for p in COMMANDS[name].params if isinstance(p, click.Option) for opt in p.opts}
    for row in match["body"].splitlines():
        cells = row.split("|")
        said = (re.search(r"\bdefault (?:`([\w.]+)`|(\d[\d.]*)\b)", cells[2])
                if row.startswith("| `") and len(cells) > 3 else None)
        if said is None:
            continue
        option = next((o for o in re.findall(r"(--[a-z][a-z0-9-]*)", cells[1]) if o in options), None)
        word = said[1] or said[2]
        if option is None or word.isupper():
            continue  # an option of another command, or a default that names a variable (`SYNCO_CONNECT_TIMEOUT`)
        default = options[option].default
        real = float(default) if isinstance(default, (int, float)) else None if default is None else str(default)
        stated = float(word) if said[2] else word
        assert stated == real, f"{name} {option}: the docs say default {word}, the command's is {default!r}"


def _doc_pages() -> list[Path]:
    pages = [ROOT / "README.md", *sorted(DOCS.rglob("*.md")), *sorted((ROOT / "plugins").glob("*/README.md"))]
    return [page for page in pages if "tests" not in page.relative_to(ROOT).parts]


def _command_lines(text: str) -> Iterator[str]:
    """Each line of a fenced block and each code span, split where a shell would start another command."""
    lines = [line for block in re.findall(r"^```[a-z]*\n(.*?)^```$", text, re.M | re.S)
             for line in block.replace("\\\n", " ").splitlines()]
    prose = re.sub(r"^```.*?^```$", "", text, flags=re.M | re.S)
    lines += [" ".join(span.split()) for span in re.findall(r"(?<!`)`([^`]+)`(?!`)", prose)]
    for line in lines:
        yield from re.split(r"\s(?:\||&&|;|\|\|)\s|#\s", line)


def test_every_option_the_docs_use_exists() -> None:
    """Wherever a page runs synco (``synco serve --plan``, or ``receive --install`` in a sentence), the options it
    gives belong to that command: a renamed or removed option cannot live on in an example."""
    options = {name: {o for p in cmd.params if isinstance(p, click.Option) for o in p.opts + p.secondary_opts}
               for name, cmd in COMMANDS.items()}
    root = {o for p in cli.params if isinstance(p, click.Option) for o in p.opts + p.secondary_opts} | {"--help"}
    wrong, seen = [], 0
    for page in _doc_pages():
        for line in _command_lines(page.read_text(encoding="utf-8")):
            line = re.sub(r"^\s*(?=(?:serve|receive|install|pull|detect|plugins|decrypt|db)\b)", "synco ", line)
            match = re.search(r"(?:^|[\s/])synco((?:\s+[a-z][a-z-]*)*)(.*)$", line)
            if match is None:
                continue
            words, name = match[1].split(), "synco"
            while words and f"{name} {words[0]}" in COMMANDS:
                name = f"{name} {words.pop(0)}"
            seen += name != "synco"
            for option in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", " ".join(words) + match[2]):
                if option not in options.get(name, set()) | root:
                    wrong.append(f"{page.relative_to(ROOT)}: {name} {option} ({line.strip()[:80]})")
    assert seen > 100, "the scan found too few synco commands in the docs"
    assert not wrong, "the docs use options the commands do not have:\n" + "\n".join(sorted(set(wrong)))


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_takes_debug(name: str) -> None:
    """``--debug`` everywhere: on every command and every group (``synco db --debug dump`` included)."""
    options = {opt for param in COMMANDS[name].params if isinstance(param, click.Option) for opt in param.opts}
    assert "--debug" in options, f"{name} has no --debug option (add @debug_option)"


EXAMPLE = DOCS / "examples" / "synco-hugo"


def _code_block_after(heading: str, language: str) -> list[str]:
    text = PLUGIN_GUIDE.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(heading)}\s*$.*?^```{language}\n(?P<code>.*?)^```", text, re.M | re.S)
    assert match, f"no {language} block after '## {heading}' in the plugin guide"
    return match["code"].splitlines()


@pytest.mark.parametrize(
    ("heading", "language", "source"),
    [
        ("The hook implementations", "python", "synco_hugo/__init__.py"),
        ("`pyproject.toml` and the entry point", "toml", "pyproject.toml"),
    ],
)
def test_guide_code_matches_example(heading: str, language: str, source: str) -> None:
    """The guide shows the example's real code (minus comments and docstrings), so the two cannot drift."""
    real = {line.strip() for line in (EXAMPLE / source).read_text(encoding="utf-8").splitlines()}
    for line in _code_block_after(heading, language):
        stripped = line.strip()
        if stripped and not stripped.startswith(('"""', "#")):
            assert stripped in real, f"the plugin guide shows a line that {source} does not have: {stripped!r}"


def test_synco_yml_example_is_valid(tmp_path: Path) -> None:
    """The `.synco.yml` example of the configuration reference is read by the real readers without error."""
    config_module = require_module("synco_generic.config", "synco-generic is installed with nox -s tests")
    from synco_core.pull.remote import load_remotes, remote_from_config
    from synco_core.receive.locate import configured_hosts

    text = CONFIGURATION.read_text(encoding="utf-8")
    match = re.search(r"^## `\.synco\.yml`.*?^```yaml\n(?P<yaml>.*?)^```", text, re.M | re.S)
    assert match, "no yaml example in the .synco.yml section"
    (tmp_path / ".synco.yml").write_text(match["yaml"])
    config = config_module.load_config(tmp_path, {"DATABASE_URL": "mysql://shop:pw@db/shop"})
    assert config is not None and config.database_url == "mysql://shop:pw@db/shop"
    assert config.file_sets and config.sanitize
    remotes = load_remotes(tmp_path / ".synco.yml")
    assert {name: remote_from_config(name, entry, set).kind for name, entry in remotes.items()} == {
        "production": "ssh", "staging": "kubectl"}
    assert configured_hosts(tmp_path) == ["https://shop.example.com"]


def test_docs_site_builds_strictly(tmp_path: Path) -> None:
    """What ``nox -s docs`` runs: a broken link, a missing anchor or a page left out of the nav fails."""
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "writing-a-plugin" / "index.html").exists()


def test_ci_runs_the_readme_test_command() -> None:
    """The README promises CI runs exactly its test command; ``.ci/run`` must contain it (``-q`` aside)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^Run the whole test suite.*?^```sh\n(?P<command>.+?)\n```", readme, re.M | re.S)
    assert match, "README.md has no test command block after 'Run the whole test suite'"
    command = match["command"].strip()
    assert "nox -s tests" in command
    ci_lines = [" ".join(line.replace(" -q ", " ").split()) for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if not line.lstrip().startswith("#")]
    assert " ".join(command.split()) in ci_lines, f".ci/run does not run the README's test command: {command}"


def _architecture_tree() -> str:
    text = (ROOT / "docs" / "architecture.md").read_text()
    start = text.index("```text\npyproject.toml")
    return text[start:text.index("```", start + 3)]


def test_the_architecture_tree_names_every_module_and_package_of_the_core() -> None:
    """docs/architecture.md's tree is the map a newcomer reads first: it must name what is there, and only that."""
    tree = _architecture_tree()
    core = ROOT / "synco_core"
    present = {p.name + "/" for p in core.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    present |= {p.name for p in core.glob("*.py") if p.name not in {"__main__.py"}}
    named = set(re.findall(r"^  ([a-z_]+/)", tree, re.M))
    named |= set(re.findall(r"\b([a-z_]+\.py)\b", tree.split("plugins/\n")[0]))
    missing = sorted(p for p in present if p not in named)
    assert not missing, f"docs/architecture.md's tree does not name {missing}"
    gone = sorted(n for n in named if (n.endswith("/") and n not in present)
                  or (n.endswith(".py") and "/" not in n and n not in present and not any(core.rglob(n))))
    assert not gone, f"docs/architecture.md's tree names {gone}, which synco_core does not have"


# --- every plugin of plugins/ is named wherever the plugins are listed -----------------------------------------

SHIPPED_PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists())


@pytest.mark.parametrize("plugin", SHIPPED_PLUGINS)
def test_every_plugin_is_typechecked_installed_and_listed(plugin: str) -> None:
    # nox's plugin session finds a new plugin by itself; these lists are written by hand, and a plugin left
    # out of mypy's files is silently not type-checked, one left out of the install command not installed.
    package = plugin.replace("-", "_")
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'"plugins/{plugin}/{package}"' in pyproject, f"add plugins/{plugin}/{package} to [tool.mypy] files"
    for page in (ROOT / "README.md", DOCS / "getting-started.md"):
        assert f"./plugins/{plugin} " in page.read_text().replace("\\\n", " "), f"{page.name}: install {plugin}"
    assert f"  {plugin}/" in (DOCS / "architecture.md").read_text(), f"architecture.md: list {plugin}"
    assert f"`{plugin}`" in PLUGIN_GUIDE.read_text().split("## What the plugin does")[0], \
        f"writing-a-plugin.md: name {plugin} among the shipped plugins"
    assert f"`{plugin}`" in (DOCS / "index.md").read_text(), f"index.md: add {plugin} to the framework table"


def test_every_framework_setting_the_core_reads_is_in_the_plugin_guide() -> None:
    # A plugin keeps its own state in Framework.settings; a key the core also reads changes what synco does
    # (local_hosts lets an install write to a host as if it were this machine), so the guide names each one.
    keys: set[str] = set()
    for path in (ROOT / "synco_core").rglob("*.py"):
        if path.name == "hookspecs.py":  # its docstrings show plugins' own settings as examples
            continue
        text = path.read_text()
        keys |= set(re.findall(r"framework\.settings(?:\.get\(|\[)\s*[\"']([A-Za-z_]+)[\"']", text))
        for constant in re.findall(r"framework\.settings(?:\.get\(|\[)\s*([A-Z_]+)\b", text):
            keys |= set(re.findall(rf"^{constant}\s*=\s*[\"']([A-Za-z_]+)[\"']", text, re.MULTILINE))
    assert keys >= {"connections", "local_hosts"}, keys
    guide = PLUGIN_GUIDE.read_text()
    assert [key for key in sorted(keys) if f'settings["{key}"]' not in guide] == []


def test_every_file_set_field_is_in_the_plugin_guide() -> None:
    """A field of ``FileSet`` changes what serve sends and what the laptop keeps (``exclude`` against
    ``regenerated``): the guide names each one, and the hookspec of ``list_file_sets`` says what the two
    kinds of exclude do on the laptop."""
    import dataclasses

    from synco_core import FileSet
    from synco_core.hookspecs import list_file_sets

    guide = PLUGIN_GUIDE.read_text()
    fields = [field.name for field in dataclasses.fields(FileSet)]
    assert "regenerated" in fields and "exclude" in fields
    assert [name for name in fields if f"`FileSet.{name}`" not in guide and f"`{name}`" not in guide] == []
    spec = list_file_sets.__doc__ or ""
    assert "``FileSet.exclude``" in spec and "``FileSet.regenerated``" in spec and "--delete-excluded" in spec
