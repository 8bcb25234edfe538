"""Parse the ``REMOTE`` argument of ``synco pull``: a URL, or a name from ``.synco.yml``'s ``remotes:``.

Accepted URLs (docs/configuration.md, "synco pull", has them with every option)::

    ssh://[user@]host[:port]/path/to/app        (``/~/app`` is relative to the home directory, ``/~deploy/app``
                                                 to deploy's; ``[::1]`` for an IPv6 address)
    docker://container/path
    docker-compose://service/path
    kubectl://[context/]namespace/pod[/container]/path

A fifth kind, ``command``, is named in ``.synco.yml`` only: the command of a hosting or development tool
that runs a command on the application's host for you (``platform ssh -e main --``, ``lando ssh -c``,
``ddev exec``), given as words, after which pull puts the script to run (:func:`synco_core.pull.channel.channel_argv`).

The kubectl form is ambiguous as written (a container name and the first folder of the path look
alike): a ``//`` ends the names; without it the first name is a context only when ``kubectl config
get-contexts`` knows it; ``?context=...&container=...`` may always be given. A named remote in
``.synco.yml`` is either the URL string or a mapping (``type``, ``url``, ``ssh_options``, ``python``,
``synco``, ``base_url`` ...), as docs/configuration.md shows.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, unquote

from synco_core.childenv import child_environment
from synco_core.errors import ConfigError
from synco_core.frameworkutil.configfile import synco_config_path
from synco_core.redaction import register_secret
from synco_core.urltext import split_url

Kind = Literal["ssh", "docker", "docker-compose", "kubectl", "command"]
#: The kinds a remote URL names; ``command`` is configured in ``.synco.yml`` only.
KINDS: tuple[Kind, ...] = ("ssh", "docker", "docker-compose", "kubectl")
#: How a ``command`` remote's tool takes the script: one string for a remote shell (as ssh does), or the
#: words of ``sh -c SCRIPT`` run as they are (as docker exec does).
RUNS = ("shell", "argv")

#: Every key a ``remotes:`` mapping may have (docs/configuration.md lists them). A key that does not apply to
#: the entry's kind is ignored; one not here is refused, since a typo (``contaner:``) would otherwise pull
#: from another container, host or path than the one written.
REMOTE_KEYS = frozenset({
    "url", "type", "host", "user", "port", "container", "service", "pod", "namespace", "context", "command",
    "runs", "path", "ssh_options", "compose_options", "python", "synco", "base_url", "env", "bytecode",
})

#: A variable name ``env:`` may set: what a POSIX shell can export.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Names whose values are secret (kept out of --debug's command lines).
_SECRET_NAME = re.compile(r"PASS|PWD|SECRET|TOKEN|KEY|CREDENTIAL|AUTH|DSN|SALT|PRIVATE|COOKIE|_URL$|^DATABASE_URL$",
                          re.IGNORECASE)



@dataclass
class Remote:
    """Where the source application lives and how to reach it."""

    kind: Kind
    #: The application directory on the remote side ("" means the channel's default: home or workdir).
    path: str = ""
    #: ssh: host name; docker: container; docker-compose: service; kubectl: pod.
    host: str = ""
    user: str | None = None
    port: int | None = None
    #: kubectl only.
    context: str | None = None
    namespace: str | None = None
    container: str | None = None
    #: Extra ssh options (``-i key``, ``-o ...``) from ``.synco.yml``.
    ssh_options: tuple[str, ...] = ()
    #: Extra options for ``docker compose`` (``-f compose.yml``, ``-p project``) from ``.synco.yml``.
    compose_options: tuple[str, ...] = ()
    #: The remote interpreter used to run an uploaded zipapp.
    python: str | None = None
    #: The remote synco command (shell words), ``upload`` to always upload the zipapp, or None to detect.
    synco: str | None = None
    #: For ``--via-http``: the public base URL of the application's web root.
    base_url: str | None = None
    #: Upload the zipapp with bytecode when the remote python can use it (``bytecode: true``), else sources only.
    bytecode: bool | None = None
    #: The remote's name in ``.synco.yml``, or the URL it was given as.
    name: str = ""
    #: ``command`` remotes: the tool's words before the script, and how it takes the script (:data:`RUNS`).
    command: tuple[str, ...] = ()
    runs: str = "shell"
    #: Variables the remote synco runs with (``env:``), over the login's: the environment the application runs
    #: in on the server, which a login shell lacks (``APP_ENV: prod`` that php-fpm's pool sets, ``RAILS_ENV``).
    env: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tool(self) -> str:
        """The program that makes the channel, as messages name it: ``ssh``, ``kubectl``, ``platform`` ..."""
        if self.kind == "command":
            return os.path.basename(self.command[0]) if self.command else "command"
        return self.kind

    def describe(self) -> str:
        """A short human description, without anything secret (URLs here never carry passwords)."""
        if self.kind == "ssh":
            who = f"{self.user}@" if self.user else ""
            port = f":{self.port}" if self.port else ""
            # An IPv6 address is bracketed as in the URL it came from: "ssh://::1:2222/app" names no port.
            host = f"[{self.host}]" if ":" in self.host else self.host
            return f"ssh://{who}{host}{port}/{self.path.lstrip('/')}"
        if self.kind == "kubectl":
            parts = [p for p in (self.context, self.namespace, self.host, self.container) if p]
            return "kubectl://" + "/".join(parts) + "/" + self.path.lstrip("/")
        if self.kind == "command":
            where = f" {self.path}" if self.path else ""
            return f"{self.name or 'remote'} ({shlex.join(self.command)}{where})"
        return f"{self.kind}://{self.host}/{self.path.lstrip('/')}"


#: The names :func:`channel_argv` puts into the channel tool's argv, and what messages call each, by kind.
_NAMED = {"host": "host", "user": "user", "context": "context", "namespace": "namespace", "container": "container"}
_HOST_WORD = {"ssh": "host", "docker": "container", "docker-compose": "service", "kubectl": "pod", "command": "host"}


def check_names(remote: Remote) -> Remote:
    """``remote`` itself, once none of its names would be read as an option by the tool that makes the channel.

    docker, docker compose and kubectl take the container, service or pod as a word of their argv: one that
    starts with ``-`` was one of their options (``--kubeconfig=`` has kubectl run the credential plugin of a file
    the URL names, ``--server=`` sends the cluster's credentials elsewhere). No such name starts with ``-``,
    so one that does is refused, whatever the kind (the values that follow an option, ``--context X``, too).
    """
    _check_no_nul(remote)
    for attribute, word in _NAMED.items():
        value = getattr(remote, attribute)
        if value and value.startswith("-"):
            what = _HOST_WORD[remote.kind] if attribute == "host" else word
            raise ConfigError(
                f"remote {remote.name or remote.describe()!r}: {what} {value!r} starts with '-', which "
                f"{remote.tool} would read as an option; no {what} name starts so"
            )
    return remote


def _check_no_nul(remote: Remote) -> None:
    """No value that becomes a word of an argv holds a NUL (``%00`` in a URL): it cannot be passed, and the
    pull stopped with a bare ``ValueError: embedded null byte``."""
    single = {"host": remote.host, "user": remote.user, "path": remote.path, "context": remote.context,
              "namespace": remote.namespace, "container": remote.container, "python": remote.python,
              "synco": remote.synco, "base_url": remote.base_url}
    lists = {"ssh_options": remote.ssh_options, "compose_options": remote.compose_options,
             "command": remote.command}
    words = [(key, value) for key, value in single.items() if value] + [
        (key, word) for key, values in lists.items() for word in values]
    for key, value in words:
        if "\0" in value:
            what = _HOST_WORD[remote.kind] if key == "host" else key
            raise ConfigError(f"remote {(remote.name or remote.describe()).replace(chr(0), '%00')!r}: {what} "
                              "holds a NUL character (%00), which no command line can carry")


def _known_kubectl_contexts() -> set[str]:
    """The context names of the local kubeconfig; empty when kubectl is missing or has none."""
    try:
        result = subprocess.run(
            ["kubectl", "config", "get-contexts", "-o", "name"],
            capture_output=True, text=True, errors="surrogateescape", timeout=10, check=False,
            env=child_environment(),
        )
    except (OSError, subprocess.SubprocessError):
        return set()
    if result.returncode != 0:
        return set()
    return {line.strip() for line in result.stdout.splitlines() if line.strip()}


def parse_remote_url(text: str, known_contexts: Callable[[], set[str]] = _known_kubectl_contexts) -> Remote:
    """Parse one of the URL forms above; a wrong one is a one-line :class:`ConfigError`."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise ConfigError(
            f"remote {text!r} is neither a URL (ssh://, docker://, docker-compose://, kubectl://) "
            "nor a name under 'remotes:' in .synco.yml"
        )
    scheme = scheme.lower()
    if scheme not in KINDS:
        raise ConfigError(f"unsupported remote scheme {scheme!r} in {text!r}; use one of: {', '.join(KINDS)}")
    if scheme == "ssh":
        return check_names(_parse_ssh(text))
    rest, _, query_text = rest.partition("?")
    query = {k: v[-1] for k, v in parse_qs(query_text, keep_blank_values=False).items()}
    if scheme in ("docker", "docker-compose"):
        name, slash, path = rest.partition("/")
        name = unquote(name)
        if not name:
            raise ConfigError(f"remote {text!r} names no {'container' if scheme == 'docker' else 'service'}")
        return check_names(Remote(kind=scheme, host=name, path=_container_path(slash + path), name=text))
    return check_names(_parse_kubectl(text, rest, query, known_contexts))


def _container_path(path: str) -> str:
    """The path part of a container URL: absolute, or "" for the container's working directory."""
    path = unquote(path)
    if path in ("", "/"):
        return ""
    return "/" + path.lstrip("/")


def _parse_ssh(text: str) -> Remote:
    parts = split_url(text, "remote")
    if parts.password is not None:
        raise ConfigError("ssh remotes take no password in the URL; use a key or ssh_options")
    # An IPv6 link-local address's zone is written %25 in a URL ("[fe80::1%25eth0]"); ssh takes it as "%eth0".
    host = unquote(parts.hostname or "")
    if not host:
        raise ConfigError(f"remote {text!r} names no host")
    port = parts.port
    path = unquote(parts.path)
    # "/~/app" and "/~" mean "relative to the remote home directory", as in scp and git URLs.
    if path.startswith("/~"):
        path = path[1:]
    elif path == "/":
        path = ""
    return Remote(
        kind="ssh", host=host, user=unquote(parts.username) if parts.username else None, port=port,
        path=path, name=text,
    )


def _parse_kubectl(text: str, rest: str, query: Mapping[str, str], known_contexts: Callable[[], set[str]]) -> Remote:
    context = query.get("context")
    container = query.get("container")
    explicit_names, double, after = rest.partition("//")
    if double:
        names = [unquote(n) for n in explicit_names.split("/") if n]
        path = _container_path(after)
        if len(names) == 4:
            context, namespace, pod, container = names
        elif len(names) == 3:
            if context is None and names[0] in known_contexts():
                context, namespace, pod = names
            else:
                namespace, pod, container = names
        elif len(names) == 2:
            namespace, pod = names
        else:
            raise ConfigError(f"remote {text!r}: expected [context/]namespace/pod[/container] before '//'")
    else:
        segments = [unquote(s) for s in rest.split("/")]
        if segments and segments[0] == "":
            raise ConfigError(f"remote {text!r} names no namespace")
        if len(segments) >= 3 and context is None and segments[0] in known_contexts():
            context = segments.pop(0)
        if len(segments) < 2 or not segments[0] or not segments[1]:
            raise ConfigError(f"remote {text!r}: expected kubectl://[context/]namespace/pod[/container]/path")
        namespace, pod = segments[0], segments[1]
        path = _container_path("/".join(segments[2:]))
    return Remote(
        kind="kubectl", host=pod, namespace=namespace, context=context or None, container=container or None,
        path=path, name=text,
    )


def _words(value: Any, key: str, remote_name: str) -> tuple[str, ...]:
    """A list of words, or one string split like a POSIX shell would."""
    if value is None:
        return ()
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise ConfigError(f"remote {remote_name!r}: {key} cannot be split: {exc}") from None
    if isinstance(value, Sequence) and all(isinstance(v, (str, int)) for v in value):
        return tuple(str(v) for v in value)
    raise ConfigError(f"remote {remote_name!r}: {key} should be a string or a list of strings")


def _optional_str(entry: Mapping[str, Any], key: str, remote_name: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, (str, int)):
        raise ConfigError(f"remote {remote_name!r}: {key} should be a string")
    return str(value)


def remote_from_config(
    name: str, entry: Any, known_contexts: Callable[[], set[str]] = _known_kubectl_contexts
) -> Remote:
    """One entry of ``remotes:`` (a URL string or a mapping) as a :class:`Remote`."""
    if isinstance(entry, str):
        remote = parse_remote_url(entry, known_contexts)
        remote.name = name
        return remote
    if not isinstance(entry, Mapping):
        raise ConfigError(f"remote {name!r} in .synco.yml should be a URL or a mapping")
    unknown = sorted(str(key) for key in entry if key not in REMOTE_KEYS)
    if unknown:
        raise ConfigError(f"remote {name!r} in .synco.yml: {unknown[0]}: unknown key "
                          f"(allowed: {', '.join(sorted(REMOTE_KEYS))})")
    url = _optional_str(entry, "url", name)
    if url:
        remote = parse_remote_url(url, known_contexts)
    elif _optional_str(entry, "type", name) == "command":
        remote = _command_remote(entry, name)
    else:
        kind = _optional_str(entry, "type", name)
        if kind not in KINDS:
            raise ConfigError(f"remote {name!r} in .synco.yml needs 'url' or a 'type' among "
                              f"{', '.join(KINDS)}, command")
        host_key = {"ssh": "host", "docker": "container", "docker-compose": "service", "kubectl": "pod"}[kind]
        host = _optional_str(entry, host_key, name) or _optional_str(entry, "host", name)
        if not host:
            raise ConfigError(f"remote {name!r} in .synco.yml needs {host_key!r}")
        port = entry.get("port")
        if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535):
            raise ConfigError(f"remote {name!r}: port should be a number from 1 to 65535")
        remote = Remote(
            kind=kind, host=host, user=_optional_str(entry, "user", name), port=port,
            namespace=_optional_str(entry, "namespace", name), context=_optional_str(entry, "context", name),
            container=(_optional_str(entry, "container", name) if kind == "kubectl" else None),
        )
        if kind == "kubectl" and not remote.namespace:
            raise ConfigError(f"remote {name!r} in .synco.yml needs 'namespace'")
    path = _optional_str(entry, "path", name)
    if path is not None:
        remote.path = path
    remote.name = name
    remote.ssh_options = _words(entry.get("ssh_options"), "ssh_options", name)
    remote.compose_options = _words(entry.get("compose_options"), "compose_options", name)
    remote.python = _optional_str(entry, "python", name)
    remote.synco = _optional_str(entry, "synco", name)
    remote.base_url = _optional_str(entry, "base_url", name)
    remote.env = _environment(entry.get("env"), name)
    bytecode = entry.get("bytecode")
    if bytecode is not None and not isinstance(bytecode, bool):
        raise ConfigError(f"remote {name!r}: bytecode should be true or false")
    remote.bytecode = bytecode
    return check_names(remote)


def _environment(value: Any, name: str) -> dict[str, str]:
    """``env:``: a mapping of variable names to strings (or numbers), set for the remote synco."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"remote {name!r}: env should be a mapping of variable names to values (APP_ENV: prod)")
    found: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
            raise ConfigError(f"remote {name!r}: env: {str(key)[:60]!r} is not a variable name (letters, digits, _)")
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise ConfigError(f"remote {name!r}: env.{key} should be a string")
        text = str(item)
        if "\0" in text:
            raise ConfigError(f"remote {name!r}: env.{key} holds a NUL character")
        if _SECRET_NAME.search(key) or "@" in text:
            register_secret(text)
        found[key] = text
    return found


def _command_remote(entry: Mapping[str, Any], name: str) -> Remote:
    """A ``type: command`` entry: ``command`` (words or a string split like a shell would) and ``runs``."""
    command = _words(entry.get("command"), "command", name)
    if not command:
        raise ConfigError(f"remote {name!r} in .synco.yml is of type command and needs 'command' (the tool's "
                          "words before the script it runs, such as 'platform ssh -e main --')")
    runs = _optional_str(entry, "runs", name) or "shell"
    if runs not in RUNS:
        raise ConfigError(f"remote {name!r}: runs should be 'shell' (the tool hands one command line to a remote "
                          f"shell, as ssh does) or 'argv' (it runs the words it is given), not {runs!r}")
    return Remote(kind="command", command=command, runs=runs)


def find_config(start: Path) -> Path | None:
    """The nearest ``.synco.yml`` in ``start`` or one of its parents; one above ``start`` must be the user's own
    (:func:`_check_config_above`)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        found = synco_config_path(folder)
        if found is not None:
            if folder != start:
                _check_config_above(found)
            return found
    return None


def _check_config_above(config: Path) -> None:
    """Refuse a ``.synco.yml`` above the project that others control: its remotes say what runs on the laptop
    (``type: command``, an ssh ``ProxyCommand``), and above a project lie folders others may add files to
    (``/tmp``, a shared ``/srv/www``), as git's ``safe.directory`` refuses a repository another user made there.
    The project's own file is the user's choice and is not judged."""
    from synco_core.tempfolder import others_may_write, rearrangeable_at

    try:
        info = config.stat()
        # A link of another user's (in /tmp) chooses which file of this user's is read as the remotes.
        link = config.lstat()
    except OSError:
        # Reading it fails, naming the file, as for the project's own.
        return
    why = ""
    if link.st_uid not in (0, os.getuid()):
        why = f"it belongs to another user (uid {link.st_uid})"
    elif info.st_uid not in (0, os.getuid()):
        why = f"it belongs to another user (uid {info.st_uid})"
    elif others_may_write(info):
        why = "other users may write to it"
    else:
        shared = rearrangeable_at(str(config.parent))
        if shared is not None:
            why = f"other users may put files into {shared} (or it is not yours)"
    if why:
        raise ConfigError(f"{config}, above the project, is not read for its remotes: {why}; give the remote as "
                          "a URL, or put the remotes into the project's own .synco.yml")


def load_remotes(config_file: Path) -> dict[str, Any]:
    """The raw ``remotes:`` mapping of a config file (empty when it has none)."""
    from synco_core.syncofile import load_synco_yaml

    # Bounded, and never waiting on a pipe: a .synco.yml linked to /dev/zero is a one-line error.
    data = load_synco_yaml(config_file)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{config_file} should hold a mapping at the top")
    remotes = data.get("remotes") or {}
    if not isinstance(remotes, dict):
        raise ConfigError(f"'remotes:' in {config_file} should be a mapping of names")
    return {str(k): v for k, v in remotes.items()}


def resolve_remote(
    text: str, project_dir: Path | None = None, known_contexts: Callable[[], set[str]] = _known_kubectl_contexts
) -> Remote:
    """``REMOTE`` as given on the command line: a URL, or a name looked up in ``.synco.yml``."""
    if "://" in text:
        return parse_remote_url(text, known_contexts)
    config_file = find_config(project_dir or Path.cwd())
    remotes = load_remotes(config_file) if config_file else {}
    if text not in remotes:
        where = f"in {config_file}" if config_file else "(no .synco.yml found here or above)"
        known = ", ".join(sorted(remotes)) or "none"
        raise ConfigError(f"unknown remote {text!r} {where}; known remotes: {known}")
    return remote_from_config(text, remotes[text], known_contexts)
