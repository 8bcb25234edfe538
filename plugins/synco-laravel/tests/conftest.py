"""Fixtures of the synco-laravel tests: copies of the fixture projects, with and without PHP on PATH."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import synco_laravel.plugin

from synco_core.testing import SyncoPluginManager

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "laravel-app"

# Laravel's skeleton ignores everything under storage/app/ in git (its own .gitignore files, kept in the
# fixtures as they ship), so the uploaded content the tests move around is written here instead.
UPLOADED_CONTENT: dict[str, dict[str, str]] = {
    "laravel10": {
        "storage/app/export-2023.csv": "id,total\n1,10\n",
        "storage/app/public/uploads/doc.txt": "uploaded document\n",
    },
    "laravel11": {
        "storage/app/public/avatars/1.txt": "avatar of user 1\n",
        "storage/app/public/avatars/2.txt": "avatar of user 2\n",
        "storage/app/private/invoice-2024-001.txt": "invoice 2024-001\n",
    },
}


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """``make_project("laravel11", env={...})``: a copy of a fixture project, ``.env`` amended.

    The copy gets the stand-in framework as ``vendor/autoload.php`` (where Composer's autoloader would
    be), so its ``artisan`` runs under the real ``php`` CLI.
    """
    counter = iter(range(1000))

    def make(name: str, env: dict[str, str] | None = None, drop: tuple[str, ...] = ()) -> Path:
        target = tmp_path / f"{name}-{next(counter)}"
        shutil.copytree(FIXTURES / name, target, symlinks=True)
        for relative, text in UPLOADED_CONTENT.get(name, {}).items():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / relative).write_text(text)
        (target / "vendor").mkdir()
        shutil.copy(FIXTURES / "fake-laravel-framework.php", target / "vendor" / "autoload.php")
        if env or drop:
            lines = [
                line for line in (target / ".env").read_text().splitlines()
                if line.split("=", 1)[0].strip() not in set(env or ()) | set(drop)
            ]
            lines += [f"{key}={value}" for key, value in (env or {}).items()]
            (target / ".env").write_text("\n".join(lines) + "\n")
        return target

    return make


@pytest.fixture
def laravel_manager(plugin_manager: SyncoPluginManager,
                    register_plugin: Callable[[object, str], None]) -> Iterator[SyncoPluginManager]:
    """The per-test plugin manager (built-ins only) with synco-laravel registered."""
    register_plugin(synco_laravel.plugin, "laravel")
    yield plugin_manager


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Variables Laravel reads must come from the fixture's .env, not from the machine running the tests."""
    import os

    for name in list(os.environ):
        if name.startswith(("DB_", "AWS_", "APP_")) or name in ("DATABASE_URL", "FILESYSTEM_DISK"):
            monkeypatch.delenv(name)
