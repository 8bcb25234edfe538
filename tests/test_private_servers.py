"""The private database servers some tests start must leave the shared ones alone."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from private_servers import mariadb
from test_mysql_support import private_mariadb

from synco_core.testing.services import unique_name


def test_a_private_mariadb_leaves_the_shared_servers_temporary_tables(tmp_path: Path) -> None:
    """A MariaDB starting deletes every ``#sql*`` file of its tmpdir (and mariadb-install-db's bootstrap does
    too): with /tmp, the shared server's temporary tables in use, which failed other tests' queries at random
    ('Error on delete of /tmp/#sql-temptable-...MAI'). Both helpers give their server a tmpdir of its own."""
    folder = Path(os.environ.get("TMPDIR") or tempfile.gettempdir())
    sentinel = folder / f"#sql-temptable-{unique_name('sentinel')}.MAI"
    sentinel.write_bytes(b"")
    try:
        with mariadb(tmp_path / "one"):
            assert sentinel.exists()
        with private_mariadb(tmp_path / "two"):
            assert sentinel.exists()
        assert sentinel.exists()
    finally:
        sentinel.unlink(missing_ok=True)
