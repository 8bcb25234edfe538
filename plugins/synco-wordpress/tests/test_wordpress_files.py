"""The uploads as a public file set: where WordPress keeps them, their URL, multisite, what is left out."""

from __future__ import annotations

from pathlib import Path

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
    assert "/cache" in uploads.exclude
    from synco_core import walk_files

    assert uploads.root is not None
    assert [p for p, _ in walk_files(uploads.root, uploads.exclude)] == [
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
