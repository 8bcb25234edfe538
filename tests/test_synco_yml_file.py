"""Every part of synco reads the same project configuration file, whichever of its names it has.

docs/configuration.md: "`.synco.yaml` is accepted too". serve's settings (synco-generic), pull's remotes and
receive's hosts must all find it, and receive's "remember this host" must add to that file: a new
``.synco.yml`` beside it would hide the ``.synco.yaml`` (the first name wins) and with it the project's
database, sanitising rules and ``local_hosts``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from synco_core.frameworkutil.configfile import SYNCO_CONFIG_NAMES
from synco_core.pull.remote import find_config, resolve_remote
from synco_core.receive.locate import config_file, configured_hosts, remember_host
from synco_core.testing.services import require_module

SETTINGS = """\
# The shop's synco settings: kept as written by receive.
serve:
  database: sqlite:///app.db   # the local copy
local_hosts: [db]
hosts:
  - https://shop.example.com   # production
remotes:
  production: ssh://deploy@shop.example.com/var/www/shop
"""


@pytest.mark.parametrize("name", SYNCO_CONFIG_NAMES)
def test_every_reader_finds_the_file_by_each_name(tmp_path: Path, name: str) -> None:
    generic = require_module("synco_generic.config", "synco-generic is installed with nox -s tests")
    (tmp_path / name).write_text(SETTINGS)
    assert generic.find_config(tmp_path) == tmp_path / name == find_config(tmp_path) == config_file(tmp_path)
    assert configured_hosts(tmp_path) == ["https://shop.example.com"]
    assert resolve_remote("production", tmp_path, set).host == "shop.example.com"
    config = generic.load_config(tmp_path, {})
    assert (config.database_url, config.local_hosts) == ("sqlite:///app.db", ("db",))


def test_synco_generic_knows_the_same_names_in_the_same_order() -> None:
    generic = require_module("synco_generic.config", "synco-generic is installed with nox -s tests")
    assert (generic.CONFIG_NAME, *generic.ALTERNATIVE_NAMES) == SYNCO_CONFIG_NAMES


@pytest.mark.parametrize("name", SYNCO_CONFIG_NAMES)
def test_remembering_a_host_adds_it_to_that_file_keeping_its_text(tmp_path: Path, name: str) -> None:
    generic = require_module("synco_generic.config", "synco-generic is installed with nox -s tests")
    (tmp_path / name).write_text(SETTINGS)
    assert remember_host(tmp_path, "https://user:secret@staging.example.com/") == tmp_path / name
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    text = (tmp_path / name).read_text()
    assert "secret" not in text
    assert text.replace("  - https://staging.example.com/\n", "", 1) == SETTINGS
    assert configured_hosts(tmp_path) == ["https://shop.example.com", "https://staging.example.com/"]
    assert generic.load_config(tmp_path, {}).local_hosts == ("db",)


@pytest.mark.parametrize("text", [
    "",
    "serve:\n  name: Shop  # no hosts yet\n",
    "serve:\n  name: Shop\n  # a comment last, without a line end",
    "receive:\n  hosts:\n    - https://a.example\n",
    "hosts: [https://a.example]\n",
    "hosts: []\n",
    "hosts:\n- https://a.example\n- {baseUrl: https://b.example}\n# end\nlocal_hosts: [db]\n",
    "framework: laravel\nhosts:\n  - https://a.example\n\n  - https://b.example\nremotes: {}\n",
])
def test_remembering_a_host_keeps_every_setting(tmp_path: Path, text: str) -> None:
    """Whatever the file's layout, the result holds exactly what it held plus the host, as YAML data."""
    (tmp_path / ".synco.yml").write_text(text)
    before = yaml.safe_load(text) or {}
    remember_host(tmp_path, "https://new.example/")
    after = yaml.safe_load((tmp_path / ".synco.yml").read_text())
    assert after == {**before, "hosts": [*(before.get("hosts") or []), "https://new.example/"]}
    assert "https://new.example/" in configured_hosts(tmp_path)
    assert not [p for p in os.listdir(tmp_path) if p != ".synco.yml"]


def test_a_linked_file_stays_a_link(tmp_path: Path) -> None:
    kept = tmp_path / "dotfiles" / "shop.yml"
    kept.parent.mkdir()
    kept.write_text(SETTINGS)
    project = tmp_path / "shop"
    project.mkdir()
    (project / ".synco.yml").symlink_to(kept)
    remember_host(project, "https://staging.example.com/")
    assert (project / ".synco.yml").is_symlink()
    assert "https://staging.example.com/" in configured_hosts(project) and "staging" in kept.read_text()


def test_the_generic_plugin_knows_the_sections_receive_and_pull_read() -> None:
    """synco-generic warns about a top-level key close to a section name (a typo) unless some part of synco
    reads it: receive's host keys and pull's remotes must be on its list, or they would be called typos."""
    from synco_generic.config import OTHER_SECTIONS

    from synco_core.receive.locate import HOST_KEYS

    assert HOST_KEYS | {"receive", "remotes"} <= OTHER_SECTIONS
