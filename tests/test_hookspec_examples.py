"""The ``Example::`` of each hook in ``synco_core/hookspecs.py`` is code a plugin author copies: it must
register against the specifications, and the complete ones must work on the arguments the core passes."""

from __future__ import annotations

import ast
import re
import textwrap
import types
from collections.abc import Callable
from pathlib import Path

import pytest

import synco_core
from synco_core import ConfigError, Framework
from synco_core.plugins import SyncoPluginManager

HOOKSPECS = Path(synco_core.__file__).with_name("hookspecs.py")


def examples() -> dict[str, str]:
    found: dict[str, str] = {}
    for node in ast.parse(HOOKSPECS.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef):
            doc = ast.get_docstring(node) or ""
            match = re.search(r"Example::\n\n((?:(?: {4}.*)?\n)+)", doc + "\n")
            if match:
                found[node.name] = textwrap.dedent(match[1])
    return found


def load(source: str) -> types.ModuleType:
    module = types.ModuleType("hook_example")
    exec("from synco_core import *\n" + source, module.__dict__)
    return module


def test_most_hooks_have_an_example() -> None:
    assert len(examples()) >= 8


@pytest.mark.parametrize("hook", sorted(examples()))
def test_example_registers(hook: str, plugin_manager: SyncoPluginManager,
                           register_plugin: Callable[[object, str], None]) -> None:
    register_plugin(load(examples()[hook]), f"example-{hook}")


@pytest.mark.hook("value_rewriter")
@pytest.mark.parametrize("site_url", [None, "https://www.example.com", "http://localhost:8080"])
def test_value_rewriter_example_handles_every_local_site_url(site_url: str | None, tmp_path: Path) -> None:
    """``framework.site_url`` is None unless the user or the plugin knows the local URL: the example must
    then answer None or refuse with a ConfigError, never crash."""
    rewriter_hook = load(examples()["value_rewriter"]).value_rewriter
    framework = Framework(name="WordPress", plugin="wordpress", project_dir=tmp_path, reason="test",
                          site_url=site_url)
    published = {"wordpress": {"home": "https://www.example.com"}}
    try:
        rewriter = rewriter_hook(framework=framework, source_settings=published)
    except ConfigError:
        assert site_url is None
        return
    if site_url == "https://www.example.com":
        assert rewriter is None
    elif rewriter is not None:
        assert rewriter.rewrite(b"see https://www.example.com/x") == f"see {site_url}/x".encode()
