"""Issue 14, item 13: errors tell a dead session from a broken line.

When the server answers 404 (serve stopped, the session's time ran out) or what arrives fails
authentication, receive says so and never advises running the same command again; a refused connection
is reported as one, not as "session not found". Only an interrupted download advises running again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner
from crafted_session import CraftedServer, CraftedSession, Reply, error_lines, run_receive

from synco_core.cli.main import cli
from synco_core.testing.services import refused_port

RERUN = "run the same command again"


def test_a_session_that_is_gone_is_reported_as_gone(crafted: CraftedSession,
                                                    crafted_server: Callable[..., CraftedServer],
                                                    tmp_path: Path) -> None:
    server = crafted_server(tmp_path / "empty-web-root")
    result = run_receive(crafted, server.url, tmp_path / "t")
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert f"session {crafted.session_id} is not on the server" in line and "gone" in line, line
    assert RERUN not in result.output.lower()


def test_a_refused_connection_is_not_a_missing_session(crafted: CraftedSession, tmp_path: Path) -> None:
    with refused_port() as port:
        result = run_receive(crafted, f"http://127.0.0.1:{port}/", tmp_path / "t")
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert line.startswith("Error: cannot reach the server") and "refused" in line.lower(), line
    assert "not found" not in line and "not on the server" not in line


def test_artifacts_gone_during_the_receive(crafted: CraftedSession, crafted_server: Callable[..., CraftedServer],
                                           tmp_path: Path) -> None:
    """serve was stopped after the meta was read: the artifact answers 404."""
    crafted.ready(crafted.dump_set())
    (crafted.folder / "dump.sql.zst.enc").unlink()
    result = run_receive(crafted, crafted_server(crafted.web_root).url, tmp_path / "t")
    assert result.exit_code == 1, result.output
    assert "failed     dbDump" in result.output and "the session is gone from the server" in result.output
    assert "start serve again" in result.output.splitlines()[-1]
    assert RERUN not in result.output


def test_an_artifact_failing_authentication_says_so(crafted: CraftedSession,
                                                    crafted_server: Callable[..., CraftedServer],
                                                    tmp_path: Path) -> None:
    crafted.ready(crafted.dump_set(b"SELECT 1;\n" * 1000))
    artifact = crafted.folder / "dump.sql.zst.enc"
    data = bytearray(artifact.read_bytes())
    data[-5] ^= 1
    artifact.write_bytes(bytes(data))
    result = run_receive(crafted, crafted_server(crafted.web_root).url, tmp_path / "t")
    assert result.exit_code == 1, result.output
    assert "failed authentication" in result.output or "damaged" in result.output, result.output
    assert "was refused" in result.output.splitlines()[-1]
    assert RERUN not in result.output


def test_only_an_interrupted_download_advises_running_again(crafted: CraftedSession,
                                                            crafted_server: Callable[..., CraftedServer],
                                                            tmp_path: Path) -> None:
    crafted.ready(crafted.dump_set(b"SELECT 1;\n" * 10_000, compress=False))
    server = crafted_server(crafted.web_root)
    data = (crafted.folder / "dump.sql.zst.enc").read_bytes()
    server.reply(f"/{crafted.session_id}/dump.sql.zst.enc", Reply(body=data[:1000], length=len(data), times=1))
    result = run_receive(crafted, server.url, tmp_path / "t")
    assert result.exit_code == 1, result.output
    assert RERUN in result.output
    assert run_receive(crafted, server.url, tmp_path / "t").exit_code == 0


def test_a_session_that_disappears_while_being_prepared(crafted: CraftedSession,
                                                        crafted_server: Callable[..., CraftedServer],
                                                        tmp_path: Path) -> None:
    crafted.write_meta(crafted.meta_fields(state="Initializing") | {"fileSets": []})
    server = crafted_server(crafted.web_root)

    def stop_serving() -> None:
        time.sleep(0.5)
        (crafted.folder / "meta.json.enc").unlink()

    threading.Thread(target=stop_serving, daemon=True).start()
    result = CliRunner().invoke(cli, ["receive", crafted.session_id, crafted.key, "--base-url", server.url,
                                      "--target", str(tmp_path / "t"), "--all", "--timeout", "30"])
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert f"session {crafted.session_id} is gone" in line and "404" in line, line
    assert RERUN not in result.output
