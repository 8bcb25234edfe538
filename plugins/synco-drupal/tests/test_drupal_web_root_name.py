"""synco-drupal: the Drupal root of a Composer project is where composer.json puts it
(``extra.drupal-scaffold.locations.web-root``, else the ``installer-paths`` entry of ``type:drupal-core``), not
only ``web/`` or ``docroot/``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from drupal_support import copy_project

from synco_core.testing import SyncoPluginManager, detect


def moved(tmp_path: Path, folder: str, keys: str) -> Path:
    project = copy_project(tmp_path / "site")
    (project / folder).parent.mkdir(parents=True, exist_ok=True)
    (project / "web").rename(project / folder)
    composer = json.loads((project / "composer.json").read_text())
    extra = composer["extra"]
    if keys in ("scaffold", "both"):
        extra["drupal-scaffold"]["locations"]["web-root"] = f"./{folder}/"
    else:
        del extra["drupal-scaffold"]
    extra["installer-paths"] = ({f"{folder}/core": ["type:drupal-core"]} if keys in ("installer", "both")
                                else {"vendor/other/{$name}": ["type:library"]})
    (project / "composer.json").write_text(json.dumps(composer))
    return project


@pytest.mark.parametrize("folder", ["public", "html", "public_html", "htdocs", "app/web"])
@pytest.mark.parametrize("keys", ["scaffold", "installer", "both"])
def test_the_drupal_root_is_where_composer_json_puts_it(tmp_path: Path, drupal_manager: SyncoPluginManager,
                                                        no_php: None, folder: str, keys: str) -> None:
    """A project whose web root composer.json names public/ (or html/ ...) was not taken for Drupal at all."""
    project = moved(tmp_path, folder, keys)
    framework = detect(project)
    assert (framework.plugin, framework.web_root) == ("drupal", project / folder)
    assert framework.database is not None and framework.database.name == "drupal"


def test_a_web_root_outside_the_project_is_not_followed(tmp_path: Path, drupal_manager: SyncoPluginManager,
                                                        no_php: None) -> None:
    project = moved(tmp_path, "public", "scaffold")
    composer = json.loads((project / "composer.json").read_text())
    composer["extra"]["drupal-scaffold"]["locations"]["web-root"] = "../elsewhere/"
    (project / "composer.json").write_text(json.dumps(composer))
    import synco_drupal.plugin
    assert synco_drupal.plugin.detect_framework(project) is None
