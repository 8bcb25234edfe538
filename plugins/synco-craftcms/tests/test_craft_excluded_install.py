"""An install of a Craft volume replaces the laptop's transforms (Craft makes them again from the originals, so
a laptop's copies go stale) and keeps what the volume's other excludes match (``Thumbs.db``): the session
names both kinds of rule, and install acts on them (synco_core.receive.kept)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from craft_support import make_craft4

from synco_core.testing import SyncoPluginManager
from synco_core.testing.services import serve_receive_install


def test_install_drops_stale_transforms_and_keeps_the_laptops_files(
        craft_manager: SyncoPluginManager, tmp_path: Path, web_server: Callable[[Path], str], no_php: None) -> None:
    source = make_craft4(tmp_path / "production")
    target = make_craft4(tmp_path / "laptop", {"web/uploads/images/_thumb/cat.jpg": "stale transform",
                                               "web/uploads/images/2024/Thumbs.db": "the laptop's",
                                               "web/uploads/images/old.jpg": "gone from the server"})
    serve_receive_install(source, web_server(source / "web"), tmp_path / "received", target,
                          serve_args=["--only", "volume-images"])
    images = target / "web/uploads/images"
    assert (images / "cat.jpg").read_text() == "cat picture"
    assert not (images / "_thumb").exists() and not (images / "old.jpg").exists()
    assert (images / "2024" / "Thumbs.db").read_text() == "the laptop's"
