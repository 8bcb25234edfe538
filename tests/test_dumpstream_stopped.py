"""A pull stopped (SIGTERM, SIGHUP, Ctrl-C) while the dump streams in and loads early must end at once.

The stop is raised in the main thread, which is the one that hands the channel's frames to the
:class:`~synco_core.pull.dumpstream.DumpStream`: it can land in the ``put`` of any chunk or of the end
marker, including a ``put`` that waits on the full queue of a decoder that lags behind the network. A
hang was seen once: the end marker's ``put`` was cut short after the stream had been marked closed, so the
pull's clean-up (``discard``) put no marker of its own and waited for the decoder, the decoder for the
marker, and the early load for more of the dump, for ever, with the install lock held.

Here the stop is injected into the ``put`` at each of those points (deterministically, no signal timing),
and the clean-up must end the decoder and fail the reader (the load) within seconds, leaving no file.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from test_dumpstream import Artifact, artifact, target  # noqa: F401 - fixtures shared with the stream's tests

from synco_core.cli.termination import Terminated
from synco_core.errors import TransferError
from synco_core.pull import dumpstream
from synco_core.pull.dumpstream import DumpStream

#: How long a stopped stream may take to let every thread go.
PROMPT = 5.0


def _stop_in_put(stream: DumpStream, lands: str, after: int) -> None:
    """Raise the stop once, in the main thread's ``put`` of the chosen item (before the item is queued)."""
    chunks = stream._chunks
    original = chunks.put
    seen = {"data": 0}

    def put(item: Any, block: bool = True, timeout: float | None = None) -> None:
        if lands == "end" and isinstance(item, dumpstream._End) and item.file_set is not None:
            raise Terminated(signal.SIGTERM)
        if lands == "data" and isinstance(item, bytes):
            seen["data"] += 1
            if seen["data"] == after:
                raise Terminated(signal.SIGTERM)
        original(item, block, timeout)

    chunks.put = put  # type: ignore[method-assign]


@pytest.mark.parametrize("lands, after", [("end", 0), ("data", 1), ("data", 3)])
def test_a_stop_in_the_streams_handoff_ends_every_thread(artifact: Artifact, target: Path,  # noqa: F811
                                                         lands: str, after: int) -> None:
    stream = DumpStream(target)
    stream.open(artifact.announcement())
    outcome: dict[str, BaseException | bytes] = {}

    def load() -> None:  # The early install's reader.
        try:
            with stream.reader() as reader:
                outcome["read"] = reader.read()
        except BaseException as exc:
            outcome["read"] = exc

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    _stop_in_put(stream, lands, after)
    with pytest.raises(Terminated):
        # The main thread, reading frames: the stop lands in one of its puts.
        for chunk in artifact.chunks:
            stream.data(chunk)
        stream.close({"fileSet": artifact.file_set.to_json()})
    # The pull's clean-up, as pull/run.py runs it on the way out.
    cleanup = threading.Thread(target=stream.discard, daemon=True)
    cleanup.start()
    cleanup.join(PROMPT)
    assert not cleanup.is_alive(), "discard waited for a decoder that waits for an end marker never put"
    loader.join(PROMPT)
    assert not loader.is_alive(), "the early load waited for more of a stream that had stopped"
    assert isinstance(outcome["read"], TransferError), outcome["read"]
    assert stream.failed
