"""What a PostgreSQL dump needs of the server that loads it: recorded by the dump, checked before a download.

A laptop without an extension production uses (PostGIS, PL/R: packages of their own), without a collation
the columns name (a locale the system lacks), or running an older major version than production (whose
dump may use syntax it does not know) was found at load time, after the whole download. The dump records
its extensions with their versions, the collations of ``pg_catalog`` its columns use (a collation the dump
creates itself is not required) and the source's version (:class:`~synco_core.values.DumpRequirements`);
:func:`missing` reads the local server's catalogue and names what it lacks, each with its fix.

An extension the server has at another version only is not refused: the load creates it at the server's
version and says so (:mod:`.extversions`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import USER_SCHEMA, fetch
from synco_core.values import DatabaseConfig, DumpRequirements

log = logging.getLogger(__name__)

#: Collations every server has (or the database's own, ``default``).
BUILT_IN_COLLATIONS = ("default", "C", "POSIX", "ucs_basic", "unicode", "pg_c_utf8")
#: The extensions of PostgreSQL's contrib, in the server's own package (``postgresql-contrib`` elsewhere).
CONTRIB = frozenset({
    "adminpack", "amcheck", "autoinc", "bloom", "btree_gin", "btree_gist", "citext", "cube", "dblink", "dict_int",
    "dict_xsyn", "earthdistance", "file_fdw", "fuzzystrmatch", "hstore", "insert_username", "intagg", "intarray",
    "isn", "lo", "ltree", "moddatetime", "old_snapshot", "pageinspect", "pg_buffercache", "pg_freespacemap",
    "pg_prewarm", "pg_stat_statements", "pg_surgery", "pg_trgm", "pg_visibility", "pg_walinspect", "pgcrypto",
    "pgrowlocks", "pgstattuple", "postgres_fdw", "refint", "seg", "sslinfo", "tablefunc", "tcn", "tsm_system_rows",
    "tsm_system_time", "unaccent", "uuid-ossp", "xml2",
})
#: Extensions whose Debian package is not named after them.
PACKAGES = {"postgis": "postgis-3", "postgis_raster": "postgis-3", "postgis_topology": "postgis-3",
            "postgis_sfcgal": "postgis-3", "postgis_tiger_geocoder": "postgis-3", "address_standardizer": "postgis-3",
            "address_standardizer_data_us": "postgis-3", "vector": "pgvector", "timescaledb": "timescaledb"}
_MAJOR = re.compile(r"\s*(\d+)")


def recorded(conn: psycopg.Connection[Any], extension_oids: Iterable[int]) -> DumpRequirements:
    """The extensions the dump creates (by their OIDs) with their versions, and the server-provided collations
    the columns of the database's own relations and domains use."""
    oids = list(extension_oids)
    extensions = {str(name): str(version) for name, version in fetch(
        conn, "SELECT extname, extversion FROM pg_catalog.pg_extension WHERE oid = ANY(%s) ORDER BY extname",
        (oids,))} if oids else {}
    # The schema condition's LIKE pattern holds a "%": doubled, as the query has parameters.
    user_schema = USER_SCHEMA.format("n").replace("%", "%%")
    collations = [str(name) for (name,) in fetch(conn, f"""
        SELECT DISTINCT c.collname FROM pg_catalog.pg_collation c
        WHERE c.collnamespace = 'pg_catalog'::regnamespace AND c.collname <> ALL(%s) AND (
            c.oid IN (SELECT a.attcollation FROM pg_catalog.pg_attribute a
                      JOIN pg_catalog.pg_class r ON r.oid = a.attrelid
                      JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
                      WHERE a.attnum > 0 AND NOT a.attisdropped AND {user_schema})
            OR c.oid IN (SELECT t.typcollation FROM pg_catalog.pg_type t
                         JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
                         WHERE t.typtype = 'd' AND {user_schema}))
        ORDER BY 1""", (list(BUILT_IN_COLLATIONS),))]
    return DumpRequirements(extensions=extensions, collations=collations)


def created_extensions(conn: psycopg.Connection[Any]) -> list[int]:
    """The extensions a dump of the database creates: all but the built-in ones (plpgsql), as the dump's."""
    return [int(oid) for (oid,) in fetch(conn, "SELECT oid FROM pg_catalog.pg_extension WHERE oid >= 16384")]


def major(version: str) -> int | None:
    """The major version of ``16.4``, ``15.8 (Debian 15.8-0+deb12u1)``, ``9.6.24`` (9: close enough here)."""
    found = _MAJOR.match(version)
    return int(found.group(1)) if found else None


def _extension_fix(name: str, local_major: int) -> str:
    if name in CONTRIB:
        return f"PostgreSQL's contrib: postgresql-{local_major} on Debian, postgresql-contrib elsewhere"
    package = PACKAGES.get(name, name.replace("_", "-"))
    return f"install postgresql-{local_major}-{package} or the package that provides it"


def missing(conn: psycopg.Connection[Any], requires: DumpRequirements) -> list[str]:
    """What the server of ``conn`` lacks of ``requires``, each with how to fix it; empty when nothing."""
    local_version = str(fetch(conn, "SHOW server_version")[0][0]).split(" ")[0]
    local_major = major(local_version) or 0
    lacking: list[str] = []
    source_major = major(requires.server_version) if requires.server_version else None
    if source_major is not None and source_major > local_major:
        lacking.append(f"PostgreSQL {local_version} is older than the source's {requires.server_version}, whose "
                       f"dump may use what {local_major} lacks (PostgreSQL {source_major} or later on this machine)")
    if requires.extensions:
        versions: dict[str, set[str]] = {}
        for name, version in fetch(conn, "SELECT name, version FROM pg_catalog.pg_available_extension_versions"):
            versions.setdefault(str(name), set()).add(str(version))
        for name, version in requires.extensions.items():
            if name not in versions:
                lacking.append(f"extension {name} {version} ({_extension_fix(name, local_major)})")
            elif version not in versions[name]:
                log.warning("the dump creates extension %s %s, which this server has only at %s: it is created at "
                            "that version", name, version, ", ".join(sorted(versions[name])))
    if requires.collations:
        known = {str(name) for (name,) in fetch(conn, "SELECT collname FROM pg_catalog.pg_collation")}
        for name in requires.collations:
            if name in known:
                continue
            fix = ("a PostgreSQL built with ICU" if name.endswith("-x-icu") else
                   "add the locale to the system (locale-gen), then SELECT pg_import_system_collations('pg_catalog')")
            lacking.append(f"collation {name} ({fix})")
    return lacking


def check(database: DatabaseConfig, requires: DumpRequirements) -> list[str]:
    """:func:`missing` on the server of ``database``, read through the maintenance database (the target need not
    exist yet)."""
    from synco_core.engines.postgresql.installer import _admin

    with _admin(database) as admin:
        return missing(admin, requires)
