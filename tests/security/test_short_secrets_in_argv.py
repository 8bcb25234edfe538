"""A URL's password or token of one to three characters leaves the command line other users see, as a longer one does.

Another user of the machine reads every process's command line (``ps``, ``/proc/PID/cmdline``). synco rewrites
the secrets it registers out of it, but :func:`~synco_core.redaction.register_secret` takes only values of four
characters or more (shorter ones would mask ordinary words in messages) and :func:`~synco_core.cmdline.hide`
only forms of three bytes or more (``***`` in a shorter one's place would not fit): ``synco db dump
mysql://root:Xq9@db/app`` showed ``Xq9`` to every user for the whole dump, and so did a ``--base-url`` with
``?token=k1`` or ``https://me:ab@host``. The credentials of every URL in the command line are now found by
their place in the URL, whatever their length, and replaced by at most as many ``*`` as they had bytes.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synco_core import age
from synco_core.cmdline import masked_argument
from synco_core.testing.services import unavailable


def _linux_proc() -> None:
    if not Path("/proc/self/cmdline").exists() or not sys.platform.startswith("linux"):
        unavailable("the command line is rewritten on Linux only (/proc)")


def _shown_while_connecting(args: list[str]) -> bytes:
    """The command line of ``synco ARGS`` as another user reads it once the command connects to the listener
    whose port stands for ``PORT`` in ``args`` (the command is past its start-up then)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        # A bound on the wait, not a measurement: the connection comes as soon as the command has started.
        server.settimeout(120)
        port = str(server.getsockname()[1])
        process = subprocess.Popen([sys.executable, "-m", "synco_core", *(a.replace("PORT", port) for a in args)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            connection, _ = server.accept()
            with connection:
                return Path(f"/proc/{process.pid}/cmdline").read_bytes()
        finally:
            process.kill()
            process.communicate()


@pytest.mark.parametrize("password", ["Q", "Zq", "Xq9", "é"])
def test_db_dump_hides_a_short_password_of_its_url(password: str, tmp_path: Path) -> None:
    _linux_proc()
    output = str(tmp_path / "dump.sql")
    shown = _shown_while_connecting(["db", "dump", f"mysql://someone:{quote(password)}@127.0.0.1:PORT/app",
                                     "-o", output])
    found = re.search(rb"someone:([^@]*)@127\.0\.0\.1", shown)
    assert found is not None and re.fullmatch(rb"\*+", found.group(1)), shown
    # The rest of the command line stays readable.
    assert output.encode() in shown and b"dump" in shown


def test_receive_hides_a_short_basic_auth_password_and_token_of_its_base_url(tmp_path: Path) -> None:
    _linux_proc()
    shown = _shown_while_connecting(["receive", "synco-0123456789abcdef01234567", age.generate_identity().to_string(),
                                     "--base-url", "http://me:pw@127.0.0.1:PORT/?token=k1", "--all", "--target",
                                     str(tmp_path / "out"), "--timeout", "60"])
    assert b"me:**@127.0.0.1" in shown and b"?token=**" in shown, shown


@settings(max_examples=200, deadline=None)
@given(password=st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc"), blacklist_characters="@/?#%"),
                        min_size=1, max_size=12),
       token=st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc"), blacklist_characters="&#'\"<>%"),
                     min_size=1, max_size=6),
       prefix=st.sampled_from(["", "--database-url=", "x "]))
def test_no_credential_of_a_url_survives_and_the_argument_never_grows(password: str, token: str,
                                                                        prefix: str) -> None:
    """The property the rewrite must keep: no byte of the password or the token where they stood, and never a
    longer argument (the kernel's memory for the command line is fixed)."""
    argument = f"{prefix}mysql://user:{password}@db.example:3306/app?x=1&api_key={token}&y=2".encode()
    masked = masked_argument(argument)
    assert len(masked) <= len(argument)
    expected = re.compile(rb"(.*)mysql://user:\*{1,3}@db\.example:3306/app\?x=1&api_key=\*{1,3}&y=2", re.DOTALL)
    found = expected.fullmatch(masked)
    assert found is not None and found.group(1) == prefix.encode(), masked
