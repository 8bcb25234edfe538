"""Fuzzing the control frames of ``synco pull``'s channel: the remote side is the server, and may be hostile."""

from __future__ import annotations

import pytest
from fuzzing import FUZZ, hostile_json_text, nested, only_synco_errors
from hypothesis import given

from synco_core.pull.frames import FramingError, decode_json


@FUZZ
@given(text=hostile_json_text)
def test_any_control_frame_is_read_or_refused_in_one_line(text):
    only_synco_errors(lambda: decode_json(b"R", text.encode("utf-8", "surrogatepass")))


@pytest.mark.parametrize("text", [nested(3000), nested(3000, "{"), '{"size": ' + "1" * 5000 + "}"])
def test_a_frame_nested_too_deep_or_with_too_long_a_number_is_a_framing_error(text):
    """decode_json caught JSONDecodeError only: RecursionError and the int parsing limit's ValueError ended
    the pull with a Python exception's name."""
    with pytest.raises(FramingError, match="malformed R frame: not JSON"):
        decode_json(b"R", text.encode())
