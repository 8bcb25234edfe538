"""Resolving a Symfony project's environment variables the way ``Dotenv::bootEnv()`` does.

Order (the real environment always wins over every file):

1. ``.env.local.php`` (written by ``composer dump-env``) when it exists and its ``APP_ENV`` matches the real
   one (or none is set): it is then the only file read;
2. otherwise ``.env`` (or ``.env.dist`` when there is no ``.env``), then ``.env.local`` (except in the
   ``test`` environment), then ``.env.<APP_ENV>`` and ``.env.<APP_ENV>.local``, later files overriding
   earlier ones, with ``${VAR}`` expansion and Symfony's quoting rules (parsed by
   :mod:`synco_core.frameworkutil.dotenv`).

With PHP, ``bin/console debug:dotenv`` shows what the application itself resolved; :func:`confirm_with_php`
reads one variable from it, so the console stays the source of truth where it can run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synco_core import ConfigError, PhpUnknown, load_dotenv_files, read_php_config, run_command

log = logging.getLogger(__name__)

#: ``debug:dotenv`` boots the kernel; a cold cache on a slow disk takes a while.
CONSOLE_TIMEOUT = 60.0

#: Environments in which ``.env.local`` is not read (Symfony's ``$testEnvs``).
TEST_ENVS = ("test",)


@dataclass
class SymfonyEnv:
    """The resolved variables and where they came from."""

    values: dict[str, str]
    app_env: str
    #: The files read, in order (``.env``, ``.env.dev`` ... or ``.env.local.php``).
    files: list[str] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def read_dumped_env(path: Path, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The array ``.env.local.php`` returns (``composer dump-env`` writes it with ``var_export()``), read with
    synco's PHP configuration reader; a ConfigError when it returns anything else or a value that only PHP
    could compute, so a file that really needs PHP is never misread."""
    value = read_php_config(path, environ=environ).returned
    if not isinstance(value, dict):
        raise ConfigError(f"{path} does not return an array")
    for key, item in value.items():
        if isinstance(item, (PhpUnknown, dict)):
            reason = item.reason if isinstance(item, PhpUnknown) else "a nested array"
            raise ConfigError(f"{path}: {key} is not a plain value ({reason}): not a plain PHP array")
    return {str(k): v for k, v in value.items()}


def resolve_env(project_dir: Path, environ: Mapping[str, str] | None = None) -> SymfonyEnv:
    """Every variable the application sees (real environment plus the dotenv files)."""
    env = dict(os.environ if environ is None else environ)
    dumped_file = project_dir / ".env.local.php"
    if dumped_file.is_file():
        dumped = read_dumped_env(dumped_file, env)
        dumped_env = dumped.get("APP_ENV")
        if "APP_ENV" not in env or dumped_env is None or env["APP_ENV"] == dumped_env:
            values = {str(k): "" if v is None else str(v) for k, v in dumped.items()}
            values.update(env)
            return SymfonyEnv(values=values, app_env=values.get("APP_ENV") or "dev", files=[".env.local.php"])
        log.debug(".env.local.php is for APP_ENV=%s but the environment says %s; reading .env files", dumped_env,
                  env["APP_ENV"])
    base = project_dir / ".env"
    if not base.is_file() and (project_dir / ".env.dist").is_file():
        base = project_dir / ".env.dist"
    files = [base]
    app_env = env.get("APP_ENV") or load_dotenv_files(files, environ=env).get("APP_ENV") or "dev"
    if app_env not in TEST_ENVS:
        files.append(project_dir / ".env.local")
        app_env = env.get("APP_ENV") or load_dotenv_files(files, environ=env).get("APP_ENV") or app_env
    if app_env != "local":
        files += [project_dir / f".env.{app_env}", project_dir / f".env.{app_env}.local"]
    values = dict(env)
    values.update(load_dotenv_files(files, environ=env))
    return SymfonyEnv(values=values, app_env=app_env, files=[f.name for f in files if f.is_file()])


def confirm_with_php(project_dir: Path, php: str, name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value ``bin/console debug:dotenv`` reports for ``name``, or None when it cannot say.

    ``debug:dotenv`` only lists variables the dotenv files defined (one set in the real environment is
    not shown; the file reading already has it right) and only exists where ``symfony/dotenv`` is
    installed, usually not on production hosts. Its table has the name, then the effective value, then
    one column per file; URLs contain no spaces, so splitting on whitespace is safe for them.
    """
    try:
        result = run_command([php, "bin/console", "debug:dotenv", "--no-ansi"], cwd=project_dir,
                             timeout=CONSOLE_TIMEOUT, env=environ)
    except ConfigError as exc:
        log.debug("bin/console debug:dotenv unavailable (%s)", exc)
        return None
    for line in result.stdout.splitlines():
        cells = line.split()
        if len(cells) >= 2 and cells[0] == name:
            return cells[1]
    log.debug("bin/console debug:dotenv does not list %s", name)
    return None
