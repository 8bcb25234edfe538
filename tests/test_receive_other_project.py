"""A receive folder is one project's: another project's session is refused before anything changes there.

Two sites received into one folder (a mistyped ``--target``, two projects sharing a laptop folder) mixed their
files in sets of the same name, and ``--delete`` removed the first site's files. The session names its
project (the meta's ``project``), the folder's record notes it, and a session of another one is refused in
one line naming the project the folder holds, unless ``--other-project``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_transfer_support import FixturePlugin, builtin_transport, make_app, publish, publish_and_receive, tree_digest

from synco_core.errors import ConfigError
from synco_core.receive import ReceiveOptions, ReceiveSummary
from synco_core.receive.plan import plan_session

SESSION = "synco-otherproject0123456"


def receive(app: Path, target: Path, delete: bool = False, other_project: bool = False) -> ReceiveSummary:
    summary: ReceiveSummary = publish_and_receive(app, SESSION, target, all=True, delete=delete,
                                                  other_project=other_project)
    return summary


def _ok(summary: ReceiveSummary) -> None:
    assert summary.ok, summary.sets


@pytest.mark.parametrize("delete", [False, True], ids=["keep", "delete"])
def test_another_projects_session_is_refused_and_changes_nothing(tmp_path: Path, register_plugin: Any,
                                                                 delete: bool) -> None:
    register_plugin(FixturePlugin(), "fixture")
    shop, blog = make_app(tmp_path / "shop", seed=1), make_app(tmp_path / "blog", files=5, seed=2)
    target = tmp_path / "received"
    _ok(receive(shop, target))
    # The same project again (a new session, a changed file) is received as before.
    (shop / "web" / "uploads" / "new.bin").write_bytes(b"new")
    _ok(receive(shop, target, delete=delete))
    before = tree_digest(target)

    with pytest.raises(ConfigError) as refused:
        receive(blog, target, delete=delete)

    message = str(refused.value)
    assert "\n" not in message and str(target) in message and "--other-project" in message
    assert f"database {str(shop / 'data.db')!r}" in message and f"database {str(blog / 'data.db')!r}" in message
    assert tree_digest(target) == before


def test_other_project_makes_the_folder_the_new_projects(tmp_path: Path, register_plugin: Any) -> None:
    register_plugin(FixturePlugin(), "fixture")
    shop, blog = make_app(tmp_path / "shop", seed=1), make_app(tmp_path / "blog", files=5, seed=2)
    target = tmp_path / "received"
    _ok(receive(shop, target))
    _ok(receive(blog, target, delete=True, other_project=True))
    published = {path: digest for path, digest in tree_digest(blog / "web" / "uploads").items()
                 if not path.endswith(".tmp")}
    assert tree_digest(target / "uploads") == published
    # From now on the folder is the blog's: the shop's session is the other project.
    _ok(receive(blog, target))
    with pytest.raises(ConfigError, match="another project"):
        receive(shop, target)


def test_a_folder_or_session_that_names_no_project_is_not_judged(tmp_path: Path, register_plugin: Any) -> None:
    """An older synco's record names no project: received into as before, and noted from then on."""
    register_plugin(FixturePlugin(), "fixture")
    shop, blog = make_app(tmp_path / "shop", seed=1), make_app(tmp_path / "blog", files=5, seed=2)
    target = tmp_path / "received"
    _ok(receive(shop, target))
    record = target / ".synco-received.json"
    data = json.loads(record.read_text())
    assert data["project"]["id"].startswith("blake2b:")
    del data["project"]
    record.write_text(json.dumps(data))
    _ok(receive(blog, target, other_project=False))
    assert json.loads(record.read_text())["project"]["name"].endswith(f"{str(blog / 'data.db')!r}")


def test_the_plan_stops_where_the_receive_would(tmp_path: Path, register_plugin: Any) -> None:
    """``receive --plan`` into the shop's folder listed the shop's files as the blog session's deletions."""
    register_plugin(FixturePlugin(), "fixture")
    shop, blog = make_app(tmp_path / "shop", seed=1), make_app(tmp_path / "blog", files=5, seed=2)
    target = tmp_path / "received"
    _ok(receive(shop, target))
    key = publish(blog, SESSION)
    with builtin_transport(blog / "web") as transport:
        with pytest.raises(ConfigError, match="another project"):
            plan_session(transport, SESSION, key.secret, ReceiveOptions(target=target, delete=True))
        plan = plan_session(transport, SESSION, key.secret,
                            ReceiveOptions(target=target, delete=True, other_project=True))
        assert plan.sets
