"""The project's ``.synco.yml``, parsed the same way by each part of synco that reads it.

The generic plugin (``serve:``, ``local_hosts:``), pull (``remotes:``) and receive (``hosts:``) each read
the file. YAML keeps the last of two equal keys without a word, so a second ``serve:`` or ``remotes:``
(a section pasted twice, an old one left below a new one) silently replaced the first: the file is read
here, once per reader, refusing a repeated key with the line it is on, as a typo is refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from synco_core.errors import ConfigError
from synco_core.frameworkutil.configfile import read_config_text


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader (no Python tags), refusing a key a mapping already has."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _value in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # "<<: *base": keys written beside it override the merged ones, as YAML intends
                key = self.construct_object(key_node, deep=True)
                try:
                    repeated = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key: the base loader says so itself
                    continue
                if repeated:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark)
        return super().construct_mapping(node, deep)


def is_config_candidate(path: Path) -> bool:
    """Whether ``path`` counts as the project's ``.synco.yml``: anything there but a folder. A pipe is read and
    a device refused by :func:`load_synco_yaml`, and a link that leads nowhere (a deploy's shared
    ``.synco.yml`` gone missing) is an error too: passed over, its sanitising rules would be silently lost."""
    return os.path.lexists(path) and not path.is_dir()


def parse_synco_yaml(text: str, path: Path) -> Any:
    """``text`` (the content of ``path``) as YAML; :class:`ConfigError` naming the file and the line."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: {where}{problem}") from None


def load_synco_yaml(path: Path) -> Any:
    """``path`` read bounded and never waiting on a pipe, then parsed by :func:`parse_synco_yaml`."""
    try:
        text = read_config_text(path, kind="synco configuration file")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc.__class__.__name__})") from None
    return parse_synco_yaml(text, path)
