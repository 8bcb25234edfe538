"""Helpers framework plugins share: dotenv parsing, finding a PHP interpreter, running framework commands.

These live in the core so every framework plugin (Neos, Laravel, Symfony, third parties) reads ``.env``
files, looks for ``php`` and runs ``./flow`` / ``artisan`` / ``bin/console`` the same way. Plugins import
them from :mod:`synco_core` (the public API); the modules here are internal:

- :mod:`synco_core.frameworkutil.configfile`: ``read_config_file`` / ``read_config_text``, how every
  configuration file is read from a project (bounded, devices refused, named pipes read with a timeout).
- :mod:`synco_core.frameworkutil.dotenv`: ``parse_dotenv`` / ``load_dotenv_files`` (comments, quotes,
  ``export``, ``${VAR}`` expansion with ``:-`` defaults, multi-line quoted values).
- :mod:`synco_core.frameworkutil.php`: ``find_php`` (``$PHP``, ``php``, then ``php8.4`` ... ``php7.4`` and
  ``php84`` ... ``php74``).
- :mod:`synco_core.frameworkutil.commands`: ``run_command`` with a timeout, captured output and a
  one-line :class:`~synco_core.errors.ConfigError` on failure (secrets redacted).
- :mod:`synco_core.frameworkutil.pdo`: PDO MySQL TLS driver options as synco's database options
  (``synco_core.pdo_tls_options``, ``synco_core.pdo_attribute_name``).
- :mod:`synco_core.frameworkutil.passwords`: the bcrypt hash of "password" that sanitising profiles use.
- :mod:`synco_core.frameworkutil.platformsh`: Platform.sh's ``PLATFORM_RELATIONSHIPS``, as its framework
  bridges read it.
- :mod:`synco_core.frameworkutil.phpconfig`: ``read_php_config`` / ``parse_php_config``, PHP configuration
  files (``wp-config.php``, Drupal's ``settings.php``) evaluated without running PHP, on
  :mod:`.phptokens` (tokens), :mod:`.phpparse` (syntax tree), :mod:`.phpvalues` (PHP's conversions,
  ``PhpUnknown``) and :mod:`.phpbuiltins` (the pure functions it evaluates).
"""

from __future__ import annotations

from synco_core.frameworkutil.commands import CommandResult, FrameworkCommandError, run_command
from synco_core.frameworkutil.dotenv import expand_variables, load_dotenv_files, parse_dotenv
from synco_core.frameworkutil.php import PHP_VERSIONS, find_php, php_candidates

__all__ = [
    "PHP_VERSIONS",
    "CommandResult",
    "FrameworkCommandError",
    "expand_variables",
    "find_php",
    "load_dotenv_files",
    "parse_dotenv",
    "php_candidates",
    "run_command",
]
