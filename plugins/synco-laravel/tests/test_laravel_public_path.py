"""A public folder the application moves (shared hosts serve public_html), read without PHP: every way
Laravel lets an application move it, in every file that may, is followed; one only PHP could work out is
said in one line naming the file and line, never taken silently for public/."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from synco_laravel.plugin import detect_framework

Make = Callable[..., Path]

#: Expressions naming <project>/public_html as Laravel's helpers and PHP compute them.
PATHS = ["base_path('public_html')", "realpath(base_path('public_html'))", "__DIR__.'/../public_html'",
         "dirname(__DIR__).'/public_html'", "base_path().'/public_html'", 'base_path("public_html")']
#: The calls that move it, ``{}`` being the path.
CALLS = ["$app->usePublicPath({});", "$app->bind('path.public', function () {{ return {}; }});",
         "$app->singleton('path.public', fn () => {});", '$app->instance("path.public", {});',
         "$app->bind('path.public', static function (): string {{\n    return {};\n}});"]

BOOTSTRAP = """<?php

use Illuminate\\Foundation\\Application;

$app = Application::configure(basePath: dirname(__DIR__))
    ->withRouting(web: __DIR__.'/../routes/web.php', health: '/up')
    ->create();
// $app->usePublicPath(base_path('not_this'));
{move}
return $app;
"""

PROVIDER = """<?php

namespace App\\Providers;

use Illuminate\\Support\\ServiceProvider;

class AppServiceProvider extends ServiceProvider
{{
    public function register(): void
    {{
        {move}
    }}
}}
"""

FRONT = """<?php
define('LARAVEL_START', microtime(true));
require __DIR__.'/../vendor/autoload.php';
$app = require_once __DIR__.'/../bootstrap/app.php';
{move}
$app->handleRequest(Illuminate\\Http\\Request::capture());
"""


@pytest.fixture(autouse=True)
def _without_php(no_php: None) -> None:
    """Every test reads the files, as on a host without PHP."""


def _moved(make_project: Make, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    project = make_project("laravel11")
    shutil.move(project / "public", project / "public_html")
    return project


def _detect_web_root(project: Path) -> Path:
    framework = detect_framework(project)
    assert framework is not None and framework.web_root is not None
    links = framework.settings["filesystems"]["links"]
    assert list(links) == [str(framework.web_root / "storage")], "public_path('storage') follows the move"
    return framework.web_root


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("call", CALLS)
def test_bootstrap_moves_the_public_folder(make_project: Make, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                           call: str, path: str) -> None:
    project = _moved(make_project, monkeypatch, tmp_path)
    (project / "bootstrap/app.php").write_text(BOOTSTRAP.format(move=call.format(path)))
    assert _detect_web_root(project) == project / "public_html"


@pytest.mark.parametrize("call", CALLS)
def test_a_provider_moves_the_public_folder(make_project: Make, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            call: str) -> None:
    project = _moved(make_project, monkeypatch, tmp_path)
    provider = project / "app/Providers/AppServiceProvider.php"
    provider.parent.mkdir(parents=True, exist_ok=True)
    provider.write_text(PROVIDER.format(move=call.format("base_path('public_html')").replace("$app", "$this->app")))
    assert _detect_web_root(project) == project / "public_html"


@pytest.mark.parametrize("call", CALLS)
def test_the_front_controller_moves_the_public_folder(make_project: Make, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path, call: str) -> None:
    project = _moved(make_project, monkeypatch, tmp_path)
    (project / "public_html/index.php").write_text(FRONT.format(move=call.format("__DIR__")))
    assert _detect_web_root(project) == project / "public_html"


def test_the_laravel11_chain_moves_the_public_folder(make_project: Make, monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    project = _moved(make_project, monkeypatch, tmp_path)
    app = project / "bootstrap/app.php"
    app.write_text(app.read_text().replace("->create();", "->create()\n    ->usePublicPath(base_path('public_html'));"))
    assert _detect_web_root(project) == project / "public_html"


@pytest.mark.parametrize("path", ["env('PUBLIC_DIR')", "config('app.public')", "$root.'/public_html'",
                                  "base_path($folder)"])
def test_a_move_only_php_could_work_out_is_said(make_project: Make, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path, caplog: pytest.LogCaptureFixture, path: str) -> None:
    project = _moved(make_project, monkeypatch, tmp_path)
    (project / "bootstrap/app.php").write_text(BOOTSTRAP.format(move=f"$app->usePublicPath({path});"))
    with caplog.at_level(logging.WARNING):
        framework = detect_framework(project)
    assert framework is not None
    said = [r.getMessage() for r in caplog.records if "public folder" in r.getMessage()]
    assert len(said) == 1 and "\n" not in said[0], caplog.text
    assert "bootstrap/app.php line 9" in said[0] and "cannot read without PHP" in said[0]


def test_a_move_to_a_missing_folder_is_said(make_project: Make, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    project = _moved(make_project, monkeypatch, tmp_path)
    (project / "bootstrap/app.php").write_text(BOOTSTRAP.format(move="$app->usePublicPath(base_path('www'));"))
    with caplog.at_level(logging.WARNING):
        assert _detect_web_root(project) == project / "www"
    assert "moves the public folder to" in caplog.text and "does not exist" in caplog.text


def test_nothing_moved_is_public(make_project: Make, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                 caplog: pytest.LogCaptureFixture) -> None:
    project = make_project("laravel11")
    with caplog.at_level(logging.WARNING):
        assert _detect_web_root(project) == project / "public"
    assert "public folder" not in caplog.text
