"""WordPress's uploads as synco file sets.

The uploads folder is ``WP_CONTENT_DIR/uploads`` (``WP_CONTENT_DIR`` defaults to ``ABSPATH/wp-content``), or
``ABSPATH/UPLOADS`` when the ``UPLOADS`` constant moves it. It is public: the web server serves it, so
``serve`` publishes an index of URLs and ``receive`` downloads the files from the site. A multisite keeps each
site's uploads in ``uploads/sites/<id>/`` (inside the same set) and, for networks older than WordPress 3.5,
in ``wp-content/blogs.dir/<id>/files/``, which is a second public set when it exists.

The URL: relative to the web root when the folder lies inside it (the usual case); otherwise from
``WP_CONTENT_URL`` or the site URL (``WP_SITEURL``), as WordPress builds its upload URL, when one of them is
an absolute URL; else the set is skipped with the reason. Nothing private is transferred by default: a
plugin's own private folder is added in ``.synco.yml``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from synco_core import FileSet, PublicFile, mtime_of, walk_files
from synco_wordpress.config import WordPressConfig

#: Content some plugins keep inside uploads that is the site's own (WP Rocket's settings, logs): never
#: transferred, and a laptop's copies are kept.
UPLOAD_EXCLUDES = ("/wp-rocket-config", "*.log", "**/.DS_Store")
#: Page and asset caches plugins build again from the site (WP Super Cache and others' ``cache``, WP-Optimize's
#: ``wpo-cache``, Divi's ``et-cache``): never transferred, and a laptop's copies, stale, are removed on install.
UPLOAD_REGENERATED = ("/cache", "/wpo-cache", "/et-cache")


def content_dir(config: WordPressConfig) -> Path:
    """``WP_CONTENT_DIR`` (absolute), by default ``ABSPATH/wp-content``."""
    value = config.text("WP_CONTENT_DIR")
    path = Path(value) if value else config.root / "wp-content"
    return path if path.is_absolute() else config.root / path


def uploads_dir(config: WordPressConfig) -> Path:
    """Where WordPress writes uploads: ``ABSPATH/UPLOADS`` or ``WP_CONTENT_DIR/uploads``."""
    uploads = config.text("UPLOADS")
    if uploads:
        return config.root / uploads.strip("/")
    return content_dir(config) / "uploads"


def uploads_url(config: WordPressConfig) -> str | None:
    """The absolute URL of the uploads folder as WordPress builds it, when the configuration gives one."""
    site = config.text("WP_SITEURL")
    uploads = config.text("UPLOADS")
    if uploads:
        return f"{site.rstrip('/')}/{uploads.strip('/')}" if site and "://" in site else None
    content = config.text("WP_CONTENT_URL")
    if content and "://" in content:
        return f"{content.rstrip('/')}/uploads"
    if site and "://" in site:
        return f"{site.rstrip('/')}/wp-content/uploads"
    return None


def _relative(base: Path, path: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return ""


def _absolute_entries(root: Path, url: str, exclude: tuple[str, ...]) -> Iterator[PublicFile]:
    for relative, path in walk_files(root, exclude):
        try:
            info = path.stat()
        except OSError:
            continue
        yield PublicFile(path=relative, size=info.st_size, mtime=mtime_of(info),
                         uri=f"{url.rstrip('/')}/{quote(relative)}", is_absolute_url=True)


def _public_set(name: str, folder: Path, project_dir: Path, web_root: Path, absolute_url: str | None,
                description: str) -> FileSet:
    base = _relative(project_dir, folder) or folder.name
    if not folder.is_dir():
        return FileSet(name=name, kind="public", root=folder, relative_base_path=base, description=description,
                       skipped_reason=f"folder {folder} does not exist")
    inside = _relative(web_root, folder)
    if inside:
        return FileSet(name=name, kind="public", root=folder, relative_base_path=base, url_prefix=inside + "/",
                       exclude=UPLOAD_EXCLUDES, regenerated=UPLOAD_REGENERATED,
                       description=f"{description}, served at /{inside}/")
    if absolute_url:
        return FileSet(name=name, kind="public", root=folder, relative_base_path=base, exclude=UPLOAD_EXCLUDES,
                       regenerated=UPLOAD_REGENERATED,
                       entries=lambda: _absolute_entries(folder, absolute_url,
                                                         (*UPLOAD_EXCLUDES, *UPLOAD_REGENERATED)),
                       description=f"{description}, served at {absolute_url}")
    return FileSet(name=name, kind="public", root=folder, relative_base_path=base, description=description,
                   skipped_reason=f"{folder} is outside the web root and no WP_CONTENT_URL or WP_SITEURL gives "
                                  "its URL")


def upload_sets(config: WordPressConfig, project_dir: Path, web_root: Path) -> list[FileSet]:
    """The uploads set (and a multisite's legacy ``blogs.dir``)."""
    sets = [_public_set("uploads", uploads_dir(config), project_dir, web_root, uploads_url(config),
                        "WordPress uploads" + (" (every site of the network)" if config.multisite else ""))]
    blogs = content_dir(config) / "blogs.dir"
    if blogs.is_dir():
        content_url = config.text("WP_CONTENT_URL")
        url = f"{content_url.rstrip('/')}/blogs.dir" if content_url and "://" in content_url else None
        sets.append(_public_set("blogs.dir", blogs, project_dir, web_root, url,
                                "uploads of a multisite network older than WordPress 3.5"))
    return sets
