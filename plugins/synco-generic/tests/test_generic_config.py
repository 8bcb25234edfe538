"""Parsing and validating .synco.yml: every feature, environment expansion, and the one-line errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from synco_generic.config import OTHER_SECTIONS, TOP_LEVEL_KEYS, load_config

from synco_core import ConfigError, ExcludeMatcher, SanitizeRule, redact, walk_files


def test_full_fixture(plain_app: Path) -> None:
    config = load_config(plain_app)
    assert config is not None
    assert config.name == "Plain App"
    assert config.database_url == "mysql://app:plain-secret-777@127.0.0.1:3306/plain_app"
    db = config.database(plain_app)
    assert db is not None and db.password == "plain-secret-777" and db.name == "plain_app"
    assert redact("plain-secret-777") == "***"
    assert config.web_root == "public"
    assert [(s.name, s.public, s.url) for s in config.file_sets] == [
        ("uploads", True, None), ("invoices", False, None), ("cdn", True, "https://cdn.example.com/assets/")]
    assert config.file_sets[0].exclude == ("**/cache/**",)
    assert config.exclude_tables == ("cache_items", "sessions", "password_resets")
    assert config.where == {"orders": "created_at >= '2024-01-01'"}
    assert config.keep_newest == {"audit_log": ("id", 1000), "login_attempts": ("id", 500)}
    assert config.post_install == [["php", "bin/clear-cache.php"]]
    single = load_config(_single_command(plain_app))
    assert single is not None and single.post_install == [["make", "clear cache"]]
    assert config.strict is True
    assert set(config.keep) == {"users.id", "users.created_at", "products", "orders"}
    rules = {(r.table, r.column): r for r in config.sanitize}
    assert rules[("users", "email")] == SanitizeRule("users", "email", transform="email")
    # Dollar signs in fixed values are not environment references.
    assert rules[("users", "password")].transform == "fixed:$2y$10$abcdefghijklmnopqrstuv"
    assert rules[("users", "name")] == SanitizeRule("users", "name", expression="CONCAT('User ', id)")
    assert rules[("users", "phone")].transform == "null"
    assert rules[("users", "bio")].transform == "truncate:200"
    assert rules[("users", "api_token")].transform == "hash"
    assert ("users", "id") not in rules


def test_no_config(tmp_path: Path) -> None:
    assert load_config(tmp_path) is None


def test_env_expansion_and_defaults(write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch) -> None:
    project = write_config("serve:\n  database: 'postgresql://u:${PW}@${HOST:-db}/${NAME}'\n")
    # Values are inserted as they are: a password with URL-special characters must be URL-encoded in the
    # variable, as with any DATABASE_URL.
    monkeypatch.setenv("PW", "p%40ss%2Fword")
    monkeypatch.setenv("NAME", "shop")
    config = load_config(project)
    assert config is not None
    db = config.database(project)
    assert db is not None
    assert (db.engine, db.host, db.name, db.password) == ("postgresql", "db", "shop", "p@ss/word")
    monkeypatch.delenv("NAME")
    with pytest.raises(ConfigError, match=r"serve\.database: environment variable NAME is not set"):
        load_config(project)


def test_sqlite_url(write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # A relative SQLite path belongs to the project, not to the directory synco happens to run in.
    project = write_config("serve:\n  database: 'sqlite:///${DB_FILE:-var/data.db}'\n")
    config = load_config(project)
    assert config is not None
    db = config.database(project)
    assert db is not None and (db.engine, db.name) == ("sqlite", str(project / "var/data.db"))
    monkeypatch.setenv("DB_FILE", "/srv/shared/app.sqlite")
    db = load_config(project).database(project)  # type: ignore[union-attr]
    assert db is not None and (db.engine, db.name) == ("sqlite", "/srv/shared/app.sqlite")


def test_sql_expressions_and_explicit_forms(write_config: Callable[[str], Path]) -> None:
    project = write_config(
        "sanitize:\n"
        "  columns:\n"
        "    users.id_text: 'id::text'\n"
        "    users.email: {sql: email}\n"
        "    users.x: {transform: 'fixed:a: b'}\n"
        "    public.users.y: \"'constant'\"\n"
        "    users.n: 0\n"
    )
    config = load_config(project)
    assert config is not None
    rules = {(r.table, r.column): r for r in config.sanitize}
    assert rules[("users", "id_text")].expression == "id::text"
    assert rules[("users", "email")].expression == "email"
    assert rules[("users", "x")].transform == "fixed:a: b"
    assert rules[("public.users", "y")].expression == "'constant'"
    assert rules[("users", "n")].expression == "0"
    assert config.strict is False


def test_serve_sanitize_alias_and_british_spelling(write_config: Callable[[str], Path]) -> None:
    project = write_config("serve:\n  sanitize:\n    no_rows: [a]\nsanitise:\n  no_rows: [b]\n  strict: true\n")
    config = load_config(project)
    assert config is not None
    assert config.exclude_tables == ("a", "b") and config.strict


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("serve: [\n", r"\.synco\.yml: line \d+: "),
        ("- just a list\n", r"\(top level\): expected a mapping"),
        ("database: sqlite:///app.sqlite\n", r"\.synco\.yml: database: belongs under serve: \(serve\.database\)"),
        ("hosts: [x]\nfile_sets: []\nweb_root: web\n", r"\.synco\.yml: file_sets: belongs under serve:"),
        ("exclude_tables: [a]\n", r"exclude_tables: belongs under serve:"),
        ("serve:\n  databse: {url: 'mysql://a@b/c'}\n", r"serve\.databse: unknown key"),
        ("serve:\n  database: {uri: x}\n", r"serve\.database\.uri: unknown key"),
        ("serve:\n  file_sets:\n    - {name: a, path: x, pubic: true}\n", r"serve\.file_sets\[0\]\.pubic: unknown key"),
        ("serve:\n  file_sets:\n    - {name: a}\n", r"serve\.file_sets\[0\]: needs path"),
        ("serve:\n  file_sets:\n    - {name: a, path: x, regenerated: {a: 1}}\n",
         r"serve\.file_sets\[0\]\.regenerated: expected a list"),
        ("serve:\n  file_sets:\n    - {name: a, path: x, regenerated: [{a: 1}]}\n",
         r"serve\.file_sets\[0\]\.regenerated\[0\]: expected a string"),
        ("serve:\n  file_sets:\n    - {name: a, path: x, regenerated: ['ok', '[z-a]']}\n",
         r"serve\.file_sets\[0\]\.regenerated\[1\]: exclude pattern '\[z-a\]'"),
        ("serve:\n  file_sets:\n    - {name: a, path: x, exclude: ['[z-a]']}\n",
         r"serve\.file_sets\[0\]\.exclude\[0\]: exclude pattern '\[z-a\]'"),
        ("serve:\n  file_sets:\n    - {name: a, path: x, url: u/}\n", r"serve\.file_sets\[0\]\.url: only public"),
        ("serve:\n  file_sets: {a: 1}\n", r"serve\.file_sets: expected a list"),
        ("serve:\n  file_sets:\n    - {name: a, path: x}\n    - {name: a, path: y}\n", r"duplicate file set"),
        ("serve:\n  exclude_tables: ['a..b']\n", r"serve\.exclude_tables\[0\]: .* is not a table name"),
        ("serve:\n  exclude_tables: ['a\"b']\n", r"serve\.exclude_tables\[0\]: .* is not a table name"),
        ("serve:\n  keep_newest: {log: {column: 'a.b', rows: 5}}\n", r"keep_newest\.log: 'a\.b' is not a column"),
        ("serve:\n  keep_newest: {log: 5}\n", r"serve\.keep_newest\.log: expected"),
        ("serve:\n  keep_newest: {log: 'id:many'}\n", r"serve\.keep_newest\.log: rows must be a whole number"),
        ("sanitize:\n  colums: {}\n", r"sanitize\.colums: unknown key"),
        ("sanitize:\n  strict: yes please\n", r"sanitize\.strict: expected true or false"),
        ("sanitize:\n  columns: {users.email: 'emial:x'}\n", r"sanitize\.columns\.users\.email: unknown transform"),
        ("sanitize:\n  columns: {users.bio: 'truncate:ten'}\n", r"truncate needs a length"),
        ("sanitize:\n  columns: {email: email}\n", r"sanitize\.columns\.email: 'email' is not table\.column"),
        ("sanitize:\n  columns: {users.a: {sql: x, transform: null}}\n", r"exactly one of sql or transform"),
        ("sanitize:\n  keep: ['a.b.c.d']\n", r"sanitize\.keep\[0\]"),
        ("sanitize: {}\nsanitise: {}\n", r"either sanitize or sanitise"),
        ("serve:\n  post_install: {a: b}\n", r"serve\.post_install: expected a list"),
        ("serve:\n  post_install: [[]]\n", r"serve\.post_install\[0\]: empty command"),
    ],
)
def test_errors_are_one_line_naming_file_and_key(write_config: Callable[[str], Path], text: str,
                                                  message: str) -> None:
    project = write_config(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(project)
    assert str(info.value).startswith(str(project / ".synco.yml"))
    assert "\n" not in str(info.value)


def test_bad_database_url_names_key(write_config: Callable[[str], Path]) -> None:
    project = write_config("serve:\n  database: {url: 'not a url'}\n")
    config = load_config(project)
    assert config is not None
    with pytest.raises(ConfigError, match=r"serve\.database\.url: not a database URL"):
        config.database(project)


@pytest.mark.parametrize(("key", "meant"), [
    ("local_host", "local_hosts"), ("localhosts", "local_hosts"), ("remote", "remotes"), ("Serve", "serve"),
    ("sanitze", "sanitize"), ("host_s", "hosts"), ("recieve", "receive"),
])
def test_a_misspelt_section_is_warned_about(write_config: Callable[[str], Path], key: str, meant: str,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """Ignored without a word, a misspelt section leaves its settings out (local_host: makes an install refuse
    the database as not on this machine); the one line names the file, the key and the section meant."""
    project = write_config(f"{key}: [db]\nframework: laravel\n")
    with caplog.at_level(logging.WARNING, logger="synco_generic.config"):
        load_config(project)
        load_config(project)  # read again by the next hook of the same command: warned once
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"{project / '.synco.yml'}: {key}: not a section synco reads, so it is ignored; "
                        f"did you mean {meant}?"]


def test_every_section_synco_reads_is_known_to_the_check(caplog: pytest.LogCaptureFixture,
                                                         write_config: Callable[[str], Path]) -> None:
    # That the sections of receive and pull are among them is checked by the core's tests (test_synco_yml_file).
    text = "".join(f"{key}: ~\n" for key in sorted((TOP_LEVEL_KEYS | OTHER_SECTIONS) - {"sanitise"}))
    with caplog.at_level(logging.WARNING, logger="synco_generic.config"):
        load_config(write_config(text))
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_other_sections_are_left_alone(write_config: Callable[[str], Path]) -> None:
    config = load_config(write_config("receive:\n  anything: [1, 2]\nremotes: {prod: 'ssh://x'}\n"))
    assert config is not None and not config.has_serve and not config.file_sets


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("**/cache/**", ["cache", "cache/a", "x/y/cache/b.jpg"], ["cached/a", "x/cachex/b"]),
        ("*.tmp", ["a.tmp", "x/y/b.tmp"], ["a.tmpl", "tmp"]),
        ("thumbs/*.jpg", ["thumbs/a.jpg"], ["thumbs/x/a.jpg", "x/thumbs/a.jpg"]),
        ("**/*.log", ["a.log", "x/a.log"], ["a.logs"]),
        ("private/", ["private", "x/private"], ["privatefile", "x/privates"]),
        ("file?.[ab]", ["file1.a", "fileX.b"], ["file.a", "file1.c"]),
    ],
)
def test_exclude_patterns(pattern: str, matches: list[str], misses: list[str]) -> None:
    matcher = ExcludeMatcher([pattern])
    assert all(matcher(path) for path in matches), [p for p in matches if not matcher(p)]
    assert not any(matcher(path) for path in misses), [p for p in misses if matcher(p)]


def test_walk_prunes_excluded_folders(plain_app: Path) -> None:
    found = [relative for relative, _ in walk_files(plain_app / "public/uploads", ["**/cache/**"])]
    assert found == ["2024/photo.jpg", "docs/price list.pdf"]


def _single_command(project: Path) -> Path:
    (project / ".synco.yml").write_text("serve:\n  post_install: make 'clear cache'\n")
    return project


def test_any_name_the_database_accepts_can_be_written(write_config: Callable[[str], Path]) -> None:
    """Only letters, digits and ``_`` were read as names: a table ``order-items`` or ``été`` could not be
    masked, kept, filtered or left out, so strict mode refused to serve for good."""
    project = write_config(
        "serve:\n"
        "  exclude_tables: ['drop table;', '\"a.b\"', 'sch.\"x\"\"y\"']\n"
        "  where: {order-items: 'id > 1'}\n"
        "  keep_newest: {log-2024: {column: 'created at', rows: 5}, été: '\"a.b\":3'}\n"
        "sanitize:\n"
        "  columns: {order-items.e-mail: email, 'sch.\"a.b\".\"c.d\"': null, 日本.名前: 'fixed:x'}\n"
        "  keep: [order-items.id, été, 'sch.\"a.b\".x']\n")
    config = load_config(project)
    assert config is not None
    assert config.exclude_tables == ("drop table;", '"a.b"', 'sch."x""y"')
    assert config.where == {"order-items": "id > 1"}
    assert config.keep_newest == {"log-2024": ("created at", 5), "été": ("a.b", 3)}
    assert {(rule.table, rule.column) for rule in config.sanitize} == {
        ("order-items", "e-mail"), ('sch."a.b"', "c.d"), ("日本", "名前")}
    assert config.keep == ("order-items.id", "été", 'sch."a.b".x')
