"""``serve --plan``: tables, rules, file sets and refusals, as text and JSON, with nothing written."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_serve_sanitize import PROFILE, app_factory_fixture  # noqa: F401

from synco_core.cli.main import cli
from synco_core.sizes import human_size
from synco_core.values import DumpOptions, SanitizeRule

#: The profile plus a "newest N" filter, so the plan has one table of each kind.
PLAN_PROFILE = DumpOptions(**{**PROFILE.__dict__, "keep_newest": {"posts": ("id", 1)}})


def snapshot(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_plan_json_lists_tables_rules_and_sets_and_writes_nothing(app_factory: Callable[[DumpOptions], Path],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    app = app_factory(PLAN_PROFILE)
    monkeypatch.chdir(app)
    with sqlite3.connect(app / "app.sqlite") as conn:
        conn.execute("ANALYZE")  # SQLite's row estimates (sqlite_stat1)
        sizes = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
    before = snapshot(app)
    result = CliRunner().invoke(cli, ["serve", "--plan", "--json"])
    assert result.exit_code == 0, result.output
    assert snapshot(app) == before, "--plan writes nothing"
    plan = json.loads(result.stdout)
    tables = {t["name"]: t for t in plan["tables"]}
    assert set(tables) == {"users", "posts", "sessions", "thumbs", "events", "user_names"}
    assert {name: t["rows_estimate"] for name, t in tables.items()} == {
        "users": 2, "posts": 2, "sessions": 1, "thumbs": 2, "events": 3, "user_names": 0}
    assert all(tables[name]["size_bytes"] == sizes[name] > 0 for name in ("users", "posts", "events"))
    assert tables["posts"]["rows"] == "filtered" and tables["posts"]["keep_newest"] == "newest 1 by id"
    assert tables["users"]["rows"] == "all"
    assert tables["users"]["sanitized"] == {"email": "email", "password": "null"}
    assert tables["sessions"]["rows"] == "none" and tables["thumbs"]["rows"] == "none"
    assert tables["events"]["rows"] == "filtered" and tables["events"]["where"] == "kind = 'keep'"
    assert tables["user_names"]["rows"] == "view"
    assert "thumbs: rows left out (structure only)" in plan["rules"]
    sets = {s["name"]: s for s in plan["file_sets"]}
    assert sets["uploads"] == {"name": "uploads", "kind": "public", "status": "included", "reason": None,
                               "file_count": 2, "size_bytes": 150, "absolute_urls": 0, "error": None}
    assert sets["thumbs"]["status"] == "smart-skipped" and sets["thumbs"]["file_count"] == 1
    assert sets["private"]["file_count"] == 1 and sets["private"]["size_bytes"] == 30
    assert plan["refusal"] is None and plan["sanitize"] is True

    with_all = json.loads(CliRunner().invoke(cli, ["serve", "--plan", "--json", "--all"]).stdout)
    assert {t["name"]: t["rows"] for t in with_all["tables"]}["thumbs"] == "all"
    assert {s["name"]: s["status"] for s in with_all["file_sets"]}["thumbs"] == "included"


def test_plan_text_and_strict_refusal(app_factory: Callable[[DumpOptions], Path],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    app = app_factory(DumpOptions(**{**PLAN_PROFILE.__dict__, "strict": True,
                                     "keep": ("posts", "events", "thumbs")}))
    monkeypatch.chdir(app)
    with sqlite3.connect(app / "app.sqlite") as conn:
        conn.execute("ANALYZE")
    result = CliRunner().invoke(cli, ["serve", "--plan"])
    # The plan is shown whole, and its status says serve would not start (a script reads the status).
    assert result.exit_code == 1, result.output
    assert [line for line in result.stderr.splitlines() if line.startswith("Error:")] == [
        "Error: serve would refuse to start: " + result.stdout.split("serve would refuse to start: ")[1].strip()]
    text = result.stdout
    assert "nothing is written" in text
    assert re.search(r"posts +~ +2 rows +\d+(\.\d+)? \S+ +filtered; newest 1 by id", text), text
    assert re.search(r"events +~ +3 rows .*filtered; where kind = 'keep'", text), text
    assert "sessions" in text and "NO ROWS" in text
    assert "sanitised: email -> email, password -> null" in text
    assert "strict mode: 2 table(s)/column(s) neither masked nor kept: users.id, users.name" in text
    assert "serve would refuse to start: strict sanitising" in text
    assert "uploads" in text and "2 files, 150 B" in text
    assert "smart-skipped" in text
    raw = CliRunner().invoke(cli, ["serve", "--plan", "--no-sanitize"])
    assert "SANITISING OFF" in raw.stdout and "--no-sanitize is refused in strict mode" in raw.stdout
    assert "2 column rewrite(s)" in raw.stdout
    assert not list((app / "web").glob("synco-*"))


def test_plan_only_database_and_compat_refusal(app_factory: Callable[[DumpOptions], Path],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    app = app_factory(PROFILE)
    monkeypatch.chdir(app)
    refused = CliRunner().invoke(cli, ["serve", "--plan", "--json", "--only", "dbDump", "--compat"])
    assert refused.exit_code == 1 and "Error: serve would refuse to start: --compat" in refused.stderr
    plan = json.loads(refused.stdout)
    assert plan["file_sets"] == []
    assert plan["refusal"] == "--compat: Go synco v2 can only load MySQL dumps, not sqlite"
    assert any(note.startswith("--compat gives up") for note in plan["notes"])
    accepted = CliRunner().invoke(cli, ["serve", "--plan", "--json", "--only", "uploads"])
    assert accepted.exit_code == 0, accepted.output
    files = json.loads(accepted.stdout)
    assert files["database"] is None and [s["name"] for s in files["file_sets"]] == ["uploads"]


def test_json_needs_plan(app_factory: Callable[[DumpOptions], Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(app_factory(PROFILE))
    result = CliRunner().invoke(cli, ["serve", "--json"])
    assert result.exit_code == 2 and "--json goes with --plan" in result.output


@pytest.mark.mysql
def test_plan_on_mariadb_estimates_rows_and_sizes_and_reads_the_rules(
        tmp_path: Path, mysql_database_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """On a real server the estimates come from its statistics; the rules from the framework's profile and
    ``.synco.yml`` (``sanitize.where`` and ``sanitize.keep_newest`` included)."""
    from test_e2e_sanitize import create_laravel_source, laravel_project, mysql_rows

    database = mysql_database_factory()
    create_laravel_source(database)
    mysql_rows(database, "ANALYZE TABLE users, posts, sessions")
    sizes = dict(mysql_rows(database, "SELECT table_name, data_length + index_length FROM information_schema.tables"
                                      f" WHERE table_schema = '{database}'"))
    yml = ("sanitize:\n  columns:\n    posts.editor_email: hash\n  where:\n    users: \"id < 5\"\n"
           "  keep_newest:\n    posts: \"id:1\"\n")
    project = laravel_project(tmp_path / "app", database, yml)
    monkeypatch.chdir(project)
    result = CliRunner().invoke(cli, ["serve", "--plan", "--json", "--only", "dbDump"])
    assert result.exit_code == 0, result.output
    tables = {t["name"]: t for t in json.loads(result.stdout)["tables"]}
    assert {name: t["rows_estimate"] for name, t in tables.items()} == {"users": 2, "posts": 2, "sessions": 1}
    assert {name: t["size_bytes"] for name, t in tables.items()} == sizes and all(sizes.values())
    assert tables["users"]["rows"] == "filtered" and tables["users"]["where"] == "id < 5"
    assert tables["posts"]["keep_newest"] == "newest 1 by id"
    assert tables["posts"]["sanitized"] == {"editor_email": "hash"}
    assert tables["users"]["sanitized"]["email"] == "email", "the Laravel profile"
    assert tables["sessions"]["rows"] == "none"
    text = CliRunner().invoke(cli, ["serve", "--plan", "--only", "dbDump"]).stdout
    size = human_size(sizes["posts"])
    assert re.search(rf"posts +~ +2 rows +{re.escape(size)} +filtered; newest 1 by id; sanitised: editor_email", text)


def test_a_rule_with_a_label_is_shown_by_it(app_factory: Callable[[DumpOptions], Path],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A long SQL expression (a plugin's type-aware mask) is shown by the rule's label, in the plan and in the
    dump's list of applied rules; without a label the expression is shown as before."""
    mask = "CASE WHEN typeof(email) = 'text' THEN '' ELSE email END /* " + "x" * 200 + " */"
    rules = (SanitizeRule("users", "email", expression=mask, label="emptied if text"),
             SanitizeRule("users", "password", expression="NULL"))
    app = app_factory(DumpOptions(**{**PROFILE.__dict__, "sanitize": rules}))
    monkeypatch.chdir(app)
    plan = json.loads(CliRunner().invoke(cli, ["serve", "--plan", "--json"]).stdout)
    tables = {t["name"]: t for t in plan["tables"]}
    assert tables["users"]["sanitized"] == {"email": "emptied if text", "password": "NULL"}
    assert rules[0].describe() == "users.email -> emptied if text"
    text = CliRunner().invoke(cli, ["serve", "--plan"]).output
    assert "emptied if text" in text and "x" * 200 not in text


def test_sqlite_tables_never_analysed_are_counted_when_small(tmp_path: Path) -> None:
    """A SQLite file ANALYZE never ran on (most of them, the README's example too) had every table shown as
    '~0 rows' beside the rows it has; small tables are counted, statistics still win where they exist."""
    from synco_core.dburl import parse_database_url
    from synco_core.plugins import get_plugin_manager

    path = tmp_path / "app.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
        conn.executemany("INSERT INTO users (email) VALUES (?)", [(f"u{n}@example.com",) for n in range(37)])
        conn.execute('CREATE TABLE "odd ""name""" (k TEXT PRIMARY KEY, v) WITHOUT ROWID')
        conn.executemany('INSERT INTO "odd ""name""" VALUES (?, ?)', [(str(n), n) for n in range(5)])
        conn.execute("CREATE TABLE empty (x)")
    conn.close()

    def estimates() -> dict[str, int]:
        inventory = get_plugin_manager().hook.inspect_database(database=parse_database_url(f"sqlite:///{path}"))
        return {table.name: table.rows_estimate for table in inventory.tables}

    assert estimates() == {"users": 37, 'odd "name"': 5, "empty": 0}
    with sqlite3.connect(path) as conn:
        conn.execute("ANALYZE")
        conn.execute("UPDATE sqlite_stat1 SET stat = '1000 1' WHERE tbl = 'users'")  # statistics, not a count
    conn.close()
    assert estimates()["users"] == 1000
