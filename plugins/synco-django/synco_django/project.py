"""Recognising a Django project: ``manage.py`` beside a settings module, and which module that is.

The settings module is what ``DJANGO_SETTINGS_MODULE`` names when it is set (production hosts usually set
it in the service's environment) or when the project's ``.env`` sets it; otherwise it is the default the
project's own entry points give it (``os.environ.setdefault("DJANGO_SETTINGS_MODULE", ...)``), then what
``pyproject.toml`` tells pytest-django or django-stubs. Which entry point counts first depends on the
side: on the source it is ``wsgi.py`` / ``asgi.py``, what the production server runs (cookiecutter-django's
point at ``config.settings.production`` while ``manage.py`` says ``config.settings.local``); on the
destination it is ``manage.py``, what the developer runs. A module counts only when
its file is there (``mysite/settings.py`` or the package ``mysite/settings/``), in the project directory
or its ``src/`` folder.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from synco_core import read_config_text

#: The folders a settings module is looked for in, below the project directory (``src/`` layouts).
SOURCE_ROOTS = ("", "src")

_MODULE = r"([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)"
#: ``os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")`` and the assignment form.
_SETDEFAULT = re.compile(
    r"""environ(?:\.setdefault\(\s*|\[\s*)["']DJANGO_SETTINGS_MODULE["']\s*(?:,|\]\s*=)\s*["']""" + _MODULE + "[\"']")
#: pytest-django's ``DJANGO_SETTINGS_MODULE = "..."`` and django-stubs' ``django_settings_module = "..."``.
_PYPROJECT = re.compile(r"""^\s*(?:DJANGO_SETTINGS_MODULE|django_settings_module)\s*=\s*["']""" + _MODULE + "[\"']",
                        re.M)


@dataclass(frozen=True)
class SettingsModule:
    """The project's settings module, where its file is, and where its name came from."""

    name: str
    path: Path
    #: Where the name came from: ``$DJANGO_SETTINGS_MODULE``, ``manage.py``, ``mysite/wsgi.py`` ...
    source: str
    #: The folder on ``sys.path`` for it (the project directory, or its ``src/``).
    root: Path


def _read(path: Path) -> str:
    """``path`` as text, or "" when it cannot be read; one too large, a device or a silent pipe is an error."""
    try:
        return read_config_text(path, kind="Python file", errors="replace")
    except OSError:
        return ""


def _without_comments(text: str) -> str:
    """Python source with its comments blanked: a commented-out line (Django 1.x's wsgi.py template kept
    ``# os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"`` above the real setdefault) names no module.
    Source tokenize cannot read loses the text after a ``#`` on each line instead."""
    lines = text.splitlines(keepends=True)
    try:
        comments = [token.start for token in tokenize.generate_tokens(io.StringIO(text).readline)
                    if token.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError, ValueError):
        return "".join(line.split("#", 1)[0] + ("\n" if line.endswith("\n") else "") for line in lines)
    for row, column in comments:
        line = lines[row - 1]
        lines[row - 1] = line[:column] + ("\n" if line.endswith("\n") else "")
    return "".join(lines)


def module_file(project_dir: Path, name: str) -> tuple[Path, Path] | None:
    """``(file, root)`` of the module ``name`` below the project (a ``.py`` file or a package), or None."""
    parts = name.split(".")
    for folder in SOURCE_ROOTS:
        root = project_dir / folder if folder else project_dir
        base = root.joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate, root
    return None


def _entry_points(project_dir: Path, side: str) -> list[Path]:
    """The server's ``wsgi.py`` / ``asgi.py`` (sorted, so the answer is stable) and ``manage.py``, in the
    order that counts on ``side``."""
    servers = [path for folder in SOURCE_ROOTS for name in ("wsgi.py", "asgi.py")
               for path in sorted((project_dir / folder if folder else project_dir).glob(f"*/{name}"))]
    manage = [project_dir / "manage.py"]
    return servers + manage if side == "source" else manage + servers


def named_modules(project_dir: Path, environ: Mapping[str, str], side: str = "source",
                  dotenv: Mapping[str, str] | None = None) -> Iterator[tuple[str, str]]:
    """Every ``(module name, where it was named)`` in order of precedence; ``dotenv`` holds the variables of
    the project's ``.env``."""
    for variables, label in ((environ, "$DJANGO_SETTINGS_MODULE"), (dotenv or {}, ".env")):
        # A .env that sets it is loaded before the entry points' setdefault runs (load_dotenv() at the top
        # of manage.py / wsgi.py, a process manager's EnvironmentFile), so it wins over their default.
        named = variables.get("DJANGO_SETTINGS_MODULE", "").strip()
        if named:
            yield named, label
    for path in _entry_points(project_dir, side):
        match = _SETDEFAULT.search(_without_comments(_read(path)))
        if match:
            yield match.group(1), path.relative_to(project_dir).as_posix()
    match = _PYPROJECT.search(_read(project_dir / "pyproject.toml"))
    if match:
        yield match.group(1), "pyproject.toml"


def find_settings_module(project_dir: Path, environ: Mapping[str, str], side: str = "source",
                         dotenv: Mapping[str, str] | None = None) -> SettingsModule | None:
    """The first named settings module whose file exists, or None (then this is not a Django project)."""
    for name, source in named_modules(project_dir, environ, side, dotenv):
        found = module_file(project_dir, name)
        if found is not None:
            return SettingsModule(name=name, path=found[0], source=source, root=found[1])
    return None


def is_django(project_dir: Path) -> bool:
    """Django's landmark: the ``manage.py`` script ``startproject`` writes."""
    return (project_dir / "manage.py").is_file()


def enclosing_project(folder: Path, environ: Mapping[str, str]) -> Path | None:
    """The nearest folder above ``folder`` that is a Django project (a settings package, an app folder or
    ``static/`` of a project is where a user may well run synco), or None."""
    for parent in folder.parents:
        if is_django(parent) and find_settings_module(parent, environ) is not None:
            return parent
    return None
