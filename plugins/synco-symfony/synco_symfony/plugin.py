"""The hook implementations of synco-symfony (entry point ``symfony`` in the ``synco`` group)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from synco_core import (
    ConfigError,
    DatabaseInventory,
    DumpOptions,
    FileSet,
    FileSetOptions,
    FilesInstallResult,
    Framework,
    ReceivedFileSet,
    find_php,
    glob_escape,
    hookimpl,
    install_tree,
    read_config_text,
    register_secret,
)
from synco_symfony.doctrine import Resolver, connection_config, container_parameters, dbal_connections
from synco_symfony.env import SymfonyEnv, confirm_with_php, resolve_env
from synco_symfony.files import default_upload_set, liip_cache_dirs, vich_file_sets
from synco_symfony.sanitize import sanitize_profile
from synco_symfony.site import site_url

log = logging.getLogger(__name__)

PLUGIN = "symfony"


def is_symfony(project_dir: Path) -> bool:
    """Symfony's two landmarks: the ``bin/console`` script and ``config/bundles.php``."""
    return (project_dir / "bin" / "console").is_file() and (project_dir / "config" / "bundles.php").is_file()


def _resolver(project_dir: Path, env: SymfonyEnv) -> Resolver:
    parameters: dict[str, Any] = {
        **container_parameters(project_dir, env.app_env),
        "kernel.project_dir": str(project_dir),
        "kernel.environment": env.app_env,
        "kernel.cache_dir": str(project_dir / "var" / "cache" / env.app_env),
        "kernel.logs_dir": str(project_dir / "var" / "log"),
    }
    # A relative %env(file:...)% path: the console runs in the project directory.
    return Resolver(env.get, parameters, base_dir=project_dir)


def _symfony_version(project_dir: Path) -> str:
    """The major.minor the project requires (``7.1``), from composer.json, or '' when unknown."""
    try:
        composer = json.loads(read_config_text(project_dir / "composer.json", kind="composer.json file",
                                               errors="replace"))
    except (OSError, ValueError):
        return ""
    require = composer.get("require") or {}
    constraint = str(require.get("symfony/framework-bundle") or require.get("symfony/console") or "")
    found = re.search(r"(\d+)\.(\d+|\*)", constraint) or re.search(r"(\d+)", constraint)
    return found.group(0).rstrip(".*") if found else ""


def _explain_missing_database(project_dir: Path, env: SymfonyEnv, variable: str | None, default: str) -> None:
    """Say why the default connection has no database, in one line: its variable is kept in Symfony's secrets
    vault (encrypted: synco does not decrypt it), or is set nowhere although Doctrine is configured."""
    if variable and not env.get(variable):
        vault = project_dir / "config" / "secrets" / env.app_env
        if vault.is_dir() and any(vault.glob(f"{glob_escape(env.app_env)}.{glob_escape(variable)}.*.php")):
            log.warning("Symfony database connection %s: %s is kept in the secrets vault (%s), which synco does "
                        "not decrypt; set %s in the environment or .env.local, or give the database in .synco.yml "
                        "and pass --framework symfony (which keeps its sanitising)",
                        default, variable, vault, variable)
            return
        if (project_dir / "config" / "packages" / "doctrine.yaml").exists():
            log.warning("Symfony database connection %s: %s is not set (environment, %s)", default, variable,
                        ", ".join(env.files) or "no .env file")
            return
    log.debug("no database configured for the doctrine connection %s", default)


@hookimpl
def detect_framework(project_dir: Path) -> Framework | None:
    if not is_symfony(project_dir):
        return None
    env = resolve_env(project_dir)
    for name, value in env.values.items():
        if "PASSWORD" in name or "SECRET" in name:
            register_secret(value)
    resolver = _resolver(project_dir, env)
    default, connections = dbal_connections(project_dir, env.app_env)
    connection = connections[default]
    source = "files"
    php = find_php()
    if php is not None and connection.url_variable:
        from_console = confirm_with_php(project_dir, php, connection.url_variable)
        file_value = env.get(connection.url_variable)
        if from_console and "://" in from_console:
            source = "php"
            if from_console != file_value:
                # The console is the application's own answer; the files may miss a mechanism it knows.
                log.debug("bin/console debug:dotenv resolves %s differently from the .env files; using the console's",
                          connection.url_variable)
                env.values[connection.url_variable] = from_console
    log.debug("Symfony configuration: %s (APP_ENV=%s, files: %s, config_source=%s)",
              "confirmed by bin/console debug:dotenv" if source == "php" else "read from the .env files",
              env.app_env, ", ".join(env.files) or "none", source)
    label = connection.url_variable or f"doctrine connection {default}"
    origin = "bin/console debug:dotenv" if source == "php" else ", ".join(env.files) or "the environment"
    where = f"{label} from {origin}"
    database = None
    try:
        database = connection_config(connection, resolver, project_dir, where)
    except ConfigError as exc:
        log.warning("Symfony database connection %s (config/packages/doctrine.yaml) is unusable: %s", default, exc)
    if database is None:
        _explain_missing_database(project_dir, env, connection.url_variable, default)
    others: dict[str, str] = {}
    for name, other in connections.items():
        if name == default:
            continue
        try:
            config = connection_config(other, resolver, project_dir, "doctrine")
            others[name] = config.url(mask_password=True) if config else "not configured"
        except ConfigError as exc:
            others[name] = f"unusable: {exc}"
    version = _symfony_version(project_dir)
    php_command = php or "php"
    try:
        site = site_url(project_dir, env.app_env, resolver)
    except ConfigError as exc:
        # The URL is only a convenience (serve's --base-url hint): the rest of the detection stands.
        log.warning("Symfony's site URL is unknown: %s", exc)
        site = None
    framework = Framework(
        name="Symfony",
        plugin=PLUGIN,
        project_dir=project_dir,
        database=database,
        web_root=project_dir / "public",
        reason=f"bin/console and config/bundles.php found (Symfony {version or 'unknown version'})",
        post_install=[[php_command, "bin/console", "cache:clear"]],
        settings={"app_env": env.app_env, "env_files": env.files, "connection": default, "connections": others,
                  "version": version},
        config_source=source,
        base_url=site[0] if site else None,
        base_url_source=site[1] if site else "",
    )
    # The public upload folders are where the receiver looks for the site when it searches for the host.
    framework.public_prefixes = tuple(
        "/" + s.url_prefix.strip("/") for s in _file_sets(framework) if s.kind == "public" and s.url_prefix
    )
    return framework


@hookimpl
def default_dump_options(framework: Framework, inventory: DatabaseInventory | None) -> DumpOptions | None:
    """The tables Symfony's makers and bundles create, when the database has them (see :mod:`.sanitize`)."""
    if framework.plugin != PLUGIN:
        return None
    return sanitize_profile(inventory)


def _file_sets(framework: Framework) -> list[FileSet]:
    project_dir = framework.project_dir
    web_root = framework.web_root or project_dir / "public"
    env = resolve_env(project_dir)
    never = liip_cache_dirs(project_dir, web_root, env.app_env)
    sets = vich_file_sets(project_dir, web_root, env.app_env, _resolver(project_dir, env), never)
    if not sets:
        sets = default_upload_set(project_dir, web_root, never)
    return sets


@hookimpl
def list_file_sets(framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
    if framework.plugin != PLUGIN:
        return None
    return _file_sets(framework)


@hookimpl
def install_files(framework: Framework, file_set: ReceivedFileSet, source_dir: Path) -> FilesInstallResult | None:
    """Put a received set where the local project keeps it (the same mapping may point elsewhere here)."""
    if framework.plugin != PLUGIN:
        return None
    local: dict[str, Any] = {s.name: s for s in _file_sets(framework) if s.root is not None}
    target = local.get(file_set.name)
    if target is None or target.root is None:
        # Not one of this project's upload folders: the core's default copier uses relativeBasePath.
        return None
    log.debug("installing file set %s into %s", file_set.name, target.root)
    return install_tree(source_dir, target.root)
