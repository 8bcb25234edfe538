"""Every reader of .synco.yml parses it the same way: a repeated key, a Python tag, broken YAML or a section of
the wrong type is one ConfigError naming the file, never a silently replaced section or ignored setting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from synco_generic.config import load_config

from synco_core.errors import ConfigError
from synco_core.pull.remote import find_config, load_remotes
from synco_core.receive.locate import configured_hosts, remember_host

GOOD = "serve:\n  database: sqlite:///app.db\nremotes:\n  prod: ssh://h/app\nhosts: [https://shop.example.com]\n"

#: Each reader of the project's .synco.yml, given the project folder.
READERS: dict[str, Callable[[Path], Any]] = {
    "generic plugin (serve:, local_hosts:)": load_config,
    "pull (remotes:)": lambda project: load_remotes(project / ".synco.yml"),
    "receive (hosts:)": configured_hosts,
    "receive remembering a host": lambda project: remember_host(project, "https://other.example.com/"),
}

BROKEN = {
    "a section twice": ("serve:\n  name: a\nserve:\n  name: b\n", "line 3: duplicate key 'serve'"),
    "a key twice inside a section": ("remotes:\n  prod: ssh://a/x\n  prod: ssh://b/x\n", "duplicate key 'prod'"),
    "a Python tag": ("serve: !!python/object/apply:os.system [true]\n", "could not determine a constructor"),
    "a tab": ("serve:\n\tname: x\n", "line 2"),
}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("case", BROKEN)
def test_every_reader_refuses_the_same_file(reader: str, case: str, tmp_path: Path) -> None:
    text, message = BROKEN[case]
    config = tmp_path / ".synco.yml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        READERS[reader](tmp_path)
    assert str(config) in str(info.value) and "\n" not in str(info.value)
    assert config.read_text() == text


@pytest.mark.parametrize("reader", READERS)
def test_every_reader_takes_a_good_file_with_anchors(reader: str, tmp_path: Path) -> None:
    (tmp_path / ".synco.yml").write_text(GOOD + "base: &base {type: ssh, host: h}\nother: {<<: *base, host: g}\n")
    READERS[reader](tmp_path)


@pytest.mark.parametrize(("hosts", "message"), [("5", "expected a list"), ("[[1]]", "not list"),
                                                ("[5]", "not int"), ("[{baseUrl: 5}]", "not int")])
def test_hosts_of_the_wrong_type_are_refused(hosts: str, message: str, tmp_path: Path) -> None:
    (tmp_path / ".synco.yml").write_text(f"hosts: {hosts}\n")
    with pytest.raises(ConfigError, match=message):
        configured_hosts(tmp_path)


def test_hosts_of_go_synco_and_this_synco(tmp_path: Path) -> None:
    (tmp_path / ".synco.yml").write_text("hosts: [{baseUrl: https://a.example}, https://b.example, '  ']\n")
    assert configured_hosts(tmp_path) == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize("reader", [r for r in READERS if r != "receive remembering a host"])
def test_a_link_to_nowhere_is_an_error_not_no_configuration(reader: str, tmp_path: Path) -> None:
    """A deploy's shared .synco.yml gone missing: passed over, its sanitising rules would be silently lost."""
    (tmp_path / ".synco.yml").symlink_to(tmp_path / "shared" / ".synco.yml")
    with pytest.raises(ConfigError, match="cannot read"):
        READERS[reader](tmp_path) if reader != "pull (remotes:)" else load_remotes(find_config(tmp_path) or tmp_path)


def test_a_folder_of_that_name_is_no_configuration(tmp_path: Path) -> None:
    (tmp_path / ".synco.yml").mkdir()
    assert load_config(tmp_path) is None
    assert configured_hosts(tmp_path) == []
    assert find_config(tmp_path) != tmp_path / ".synco.yml"
