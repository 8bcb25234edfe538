"""``synco detect``: what ``serve`` would do in a directory, with the password masked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from synco_core.cli.options import LocalPath, NamesType, debug_option
from synco_core.databases import named_sets
from synco_core.detection import detect, list_file_sets
from synco_core.dumpoptions import resolve_session_dump
from synco_core.values import DumpOptions, FileSet, FileSetOptions, Framework

#: ``Framework.settings`` key under which a plugin lists the databases it does not dump (name -> masked
#: URL or why it is unusable), so ``detect`` can show them.
OTHER_CONNECTIONS = "connections"


def other_connections(framework: Framework) -> dict[str, str]:
    """The framework's other database connections (never dumped), as the plugin listed them."""
    listed = framework.settings.get(OTHER_CONNECTIONS)
    if not isinstance(listed, dict):
        return {}
    return {str(name): str(value) for name, value in listed.items()}


def describe(framework: Framework, file_sets: list[FileSet], options: DumpOptions) -> dict[str, Any]:
    """A JSON-ready description of a detected project (no secrets); ``options`` are its dump options."""
    return {
        "framework": framework.name,
        "plugin": framework.plugin,
        "projectDir": str(framework.project_dir),
        "reason": framework.reason,
        "configSource": framework.config_source,
        "database": framework.database.masked() if framework.database else None,
        "otherConnections": other_connections(framework),
        # The named databases serve dumps when --only names their set (dbDump-<name>).
        "namedDatabases": {set_name: database.masked() for set_name, database in named_sets(framework).items()},
        "webRoot": str(framework.web_root) if framework.web_root else None,
        "publicPrefixes": list(framework.public_prefixes),
        "dump": {
            "excludeTables": list(options.exclude_tables),
            "where": dict(options.where),
            "sanitize": [f"{r.table}.{r.column}={r.shown()}" for r in options.sanitize],
            # Smart transfer (dropped by serve --all) and strict sanitising, set by framework plugins
            # and .synco.yml.
            "smartExcludeTables": list(options.smart_exclude_tables),
            "smartWhere": dict(options.smart_where),
            "keepNewest": {table: list(spec) for table, spec in options.keep_newest.items()},
            "strict": options.strict,
            "keep": list(options.keep),
        },
        "fileSets": [
            {
                "name": s.name,
                "kind": s.kind,
                "root": str(s.root) if s.root else None,
                "relativeBasePath": s.relative_base_path,
                "urlPrefix": s.url_prefix,
                "exclude": list(s.exclude),
                "regenerated": list(s.regenerated),
                "smartSkip": s.smart_skip,
                "skipped": s.skipped_reason,
                "description": s.description,
            }
            for s in file_sets
        ],
        "postInstall": [" ".join(cmd) for cmd in framework.post_install],
    }


@click.command("detect")
@click.argument("path", type=LocalPath(file_okay=False, path_type=Path), default=".")
@click.option("--framework", "framework_name", type=NamesType(), help="Use this framework plugin instead of guessing.")
@click.option("--all", "all_files", is_flag=True, help="Turn off the framework's smart filters.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@debug_option
def command(path: Path, framework_name: str | None, all_files: bool, as_json: bool) -> None:
    """Show what serve would use in PATH: framework, database (password masked), web root, file sets."""
    framework = detect(path, framework_name)
    file_sets = list_file_sets(framework, FileSetOptions(all=all_files))
    # As serve resolves them (plugin defaults for the tables there are, .synco.yml on top), before --all.
    options = resolve_session_dump(framework, check=False).configured
    info = describe(framework, file_sets, options)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"Framework:  {info['framework']} (plugin {info['plugin']}: {info['reason']})")
    db = info["database"]
    source = f"  [from {db['source']}]" if db and db["source"] else ""
    click.echo(f"Database:   {db['url'] if db else 'none'}{source}")
    for set_name, named in info["namedDatabases"].items():
        click.echo(f"Not dumped: {named['url']}  [serve --only {set_name}]")
    for name, url in info["otherConnections"].items():
        click.echo(f"Not dumped: {name}: {url}")
    click.echo(f"Web root:   {info['webRoot'] or 'none'}")
    dump = info["dump"]
    if dump["excludeTables"]:
        click.echo(f"No rows:    {', '.join(dump['excludeTables'])}")
    # What the smart transfer and row filters leave out ships unless --all: a profile that names them only here
    # would have the user believe their rows are sent.
    if dump["smartExcludeTables"]:
        click.echo(f"No rows:    {', '.join(dump['smartExcludeTables'])} (smart transfer; --all ships them)")
    for table, condition in dump["where"].items():
        click.echo(f"Rows where: {table}: {condition}")
    for table, condition in dump["smartWhere"].items():
        click.echo(f"Rows where: {table}: {condition} (smart transfer; --all ships every row)")
    for table, (column, count) in dump["keepNewest"].items():
        click.echo(f"Rows:       {table}: the newest {count} by {column}")
    for rule in dump["sanitize"]:
        click.echo(f"Sanitise:   {rule}")
    click.echo("File sets:" if file_sets else "File sets:  none")
    for s in info["fileSets"]:
        state = ""
        if s["skipped"]:
            state = f" (skipped: {s['skipped']})"
        elif s["smartSkip"]:
            state = " (smart skip; --all includes)"
        click.echo(f"  {s['name']:<20} {s['kind']:<8} {s['root'] or ''}{state}")
    for cmd in info["postInstall"]:
        click.echo(f"After install: {cmd}")
