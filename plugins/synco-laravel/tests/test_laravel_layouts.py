"""Laravel projects whose config/database.php and config/filesystems.php depart from the skeleton: the same
answer with PHP (artisan tinker) and without it (synco's reading of the config files)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from synco_laravel.plugin import detect_framework

from synco_core import FileSetOptions
from synco_core.testing import list_file_sets

Make = Callable[..., Path]


def edit(project: Path, relative: str, old: str, new: str) -> None:
    path = project / relative
    text = path.read_text()
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1))


def test_default_connection_changed_in_config(make_project: Make, php_mode: str) -> None:
    # The project defaults to pgsql in config/database.php; .env does not set DB_CONNECTION.
    project = make_project("laravel11", env={"DB_HOST": "pg.internal", "DB_PORT": "5433", "DB_DATABASE": "shop",
                                             "DB_USERNAME": "shop", "DB_PASSWORD": "pg-pw-31e"},
                           drop=("DB_CONNECTION",))
    edit(project, "config/database.php", "'default' => env('DB_CONNECTION', 'sqlite'),",
         "'default' => env('DB_CONNECTION', 'pgsql'),")
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    database = framework.database
    assert (database.engine, database.host, database.port, database.name, database.user) == (
        "postgresql", "pg.internal", 5433, "shop", "shop")


CUSTOM = """
        'tenant' => [
            'driver' => 'mysql',
            'host' => env('TENANT_DB_HOST', '127.0.0.1'),
            'port' => env('TENANT_DB_PORT', 3306),
            'database' => env('TENANT_DB_NAME', 'tenant'),
            'username' => env('TENANT_DB_USER', 'tenant'),
            'password' => env('TENANT_DB_PASSWORD', ''),
            'prefix' => 'tn_',
            'options' => extension_loaded('pdo_mysql') ? array_filter([
                PDO::MYSQL_ATTR_SSL_CA => env('MYSQL_ATTR_SSL_CA'),
            ]) : [],
        ],
"""


def test_custom_default_connection_with_its_own_variables(make_project: Make, php_mode: str) -> None:
    project = make_project("laravel11", env={"TENANT_DB_HOST": "tenant-db", "TENANT_DB_PORT": "3310",
                                             "TENANT_DB_NAME": "acme", "TENANT_DB_USER": "acme",
                                             "TENANT_DB_PASSWORD": "tenant-pw-8c2"}, drop=("DB_CONNECTION",))
    edit(project, "config/database.php", "'default' => env('DB_CONNECTION', 'sqlite'),", "'default' => 'tenant',")
    edit(project, "config/database.php", "'connections' => [", "'connections' => [" + CUSTOM)
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    database = framework.database
    assert (database.engine, database.host, database.port, database.name, database.user, database.password) == (
        "mysql", "tenant-db", 3310, "acme", "acme", "tenant-pw-8c2")
    assert framework.settings["table_prefix"] == "tn_"


def test_custom_public_disk_root(make_project: Make, php_mode: str) -> None:
    project = make_project("laravel11")
    media = project / "storage" / "media"
    (media / "2024").mkdir(parents=True)
    (media / "2024" / "a.txt").write_text("a\n")
    edit(project, "config/filesystems.php", "'root' => storage_path('app/public'),", "'root' => storage_path('media'),")
    edit(project, "config/filesystems.php", "public_path('storage') => storage_path('app/public'),",
         "public_path('media') => storage_path('media'),")
    edit(project, "config/filesystems.php", "'url' => env('APP_URL').'/storage',", "'url' => env('APP_URL').'/media',")
    framework = detect_framework(project)
    assert framework is not None
    public = {s.name: s for s in list_file_sets(framework, FileSetOptions())}["public"]
    assert public.root == media and public.url_prefix == "media/"
    assert framework.public_prefixes == ("/media",)


def test_config_the_reader_cannot_parse_falls_back_to_the_skeleton(
        make_project: Make, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("PHP", raising=False)
    project = make_project("laravel11", env={"DB_CONNECTION": "mysql", "DB_PASSWORD": "skeleton-pw-1"})
    edit(project, "config/database.php", "'default' => env('DB_CONNECTION', 'sqlite'),", "'default' => (")
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert framework.database.engine == "mysql"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "database.php" in r.getMessage()]
    assert len(warnings) == 1 and "\n" not in warnings[0] and "skeleton-pw-1" not in warnings[0]


def test_config_that_returns_no_array_is_named(make_project: Make, caplog: pytest.LogCaptureFixture,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("PHP", raising=False)
    project = make_project("laravel11", env={"DB_CONNECTION": "mysql"})
    (project / "config" / "database.php").write_text("default: mysql\n")
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None and framework.database.engine == "mysql"
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"{project / 'config' / 'database.php'} returns no array" in warning


# What `php artisan sail:install --with=mysql,pgsql` writes (abridged to the services synco looks at).
SAIL_COMPOSE = """services:
    laravel.test:
        build:
            context: './vendor/laravel/sail/runtimes/8.3'
            dockerfile: Dockerfile
        image: 'sail-8.3/app'
        ports:
            - '${APP_PORT:-80}:80'
            - '${VITE_PORT:-5173}:${VITE_PORT:-5173}'
        depends_on:
            - mysql
            - pgsql
    mysql:
        image: 'mysql/mysql-server:8.0'
        ports:
            - '${FORWARD_DB_PORT:-3306}:3306'
    pgsql:
        image: 'postgres:17'
        ports:
            - target: 5432
              published: '${FORWARD_DB_PORT:-5432}'
    redis:
        image: 'redis:alpine'
networks:
    sail:
        driver: bridge
"""


@pytest.mark.parametrize(("connection", "forward", "expected_port"), [
    ("mysql", None, 3306), ("mysql", "3307", 3307), ("pgsql", None, 5432), ("pgsql", "54320", 54320),
])
def test_sail_database_is_reached_through_its_published_port(
        make_project: Make, php_mode: str, monkeypatch: pytest.MonkeyPatch, connection: str,
        forward: str | None, expected_port: int) -> None:
    import synco_laravel.sail

    monkeypatch.setattr(synco_laravel.sail, "CONTAINER_MARKERS", ())
    env = {"DB_CONNECTION": connection, "DB_HOST": connection, "DB_PORT": "3306" if connection == "mysql" else "5432",
           "DB_DATABASE": "laravel", "DB_USERNAME": "sail", "DB_PASSWORD": "password"}
    if forward:
        env["FORWARD_DB_PORT"] = forward
    project = make_project("laravel11", env=env)
    (project / "docker-compose.yml").write_text(SAIL_COMPOSE)
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert (framework.database.host, framework.database.port) == ("127.0.0.1", expected_port)
    assert any("Laravel Sail" in note for note in framework.settings["notes"])
    assert f"{connection} is a Compose service, published at 127.0.0.1:{expected_port}" in framework.database.source


def test_inside_a_container_or_without_compose_the_host_stays(make_project: Make, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import synco_laravel.sail

    project = make_project("laravel11", env={"DB_CONNECTION": "mysql", "DB_HOST": "mysql"})
    assert (detect_framework(project).database.host) == "mysql"  # type: ignore[union-attr]
    (project / "docker-compose.yml").write_text(SAIL_COMPOSE)
    marker = tmp_path / ".dockerenv"
    marker.touch()
    monkeypatch.setattr(synco_laravel.sail, "CONTAINER_MARKERS", (marker,))
    assert (detect_framework(project).database.host) == "mysql"  # type: ignore[union-attr]
    monkeypatch.setattr(synco_laravel.sail, "CONTAINER_MARKERS", ())
    (project / ".env").write_text((project / ".env").read_text().replace("DB_HOST=mysql", "DB_HOST=redis"))
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert framework.database.host == "redis", "a service that publishes no database port is left alone"
