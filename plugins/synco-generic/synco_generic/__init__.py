"""synco-generic: explicit configuration for any framework or language.

A project's ``.synco.yml`` names the database (or ``SYNCO_DATABASE_URL`` / ``DATABASE_URL`` do), the web
root and the file sets, and adds table filters and sanitising rules. On its own it makes any project
servable; next to a framework plugin it extends or overrides what that plugin detected.
"""

from __future__ import annotations

__version__ = "0.1.0"
