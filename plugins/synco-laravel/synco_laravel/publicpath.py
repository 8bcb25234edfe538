"""Where a Laravel application's public folder is, read without PHP.

Laravel's ``public_path()`` is ``<project>/public`` unless the application moves it, as shared hosts make it
do (their web server serves ``public_html``): ``$app->usePublicPath(...)`` (Laravel 10 and later), or the
container binding ``path.public`` (``$app->bind('path.public', fn () => base_path('public_html'))``, also
``singleton`` / ``instance``), in ``bootstrap/app.php``, in ``app/Providers/AppServiceProvider.php`` (through
``$this->app``), or in the front controller a folder of the project serves (``public_html/index.php``,
``$app->usePublicPath(__DIR__)``). Such a call is found in the text and its argument (a closure's returned
expression) evaluated by synco's PHP reader with Laravel's path helpers: ``base_path('public_html')``,
``__DIR__.'/../public_html'``, ``realpath(...)``, ``dirname(__DIR__)``. A call whose argument only PHP could
work out is named in one line, never taken silently for ``public/``.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from synco_core import ConfigError, PhpUnknown, parse_php_config, read_config_text
from synco_laravel.configfiles import path_helpers

log = logging.getLogger(__name__)

#: ``->usePublicPath(`` and ``->bind('path.public',`` (``singleton``, ``instance`` alike).
_CALL = re.compile(r"->\s*(?:usePublicPath\s*\(|(?:bind|singleton|instance)\s*\(\s*(['\"])path\.public\1\s*,)")
#: A closure whose body returns one expression: ``function () { return X; }`` or ``fn () => X``.
_FUNCTION = re.compile(r"^(?:static\s+)?function\s*\([^)]*\)\s*(?:use\s*\([^)]*\)\s*)?(?::\s*[\w\\?]+\s*)?"
                       r"\{\s*return\s+(.*?);?\s*\}$", re.S)
_ARROW = re.compile(r"^(?:static\s+)?fn\s*\([^)]*\)\s*(?::\s*[\w\\?]+\s*)?=>\s*(.*)$", re.S)


@dataclass(frozen=True)
class PublicPath:
    """The moved public folder (None when it cannot be worked out), and where the move was found."""

    path: Path | None
    where: str
    why: str = ""


def _argument(text: str, start: int) -> str | None:
    """The text of the call's argument starting at ``start`` (up to its closing parenthesis), quotes and
    nested brackets respected; None when the call is not closed."""
    depth, index, quote = 0, start, ""
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                return text[start:index].strip()
            depth -= 1
        elif char == "," and depth == 0:
            return text[start:index].strip()
        index += 1
    return None


def _comments_blanked(text: str) -> str:
    """``text`` with PHP comments replaced by spaces (offsets kept), so a commented-out move is not one."""
    return re.sub(r"//[^\n]*|#[^\n\[]*|/\*.*?\*/", lambda m: " " * len(m.group()), text, flags=re.S)


def _evaluate(expression: str, file: Path, project_dir: Path) -> Path | str:
    """The folder ``expression`` names, or why it cannot be worked out."""
    closure = _FUNCTION.match(expression) or _ARROW.match(expression)
    if closure is not None:
        expression = closure.group(1).strip()
    variable = re.search(r"\$\w+", expression)
    if variable is not None:
        # Read alone, outside the code that sets it, a variable would be PHP's null (an empty path).
        return f"it uses the variable {variable.group()}"
    try:
        value = parse_php_config(f"<?php return {expression};", source=str(file), path=file,
                                 functions=path_helpers(project_dir), environ={}).returned
    except ConfigError as exc:
        return str(exc)
    if isinstance(value, PhpUnknown):
        return value.reason
    if not isinstance(value, str) or not value:
        return "it is not a path"
    path = Path(value)
    return Path(os.path.normpath(path if path.is_absolute() else project_dir / path))


def _front_controllers(project_dir: Path) -> list[Path]:
    """``index.php`` of the project's folders other than ``public/`` that boot this application."""
    found: list[Path] = []
    try:
        folders = sorted(child for child in project_dir.iterdir() if child.is_dir() and not child.is_symlink())
    except OSError:
        return found
    for folder in folders:
        index = folder / "index.php"
        if folder.name not in ("public", "vendor", "storage", "node_modules") and index.is_file():
            found.append(index)
    return found


def moved_public_path(project_dir: Path) -> PublicPath | None:
    """Where the application moved its public folder, or None when nothing moves it (``public/``)."""
    # In the order they run: bootstrap/app.php, the front controller, then the providers (registered when the
    # request is handled); the last move wins, as in Laravel.
    files = [project_dir / "bootstrap" / "app.php", *_front_controllers(project_dir),
             project_dir / "app" / "Providers" / "AppServiceProvider.php"]
    found: PublicPath | None = None
    for file in files:
        if not file.is_file():
            continue
        try:
            text = _comments_blanked(read_config_text(file, kind="Laravel file", errors="replace"))
        except ConfigError as exc:
            log.warning("%s cannot be read (%s); whether it moves the public folder is not known", file, exc)
            continue
        if file.name == "index.php" and "bootstrap/app.php" not in text:
            continue
        for match in _CALL.finditer(text):
            where = f"{file.relative_to(project_dir).as_posix()} line {text.count(chr(10), 0, match.start()) + 1}"
            argument = _argument(text, match.end())
            result = _evaluate(argument, file, project_dir) if argument else "the call is not closed"
            found = PublicPath(result, where) if isinstance(result, Path) else PublicPath(None, where, result)
    return found
