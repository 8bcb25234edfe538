"""Text search parsers, templates, dictionaries and configurations of a database.

A configuration is written as ``CREATE TEXT SEARCH CONFIGURATION ... (PARSER = ...)`` followed by one
``ALTER ... ADD MAPPING`` per token type, with its dictionaries in order: what the catalog holds, whether
the configuration was made with ``COPY =`` or mapping by mapping.
"""

from __future__ import annotations

from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import USER_SCHEMA, Quoter, fetch, not_extension_member
from synco_core.engines.postgresql.objects import SchemaObject, definition_options

#: Parsers and templates, which are made of functions only: (catalog, kind, keyword, column prefix, function
#: columns, CREATE options).
_MADE_OF_FUNCTIONS = (
    ("pg_ts_parser", "tsparser", "TEXT SEARCH PARSER", "prs", ("start", "token", "end", "lextype", "headline"),
     ("START", "GETTOKEN", "END", "LEXTYPES", "HEADLINE")),
    ("pg_ts_template", "tstemplate", "TEXT SEARCH TEMPLATE", "tmpl", ("init", "lexize"), ("INIT", "LEXIZE")),
)


def read_text_search(conn: psycopg.Connection[Any], q: Quoter) -> list[SchemaObject]:
    """Parsers, templates, dictionaries and configurations, each kind in creation (OID) order."""
    objects = []
    for catalog_name, kind, keyword, prefix, columns, options in _MADE_OF_FUNCTIONS:
        functions = ", ".join(f"x.{prefix}{column}::pg_catalog.regproc::text" for column in columns)
        for oid, schema, name, *values in fetch(conn, f"""
                SELECT x.oid, n.nspname, x.{prefix}name, {functions}
                FROM pg_catalog.{catalog_name} x JOIN pg_catalog.pg_namespace n ON n.oid = x.{prefix}namespace
                WHERE {USER_SCHEMA.format('n')} AND {not_extension_member(catalog_name, 'x.oid')} ORDER BY x.oid"""):
            qualified = q.qualified(schema, name)
            body = definition_options(*zip(options, values, strict=True))
            objects.append(SchemaObject((catalog_name, oid), kind, keyword, qualified,
                                        f"CREATE {keyword} {qualified} {body};\n"))
    for oid, schema, name, owner, template, options in fetch(conn, f"""
            SELECT d.oid, n.nspname, d.dictname, pg_catalog.pg_get_userbyid(d.dictowner),
                   pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(t.tmplname), d.dictinitoption
            FROM pg_catalog.pg_ts_dict d JOIN pg_catalog.pg_namespace n ON n.oid = d.dictnamespace
            JOIN pg_catalog.pg_ts_template t ON t.oid = d.dicttemplate
            JOIN pg_catalog.pg_namespace tn ON tn.oid = t.tmplnamespace
            WHERE {USER_SCHEMA.format('n')} AND {not_extension_member('pg_ts_dict', 'd.oid')} ORDER BY d.oid"""):
        qualified = q.qualified(schema, name)
        # dictinitoption is the option list as the server keeps it: "name = 'value', ...".
        body = f"TEMPLATE = {template}" + (f",\n    {options}" if options else "")
        objects.append(SchemaObject(("pg_ts_dict", oid), "tsdict", "TEXT SEARCH DICTIONARY", qualified,
                                    f"CREATE TEXT SEARCH DICTIONARY {qualified} (\n    {body}\n);\n", owner))
    for oid, schema, name, owner, parser, parser_oid in fetch(conn, f"""
            SELECT c.oid, n.nspname, c.cfgname, pg_catalog.pg_get_userbyid(c.cfgowner),
                   pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.prsname), c.cfgparser
            FROM pg_catalog.pg_ts_config c JOIN pg_catalog.pg_namespace n ON n.oid = c.cfgnamespace
            JOIN pg_catalog.pg_ts_parser p ON p.oid = c.cfgparser
            JOIN pg_catalog.pg_namespace pn ON pn.oid = p.prsnamespace
            WHERE {USER_SCHEMA.format('n')} AND {not_extension_member('pg_ts_config', 'c.oid')} ORDER BY c.oid"""):
        qualified = q.qualified(schema, name)
        create = f"CREATE TEXT SEARCH CONFIGURATION {qualified} (\n    PARSER = {parser}\n);\n"
        for token, dictionaries in fetch(conn, """
                SELECT t.alias, pg_catalog.string_agg(
                         pg_catalog.quote_ident(dn.nspname) || '.' || pg_catalog.quote_ident(d.dictname), ', '
                         ORDER BY m.mapseqno)
                FROM pg_catalog.pg_ts_config_map m
                JOIN pg_catalog.ts_token_type(%s::pg_catalog.oid) t ON t.tokid = m.maptokentype
                JOIN pg_catalog.pg_ts_dict d ON d.oid = m.mapdict
                JOIN pg_catalog.pg_namespace dn ON dn.oid = d.dictnamespace
                WHERE m.mapcfg = %s GROUP BY m.maptokentype, t.alias ORDER BY m.maptokentype""",
                                           (parser_oid, oid)):
            create += (f"ALTER TEXT SEARCH CONFIGURATION {qualified}\n"
                       f"    ADD MAPPING FOR {q(token)} WITH {dictionaries};\n")
        objects.append(SchemaObject(("pg_ts_config", oid), "tsconfig", "TEXT SEARCH CONFIGURATION", qualified,
                                    create, owner))
    return objects
