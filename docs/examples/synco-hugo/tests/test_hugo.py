"""synco-hugo's tests: the shared framework-plugin contract, plus what is special about Hugo."""

from __future__ import annotations

from pathlib import Path

import pytest
import synco_hugo

from synco_core import FileSetOptions
from synco_core.testing import FrameworkPluginContract


def make_site(base: Path, config: str = 'baseURL = "https://example.org/"\ntitle = "Example"\n',
              config_name: str = "hugo.toml") -> Path:
    """A minimal Hugo site with one upload under static/."""
    (base / config_name).write_text(config)
    (base / "content").mkdir()
    (base / "content/_index.md").write_text("# Home\n")
    (base / "static/uploads").mkdir(parents=True)
    (base / "static/uploads/logo.png").write_bytes(b"\x89PNG fake")
    return base


class TestHugoContract(FrameworkPluginContract):
    """Every contract test of synco_core.testing, run against this plugin."""

    plugin = synco_hugo
    plugin_name = "hugo"

    @pytest.fixture
    def project_dir(self, tmp_path: Path) -> Path:
        return make_site(tmp_path)


def test_detects_old_config_name(tmp_path: Path) -> None:
    framework = synco_hugo.detect_framework(make_site(tmp_path, config_name="config.toml"))
    assert framework is not None and framework.reason == "config.toml and content/ found"


def test_needs_content_folder(tmp_path: Path) -> None:
    (tmp_path / "hugo.toml").write_text("")
    assert synco_hugo.detect_framework(tmp_path) is None


def test_reads_publish_and_static_dirs(tmp_path: Path) -> None:
    config = 'publishDir = "dist"\nstaticDir = "assets-static"\n[params]\npublishDir = "ignored"\n'
    site = make_site(tmp_path, config=config)
    (site / "assets-static").mkdir()
    framework = synco_hugo.detect_framework(site)
    assert framework is not None and framework.web_root == site / "dist"
    [file_set] = synco_hugo.list_file_sets(framework, FileSetOptions()) or []
    assert (file_set.name, file_set.kind, file_set.relative_base_path) == ("static", "public", "assets-static")
