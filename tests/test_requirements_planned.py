"""``install --plan`` checks what a dump needs as the install does: the plan is shown, then ends with the
install's one ``Error:`` line naming what the local server lacks, exit 1 (``--skip-requirements``: a warning).

The session's dump is the shared PostgreSQL's, recording what a newer server would need (major version 17.2
and the pgrouting extension, which the shared 15 lacks), as tests/test_requirements_refused.py does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from test_receive_support import LOCAL_MARKER, LocalProject
from test_requirements_refused import SESSION, SOURCE_MARKER, SqlSource
from test_transfer_support import publish, static_server

from synco_core.cli.main import cli
from synco_core.testing.services import postgres_url_for
from synco_core.values import DumpRequirements

MISSING = "extension pgrouting 3.6.1 (install postgresql-"


@pytest.fixture
def published(tmp_path: Path, register_plugin: Callable[[object, str], None],
              postgres_database_factory: Callable[[], str],
              monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, object, str]]:
    """A session whose dump needs what the shared PostgreSQL lacks: (URL, key, request log, laptop's URL)."""
    import synco_core.engines.postgresql.requirements as pg_requirements

    recorded = pg_requirements.recorded

    def newer(conn: object, oids: object) -> DumpRequirements:
        needs = recorded(conn, oids)  # type: ignore[arg-type]
        return DumpRequirements(server_version="17.2", extensions={**needs.extensions, "pgrouting": "3.6.1"},
                                collations=needs.collations)

    monkeypatch.setattr(pg_requirements, "recorded", newer)
    register_plugin(SqlSource(), "sqlsource")
    register_plugin(LocalProject(), "localproject")
    app = tmp_path / "app"
    (app / "web" / "uploads").mkdir(parents=True)
    (app / "web" / "uploads" / "a.txt").write_text("upload\n")
    (app / SOURCE_MARKER).write_text(postgres_url_for(postgres_database_factory()))
    key = publish(app, SESSION)
    local = tmp_path / "local"
    local.mkdir()
    local_url = postgres_url_for(postgres_database_factory())
    (local / LOCAL_MARKER).write_text(local_url)
    with static_server(app / "web") as (url, behaviour):
        yield url, key.secret, behaviour, local_url


def receive(url: str, key: str, tmp_path: Path, *extra: str) -> Result:
    return CliRunner().invoke(cli, ["receive", SESSION, key, "--base-url", url, "--target", str(tmp_path / "dump"),
                                    "--project", str(tmp_path / "local"), *extra])


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


@pytest.mark.postgres
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_install_plan_ends_with_the_refusal_naming_what_is_missing(
        published: tuple[str, str, object, str], tmp_path: Path, as_json: bool) -> None:
    url, key, _, _ = published
    got = receive(url, key, tmp_path, "--all")
    assert got.exit_code == 0, got.output
    plan = CliRunner().invoke(cli, ["install", str(tmp_path / "dump"), "--project", str(tmp_path / "local"),
                                    "--plan", *(["--json"] if as_json else [])])
    assert plan.exit_code == 1, plan.output
    errors = error_lines(plan.output)
    assert len(errors) == 1, plan.output
    assert errors[0].startswith("Error: the local database server lacks what the dump dbDump needs"), errors[0]
    assert MISSING in errors[0] and "older than the source's 17.2" in errors[0], errors[0]
    # A plan changes nothing: the refusal says what the install would leave undone, not what a plan did.
    assert "nothing was changed" in errors[0], errors[0]
    # The plan itself is still shown before the line.
    assert "dbDump" in plan.output.split(errors[0])[0]
    if as_json:
        json.loads(plan.output.split("Error:")[0])


@pytest.mark.postgres
def test_install_plan_with_skip_requirements_warns_and_succeeds(
        published: tuple[str, str, object, str], tmp_path: Path) -> None:
    url, key, _, _ = published
    assert receive(url, key, tmp_path, "--all").exit_code == 0
    plan = CliRunner().invoke(cli, ["install", str(tmp_path / "dump"), "--project", str(tmp_path / "local"),
                                    "--plan", "--skip-requirements"])
    assert plan.exit_code == 0, plan.output
    assert MISSING in plan.output and "going on (--skip-requirements)" in plan.output, plan.output
