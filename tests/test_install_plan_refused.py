"""``synco install --plan`` of an install that would be refused exits 1, after showing the plan.

A CI job or a Makefile checks ``install --plan`` before the real install; with a local configuration that
names a database on another machine the plan ended with status 0 (only "current: not measured"), and the
install then refused. The refusals that need no database connection (another machine's database, a dump of
another engine) now end the plan in the install's own one line, exit status 1, with nothing changed.
"""

from __future__ import annotations

import subprocess
import sys

from test_install_journal import Scene, assert_as_before
from test_install_journal import scene_fixture as scene_fixture  # the fixture, by its name


def plan(scene: Scene, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "synco_core", "install", str(scene.received), "--project",
                           str(scene.project), "--plan", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120, check=False)


def point_at(scene: Scene, url: str) -> None:
    config = scene.project / ".synco.yml"
    config.write_text(config.read_text().replace(f"sqlite:///{scene.database}", url))
    scene.before = scene.tree()


def one_error(proc: subprocess.CompletedProcess[str]) -> str:
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert proc.returncode == 1 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return errors[0]


def test_a_plan_the_install_would_carry_out_exits_0(scene: Scene) -> None:
    proc = plan(scene)
    assert proc.returncode == 0, proc.stderr
    assert_as_before(scene)


def test_a_plan_into_another_machines_database_exits_1(scene: Scene) -> None:
    point_at(scene, "mysql://app:pw@db.example.invalid:3306/app")
    for args in ((), ("--json",)):
        proc = plan(scene, *args)
        assert "not on this machine" in one_error(proc), proc.stderr
        assert "db.example.invalid" in proc.stdout  # the plan itself is shown first
    assert_as_before(scene)


def test_a_plan_of_another_engines_dump_exits_1(scene: Scene) -> None:
    point_at(scene, "mysql://app:pw@127.0.0.1:3306/app")
    proc = plan(scene)
    assert one_error(proc), proc.stderr
    assert_as_before(scene)
