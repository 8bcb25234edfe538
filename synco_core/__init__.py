"""synco: production content onto a laptop, for any framework, encrypted end to end.

This package is the core: the hook specifications, the plugin manager, the wire format, encryption,
transfer and the built-in database engines. For plugins it is also the one public API, as ``pytest``
fronts ``_pytest``: a plugin imports from ``synco_core`` and from nothing below it (tests add
:mod:`synco_core.testing`). What is exported here is documented on the "Plugin utilities" page and kept
stable; every other module is internal and may change in any release::

    from synco_core import hookimpl, Framework, FileSet, parse_database_url, register_secret

The hook marker, the value types and the errors are imported with the package. The utilities load on
first use (PEP 562), so ``import synco_core`` stays cheap for the commands that never need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import pluggy

from synco_core.errors import ConfigError, CryptoError, DatabaseError, SyncoError, TransferError, UnsafePathError
from synco_core.values import (
    DatabaseConfig,
    DatabaseInventory,
    DatabaseReader,
    DumpOptions,
    DumpRequirements,
    DumpResult,
    FileSet,
    FileSetOptions,
    FilesInstallResult,
    Framework,
    InstallOptions,
    InstallResult,
    PublicFile,
    ReceivedFileSet,
    SanitizeRule,
    TableInfo,
    TableManifest,
    ValueRewriter,
)

if TYPE_CHECKING:
    from synco_core.dburl import normalise_engine, parse_database_url
    from synco_core.dburlquery import url_query_keys_as
    from synco_core.dumpprogress import rows_written, table_started
    from synco_core.engines.default_files import install_named_root, install_tree
    from synco_core.engines.dispatch import connect_with_engine, dump_with_engine, inspect_with_engine
    from synco_core.frameworkutil.commands import CommandResult, FrameworkCommandError, run_command
    from synco_core.frameworkutil.configfile import (
        MAX_CONFIG_BYTES,
        MAX_LOCK_FILE_BYTES,
        read_config_file,
        read_config_text,
    )
    from synco_core.frameworkutil.dotenv import expand_variables, load_dotenv_files, parse_dotenv
    from synco_core.frameworkutil.passwords import BCRYPT_PASSWORD
    from synco_core.frameworkutil.pdo import attribute_name as pdo_attribute_name
    from synco_core.frameworkutil.pdo import mysql_endpoint as pdo_mysql_endpoint
    from synco_core.frameworkutil.pdo import tls_options as pdo_tls_options
    from synco_core.frameworkutil.php import find_php, php_candidates
    from synco_core.frameworkutil.phpconfig import PhpConfig, parse_php_config, read_php_config
    from synco_core.frameworkutil.phpvalues import PhpConfigObject, PhpUnknown
    from synco_core.frameworkutil.platformsh import endpoint_parts as platform_endpoint_parts
    from synco_core.frameworkutil.platformsh import platform_in_runtime, platform_relationship
    from synco_core.frameworkutil.s3 import S3Location, s3_public_entries
    from synco_core.frameworkutil.tableshapes import (
        address_masked,
        credential_columns,
        quote_name,
        tables_with_columns,
    )
    from synco_core.fsutil import path_below, resolve_inside, safe_relative_path
    from synco_core.fsutil import second_of as mtime_of
    from synco_core.globs import ExcludeMatcher, walk_files
    from synco_core.globs import escape as glob_escape
    from synco_core.redaction import error_line, one_line, redact, register_secret
    from synco_core.syncofile import is_config_candidate, load_synco_yaml

__version__ = "0.1.0"

#: The marker every plugin uses for its hook implementations; plugins never build their own.
hookimpl = pluggy.HookimplMarker("synco")

#: The utilities, loaded on first use: public name -> (module, name there).
_UTILITIES: dict[str, tuple[str, str]] = {
    # Database URLs and engine-neutral access to a plugin's own database.
    "parse_database_url": ("synco_core.dburl", "parse_database_url"),
    "normalise_engine": ("synco_core.dburl", "normalise_engine"),
    "url_query_keys_as": ("synco_core.dburlquery", "url_query_keys_as"),
    "inspect_with_engine": ("synco_core.engines.dispatch", "inspect_with_engine"),
    "connect_with_engine": ("synco_core.engines.dispatch", "connect_with_engine"),
    "dump_with_engine": ("synco_core.engines.dispatch", "dump_with_engine"),
    # A third-party engine's progress reports (serve's progress bar).
    "table_started": ("synco_core.dumpprogress", "table_started"),
    "rows_written": ("synco_core.dumpprogress", "rows_written"),
    # Configuration files and framework commands.
    "read_config_file": ("synco_core.frameworkutil.configfile", "read_config_file"),
    "read_config_text": ("synco_core.frameworkutil.configfile", "read_config_text"),
    "MAX_CONFIG_BYTES": ("synco_core.frameworkutil.configfile", "MAX_CONFIG_BYTES"),
    "MAX_LOCK_FILE_BYTES": ("synco_core.frameworkutil.configfile", "MAX_LOCK_FILE_BYTES"),
    "load_synco_yaml": ("synco_core.syncofile", "load_synco_yaml"),
    "is_config_candidate": ("synco_core.syncofile", "is_config_candidate"),
    "parse_dotenv": ("synco_core.frameworkutil.dotenv", "parse_dotenv"),
    "load_dotenv_files": ("synco_core.frameworkutil.dotenv", "load_dotenv_files"),
    "expand_variables": ("synco_core.frameworkutil.dotenv", "expand_variables"),
    "find_php": ("synco_core.frameworkutil.php", "find_php"),
    "php_candidates": ("synco_core.frameworkutil.php", "php_candidates"),
    "run_command": ("synco_core.frameworkutil.commands", "run_command"),
    "CommandResult": ("synco_core.frameworkutil.commands", "CommandResult"),
    "FrameworkCommandError": ("synco_core.frameworkutil.commands", "FrameworkCommandError"),
    "pdo_tls_options": ("synco_core.frameworkutil.pdo", "tls_options"),
    "platform_in_runtime": ("synco_core.frameworkutil.platformsh", "platform_in_runtime"),
    "platform_relationship": ("synco_core.frameworkutil.platformsh", "platform_relationship"),
    "platform_endpoint_parts": ("synco_core.frameworkutil.platformsh", "endpoint_parts"),
    "pdo_attribute_name": ("synco_core.frameworkutil.pdo", "attribute_name"),
    "pdo_mysql_endpoint": ("synco_core.frameworkutil.pdo", "mysql_endpoint"),
    "BCRYPT_PASSWORD": ("synco_core.frameworkutil.passwords", "BCRYPT_PASSWORD"),
    "tables_with_columns": ("synco_core.frameworkutil.tableshapes", "tables_with_columns"),
    "address_masked": ("synco_core.frameworkutil.tableshapes", "address_masked"),
    "credential_columns": ("synco_core.frameworkutil.tableshapes", "credential_columns"),
    "quote_name": ("synco_core.frameworkutil.tableshapes", "quote_name"),
    "read_php_config": ("synco_core.frameworkutil.phpconfig", "read_php_config"),
    "parse_php_config": ("synco_core.frameworkutil.phpconfig", "parse_php_config"),
    "PhpConfig": ("synco_core.frameworkutil.phpconfig", "PhpConfig"),
    "PhpUnknown": ("synco_core.frameworkutil.phpvalues", "PhpUnknown"),
    "PhpConfigObject": ("synco_core.frameworkutil.phpvalues", "PhpConfigObject"),
    # Paths and file sets.
    "safe_relative_path": ("synco_core.fsutil", "safe_relative_path"),
    "resolve_inside": ("synco_core.fsutil", "resolve_inside"),
    "path_below": ("synco_core.fsutil", "path_below"),
    "mtime_of": ("synco_core.fsutil", "second_of"),
    "ExcludeMatcher": ("synco_core.globs", "ExcludeMatcher"),
    "walk_files": ("synco_core.globs", "walk_files"),
    "glob_escape": ("synco_core.globs", "escape"),
    "install_tree": ("synco_core.engines.default_files", "install_tree"),
    "install_named_root": ("synco_core.engines.default_files", "install_named_root"),
    "S3Location": ("synco_core.frameworkutil.s3", "S3Location"),
    "s3_public_entries": ("synco_core.frameworkutil.s3", "s3_public_entries"),
    # Secrets and messages.
    "register_secret": ("synco_core.redaction", "register_secret"),
    "redact": ("synco_core.redaction", "redact"),
    "one_line": ("synco_core.redaction", "one_line"),
    "mask_url_passwords": ("synco_core.redaction", "mask_url_passwords"),
    "error_line": ("synco_core.redaction", "error_line"),
}


def __getattr__(name: str) -> Any:
    """Load a utility the first time it is asked for, then keep it in the module like any other name."""
    try:
        module, attribute = _UTILITIES[name]
    except KeyError:
        raise AttributeError(f"module 'synco_core' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_UTILITIES})


__all__ = [
    "BCRYPT_PASSWORD",
    "MAX_CONFIG_BYTES",
    "MAX_LOCK_FILE_BYTES",
    "CommandResult",
    "ConfigError",
    "CryptoError",
    "DatabaseConfig",
    "DatabaseError",
    "DatabaseInventory",
    "DatabaseReader",
    "DumpOptions",
    "DumpRequirements",
    "DumpResult",
    "ExcludeMatcher",
    "FileSet",
    "FileSetOptions",
    "FilesInstallResult",
    "Framework",
    "FrameworkCommandError",
    "InstallOptions",
    "InstallResult",
    "PhpConfig",
    "PhpConfigObject",
    "PhpUnknown",
    "PublicFile",
    "ReceivedFileSet",
    "S3Location",
    "SanitizeRule",
    "SyncoError",
    "TableInfo",
    "TableManifest",
    "TransferError",
    "UnsafePathError",
    "ValueRewriter",
    "__version__",
    "address_masked",
    "connect_with_engine",
    "credential_columns",
    "dump_with_engine",
    "error_line",
    "expand_variables",
    "find_php",
    "glob_escape",
    "hookimpl",
    "inspect_with_engine",
    "install_named_root",
    "install_tree",
    "is_config_candidate",
    "load_dotenv_files",
    "load_synco_yaml",
    "mask_url_passwords",
    "mtime_of",
    "normalise_engine",
    "one_line",
    "parse_database_url",
    "parse_dotenv",
    "parse_php_config",
    "path_below",
    "pdo_attribute_name",
    "pdo_mysql_endpoint",
    "pdo_tls_options",
    "php_candidates",
    "platform_endpoint_parts",
    "platform_in_runtime",
    "platform_relationship",
    "quote_name",
    "read_config_file",
    "read_config_text",
    "read_php_config",
    "redact",
    "register_secret",
    "resolve_inside",
    "rows_written",
    "run_command",
    "s3_public_entries",
    "safe_relative_path",
    "table_started",
    "tables_with_columns",
    "url_query_keys_as",
    "walk_files",
]
