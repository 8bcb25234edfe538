"""The plugin guide's example, docs/examples/synco-hugo, works as a real third-party distribution.

It is built and installed with pip into a throw-away virtual environment (offline: no index, no build
isolation), and that environment's synco must list it and call its hooks. Its own test suite, which subclasses
the contract classes of :mod:`synco_core.testing`, runs there too.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from synco_core.testing.services import unavailable

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "synco-hugo"
SYNCO = "from synco_core.cli.main import main; main()"

pytestmark = pytest.mark.slow


def _can_build_wheels() -> bool:
    """True when this interpreter's setuptools can build a wheel without build isolation (pip needs one)."""
    try:
        from setuptools.command import bdist_wheel  # noqa: F401  (built in since setuptools 70.1)
    except ImportError:
        return importlib.util.find_spec("wheel") is not None and importlib.util.find_spec("setuptools") is not None
    return True


def _parent_site_dirs() -> list[str]:
    """The site directories of this interpreter, where synco (maybe editable) and its dependencies live."""
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        dirs.append(site.getusersitepackages())
    return [d for d in dirs if os.path.isdir(d)]


@pytest.fixture(scope="module")
def hugo_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment that sees this interpreter's packages and has synco-hugo installed in it.

    ``--system-site-packages`` alone would expose the *base* interpreter's packages; when the tests run inside
    a nox or tox environment, synco lives in that environment instead. A ``.pth`` line adds this interpreter's
    site directories with :func:`site.addsitedir`, which also runs their ``.pth`` files (editable installs).
    """
    if not _can_build_wheels():
        unavailable("building synco-hugo needs setuptools>=70.1 or the wheel package (the test extra has them)")
    base = tmp_path_factory.mktemp("hugo-venv")
    env_dir = base / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    dirs = _parent_site_dirs()
    # A .pth line may only import; the module does the work (site runs .pth lines with exec, where a
    # comprehension cannot see the names the line imported).
    (Path(purelib) / "_synco_parent_site.py").write_text(
        "import site\nimport sys\n\n"
        f"for d in {dirs!r}:\n    if d not in sys.path:\n        site.addsitedir(d)\n"
    )
    (Path(purelib) / "_synco_parent_site.pth").write_text("import _synco_parent_site\n")
    # Build from a copy: pip writes build metadata next to the sources, and the docs tree stays clean.
    source = base / "synco-hugo"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build", ".*"))
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "-q", str(source)],
        capture_output=True, text=True, check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    return env_dir


def synco(env_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(env_dir / "bin" / "python"), "-c", SYNCO, *args], capture_output=True, text=True,
                          check=False, cwd=env_dir.parent)


def make_site(base: Path) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    (base / "hugo.toml").write_text('baseURL = "https://example.org/"\npublishDir = "public"\n')
    (base / "content").mkdir()
    (base / "content/_index.md").write_text("# Home\n")
    (base / "static/uploads").mkdir(parents=True)
    (base / "static/uploads/logo.png").write_bytes(b"\x89PNG fake")
    return base


def test_not_installed_in_this_environment() -> None:
    """The checks below mean something only if synco-hugo is not importable here already."""
    code = "import importlib.util, sys; sys.exit(importlib.util.find_spec('synco_hugo') is not None)"
    assert subprocess.run([sys.executable, "-c", code], check=False, cwd="/").returncode == 0


@pytest.mark.hook("detect_framework")
def test_plugins_lists_hugo(hugo_venv: Path) -> None:
    result = synco(hugo_venv, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    hugo = {p["name"]: p for p in data["plugins"]}["hugo"]
    assert hugo["distribution"] == "synco-hugo"
    assert hugo["version"] == "0.1.0"
    assert hugo["builtin"] is False
    assert hugo["hooks"] == ["detect_framework", "list_file_sets"]
    assert "hugo" not in {f["name"] for f in data["failed"]}


@pytest.mark.hook("list_file_sets")
def test_detect_uses_hugo(hugo_venv: Path, tmp_path: Path) -> None:
    site_dir = make_site(tmp_path / "site")
    result = synco(hugo_venv, "detect", "--json", "--framework", "hugo", str(site_dir))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["framework"], data["plugin"]) == ("Hugo", "hugo")
    assert data["reason"] == "hugo.toml and content/ found"
    assert data["webRoot"] == str(site_dir.resolve() / "public")
    assert data["database"] is None
    [static] = [s for s in data["fileSets"] if s["name"] == "static"]
    assert (static["kind"], static["relativeBasePath"]) == ("public", "static")


def test_example_own_tests_pass(hugo_venv: Path) -> None:
    """The example's tests (the contract subclass) pass against the installed distribution."""
    copy = hugo_venv.parent / "synco-hugo"
    result = subprocess.run(
        [str(hugo_venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        capture_output=True, text=True, check=False, cwd=copy,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
