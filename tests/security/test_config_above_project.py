"""``synco pull NAME`` takes its remotes only from a ``.synco.yml`` that is the user's own.

A named remote is looked up in the nearest ``.synco.yml`` of the project folder or of a folder above it. A
``remotes:`` entry says what runs on the laptop (``type: command`` runs its words; ``ssh_options`` may hold a
``ProxyCommand``). Above a project with no ``.synco.yml`` of its own lie folders others may write to: ``/tmp``
(anyone may add a file there; the sticky bit only keeps them from removing the user's), a shared ``/srv/www``.
A ``.synco.yml`` another user put there ran their command as the user who typed ``synco pull prod``, as git ran
the hooks of a repository another user made above one's folder (CVE-2022-24765). Such a file, found above the
project, is refused in one line naming it: one of another user, one others may write, or one in a folder where
others may put or replace files. The project's own ``.synco.yml`` is read as before, and so is one above it that
is the user's (or root's) in a folder only they may change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pull_support import remote_environment, run_synco

from synco_core.testing.services import unavailable

#: A remote whose only use is to leave a mark: what a planted ``.synco.yml`` would run as the user.
_PLANTED = """remotes:
  prod:
    type: command
    command: ["sh", "-c", "touch {mark}; exit 1", "--"]
"""


def _other_user() -> int:
    if os.getuid() != 0:
        unavailable("giving a file to another user needs root")
    return 65534


def _plant(folder: Path, mark: Path, *, owner: int | None = None, mode: int = 0o644) -> Path:
    config = folder / ".synco.yml"
    config.write_text(_PLANTED.format(mark=mark))
    config.chmod(mode)
    if owner is not None:
        os.chown(config, owner, -1)
    return config


@pytest.mark.parametrize("case", ["other_user_in_sticky_folder", "writable_by_others", "folder_others_may_write",
                                  "folder_of_another_user", "other_users_link_to_a_file_of_mine"])
def test_a_synco_yml_others_control_above_the_project_is_refused(tmp_path: Path, case: str) -> None:
    env = remote_environment(tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    mark = tmp_path / "ran"
    if case == "other_user_in_sticky_folder":
        shared.chmod(0o1777)
        config = _plant(shared, mark, owner=_other_user())
    elif case == "writable_by_others":
        config = _plant(shared, mark, mode=0o666)
    elif case == "folder_others_may_write":
        shared.chmod(0o777)
        config = _plant(shared, mark)
    elif case == "folder_of_another_user":
        os.chown(shared, _other_user(), -1)
        config = _plant(shared, mark)
    else:
        # Another user's link, in /tmp, to a file of the user's that holds remotes (for another project).
        shared.chmod(0o1777)
        mine = tmp_path / "my-other-project.yml"
        _plant(tmp_path, mark).rename(mine)
        config = shared / ".synco.yml"
        config.symlink_to(mine)
        os.lchown(config, _other_user(), -1)
    project = shared / "mine" / "app"
    project.mkdir(parents=True)
    result = run_synco(["pull", "prod", "--target", "out"], env, project)
    assert not mark.exists(), "the planted remote ran"
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(config) in lines[0], lines[0]
    assert not (project / "out").exists()


def test_the_projects_own_synco_yml_and_a_private_one_above_are_read(tmp_path: Path) -> None:
    from synco_core.pull.remote import resolve_remote

    above = tmp_path / "private"
    above.mkdir(mode=0o755)
    (above / ".synco.yml").write_text("remotes:\n  prod: ssh://deploy@example.com/srv/app\n")
    project = above / "app"
    project.mkdir()
    assert resolve_remote("prod", project).host == "example.com"
    # The project is the user's choice: its own file is read whoever may write the folder it lies in.
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    (shared / ".synco.yml").write_text("remotes:\n  prod: ssh://deploy@example.org/srv/app\n")
    assert resolve_remote("prod", shared).host == "example.org"
