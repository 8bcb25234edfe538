"""A local database shared with another application: the install names the tables the dump does not hold.

The install replaces the whole local database (the swap moves every table of the target aside into the kept
copy). A laptop's database that also holds another application's tables (a shared database with a table prefix:
WordPress's ``wp_`` beside a CRM's ``crm_``), or tables production no longer has, loses them from the live
database: ``synco db rollback`` brings them back, the next install drops them for good. That is never silent:
the install's question, ``install --plan`` (``notInDump`` in ``--json``) and, under ``--yes``, a warning line
name them before anything changes.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_install import LocalApp, _declining, local_project, received_folder

from synco_core.cli.main import cli
from synco_core.errors import SyncoError
from synco_core.install.run import install_received


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """test_install's LocalApp project: its SQLite database holds ``items``."""
    return local_project(tmp_path)


@pytest.fixture
def received(tmp_path: Path) -> Path:
    """A received session whose dump holds ``items`` only."""
    return received_folder(tmp_path)


def _other_apps_tables(database: Path, names: list[str]) -> None:
    conn = sqlite3.connect(database)
    for name in names:
        conn.execute(f'CREATE TABLE "{name}" (id INTEGER PRIMARY KEY, note TEXT)')
    conn.execute("CREATE VIEW crm_view AS SELECT 1 AS one")
    conn.commit()
    conn.close()


def test_the_question_names_the_tables_the_dump_does_not_hold(plugin_manager: Any, register_plugin: Any,
                                                              project: Path, received: Path) -> None:
    register_plugin(LocalApp(), "localapp")
    _other_apps_tables(project / "app.db", ["crm_contacts", "crm_deals"])
    questions: list[str] = []
    with pytest.raises(SyncoError, match="not confirmed"):
        install_received(received, project, confirm=_declining(questions), echo=lambda _: None)
    [line] = [line for line in questions[0].splitlines() if "crm_" in line]
    assert "not in the dump: crm_contacts, crm_deals" in line and "rollback" in line
    assert "items" not in line and "crm_view" not in line, "tables the dump holds, and views, are not named"

    result = CliRunner().invoke(cli, ["install", str(received), "--project", str(project), "--plan", "--json"])
    assert result.exit_code == 0, result.output
    steps = {s["name"]: s for s in json.loads(result.stdout)["steps"]}
    assert steps["dbDump"]["notInDump"] == ["crm_contacts", "crm_deals"]
    assert "notInDump" not in steps["Uploads"]


def test_yes_warns_in_one_line_before_the_swap(plugin_manager: Any, register_plugin: Any, project: Path,
                                               received: Path, caplog: pytest.LogCaptureFixture) -> None:
    register_plugin(LocalApp(), "localapp")
    _other_apps_tables(project / "app.db", [f"crm_t{n:02}" for n in range(15)])
    with caplog.at_level(logging.WARNING):
        install_received(received, project, yes=True, echo=lambda _: None)
    [warning] = [r.getMessage() for r in caplog.records if "crm_" in r.getMessage()]
    assert "\n" not in warning and "crm_t00" in warning and "(and 5 more)" in warning
    assert "15 tables" in warning


def test_nothing_is_said_when_the_dump_holds_every_table(plugin_manager: Any, register_plugin: Any, project: Path,
                                                         received: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    register_plugin(LocalApp(), "localapp")
    with caplog.at_level(logging.WARNING):
        install_received(received, project, yes=True, echo=lambda _: None)
    assert not [r for r in caplog.records if "not in the dump" in r.getMessage()]
