"""``synco detect --json`` on the fixtures and on the example app, and the core's plugin contract."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest
import synco_laravel.plugin
from click.testing import CliRunner

from synco_core.testing import FrameworkPluginContract, SyncoPluginManager, cli

Make = Callable[..., Path]
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "laravel-app"


def detect_json(path: Path) -> dict[str, object]:
    result = CliRunner().invoke(cli, ["detect", "--json", str(path)])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_detect_json_fixture(make_project: Make, php_mode: str, laravel_manager: SyncoPluginManager) -> None:
    project = make_project("laravel10", env={"DB_PASSWORD": "cli-secret-pw"})
    result = CliRunner().invoke(cli, ["detect", "--json", str(project)])
    assert result.exit_code == 0, result.output
    assert "cli-secret-pw" not in result.output
    data = json.loads(result.stdout)
    assert data["framework"] == "Laravel" and data["plugin"] == "laravel"
    assert data["configSource"] == php_mode
    assert data["database"]["url"] == "mysql://root:***@127.0.0.1:3306/laravel?charset=utf8mb4"
    assert {s["name"]: (s["kind"], s["relativeBasePath"]) for s in data["fileSets"]} == {
        "local": ("private", "storage/app"), "public": ("public", "storage/app/public")}
    assert data["postInstall"][0].endswith("artisan storage:link")
    # The skeleton's other connections are not the application's: none is listed.
    assert data["otherConnections"] == {}


def test_detect_text_lists_other_connections(make_project: Make, php_mode: str,
                                             laravel_manager: SyncoPluginManager) -> None:
    project = make_project("laravel11", env={"DB_CONNECTION": "mysql", "DB_PASSWORD": "text-secret-pw"})
    result = CliRunner().invoke(cli, ["detect", str(project)])
    assert result.exit_code == 0, result.output
    assert "text-secret-pw" not in result.output
    assert "Database:   mysql://root:***@127.0.0.1:3306/laravel?charset=utf8mb4" in result.output
    # The skeleton's boilerplate connections are not listed; one the application adds is (config/database.php
    # is read with PHP, or without it by synco's reader).
    assert "Not dumped:" not in result.output
    config = project / "config" / "database.php"
    config.write_text(config.read_text().replace(
        "'connections' => [", "'connections' => [ 'legacy' => ['driver' => 'mysql', 'host' => 'old-db', "
        "'database' => 'old', 'username' => 'old', 'password' => env('DB_PASSWORD')],", 1))
    listed = CliRunner().invoke(cli, ["detect", str(project)])
    assert "Not dumped: legacy: mysql://old:***@old-db/old" in listed.output, listed.output
    assert "Not dumped: mysql:" not in listed.output, "the default connection is dumped, not listed"


def test_debug_detect_says_which_way(make_project: Make, php_mode: str,
                                     laravel_manager: SyncoPluginManager) -> None:
    project = make_project("laravel11")
    result = CliRunner().invoke(cli, ["--debug", "detect", str(project)])
    assert result.exit_code == 0, result.output
    assert "framework Laravel detected by laravel (artisan and bootstrap/app.php found" in result.stderr
    assert f"settings from {php_mode}\n" in result.stderr
    expected = "artisan tinker (config_source=php)" if php_mode == "php" else "no PHP interpreter found"
    assert expected in result.stderr


def test_detect_json_example(php_mode: str, laravel_manager: SyncoPluginManager) -> None:
    data = detect_json(EXAMPLE)
    assert data["framework"] == "Laravel"
    assert data["configSource"] == php_mode
    database = data["database"]
    assert isinstance(database, dict)
    assert database["engine"] == "sqlite"
    assert database["name"] == str(EXAMPLE.resolve() / "database" / "database.sqlite")
    dump = data["dump"]
    assert isinstance(dump, dict)
    assert dump["excludeTables"] == ["sessions", "password_reset_tokens", "failed_jobs", "jobs", "cache",
                                     "cache_locks"]
    sets = {s["name"]: s for s in data["fileSets"]}  # type: ignore[attr-defined]
    assert sets["public"]["urlPrefix"] == "storage/"
    assert sets["public"]["relativeBasePath"] == "storage/app/public"
    assert sets["local"]["kind"] == "private"


def test_example_files_are_there() -> None:
    public = EXAMPLE / "storage/app/public"
    pngs = sorted(p.name for p in (public / "posts").iterdir())
    assert pngs == ["1.png", "2.png", "3.png"]
    assert all((public / "posts" / p).read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
    assert (public / "readme.txt").is_file()
    assert (EXAMPLE / "storage/app/private/reports/2024-q1.csv").is_file()


def test_make_example_is_deterministic(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_example", EXAMPLE / "make_example.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build(tmp_path)
    for relative in ("storage/app/public/posts/2.png", "storage/app/private/reports/2024-q1.csv"):
        assert (tmp_path / relative).read_bytes() == (EXAMPLE / relative).read_bytes(), relative
    assert (tmp_path / "public/storage").resolve() == (tmp_path / "storage/app/public").resolve()


def test_several_frameworks_need_choice(make_project: Make, no_php: None, laravel_manager: SyncoPluginManager,
                                        register_plugin: Callable[[object, str], None]) -> None:
    from synco_core import Framework, hookimpl

    class Other:
        @hookimpl
        def detect_framework(self, project_dir: Path) -> Framework:
            return Framework(name="Other", plugin="other", project_dir=project_dir, reason="always")

    register_plugin(Other(), "other")
    project = make_project("laravel11")
    result = CliRunner().invoke(cli, ["detect", str(project)])
    assert result.exit_code == 1
    assert "laravel" in result.output and "--framework" in result.output
    chosen = CliRunner().invoke(cli, ["detect", "--json", "--framework", "laravel", str(project)])
    assert chosen.exit_code == 0 and json.loads(chosen.stdout)["plugin"] == "laravel"


class TestLaravelContract(FrameworkPluginContract):
    plugin: ClassVar[object] = synco_laravel.plugin
    plugin_name: ClassVar[str] = "laravel"

    @pytest.fixture
    def project_dir(self, tmp_path: Path) -> Path:
        target = tmp_path / "laravel11"
        fixtures = Path(__file__).parent / "fixtures"
        shutil.copytree(fixtures / "laravel11", target)
        (target / "vendor").mkdir()
        shutil.copy(fixtures / "fake-laravel-framework.php", target / "vendor" / "autoload.php")
        return target
