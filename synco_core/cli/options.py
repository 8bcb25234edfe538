"""Options shared by several commands, as decorators, and the helpers that read them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from synco_core.redaction import printable

F = TypeVar("F", bound=Callable[..., Any])


def debug_option(func: F) -> F:
    """``--debug`` on every command (it may also be given before the command name)."""

    def enable(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            from synco_core.cli.main import enable_debug

            enable_debug(ctx)

    return click.option(
        "--debug", is_flag=True, expose_value=False, is_eager=True, callback=enable,
        help="Show debug logs and tracebacks (secrets stay masked).",
    )(func)


def yes_option(func: F) -> F:
    return click.option("--yes", "-y", is_flag=True, help="Do not ask before replacing anything.")(func)


def skip_unsupported_option(func: F) -> F:
    return click.option(
        "--skip-unsupported", is_flag=True,
        help="Dump without the database objects synco cannot carry (and what depends on them) instead of "
             "refusing; they are named in a warning.",
    )(func)


def site_url_option(func: F) -> F:
    """``--site-url``: the local site's URL, for plugins that rewrite the source's URLs while installing."""
    return click.option(
        "--site-url", metavar="URL",
        help="The local site's URL; plugins that rewrite the source's URLs on install (WordPress) use it.",
    )(func)


def split_names(values: tuple[str, ...] | str | None) -> tuple[str, ...]:
    """``--only a,b --only c`` -> ("a", "b", "c")."""
    if not values:
        return ()
    if isinstance(values, str):
        values = (values,)
    return tuple(name.strip() for value in values for name in value.split(",") if name.strip())


def interactive() -> bool:
    """True when both stdin and stderr are terminals, so prompts can be answered."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def confirm(question: str) -> bool:
    """Ask on the terminal; False when there is none to ask on."""
    if not interactive():
        return False
    return click.confirm(question, default=False, err=True)


def asker() -> Callable[[str], bool] | None:
    """What to ask before a change: :func:`confirm` in a terminal, None without one (the change is then
    refused with the one message that names ``--yes``, whichever command it is)."""
    return confirm if interactive() else None


class TerminalInteraction:
    """:class:`synco_core.install.receive.Interaction` on stderr and the terminal (no questions without one)."""

    @property
    def interactive(self) -> bool:
        return interactive()

    def echo(self, line: str) -> None:
        # Lines of pull carry what the remote side said (progress, versions): never escape sequences.
        click.echo(printable(line), err=True)

    def ask(self, question: str) -> str:
        return str(click.prompt(question, err=True))

    def confirm(self, question: str, default: bool = False) -> bool:
        return interactive() and click.confirm(question, default=default, err=True)
