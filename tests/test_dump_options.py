"""A session's dump options: plugin defaults filtered against the real database by the core, explicit options on
top, resolved once per session from one inventory, and detection that never reaches the database.

The app is the SQLite app of ``test_serve_sanitize`` (users, posts, sessions, thumbs, events, a view); a second
in-test plugin answers ``default_dump_options`` with rules for tables some installations lack, as a WordPress
plugin would for WooCommerce's.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from test_serve_sanitize import EMAILS, SqliteAppPlugin, dumped_database, make_sqlite_app, read_meta

from synco_core import hookimpl
from synco_core.cli.main import cli
from synco_core.detection import detect
from synco_core.dumpoptions import merge_dump_options, present_in, resolve_session_dump
from synco_core.engines.dispatch import dump_with_engine
from synco_core.errors import DatabaseError, SyncoError
from synco_core.plugins import SyncoPluginManager
from synco_core.testing import configured_dump_options
from synco_core.values import (
    DatabaseConfig,
    DatabaseInventory,
    DumpOptions,
    Framework,
    SanitizeRule,
    TableInfo,
)

#: Defaults naming tables and columns the app has, and some it has not (an optional shop module's).
DEFAULTS = DumpOptions(
    exclude_tables=("sessions", "shop_sessions"),
    where={"events": "kind = 'keep'", "shop_orders": "1 = 1"},
    keep_newest={"posts": ("id", 1), "shop_log": ("id", 5)},
    sanitize=(
        SanitizeRule("users", "email", transform="email"),
        SanitizeRule("users", "phone", transform="null"),
        SanitizeRule("shop_customers", "email", transform="email"),
        # SQLite ignores the case of names: these name the same columns as the rules below and above, which
        # name them exactly and so win.
        SanitizeRule("USERS", "email", transform="null"),
        SanitizeRule("users", "Password", transform="null"),
        SanitizeRule("users", "password", transform="null"),
    ),
    smart_exclude_tables=("thumbs", "shop_thumbs"),
    smart_where={"shop_products": "1 = 1"},
)
#: What of :data:`DEFAULTS` the app's database has, in the order the defaults named it.
PRESENT = DumpOptions(
    exclude_tables=("sessions",),
    where={"events": "kind = 'keep'"},
    keep_newest={"posts": ("id", 1)},
    sanitize=(SanitizeRule("users", "email", transform="email"), SanitizeRule("users", "password", transform="null")),
    smart_exclude_tables=("thumbs",),
)


class Defaults:
    """Answers ``default_dump_options`` for the SQLite app, recording the inventories it was given."""

    def __init__(self, options: DumpOptions = DEFAULTS) -> None:
        self.options = options
        self.inventories: list[DatabaseInventory | None] = []

    @hookimpl
    def default_dump_options(self, framework: Framework, inventory: DatabaseInventory | None) -> DumpOptions | None:
        if framework.plugin != "sqliteapp":
            return None
        self.inventories.append(inventory)
        return self.options


class DatabaseCalls:
    """Wrappers counting every call of the database hooks (they let each call through)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl(wrapper=True)
    def inspect_database(self, database: DatabaseConfig) -> Iterator[None]:
        self.calls.append("inspect_database")
        return (yield)

    @hookimpl(wrapper=True)
    def connect_database(self, database: DatabaseConfig) -> Iterator[None]:
        self.calls.append("connect_database")
        return (yield)


@pytest.fixture
def app(tmp_path: Path, register_plugin: Callable[[object, str], None]) -> Path:
    register_plugin(SqliteAppPlugin(DumpOptions()), "sqliteapp")
    return make_sqlite_app(tmp_path / "app")


@pytest.fixture
def defaults(register_plugin: Callable[[object, str], None]) -> Defaults:
    plugin = Defaults()
    register_plugin(plugin, "defaults")
    return plugin


@pytest.fixture
def database_calls(register_plugin: Callable[[object, str], None]) -> DatabaseCalls:
    watch = DatabaseCalls()
    register_plugin(watch, "database-calls")
    return watch


def test_default_dump_options_are_filtered_against_the_database(app: Path, defaults: Defaults,
                                                                plugin_manager: SyncoPluginManager) -> None:
    framework = detect(app)
    configured = configured_dump_options(framework)
    assert configured == PRESENT
    [inventory] = defaults.inventories
    assert inventory is not None and {"users", "posts", "sessions"} <= {t.name for t in inventory.tables}


@pytest.mark.hook("default_dump_options")
def test_a_rule_spelt_in_another_case_still_masks(app: Path, register_plugin: Callable[[object, str], None],
                                                  plugin_manager: SyncoPluginManager) -> None:
    """SQLite finds ``USERS.EMAIL`` in ``users.email``: the rule is kept, as the database spells it, not dropped."""
    register_plugin(Defaults(DumpOptions(sanitize=(SanitizeRule("Users", "EMAIL", transform="email"),),
                                         exclude_tables=("SESSIONS",))), "defaults")
    framework = detect(app)
    assert framework.database is not None
    configured = configured_dump_options(framework)
    assert configured.sanitize == (SanitizeRule("users", "email", transform="email"),)
    assert configured.exclude_tables == ("sessions",)
    out = io.BytesIO()
    dump_with_engine(framework.database, out, configured.effective())
    assert not [email for email in EMAILS if email.encode() in out.getvalue()]
    assert b"session payload" not in out.getvalue()


def test_a_server_storing_names_in_lower_case_keeps_the_rules() -> None:
    """MySQL with ``lower_case_table_names`` (Windows, macOS, some hosted servers) stores ``WP_users`` as
    ``wp_users`` and finds it under either name; the rules written for ``WP_users`` must stay."""
    tables = [TableInfo(name="wp_users", columns=["ID", "user_email"]), TableInfo(name="wp_sessions", columns=["id"])]
    folding = DatabaseInventory(engine="mysql", server_version="8.0", tables=tables, tables_ignore_case=True,
                                columns_ignore_case=True)
    declared = DumpOptions(exclude_tables=("WP_sessions",), where={"WP_users": "ID > 0"},
                           sanitize=(SanitizeRule("WP_users", "USER_EMAIL", transform="email"),))
    kept = present_in(declared, folding)
    assert kept.sanitize == (SanitizeRule("wp_users", "user_email", transform="email"),)
    assert kept.exclude_tables == ("wp_sessions",) and kept.where == {"wp_users": "ID > 0"}
    # A server that compares table names exactly (lower_case_table_names=0) has no WP_users: nothing applies,
    # and the dump of a table named otherwise is not this installation's.
    exact = DatabaseInventory(engine="mysql", server_version="8.0", tables=tables, columns_ignore_case=True)
    assert present_in(declared, exact).sanitize == ()


def test_unfiltered_defaults_would_fail_the_dump(app: Path, plugin_manager: SyncoPluginManager,
                                                 tmp_path: Path) -> None:
    """Why the core filters: the engines refuse a rule for a table they do not have."""
    framework = detect(app)
    assert framework.database is not None
    with pytest.raises(SyncoError, match="shop_"):
        dump_with_engine(framework.database, io.BytesIO(), DEFAULTS.effective())
    dump_with_engine(framework.database, io.BytesIO(), PRESENT.effective())


def test_serve_applies_the_filtered_defaults(app: Path, defaults: Defaults, database_calls: DatabaseCalls,
                                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The whole serve: the dump succeeds with the rules that apply, and the inventory is read once."""
    monkeypatch.chdir(app)
    served = CliRunner().invoke(cli, ["serve", "--keep", "--id", "defaults0123456789abcd"])
    assert served.exit_code == 0, served.output
    assert database_calls.calls == ["inspect_database"], "one inventory per session"
    assert len(defaults.inventories) == 1, "the defaults are asked once per session"
    secret = served.stdout.split("synco receive synco-defaults0123456789abcd ", 1)[1].split()[0]
    folder = app / "web/synco-defaults0123456789abcd"
    meta = read_meta(folder, secret)
    db = dumped_database(folder, meta, secret, tmp_path)
    assert {row[0] for row in db.execute("SELECT email FROM users")} == {"user1@example.invalid",
                                                                        "user2@example.invalid"}
    assert db.execute("SELECT COUNT(*) FROM users WHERE password IS NOT NULL").fetchone() == (0,)
    assert db.execute("SELECT COUNT(*) FROM sessions").fetchone() == (0,)
    assert db.execute("SELECT COUNT(*) FROM thumbs").fetchone() == (0,), "smart transfer"
    assert [row[0] for row in db.execute("SELECT kind FROM events")] == ["keep", "keep"]
    assert db.execute("SELECT COUNT(*) FROM posts").fetchone() == (1,), "newest 1 by id"
    assert not set(EMAILS) & {row[0] for row in db.execute("SELECT email FROM users")}


def test_plan_strict_mode_and_serve_share_one_inventory(tmp_path: Path, register_plugin: Callable[[object, str], None],
                                                        database_calls: DatabaseCalls,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Strict mode, the defaults and the dump use the same inventory: one inspection per run."""
    strict = DumpOptions(strict=True, keep=("users", "posts", "events", "thumbs"))
    register_plugin(SqliteAppPlugin(strict), "sqliteapp")
    register_plugin(Defaults(), "defaults")
    app = make_sqlite_app(tmp_path / "app")
    monkeypatch.chdir(app)
    planned = CliRunner().invoke(cli, ["serve", "--plan", "--json"])
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.stdout)["refusal"] is None
    assert database_calls.calls == ["inspect_database"]
    database_calls.calls.clear()
    served = CliRunner().invoke(cli, ["serve", "--keep", "--id", "strictonce0123456789ab"])
    assert served.exit_code == 0, served.output
    assert database_calls.calls == ["inspect_database"]


def test_framework_dump_options_win_and_are_not_filtered(app: Path, register_plugin: Callable[[object, str], None],
                                                         plugin_manager: SyncoPluginManager,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """What the framework (or .synco.yml) states is applied as it is: it replaces a default for the same column,
    and a misspelt table there is an error the user sees, not a rule quietly dropped."""
    register_plugin(Defaults(), "defaults")
    explicit = DumpOptions(sanitize=(SanitizeRule("users", "email", transform="fixed:nobody"),
                                     SanitizeRule("userz", "email", transform="null")))
    plugin_manager.unregister("sqliteapp")
    register_plugin(SqliteAppPlugin(explicit), "sqliteapp")
    framework = detect(app)
    rules = configured_dump_options(framework).sanitize
    assert SanitizeRule("users", "email", transform="fixed:nobody") in rules
    assert SanitizeRule("users", "email", transform="email") not in rules
    assert SanitizeRule("userz", "email", transform="null") in rules
    monkeypatch.chdir(app)
    served = CliRunner().invoke(cli, ["serve", "--keep", "--id", "misspelt0123456789abcd"])
    assert served.exit_code == 1 and "userz" in served.stderr


def test_defaults_stay_whole_when_the_database_cannot_be_inspected(app: Path, defaults: Defaults,
                                                                   plugin_manager: SyncoPluginManager) -> None:
    """Unknown is not "absent": every default is kept, and the dump then reports the real problem."""
    (app / "app.sqlite").unlink()
    framework = detect(app)
    assert configured_dump_options(framework) == merge_dump_options(DEFAULTS, DumpOptions())
    assert defaults.inventories == [None]


class FailingInspection:
    """The engine reads the database but not its inventory (a statistics view that times out, say)."""

    @hookimpl(wrapper=True)
    def inspect_database(self, database: DatabaseConfig) -> Iterator[None]:
        yield
        raise DatabaseError("cannot inspect 'app': the statistics view timed out")


class InventoryDefaults:
    """Rules only the inventory tells (as Symfony's for a users table with its columns, or WordPress's for a
    multisite's other sites): none without it."""

    @hookimpl
    def default_dump_options(self, framework: Framework, inventory: DatabaseInventory | None) -> DumpOptions | None:
        if framework.plugin != "sqliteapp" or inventory is None:
            return None
        return DumpOptions(sanitize=(SanitizeRule("users", "email", transform="email"),))


def test_serve_refuses_when_the_inventory_cannot_be_read(app: Path, register_plugin: Callable[[object, str], None],
                                                         monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without the inventory such rules are missing: serve refuses rather than dump the table raw. detect
    still shows what it knows, and --no-sanitize, which applies no rewrite, still serves."""
    register_plugin(InventoryDefaults(), "inventory-defaults")
    register_plugin(FailingInspection(), "failing-inspection")
    monkeypatch.chdir(app)
    served = CliRunner().invoke(cli, ["serve", "--keep", "--id", "inspect0123456789abcdef"])
    assert served.exit_code == 1, served.output
    assert "statistics view timed out" in served.output
    assert not (app / "web/synco-inspect0123456789abcdef").exists()
    configured_dump_options(detect(app))
    raw = CliRunner().invoke(cli, ["serve", "--keep", "--no-sanitize", "--id", "inspect0123456789abcdeg"])
    assert raw.exit_code == 0, raw.output


def test_detection_never_reaches_the_database(app: Path, defaults: Defaults, database_calls: DatabaseCalls,
                                              plugin_manager: SyncoPluginManager) -> None:
    """Hooks stay value-in, value-out: ``detect`` asks no engine; resolving the options inspects once."""
    framework = detect(app)
    assert database_calls.calls == [] and defaults.inventories == []
    dump = resolve_session_dump(framework)
    assert database_calls.calls == ["inspect_database"]
    assert dump.inventory is not None and dump.options == PRESENT.effective()


def test_detect_shows_the_resolved_options(app: Path, defaults: Defaults, plugin_manager: SyncoPluginManager) -> None:
    result = CliRunner().invoke(cli, ["detect", str(app), "--json"])
    assert result.exit_code == 0, result.output
    dump = json.loads(result.stdout)["dump"]
    assert dump["excludeTables"] == ["sessions"] and dump["smartExcludeTables"] == ["thumbs"]
    assert dump["sanitize"] == ["users.email=email", "users.password=null"]


def test_no_inspection_without_defaults_or_strict_mode(app: Path, database_calls: DatabaseCalls,
                                                       plugin_manager: SyncoPluginManager) -> None:
    resolve_session_dump(detect(app))
    assert database_calls.calls == []


def test_a_wrong_answer_is_named(app: Path, register_plugin: Callable[[object, str], None],
                                 plugin_manager: SyncoPluginManager) -> None:
    class Wrong:
        @hookimpl
        def default_dump_options(self, framework: Framework) -> object:
            return ["sessions"]

    register_plugin(Wrong(), "wrong")
    with pytest.raises(SyncoError, match="plugin wrong answered default_dump_options with a list"):
        configured_dump_options(detect(app))


#: Defaults holding a field of the wrong type, each of which the core used to take apart silently.
WRONG_FIELDS: dict[str, tuple[DumpOptions, str]] = {
    # Read as the tables "s", "e", ... which the database lacks: all dropped, and the sessions' rows shipped.
    "exclude_tables a str": (DumpOptions(exclude_tables="sessions"), "exclude_tables is a str"),  # type: ignore[arg-type]
    "smart_exclude_tables a str": (DumpOptions(smart_exclude_tables="thumbs"),  # type: ignore[arg-type]
                                   "smart_exclude_tables is a str"),
    "sanitize one rule": (DumpOptions(sanitize=SanitizeRule("users", "email", transform="email")),  # type: ignore[arg-type]
                          "sanitize is a synco_core.values.SanitizeRule, not a tuple of SanitizeRule"),
    "sanitize holding a str": (DumpOptions(sanitize=("users.email",)),  # type: ignore[arg-type]
                               "sanitize holds a str, not only SanitizeRule"),
    "where a list": (DumpOptions(where=["events"]), "where is a list"),  # type: ignore[arg-type]
    "where holding a number": (DumpOptions(where={"events": 1}), "where['events'] is a int"),  # type: ignore[dict-item]
    "keep_newest without a column": (DumpOptions(keep_newest={"posts": 5}),  # type: ignore[dict-item]
                                     "keep_newest['posts'] is a int, not a (column, count) pair"),
    "strict a str": (DumpOptions(strict="yes"), "strict is a str"),  # type: ignore[arg-type]
}


@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("wrong", WRONG_FIELDS, ids=list(WRONG_FIELDS))
def test_an_answer_holding_the_wrong_types_stops_the_command(app: Path, register_plugin: Callable[[object, str], None],
                                                            plugin_manager: SyncoPluginManager, wrong: str) -> None:
    """A profile whose fields hold the wrong type fails closed, naming the plugin and the field, as a wrong answer
    does: taken apart as it was, ``exclude_tables="sessions"`` was dropped whole and the logins were dumped."""
    options, problem = WRONG_FIELDS[wrong]
    register_plugin(Defaults(options), "sloppy")
    with pytest.raises(SyncoError) as refused:
        configured_dump_options(detect(app))
    assert str(refused.value) == (f"plugin sloppy answered default_dump_options with DumpOptions whose {problem} "
                                  "(SYNCO_DISABLE_PLUGINS=sloppy leaves it out)")


# --- the filter, as a property: any inventory, any rules ------------------------------------------------------

NAMES = st.sampled_from(["users", "Users", "posts", "public.posts", "app.orders", "orders", "gone", "v"])
COLUMNS = st.sampled_from(["id", "email", "Email", "missing"])


@st.composite
def inventories(draw: st.DrawFn, *, fold: bool = False) -> DatabaseInventory:
    tables = []
    for name in draw(st.lists(st.sampled_from(["users", "posts", "app.orders", "v"]), unique=True)):
        columns = draw(st.lists(st.sampled_from(["id", "email"]), unique=True, min_size=1))
        tables.append(TableInfo(name=name, columns=columns, kind="view" if name == "v" else "table"))
    return DatabaseInventory(engine="test", server_version="1", tables=tables, tables_ignore_case=fold and draw(
        st.booleans()), columns_ignore_case=fold and draw(st.booleans()))


@st.composite
def options(draw: st.DrawFn) -> DumpOptions:
    rules = tuple(SanitizeRule(t, c, transform="null")
                  for t, c in draw(st.lists(st.tuples(NAMES, COLUMNS), unique=True)))
    return DumpOptions(exclude_tables=tuple(draw(st.lists(NAMES, unique=True))),
                       where={t: "1 = 1" for t in draw(st.lists(NAMES, unique=True))},
                       smart_exclude_tables=tuple(draw(st.lists(NAMES, unique=True))), sanitize=rules)


def _has(inventory: DatabaseInventory, table: str, column: str | None = None) -> bool:
    """The rule of the filter, written out plainly: names as the engines match them (exactly, ``public.``
    implied, a bare name also finding the table in another schema); views hold no rows and never count."""
    wanted = table.removeprefix("public.")
    for info in inventory.tables:
        if info.kind == "table" and wanted in (info.name, info.name.rsplit(".", 1)[-1]) and (
                column is None or column in info.columns):
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(inventory=inventories(), declared=options())
def test_filter_keeps_exactly_the_rules_the_database_can_take(inventory: DatabaseInventory,
                                                              declared: DumpOptions) -> None:
    kept = present_in(declared, inventory)
    assert kept.exclude_tables == tuple(t for t in declared.exclude_tables if _has(inventory, t))
    assert kept.smart_exclude_tables == tuple(t for t in declared.smart_exclude_tables if _has(inventory, t))
    assert kept.where == {t: c for t, c in declared.where.items() if _has(inventory, t)}
    assert kept.sanitize == tuple(r for r in declared.sanitize if _has(inventory, r.table, r.column))
    assert present_in(kept, inventory) == kept, "filtering twice changes nothing"


def _found(inventory: DatabaseInventory, table: str, column: str | None = None) -> tuple[str, str | None] | None:
    """Where a rule lands when the engine ignores case: the table and column as the inventory spells them."""
    def same(a: str, b: str, fold: bool) -> bool:
        return a.lower() == b.lower() if fold else a == b

    wanted = table.removeprefix("public.")
    for info in inventory.tables:
        for name in (info.name, info.name.rsplit(".", 1)[-1]):
            if info.kind != "table" or not same(wanted, name, inventory.tables_ignore_case):
                continue
            if column is None:
                return (table if wanted == name else name), None
            for real in info.columns:
                if same(column, real, inventory.columns_ignore_case):
                    return (table if wanted == name else name), (column if column == real else real)
    return None


@settings(max_examples=300, deadline=None)
@given(inventory=inventories(fold=True), declared=options())
def test_filter_matches_names_as_the_engine_does(inventory: DatabaseInventory, declared: DumpOptions) -> None:
    """Every rule the database can take lands on its column, spelt as the inventory spells it; one per column."""
    kept = present_in(declared, inventory)
    assert set(kept.where) == {found[0] for t in declared.where if (found := _found(inventory, t))}
    wanted = {found for rule in declared.sanitize if (found := _found(inventory, rule.table, rule.column))}
    assert {(rule.table, rule.column) for rule in kept.sanitize} == wanted
    assert len(kept.sanitize) == len(wanted), "one rule per column"
    excluded = {found[0] for t in declared.exclude_tables if (found := _found(inventory, t))}
    assert set(kept.exclude_tables) == excluded
    assert present_in(kept, inventory) == kept, "filtering twice changes nothing"


@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("failure", ["raises", "answers a list"])
def test_a_failing_profile_stops_the_dump_instead_of_shipping_unmasked_rows(
        app: Path, register_plugin: Callable[[object, str], None], plugin_manager: SyncoPluginManager,
        failure: str) -> None:
    # A sanitising profile that is skipped sends the very columns it masks: whether its plugin raised or
    # answered the wrong type, the options are refused in one line naming it, never resolved without it.
    class Broken:
        @hookimpl
        def default_dump_options(self, framework: Framework) -> object:
            if failure == "raises":
                raise KeyError("users")
            return ["users"]

    register_plugin(Broken(), "broken")
    with pytest.raises(SyncoError, match=r"^plugin broken (failed in|answered) default_dump_options") as caught:
        configured_dump_options(detect(app))
    assert "\n" not in str(caught.value)
    assert str(caught.value).endswith("(SYNCO_DISABLE_PLUGINS=broken leaves it out)")
