"""A name in pull's ``REMOTE`` never becomes an option of the tool that makes the channel.

docker, docker compose and kubectl take the container, service or pod as a word of their argv, before the
command: a name starting with ``-`` was read as one of their options. ``kubectl://ns/--kubeconfig=...//app``
had kubectl load a kubeconfig of the URL's choosing, whose ``exec`` credential plugin ran a command on the
laptop (seen with kubectl 1.32: it runs the plugin before it finds that no pod is named), and
``--server=https://elsewhere`` would send the user's cluster credentials to another host;
``docker://--env-file=...`` read a laptop file into the container. No host, user, container, service, pod,
namespace or context name starts with ``-``, so every one that does is refused in one line naming it, before
any tool runs; this holds for the URL forms and for a ``remotes:`` mapping of ``.synco.yml`` alike.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pull_support import remote_environment, run_synco

#: Every name of every kind, as a URL and as a ``.synco.yml`` mapping, with one that starts with ``-``.
_CASES: list[tuple[str, str, dict[str, object]]] = [
    ("ssh://-oproxycommand=sh%20-c%20x/app", "-oproxycommand=sh -c x", {"type": "ssh", "host": "-oProxyCommand=x"}),
    ("ssh://-oProxyCommand=x@host/app", "-oProxyCommand=x", {"type": "ssh", "host": "h", "user": "-lroot"}),
    ("docker://--env-file=%2Fetc%2Fshadow/app", "--env-file=/etc/shadow",
     {"type": "docker", "container": "--privileged"}),
    ("docker-compose://--privileged/app", "--privileged", {"type": "docker-compose", "service": "-uroot"}),
    ("kubectl://ns/--kubeconfig=%2Ftmp%2Fk//app", "--kubeconfig=/tmp/k",
     {"type": "kubectl", "namespace": "ns", "pod": "--kubeconfig=/tmp/k"}),
    ("kubectl://ns/pod/--server=https:%2F%2Fevil//app", "--server=https://evil",
     {"type": "kubectl", "namespace": "ns", "pod": "web-0", "container": "--server=x"}),
    ("kubectl://-nx/pod//app", "-nx", {"type": "kubectl", "namespace": "--all-namespaces", "pod": "web-0"}),
    ("kubectl://ns/pod//app?context=--kubeconfig=k", "--kubeconfig=k",
     {"type": "kubectl", "namespace": "ns", "pod": "web-0", "context": "-x"}),
]


def _channel_calls(env: dict[str, str]) -> list[list[str]]:
    """The shims' calls, but kubectl's listing of its contexts (which tells a context from a namespace)."""
    log = Path(env["SYNCO_SHIM_LOG"])
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [call for call in calls if call[1:3] != ["config", "get-contexts"]]


def _one_line_refusal(stderr: str, name: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert repr(name) in lines[0] and "option" in lines[0], lines[0]


@pytest.mark.parametrize(("url", "name"), [(url, name) for url, name, _ in _CASES])
def test_a_url_name_starting_with_a_dash_is_refused_before_any_tool_runs(tmp_path: Path, url: str, name: str) -> None:
    env = remote_environment(tmp_path)
    url = url.replace("%2Ftmp%2Fk", str(tmp_path / "k").replace("/", "%2F"))
    name = name.replace("/tmp/k", str(tmp_path / "k"))
    result = run_synco(["pull", url, "--target", "out"], env, tmp_path)
    assert result.returncode == 1, result.stderr
    _one_line_refusal(result.stderr, name)
    assert _channel_calls(env) == []
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("entry", [entry for _, _, entry in _CASES], ids=lambda entry: "-".join(map(str, entry)))
def test_a_configured_name_starting_with_a_dash_is_refused_before_any_tool_runs(
        tmp_path: Path, entry: dict[str, object]) -> None:
    env = remote_environment(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    (project / ".synco.yml").write_text(json.dumps({"remotes": {"prod": {**entry, "path": "/app"}}}))
    result = run_synco(["pull", "prod", "--target", "out"], env, project)
    assert result.returncode == 1, result.stderr
    dashed = next(str(value) for key, value in entry.items() if key != "type" and str(value).startswith("-"))
    _one_line_refusal(result.stderr, dashed)
    assert _channel_calls(env) == []
    assert not (project / "out").exists()


def test_names_with_a_dash_inside_are_taken(tmp_path: Path) -> None:
    """Only a leading ``-`` makes a word an option: ``web-1``, ``my-ns`` and ``ctx-a`` are ordinary names."""
    from synco_core.pull.channel import channel_argv
    from synco_core.pull.remote import parse_remote_url

    remote = parse_remote_url("kubectl://my-ns/web-1/php-fpm//app?context=ctx-a", set)
    argv = channel_argv(remote, "true")
    assert argv[:argv.index("--")] == ["kubectl", "exec", "-i", "--context", "ctx-a", "-n", "my-ns", "web-1",
                                       "-c", "php-fpm"]
    assert os.path.basename(parse_remote_url("docker://web-1/app", set).host) == "web-1"


@pytest.mark.parametrize("path", ["-P", "-L", "-", "--", "-e", "-P/sub", "-@ x"])
def test_a_relative_path_starting_with_a_dash_is_a_folder_for_cd(tmp_path: Path, path: str) -> None:
    """``path: -P`` in ``.synco.yml`` ran ``cd -P``, which changes to the home folder: the pull read another
    application than the one configured (``-`` is the previous folder, ``-e`` an error)."""
    import subprocess

    from synco_core.pull.channel import cd_command

    (tmp_path / path).mkdir(parents=True)
    shown = subprocess.run(["sh", "-c", f"{cd_command(path)} && pwd -P"], cwd=tmp_path, capture_output=True,
                           text=True, env={**os.environ, "HOME": "/", "OLDPWD": "/"}, check=False)
    assert shown.stdout.strip() == str((tmp_path / path).resolve()), shown.stderr


_NUL_URLS = ["ssh://host/app%00x", "ssh://us%00er@host/app", "docker://w%00eb/app", "docker://web/app%00x",
             "docker-compose://php/a%00pp", "kubectl://ns/p%00od//app", "kubectl://ns/pod/c%00//app"]


@pytest.mark.parametrize("url", _NUL_URLS)
def test_a_nul_in_a_url_is_one_line_naming_it(tmp_path: Path, url: str) -> None:
    """A ``%00`` in the URL reached an argv as a NUL, and pull said only ``ValueError: embedded null byte``."""
    env = remote_environment(tmp_path)
    result = run_synco(["pull", url, "--target", "out"], env, tmp_path)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "NUL" in lines[0] and "ValueError" not in lines[0], result.stderr
    assert _channel_calls(env) == []


@pytest.mark.parametrize("key", ["host", "user", "path", "python", "synco", "ssh_options", "compose_options",
                                 "container", "namespace", "context", "command"])
def test_a_nul_in_a_configured_value_is_one_line_naming_its_key(tmp_path: Path, key: str) -> None:
    env = remote_environment(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    kind = {"compose_options": "docker-compose", "namespace": "kubectl", "context": "kubectl",
            "command": "command"}.get(key, "ssh")
    entry: dict[str, object] = {"type": kind, "host": "web", "namespace": "ns", key: "a\0b"}
    if key == "container":
        entry["type"] = "docker"
    (project / ".synco.yml").write_text(json.dumps({"remotes": {"prod": entry}}))
    result = run_synco(["pull", "prod", "--target", "out"], env, project)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "NUL" in lines[0] and key in lines[0], result.stderr
    assert _channel_calls(env) == []
