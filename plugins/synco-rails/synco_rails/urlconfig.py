"""A database URL as Active Record reads it (``ConnectionUrlResolver``), for the version in Gemfile.lock.

Active Record turns a URL into configuration keys and merges them over the configuration's other keys (its
``database.yml`` section). The query's pairs become keys by their own names, nothing renamed (``?user=`` is
``user``, not ``username``); keys are never percent-decoded, values are (``%xx`` only: a ``+`` stays a ``+``);
the last of a repeated key wins; a key whose value is blank is dropped, so the section's own key applies.

What the query says of the URL's own parts (``?username=``, ``?password=``, ``?host=``, ``?port=``,
``?database=``, ``?adapter=``) depends on the version: up to 6.1 the URL's parts are merged over the query,
so the query's are dropped even where the URL gives none; from 7.0 (rails/rails#42840) the query's win. Both
readings are made when Gemfile.lock does not say which Active Record runs, and a URL they read differently is
refused in one line naming its keys, rather than guessed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from synco_core import ConfigError, mask_url_passwords, read_config_text

#: The keys the URL's own parts set, in the order Active Record lists them.
URL_PARTS = ("adapter", "username", "password", "port", "database", "host")

#: The version line of a lockfile's gem list (four spaces, then ``name (version)``).
_LOCKED = re.compile(r"^    (activerecord|rails) \((\d+)\.", re.MULTILINE)


def active_record_major(project_dir: Path) -> int | None:
    """Active Record's major version as Gemfile.lock pins it (Rails' when only that is listed), else None."""
    path = project_dir / "Gemfile.lock"
    if not path.is_file():
        return None
    try:
        text = read_config_text(path, kind="Gemfile.lock", errors="replace")
    except ConfigError:
        return None
    found = {gem: int(major) for gem, major in _LOCKED.findall(text)}
    return found.get("activerecord", found.get("rails"))


def url_settings(url: str, major: int | None, name: str) -> dict[str, Any]:
    """The configuration keys ``url`` gives, as Active Record ``major`` reads them (both readings when None:
    a URL they read differently is refused)."""
    if any(not char.isprintable() for char in url):
        raise ConfigError(f"Rails database {name!r}: its URL holds a control character: {_shown(url)}")
    if major is not None:
        return _resolve(url, query_wins=major >= 7, name=name)
    modern = _resolve(url, query_wins=True, name=name)
    old = _resolve(url, query_wins=False, name=name)
    differing = [key for key in URL_PARTS if modern.get(key) != old.get(key)]
    if differing:
        keys = ", ".join(f"?{key}=" for key in differing)
        raise ConfigError(
            f"Rails database {name!r}: its URL's {keys} is read differently by Active Record 6.1 and earlier "
            "(dropped: the URL's own part is used) and by 7.0 and later (it wins), and Gemfile.lock does not say "
            f"which this application runs; give the setting once, in the URL's own part: {_shown(url)}")
    return modern


def _resolve(url: str, *, query_wins: bool, name: str) -> dict[str, Any]:
    scheme, _, rest = url.partition(":")
    adapter = scheme.replace("-", "_")
    if adapter == "postgres":
        adapter = "postgresql"
    body = rest.removeprefix("//").partition("#")[0]
    body, _, query = body.partition("?")
    # As RFC 2396 reads it (Ruby's URI): the authority ends at the first "/", a database name may hold "@".
    authority, _, path = body.partition("/")
    userinfo, at, authority = authority.rpartition("@")
    try:
        parts = urlsplit(f"db://{authority}")
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"Rails database {name!r}: its URL has an invalid host or port ({exc}): "
                          f"{_shown(url)}") from None
    user, colon, password = userinfo.partition(":")
    own: dict[str, Any] = {
        "adapter": adapter,
        "username": user if at else None,
        "password": password if colon else None,
        "port": port,
        "database": path,
        "host": parts.hostname,
    }
    pairs = _query_pairs(query, name, url)
    merged = {**own, **pairs} if query_wins else {**pairs, **own}
    return {key: unquote(value) if isinstance(value, str) else value for key, value in merged.items()
            if value is not None and not (isinstance(value, str) and not value.strip())}


def _query_pairs(query: str, name: str, url: str) -> dict[str, str | None]:
    """The query as ``Hash[query.split("&").map { _1.split("=", 2) }]``: a pair without ``=`` has no value,
    the last of a repeated key wins; an empty pair between two others is Ruby's ArgumentError, Rails' boot
    failure."""
    pieces = query.split("&")
    while pieces and not pieces[-1]:
        # Ruby's String#split drops trailing empty fields.
        pieces.pop()
    pairs: dict[str, str | None] = {}
    for piece in pieces:
        if not piece:
            raise ConfigError(f"Rails database {name!r}: its URL's query has an empty pair (&&), which Active "
                              f"Record cannot read: {_shown(url)}")
        key, equals, value = piece.partition("=")
        pairs[key] = value if equals else None
    return pairs


def _shown(url: str) -> str:
    """``url`` for a message: its password, and a ``?password=`` value, masked."""
    masked = mask_url_passwords(url)
    return re.sub(r"(?<=[?&])(password|pass)=[^&#]*", r"\1=***", masked)
