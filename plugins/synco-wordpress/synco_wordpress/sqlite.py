"""WordPress on SQLite: the SQLite Database Integration plugin's drop-in, and where its database file is.

WordPress talks to SQLite when ``WP_CONTENT_DIR/db.php`` is the drop-in of the SQLite Database Integration
plugin (WordPress.org's, also used by Playground and Studio) or of one of its ancestors (wp-sqlite-db,
SQLite Integration). The drop-in is read as text, never run. The database file is where the plugin's
``constants.php`` puts it: ``FQDB`` when wp-config.php defines it, else ``FQDBDIR`` (``DB_DIR`` with a trailing
slash, by default ``WP_CONTENT_DIR/database/``) followed by ``DB_FILE`` (by default ``.ht.sqlite``).

The drop-in steps aside when wp-config.php says the database is another kind (``DATABASE_TYPE`` or the older
``DB_ENGINE`` other than ``sqlite``, the oldest plugin's ``USE_MYSQL``): WordPress then uses MySQL as usual.
"""

from __future__ import annotations

import re
from pathlib import Path

from synco_core import ConfigError, PhpUnknown
from synco_wordpress.config import WordPressConfig
from synco_wordpress.files import content_dir

#: What each generation of the drop-in holds: the current plugin's version constant and the implementation it
#: loads, wp-sqlite-db's class, the constant every generation defines, the oldest plugin's folder.
_DROPIN_MARKERS = re.compile(rb"SQLITE_DB_DROPIN_VERSION|/sqlite/db\.php|WP_SQLite_DB|\bFQDB\b|sqlite-integration",
                             re.IGNORECASE)
#: A drop-in is a short file (the current one is 1 kB, wp-sqlite-db's a few hundred): enough to find a marker.
_DROPIN_READ = 1 << 20
_DEFAULT_FILE = ".ht.sqlite"


def sqlite_dropin(config: WordPressConfig) -> Path | None:
    """``WP_CONTENT_DIR/db.php`` when it is an SQLite drop-in, else None (no drop-in, or another one: a caching
    or a query monitoring plugin's, HyperDB's)."""
    dropin = content_dir(config) / "db.php"
    try:
        with dropin.open("rb") as handle:
            head = handle.read(_DROPIN_READ)
    except OSError:
        return None
    return dropin if _DROPIN_MARKERS.search(head) else None


def _constant(config: WordPressConfig, name: str) -> str | None:
    """A constant the database file depends on: None when not defined, a ConfigError when it cannot be known
    without running PHP (a guessed path would dump or overwrite another file)."""
    value = config.constants.get(name)
    if isinstance(value, PhpUnknown):
        raise ConfigError(f"{config.config_file}: {name} cannot be read without PHP ({value.reason}); the SQLite "
                          "database's path is unknown: give it in .synco.yml (database: url: sqlite:////path/to/"
                          "file) and pass --framework wordpress")
    if value is None or value is False:
        return None
    return "1" if value is True else str(value)


def uses_sqlite(config: WordPressConfig) -> bool:
    """True when WordPress runs on SQLite: the drop-in is there and wp-config.php does not turn it off."""
    if sqlite_dropin(config) is None:
        return False
    for name in ("DATABASE_TYPE", "DB_ENGINE"):
        kind = _constant(config, name)
        if kind is not None and kind.strip().lower() != "sqlite":
            return False
    return not config.flag("USE_MYSQL")


def sqlite_file(config: WordPressConfig) -> Path:
    """The database file, as the drop-in's constants name it (a relative path is relative to ``ABSPATH``,
    where WordPress runs)."""
    fqdb = _constant(config, "FQDB")
    if fqdb is None:
        folder = _constant(config, "FQDBDIR")
        if folder is None:
            db_dir = _constant(config, "DB_DIR")
            default = f"{content_dir(config)}/database/"
            folder = (db_dir if db_dir.endswith("/") else db_dir + "/") if db_dir else default
        # PHP concatenates: FQDBDIR without its slash runs into the file's name, as it does for WordPress.
        fqdb = folder + (_constant(config, "DB_FILE") or _DEFAULT_FILE)
    path = Path(fqdb)
    return path if path.is_absolute() else config.root / path
