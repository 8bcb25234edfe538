"""``synco plugins``: the installed plugins, their versions and hooks, and the ones that failed."""

from __future__ import annotations

import json
from typing import Any

import click

from synco_core.cli.options import debug_option
from synco_core.plugins import get_plugin_manager


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@debug_option
def command(as_json: bool) -> None:
    """List installed plugins (built-in ones too), their hooks, plugins that failed to load, and ones left out."""
    # The failures are part of this listing, so they are not logged as warnings as well.
    manager = get_plugin_manager(report_failures=False)
    plugins: list[dict[str, Any]] = [
        {
            "name": info.name,
            "distribution": info.distribution,
            "version": info.version,
            "builtin": info.builtin,
            "hooks": info.hooks,
        }
        for info in sorted(manager.infos.values(), key=lambda i: (not i.builtin, i.name))
    ]
    failed = [{"name": f.name, "distribution": f.distribution, "error": f.reason} for f in manager.failures]
    disabled = [{"name": s.name, "distribution": s.distribution, "reason": s.reason} for s in manager.skipped]
    if as_json:
        click.echo(json.dumps({"plugins": plugins, "failed": failed, "disabled": disabled}, indent=2))
        return
    for plugin in plugins:
        kind = "built-in" if plugin["builtin"] else plugin["distribution"]
        click.echo(f"{plugin['name']:<16} {plugin['version']:<10} {kind:<16} {', '.join(plugin['hooks'])}")
    for failure in failed:
        click.echo(f"{failure['name']:<16} FAILED     {failure['distribution']:<16} {failure['error']}")
    for skipped in disabled:
        click.echo(f"{skipped['name']:<16} DISABLED   {skipped['distribution']:<16} {skipped['reason']}")
