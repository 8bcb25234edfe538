"""Reading a Rails application's database and Active Storage configuration for one environment.

Two ways, tried in this order:

- ``bin/rails runner`` printing ``ActiveRecord::Base.configurations`` (the environment's database
  configurations, URLs already merged) and the Active Storage settings as JSON, when Ruby is found
  (``$RUBY``, then ``ruby`` on ``PATH``) and the application boots with it (its bundle installed);
- otherwise ``config/database.yml`` and ``config/storage.yml`` with their ERB rendered by
  :mod:`synco_rails.erb`, YAML anchors and ``<<:`` merges resolved, and ``DATABASE_URL`` /
  ``<NAME>_DATABASE_URL`` merged as Rails merges them (see :func:`environment_configs`).

The environment is ``RAILS_ENV`` (or ``RACK_ENV``); unset, it is ``production`` on the source (the server)
and ``development`` on the destination (the laptop), as ``rails server`` there would run.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from synco_core import ConfigError, error_line, mask_url_passwords, read_config_text, register_secret, run_command
from synco_rails.databases import UNREADABLE
from synco_rails.erb import Context, render, unknown_in

log = logging.getLogger(__name__)

#: Seconds ``bin/rails runner`` may take: it boots the whole application.
RUNNER_TIMEOUT = 120.0
#: Printed before the JSON, so whatever the application prints while booting cannot confuse the parser.
MARKER = "SYNCO-RAILS-CONFIG:"

#: What ``bin/rails runner`` runs (``runner.rb`` beside this module, passed as the code argument so that
#: nothing is written into the application). Replicas and configurations hidden from database tasks are
#: left out, as ``configs_for`` does; the file says which Rails versions each branch serves.
RUNNER_CODE = (resources.files("synco_rails") / "runner.rb").read_text(encoding="utf-8")

#: A URL's password where a message quotes the URL (``scheme://user:password@``): Ruby's URI errors do.

#: ``config.active_storage.service = <value>`` in ``config/environments/<env>.rb`` or ``config/application.rb``.
_SERVICE = re.compile(r"^[ \t]*config\.active_storage\.service[ \t]*=[ \t]*(.*?)[ \t]*$", re.M)
#: The value as a literal: ``:local``, ``"local"``, ``'local'`` (a comment may follow).
_SERVICE_NAME = re.compile(r"""(?::(\w+)|"(\w+)"|'(\w+)')(?:[ \t]*#.*)?""")


@dataclass
class RailsConfig:
    """What synco needs of an application's configuration, however it was read."""

    rails_env: str
    #: The environment's database configurations in order (name, settings), replicas left out; each
    #: settings dict may hold a ``url``, merged over the rest by :func:`synco_rails.databases.database_config`.
    databases: list[tuple[str, dict[str, Any]]]
    #: The Active Storage service of this environment, and ``config/storage.yml``'s services.
    storage_service: str | None
    storage: dict[str, Any]
    #: ``runner`` when ``bin/rails runner`` answered, ``files`` when the files were read.
    source: str
    notes: list[str] = field(default_factory=list)


def rails_environment(environ: Mapping[str, str], side: str) -> str:
    """``RAILS_ENV`` or ``RACK_ENV``; else ``production`` on the source and ``development`` on the destination."""
    return environ.get("RAILS_ENV") or environ.get("RACK_ENV") or ("production" if side == "source" else "development")


def find_ruby(environ: Mapping[str, str]) -> str | None:
    """``$RUBY`` (a path or a command name), then ``ruby`` on ``PATH``; nothing is executed."""
    for name in (environ.get("RUBY"), "ruby"):
        if name:
            found = shutil.which(name, path=environ.get("PATH"))
            if found:
                return found
    return None


def register_url_passwords(environ: Mapping[str, str]) -> None:
    """Hide the passwords of ``DATABASE_URL`` and ``<NAME>_DATABASE_URL`` before Ruby sees them: Rails
    quotes a URL it cannot parse in its error, and that error is logged."""
    for name, value in environ.items():
        if name == "DATABASE_URL" or name.endswith("_DATABASE_URL"):
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                register_secret(password)
                register_secret(unquote(password))



def read_config(project_dir: Path, side: str, environ: Mapping[str, str] | None = None) -> RailsConfig:
    """The application's configuration: from ``bin/rails runner`` when Ruby works, else from the files."""
    env = dict(os.environ if environ is None else environ)
    rails_env = rails_environment(env, side)
    ruby = find_ruby(env)
    if ruby is not None:
        register_url_passwords(env)
        try:
            config = read_with_runner(project_dir, ruby, rails_env, env)
        except ConfigError as exc:
            # A host where the bundle is not installed for this user still has its configuration files.
            log.warning("bin/rails runner could not report the configuration (%s); reading config/database.yml "
                        "instead", mask_url_passwords(str(exc)))
        else:
            log.debug("Rails configuration (%s) read with %s bin/rails runner (config_source=runner)", rails_env, ruby)
            return config
    else:
        log.debug("no Ruby found; reading the Rails configuration (%s) from config/database.yml", rails_env)
    return read_from_files(project_dir, rails_env, env)


def read_with_runner(project_dir: Path, ruby: str, rails_env: str, environ: Mapping[str, str]) -> RailsConfig:
    """Ask the application itself: ``ruby bin/rails runner <code>`` in ``rails_env``.

    Spring is disabled: an application that has it would otherwise leave a preloader running in the
    background after synco has finished, and answer from it.
    """
    result = run_command([ruby, "bin/rails", "runner", RUNNER_CODE], cwd=project_dir, timeout=RUNNER_TIMEOUT,
                         env=environ, extra_env={"RAILS_ENV": rails_env, "DISABLE_SPRING": "1"})
    payload: Any = None
    for line in result.stdout.splitlines():
        if line.startswith(MARKER):
            try:
                payload = json.loads(line[len(MARKER):])
            except ValueError:
                payload = None
            break
    if not isinstance(payload, dict) or not isinstance(payload.get("databases"), list):
        raise ConfigError("bin/rails runner printed no configuration")
    databases = [(str(entry.get("name") or "primary"), dict(entry["config"]))
                 for entry in payload["databases"] if isinstance(entry, dict) and isinstance(entry.get("config"), dict)]
    storage = payload.get("storage")
    notes: list[str] = []
    if payload.get("storage_error"):
        log.warning("%s; Active Storage files are left out", payload["storage_error"])
        notes.append(str(payload["storage_error"]))
    return RailsConfig(
        rails_env=str(payload.get("env") or rails_env),
        databases=databases,
        storage_service=str(payload["storage_service"]) if payload.get("storage_service") else None,
        storage=storage if isinstance(storage, dict) else {},
        source="runner",
        notes=notes,
    )


def load_yaml_erb(path: Path, context: Context, project_dir: Path, unknown: list[str] | None = None) -> Any:
    """A Rails YAML configuration file with its ERB rendered; None when the file does not exist. ``unknown``:
    see :func:`synco_rails.erb.render`."""
    import yaml

    source = path.relative_to(project_dir).as_posix() if path.is_relative_to(project_dir) else str(path)
    try:
        # Bounded and never waiting on a pipe: a database.yml linked to /dev/zero is a one-line error.
        text = read_config_text(path, kind="YAML configuration file")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{source} is unreadable: {exc.strerror}") from None
    rendered = render(text, context, source, unknown)
    try:
        return yaml.safe_load(rendered)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        # The rendered text holds passwords: name the place, never quote it.
        raise ConfigError(f"{source}{where}: not valid YAML after its ERB was rendered "
                          f"({getattr(exc, 'problem', None) or type(exc).__name__})") from None


def environment_configs(data: Any, rails_env: str, environ: Mapping[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """The database configurations of ``rails_env`` as Rails builds them from ``database.yml`` and the
    environment.

    - An environment whose value is a mapping of mappings holds several databases by name (three-level
      configuration); otherwise it is the one database named ``primary``. A string is its URL.
    - A configuration with ``url`` keeps it: the URL's settings win over the others (merged later).
    - A configuration without one takes ``<NAME>_DATABASE_URL`` from the environment, and ``primary`` also
      ``DATABASE_URL``, which win over what the file says.
    - An environment the file does not have is ``DATABASE_URL`` alone, when it is set.
    - Replicas (``replica: true``) and configurations hidden from database tasks are left out.
    """
    section = data.get(rails_env) if isinstance(data, dict) else None
    configs: list[tuple[str, dict[str, Any]]] = []
    if isinstance(section, str):
        configs.append(("primary", {"url": section}))
    elif isinstance(section, dict) and section and all(isinstance(v, dict) for v in section.values()):
        configs.extend((str(name), dict(value)) for name, value in section.items())
    elif isinstance(section, dict):
        configs.append(("primary", dict(section)))
    if not configs and environ.get("DATABASE_URL"):
        configs.append(("primary", {"url": environ["DATABASE_URL"]}))
    merged = []
    for name, config in configs:
        if config.get("replica") is True or config.get("database_tasks") is False:
            continue
        if "url" not in config:
            url = environ.get(f"{name.upper()}_DATABASE_URL") or (environ.get("DATABASE_URL") if name == "primary"
                                                                    else None)
            if url:
                config = {**config, "url": url}
        merged.append((name, config))
    return merged


def storage_service(project_dir: Path, rails_env: str) -> str | None:
    """The Active Storage service the application sets: in ``config/environments/<env>.rb``, else in
    ``config/application.rb`` (which the environment file overrides), the last assignment of the file winning
    as in Ruby. One synco cannot read without Ruby (``ENV.fetch(...)``, a condition) is said in one line."""
    for relative in (f"config/environments/{rails_env}.rb", "config/application.rb"):
        try:
            text = read_config_text(project_dir / relative, kind="Rails configuration file", errors="replace")
        except (OSError, ConfigError):
            continue
        matches = list(_SERVICE.finditer(text))
        if not matches:
            continue
        value = matches[-1].group(1)
        literal = _SERVICE_NAME.fullmatch(value)
        if literal is not None:
            return next(name for name in literal.groups() if name)
        line = text.count("\n", 0, matches[-1].start()) + 1
        log.warning("%s line %d sets the Active Storage service in a way synco cannot read without Ruby (%s); its "
                    "files are left out", relative, line, value[:60])
        return None
    return None


def storage_file(project_dir: Path, rails_env: str) -> Path:
    """The services file Active Storage reads: ``config/storage/<env>.yml`` when it exists (Rails 6.1 and
    later), else ``config/storage.yml``."""
    specific = project_dir / "config" / "storage" / f"{rails_env}.yml"
    if "/" not in rails_env and specific.is_file():
        return specific
    return project_dir / "config" / "storage.yml"


def read_from_files(project_dir: Path, rails_env: str, environ: Mapping[str, str]) -> RailsConfig:
    """``config/database.yml`` and ``config/storage.yml`` rendered and merged as Rails would, without Ruby."""
    context = Context(environ=environ, root=project_dir, rails_env=rails_env)
    database_yml = project_dir / "config" / "database.yml"
    # A tag only Ruby evaluates (credentials) makes unusable only the databases whose settings hold it, after
    # DATABASE_URL merged over them (a password the URL gives replaces the credentials' one, as in Rails).
    unknown: list[str] = []
    data = load_yaml_erb(database_yml, context, project_dir, unknown)
    notes: list[str] = []
    if data is None and not database_yml.exists():
        notes.append("config/database.yml does not exist")
    elif data is not None and not isinstance(data, dict):
        # Rails fails on it too ("undefined method ... for String"); said here in one line.
        raise ConfigError(f"{database_yml}: expected a mapping of environments at the top level, found "
                          f"{type(data).__name__}")
    databases = environment_configs(data or {}, rails_env, environ)
    for index, (name, settings) in enumerate(databases):
        reason = unknown_in(settings, unknown)
        if reason is not None:
            databases[index] = (name, {**settings, UNREADABLE: unknown})
    if not databases:
        notes.append(f"config/database.yml has no {rails_env} database and DATABASE_URL is not set")
        if database_yml.exists():
            log.warning("Rails: config/database.yml has no %s database and DATABASE_URL is not set", rails_env)
    try:
        storage = load_yaml_erb(storage_file(project_dir, rails_env), context, project_dir)
    except ConfigError as exc:
        # The files are worth transferring even when the storage configuration cannot be read.
        log.warning("%s; Active Storage files are left out", error_line(exc))
        notes.append(str(exc))
        storage = None
    return RailsConfig(
        rails_env=rails_env,
        databases=databases,
        storage_service=storage_service(project_dir, rails_env),
        storage=storage if isinstance(storage, dict) else {},
        source="files",
        notes=notes,
    )
