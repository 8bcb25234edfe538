"""Locating the server from what a user types, and waiting for a session that is still being built."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from test_transfer_support import fixture_app_fixture, publish, static_server  # noqa: F401

from synco_core.cli.main import cli
from synco_core.errors import TransferError
from synco_core.receive import DirectoryTransport, ReceiveOptions, receive_session
from synco_core.receive.locate import candidate_urls, configured_hosts, remember_host
from synco_core.serve import SessionFolder, SessionKey
from synco_core.wire import Meta


def test_candidate_urls() -> None:
    assert candidate_urls("example.com", ["/_Resources"]) == [
        "https://example.com/", "https://example.com/_Resources/", "http://example.com/",
        "http://example.com/_Resources/", "https://www.example.com/", "https://www.example.com/_Resources/",
        "http://www.example.com/", "http://www.example.com/_Resources/",
    ]
    assert candidate_urls("https://staging.example.com/app") == ["https://staging.example.com/app/"]
    # A password goes over https only, unless the user writes http:// (tests/security/test_requests.py).
    assert candidate_urls("user:pw@staging.example.com") == ["https://user:pw@staging.example.com/"]
    assert candidate_urls("http://user:pw@staging.example.com") == ["http://user:pw@staging.example.com/"]
    assert candidate_urls("  ") == []
    # A typed www. also tries the bare domain; port, path and credentials stay as typed.
    assert candidate_urls("www.example.com", ["/_Resources"]) == [
        "https://www.example.com/", "https://www.example.com/_Resources/", "http://www.example.com/",
        "http://www.example.com/_Resources/", "https://example.com/", "https://example.com/_Resources/",
        "http://example.com/", "http://example.com/_Resources/",
    ]
    assert candidate_urls("www.shop.example.co.uk:8443/app") == [
        "https://www.shop.example.co.uk:8443/app/", "http://www.shop.example.co.uk:8443/app/",
        "https://shop.example.co.uk:8443/app/", "http://shop.example.co.uk:8443/app/",
    ]
    assert candidate_urls("www.user:pw@WWW.Example.com") == [
        "https://www.user:pw@WWW.Example.com/", "https://www.user:pw@example.com/",
    ]
    assert candidate_urls("example.com/a@example.com")[2:] == ["https://www.example.com/a@example.com/",
                                                                "http://www.example.com/a@example.com/"]
    # www.localhost is a name of its own, not a www. in front of a domain.
    assert candidate_urls("www.localhost") == ["https://www.localhost/", "http://www.localhost/"]


def test_configured_and_remembered_hosts(tmp_path: Path) -> None:
    (tmp_path / ".synco.yml").write_text("framework: laravel\nreceive:\n  host: shop.example\n")
    assert configured_hosts(tmp_path) == ["shop.example"]
    remember_host(tmp_path, "https://user:secret@www.shop.example/")
    text = (tmp_path / ".synco.yml").read_text()
    assert "secret" not in text and "framework: laravel" in text
    assert configured_hosts(tmp_path) == ["https://www.shop.example/", "shop.example"]
    # Nor a credential in its query: .synco.yml is often committed.
    remember_host(tmp_path, "https://cdn.shop.example/?lang=de&token=Tok-in-yml-3Vz&X-Amz-Signature=ab#top")
    text = (tmp_path / ".synco.yml").read_text()
    assert "Tok-in-yml-3Vz" not in text and "X-Amz-Signature" not in text
    assert "https://cdn.shop.example/?lang=de#top" in configured_hosts(tmp_path)


def test_receive_waits_until_ready_and_times_out(tmp_path: Path) -> None:
    web = tmp_path / "web"
    key = SessionKey.generate()
    folder = SessionFolder(web / "synco-waiting", key.recipients)
    folder.create()
    folder.write_meta(Meta(state="Initializing", framework_name="Slow"))
    transport = DirectoryTransport(web)
    options = ReceiveOptions(target=tmp_path / "t", all=True, timeout=0.3, poll_interval=0.05)
    with pytest.raises(TransferError, match="not ready after"):
        receive_session(transport, "waiting", key.secret, options)

    def finish() -> None:
        time.sleep(0.3)
        folder.write_meta(Meta(state="Ready", framework_name="Slow"))

    thread = threading.Thread(target=finish)
    thread.start()
    options.timeout = 10
    summary = receive_session(transport, "waiting", key.secret, options)
    thread.join()
    assert summary.ok and summary.meta.framework_name == "Slow"


def test_cli_receive_finds_the_server_in_synco_yml(fixture_app: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    key = publish(fixture_app, "synco-fromconfig0123456789", only=("dbDump",))
    project = tmp_path / "laptop"
    project.mkdir()
    empty = tmp_path / "empty"
    empty.mkdir()
    with static_server(empty) as (missing_url, missing), static_server(fixture_app / "web") as (good_url, good):
        # A host of the list that does not have the session is skipped; nothing is asked (no terminal anyway).
        (project / ".synco.yml").write_text(yaml.safe_dump({"hosts": [missing_url, good_url]}))
        monkeypatch.chdir(project)
        result = CliRunner().invoke(cli, ["receive", "fromconfig0123456789", key.secret, "--all"])
    assert result.exit_code == 0, result.output
    assert missing.requests["/synco-fromconfig0123456789/meta.json.enc"] == 1
    assert good.requests["/synco-fromconfig0123456789/meta.json.enc"] >= 1
    assert (project / "dump" / "dbDump.sqlite").read_bytes() == (fixture_app / "data.db").read_bytes()
    assert "--base-url" not in result.output


def test_resources_prefix_is_tried_for_every_session(fixture_app: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A session under ``/_Resources`` of the site is found from the host alone, whatever the local project
    is (here none at all), as Go synco finds it; Go's ``hosts: [{baseUrl: ...}]`` form is read too."""
    key = publish(fixture_app, "synco-underresources01234", only=("dbDump",))
    site = tmp_path / "site"
    (site / "_Resources").mkdir(parents=True)
    (fixture_app / "web" / "synco-underresources01234").rename(site / "_Resources" / "synco-underresources01234")
    project = tmp_path / "laptop"
    project.mkdir()
    with static_server(site) as (url, behaviour):
        (project / ".synco.yml").write_text(yaml.safe_dump({"hosts": [{"baseUrl": url}]}))
        monkeypatch.chdir(project)
        result = CliRunner().invoke(cli, ["receive", "underresources01234", key.secret, "--all"])
    assert result.exit_code == 0, result.output
    assert behaviour.requests["/_Resources/synco-underresources01234/meta.json.enc"] >= 1
    assert (project / "dump" / "dbDump.sqlite").read_bytes() == (fixture_app / "data.db").read_bytes()


def test_a_server_that_refuses_connections_is_not_a_missing_session(tmp_path: Path) -> None:
    """Nothing listening at the address is said as such, not as "session ... not found"."""
    from synco_core.testing.services import refused_port

    key = SessionKey.generate()
    with refused_port() as port:
        result = CliRunner().invoke(cli, ["receive", "synco-nobodyhome0123456789", key.secret, "--base-url",
                                          f"http://127.0.0.1:{port}/", "--all", "--target", str(tmp_path / "t")])
    assert result.exit_code == 1
    line = result.output.strip()
    assert line.startswith("Error: cannot reach the server: no server answered (cannot reach http://127.0.0.1:"), line
    assert "Connection refused" in line and "not found" not in line and len(line.splitlines()) == 1
