"""Finding the Python interpreters a Django project runs with: its virtual environment first.

Candidates, in order (each only when its ``python`` exists; nothing is executed here):

1. ``$VIRTUAL_ENV``: the environment activated in the shell that runs synco;
2. the project's own environment: ``$UV_PROJECT_ENVIRONMENT`` (uv), ``.venv`` (uv, Poetry in-project,
   ``python -m venv .venv``), ``venv``, ``env``, ``.virtualenv``: a folder with a ``pyvenv.cfg``;
3. Poetry's environment in its cache (``$POETRY_VIRTUALENVS_PATH``, else ``$POETRY_CACHE_DIR`` or
   ``~/.cache/pypoetry``, ``/virtualenvs/<name>-<hash>-py<X.Y>``, the hash being Poetry's of the
   project directory), and Pipenv's (``$WORKON_HOME`` or ``~/.local/share/virtualenvs``, the one whose
   ``.project`` file names the project);
4. ``python3`` and ``python`` on ``PATH`` (Docker images often install into the system Python).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

from synco_core import ConfigError, read_config_text

#: Folder names of in-project virtual environments, most common first.
VENV_FOLDERS = (".venv", "venv", "env", ".virtualenv")

_POETRY_NAME = re.compile(r"""^\[tool\.poetry\][^\[]*?^name\s*=\s*["']([^"']+)["']""", re.M | re.S)
_PROJECT_NAME = re.compile(r"""^\[project\][^\[]*?^name\s*=\s*["']([^"']+)["']""", re.M | re.S)


def venv_python(venv: Path) -> Path | None:
    """The interpreter of the virtual environment ``venv`` (POSIX or Windows layout), or None."""
    if not (venv / "pyvenv.cfg").is_file() and not (venv / "bin").is_dir():
        return None
    for relative in ("bin/python", "bin/python3", "Scripts/python.exe"):
        candidate = venv / relative
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def poetry_env_name(name: str, project_dir: Path) -> str:
    """Poetry's name for a project's environment without its ``-py<X.Y>`` suffix: the project name,
    lower-cased, some shell-special characters replaced, cut at 42, then 8 characters of the URL-safe
    base64 SHA-256 of the project's real path."""
    sanitized = re.sub(r'[ $`!*@"\\\r\n\t]', "_", name.lower())[:42]
    digest = hashlib.sha256(os.path.normcase(os.path.realpath(project_dir)).encode()).digest()
    return f"{sanitized}-{base64.urlsafe_b64encode(digest).decode()[:8]}"


def _poetry_envs(project_dir: Path, environ: Mapping[str, str]) -> Iterator[Path]:
    try:
        pyproject = read_config_text(project_dir / "pyproject.toml", kind="pyproject.toml file", errors="replace")
    except OSError:
        return
    match = _POETRY_NAME.search(pyproject) or _PROJECT_NAME.search(pyproject)
    if not match:
        return
    if environ.get("POETRY_VIRTUALENVS_PATH"):
        base = Path(environ["POETRY_VIRTUALENVS_PATH"])
    else:
        cache = environ.get("POETRY_CACHE_DIR") or str(Path(environ.get("HOME", "~")).expanduser() / ".cache/pypoetry")
        base = Path(cache) / "virtualenvs"
    prefix = poetry_env_name(match.group(1), project_dir) + "-py"
    try:
        found = sorted((p for p in base.iterdir() if p.name.startswith(prefix)), key=lambda p: p.name, reverse=True)
    except OSError:
        return
    yield from found


def _pipenv_envs(project_dir: Path, environ: Mapping[str, str]) -> Iterator[Path]:
    base = Path(environ.get("WORKON_HOME") or Path(environ.get("HOME", "~")).expanduser() / ".local/share/virtualenvs")
    real = os.path.realpath(project_dir)
    try:
        entries = sorted(base.iterdir())
    except OSError:
        return
    for venv in entries:
        try:
            named = read_config_text(venv / ".project", kind="Pipenv project file", errors="replace").strip()
        except (OSError, ConfigError):
            # Another project's environment, outside this one: whatever is wrong with it is not this
            # project's error, so it is passed over.
            continue
        if os.path.realpath(named) == real:
            yield venv


def candidates(project_dir: Path, environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """``(interpreter, what it is)`` for each Python the project may run with, best first, without repeats."""
    env = os.environ if environ is None else environ
    venvs: list[tuple[Path, str]] = []
    if env.get("VIRTUAL_ENV"):
        venvs.append((Path(env["VIRTUAL_ENV"]), "$VIRTUAL_ENV"))
    if env.get("UV_PROJECT_ENVIRONMENT"):
        venvs.append((project_dir / env["UV_PROJECT_ENVIRONMENT"], "$UV_PROJECT_ENVIRONMENT"))
    venvs += [(project_dir / name, name) for name in VENV_FOLDERS]
    venvs += [(venv, "Poetry's environment") for venv in _poetry_envs(project_dir, env)]
    venvs += [(venv, "Pipenv's environment") for venv in _pipenv_envs(project_dir, env)]
    found: dict[str, str] = {}
    for venv, label in venvs:
        python = venv_python(venv)
        if python is not None:
            found.setdefault(str(python), label)
    for name in ("python3", "python"):
        python_on_path = shutil.which(name, path=env.get("PATH"))
        if python_on_path:
            found.setdefault(python_on_path, f"{name} on PATH")
    return list(found.items())
