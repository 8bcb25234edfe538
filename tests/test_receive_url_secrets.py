"""A base URL's query and a URL's credentials: kept on every request receive makes, never shown.

A CDN or a presigned prefix gives the web root as ``https://cdn/?token=T``: every request receive makes under
it (meta, artifacts, indexes, packs, public files; in the worker processes too) must carry that query, while
no message, question, summary line or JSON shows it, and ``.synco.yml`` never gets it. The questions receive
asks and the reasons its summary gives quote URLs too (the host the user typed, with its password; a presigned
URL that failed, with its signature): none shows the credentials.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from test_transfer_support import (  # noqa: F401
    FixturePlugin,
    StaticBehaviour,
    _StaticHandler,
    fixture_app_fixture,
    publish,
    tree_digest,
)

from synco_core.cli import options as cli_options
from synco_core.cli.main import cli
from synco_core.cli.receive_cmd import print_plan, print_summary
from synco_core.install.receive import SessionAddress, receive_and_install
from synco_core.progress import Reporter
from synco_core.receive.plan import ReceivePlan, SetPlan
from synco_core.receive.session import ReceiveOptions, ReceiveSummary, SetOutcome
from synco_core.redaction import secrets_isolated
from synco_core.wire import Meta

SESSION = "synco-urlsecrets0123456789"
TOKEN = "tok-9Rz4Lm2Qw7Xe5Vb1"
PASSWORD = "pw-Hq3Zt8Kd6Ya1"
SIGNATURE = "sig4f0c9a7e21b3d5a6c8e0f1"


class _TokenHandler(_StaticHandler):
    """The static server, answering 403 to every request whose query does not hold ``token=TOKEN``."""

    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        if parse_qs(urlsplit(self.path).query).get("token") != [TOKEN]:
            body = b"token required"
            self.send_response(403)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


@pytest.fixture
def token_server(fixture_app: Path) -> Iterator[tuple[str, list[str]]]:
    """The fixture app's web root behind a token (HTTP/1.1 keep-alive, so packs are pipelined): (root URL
    without the token, the request targets seen)."""
    seen: list[str] = []
    handler = type("Handler", (_TokenHandler,), {"behaviour": StaticBehaviour(keep_alive=True), "seen": seen,
                                                 "protocol_version": "HTTP/1.1"})

    def factory(*args: Any, **kwargs: Any) -> _TokenHandler:
        return handler(*args, directory=str(fixture_app / "web"), **kwargs)  # type: ignore[no-any-return]

    server = ThreadingHTTPServer(("127.0.0.1", 0), factory)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", seen
    finally:
        server.shutdown()
        server.server_close()


def _files_text(folder: Path) -> str:
    return "\n".join(path.read_bytes().decode("latin-1") for path in folder.rglob("*") if path.is_file())


@pytest.mark.parametrize("form", ["base-url", "base-url-with-folder", "session-url"])
def test_every_request_of_a_receive_carries_the_base_urls_token_and_nothing_shows_it(
        fixture_app: Path, token_server: tuple[str, list[str]], tmp_path: Path, form: str) -> None:
    root, seen = token_server
    key = publish(fixture_app, SESSION)
    target = tmp_path / "dump"
    where = {
        "base-url": [SESSION, key.secret, "--base-url", f"{root}?token={TOKEN}"],
        "base-url-with-folder": [SESSION, key.secret, "--base-url", f"{root}{SESSION}/?token={TOKEN}"],
        "session-url": [f"{root}{SESSION}/?token={TOKEN}", key.secret],
    }[form]
    with secrets_isolated():
        plan = CliRunner().invoke(cli, ["receive", *where, "--target", str(target), "--plan", "--json"])
        result = CliRunner().invoke(cli, ["--debug", "receive", *where, "--target", str(target), "--all",
                                          "--jobs", "2"])
    assert plan.exit_code == 0, plan.output
    assert result.exit_code == 0, result.output
    assert (target / "dbDump.sqlite").read_bytes() == (fixture_app / "data.db").read_bytes()
    assert tree_digest(target / "private") == tree_digest(fixture_app / "private")
    fetched = {urlsplit(path).path for path in seen}
    # Meta, artifacts, indexes, packs and public files by their own URL were all asked for, each with the token.
    assert any(".pack-" in path for path in fetched) and any(path.startswith("/uploads/") for path in fetched)
    refused = [path for path in seen if parse_qs(urlsplit(path).query).get("token") != [TOKEN]]
    assert not refused, refused[:5]
    for text in (plan.output, result.output, _files_text(target)):
        assert TOKEN not in text


def test_a_token_in_a_failing_requests_message_is_masked(
        fixture_app: Path, token_server: tuple[str, list[str]], tmp_path: Path) -> None:
    root, _seen = token_server
    key = publish(fixture_app, SESSION)
    # The session is not there: the message names the URL tried, its token masked.
    with secrets_isolated():
        result = CliRunner().invoke(cli, ["receive", "synco-absentabsentabsent", key.secret, "--base-url",
                                          f"{root}?token={TOKEN}", "--target", str(tmp_path / "dump")])
    assert result.exit_code == 1
    assert TOKEN not in result.output
    assert "token=***" in result.output or "?token" not in result.output, result.output


class _Answers:
    """An interaction that types ``host`` when asked and records every question and line."""

    interactive = True

    def __init__(self, host: str) -> None:
        self.host = host
        self.said: list[str] = []

    def echo(self, line: str) -> None:
        self.said.append(line)

    def ask(self, question: str) -> str:
        self.said.append(question)
        return self.host

    def confirm(self, question: str, default: bool = False) -> bool:
        self.said.append(question)
        return True


def test_remembering_a_typed_host_neither_asks_with_nor_writes_its_credentials(
        fixture_app: Path, token_server: tuple[str, list[str]], tmp_path: Path) -> None:
    root, _seen = token_server
    key = publish(fixture_app, SESSION)
    project = tmp_path / "project"
    project.mkdir()
    typed = root.replace("http://", f"http://someone:{PASSWORD}@") + f"?token={TOKEN}"
    ui = _Answers(typed)
    with secrets_isolated():
        ok = receive_and_install(SessionAddress(SESSION, key.secret, project_dir=project),
                                 ReceiveOptions(target=tmp_path / "dump", all=True), None, ui,
                                 Reporter(enabled=False), lambda summary: None)
    assert ok
    remembered = [line for line in ui.said if line.startswith("Remember ")]
    assert remembered, ui.said
    for line in ui.said[1:]:
        assert PASSWORD not in line and TOKEN not in line, line
    written = (project / ".synco.yml").read_text()
    assert PASSWORD not in written and TOKEN not in written and "127.0.0.1" in written


URLS = [f"https://someone:{PASSWORD}@host.example/", f"https://cdn.example/a.jpg?X-Amz-Signature={SIGNATURE}",
        f"https://cdn.example/?token={TOKEN}"]
CREDENTIALS = (PASSWORD, SIGNATURE, TOKEN)


@pytest.mark.parametrize("url", URLS)
def test_no_question_synco_asks_shows_a_urls_credentials(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    shown: list[str] = []
    monkeypatch.setattr(cli_options, "interactive", lambda: True)
    monkeypatch.setattr(cli_options.click, "confirm", lambda text, **kw: shown.append(text) or True)
    monkeypatch.setattr(cli_options.click, "prompt", lambda text, **kw: shown.append(text) or "x")
    monkeypatch.setattr(cli_options.click, "echo", lambda text, **kw: shown.append(text))
    question = f"Remember {url} in .synco.yml?"
    with secrets_isolated():
        cli_options.confirm(question)
        ui = cli_options.TerminalInteraction()
        ui.confirm(question)
        ui.ask(question)
        ui.echo(question)
    assert len(shown) == 4
    for text in shown:
        assert not any(secret in text for secret in CREDENTIALS), text
        assert "***" in text


@pytest.mark.parametrize("url", URLS)
def test_summary_and_plan_reasons_never_show_a_urls_credentials(capsys: pytest.CaptureFixture[str],
                                                                 url: str) -> None:
    reason = f"unexpected HTTP 500 for {url}"
    outcome = SetOutcome("uploads", "PublicFiles", "partial", detail=reason, files_downloaded=1,
                         files_failed=[("a.jpg", reason)])
    with secrets_isolated():
        print_summary(ReceiveSummary(SESSION, Path("dump"), Meta(framework_name="Fixture"), [outcome]))
        plan = ReceivePlan(SESSION, Path("dump"), Meta(framework_name="Fixture"),
                           [SetPlan("uploads", "PublicFiles", "update", files=1, refused=[("a.jpg", reason)],
                                    detail=reason)])
        print_plan(plan)
        as_json = json.dumps(plan.to_json())
    out = capsys.readouterr()
    printed = out.out + out.err
    assert "a.jpg" in printed and "a.jpg" in as_json
    for text in (printed, as_json):
        assert not any(secret in text for secret in CREDENTIALS), text
