"""A broken variant of synco-craftcms (raising, answering the wrong types) never takes synco down: the
command goes on with the real plugin, naming the broken one in one warning line."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from craft_support import make_craft4

from synco_core import FileSetOptions, Framework, SyncoError, hookimpl
from synco_core.testing import (
    SyncoPluginManager,
    configured_dump_options,
    detect,
    list_file_sets,
    run_cli,
    write_distribution,
)


class Broken:
    """A Craft plugin gone wrong in every collected hook."""

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Any:
        raise RuntimeError("broken craft plugin")

    @hookimpl
    def list_file_sets(self, framework: Framework, options: FileSetOptions) -> Any:
        return "web/uploads"


class WrongTypes:
    """Answers that look right to a careless eye: a Framework with a URL string for a database."""

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Any:
        return Framework(name="Craft", plugin="wrongtypes", project_dir=project_dir,
                         database="mysql://root@localhost/craft", reason="wrong", priority=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("variant", [Broken, WrongTypes])
def test_broken_variant_is_named_and_left_out(tmp_path: Path, craft_manager: SyncoPluginManager,
                                              register_plugin: Callable[[object, str], None],
                                              caplog: pytest.LogCaptureFixture, variant: type) -> None:
    register_plugin(variant(), "brokencraft")
    project = make_craft4(tmp_path)
    with caplog.at_level(logging.WARNING):
        framework = detect(project, manager=craft_manager)
        sets = list_file_sets(framework, FileSetOptions(), manager=craft_manager)
        options = configured_dump_options(framework, manager=craft_manager)
    assert framework.plugin == "craftcms"
    assert {s.name for s in sets} == {"volume-images", "volume-documents"}
    assert "sessions" in options.exclude_tables
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings and all("brokencraft" in w and "\n" not in w for w in warnings), warnings


class BrokenProfile:
    """A sanitising profile that fails: skipping it would ship what it masks, so the dump is refused."""

    def __init__(self, raises: bool) -> None:
        self.raises = raises

    @hookimpl
    def default_dump_options(self, framework: Framework) -> Any:
        if self.raises:
            raise KeyError("users")
        return {"exclude_tables": ["users"]}


@pytest.mark.parametrize("raises", [True, False], ids=["raises", "answers a dict"])
def test_broken_profile_stops_the_dump_in_one_line(tmp_path: Path, craft_manager: SyncoPluginManager,
                                                   register_plugin: Callable[[object, str], None],
                                                   raises: bool) -> None:
    register_plugin(BrokenProfile(raises), "brokencraft")
    framework = detect(make_craft4(tmp_path), manager=craft_manager)
    with pytest.raises(SyncoError, match=r"^plugin brokencraft (failed in|answered) default_dump_options") as caught:
        configured_dump_options(framework, manager=craft_manager)
    assert "\n" not in str(caught.value)


BROKEN_MODULE = '''
from synco_core import hookimpl

@hookimpl
def detect_framework(project_dir):
    raise RuntimeError("broken craft plugin")

@hookimpl
def list_file_sets(framework, options):
    return 42
'''


def test_broken_entry_point_in_a_real_process(tmp_path: Path) -> None:
    """As a user meets it: an installed distribution whose plugin raises; synco detect still answers."""
    site = tmp_path / "site"
    write_distribution(site, "synco-brokencraft", {"brokencraft": "synco_brokencraft"},
                       {"synco_brokencraft": BROKEN_MODULE})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
           "SYNCO_PIPE_TIMEOUT": "1"}
    listing = run_cli(["plugins", "--json"], env=env)
    assert listing.returncode == 0, listing.stderr
    names = {p["name"] for p in json.loads(listing.stdout)["plugins"]}
    assert {"craftcms", "brokencraft"} <= names
    project = make_craft4(tmp_path / "project")
    result = run_cli(["detect", "--json", str(project)], env=env)
    assert result.returncode == 0, result.stderr
    detected = json.loads(result.stdout)
    assert detected["plugin"] == "craftcms"
    assert "brokencraft" in result.stderr and "Traceback" not in result.stderr
