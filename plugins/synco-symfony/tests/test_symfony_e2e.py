"""End to end on a Symfony 7 fixture backed by the real PostgreSQL: serve -> receive -> install.

The source's ``public/`` is served by a real HTTP server on 127.0.0.1; ``serve --keep`` publishes the
session there, ``receive`` downloads it and ``install`` puts it into a second copy with an empty database.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from synco_core.cli.main import cli
from synco_core.plugins import SyncoPluginManager
from synco_core.testing import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, postgres_admin_connection

Make = Callable[..., Path]


def env_local(database: str) -> dict[str, str]:
    url = f"postgresql://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{database}?serverVersion=15&charset=utf8"
    return {".env.local": f'DATABASE_URL="{url}"\n'}


@pytest.mark.postgres
@pytest.mark.slow
def test_serve_receive_install_postgres(make_project: Make, symfony_manager: SyncoPluginManager, tmp_path: Path,
                                        postgres_database_factory: Callable[[], str],
                                        web_server: Callable[[Path], str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    source_db, target_db = postgres_database_factory(), postgres_database_factory()
    conn = postgres_admin_connection(source_db)
    conn.execute("CREATE TABLE product (id INT PRIMARY KEY, name TEXT, image_name TEXT)")
    conn.execute("INSERT INTO product VALUES (1, 'Chair', 'chair-65f1a2.txt')")
    conn.close()
    source = make_project("symfony7", env_local(source_db))
    target = make_project("symfony7", env_local(target_db))
    (target / "public/images/products/chair-65f1a2.txt").unlink()
    (target / "private/invoices/inv-1.txt").unlink()
    base_url = web_server(source / "public")

    runner = CliRunner()
    monkeypatch.chdir(source)
    served = runner.invoke(cli, ["serve", "--keep"])
    assert served.exit_code == 0, served.output
    match = re.search(r"synco receive (\S+) (AGE-SECRET-KEY-\S+)", served.output)
    assert match, served.output
    received = tmp_path / "received"
    got = runner.invoke(cli, ["receive", match.group(1), match.group(2), "--base-url", base_url, "--all",
                              "--target", str(received), "--timeout", "30"])
    assert got.exit_code == 0, got.output
    assert not list(received.rglob("cache")), "LiipImagine's generated thumbnails must not be transferred"
    installed = runner.invoke(cli, ["install", str(received), "--project", str(target), "--yes"])
    assert installed.exit_code == 0, installed.output

    conn = postgres_admin_connection(target_db)
    rows = conn.execute("SELECT id, name, image_name FROM product").fetchall()
    conn.close()
    assert rows == [(1, "Chair", "chair-65f1a2.txt")]
    assert (target / "public/images/products/chair-65f1a2.txt").read_text() == "product image 1\n"
    assert (target / "private/invoices/inv-1.txt").read_text() == "invoice\n"
    assert (target / "public/media/photo-1.txt").read_text() == "photo\n"
