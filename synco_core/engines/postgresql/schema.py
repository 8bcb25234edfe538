"""The schema part of a PostgreSQL dump: every object, read once, written before and after the data.

Before the data come the objects the rows need or that are cheap to create empty, in one order sorted by
their dependencies (:mod:`.ordering`). After the data come constraints and indexes (built once over the
loaded rows), views, rules and the objects that need a view, statistics objects, triggers, policies and
publications. The module docstring of :mod:`.dumper` lists the sections in order.
"""

from __future__ import annotations

import itertools
from typing import Any, Protocol

import psycopg

from synco_core.engines.postgresql import (
    datatypes,
    earlyviews,
    foreign,
    operators,
    ordering,
    postdata,
    resultsettings,
    routines,
    searchpaths,
    tables,
    textsearch,
)
from synco_core.engines.postgresql.catalog import Quoter, Relation, Sequence, Table, fetch
from synco_core.engines.postgresql.objects import Key, Node, Registry, SchemaObject
from synco_core.values import DumpOptions

#: Section headings of the objects created before the data, by ordering kind.
_TITLES = {
    "language": "Procedural languages", "am": "Access methods", "collation": "Collations", "shell": "Types",
    "type": "Types", "proc": "Functions, procedures and aggregates", "operator": "Operators",
    "opfamily": "Operator families and classes", "opclass": "Operator families and classes", "cast": "Casts",
    "conversion": "Encoding conversions", "transform": "Transforms", "tsparser": "Text search",
    "tstemplate": "Text search", "tsdict": "Text search", "tsconfig": "Text search",
    "fdw": "Foreign-data wrappers and servers", "server": "Foreign-data wrappers and servers",
    "usermapping": "User mappings", "domcheck": "Domain constraints", "table": "Tables",
    earlyviews.PLACEHOLDER: "Placeholders of views whose row type the tables need",
    earlyviews.EMPTY_MATVIEW: "Materialized views whose row type the tables need (filled after the data)",
}



def computed_from_bodies(conn: psycopg.Connection[Any]) -> set[int]:
    """The tables with a generated column calling a function of the database whose body may read tables
    (any language but ``internal`` and ``c``)."""
    return {int(row[0]) for row in fetch(conn, """
        SELECT DISTINCT ad.adrelid
        FROM pg_catalog.pg_attrdef ad
        JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.objid = ad.oid
             AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
        JOIN pg_catalog.pg_proc p ON p.oid = d.refobjid
        JOIN pg_catalog.pg_language l ON l.oid = p.prolang
        WHERE a.attgenerated <> '' AND p.oid >= 16384 AND l.lanname NOT IN ('internal', 'c')""")}


class Output(Protocol):
    """Where the script goes (the dumper's writer)."""

    def sql(self, text: str) -> None: ...

    def section(self, title: str) -> None: ...


class Schema:
    """The schema objects of one dump."""

    def __init__(self, conn: psycopg.Connection[Any], q: Quoter, options: DumpOptions, registry: Registry,
                 all_tables: list[Table], relations: list[Relation], sequences: list[Sequence],
                 session_path: list[str]) -> None:
        self.conn = conn
        self.q = q
        self.registry = registry
        #: How a materialized view's rows are computed: under the source's time zone and styles.
        self.as_source = resultsettings.under(resultsettings.source_defaults(conn))
        self.tables = all_tables
        self.relations = relations
        #: With owners, a populated materialized view is created empty and filled by :meth:`write_matview_rows`
        #: once owners, privileges and row security are set, as its owner (``REFRESH`` runs its query with the
        #: owner's rights): filled by the loading role, it would hold rows the owner's policies hide.
        self.fill_as_owner = {r.oid for r in relations if r.kind == "m" and r.populated} if options.owners else set()
        self.refreshes: list[str] = []
        #: Of those, the ones filled when they are created too (what is made before the end reads them).
        self.filled_early: set[int] = set()
        self.warnings: list[str] = []
        register = registry.register

        types = datatypes.read_types(conn, q)
        type_objects = register(types.objects)
        by_oid = {t.oid: t for t in all_tables}
        identity = {s.owned_by: s for s in sequences if s.identity and s.owned_by}
        replayed, families = tables.replayed_families(q, all_tables, identity)
        table_objects = register([self._table(t, by_oid, identity, replayed.get(t.oid)) for t in all_tables])
        domain_checks = [SchemaObject(("pg_constraint", oid), "domcheck", "CONSTRAINT",
                                      f"{q(check.name)} ON DOMAIN {check.domain}", check.statement(q))
                         for oid, check in types.checks.items()]
        early_checks = register([obj for obj in domain_checks if not types.checks[obj.key[1]].after_data])
        self.late_checks = register([obj for obj in domain_checks if types.checks[obj.key[1]].after_data])
        #: ``VALIDATE CONSTRAINT`` of the domain constraints added ``NOT VALID`` before the data, with their nodes.
        self.validations = [(obj.node, types.checks[obj.key[1]].validation(q)) for obj in early_checks
                            if types.checks[obj.key[1]].validated_after_data]
        # Constraints written inside CREATE DOMAIN are still named by their comments.
        register([SchemaObject(("pg_constraint", oid), "domcheck", "CONSTRAINT",
                               f"{q(name)} ON DOMAIN {registry.objects[('pg_type', domain)].name}")
                  for oid, (domain, name) in types.inline_checks.items() if ("pg_type", domain) in registry.objects])
        # COMMENT ON COLUMN names a composite type's attribute through the type.
        register([SchemaObject(("pg_class", relid), "type", "TYPE", registry.objects[("pg_type", oid)].name)
                  for oid, relid in types.relids.items() if ("pg_type", oid) in registry.objects])
        classes = operators.read_operator_classes(conn, q)
        mappings = foreign.read_user_mappings(conn, q, secrets=options.secrets, owners=options.owners)
        if mappings.secrets_left_out:
            self.warnings.append("user mapping options that hold secrets (pass --secrets to keep them): "
                                 + ", ".join(mappings.secrets_left_out))
        if mappings.roles_left_out:
            self.warnings.append("user mappings of other roles (pass --owners to keep them): "
                                 + ", ".join(mappings.roles_left_out))
        functions = register(routines.read_functions(conn, q) + routines.read_aggregates(conn, q))
        groups = [
            register(routines.read_languages(conn, q)), register(operators.read_access_methods(conn, q)),
            register(datatypes.read_collations(conn, q)), type_objects, functions,
            register(operators.read_operators(conn, q)), register(classes.objects),
            register(datatypes.read_casts(conn)), register(datatypes.read_conversions(conn, q)),
            register(routines.read_transforms(conn, q)), register(textsearch.read_text_search(conn, q)),
            register(foreign.read_wrappers_and_servers(conn, q)), register(mappings.objects), early_checks,
            table_objects,
        ]
        self.by_node: dict[Node, SchemaObject] = {obj.node: obj for group in groups for obj in group}

        # After the data.
        names = {t.oid: q.qualified(t.schema, t.name) for t in all_tables}
        names.update((r.oid, q.qualified(r.schema, r.name)) for r in relations)
        self.keys = tables.read_keys(conn, q, all_tables, registry.skipped)
        register(self.keys.objects)
        self.rules = register(postdata.read_rules(conn, q, names))
        self.views = register([self._view(r) for r in relations])
        self.statistics = register(postdata.read_statistics(conn, q, names))
        self.triggers = register(postdata.read_triggers(conn, q, names))
        # A partition's clone of its parent's trigger comes with the parent's, but is named by its comment.
        register(postdata.read_trigger_clones(conn, q, names))
        self.policies = register(postdata.read_policies(conn, q, names, owners=options.owners))
        self.publications = register(postdata.read_publications(conn, q, names, registry.skipped))

        parts: dict[Key, Node] = {obj.key: obj.node for obj in self.by_node.values()}
        parts.update(classes.parts)
        parts.update(self.keys.parts)
        parts.update((("pg_class", relid), ("type", oid)) for oid, relid in types.relids.items())
        parts.update((("pg_constraint", oid), ("type", domain)) for oid, (domain, _) in types.inline_checks.items())
        parts.update((("pg_attrdef", c.default_oid), ("table", t.oid))
                     for t in all_tables for c in t.columns if c.generated and c.default_oid is not None)
        parts.update((obj.key, obj.node) for obj in self.views + self.rules)
        view_oids = {r.oid for r in relations}
        parts.update((("pg_rewrite", oid), ("view", relid)) for oid, relid in fetch(conn, """
            SELECT r.oid, r.ev_class FROM pg_catalog.pg_rewrite r WHERE r.rulename = '_RETURN'""")
                     if relid in view_oids)
        # Column defaults are set before the data too: what they call must exist by then.
        defaults = [("default", c.default_oid) for t in all_tables for c in t.columns
                    if c.default_oid is not None and not c.generated and registry.kept(("pg_attrdef", c.default_oid))]
        parts.update((("pg_attrdef", node[1]), node) for node in defaults)
        self.graph = ordering.read_graph(conn, parts)
        # A family rebuilt column by column runs its statements in the order its tables were replayed in.
        for family in families:
            for before, after in itertools.pairwise(family):
                self.graph.needs.setdefault(("table", after), set()).add(("table", before))
        self.shells = self.graph.use_shells(obj.key[1] for obj in type_objects
                                            if obj.key[1] in types.shell_candidates)
        # A type may wait for the views too (a composite type with an attribute of a view's row type), unless
        # what is created before the data needs it; a table may not, since the rows need it.
        movable = [obj.node for group in groups for obj in group if obj.kind != "table"]
        self.late = self.graph.late(movable)
        # A check constraint or index that calls a function reading a view (a SQL-standard body) is created
        # in one order with the views, after the view: checked against a placeholder (when the function is
        # created early for a column default), every row would fail. Read before the plan below rewrites
        # the early objects' needs to name the placeholders.
        key_nodes = [node for node, _ in self.keys.keys]
        waiting = self.graph.late(movable + key_nodes)
        self.late_keys = {node: statement for node, statement in self.keys.keys if node in waiting}
        # So is one calling a function whose body (not SQL-standard, whose reads pg_depend records) may read
        # a view, the server inlining a SQL body when it creates the index or checks the rows: with the
        # views, after them (an index that names a partition's, a clustered or replica identity one stays).
        self.may_read: set[Node] = set()
        if relations:
            self.may_read = may_read = {("proc", int(row[0])) for row in fetch(conn, """
                SELECT p.oid FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
                WHERE p.oid >= 16384 AND l.lanname NOT IN ('internal', 'c') AND p.prosqlbody IS NULL""")}
            pinned = {("index", int(row[0])) for row in fetch(conn, """
                SELECT i.indexrelid FROM pg_catalog.pg_index i
                WHERE i.indisclustered OR i.indisreplident OR EXISTS (
                    SELECT 1 FROM pg_catalog.pg_inherits h WHERE i.indexrelid IN (h.inhrelid, h.inhparent))""")}
            for node, statement in self.keys.keys:
                if node[0] in ("check", "index") and node not in pinned and node not in self.late_keys \
                        and self._calls(node, may_read):
                    self.late_keys[node] = statement
        # A check or index that calls a function reading a materialized view reads its rows when it is made:
        # that view is filled when it is created too, and again as its owner at the end.
        for oid in self._views_read_by(list(self.late_keys)) & self.fill_as_owner:
            view = registry.objects[("pg_class", oid)]
            view.create = self._matview(next(r for r in relations if r.oid == oid), populated=True)
            self.filled_early.add(oid)
        placeholders = earlyviews.read_placeholders(conn, q)
        roots = [node for node in movable if node not in self.late]
        self.early = earlyviews.plan(self.graph, roots + [obj.node for obj in table_objects] + defaults, self.late,
                                     {r.oid for r in relations if r.kind == "m"},
                                     {oid: needs for oid, (_, needs) in placeholders.items()})
        if self.early.unsatisfiable:
            raise earlyviews.Unsatisfiable("; ".join(
                f"{self._describe(node)} is needed before the rows, but needs {self._describe(need)}, which "
                "exists only after them" for node, need in self.early.unsatisfiable))
        self.late -= self.early.early
        self._early_views(relations, {oid: select for oid, (select, _) in placeholders.items()})
        # The given order, where the dependencies allow: functions that use a table's row type (or read a
        # table in a SQL-standard body) after the tables, the others before them; views' placeholders before
        # the tables, materialized views created empty after them.
        after_tables = {obj.node for obj in functions
                        if any(need[0] == "table" for need in self.graph.needs.get(obj.node, ()))}
        # A domain constraint calling such a function, on a domain a column reaches through an array,
        # composite or range (which cannot be validated later: see :mod:`.datatypes`), is added between the
        # two: after the tables its function may read, before any column that holds its domain.
        between = [obj.node for obj in early_checks if types.checks[obj.key[1]].reads
                   and not types.checks[obj.key[1]].validated_after_data]
        nodes: list[Node] = [("shell", oid) for oid in sorted(self.shells)]
        for group in groups:
            if group is table_objects:
                nodes += [(earlyviews.PLACEHOLDER, r.oid) for r in relations if r.oid in self.early.placeholders]
                continue
            nodes += [obj.node for obj in group
                      if obj.node not in self.late and obj.node not in after_tables and obj.node not in between]
        # A table whose generated column calls a function with a body that may read tables comes after the
        # other tables, where the dependencies allow, and so do its rows: the server inlines a SQL body when
        # it creates the column (failing while a table it reads does not exist) and runs it on each row
        # ``COPY`` loads (against tables not loaded yet, the values would be computed from nothing).
        self.computed_late = computed_from_bodies(conn)
        reading = {("pg_constraint", oid) for oid, check in types.checks.items() if check.reads}
        self.computed_late |= {table for table, keys in searchpaths.domains_checked_by_copy(conn).items()
                               if reading.intersection(keys)}
        nodes += [obj.node for obj in table_objects if obj.key[1] not in self.computed_late]
        nodes += [node for node in between if node not in self.late]
        nodes += [obj.node for obj in table_objects if obj.key[1] in self.computed_late]
        nodes += [(earlyviews.EMPTY_MATVIEW, r.oid) for r in relations if r.oid in self.early.matviews]
        nodes += [obj.node for obj in functions if obj.node in after_tables and obj.node not in self.late]
        self.before = ordering.order(nodes, self.graph)
        self._find_paths(conn, parts, session_path)

    def _find_paths(self, conn: psycopg.Connection[Any], parts: dict[Key, Node], session_path: list[str]) -> None:
        """Create each object whose expressions resolve a name through ``search_path`` with the schemas it
        needs in the path, after ``pg_catalog`` (:mod:`.searchpaths`), and load the rows of each table
        that evaluates such an expression while ``COPY`` reads them under that path too.

        Some constructs name no operator the server could print qualified (``a IS DISTINCT FROM b``,
        ``NULLIF(a, b)``, ``CASE a WHEN b``): under the dump's empty path, ``citext`` columns compared so
        fall back to ``text``'s operator through the cast, and a trigger's case-insensitive ``WHEN`` turns
        case-sensitive (``pg_dump`` has the same fault). A function whose body names its neighbours
        unqualified fails to run at all. ``pg_catalog`` first keeps every other name the one the
        definition names.
        """
        writers: dict[Node, SchemaObject] = dict(self.by_node)
        writers.update((obj.node, obj) for group in (self.views, self.rules, self.triggers, self.policies,
                                                     self.statistics, self.late_checks) for obj in group)
        paths: dict[Node, set[str]] = {}
        operators_used = fetch(conn, """
                SELECT c.relname, d.objid, array_agg(DISTINCT n.nspname)
                FROM pg_catalog.pg_depend d
                JOIN pg_catalog.pg_class c ON c.oid = d.classid
                JOIN pg_catalog.pg_operator o ON o.oid = d.refobjid
                JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
                WHERE d.refclassid = 'pg_catalog.pg_operator'::pg_catalog.regclass AND n.nspname <> 'pg_catalog'
                GROUP BY c.relname, d.objid""")
        for catalog, oid, schemas in operators_used + searchpaths.function_body_schemas(conn, session_path):
            obj = self.registry.objects.get((catalog, oid))
            node = obj.node if obj is not None and obj.node in writers else parts.get((catalog, oid))
            if node is not None:
                paths.setdefault(node, set()).update(schemas)
        # COPY computes generated columns (their defaults are the table's node) and checks domains.
        for relid, keys in searchpaths.domains_checked_by_copy(conn).items():
            for key in keys:
                obj = self.registry.objects.get(key)
                node = obj.node if obj is not None and obj.node in writers else parts.get(key)
                if node is not None and node in paths:
                    paths.setdefault(("table", relid), set()).update(paths[node])
        # A query on a table plans its indexes' expressions (searchpaths.table_query_paths): a materialized
        # view's rows and a foreign key's validation, which read tables after their indexes exist, are read
        # under those tables' paths.
        table_paths = searchpaths.table_query_paths(conn, session_path)
        matviews = {relation.oid for relation in self.relations if relation.kind == "m"}
        for view, read in searchpaths.relations_read(conn).items():
            obj = self.registry.objects.get(("pg_class", view))
            if view in matviews and obj is not None and obj.node in writers:
                for table in read & table_paths.keys():
                    paths.setdefault(obj.node, set()).update(table_paths[table])
        #: Per object (a column default's node too, which the dumper writes itself): the path to create it in.
        self.operator_paths = {node: ", ".join(["pg_catalog", *(self.q(schema) for schema in sorted(schemas))])
                               for node, schemas in paths.items()}
        for node, path in self.operator_paths.items():
            if node in writers and writers[node].kind != "operator" and writers[node].create:
                writers[node].create = under_path(writers[node].create, path)
            if node in self.late_keys:
                self.late_keys[node] = under_path(self.late_keys[node], path)
        self.keys.keys = [(node, under_path(statement, self.operator_paths[node]) if node in self.operator_paths
                           else statement) for node, statement in self.keys.keys]
        foreign = []
        for statement, tables_of_key in zip(self.keys.foreign, self.keys.foreign_tables, strict=True):
            schemas = {schema for table in tables_of_key for schema in table_paths.get(table, ())}
            path = ", ".join(["pg_catalog", *(self.q(schema) for schema in sorted(schemas))])
            foreign.append(under_path(statement, path if schemas else None))
        self.keys.foreign = foreign

    def copy_path(self, table: Table) -> str | None:
        """The path a table's rows load under (see :meth:`_find_paths`), or None for the dump's empty one."""
        return self.operator_paths.get(("table", table.oid))

    def _table(self, table: Table, by_oid: dict[int, Table], identity: dict[tuple[int, int], Sequence],
               replayed: str | None) -> SchemaObject:
        name = self.q.qualified(table.schema, table.name)
        keyword = "FOREIGN TABLE" if table.kind == "f" else "TABLE"
        statements = replayed if replayed is not None else tables.create_table(self.q, table, by_oid, identity)
        create = tables.in_tablespace(table.tablespace, statements)
        return SchemaObject(("pg_class", table.oid), "table", keyword, name, create, table.owner, table.acl,
                            f"TABLE {name}")

    def _view(self, relation: Relation) -> SchemaObject:
        name = self.q.qualified(relation.schema, relation.name)
        options = f" WITH ({', '.join(relation.reloptions)})" if relation.reloptions else ""
        body = relation.definition.strip().rstrip(";")
        if relation.kind == "m":
            create = self._matview(relation, relation.populated and relation.oid not in self.fill_as_owner)
            keyword = "MATERIALIZED VIEW"
        else:
            create = f"CREATE VIEW {name}{options} AS\n{body};\n"
            create += "".join(f"ALTER VIEW {name} ALTER COLUMN {self.q(column)} SET DEFAULT {expression};\n"
                              for column, expression, oid in relation.defaults
                              if self.registry.kept(("pg_attrdef", oid)))
            keyword = "VIEW"
        return SchemaObject(("pg_class", relation.oid), "view", keyword, name, create, relation.owner, relation.acl,
                            f"TABLE {name}")

    def _matview(self, relation: Relation, populated: bool) -> str:
        name = self.q.qualified(relation.schema, relation.name)
        options = f" WITH ({', '.join(relation.reloptions)})" if relation.reloptions else ""
        using = f" USING {self.q(relation.access_method)}" if relation.access_method else ""
        body = relation.definition.strip().rstrip(";")
        data = "WITH DATA" if populated else "WITH NO DATA"
        settings = "".join(tables.column_settings(self.q, name, column) for column in relation.columns)
        create = f"CREATE MATERIALIZED VIEW {name}{using}{options} AS\n{body}\n{data};\n"
        return tables.in_tablespace(relation.tablespace,
                                    (self.as_source(create) if populated else create)
                                    + settings)

    def _early_views(self, relations: list[Relation], selects: dict[int, str]) -> None:
        """The early parts of the views the rows need (:mod:`.earlyviews`), and what replaces them after the
        data: the view's definition, or the materialized view's rows."""
        for relation in relations:
            view = self.registry.objects.get(("pg_class", relation.oid))
            if view is None or relation.oid not in self.early.placeholders | self.early.matviews:
                continue
            name = view.name
            if relation.kind == "m":
                part = SchemaObject(view.key, earlyviews.EMPTY_MATVIEW, view.keyword, name,
                                    self._matview(relation, populated=False))
                view.create = self.as_source(f"REFRESH MATERIALIZED VIEW {name};\n") if relation.populated and (
                    relation.oid not in self.fill_as_owner or relation.oid in self.filled_early) else ""
            else:
                part = SchemaObject(view.key, earlyviews.PLACEHOLDER, view.keyword, name,
                                    f"CREATE VIEW {name} AS\n{selects.get(relation.oid, 'SELECT')};\n")
                view.create = "CREATE OR REPLACE VIEW " + view.create.removeprefix("CREATE VIEW ")
            self.by_node[part.node] = part

    def _views_read_by(self, nodes: list[Node]) -> set[int]:
        """The views and materialized views ``nodes`` need, directly or through what they need."""
        seen: set[Node] = set()
        while nodes:
            node = nodes.pop()
            if node not in seen:
                seen.add(node)
                nodes.extend(self.graph.needs.get(node, ()))
        return {oid for kind, oid in seen if kind == "view"}

    def _calls(self, node: Node, functions: set[Node]) -> bool:
        """Whether ``node`` needs one of ``functions``, directly or through what it needs."""
        seen: set[Node] = set()
        nodes = [node]
        while nodes:
            current = nodes.pop()
            if current in functions:
                return True
            if current not in seen:
                seen.add(current)
                nodes.extend(self.graph.needs.get(current, ()))
        return False

    def _describe(self, node: Node) -> str:
        """An object in messages; a view's early part is named as the view."""
        if node[0] in (earlyviews.PLACEHOLDER, earlyviews.EMPTY_MATVIEW):
            node = ("view", node[1])
        obj = next((o for o in self.registry.objects.values() if o.node == node), None)
        return obj.describe() if obj is not None else f"{node[0]} {node[1]}"

    # -- writing -------------------------------------------------------------------------------------

    def write_before_data(self, w: Output) -> None:
        current = ""
        for node in self.before:
            if _TITLES[node[0]] != current:
                current = _TITLES[node[0]]
                w.section(current)
            if node[0] == "shell":
                w.sql(f"CREATE TYPE {self.by_node[('type', node[1])].name};\n")
            else:
                w.sql(self.by_node[node].create)

    def write_after_data(self, w: Output) -> None:
        w.section("Constraints and indexes")
        for node, statement in self.keys.keys:
            if node not in self.late_keys:
                w.sql(statement)
        for statement in self.keys.attach + self.keys.replica_identity:
            w.sql(statement)
        w.section("Foreign keys")
        for statement in self.keys.foreign:
            w.sql(statement)
        w.section("Domain constraints checked after the rows")
        for check in self.late_checks:
            w.sql(check.create)
        for node, statement in self.validations:
            w.sql(under_path(statement, self.operator_paths.get(node)))
        self._views_and_rules(w)
        for title, objects in (("Statistics objects", self.statistics), ("Triggers", self.triggers)):
            w.section(title)
            for obj in objects:
                w.sql(obj.create)
        w.section("Row security")
        for table in self.tables:
            name = self.q.qualified(table.schema, table.name)
            if table.row_security:
                w.sql(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY;\n")
            if table.force_row_security:
                w.sql(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY;\n")
        for obj in self.policies:
            w.sql(obj.create)
        w.section("Publications")
        for obj in self.publications:
            w.sql(obj.create)

    def _views_and_rules(self, w: Output) -> None:
        """Views and materialized views, rules, and in one order with them the objects that need a view."""
        late = [node for node in self.by_node if node in self.late]
        by_node = {obj.node: obj for obj in self.views + self.rules}
        # A materialized view computed by such a function (which may read another one) after the others.
        computed = [obj.node for obj in self.views
                    if obj.keyword == "MATERIALIZED VIEW" and self._calls(obj.node, self.may_read)]
        nodes = ([obj.node for obj in self.views if obj.node not in computed] + computed + late
                 + list(self.late_keys) + [obj.node for obj in self.rules])
        titles = {"view": "Views and materialized views", "rule": "Rules", "check": "Constraints and indexes that "
                  "need a view", "constraint": "Constraints and indexes that need a view",
                  "index": "Constraints and indexes that need a view"}
        current = ""
        for node in ordering.order(nodes, self.graph):
            title = titles.get(node[0], "Objects that need a view")
            if title != current:
                current = title
                w.section(title)
            if node in self.late_keys:
                w.sql(self.late_keys[node])
                continue
            obj = by_node.get(node) or self.by_node[node]
            w.sql(obj.create)
            if node[0] == "view" and node[1] in self.fill_as_owner:
                self.refreshes.append(under_path(self.as_source(f"REFRESH MATERIALIZED VIEW {obj.name};\n"),
                                                 self.operator_paths.get(node)))
            for index in self.keys.view_indexes.get(node[1], []) if node[0] == "view" else []:
                if self.registry.kept(index.key):
                    self.registry.register([index])
                    w.sql(index.create)


    def write_matview_rows(self, w: Output) -> None:
        """The rows of the materialized views :attr:`fill_as_owner` holds, in the order they were created
        (one may read another). Row security is on for them, as it was where their owners filled them: off,
        a query that policies apply to fails instead."""
        if not self.refreshes:
            return
        w.section("Rows of materialized views, computed as their owners")
        w.sql("SET row_security = on;\n" + "".join(self.refreshes) + "SET row_security = off;\n")


def under_path(statement: str, path: str | None) -> str:
    """``statement`` run with ``search_path`` set to ``path``, and the dump's empty path set again after it
    (``statement`` as it is without a path)."""
    if path is None:
        return statement
    return f"SET search_path = {path};\n{statement}SELECT pg_catalog.set_config('search_path', '', false);\n"
