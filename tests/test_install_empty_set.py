"""An install does not empty a project's folder with a file set received empty (an unmounted share).

receive ``--delete`` refuses to empty a set the server lists no file in (tests/test_receive_unavailable_set.py),
but a first receive into a new folder has nothing to delete: its empty copy of the set then replaced the
project's uploads at the install (kept, so a rollback brought them back, but gone from the site). The install
refuses in one line before it changes anything, unless ``--max-delete N`` allows that many files to go;
what the set's exclude rules keep and the dotfiles the install carries over do not count.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from deeptrees import DEPTH, nest
from test_transfer_support import FixturePlugin, make_app, publish_and_receive, tree_digest

from synco_core.errors import ConfigError
from synco_core.install.run import install_received
from synco_core.trees import remove_tree

LOCAL = ("2024/a.jpg", "2024/b.jpg", "c.pdf")


@pytest.fixture
def received(tmp_path: Path, register_plugin: Callable[..., None]) -> Path:
    """A receive folder of a session whose uploads folder was empty on the server (a share not mounted)."""
    register_plugin(FixturePlugin(), "fixture")
    app = make_app(tmp_path / "app")
    shutil.rmtree(app / "web" / "uploads")
    (app / "web" / "uploads").mkdir()
    target = tmp_path / "dump"
    summary = publish_and_receive(app, "synco-emptyset000000000001", target, only=("uploads",), delete=True)
    assert summary.ok
    assert not any(path.is_file() for path in (target / "uploads").rglob("*"))
    return target


def _project(tmp_path: Path, *local: str) -> Path:
    project = tmp_path / "project"
    (project / "web" / "uploads").mkdir(parents=True)
    (project / "fixture-app.txt").write_text("fixture\n")
    for relative in local:
        path = project / "web" / "uploads" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"laptop's {relative}")
    return project


def test_an_empty_set_does_not_empty_the_projects_folder(received: Path, tmp_path: Path) -> None:
    project = _project(tmp_path, *LOCAL)
    before = tree_digest(project)
    with pytest.raises(ConfigError) as caught:
        install_received(received, project, only=("uploads",), yes=True, echo=lambda _line: None)
    message = str(caught.value)
    assert "received set 'uploads' holds no file" in message and "all 3 local file(s)" in message
    assert "--max-delete 3" in message and "\n" not in message
    assert tree_digest(project) == before


def test_the_cli_refuses_in_one_line_and_max_delete_allows_it(received: Path, tmp_path: Path) -> None:
    from synco_core.cli.main import cli

    project = _project(tmp_path, *LOCAL)
    before = tree_digest(project)
    runner = CliRunner()
    for limit, said in (([], "Error: received set 'uploads' holds no file"),
                        (["--max-delete", "2"], "Error: installing would remove 3 local file(s) of the project in "
                                                "all (uploads 3), more than --max-delete 2; nothing was installed")):
        result = runner.invoke(cli, ["install", str(received), "--project", str(project), "--only", "uploads",
                                     "--yes", *limit])
        assert result.exit_code == 1, result.output
        last = result.output.strip().splitlines()[-1]
        assert last.startswith(said), last
        assert tree_digest(project) == before
    result = runner.invoke(cli, ["install", str(received), "--project", str(project), "--only", "uploads", "--yes",
                                 "--max-delete", "3"])
    assert result.exit_code == 0, result.output
    assert not any((project / "web" / "uploads" / relative).exists() for relative in LOCAL)


@pytest.mark.parametrize("local", [(), (".gitignore",), ("cache/page.tmp", "x/draft.tmp")],
                         ids=["empty", "dotfile-only", "kept-only"])
def test_nothing_lost_is_installed_as_before(received: Path, tmp_path: Path, local: tuple[str, ...]) -> None:
    """A project folder holding nothing the install would take away (nothing, its dotfiles, what the set's
    exclude rules keep: ``**/*.tmp``) is replaced as always."""
    project = _project(tmp_path, *local)
    install_received(received, project, only=("uploads",), yes=True, echo=lambda _line: None)
    assert all((project / "web" / "uploads" / relative).exists() for relative in local)



def test_a_received_set_of_deeply_nested_empty_folders_is_judged_without_recursion(received: Path,
                                                                                  tmp_path: Path) -> None:
    """A session's tree may nest empty folders deeper than Python's recursion limit (a RecursionError before)."""
    nest(received / "uploads", DEPTH)
    project = _project(tmp_path, *LOCAL)
    try:
        with pytest.raises(ConfigError, match="holds no file"):
            install_received(received, project, only=("uploads",), yes=True, echo=lambda _line: None)
    finally:
        # pytest's own clean-up of its temporary folders (shutil.rmtree) recurses and would fail on this tree.
        remove_tree(received / "uploads" / "d")


# ------------------------------------------------------- a partly emptied set, and --max-delete as a run total


@pytest.fixture
def partly(tmp_path: Path, register_plugin: Callable[..., None]) -> Path:
    """A first receive into a new folder of a session whose uploads hold only ``c.pdf`` of the laptop's three
    files (one mount of several not there), and whose thumbnails hold ``t.jpg``: nothing for receive to delete."""
    # Imported here: main's version of this module's header imports a shared helper instead of these.
    from test_transfer_support import publish

    from synco_core.receive import HttpTransport, ReceiveOptions, receive_session
    from synco_core.serve.server import start_server

    register_plugin(FixturePlugin(), "fixture")
    app = make_app(tmp_path / "app")
    shutil.rmtree(app / "web" / "uploads")
    (app / "web" / "uploads").mkdir()
    (app / "web" / "uploads" / "c.pdf").write_text("server's c.pdf")
    target = tmp_path / "dump"
    server = start_server(app / "web", "127.0.0.1:0")
    try:
        key = publish(app, "synco-emptyset000000000002", all=True)
        summary = receive_session(HttpTransport(server.url), "synco-emptyset000000000002", key.secret,
                                  ReceiveOptions(target=target, only=("uploads", "thumbs"), delete=True))
    finally:
        server.stop()
    assert summary.ok, summary.sets
    return target


@pytest.mark.parametrize(("limit", "refused"), [(0, True), (1, True), (2, False), (5, False)])
def test_a_partly_emptied_set_counts_against_max_delete(partly: Path, tmp_path: Path, limit: int,
                                                        refused: bool) -> None:
    """Installing takes ``2024/a.jpg`` and ``2024/b.jpg`` out of the project (``c.pdf`` is replaced, the
    dotfile and the kept ``*.tmp`` are carried over): two files against ``--max-delete``. Before, only a set
    received with no file at all was limited, and any N let a partly emptied one through."""
    project = _project(tmp_path, *LOCAL, ".htaccess", "draft.tmp")
    before = tree_digest(project)
    install = lambda: install_received(partly, project, only=("uploads",), yes=True,  # noqa: E731
                                       echo=lambda _line: None, max_delete=limit)
    if refused:
        with pytest.raises(ConfigError) as caught:
            install()
        assert str(caught.value) == ("installing would remove 2 local file(s) of the project in all (uploads 2), "
                                     f"more than --max-delete {limit}; nothing was installed")
        assert tree_digest(project) == before
    else:
        install()
        uploads = project / "web" / "uploads"
        assert sorted(str(path.relative_to(uploads)) for path in uploads.rglob("*") if path.is_file()) == [
            ".htaccess", "c.pdf", "draft.tmp"]


def test_the_install_limit_is_a_total_over_its_sets(partly: Path, tmp_path: Path) -> None:
    """Two sets losing two and one files: ``--max-delete 2`` refuses the install of both (each alone would
    pass), ``--max-delete 3`` installs both."""
    project = _project(tmp_path, *LOCAL)
    (project / "web" / "thumbs").mkdir()
    (project / "web" / "thumbs" / "old.jpg").write_text("an older thumbnail")
    before = tree_digest(project)
    with pytest.raises(ConfigError, match=r"would remove 3 local file\(s\) of the project in all \(uploads 2, "
                                          r"thumbs 1\), more than --max-delete 2"):
        install_received(partly, project, only=("uploads", "thumbs"), yes=True, echo=lambda _line: None,
                         max_delete=2)
    assert tree_digest(project) == before
    install_received(partly, project, only=("uploads", "thumbs"), yes=True, echo=lambda _line: None, max_delete=3)
    assert not (project / "web" / "thumbs" / "old.jpg").exists()


def test_install_plan_lists_what_it_carries_over(partly: Path, tmp_path: Path) -> None:
    """``install --plan`` names the entries the install carries into the new content (the dotfiles of a public
    set, what its exclude rules keep) instead of leaving the user to guess whether they survive; with
    ``--delete-excluded`` the kept ones are not carried, and the plan says so by not naming them."""
    import json

    from synco_core.cli.main import cli

    project = _project(tmp_path, "c.pdf", ".htaccess", "x/draft.tmp", "x/.keep")
    # The session's rules keep dotfiles at any depth (".*") and "**/*.tmp"; without them (--delete-excluded)
    # the install still carries the dotfiles of the folders the new content has, here its top.
    for extra, carried in (([], [".htaccess", "x/.keep", "x/draft.tmp"]), (["--delete-excluded"], [".htaccess"])):
        result = CliRunner().invoke(cli, ["install", str(partly), "--project", str(project), "--only", "uploads",
                                          "--plan", *extra])
        assert result.exit_code == 0, result.output
        assert f"kept ({len(carried)}, carried into the new content): {', '.join(carried)}" in result.output
        planned = CliRunner().invoke(cli, ["install", str(partly), "--project", str(project), "--only", "uploads",
                                           "--plan", "--json", *extra])
        (step,) = json.loads(planned.stdout)["steps"]
        assert step["carriedOver"] == carried
