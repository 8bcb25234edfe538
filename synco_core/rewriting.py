"""The settings a dump carries from the source's plugins, and the value rewriter an install hands the engine.

On the source, :func:`collect_source_settings` asks every plugin's ``source_settings`` (WordPress: its home and
site URLs) right before the dump; the answers travel with the dump set in the session's meta
(``sourceSettings``). On the destination, :func:`install_rewriter` asks every plugin's ``value_rewriter`` with
them and joins the answers into the one :class:`~synco_core.ValueRewriter` the engine applies while loading.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping

from synco_core.errors import ConfigError, SyncoError
from synco_core.pluginanswers import kind
from synco_core.plugins import PLUGIN_EXITS, PluginError, SyncoPluginManager, failure_reason, get_plugin_manager
from synco_core.values import Framework, ValueRewriter

log = logging.getLogger(__name__)

#: Longest value a plugin may publish (they are URLs and names, not data).
MAX_SETTING = 4096


def collect_source_settings(framework: Framework,
                            manager: SyncoPluginManager | None = None) -> dict[str, dict[str, str]]:
    """Every plugin's ``source_settings`` for ``framework``, by plugin name (plugins without any left out)."""
    manager = manager or get_plugin_manager()
    found: dict[str, dict[str, str]] = {}
    for name, answer in manager.call_each("source_settings", framework=framework):
        if answer is None:
            continue
        if not isinstance(answer, Mapping):
            log.warning("plugin %s answered source_settings with %s, not a mapping; ignored", name,
                        type(answer).__name__)
            continue
        settings = {str(key): str(value) for key, value in answer.items() if value is not None}
        long = [key for key, value in settings.items() if len(value) > MAX_SETTING]
        if long:
            raise ConfigError(f"plugin {name} publishes {', '.join(long)} longer than {MAX_SETTING} characters")
        found[name] = settings
    return found


def read_source_settings(raw: object) -> dict[str, dict[str, str]]:
    """``sourceSettings`` as received (from the meta or ``.synco-received.json``), malformed entries left out."""
    if not isinstance(raw, Mapping):
        return {}
    return {str(plugin): {str(k): str(v) for k, v in settings.items() if isinstance(v, str)}
            for plugin, settings in raw.items() if isinstance(settings, Mapping)}


def combine(rewriters: list[ValueRewriter]) -> ValueRewriter | None:
    """One rewriter doing what ``rewriters`` do, in order (each only on values holding one of its needles)."""
    if not rewriters:
        return None
    if len(rewriters) == 1:
        return rewriters[0]

    def rewrite(value: bytes) -> bytes:
        for rewriter in rewriters:
            if any(needle in value for needle in rewriter.needles):
                value = rewriter.rewrite(value)
        return value

    needles = tuple(dict.fromkeys(needle for rewriter in rewriters for needle in rewriter.needles))
    return ValueRewriter(needles=needles, rewrite=rewrite,
                         description="; ".join(r.description for r in rewriters if r.description))


def install_rewriter(framework: Framework, source_settings: Mapping[str, Mapping[str, str]],
                     manager: SyncoPluginManager | None = None) -> ValueRewriter | None:
    """The plugins' ``value_rewriter`` answers for installing into ``framework``, joined (None: nothing to do)."""
    manager = manager or get_plugin_manager()
    rewriters: list[ValueRewriter] = []
    for name, answer in manager.call_each("value_rewriter", framework=framework, source_settings=source_settings):
        if answer is None:
            continue
        if not isinstance(answer, ValueRewriter):
            log.warning("plugin %s answered value_rewriter with %s, not a ValueRewriter; ignored", name,
                        type(answer).__name__)
            continue
        if not isinstance(answer.needles, (tuple, list)) or not all(isinstance(n, bytes) for n in answer.needles) \
                or not callable(answer.rewrite):
            # A str needle ("https://...") is never found in the bytes the engines search: nothing was rewritten.
            log.warning("plugin %s answered value_rewriter with a ValueRewriter whose needles are not bytes or "
                        "whose rewrite is not a function; ignored", name)
            continue
        if not any(answer.needles):
            continue
        log.debug("plugin %s rewrites values while loading: %s", name, answer.description or "(no description)")
        rewriters.append(dataclasses.replace(answer, rewrite=_guarded(name, answer.rewrite)))
    return combine(rewriters)


def _guarded(plugin: str, rewrite: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    """``rewrite`` (plugin code the engine calls for each value while loading) failing in the plugin's name.

    Its exception reached the user as whatever the engine made of it (SQLite's "user-defined function raised
    exception"), and a value rewritten to a str or None was loaded as that: a NULL where the text was.
    """
    def guarded(value: bytes) -> bytes:
        try:
            new = rewrite(value)
        except SyncoError:
            raise
        except (Exception, *PLUGIN_EXITS) as exc:
            raise PluginError(f"plugin {plugin} failed in the rewrite of its value_rewriter: "
                              f"{failure_reason(exc)}") from exc
        if not isinstance(new, bytes):
            raise PluginError(f"plugin {plugin}'s value_rewriter rewrote a value to {kind(new)}, not bytes")
        return new
    return guarded
