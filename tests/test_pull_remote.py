"""Parsing ``REMOTE``: the URL forms and the ``remotes:`` of ``.synco.yml``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from synco_core.errors import ConfigError
from synco_core.pull.channel import channel_argv, login_shell_command
from synco_core.pull.greeting import probe_command
from synco_core.pull.remote import REMOTE_KEYS, parse_remote_url, remote_from_config, resolve_remote


def no_contexts() -> set[str]:
    return set()


def contexts() -> set[str]:
    return {"prod", "gke_project_zone_cluster"}


@pytest.mark.parametrize(("url", "user", "host", "port", "path"), [
    ("ssh://deploy@example.com/var/www/app", "deploy", "example.com", None, "/var/www/app"),
    ("ssh://example.com:2222/srv/app", None, "example.com", 2222, "/srv/app"),
    ("ssh://example.com", None, "example.com", None, ""),
    ("ssh://u@[::1]:22/~/app", "u", "::1", 22, "~/app"),
    ("ssh://u@host/~", "u", "host", None, "~"),
    ("ssh://u@host/srv/my%20app", "u", "host", None, "/srv/my app"),
    ("ssh://u@[fe80::1%25eth0]:22/app", "u", "fe80::1%eth0", 22, "/app"),
    ("ssh://us%40er@host/~deploy/app", "us@er", "host", None, "~deploy/app"),
    ("ssh://us%25er@host/caf%C3%A9", "us%er", "host", None, "/café"),
])
def test_ssh_urls(url: str, user: str | None, host: str, port: int | None, path: str) -> None:
    remote = parse_remote_url(url, no_contexts)
    assert (remote.kind, remote.user, remote.host, remote.port, remote.path) == ("ssh", user, host, port, path)


def test_ssh_url_with_password_is_refused() -> None:
    with pytest.raises(ConfigError, match="no password"):
        parse_remote_url("ssh://u:secret@host/app", no_contexts)


@pytest.mark.parametrize(("url", "kind", "host", "path"), [
    ("docker://web/var/www/html", "docker", "web", "/var/www/html"),
    ("docker://web", "docker", "web", ""),
    ("docker-compose://php/app", "docker-compose", "php", "/app"),
])
def test_container_urls(url: str, kind: str, host: str, path: str) -> None:
    remote = parse_remote_url(url, no_contexts)
    assert (remote.kind, remote.host, remote.path) == (kind, host, path)


@pytest.mark.parametrize(("url", "known", "expected"), [
    # (context, namespace, pod, container, path)
    ("kubectl://shop/web-0/var/www", no_contexts, (None, "shop", "web-0", None, "/var/www")),
    ("kubectl://prod/shop/web-0/var/www", contexts, ("prod", "shop", "web-0", None, "/var/www")),
    ("kubectl://prod/shop/web-0/var/www", no_contexts, (None, "prod", "shop", None, "/web-0/var/www")),
    ("kubectl://shop/web-0/php//var/www", no_contexts, (None, "shop", "web-0", "php", "/var/www")),
    ("kubectl://prod/shop/web-0//var/www", contexts, ("prod", "shop", "web-0", None, "/var/www")),
    ("kubectl://prod/shop/web-0/php//var/www", no_contexts, ("prod", "shop", "web-0", "php", "/var/www")),
    ("kubectl://shop/web-0//", no_contexts, (None, "shop", "web-0", None, "")),
    ("kubectl://shop/web-0/app?container=php&context=dev", no_contexts, ("dev", "shop", "web-0", "php", "/app")),
])
def test_kubectl_urls(url: str, known: object, expected: tuple[object, ...]) -> None:
    remote = parse_remote_url(url, known)  # type: ignore[arg-type]
    assert (remote.context, remote.namespace, remote.host, remote.container, remote.path) == expected


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://host/app", "unsupported remote scheme"),
    ("production", "neither a URL"),
    ("docker:///app", "names no container"),
    ("kubectl://onlyns", "expected kubectl://"),
    ("kubectl://a/b/c/d/e//app", "before '//'"),
    ("ssh:///app", "names no host"),
    ("ssh://host:99999/app", "Port out of range"),
    ("ssh://host:0/app", "port 0"),
    ("ssh://[::1/app", "malformed: Invalid IPv6 URL"),
    ("ssh://ho st/app", "a space, a control character"),
    ("ssh://" + "a" * 70 + ".example/app", "invalid host name"),
])
def test_bad_urls_are_one_line_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_remote_url(url, no_contexts)
    assert "\n" not in str(info.value)


def test_named_remotes_from_synco_yml(tmp_path: Path) -> None:
    (tmp_path / ".synco.yml").write_text(
        "remotes:\n"
        "  production: ssh://deploy@example.com/var/www/app\n"
        "  staging:\n"
        "    url: ssh://deploy@staging.example.com:2222/srv/app\n"
        "    ssh_options: -i '~/.ssh/my key' -o ProxyJump=bastion\n"
        "    python: /usr/bin/python3.12\n"
        "    synco: upload\n"
        "  k8s:\n"
        "    type: kubectl\n"
        "    context: prod\n"
        "    namespace: web\n"
        "    pod: app-0\n"
        "    container: php\n"
        "    path: /var/www/app\n"
        "  compose:\n"
        "    type: docker-compose\n"
        "    service: php\n"
        "    compose_options: [-f, deploy/compose.yml]\n"
    )
    sub = tmp_path / "sub" / "dir"
    sub.mkdir(parents=True)
    production = resolve_remote("production", sub, no_contexts)
    assert (production.kind, production.user, production.host, production.path) == (
        "ssh", "deploy", "example.com", "/var/www/app")
    assert production.name == "production"
    staging = resolve_remote("staging", tmp_path, no_contexts)
    assert staging.port == 2222
    assert staging.ssh_options == ("-i", "~/.ssh/my key", "-o", "ProxyJump=bastion")
    assert (staging.python, staging.synco) == ("/usr/bin/python3.12", "upload")
    k8s = resolve_remote("k8s", tmp_path, no_contexts)
    assert (k8s.kind, k8s.context, k8s.namespace, k8s.host, k8s.container, k8s.path) == (
        "kubectl", "prod", "web", "app-0", "php", "/var/www/app")
    compose = resolve_remote("compose", tmp_path, no_contexts)
    assert (compose.kind, compose.host, compose.compose_options) == ("docker-compose", "php",
                                                                     ("-f", "deploy/compose.yml"))


def test_unknown_remote_lists_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / ".synco.yml").write_text("remotes:\n  production: ssh://h/app\n  staging: ssh://s/app\n")
    with pytest.raises(ConfigError, match=r"unknown remote 'prod' .*known remotes: production, staging"):
        resolve_remote("prod", tmp_path, no_contexts)


def test_unknown_remote_without_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no \.synco\.yml found"):
        resolve_remote("production", tmp_path, no_contexts)


@pytest.mark.parametrize(("entry", "message"), [
    (42, "should be a URL or a mapping"),
    ({"type": "ftp"}, "needs 'url' or a 'type'"),
    ({"type": "kubectl", "pod": "p"}, "needs 'namespace'"),
    ({"type": "ssh"}, "needs 'host'"),
    ({"url": "ssh://h/app", "port": "x"}, None),
    ({"type": "ssh", "host": "h", "port": "22"}, "port should be a number"),
    ({"type": "ssh", "host": "h", "port": 0}, "port should be a number from 1 to 65535"),
    ({"type": "ssh", "host": "h", "port": 65536}, "port should be a number from 1 to 65535"),
    ({"url": "ssh://h/app", "ssh_options": {"a": 1}}, "ssh_options should be"),
])
def test_bad_config_entries(entry: object, message: str | None) -> None:
    if message is None:
        # Keys that do not apply to a URL entry are ignored.
        assert remote_from_config("x", entry, no_contexts).host == "h"
        return
    with pytest.raises(ConfigError, match=message):
        remote_from_config("x", entry, no_contexts)


@pytest.mark.parametrize("entry", [
    {"url": "docker://app/var/www", "contaner": "php"},
    {"type": "kubectl", "pod": "web-0", "namespace": "shop", "containers": "php"},
    {"type": "ssh", "host": "h", "ssh_option": "-i key"},
    {"type": "command", "command": "lando ssh -c", "run": "argv"},
    {"type": "ssh", "host": "h", 3: "x"},
])
def test_unknown_keys_of_a_remote_are_refused(entry: dict[object, object]) -> None:
    """A typo in a remote's keys is one line naming it, as in serve's section, not a pull from somewhere else."""
    typo = next(str(key) for key in entry if key not in REMOTE_KEYS)
    with pytest.raises(ConfigError, match=rf"remote 'x' in \.synco\.yml: {typo}: unknown key \(allowed: base_url, "):
        remote_from_config("x", entry, no_contexts)


@pytest.mark.parametrize("key", sorted(REMOTE_KEYS))
def test_every_remote_key_is_accepted(key: str) -> None:
    # Keys that do not apply to the entry's kind are ignored, never refused.
    entry = {"url": "ssh://h/app", key: {"url": "ssh://h/app", "env": {"APP_ENV": "x"}, "bytecode": True}.get(key, "x")}
    assert remote_from_config("x", entry, no_contexts).host == "h"


def test_invalid_yaml_is_one_line(tmp_path: Path) -> None:
    (tmp_path / ".synco.yml").write_text("remotes: [unclosed\n")
    with pytest.raises(ConfigError, match=r"\.synco\.yml: line 2: ") as info:
        resolve_remote("production", tmp_path, no_contexts)
    assert "\n" not in str(info.value)


def test_command_remotes_from_synco_yml() -> None:
    """type: command, for the tools of hosting and development services that run a command on the host."""
    shell = remote_from_config("main", {"type": "command", "command": "platform ssh -p abc -e 'main' --",
                                        "path": "/app"})
    assert (shell.kind, shell.command, shell.runs, shell.path) == (
        "command", ("platform", "ssh", "-p", "abc", "-e", "main", "--"), "shell", "/app")
    assert channel_argv(shell, "echo hi") == [*shell.command, login_shell_command("echo hi")]
    assert shell.describe() == "main (platform ssh -p abc -e main -- /app)" and shell.tool == "platform"
    assert probe_command(shell) == "platform ssh -p abc -e main -- true"
    words = remote_from_config("dev", {"type": "command", "command": ["ddev", "exec", "--raw", "--"],
                                       "runs": "argv"})
    assert channel_argv(words, "echo hi") == ["ddev", "exec", "--raw", "--", "sh", "-c", "echo hi"]
    assert probe_command(words) == "ddev exec --raw -- sh -c true"


@pytest.mark.parametrize(("entry", "message"), [
    ({"type": "command"}, "is of type command and needs 'command'"),
    ({"type": "command", "command": ""}, "is of type command and needs 'command'"),
    ({"type": "command", "command": "lando ssh -c", "runs": "exec"}, "runs should be 'shell'"),
    ({"type": "command", "command": {"a": 1}}, "command should be a string or a list of strings"),
    ({"type": "command", "command": "x 'unbalanced"}, "command cannot be split"),
    ({"type": "telnet", "host": "h"}, "kubectl, command"),
])
def test_bad_command_remotes(entry: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        remote_from_config("main", entry)


@pytest.mark.parametrize(("url", "described"), [
    ("ssh://u@[::1]:2222/app", "ssh://u@[::1]:2222/app"),
    ("ssh://[2001:db8::5]/srv/app", "ssh://[2001:db8::5]/srv/app"),
    ("ssh://u@[fe80::1%25eth0]/app", "ssh://u@[fe80::1%eth0]/app"),
    ("ssh://u@127.0.0.1:22/app", "ssh://u@127.0.0.1:22/app"),
])
def test_an_ipv6_host_is_named_in_brackets(url: str, described: str) -> None:
    """Error lines named "ssh://u@::1:2222/app", where the port cannot be told from the address."""
    assert parse_remote_url(url).describe() == described


def test_the_drush_alias_example_is_the_remote_it_says(tmp_path: Path) -> None:
    """docs/plugins/drupal.md maps a Drush site alias to a remote: the same host, user and ssh options."""
    from synco_core.pull.channel import channel_argv
    from synco_core.pull.remote import resolve_remote

    page = (Path(__file__).parent.parent / "docs" / "plugins" / "drupal.md").read_text(encoding="utf-8")
    section = page.split("## From a Drush site alias", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```yaml\n(.*?)^```", section, re.M | re.S)
    assert len(blocks) == 2
    (tmp_path / ".synco.yml").write_text(blocks[1])
    remote = resolve_remote("prod", tmp_path)
    assert (remote.kind, remote.host, remote.user, remote.path) == ("ssh", "prod.example.com", "deploy",
                                                                      "/var/www/shop")
    argv = channel_argv(remote, "true", env={})
    assert argv[:6] == ["ssh", "-T", "-p", "2222", "-o", "IdentitiesOnly=yes"]
    assert "deploy@prod.example.com" in argv
