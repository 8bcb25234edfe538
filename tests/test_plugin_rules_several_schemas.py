"""A plugin's default rules on a PostgreSQL database whose tables of one name live in several schemas.

A site whose database holds a second copy of its tables in another schema (a second application, a tenant, an
archive, a site moved to its own schema) is dumped whole: every user schema. A plugin names its tables without
a schema (``users``), as the application's ``search_path`` finds them; such a name that finds a table in two
schemas used to stop ``serve`` with "ambiguous ... qualify it with its schema", which the user could not do (the
rule is the plugin's). A plugin's rule is a promise to mask that kind of table: it applies in every schema. A
rule the user wrote (``.synco.yml``, the command line) is still refused as ambiguous, naming the schemas.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from synco_core import ConfigError, DatabaseInventory, DumpOptions, Framework, SanitizeRule, hookimpl
from synco_core.testing import SyncoPluginManager, assert_no_markers, dump_as_served
from synco_core.testing.services import database_from_script

SCRIPT = [
    "CREATE SCHEMA tenant2",
    "CREATE SCHEMA archive",
    *(statement.format(s=schema) for schema in ("public", "tenant2", "archive") for statement in (
        "CREATE TABLE {s}.users (id INT PRIMARY KEY, email TEXT NOT NULL, note TEXT)",
        "INSERT INTO {s}.users VALUES (1, 'pii-{s}@real.example', 'kept-{s}')",
        "CREATE TABLE {s}.sessions (id INT PRIMARY KEY, payload TEXT)",
        "INSERT INTO {s}.sessions VALUES (1, 'pii-session-{s}')",
    )),
    # A table only one schema has: a rule naming it bare finds it there, as before.
    "CREATE TABLE tenant2.tokens (id INT PRIMARY KEY, secret TEXT)",
    "INSERT INTO tenant2.tokens VALUES (1, 'pii-token')",
]


class Profile:
    @hookimpl
    def default_dump_options(self, framework: Framework, inventory: DatabaseInventory | None) -> DumpOptions | None:
        return DumpOptions(exclude_tables=("sessions",),
                           sanitize=(SanitizeRule("users", "email", transform="email"),
                                     SanitizeRule("tokens", "secret", transform="null"),
                                     # Qualified: this schema's only, whatever the others hold.
                                     SanitizeRule("archive.users", "note", transform="fixed:archived")))


@pytest.mark.postgres
@pytest.mark.hook("default_dump_options")
def test_a_plugin_rule_masks_its_table_in_every_schema(register_plugin: Callable[[object, str], None],
                                                       plugin_manager: SyncoPluginManager, tmp_path: Path,
                                                       request: pytest.FixtureRequest) -> None:
    register_plugin(Profile(), "schemas-profile")
    database = database_from_script("postgresql", SCRIPT, request, tmp_path / "unused.sqlite")
    framework = Framework(name="App", plugin="schemas-profile", project_dir=tmp_path, database=database)
    out = tmp_path / "dump.sql"
    dump_as_served(framework, out, manager=plugin_manager)
    dumped = out.read_bytes()
    assert_no_markers(dumped, kept=(b"kept-public", b"kept-tenant2", b"archived"))
    assert b"kept-archive" not in dumped, "the qualified rule still applies to its own schema"
    for schema in ("public", "tenant2", "archive"):
        assert b"user1@example.invalid" in dumped and f"{schema}.users".encode() in dumped


@pytest.mark.postgres
@pytest.mark.hook("default_dump_options")
def test_a_rule_of_the_user_naming_several_tables_is_still_refused(
        register_plugin: Callable[[object, str], None], plugin_manager: SyncoPluginManager, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    database = database_from_script("postgresql", SCRIPT, request, tmp_path / "unused.sqlite")
    framework = Framework(name="App", plugin="none", project_dir=tmp_path, database=database,
                          dump_options=DumpOptions(sanitize=(SanitizeRule("users", "email", transform="email"),)))
    with pytest.raises(ConfigError, match=r"ambiguous \(archive.users, public.users, tenant2.users\)"):
        dump_as_served(framework, tmp_path / "dump.sql", manager=plugin_manager)
