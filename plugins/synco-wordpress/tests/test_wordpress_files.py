"""The uploads as a public file set: where WordPress keeps them, their URL, multisite, what is left out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from wp_support import configure, copy_site

from synco_core import FileSetOptions
from synco_core.testing import SyncoPluginManager, detect, list_file_sets


def sets_of(site: Path) -> dict[str, object]:
    return {s.name: s for s in list_file_sets(detect(site), FileSetOptions())}


def test_uploads_are_public_and_caches_left_out(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                                no_php: None) -> None:
    site = copy_site(tmp_path / "site")
    configure(site, "db")
    (site / "wp-content/uploads/sites/2/2024/06").mkdir(parents=True)
    (site / "wp-content/uploads/sites/2/2024/06/logo.txt").write_text("site 2 logo\n")
    sets = list_file_sets(detect(site), FileSetOptions())
    assert [s.name for s in sets] == ["uploads"]
    uploads = sets[0]
    assert (uploads.kind, uploads.url_prefix, uploads.relative_base_path) == (
        "public", "wp-content/uploads/", "wp-content/uploads")
    # Page caches are built again (regenerated: a laptop's stale copies go); WP Rocket's settings and logs are
    # the laptop's own (kept).
    assert "/cache" in uploads.regenerated and "/cache" not in uploads.exclude
    assert "/wp-rocket-config" in uploads.exclude and "*.log" in uploads.exclude
    from synco_core import walk_files

    assert uploads.root is not None
    assert [p for p, _ in walk_files(uploads.root, uploads.left_out)] == [
        "2024/05/photo.txt", "sites/2/2024/06/logo.txt"]


def test_uploads_constant_moves_the_folder(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None) -> None:
    site = copy_site(tmp_path / "site")
    configure(site, "db", extra="define( 'UPLOADS', 'media' );")
    (site / "media").mkdir()
    uploads = sets_of(site)["uploads"]
    assert (uploads.url_prefix, uploads.relative_base_path) == ("media/", "media")  # type: ignore[attr-defined]


def test_content_outside_the_web_root_uses_its_url(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                                   no_php: None) -> None:
    site = copy_site(tmp_path / "site")
    content = tmp_path / "shared-content"
    (content / "uploads/2024").mkdir(parents=True)
    (content / "uploads/2024/a.txt").write_text("a\n")
    configure(site, "db", extra=f"define( 'WP_CONTENT_DIR', '{content}' );\n"
                                "define( 'WP_CONTENT_URL', 'https://cdn.example.com/content' );")
    uploads = sets_of(site)["uploads"]
    entries = list(uploads.entries())  # type: ignore[attr-defined]
    assert [(e.path, e.uri, e.is_absolute_url) for e in entries] == [
        ("2024/a.txt", "https://cdn.example.com/content/uploads/2024/a.txt", True)]
    configure(site, "db")
    no_url = copy_site(tmp_path / "other")
    configure(no_url, "db", extra=f"define( 'WP_CONTENT_DIR', '{content}' );")
    assert "outside the web root" in str(sets_of(no_url)["uploads"].skipped_reason)  # type: ignore[attr-defined]


def test_legacy_multisite_blogs_dir(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None) -> None:
    site = copy_site(tmp_path / "site")
    configure(site, "db", extra="define( 'MULTISITE', true );")
    (site / "wp-content/blogs.dir/2/files").mkdir(parents=True)
    (site / "wp-content/blogs.dir/2/files/old.txt").write_text("old\n")
    sets = sets_of(site)
    assert set(sets) == {"uploads", "blogs.dir"}
    assert sets["blogs.dir"].url_prefix == "wp-content/blogs.dir/"  # type: ignore[attr-defined]
    assert "multisite" in detect(site).reason


HOME = "https://www.layout-example.com"


def _above(tmp_path: Path) -> tuple[Path, Path]:
    """wp-config.php in the folder above the web root (public_html), synco started in either folder."""
    site = copy_site(tmp_path / "account" / "public_html")
    configure(site, "db", extra=f"define( 'WP_HOME', '{HOME}' );\ndefine( 'WP_SITEURL', '{HOME}' );")
    (site / "wp-config.php").rename(tmp_path / "account" / "wp-config.php")
    return tmp_path / "account", site / "wp-content" / "uploads"


def _own_directory(tmp_path: Path) -> tuple[Path, Path]:
    """WordPress in its own directory (project/wp), served at home by project/index.php, content left in wp/."""
    project = tmp_path / "project"
    copy_site(project / "wp")
    configure(project / "wp", "db", extra=f"define( 'WP_HOME', '{HOME}' );\ndefine( 'WP_SITEURL', '{HOME}/wp' );")
    (project / "wp" / "wp-config.php").rename(project / "wp-config.php")
    (project / "index.php").write_text("<?php\nrequire __DIR__ . '/wp/wp-blog-header.php';\n")
    return project, project / "wp" / "wp-content" / "uploads"


def _own_directory_siteurl_only(tmp_path: Path) -> tuple[Path, Path]:
    project, uploads = _own_directory(tmp_path)
    config = project / "wp-config.php"
    config.write_text(config.read_text().replace(f"define( 'WP_HOME', '{HOME}' );", ""))
    return project, uploads


def _renamed_content(tmp_path: Path) -> tuple[Path, Path]:
    """wp-content renamed (WP_CONTENT_DIR / WP_CONTENT_URL), inside the web root."""
    site = copy_site(tmp_path / "site")
    (site / "wp-content").rename(site / "assets")
    configure(site, "db", extra=f"define( 'WP_SITEURL', '{HOME}' );\n"
                                "define( 'WP_CONTENT_DIR', __DIR__ . '/assets' );\n"
                                f"define( 'WP_CONTENT_URL', '{HOME}/assets' );")
    return site, site / "assets" / "uploads"


@pytest.mark.parametrize(("layout", "start", "served_at"), [
    (_above, ".", "/wp-content/uploads/"),
    (_above, "public_html", "/wp-content/uploads/"),
    (_own_directory, ".", "/wp/wp-content/uploads/"),
    (_own_directory_siteurl_only, ".", "/wp/wp-content/uploads/"),
    (_renamed_content, ".", "/assets/uploads/"),
])
def test_upload_urls_are_where_the_site_serves_them(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                                    no_php: None, layout: Any, start: str, served_at: str) -> None:
    """Whichever folder synco starts in, base URL + URL prefix + path is the URL WordPress gives the upload."""
    project, uploads_dir = layout(tmp_path)
    framework = detect(project / start)
    uploads = {s.name: s for s in list_file_sets(framework, FileSetOptions())}["uploads"]
    assert uploads.root == uploads_dir and uploads.url_prefix is not None
    assert framework.base_url is not None
    assert f"{framework.base_url.rstrip('/')}/{uploads.url_prefix}2024/05/photo.txt" == (
        f"{HOME}{served_at}2024/05/photo.txt")
