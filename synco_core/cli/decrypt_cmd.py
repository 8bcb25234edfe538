"""``synco decrypt``: open one age artifact by hand with a session key or passphrase.

The key may come from ``SYNCO_KEY`` instead of ``--key`` so it need not sit in the shell history. The
output is written through :func:`synco_core.fsutil.user_output`, so a wrong key, a damaged header or a
truncated payload leaves no output file behind (a damaged header is found before the output is opened).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import BinaryIO

import click

from synco_core.age import decrypt_reader, parse_identity
from synco_core.age.stream import CHUNK_SIZE
from synco_core.cli.options import KeyType, LocalPath, debug_option, given_key, interactive, key_file_option
from synco_core.errors import ConfigError, SyncoError
from synco_core.fsutil import user_output
from synco_core.redaction import register_secret


def _decrypt(key: str, inp: BinaryIO, output: Path | None) -> None:
    reader = decrypt_reader(inp, [parse_identity(key)])
    with reader:
        if output is None:
            # Chunk-sized reads hand over each authenticated chunk without copying it.
            shutil.copyfileobj(reader, sys.stdout.buffer, CHUNK_SIZE)
        else:
            # user_output (atomic_output) syncs before the rename but starts write-back on the way, so the durability
            # costs little over `age -d`, which does not sync (benchmarks/bench_age.py compares both). The
            # plaintext is for its owner alone (mode 0600), whatever the umask.
            with user_output(output, private=True) as out:
                shutil.copyfileobj(reader, out, CHUNK_SIZE)


@click.command("decrypt")
@click.option(
    "--key", envvar="SYNCO_KEY", show_envvar=True, type=KeyType(),
    help="The session key (AGE-SECRET-KEY-1...) or passphrase.",
)
@key_file_option
@click.option("-o", "--output", type=LocalPath(path_type=Path), help="Write here instead of stdout.")
@click.argument("source", metavar="IN", type=LocalPath(dir_okay=False, allow_dash=True, path_type=Path))
@debug_option
def command(key: str | None, key_file: Path | None, output: Path | None, source: Path) -> None:
    """Decrypt the age file IN (an artifact of a session) with KEY; '-' reads standard input."""
    if key == "-" and str(source) == "-":
        raise click.UsageError("--key - and IN - both read standard input: give the key with --key-file or SYNCO_KEY")
    key = given_key(key, key_file, name="--key", prompt="Key or passphrase")
    if not key and interactive():
        key = click.prompt("Key or passphrase", hide_input=True, err=True)
    if not key:
        raise ConfigError("no key: pass --key or --key-file, set SYNCO_KEY, or run it in a terminal to be asked")
    register_secret(key)
    if str(source) == "-":
        _decrypt(key, sys.stdin.buffer, output)
        return
    if output is not None and output.exists() and output.resolve() == source.resolve():
        raise ConfigError("the output would overwrite the input file")
    try:
        inp = source.open("rb")
    except OSError as exc:
        raise SyncoError(f"cannot read {source}: {exc.strerror or exc}") from None
    with inp:
        _decrypt(key, inp, output)
