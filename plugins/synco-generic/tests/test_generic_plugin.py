"""synco-generic as a plugin: detection priorities, amending other frameworks, file sets, detect --json."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from synco_generic import plugin

from synco_core import ConfigError, DumpOptions, FileSetOptions, Framework, SanitizeRule
from synco_core.testing import FrameworkPluginContract, SyncoPluginManager, cli, detect, list_file_sets


class Guesser:
    """A framework plugin that recognises every directory with an ``app.marker``, like a real one guesses."""

    @staticmethod
    def detect_framework(project_dir: Path) -> Framework | None:
        if not (project_dir / "app.marker").exists():
            return None
        return Framework(
            name="Guessed", plugin="guesser", project_dir=project_dir, reason="app.marker",
            database=None, web_root=project_dir / "html",
            dump_options=DumpOptions(exclude_tables=("framework_cache",),
                                     sanitize=(SanitizeRule("users", "email", expression="'x'"),
                                               SanitizeRule("users", "token", transform="null"))),
        )


@pytest.fixture
def manager(plugin_manager: SyncoPluginManager) -> SyncoPluginManager:
    from synco_core import hookimpl

    guesser = Guesser()
    hookimpl(Guesser.detect_framework)
    assert plugin_manager.register(guesser, "guesser")
    assert plugin_manager.register(plugin, "generic")
    return plugin_manager


def test_explicit_database_wins(manager: SyncoPluginManager, plain_app: Path) -> None:
    (plain_app / "app.marker").write_text("")
    framework = detect(plain_app, manager=manager)
    assert framework.plugin == "generic" and framework.priority == 1
    assert framework.name == "Plain App"
    assert framework.web_root == plain_app / "public"
    assert framework.database is not None and framework.database.name == "plain_app"
    options = framework.dump_options
    assert options.exclude_tables == ("cache_items", "sessions", "password_resets")
    assert options.strict is True
    assert {r.column for r in options.sanitize} == {"email", "password", "name", "phone", "bio", "api_token"}
    assert framework.post_install == [["php", "bin/clear-cache.php"]]
    # --framework picks the guess; .synco.yml still supplies the database and its rules on top.
    guessed = detect(plain_app, "guesser", manager=manager)
    assert guessed.plugin == "guesser"
    assert guessed.database is not None and guessed.database.name == "plain_app"
    assert guessed.web_root == plain_app / "public"
    rules = {(r.table, r.column): r for r in guessed.dump_options.sanitize}
    assert rules[("users", "email")].transform == "email"  # .synco.yml replaces the framework's rule
    assert rules[("users", "token")].transform == "null"  # the framework's other rules stay
    assert guessed.dump_options.exclude_tables[0] == "framework_cache"


def test_extension_only_never_hides_a_framework(manager: SyncoPluginManager,
                                                write_config: Callable[[str], Path]) -> None:
    project = write_config(
        "serve:\n  exclude_tables: [big_log]\n  where: {orders: 'id > 10'}\n"
        "  file_sets:\n    - {name: extra, path: html/extra, public: true}\n"
        "sanitize:\n  columns: {users.email: email}\n"
    )
    (project / "app.marker").write_text("")
    (project / "html/extra").mkdir(parents=True)
    framework = detect(project, manager=manager)
    assert framework.plugin == "guesser"
    assert framework.dump_options.exclude_tables == ("framework_cache", "big_log")
    assert framework.dump_options.where == {"orders": "id > 10"}
    sets = list_file_sets(framework, FileSetOptions(), manager=manager)
    assert [(s.name, s.url_prefix) for s in sets] == [("extra", "extra/")]
    # Without the framework, the serve section alone is a files-only fallback (priority -1).
    (project / "app.marker").unlink()
    alone = detect(project, manager=manager)
    assert alone.plugin == "generic" and alone.priority == -1 and alone.database is None


def test_environment_urls(manager: SyncoPluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "p"
    project.mkdir()
    with pytest.raises(ConfigError, match="no framework detected"):
        detect(project, manager=manager)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:env-secret-1@localhost/envdb")
    framework = detect(project, manager=manager)
    assert framework.plugin == "generic" and framework.priority == -1
    assert framework.database is not None and framework.database.name == "envdb"
    assert framework.database.source == "$DATABASE_URL"
    monkeypatch.setenv("SYNCO_DATABASE_URL", "mysql://root@127.0.0.1/syncodb")
    assert detect(project, manager=manager).database.name == "syncodb"  # type: ignore[union-attr]
    # DATABASE_URL never overrides a framework's own database; SYNCO_DATABASE_URL (synco's own) does.
    (project / "app.marker").write_text("")
    framework = detect(project, manager=manager)
    assert framework.plugin == "guesser" and framework.database is not None
    assert framework.database.name == "syncodb"
    monkeypatch.delenv("SYNCO_DATABASE_URL")
    assert detect(project, manager=manager).database is None
    monkeypatch.setenv("DATABASE_URL", "nonsense")
    (project / "app.marker").unlink()
    with pytest.raises(ConfigError, match=r"\$DATABASE_URL: not a database URL"):
        detect(project, manager=manager)


@pytest.mark.parametrize("url", ["nonsense", "postgres://u:pw@db.example:5432"])
def test_a_database_url_this_fallback_cannot_use_stops_only_itself(
        manager: SyncoPluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """DATABASE_URL is every framework's variable: a Rails or Laravel project may give one naming only the
    server, with the database in database.yml or DB_DATABASE. The fallback's refusal of it stopped detection
    before the framework's plugin, which reads it rightly, was asked; it is said only where the fallback is
    the framework chosen."""
    project = tmp_path / "p"
    project.mkdir()
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ConfigError, match=r"^\$DATABASE_URL: "):
        detect(project, manager=manager)
    (project / "app.marker").write_text("")
    assert detect(project, manager=manager).plugin == "guesser"
    # synco's own variable is explicit: unusable, it stops every detection.
    monkeypatch.setenv("SYNCO_DATABASE_URL", url)
    with pytest.raises(ConfigError, match=r"^\$SYNCO_DATABASE_URL: "):
        detect(project, manager=manager)


def test_file_sets(manager: SyncoPluginManager, plain_app: Path) -> None:
    framework = detect(plain_app, manager=manager)
    sets = {s.name: s for s in list_file_sets(framework, FileSetOptions(), manager=manager)}
    uploads, invoices, cdn = sets["uploads"], sets["invoices"], sets["cdn"]
    assert (uploads.kind, uploads.root, uploads.url_prefix, uploads.relative_base_path, uploads.exclude) == (
        "public", plain_app / "public/uploads", "uploads/", "public/uploads", ("**/cache/**",))
    assert (invoices.kind, invoices.relative_base_path, invoices.exclude) == (
        "private", "var/storage/invoices", ("*.tmp",))
    assert cdn.kind == "public" and cdn.entries is not None
    (logo,) = list(cdn.entries())
    assert (logo.path, logo.uri, logo.is_absolute_url, logo.size) == (
        "img/logo.png", "https://cdn.example.com/assets/img/logo.png", True, 4)
    only = list_file_sets(framework, FileSetOptions(only=("invoices",)), manager=manager)
    assert [s.name for s in only] == ["invoices"]


def test_file_set_problems(manager: SyncoPluginManager, write_config: Callable[[str], Path]) -> None:
    project = write_config("serve:\n  web_root: www\n  file_sets:\n    - {name: gone, path: nothing/here}\n")
    framework = detect(project, manager=manager)
    (gone,) = list_file_sets(framework, FileSetOptions(), manager=manager)
    assert gone.skipped_reason == "folder nothing/here does not exist"
    project = write_config("serve:\n  web_root: www\n  file_sets:\n    - {name: up, path: data/up, public: true}\n")
    (project / "data/up").mkdir(parents=True)
    framework = detect(project, manager=manager)
    with pytest.raises(ConfigError, match=r"serve\.file_sets\[0\]\.url: public file set 'up' is not below"):
        list_file_sets(framework, FileSetOptions(), manager=manager)
    project = write_config("serve:\n  file_sets:\n    - {name: up, path: ../outside}\n")
    framework = detect(project, manager=manager)
    with pytest.raises(ConfigError, match=r"serve\.file_sets\[0\]\.path: '\.\./outside' must be a path inside"):
        list_file_sets(framework, FileSetOptions(), manager=manager)


def test_cli_detect_json(manager: SyncoPluginManager, plain_app: Path) -> None:
    result = CliRunner().invoke(cli, ["detect", str(plain_app), "--json"])
    assert result.exit_code == 0, result.output
    assert "plain-secret-777" not in result.output
    info = json.loads(result.output)
    assert info["plugin"] == "generic" and info["framework"] == "Plain App"
    assert info["database"]["url"] == "mysql://app:***@127.0.0.1:3306/plain_app"
    assert info["dump"]["strict"] is True
    assert "users.email=email" in info["dump"]["sanitize"]
    assert info["dump"]["keepNewest"] == {"audit_log": ["id", 1000], "login_attempts": ["id", 500]}
    assert [s["name"] for s in info["fileSets"]] == ["uploads", "invoices", "cdn"]


def test_cli_bad_config_is_one_line_error(manager: SyncoPluginManager, write_config: Callable[[str], Path]) -> None:
    project = write_config("serve:\n  web_rot: x\n")
    result = CliRunner().invoke(cli, ["detect", str(project)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "serve.web_rot: unknown key" in lines[0] and ".synco.yml" in lines[0]


class TestGenericContract(FrameworkPluginContract):
    """The contract every framework plugin keeps, on the fixture project."""

    plugin = plugin
    plugin_name = "generic"

    @pytest.fixture
    def project_dir(self, plain_app: Path) -> Path:
        return plain_app

    def test_file_sets_ignore_other_frameworks(self, contract_manager: SyncoPluginManager, project_dir: Path) -> None:
        """Deliberately different: .synco.yml's file sets are added to whatever framework was detected."""
        other = Framework(name="Other", plugin="not-generic", project_dir=project_dir, reason="contract test")
        sets = plugin.list_file_sets(other, FileSetOptions())
        assert sets is not None and [s.name for s in sets] == ["uploads", "invoices", "cdn"]


def test_same_name_file_set_replaces_the_frameworks(plugin_manager: SyncoPluginManager,
                                                    write_config: Callable[[str], Path]) -> None:
    from synco_core import FileSet, hookimpl

    class Framer:
        @staticmethod
        @hookimpl
        def list_file_sets(framework: Framework, options: FileSetOptions) -> list[FileSet]:
            return [FileSet(name="media", kind="public", root=framework.project_dir / "guess", url_prefix="guess/")]

    # The core calls later-registered plugins first; without trylast generic would answer first and lose.
    assert plugin_manager.register(Framer(), "framer")
    assert plugin_manager.register(plugin, "generic")
    project = write_config("serve:\n  file_sets:\n    - {name: media, path: real, public: true, url: real/}\n")
    (project / "real").mkdir()
    framework = Framework(name="F", plugin="framer", project_dir=project)
    (media,) = list_file_sets(framework, FileSetOptions(), manager=plugin_manager)
    assert media.url_prefix == "real/"


@pytest.mark.parametrize(("url", "engine"), [("postgis://u:p@db/geo", "postgresql"),
                                             ("postgresql+psycopg://u:p@db/app", "postgresql"),
                                             ("mysql+pymysql://u:p@db/app", "mysql"),
                                             ("mariadb://u:p@db/app", "mysql"),
                                             ("pgsql://u:p@db/app", "postgresql"),
                                             ("spatialite:////srv/geo.db", "sqlite")])
@pytest.mark.parametrize("variable", ["DATABASE_URL", "SYNCO_DATABASE_URL"])
def test_environment_urls_in_every_framework_spelling(url: str, engine: str, variable: str,
                                                      manager: SyncoPluginManager, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, url)
    framework = detect(tmp_path, manager=manager)
    assert framework.database is not None and framework.database.engine == engine


def test_strict_mode_takes_rules_for_tables_named_beyond_letters_and_digits(
        manager: SyncoPluginManager, write_config: Callable[[str], Path]) -> None:
    """A table ``order-items`` could be neither masked nor declared safe in .synco.yml (its name was refused),
    so strict mode, which demands one of them, refused to serve that database at all."""
    project = write_config(
        "serve:\n  database: {url: 'sqlite:///app.sqlite'}\n"
        "sanitize:\n  strict: true\n  columns: {order-items.e-mail: email}\n  keep: [order-items.id, été]\n"
        "  no_rows: ['drop table;']\n")
    lite = sqlite3.connect(project / "app.sqlite")
    with lite:
        lite.execute('CREATE TABLE "order-items" (id INTEGER PRIMARY KEY, "e-mail" TEXT)')
        lite.execute('CREATE TABLE "été" (note TEXT)')
        lite.execute('CREATE TABLE "drop table;" (secret TEXT)')
    lite.close()
    result = CliRunner().invoke(cli, ["serve", "--plan", "--json", "--project", str(project)])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["strict_violations"] == [] and plan["refusal"] is None
    assert "order-items.e-mail -> email" in plan["rules"]
    assert "drop table;: rows left out (structure only)" in plan["rules"]


def test_a_file_set_marks_patterns_regenerated(manager: SyncoPluginManager,
                                                write_config: Callable[[str], Path]) -> None:
    """``regenerated:`` in ``.synco.yml`` reaches the set as :attr:`FileSet.regenerated` (left out by serve,
    the laptop's copies not kept), apart from ``exclude`` (left out, the laptop's copies kept)."""
    project = write_config("serve:\n  web_root: www\n  file_sets:\n"
                           "    - {name: up, path: www/up, public: true, exclude: ['*.tmp'],"
                           " regenerated: ['/thumbs', '**/*_150x150.jpg']}\n"
                           "    - {name: cdn, path: www/cdn, public: true, url: 'https://cdn.example.com/',"
                           " regenerated: [thumbs]}\n")
    (project / "www/up").mkdir(parents=True)
    (project / "www/cdn/thumbs").mkdir(parents=True)
    (project / "www/cdn/thumbs/a.jpg").write_bytes(b"x")
    (project / "www/cdn/a.jpg").write_bytes(b"x")
    framework = detect(project, manager=manager)
    sets = {s.name: s for s in list_file_sets(framework, FileSetOptions(), manager=manager)}
    assert (sets["up"].exclude, sets["up"].regenerated) == (("*.tmp",), ("/thumbs", "**/*_150x150.jpg"))
    assert sets["cdn"].entries is not None
    # A set served from another host leaves what is regenerated out of its index too.
    assert [entry.path for entry in sets["cdn"].entries()] == ["a.jpg"]


@pytest.mark.parametrize("key", ["file_set", "web_root"])
@pytest.mark.parametrize("form", ["~/site/media", "~/site//media/", "~/site/up/../media"])
def test_a_path_starting_with_a_tilde_is_the_home_folder_as_a_shell_reads_it(
        manager: SyncoPluginManager, write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch,
        key: str, form: str) -> None:
    """``~`` is the serving user's home (as in a shell), never a folder named ``~`` in the project: inside
    the project it is used, outside it is refused in one line like any absolute path."""
    def config(path: str) -> str:
        if key == "web_root":
            return f"serve:\n  web_root: '{path}'\n"
        return f"serve:\n  file_sets:\n    - {{name: up, path: '{path}'}}\n"

    def resolve(project: Path) -> Path:
        framework = detect(project, manager=manager)
        if key == "web_root":
            assert framework.web_root is not None
            return framework.web_root
        (found,) = list_file_sets(framework, FileSetOptions(), manager=manager)
        return found.root

    project = write_config(config(form))
    # the home folder holds the project (~/site): the path is inside it
    monkeypatch.setenv("HOME", str(project.parent))
    project = project.rename(project.parent / "site")
    (project / "media").mkdir()
    expected = project / "media"
    assert resolve(project) == expected
    (project / "~").mkdir()
    assert resolve(project) == expected
    monkeypatch.setenv("HOME", str(project.parent / "elsewhere"))
    with pytest.raises(ConfigError, match=r"is outside the project directory"):
        resolve(project)


def test_a_tilde_naming_an_unknown_user_is_refused_in_one_line(
        manager: SyncoPluginManager, write_config: Callable[[str], Path]) -> None:
    project = write_config("serve:\n  file_sets:\n    - {name: up, path: '~no-such-user-synco/x'}\n")
    framework = detect(project, manager=manager)
    with pytest.raises(ConfigError, match=r"serve\.file_sets\[0\]\.path: '~no-such-user-synco/x': no user "):
        list_file_sets(framework, FileSetOptions(), manager=manager)
