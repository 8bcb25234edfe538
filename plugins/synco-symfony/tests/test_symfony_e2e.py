"""End to end on a Symfony 7 fixture backed by the real PostgreSQL: serve -> receive -> install.

The source's ``public/`` is served by a real HTTP server on 127.0.0.1; ``serve --keep`` publishes the
session there, ``receive`` downloads it and ``install`` puts it into a second copy with an empty database.
It runs twice (``php_mode``): with the real ``php`` CLI, and with no PHP on PATH, where the plugin reads
the ``.env`` files and Doctrine's YAML itself, as on a production host without the PHP CLI.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from synco_core.testing import SyncoPluginManager, cli
from synco_core.testing.services import (
    POSTGRES_HOST,
    POSTGRES_PORT,
    POSTGRES_USER,
    postgres_admin_connection,
    serve_receive_install,
)

Make = Callable[..., Path]


def env_local(database: str) -> dict[str, str]:
    url = f"postgresql://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{database}?serverVersion=15&charset=utf8"
    return {".env.local": f'DATABASE_URL="{url}"\n'}


@pytest.mark.postgres
@pytest.mark.slow
def test_serve_receive_install_postgres(make_project: Make, symfony_manager: SyncoPluginManager, tmp_path: Path,
                                        postgres_database_factory: Callable[..., str],
                                        web_server: Callable[[Path], str], php_mode: str) -> None:
    source_db = postgres_database_factory("CREATE TABLE product (id INT PRIMARY KEY, name TEXT, image_name TEXT);"
                                          "INSERT INTO product VALUES (1, 'Chair', 'chair-65f1a2.txt')")
    target_db = postgres_database_factory()
    source = make_project("symfony7", env_local(source_db))
    target = make_project("symfony7", env_local(target_db))
    (target / "public/images/products/chair-65f1a2.txt").unlink()
    (target / "private/invoices/inv-1.txt").unlink()
    base_url = web_server(source / "public")
    # The way serve is about to read the settings is the one this run is about.
    assert (shutil.which("php") is None) == (php_mode == "files")
    detected = CliRunner().invoke(cli, ["detect", "--json", str(source)])
    assert detected.exit_code == 0, detected.output
    assert json.loads(detected.stdout)["configSource"] == php_mode

    received = tmp_path / "received"
    serve_receive_install(source, base_url, received, target)
    assert not list(received.rglob("cache")), "LiipImagine's generated thumbnails must not be transferred"

    conn = postgres_admin_connection(target_db)
    rows = conn.execute("SELECT id, name, image_name FROM product").fetchall()
    conn.close()
    assert rows == [(1, "Chair", "chair-65f1a2.txt")]
    assert (target / "public/images/products/chair-65f1a2.txt").read_text() == "product image 1\n"
    assert (target / "private/invoices/inv-1.txt").read_text() == "invoice\n"
    assert (target / "public/media/photo-1.txt").read_text() == "photo\n"
