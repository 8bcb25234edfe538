"""File sets of Neos projects: public URIs per target, smart transfer against a real database, install."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, unquote

import pymysql
import pytest
from click.testing import CliRunner
from neos_support import RESOURCES, seed, sha
from synco_neos import plugin
from synco_neos.resourcedb import NOT_THUMBNAIL_ONLY, ResourceRow
from synco_neos.resources import PersistentTarget, index_key, public_uri, storage_key

from synco_core import (
    ConfigError,
    DumpOptions,
    FileSetOptions,
    Framework,
    PublicFile,
    ReceivedFileSet,
    dump_with_engine,
    parse_database_url,
)
from synco_core.testing import (
    FrameworkPluginContract,
    SyncoPluginManager,
    cli,
    configured_dump_options,
    run_post_install,
)
from synco_core.testing.services import needs_php, postgres_admin_connection

SHA = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (PersistentTarget(kind="local", class_name="FileSystemSymlinkTarget", base_uri="_Resources/Persistent/"),
         (f"_Resources/Persistent/a/9/4/a/{SHA}/my%20photo%20%C3%A4.jpg", False)),
        (PersistentTarget(kind="local", class_name="FileSystemTarget", base_uri="/_Resources/Persistent",
                          subdivide=False),
         (f"_Resources/Persistent/{SHA}/my%20photo%20%C3%A4.jpg", False)),
        (PersistentTarget(kind="local", class_name="FileSystemTarget", base_uri="https://static.example.com/r/"),
         (f"https://static.example.com/r/a/9/4/a/{SHA}/my%20photo%20%C3%A4.jpg", True)),
        (PersistentTarget(kind="s3", class_name="S3Target", bucket="b", key_prefix="p/", region="eu-west-1",
                          subdivide=False),
         (f"https://b.s3.eu-west-1.amazonaws.com/p/{SHA}/my%20photo%20%C3%A4.jpg", True)),
        (PersistentTarget(kind="s3", class_name="S3Target", bucket="b", key_prefix="p/",
                          endpoint="https://minio.local:9000", subdivide=False),
         (f"https://minio.local:9000/b/p/{SHA}/my%20photo%20%C3%A4.jpg", True)),
        (PersistentTarget(kind="s3", class_name="S3Target", bucket="b", key_prefix="p/", subdivide=False,
                          pattern="https://cdn.example.com/{keyPrefix}{sha1}/{filename}?ext={fileExtension}"),
         (f"https://cdn.example.com/p/{SHA}/my%20photo%20%C3%A4.jpg?ext=jpg", True)),
        (PersistentTarget(kind="gcs", class_name="GcsTarget", bucket="g", key_prefix="res/", subdivide=False),
         (f"https://storage.googleapis.com/g/res/{SHA}/my%20photo%20%C3%A4.jpg", True)),
    ],
)
def test_public_uri(target: PersistentTarget, expected: tuple[str, bool]) -> None:
    assert public_uri(target, ResourceRow(SHA, "my photo ä.jpg", 3)) == expected


def test_storage_key() -> None:
    assert storage_key(SHA) == f"a/9/4/a/{SHA}"
    # Index keys are the storage layout below Data/Persistent, as the wire format and Go synco v2 have them.
    assert index_key(SHA) == f"Resources/a/9/4/a/{SHA}"


@pytest.mark.parametrize(
    ("context", "kind", "uri_start"),
    [
        ("Production", "s3", "https://neos9-media.s3.eu-central-1.amazonaws.com/persistent/"),
        ("Production/Cdn", "s3", "https://cdn.example.com/persistent/"),
        ("Production/Gcs", "gcs", "https://storage.googleapis.com/neos9-gcs/res/"),
        ("Development", "local", "_Resources/Persistent/a/9/4/a/"),
    ],
)
def test_neos9_targets(make_project: Callable[[str], Path], php_mode: str, monkeypatch: pytest.MonkeyPatch,
                       context: str, kind: str, uri_start: str) -> None:
    monkeypatch.setenv("FLOW_CONTEXT", context)
    framework = plugin.detect_framework(make_project("neos9"))
    assert framework is not None
    target = framework.settings["target"]
    assert target.kind == kind
    uri, absolute = public_uri(target, ResourceRow(SHA, "f.png", 1))
    assert uri == f"{uri_start}{SHA}/f.png" if kind != "local" else uri.startswith(uri_start)
    assert absolute == (kind != "local")
    # S3/GCS storage keeps no local files: no database here, so the set is skipped with the reason.
    sets = plugin.list_file_sets(framework, FileSetOptions())
    assert sets is not None and len(sets) == 1
    assert sets[0].name == "Resources" and sets[0].kind == "public"
    assert sets[0].skipped_reason and "dbname is not set" in sets[0].skipped_reason


def _entries(framework: Framework, all_files: bool) -> list[PublicFile]:
    sets = plugin.list_file_sets(framework, FileSetOptions(all=all_files))
    assert sets is not None
    (resources,) = sets
    assert resources.skipped_reason is None, resources.skipped_reason
    assert resources.entries is not None
    assert resources.relative_base_path == "Data/Persistent"
    return list(resources.entries())


@pytest.mark.mysql
def test_smart_transfer_mariadb(make_project: Callable[[str], Path], mysql_url: str, php_mode: str,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    db = parse_database_url(mysql_url)
    project = make_project("neos8")
    connection = pymysql.connect(host=db.host, port=db.port or 3306, user=db.user, password=db.password or "",
                                 database=db.name, autocommit=True, ssl_disabled=True)
    try:
        seed(lambda sql, args: connection.cursor().execute(sql, args or None), project)
        monkeypatch.setenv("DB_HOST", db.host or "127.0.0.1")
        monkeypatch.setenv("DB_PORT", str(db.port or 3306))
        monkeypatch.setenv("DB_NAME", db.name)
        monkeypatch.setenv("DB_USER", db.user or "root")
        monkeypatch.setenv("DB_PASSWORD", db.password or "")
        framework = plugin.detect_framework(project)
        assert framework is not None and framework.database is not None
        assert framework.database.name == db.name
        options = configured_dump_options(framework)

        smart = _entries(framework, all_files=False)
        names = {e.uri.rsplit("/", 1)[-1] for e in smart}
        # Duplicated content is listed once; the thumbnail-only resource and the static collection are not.
        assert len(smart) == 3
        assert names == {"Photo%201.jpg", "doc.pdf", "shared.png"} or names == {"photo-again.jpg", "doc.pdf",
                                                                                  "shared.png"}
        for entry in smart:
            assert entry.path == f"Resources/{storage_key(entry.sha1 or '')}"
            assert entry.uri.startswith(f"_Resources/Persistent/{storage_key(entry.sha1 or '')}/")
            assert not entry.is_absolute_url
            assert entry.size == (project / "Data/Persistent" / entry.path).stat().st_size
            assert entry.mtime > 0
        everything = _entries(framework, all_files=True)
        assert len(everything) == 4
        assert sha(b"thumbnail bytes") in {e.sha1 for e in everything}

        # The dump filter agrees with the index: the same condition, run by MariaDB itself.
        cursor = connection.cursor()
        cursor.execute(f"SELECT persistence_object_identifier FROM neos_flow_resourcemanagement_persistentresource "
                       f"WHERE {options.smart_where['neos_flow_resourcemanagement_persistentresource']}"
                       " ORDER BY 1")
        assert [row[0] for row in cursor.fetchall()] == ["r-doc", "r-photo", "r-photo-copy", "r-shared", "r-static"]
        assert options.smart_where["neos_flow_resourcemanagement_persistentresource"] == \
            NOT_THUMBNAIL_ONLY
        effective = options.effective()
        assert "neos_media_domain_model_thumbnail" in effective.exclude_tables
        assert "neos_neos_eventlog_domain_model_event" in effective.exclude_tables
        assert options.effective(all=True).where == {}

        # End to end with the built-in MySQL engine: what serve dumps by default and under --all.
        def dumped_rows(options: DumpOptions) -> dict[str, int]:
            assert framework is not None and framework.database is not None
            result = dump_with_engine(framework.database, io.BytesIO(), options)
            return {name.rsplit(".", 1)[-1]: manifest.rows for name, manifest in result.tables.items()}

        smart_rows = dumped_rows(options.effective())
        assert smart_rows["neos_flow_resourcemanagement_persistentresource"] == 5  # all but the thumbnail's
        assert smart_rows["neos_media_domain_model_thumbnail"] == 0
        assert smart_rows["neos_neos_eventlog_domain_model_event"] == 0
        assert smart_rows["neos_media_domain_model_asset"] == 3
        all_rows = dumped_rows(options.effective(all=True))
        assert all_rows["neos_flow_resourcemanagement_persistentresource"] == 6
        assert all_rows["neos_media_domain_model_thumbnail"] == 3
        assert all_rows["neos_neos_eventlog_domain_model_event"] == 1
    finally:
        connection.close()


@pytest.mark.postgres
def test_resources_from_postgresql(make_project: Callable[[str], Path], postgres_url: str,
                                   monkeypatch: pytest.MonkeyPatch, no_php: None) -> None:
    db = parse_database_url(postgres_url)
    project = make_project("neos9")
    connection = postgres_admin_connection(db.name)
    try:
        seed(lambda sql, args: connection.execute(sql, args or None), project)
    finally:
        connection.close()
    monkeypatch.setenv("DATABASE_HOST", db.host or "127.0.0.1")
    monkeypatch.setenv("DATABASE_NAME", db.name)
    monkeypatch.setenv("DATABASE_USER", db.user or "postgres")
    framework = plugin.detect_framework(project)
    assert framework is not None and framework.database is not None
    assert framework.database.engine == "postgresql"
    assert len(_entries(framework, all_files=False)) == 3
    assert len(_entries(framework, all_files=True)) == 4


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("context", "uri_base"),
    [
        ("Production", "https://neos9-media.s3.eu-central-1.amazonaws.com/persistent/"),
        ("Production/Cdn", "https://cdn.example.com/persistent/"),
        ("Production/Gcs", "https://storage.googleapis.com/neos9-gcs/res/"),
    ],
)
def test_object_storage_listed_from_postgresql(make_project: Callable[[str], Path], postgres_url: str,
                                               monkeypatch: pytest.MonkeyPatch, php_mode: str, context: str,
                                               uri_base: str) -> None:
    """S3/GCS: no local files, so the sizes come from the database and every URL is absolute."""
    db = parse_database_url(postgres_url)
    project = make_project("neos9")
    connection = postgres_admin_connection(db.name)
    try:
        seed(lambda sql, args: connection.execute(sql, args or None), project)
    finally:
        connection.close()
    shutil.rmtree(project / "Data/Persistent")  # object storage: nothing of it is on this host
    monkeypatch.setenv("FLOW_CONTEXT", context)
    monkeypatch.setenv("DATABASE_HOST", db.host or "127.0.0.1")
    monkeypatch.setenv("DATABASE_NAME", db.name)
    monkeypatch.setenv("DATABASE_USER", db.user or "postgres")
    framework = plugin.detect_framework(project)
    assert framework is not None and framework.config_source == php_mode
    assert framework.settings["storage"].path is None
    entries = _entries(framework, all_files=False)
    by_name = {unquote(e.uri.rsplit("/", 1)[-1]): e for e in entries}
    assert set(by_name) in ({"Photo 1.jpg", "doc.pdf", "shared.png"}, {"photo-again.jpg", "doc.pdf", "shared.png"})
    for name, entry in by_name.items():
        content = next(c for _i, c, f, _col in RESOURCES if f == name)
        assert entry.uri == f"{uri_base}{sha(content)}/{quote(name)}"
        assert entry.is_absolute_url
        assert (entry.path, entry.sha1, entry.size, entry.mtime) == (index_key(sha(content)), sha(content),
                                                                     len(content), 0)
    # --all lists the thumbnail's resource too, from the database as well.
    assert len(_entries(framework, all_files=True)) == 4


@pytest.mark.parametrize("subdivide", [True, False])
def test_fallback_to_published_folder(make_project: Callable[[str], Path], php_mode: str, subdivide: bool,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project("neos8")
    monkeypatch.setenv("FLOW_CONTEXT", "Production" if subdivide else "Production/Live")
    monkeypatch.setenv("NEOS_DB_PASSWORD", "wrong-password-123")
    if not subdivide:
        # Production/Live's socket is the local server's; point it at nothing so the database is unreachable.
        (project / "Configuration/Production/Live/Settings.Database.yaml").write_text(
            "Neos:\n  Flow:\n    persistence:\n      backendOptions:\n        host: localhost\n"
            "        unix_socket: /nonexistent.sock\n")
    content = b"published file"
    sha1 = sha(content)
    stored = project / "Data/Persistent/Resources" / storage_key(sha1)
    stored.parent.mkdir(parents=True)
    stored.write_bytes(content)
    relative = f"{storage_key(sha1)}/Bild ä.jpg" if subdivide else f"{sha1}/Bild ä.jpg"
    published = project / "Web/_Resources/Persistent" / relative
    published.parent.mkdir(parents=True)
    published.symlink_to(stored)
    framework = plugin.detect_framework(project)
    assert framework is not None
    sets = plugin.list_file_sets(framework, FileSetOptions())
    assert sets is not None
    (resources,) = sets
    assert resources.skipped_reason is None
    assert "published folder" in resources.description
    assert resources.entries is not None
    (entry,) = list(resources.entries())
    assert entry.path == f"Resources/{storage_key(sha1)}" and entry.sha1 == sha1 and entry.size == len(content)
    if subdivide:
        assert entry.uri == f"_Resources/Persistent/{storage_key(sha1)}/Bild%20%C3%A4.jpg"
        assert not entry.is_absolute_url
    else:
        assert entry.uri == f"https://static.example.com/_Resources/Persistent/{sha1}/Bild%20%C3%A4.jpg"
        assert entry.is_absolute_url


@pytest.mark.parametrize(
    ("layout", "base_path"),
    [
        ("Resources/", "Data/Persistent"),  # Flow's storage layout below Data/Persistent (Go synco v2 too)
        ("", "Data/Persistent/Resources"),  # sessions made before the keys carried "Resources/"
    ],
)
def test_install_files(make_project: Callable[[str], Path], php_mode: str, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch, layout: str, base_path: str) -> None:
    project = make_project("neos8")
    monkeypatch.setenv("DB_NAME", "x")
    framework = plugin.detect_framework(project)
    assert framework is not None
    received = tmp_path / "received"
    sha1 = sha(b"x")
    (received / layout / storage_key(sha1)).parent.mkdir(parents=True)
    (received / layout / storage_key(sha1)).write_bytes(b"x")
    old = project / "Data/Persistent/Resources/old.txt"
    old.parent.mkdir(parents=True)
    old.write_text("previous")
    result = plugin.install_files(framework, ReceivedFileSet("Resources", "public", base_path), received)
    assert result is not None
    assert result.destination == project / "Data/Persistent/Resources"
    assert result.files == 1
    assert (project / "Data/Persistent/Resources" / storage_key(sha1)).read_bytes() == b"x"
    assert not (project / "Data/Persistent/Resources/Resources").exists()
    assert not old.exists() and result.backup is not None and (result.backup / "old.txt").exists()
    # Other sets and other frameworks are left to other plugins.
    assert plugin.install_files(framework, ReceivedFileSet("uploads", "public", "Web/uploads"), received) is None
    other = Framework(name="X", plugin="x", project_dir=project)
    assert plugin.install_files(other, ReceivedFileSet("Resources", "public", base_path), received) is None
    # A set with another name is still Flow's when it names the resources' base path.
    assert plugin.install_files(framework, ReceivedFileSet("res", "public", base_path), received) is not None
    for stray in ("stray.txt", f"Resources/{sha1}", "Resources/a/b/c/d/" + sha1):
        (received / stray).parent.mkdir(parents=True, exist_ok=True)
        (received / stray).write_text("?")
        with pytest.raises(ConfigError, match=re.escape(repr(stray))):
            plugin.install_files(framework, ReceivedFileSet("Resources", "public", base_path), received)
        (received / stray).unlink()


def test_install_refuses_mixed_layouts(make_project: Callable[[str], Path], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch, no_php: None) -> None:
    monkeypatch.setenv("DB_NAME", "x")
    framework = plugin.detect_framework(make_project("neos8"))
    assert framework is not None
    received = tmp_path / "received"
    for relative in (index_key(sha(b"a")), storage_key(sha(b"b"))):
        (received / relative).parent.mkdir(parents=True, exist_ok=True)
        (received / relative).write_bytes(b"?")
    with pytest.raises(ConfigError, match="mix the"):
        plugin.install_files(framework, ReceivedFileSet("Resources", "public", "Data/Persistent"), received)
    assert not (framework.project_dir / "Data/Persistent/Resources").exists()


def test_cli_detect_json(make_project: Callable[[str], Path], php_mode: str, monkeypatch: pytest.MonkeyPatch,
                         plugin_manager: SyncoPluginManager) -> None:
    assert plugin_manager.register(plugin, "neos")
    project = make_project("neos8")
    monkeypatch.setenv("FLOW_CONTEXT", "Production/Live")
    monkeypatch.setenv("NEOS_DB_PASSWORD", "cli-secret-4242")
    result = CliRunner().invoke(cli, ["detect", str(project), "--json"])
    assert result.exit_code == 0, result.output
    assert "cli-secret-4242" not in result.output
    info = json.loads(result.output)
    assert info["framework"] == "Neos/Flow" and info["plugin"] == "neos"
    assert info["configSource"] == php_mode
    assert info["database"]["socket"] == "/run/mysqld/mysqld.sock"
    assert info["database"]["password"] == "***"
    assert info["webRoot"] == str(project / "Web")
    assert set(info["dump"]["smartExcludeTables"]) == {"neos_media_domain_model_thumbnail",
                                                        "neos_neos_eventlog_domain_model_event"}
    assert [s["name"] for s in info["fileSets"]] == ["Resources"]
    flow = f"{shutil.which('php')} flow" if php_mode == "php" else "./flow"
    assert info["postInstall"] == [f"{flow} resource:publish --collection persistent", f"{flow} flow:cache:flush"]


class TestNeosContract(FrameworkPluginContract):
    """The contract every framework plugin keeps, on a Neos 8 fixture with its settings in the environment."""

    plugin = plugin
    plugin_name = "neos"

    @pytest.fixture
    def project_dir(self, make_project: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch) -> Path:
        monkeypatch.setenv("DB_NAME", "contract")
        monkeypatch.setenv("DB_PASSWORD", "contract-secret")
        return make_project("neos8")


def test_fixture_flow_scripts_are_executable() -> None:
    fixtures = Path(__file__).parent / "fixtures"
    for name in ("neos8", "neos9"):
        assert os.access(fixtures / name / "flow", os.X_OK)


@needs_php
@pytest.mark.parametrize("path_php", ["php", "php8.2"], ids=["php", "only-php8.2"])
def test_post_install_commands_run(make_project: Callable[[str], Path], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch, path_php: str) -> None:
    """The post-install steps run for real (the fixture's flow records them), with the PHP that was found."""
    real = shutil.which("php")
    assert real is not None
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / path_php).symlink_to(real)
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.setenv("DB_NAME", "x")
    project = make_project("neos8")
    framework = plugin.detect_framework(project)
    assert framework is not None
    assert framework.post_install == [[str(folder / path_php), "flow", "resource:publish", "--collection",
                                       "persistent"], [str(folder / path_php), "flow", "flow:cache:flush"]]
    cache = project / "Data/Temporary/Development/Cache/Code/Flow_Object_Classes/Cached.php"
    other_context = project / "Data/Temporary/Production/Cache/Code/Cached.php"
    for path in (cache, other_context):
        path.parent.mkdir(parents=True)
        path.write_text("<?php\n")

    run_post_install(framework)

    assert (project / "Data/Logs/FlowFixtureCommands.log").read_text().splitlines() == [
        "resource:publish collection=persistent context=Development",
        "flow:cache:flush context=Development",
    ]
    assert not (project / "Data/Temporary/Development/Cache").exists()
    assert other_context.exists()
    if path_php != "php":
        # What a literal ./flow would have done on this host: its "#!/usr/bin/env php" finds no php.
        assert subprocess.run(["./flow", "flow:cache:flush"], cwd=project, capture_output=True).returncode != 0
