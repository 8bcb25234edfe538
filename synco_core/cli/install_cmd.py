"""``synco install``: put a received session into the local instance."""

from __future__ import annotations

import json
from pathlib import Path

import click

from synco_core.cli.options import (
    LocalPath,
    NamesType,
    asker,
    debug_option,
    no_terminate_option,
    site_url_option,
    skip_requirements_option,
    split_names,
    yes_option,
)
from synco_core.databases import for_database_set
from synco_core.detection import detect
from synco_core.install.plan import check_engine, check_target, load_received, plan_install
from synco_core.install.requirements import NOTHING_CHANGED, check_requirements
from synco_core.install.run import install_received


@click.command("install")
@click.argument("folder", type=LocalPath(file_okay=False, path_type=Path), default="dump")
@click.option("--framework", "framework_name", type=NamesType(),
              help="The local framework plugin, instead of guessing.")
@click.option("--project", "project_dir", type=LocalPath(file_okay=False, path_type=Path), default=".",
              help="The local project directory (default: the current directory).")
@click.option("--only", multiple=True, type=NamesType(), help="Install only these sets (SET[,SET]).")
@yes_option
@click.option("--force-remote-target", is_flag=True, help="Allow a database that is not on this machine.")
@click.option("--post-install", is_flag=True, help="Run the framework's post-install steps afterwards.")
@click.option("--delete-excluded", is_flag=True,
              help="Remove what serve's exclude rules match in the replaced folders too (kept otherwise).")
@click.option("--max-delete", type=click.IntRange(0), metavar="N", default=None,
              help="Take at most N files out of the project's folders in all (refused, nothing installed, if more; "
                   "without it, only a set received empty is refused).")
@no_terminate_option
@skip_requirements_option
@click.option("--plan", "plan_only", is_flag=True, help="Show what would be replaced; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="With --plan: print JSON.")
@site_url_option
@debug_option
def command(folder: Path, framework_name: str | None, project_dir: Path, only: tuple[str, ...], yes: bool,
            force_remote_target: bool, post_install: bool, delete_excluded: bool, max_delete: int | None,
            no_terminate: bool, skip_requirements: bool, plan_only: bool, as_json: bool, site_url: str | None) -> None:
    """Install a received FOLDER (default ./dump) into the local project: database and files, all or nothing."""
    if plan_only:
        local = detect(project_dir, framework_name, side="destination")
        plan = plan_install(load_received(folder), local, split_names(only), max_delete=max_delete,
                            delete_excluded=delete_excluded)
        if as_json:
            click.echo(json.dumps(plan.to_json(remote_ok=force_remote_target), indent=2))
        else:
            for line in plan.describe(remote_ok=force_remote_target):
                click.echo(line)
        # The install's own refusals, after the plan: a plan of an install that would be refused is no success
        # for a script that checks the status. First those that need no database connection.
        for step in (s for s in plan.steps if s.kind == "database"):
            check_target(for_database_set(local, step.name), force_remote_target)
            check_engine(local, step.name, step.source.engine)
        # And the one that asks the local server (the plan asked it already for the current content): what
        # each dump needs and the server lacks is named as the install would name it.
        for step in (s for s in plan.steps if s.kind == "database"):
            check_requirements(local, step.name, step.source.requires, skip=skip_requirements,
                               nothing_done=NOTHING_CHANGED)
        return
    install_received(
        folder,
        project_dir,
        framework_name=framework_name,
        only=split_names(only),
        yes=yes,
        confirm=asker(),
        force_remote_target=force_remote_target,
        post_install=post_install,
        echo=lambda line: click.echo(line, err=True),
        site_url=site_url,
        delete_excluded=delete_excluded,
        max_delete=max_delete,
        terminate=not no_terminate,
        skip_requirements=skip_requirements,
    )
