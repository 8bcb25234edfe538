"""synco: production content onto a laptop, for any framework, encrypted end to end.

This package is the core: the hook specifications, the plugin manager, the wire format, encryption,
transfer and the built-in database engines. Plugin authors need only what is exported here::

    from synco_core import hookimpl, Framework, FileSet
"""

from __future__ import annotations

import pluggy

from synco_core.errors import ConfigError, CryptoError, DatabaseError, SyncoError, TransferError, UnsafePathError
from synco_core.values import (
    DatabaseConfig,
    DatabaseInventory,
    DumpOptions,
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
)

__version__ = "0.1.0"

#: The marker every plugin uses for its hook implementations; plugins never build their own.
hookimpl = pluggy.HookimplMarker("synco")

__all__ = [
    "ConfigError",
    "CryptoError",
    "DatabaseConfig",
    "DatabaseError",
    "DatabaseInventory",
    "DumpOptions",
    "DumpResult",
    "FileSet",
    "FileSetOptions",
    "FilesInstallResult",
    "Framework",
    "InstallOptions",
    "InstallResult",
    "PublicFile",
    "ReceivedFileSet",
    "SanitizeRule",
    "SyncoError",
    "TableInfo",
    "TableManifest",
    "TransferError",
    "UnsafePathError",
    "__version__",
    "hookimpl",
]
