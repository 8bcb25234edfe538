"""Options shared by several commands, as decorators, and the helpers that read them."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from synco_core.bounded import MAX_WAIT_SECONDS
from synco_core.errors import ConfigError
from synco_core.redaction import mask_url_passwords, printable

F = TypeVar("F", bound=Callable[..., Any])


class FiniteFloatRange(click.FloatRange):
    """click's FloatRange without ``nan`` and ``inf``, which pass its range checks (``nan`` compares false to
    every bound) and then overflow wherever the number is used (a ``timedelta``, a thread's wait)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


#: The longest name of one folder or file, and of a whole path, that Linux and macOS file systems take (bytes).
NAME_MAX = 255
PATH_MAX = 4095


class LocalPath(click.Path):
    """click's Path, refusing what no file system takes, before the command starts: an empty or blank name (an
    unset shell variable, ``-o "$OUT"``), a NUL byte, a name or a path longer than the system allows. Without
    this they reached ``open()`` halfway through the command (``ValueError: embedded null byte``), or an empty
    ``--project`` quietly meant the current folder. Names that are not UTF-8 stay allowed: they are real names."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = os.fspath(value) if isinstance(value, os.PathLike) else value
        raw = text if isinstance(text, bytes) else os.fsencode(text)
        if not raw.strip():
            self.fail("an empty name is not a path.", param, ctx)
        if b"\0" in raw:
            self.fail("a path cannot hold a NUL byte.", param, ctx)
        if len(raw) > PATH_MAX or any(len(part) > NAME_MAX for part in raw.split(b"/")):
            self.fail(f"longer than the file system allows ({NAME_MAX} bytes a name, {PATH_MAX} a path).", param, ctx)
        return super().convert(value, param, ctx)


class _Checked(click.ParamType[str]):
    """A text option checked when the command line is read, by the same function the command uses later: a
    malformed value is click's usage error (exit 2), before the command prints or starts anything."""

    def check(self, value: str) -> None:
        raise NotImplementedError

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        if not value.strip() or "\0" in value:
            self.fail(f"an empty value, or one holding a NUL byte, is not a valid {self.name}.", param, ctx)
        try:
            self.check(value)
        except ConfigError as exc:
            self.fail(str(exc), param, ctx)
        return value


class UrlType(_Checked):
    """A URL or a host name (``--base-url``, ``--site-url``)."""

    name = "URL"

    def check(self, value: str) -> None:
        from synco_core.redaction import register_url_secrets
        from synco_core.urltext import split_url

        # Spaces around it (copied with the URL) are dropped where it is used, as they are here.
        value = value.strip()
        # A basic-auth password or a ?token= in it: hidden from messages and from the command line at once.
        register_url_secrets(value)
        split_url(value if "://" in value else "//" + value)


class ListenType(_Checked):
    """``HOST:PORT``, ``:PORT`` or ``PORT`` (``--listen``, ``--remote-listen``)."""

    name = "HOST:PORT"

    def check(self, value: str) -> None:
        from synco_core.serve.server import parse_listen

        parse_listen(value)


class SessionIdType(_Checked):
    """``serve --id``: what the session folder's name may hold."""

    name = "ID"

    def check(self, value: str) -> None:
        from synco_core.wire import WireFormatError, session_folder_name

        try:
            session_folder_name(value)
        except WireFormatError as exc:
            raise ConfigError(str(exc)) from None


class KeyType(_Checked):
    """A session key or passphrase (``receive KEY``, ``decrypt --key``, ``SYNCO_KEY``): text. Never quoted."""

    name = "key"

    def check(self, value: str) -> None:
        from synco_core.cmdline import hide
        from synco_core.localenames import typed_text
        from synco_core.redaction import register_secret

        if value != "-":
            # Out of the command line other users see as soon as it is read (the bytes typed, whatever the
            # locale), and registered as the text it stands for.
            hide(value)
        try:
            text = typed_text(value)
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(f"the {self.name} holds bytes that are not text in this terminal's encoding") from None
        if value != "-":
            register_secret(text)
            register_secret(text.strip())


class PassphraseType(KeyType):
    """``serve --password`` (and ``SYNCO_PASSWORD``): a passphrase the receiving side can type again."""

    name = "passphrase"

    def check(self, value: str) -> None:
        super().check(value)
        from synco_core.localenames import typed_text

        text = typed_text(value)
        if text != text.strip():
            # receive and decrypt drop the spaces and line breaks that copying adds around a key.
            raise ConfigError("the passphrase starts or ends with a space or a line break, which receive ignores")


class NamesType(_Checked):
    """``--only SET[,SET]`` and ``--framework NAME``: at least one name. An empty one (``--only "$SETS"`` with
    nothing in it) would otherwise mean every set, or guessing the framework: the opposite of what was asked."""

    name = "name"

    def check(self, value: str) -> None:
        if not split_names(value):
            raise ConfigError("names nothing")


#: The most a key file (or a key on standard input) may hold: an age identity file with its comments.
KEY_FILE_LIMIT = 64 * 1024


def key_file_option(func: F) -> F:
    """``--key-file FILE``: the session key or passphrase from a file instead of the command line."""
    return click.option(
        "--key-file", type=LocalPath(dir_okay=False, path_type=Path), metavar="FILE",
        help="Read the key from FILE (one key; blank lines and '#' comments are skipped, as in an age identity "
             "file). FILE must be readable by its owner only (chmod 600), as ssh requires of a private key.",
    )(func)


def key_text(text: str, where: str) -> str:
    """The one key in ``text`` (a key file's or standard input's, read as UTF-8): blank lines and ``#`` comments
    skipped."""
    from synco_core.redaction import register_secret

    lines = [line.strip() for line in text.splitlines()]
    keys = [line for line in lines if line and not line.startswith("#")]
    for key in keys:
        register_secret(key)
    if not keys:
        raise ConfigError(f"{where} holds no key")
    if len(keys) > 1:
        raise ConfigError(f"{where} holds {len(keys)} lines that are not comments; it should hold one key")
    return keys[0]


def read_key_file(path: Path) -> str:
    """The key in ``path``, refused (in one line naming the file, never its content) when other users may read
    it, as ssh refuses a private key file with group or other permissions: the key was then no secret."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(f"cannot read the key file {printable(str(path))}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISFIFO(info.st_mode)):
            raise ConfigError(f"the key file {printable(str(path))} is not a file")
        if info.st_mode & 0o077:
            raise ConfigError(f"the key file {printable(str(path))} may be read or changed by other users (mode "
                              f"{stat.S_IMODE(info.st_mode):04o}); make it the owner's alone: chmod 600 "
                              f"{printable(str(path))}")
        data = file.read(KEY_FILE_LIMIT + 1)
    if len(data) > KEY_FILE_LIMIT:
        raise ConfigError(f"the key file {printable(str(path))} is too large to be a key file")
    return key_text(data.decode("utf-8", "surrogateescape"), f"the key file {printable(str(path))}")


def given_key(key: str | None, key_file: Path | None, *, name: str, prompt: str) -> str | None:
    """The key a command was given: from ``--key-file``, from standard input where ``key`` is ``-``, else
    ``key`` (an argument, or ``SYNCO_KEY``) as typed. ``name`` is how the key argument is written."""
    from synco_core.localenames import typed_text

    if key_file is not None:
        source = click.get_current_context().get_parameter_source(name.lstrip("-").lower())
        if key and source is not click.core.ParameterSource.ENVIRONMENT:
            raise click.UsageError(f"give the key once: as {name} or with --key-file")
        return read_key_file(key_file)
    if key == "-":
        return read_key_stdin(prompt)
    return typed_text(key) if key else key  # the text typed, whatever the locale (a prompt reads it so)


def read_key_stdin(prompt: str) -> str:
    """The key given as ``-``: from standard input (asked for, hidden, when it is a terminal)."""
    if sys.stdin.isatty():
        return str(click.prompt(prompt, hide_input=True, err=True))
    data = sys.stdin.buffer.read(KEY_FILE_LIMIT + 1)
    if len(data) > KEY_FILE_LIMIT:
        raise ConfigError("standard input is too large to be a key")
    return key_text(data.decode("utf-8", "surrogateescape"), "standard input")


def seconds_type(*, positive: bool = False, per: float = 1.0) -> FiniteFloatRange:
    """A duration of at most :data:`~synco_core.bounded.MAX_WAIT_SECONDS`, counted in units of ``per`` seconds
    (60: minutes); 0 is allowed unless ``positive``."""
    return FiniteFloatRange(min=0, min_open=positive, max=MAX_WAIT_SECONDS / per)


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


def max_delete_option(func: F) -> F:
    return click.option(
        "--max-delete", type=click.IntRange(0), metavar="N", default=None,
        help="With --delete (or --install): remove at most N local files over the whole run (every set, and "
             "what --install takes out of the project); more, and nothing is received, removed or installed. "
             "Without it, only emptying a set the server lists no file in is refused.")(func)


def no_terminate_option(func: F) -> F:
    return click.option(
        "--no-terminate", is_flag=True,
        help="PostgreSQL: do not end the other sessions on the database at the swap; wait for them to leave "
             "(at most 30 s), then stop, naming them, with nothing changed.")(func)


def other_project_option(func: F) -> F:
    return click.option(
        "--other-project", is_flag=True,
        help="Receive into a --target that holds another project's content (it becomes this one's).")(func)


def skip_requirements_option(func: F) -> F:
    return click.option(
        "--skip-requirements", is_flag=True,
        help="Install although the local database server lacks what the dump needs (a storage engine, an "
             "extension, a collation, max_allowed_packet, its version), which is refused otherwise; the load may "
             "then fail on it, the local database as it was.")(func)


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
        "--site-url", metavar="URL", type=UrlType(),
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


def asked(question: str) -> str:
    """``question`` as the terminal shows it: a URL in it (an address the user typed, ``https://user:pw@host/``
    or ``?token=``) never shows its credentials, nor any registered secret."""
    return mask_url_passwords(question)


def confirm(question: str) -> bool:
    """Ask on the terminal; False when there is none to ask on."""
    if not interactive():
        return False
    return click.confirm(asked(question), default=False, err=True)


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
        click.echo(printable(asked(line)), err=True)

    def ask(self, question: str) -> str:
        return str(click.prompt(asked(question), err=True))

    def confirm(self, question: str, default: bool = False) -> bool:
        return interactive() and click.confirm(asked(question), default=default, err=True)
