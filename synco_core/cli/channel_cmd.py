"""``synco _channel``: the remote half of ``synco pull`` (hidden; started by pull through ssh/docker/kubectl).

The work is :func:`synco_core.pull.source.run_channel_server`; this command only sets up the streams.
The real stdout is reserved for frames (docs/wire-format.md): it is moved to a private file descriptor and
descriptor 1 is pointed at stderr, so a stray ``print`` in a plugin cannot corrupt the stream. Stdin is
replaced by ``/dev/null`` for the same reason: a framework command run by a plugin (``php artisan``) must
not read the client's requests.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import BinaryIO

import click

from synco_core import __version__
from synco_core.cli.options import debug_option
from synco_core.pull.frames import PROTOCOL_VERSION
from synco_core.pull.source import capabilities, run_channel_server

log = logging.getLogger(__name__)


@contextlib.contextmanager
def _private_stdio() -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """The original stdin/stdout as binary streams for frames; fds 0 and 1 become /dev/null and stderr."""
    sys.stdout.flush()
    in_fd = os.dup(0)
    # Under main(), stdout_reserved has already moved the real stdout off descriptor 1, to sys.stdout's.
    try:
        out_fd = os.dup(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        out_fd = os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    reader = os.fdopen(in_fd, "rb", buffering=256 << 10)
    writer = os.fdopen(out_fd, "wb", buffering=256 << 10)
    try:
        yield reader, writer
    finally:
        with contextlib.suppress(OSError, ValueError):
            writer.flush()
        for stream in (writer, reader):
            with contextlib.suppress(OSError, ValueError):
                stream.close()


@click.command("_channel", hidden=True)
@click.option("--probe", is_flag=True, help="Print what this host can do as JSON and exit.")
@debug_option
def command(probe: bool) -> None:
    """Remote side of ``synco pull`` (speaks frames on stdin/stdout; not for interactive use)."""
    if probe:
        info = {"protocol": PROTOCOL_VERSION, "version": __version__, "capabilities": capabilities()}
        click.echo(json.dumps(info))
        return
    started = time.monotonic()
    with _private_stdio() as (reader, writer):
        status = run_channel_server(reader, writer)
    log.debug("channel finished after %.1fs with status %d", time.monotonic() - started, status)
    if status:
        sys.exit(status)
