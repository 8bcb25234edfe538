"""Finding the server that holds a session: the candidate base URLs a user means, tried in order.

A user types ``example.com``, ``www.example.com/`` or ``https://staging.example.com``; the session may
sit under the site's root or under the framework's public prefix (``/_Resources``). Each candidate's
meta URL is asked for: a 404, a connection error, or anything that is not an age file (many sites answer
unknown paths with 200 and an HTML page) means "not here" and the search goes on. A meta file that the
key does not open means "here, but the wrong key", and the search stops with that error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from synco_core.errors import ConfigError, CryptoError, TransferError
from synco_core.permissions import keep_mode_of
from synco_core.receive.meta import RefusedSessionError, fetch_meta
from synco_core.receive.proxy import split_auth
from synco_core.receive.transport import (
    NotFoundError,
    ProxyRefusedError,
    Transport,
    UnreachableError,
    UntrustedCertificateError,
)
from synco_core.syncofile import is_config_candidate, load_synco_yaml, parse_synco_yaml
from synco_core.urltext import split_url
from synco_core.wire import SESSION_PREFIX, Meta, WireFormatError, session_folder_name

log = logging.getLogger(__name__)

#: Keys that name hosts, at the top of ``.synco.yml`` or under ``receive:``; and the keys of Go synco's
#: ``hosts`` items (``{baseUrl: URL}``).
HOST_KEYS = frozenset({"hosts", "host", "baseUrl", "base_url"})
HOST_ITEM_KEYS = frozenset({"baseUrl", "base_url"})
#: Public prefixes tried for every session, whatever the local project: Flow and Neos serve their web root's
#: resources under ``/_Resources``, and Go synco users give that address as the site.
DEFAULT_PREFIXES = ("/_Resources",)


def candidate_urls(host: str, prefixes: Iterable[str] = ()) -> list[str]:
    """The base URLs ``host`` may mean, most likely first, without duplicates.

    Without a scheme both https and http are tried, except when ``host`` carries a password
    (``user:pw@host``): that is only ever sent over https unless the user writes ``http://`` themselves.
    """
    host = host.strip()
    if not host:
        return []
    bases: list[str] = []
    if "://" in host:
        bases.append(host)
    else:
        parts = split_url("//" + host, "host")
        hostname = parts.hostname or ""
        names = [host]
        if hostname.startswith("www.") and "." in hostname[4:]:
            # People type the www. they see in the browser even where only the bare domain serves.
            names.append(_swap_hostname(host, hostname, hostname[4:]))
        elif hostname and not hostname.startswith("www.") and hostname.count(".") == 1:
            names.append(_swap_hostname(host, hostname, "www." + hostname))
        schemes = ("https",) if parts.username is not None else ("https", "http")
        for name in names:
            bases.extend(f"{scheme}://{name}" for scheme in schemes)
    result: list[str] = []
    for base in bases:
        # A query (a CDN's ?token=) stays the query of every candidate, after the path it ends.
        base, mark, query = base.partition("#")[0].partition("?")
        base = base if base.endswith("/") else base + "/"
        for candidate in [base] + [base + p.strip("/") + "/" for p in prefixes if p.strip("/")]:
            candidate += mark + query
            if candidate not in result:
                result.append(candidate)
    return result


def split_session_url(session: str) -> tuple[str, str] | None:
    """``https://host/path/synco-ID[/...]`` -> (``https://host/path/``, ``synco-ID``); None for a plain id.

    People copy the session folder's address from a browser or a chat instead of the id serve printed.
    """
    text = session.strip()
    if "://" not in text:
        return None
    parts = split_url(text, "SESSION")
    segments = parts.path.rstrip("/").split("/")
    for position in range(len(segments) - 1, -1, -1):
        if segments[position].startswith(SESSION_PREFIX) and len(segments[position]) > len(SESSION_PREFIX):
            base = "/".join(segments[:position]) + "/"
            query = f"?{parts.query}" if parts.query else ""
            return f"{parts.scheme}://{parts.netloc}{base}{query}", segments[position]
    return None


def without_session_folder(url: str, session: str) -> str:
    """``url`` cut before the session's folder (``/synco-ID/...``): the web root, where serve publishes it.

    ``--base-url`` is the web root's address, but the session folder's (or a file's in it) is what a
    browser shows.
    """
    folder = session_folder_name(session)
    parts = split_url(url.strip(), "--base-url")
    segments = parts.path.split("/")
    if folder not in segments:
        return url
    base = "/".join(segments[:segments.index(folder)]) + "/" + (f"?{parts.query}" if parts.query else "")
    return f"{parts.scheme}://{parts.netloc}{base}" if parts.scheme else parts.netloc + base


def _swap_hostname(host: str, hostname: str, new: str) -> str:
    """``host`` (``[user:pw@]name[:port][/path]``) with its host name replaced, credentials and path left alone.

    ``hostname`` is the lower-cased name urlsplit found; the typed one may differ in case.
    """
    netloc = split_url("//" + host, "host").netloc
    userinfo, at, name_port = netloc.rpartition("@")
    start = name_port.lower().find(hostname)
    if start < 0:
        return host
    return userinfo + at + name_port[:start] + new + name_port[start + len(hostname):] + host[len(netloc):]


def config_file(project_dir: Path) -> Path:
    """The project's ``.synco.yml`` or ``.synco.yaml`` (the one every part of synco reads), else where a new
    ``.synco.yml`` goes."""
    from synco_core.frameworkutil.configfile import SYNCO_CONFIG_NAMES, synco_config_path

    return synco_config_path(project_dir) or project_dir / SYNCO_CONFIG_NAMES[0]


def configured_hosts(project_dir: Path) -> list[str]:
    """Hosts named in ``.synco.yml`` (``hosts: [...]``, ``host:`` or ``baseUrl:``, also under ``receive:``).

    ``hosts`` items are URLs or host names, or Go synco's ``{baseUrl: URL}``.
    """
    path = config_file(project_dir)
    if not is_config_candidate(path):
        return []
    # Read bounded and never waiting on a pipe; a file refused that way, or not YAML, is an error, not "no hosts".
    data = load_synco_yaml(path)
    if not isinstance(data, dict):
        return []
    found: list[str] = []
    for section in (data, data.get("receive") if isinstance(data.get("receive"), dict) else {}):
        assert isinstance(section, dict)
        hosts = section.get("hosts")
        if hosts is not None and not isinstance(hosts, list):
            raise ConfigError(f"{path}: hosts: expected a list of URLs or host names, got {type(hosts).__name__}")
        for host in hosts or []:
            # Go synco writes hosts as {baseUrl: ...}; this synco writes plain strings.
            if isinstance(host, dict):
                host = next((host[key] for key in sorted(HOST_ITEM_KEYS) if host.get(key)), None)
            if not isinstance(host, str):
                raise ConfigError(f"{path}: hosts: each item should be a URL or a host name, not "
                                  f"{type(host).__name__}")
            if host.strip():
                found.append(host.strip())
        for key in sorted(HOST_KEYS - {"hosts"}):
            if isinstance(section.get(key), str):
                found.append(section[key])
    return found


def remembered_form(url: str) -> str:
    """``url`` as :func:`remember_host` writes it: without its basic-auth login and the query parameters naming
    a credential (``?token=``). The question whether to remember it shows this form too."""
    from synco_core.redaction import without_url_secrets

    return without_url_secrets(split_auth(url)[0])


def remember_host(project_dir: Path, url: str) -> Path:
    """Add ``url`` (without credentials: its basic-auth login, or a ``?token=`` in its query) to ``hosts`` in the
    project's configuration file; returns that file.

    The file is the one the rest of synco reads (a new ``.synco.yml`` beside a ``.synco.yaml`` would hide
    that one's settings from serve and install). Its text is kept as written, comments included, where the
    host can be added as a line of its own; the file is replaced atomically.
    """
    import yaml

    from synco_core.frameworkutil.configfile import read_config_text
    from synco_core.fsutil import atomic_output
    clean = remembered_form(url)
    path = config_file(project_dir)
    text = ""
    if path.exists():
        if not path.is_file():
            raise TransferError(f"{path} is not a regular file; add the host to its hosts: by hand")
        text = read_config_text(path, kind="synco configuration file")
    data: Any = parse_synco_yaml(text, path) or {} if text else {}
    if not isinstance(data, dict):
        raise TransferError(f"{path} is not a YAML mapping; add the host by hand")
    hosts = data.setdefault("hosts", [])
    if not isinstance(hosts, list) or clean in hosts:
        return path
    hosts.append(clean)
    new_text = _with_host_line(text, clean)
    if new_text is None or yaml.safe_load(new_text) != data:
        new_text = yaml.safe_dump(data, sort_keys=False)
    # A linked file (kept with the user's dotfiles) stays a link: the file it leads to gets the new text.
    real = path.resolve()
    with atomic_output(real, suffix=".synco-part") as out:
        out.write(new_text.encode("utf-8"))
        # The user's file, rewritten: it keeps who may read it.
        keep_mode_of(real.with_name(real.name + ".synco-part"), real)
    return path


def _with_host_line(text: str, host: str) -> str | None:
    """``text`` with ``host`` added as an item line of its top-level ``hosts:`` block list (or a new one);
    None when the list is not written that way (the caller checks the result and falls back)."""
    import yaml

    item = yaml.safe_dump([host]).rstrip("\n")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    keys = [i for i, line in enumerate(lines) if re.match(r"""hosts\s*:|["']hosts["']\s*:""", line)]
    if not keys:
        return "".join(lines) + f"hosts:\n  {item}\n"
    heading = keys[0]
    if len(keys) > 1 or lines[heading].split("#")[0].rstrip() != "hosts:":
        return None
    last = None
    for index in range(heading + 1, len(lines)):
        stripped = lines[index].strip()
        if stripped.startswith("- "):
            last = index
        elif stripped and not stripped.startswith("#") and not lines[index][0].isspace():
            break
    if last is None:
        return None
    indent = lines[last][:len(lines[last]) - len(lines[last].lstrip())]
    lines.insert(last + 1, f"{indent}{item}\n")
    return "".join(lines)


def find_session(
    candidates: Sequence[str],
    session: str,
    identities: Sequence[Any],
    make_transport: Callable[[str], Transport],
) -> tuple[Transport, Meta, str]:
    """The first candidate holding ``session``: (its transport, the meta, the base URL).

    Raises :class:`CryptoError` when a server has the session but the key does not open it, and
    :class:`TransferError` naming what was tried when no candidate has it.
    """
    folder = session_folder_name(session)
    reasons: list[str] = []
    unreachable: list[str] = []
    untrusted: list[str] = []
    proxy_refused: list[ProxyRefusedError] = []
    missing = 0
    for url in candidates:
        transport = make_transport(url)
        try:
            meta = fetch_meta(transport, folder, identities)
        except (CryptoError, WireFormatError, RefusedSessionError):
            transport.close()
            raise
        except TransferError as exc:
            transport.close()
            log.debug("no session at %s: %s", url, exc)
            reasons.append(f"{split_auth(url)[0]}: {exc}")
            if isinstance(exc, NotFoundError):
                missing += 1
            elif isinstance(exc, UnreachableError):
                unreachable.append(str(exc))
                if isinstance(exc, UntrustedCertificateError):
                    untrusted.append(str(exc))
                if isinstance(exc, ProxyRefusedError):
                    proxy_refused.append(exc)
            continue
        return transport, meta, url
    tried = "; ".join(reasons) or "no candidates"
    if reasons and len(untrusted) == len(reasons):
        # Something answered, with a certificate this machine does not trust: that is what to put right.
        raise UntrustedCertificateError(untrusted[0])
    if reasons and len(proxy_refused) == len(reasons):
        # The proxy stopped every request before it left (its login, its rules): the proxy is what to put right.
        raise proxy_refused[0]
    if reasons and len(unreachable) == len(reasons):
        # Nothing answered at all: that says nothing about the session, everything about the connection.
        raise UnreachableError(f"cannot reach the server: no server answered ({'; '.join(unreachable)}); check the "
                               "address, and that serve (or the web server) is running")
    if reasons and missing == len(reasons):
        raise TransferError(f"session {folder} is not on the server ({tried}): it is gone (serve stopped, or its "
                            "time to live ran out) or the session id or address is wrong")
    raise TransferError(f"session {folder} not found (tried {tried})")
