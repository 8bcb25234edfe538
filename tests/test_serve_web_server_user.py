"""A session serve publishes under a hardened umask, read by a real nginx whose workers run as www-data.

Distributions run nginx's workers as ``www-data``, another user than the site's owner who runs serve: they
read the web root through its "other" bits (0755), or through its group when the site shares one with them
(0750, group www-data). What serve writes there under the owner's umask (077 on a hardened account) must be
readable through the same bits, or nginx answers 403 and receive cannot go on (synco_core/permissions.py).
Root only: nginx changes to www-data only when started as root.
"""

from __future__ import annotations

import grp
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_transfer_support import FixturePlugin, make_app, tree_digest

from synco_core.cli.main import cli
from synco_core.testing.services import nginx, unavailable


@pytest.fixture
def site(register_plugin: Callable[[object, str], None]) -> Iterator[Path]:
    if os.geteuid() != 0:
        unavailable("nginx changes its workers to www-data only when started as root")
    try:
        grp.getgrnam("www-data")
    except KeyError:
        unavailable("no www-data user here (Debian's base-passwd has it)")
    register_plugin(FixturePlugin(), "fixture")
    # Not under pytest's temporary folder, which only root may enter: www-data must reach the web root.
    base = Path(tempfile.mkdtemp(prefix="synco-test-site-", dir="/tmp"))
    try:
        base.chmod(0o755)
        app = make_app(base / "app")
        for path in [app, *app.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
            elif not path.is_symlink():
                path.chmod(0o644)
        yield app
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize(("root_mode", "group"), [(0o755, None), (0o750, "www-data")],
                         ids=["others-read", "group-reads"])
@pytest.mark.parametrize("mask", [0o077, 0o027])
def test_nginx_as_www_data_serves_what_serve_published(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      root_mode: int, group: str | None, mask: int) -> None:
    web = site / "web"
    web.chmod(root_mode)
    if group is not None:
        shutil.chown(web, group=group)
    monkeypatch.chdir(site)
    old = os.umask(mask)
    try:
        served = CliRunner().invoke(cli, ["serve", "--keep", "--all", "--id", "wwwdata0123456789abcdef"])
    finally:
        os.umask(old)
    assert served.exit_code == 0, served.output
    command = next(line for line in served.output.splitlines() if "synco receive" in line)
    words = shlex.split(command[command.index("synco receive"):])[2:]
    with nginx(web, tmp_path, laravel=False, worker_user="www-data") as server:
        target = tmp_path / "received"
        received = CliRunner().invoke(cli, ["receive", *words, "--base-url", server.url, "--target", str(target)])
        statuses = {status for _method, _path, status, _size, _range in server.requests()}
    assert received.exit_code == 0, received.output
    # Nothing was refused, and every file arrived as it is on the server.
    assert not statuses - {200, 206}, statuses
    assert tree_digest(target / "uploads") == {
        name: digest for name, digest in tree_digest(web / "uploads").items() if not re.search(r"\.tmp$", name)}
    assert CliRunner().invoke(cli, ["serve", "--cleanup"]).exit_code == 0
