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

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synco_core import (
    ConfigError,
    PhpUnknown,
    load_dotenv_files,
    platform_endpoint_parts,
    platform_in_runtime,
    platform_relationship,
    read_config_text,
    read_php_config,
    run_command,
)

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


@dataclass(frozen=True)
class RuntimeOptions:
    """The options of ``symfony/runtime`` that decide which dotenv files the application loads, from
    ``extra.runtime`` in ``composer.json`` (the Runtime component's documented place for them)."""

    #: The dotenv file's path from the project (``config/.env``); ``.local``, ``.<env>`` ... are added to it.
    dotenv_path: str = ".env"
    #: The variable that names the environment (``APP_ENV``).
    env_var_name: str = "APP_ENV"
    #: Environments in which ``<dotenv_path>.local`` is not read.
    test_envs: tuple[str, ...] = TEST_ENVS
    #: The files win over the real environment.
    dotenv_overload: bool = False
    #: No dotenv file is read at all.
    disable_dotenv: bool = False


def runtime_options(project_dir: Path) -> RuntimeOptions:
    """``extra.runtime`` of the project's ``composer.json``; the defaults when there is none. A value of the
    wrong type is an error naming it: read as the default, another file would be read than the application's."""
    try:
        composer = json.loads(read_config_text(project_dir / "composer.json", kind="composer.json file"))
    except FileNotFoundError:
        return RuntimeOptions()
    except (OSError, ValueError):
        # The application's autoloader was generated from it: unreadable here, it says nothing about the runtime.
        return RuntimeOptions()
    extra = composer.get("extra") if isinstance(composer, dict) else None
    runtime = extra.get("runtime") if isinstance(extra, dict) else None
    if not isinstance(runtime, dict):
        return RuntimeOptions()

    def text(name: str, default: str) -> str:
        value = runtime.get(name, default)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"composer.json: extra.runtime.{name} is not a non-empty string")
        return value

    def flag(name: str) -> bool:
        value = runtime.get(name, False)
        if not isinstance(value, bool):
            raise ConfigError(f"composer.json: extra.runtime.{name} is not true or false")
        return value

    test_envs = runtime.get("test_envs", list(TEST_ENVS))
    # PHP's (array) cast: one name is a list of one.
    test_envs = [test_envs] if isinstance(test_envs, str) else test_envs
    if not isinstance(test_envs, list) or not all(isinstance(item, str) for item in test_envs):
        raise ConfigError("composer.json: extra.runtime.test_envs is not a list of names")
    return RuntimeOptions(dotenv_path=text("dotenv_path", ".env"), env_var_name=text("env_var_name", "APP_ENV"),
                          test_envs=tuple(test_envs), dotenv_overload=flag("dotenv_overload"),
                          disable_dotenv=flag("disable_dotenv"))


#: Platform.sh's bridge for Symfony: Composer's autoloader runs it before the runtime loads any dotenv file.
FLEX_BRIDGE = "platformsh/symfonyflex-bridge"


def _uses_flex_bridge(project_dir: Path) -> bool:
    if (project_dir / "vendor" / FLEX_BRIDGE).is_dir():
        return True
    try:
        composer = json.loads(read_config_text(project_dir / "composer.json", kind="composer.json file"))
    except (OSError, ValueError):
        return False
    require = composer.get("require") if isinstance(composer, dict) else None
    return isinstance(require, dict) and FLEX_BRIDGE in require


def platform_bridge_environment(project_dir: Path, env: Mapping[str, str]) -> dict[str, str]:
    """The environment after ``platformsh/symfonyflex-bridge`` ran, when the project uses it and runs on
    Platform.sh (:func:`synco_core.platform_in_runtime`): ``APP_ENV`` is ``prod`` unless set, and
    ``DATABASE_URL`` is the relationship named ``database``, over whatever the environment and the dotenv
    files say, as the bridge sets it before they are read. Elsewhere ``env`` is returned as it is."""
    if not platform_in_runtime(env) or not _uses_flex_bridge(project_dir):
        return dict(env)
    result = {**env, "APP_ENV": env.get("APP_ENV") or "prod"}
    endpoint = platform_relationship(env, "database")
    if endpoint is None:
        return result
    scheme, user, password, host, port, path = platform_endpoint_parts(
        endpoint, "database", ("scheme", "username", "password", "host", "port", "path"))
    # The bridge's doctrine formatter, which writes the parts as they are (serverVersion aside).
    result["DATABASE_URL"] = f"{scheme}://{user}:{password}@{host}:{port}/{path}" + (
        "?charset=utf8mb4" if scheme == "mysql" else "")
    return result


def resolve_env(project_dir: Path, environ: Mapping[str, str] | None = None) -> SymfonyEnv:
    """Every variable the application sees (real environment plus the dotenv files), as ``SymfonyRuntime``
    boots them with the project's runtime options (:func:`runtime_options`), after Platform.sh's bridge
    (:func:`platform_bridge_environment`)."""
    env = platform_bridge_environment(project_dir, dict(os.environ if environ is None else environ))
    options = runtime_options(project_dir)
    key = options.env_var_name
    if options.disable_dotenv:
        return SymfonyEnv(values=env, app_env=env.get(key) or "dev", files=[])
    base = project_dir / options.dotenv_path
    overload = options.dotenv_overload
    dumped_file = base.with_name(base.name + ".local.php")
    if dumped_file.is_file():
        dumped = read_dumped_env(dumped_file, env)
        dumped_env = dumped.get(key)
        if overload or key not in env or dumped_env is None or env[key] == dumped_env:
            values = {str(k): "" if v is None else str(v) for k, v in dumped.items()}
            if overload:
                values = {**env, **values}
            else:
                values.update(env)
            return SymfonyEnv(values=values, app_env=values.get(key) or "dev", files=[_shown(project_dir, dumped_file)])
        log.debug("%s is for %s=%s but the environment says %s; reading .env files", dumped_file.name, key,
                  dumped_env, env[key])
    if not base.is_file() and base.with_name(base.name + ".dist").is_file():
        base = base.with_name(base.name + ".dist")
    files = [base]

    def current(default: str) -> str:
        # The environment's name once the files so far are loaded: the real one wins unless they overload it.
        loaded = load_dotenv_files(files, environ=env, override_environment=overload)
        return (loaded.get(key) or env.get(key) or default) if overload else (env.get(key) or loaded.get(key)
                                                                               or default)

    app_env = current("dev")
    if app_env not in options.test_envs:
        files.append(base.with_name(base.name + ".local"))
        app_env = current(app_env)
    if app_env != "local":
        files += [base.with_name(f"{base.name}.{app_env}"), base.with_name(f"{base.name}.{app_env}.local")]
    values = dict(env)
    values.update(load_dotenv_files(files, environ=env, override_environment=overload))
    return SymfonyEnv(values=values, app_env=app_env, files=[_shown(project_dir, f) for f in files if f.is_file()])


def _shown(project_dir: Path, path: Path) -> str:
    """A dotenv file as ``detect`` names it: from the project (``.env.local``, ``config/.env``)."""
    return path.relative_to(project_dir).as_posix() if path.is_relative_to(project_dir) else str(path)


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
