"""Two database sets of one session installed into one local database: refused before anything changes.

A project's named databases (Django's aliases, Rails' databases) may name the same local database as the default
one: a ``replica`` alias pointing where ``default`` does, as local settings often leave it. A session carrying
``dbDump`` and ``dbDump-replica`` would then swap the database twice: the second replaces the first's content
and its kept copy (``db rollback`` no longer finds what the laptop had), and which content stays depends on the
order. The install refuses in one line naming both sets and the database, before anything is replaced.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_install import _count, _make_db

from synco_core import FileSet, FileSetOptions, Framework, hookimpl
from synco_core.dburl import parse_database_url
from synco_core.errors import ConfigError
from synco_core.install.run import install_received


class TwoAliases:
    """A framework whose ``replica`` database is ``replica_url`` (the default one is ``app.db``)."""

    def __init__(self, replica_url: str) -> None:
        self.replica_url = replica_url

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        if not (project_dir / "aliases.marker").exists():
            return None
        return Framework(name="Aliases", plugin="aliases", project_dir=project_dir,
                         database=parse_database_url("sqlite:///app.db", base_dir=project_dir),
                         databases={"replica": parse_database_url(self.replica_url, base_dir=project_dir)})

    @hookimpl
    def list_file_sets(self, framework: Framework, options: FileSetOptions) -> list[FileSet]:
        return []


def _received(tmp_path: Path) -> Path:
    folder = tmp_path / "received"
    folder.mkdir()
    _make_db(folder / "dbDump.sqlite", 5)
    _make_db(folder / "dbDump-replica.sqlite", 7)
    sets: list[dict[str, Any]] = [
        {"name": name, "kind": "database", "path": f"{name}.sqlite", "engine": "sqlite", "format": "sqlite",
         "tables": {"items": {"rows": rows}}} for name, rows in (("dbDump", 5), ("dbDump-replica", 7))]
    (folder / ".synco-received.json").write_text(json.dumps(
        {"version": 1, "session": "s", "frameworkName": "Aliases", "fileSets": sets}))
    return folder


@pytest.mark.parametrize("replica_url", ["sqlite:///app.db", "sqlite:///./sub/../app.db", "sqlite:///{project}/app.db"])
def test_two_sets_into_one_database_are_refused(tmp_path: Path, register_plugin: Any, plugin_manager: Any,
                                                replica_url: str) -> None:
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / "aliases.marker").write_text("")
    _make_db(project / "app.db", 3)
    register_plugin(TwoAliases(replica_url.format(project=project)), "aliases")
    received = _received(tmp_path)
    with pytest.raises(ConfigError, match=r"dbDump and dbDump-replica would both be installed into sqlite:///\S*app\.db"
                                          r".*--only") as refused:
        install_received(received, project, yes=True, echo=lambda _: None)
    assert "\n" not in str(refused.value)
    assert _count(project / "app.db") == 3, "nothing changed"
    # One of them, chosen with --only, installs.
    install_received(received, project, yes=True, only=("dbDump-replica",), echo=lambda _: None)
    assert _count(project / "app.db") == 7


def test_two_databases_install_side_by_side(tmp_path: Path, register_plugin: Any, plugin_manager: Any) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "aliases.marker").write_text("")
    _make_db(project / "app.db", 3)
    _make_db(project / "replica.db", 3)
    register_plugin(TwoAliases("sqlite:///replica.db"), "aliases")
    install_received(_received(tmp_path), project, yes=True, echo=lambda _: None)
    assert (_count(project / "app.db"), _count(project / "replica.db")) == (5, 7)
    assert sqlite3.connect(project / "app.db").execute("SELECT 1").fetchone() == (1,)
