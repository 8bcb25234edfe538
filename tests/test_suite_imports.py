"""Test modules never import a ``conftest`` by name.

The whole suite (core and every plugin's tests) is collected in one run, and every plugin's tests folder has
a ``conftest.py``: ``from conftest import x`` finds whichever ``conftest`` module was imported last, another
plugin's when tests of several plugins are chosen together (``pytest plugins/synco-rails/tests
plugins/synco-django/tests``), and collection fails with ImportError. Helpers that tests import by name live
in a module of a name of its own (``django_support.py``, ``rails_support.py``).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMPORTS_CONFTEST = re.compile(r"^\s*(?:from\s+conftest\s+import|import\s+conftest\b)", re.M)


def test_no_test_module_imports_a_conftest_by_name() -> None:
    sources = [*ROOT.joinpath("tests").rglob("*.py"), *ROOT.joinpath("plugins").glob("*/tests/**/*.py")]
    assert len(sources) > 100
    offenders = [str(path.relative_to(ROOT)) for path in sources if IMPORTS_CONFTEST.search(path.read_text())]
    assert offenders == []
