"""An install of the uploads replaces the laptop's page caches (plugins build them again from the site, so a
laptop's copies are stale) and keeps what the other excludes match (logs, WP Rocket's settings): the session
names both kinds of rule, and install acts on them (synco_core.receive.kept)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from wp_support import configure, copy_site

from synco_core.testing import SyncoPluginManager
from synco_core.testing.services import serve_receive_install


def test_install_drops_stale_caches_and_keeps_the_laptops_files(
        wordpress_manager: SyncoPluginManager, tmp_path: Path, web_server: Callable[[Path], str],
        no_php: None) -> None:
    source = copy_site(tmp_path / "production")
    configure(source, "db")
    target = copy_site(tmp_path / "laptop")
    configure(target, "db")
    uploads = target / "wp-content" / "uploads"
    laptop = {"cache/page.html": "stale page", "wpo-cache/a.css": "stale css", "debug.log": "the laptop's log",
              "wp-rocket-config/localhost.php": "<?php // the laptop's settings"}
    for relative, text in laptop.items():
        (uploads / relative).parent.mkdir(parents=True, exist_ok=True)
        (uploads / relative).write_text(text)
    serve_receive_install(source, web_server(source), tmp_path / "received", target, serve_args=["--only", "uploads"])
    assert (uploads / "2024/05/photo.txt").read_text() == "uploaded photo of May 2024\n"
    assert not (uploads / "cache").exists() and not (uploads / "wpo-cache").exists()
    assert (uploads / "debug.log").read_text() == "the laptop's log"
    assert (uploads / "wp-rocket-config/localhost.php").read_text() == "<?php // the laptop's settings"
