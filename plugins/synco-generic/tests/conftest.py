"""Fixtures of the synco-generic tests: a clean environment and copies of the fixture project."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host's database variables must not decide what these tests detect."""
    for name in ("SYNCO_DATABASE_URL", "DATABASE_URL", "APP_DB_PASSWORD", "APP_DB_HOST", "FLOW_CONTEXT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def plain_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of ``fixtures/plain-app`` with the variables its ``.synco.yml`` needs set."""
    target = tmp_path / "plain-app"
    shutil.copytree(FIXTURES / "plain-app", target)
    monkeypatch.setenv("APP_DB_PASSWORD", "plain-secret-777")
    return target.resolve()


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """``write_config(yaml_text)``: a fresh project directory holding that ``.synco.yml``."""
    counter = [0]

    def write(text: str) -> Path:
        counter[0] += 1
        project = tmp_path / f"project{counter[0]}"
        project.mkdir()
        (project / ".synco.yml").write_text(text)
        return project.resolve()

    return write
