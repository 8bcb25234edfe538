"""synco-hugo: a synco plugin for Hugo sites.

Hugo builds a static site, so there is no database to move: what a developer wants from production is the
``static/`` folder (uploaded images, downloads), which the web server already serves publicly. This plugin

- recognises a Hugo project (a ``hugo.toml`` or ``config.toml`` next to a ``content/`` folder), and
- lists ``static/`` as a *public* file set: ``synco serve`` publishes an index of URLs instead of a copy,
  and ``synco receive`` downloads the files straight from the site.

It is the worked example of docs/writing-a-plugin.md.
"""

from __future__ import annotations

import re
from pathlib import Path

from synco_core import FileSet, FileSetOptions, Framework, hookimpl, read_config_text

#: The plugin's short name: the entry-point name, and what Framework.plugin says.
PLUGIN = "hugo"

#: Hugo's configuration file names, newest first (``config.toml`` is the name before Hugo 0.110).
CONFIG_FILES = ("hugo.toml", "config.toml")

# Only two top-level keys matter here. A line-based match is enough for them and keeps the plugin free of a
# TOML parser on Python 3.10 (tomllib arrived in 3.11).
_KEY = re.compile(r'^\s*(?P<key>publishDir|staticDir)\s*=\s*["\'](?P<value>[^"\']+)["\']\s*(#.*)?$')


def read_settings(config: Path) -> dict[str, str]:
    """The top-level ``publishDir`` and ``staticDir`` of a Hugo TOML config (Hugo's defaults otherwise)."""
    settings = {"publishDir": "public", "staticDir": "static"}
    # Never Path.read_text(): read_config_text bounds the read and never waits on a named pipe.
    for line in read_config_text(config, kind="Hugo configuration file", errors="replace").splitlines():
        if line.lstrip().startswith("["):
            # Keys after the first table header belong to that table, not to the site.
            break
        match = _KEY.match(line)
        if match:
            settings[match["key"]] = match["value"]
    return settings


@hookimpl
def detect_framework(project_dir: Path) -> Framework | None:
    """A Hugo site: a Hugo config file beside a ``content/`` folder."""
    config = next((project_dir / name for name in CONFIG_FILES if (project_dir / name).is_file()), None)
    if config is None or not (project_dir / "content").is_dir():
        return None
    settings = read_settings(config)
    return Framework(
        name="Hugo",
        plugin=PLUGIN,
        project_dir=project_dir,
        # Hugo has no database; the core then skips the dump and moves files only.
        database=None,
        web_root=project_dir / settings["publishDir"],
        reason=f"{config.name} and content/ found",
        settings=settings,
        config_source=config.name,
    )


@hookimpl
def list_file_sets(framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
    """``static/`` as a public set: Hugo copies it to the site root, so each file's URL is its relative path."""
    if framework.plugin != PLUGIN:
        # Called for every framework; answer only for our own.
        return None
    static_dir = framework.settings.get("staticDir", "static")
    root = framework.project_dir / static_dir
    if not root.is_dir():
        return []
    return [
        FileSet(
            name="static",
            kind="public",
            root=root,
            relative_base_path=static_dir,
            url_prefix="",
            # Editor and OS droppings are never worth a download.
            exclude=("**/.DS_Store", "**/Thumbs.db"),
            description="files under static/, served at the site root",
        )
    ]
