"""Where a Symfony application is served: its router's request context, as the console uses it.

Symfony builds absolute URLs outside a web request (commands, mails) from ``framework.router.default_uri``
(``config/packages/routing.yaml``; the recipe sets ``'%env(DEFAULT_URI)%'``) or, in older projects, from
the ``router.request_context.scheme``/``host``/``base_url`` parameters (``config/services.yaml``). That is
the URL ``serve`` prints into the receive command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synco_symfony.doctrine import Resolver, load_yaml, merged_package_config

#: The parameters of the router's request context, before ``default_uri`` existed (Symfony < 5.1).
CONTEXT_PARAMETERS = ("router.request_context.scheme", "router.request_context.host", "router.request_context.base_url")


def _parameters(project_dir: Path, app_env: str) -> dict[str, Any]:
    """``parameters:`` of ``config/services.yaml`` and ``config/services_<env>.yaml`` (later wins)."""
    merged: dict[str, Any] = {}
    for name in ("services.yaml", f"services_{app_env}.yaml"):
        data = load_yaml(project_dir / "config" / name)
        parameters = data.get("parameters")
        if isinstance(parameters, dict):
            merged.update(parameters)
    return merged


def site_url(project_dir: Path, app_env: str, resolver: Resolver) -> tuple[str, str] | None:
    """``(url, where it was read from)`` of the application's site, or None when it does not say."""
    router = merged_package_config(project_dir, "framework", app_env).get("router")
    default_uri = resolver(router.get("default_uri")) if isinstance(router, dict) else None
    if isinstance(default_uri, str) and default_uri.strip():
        return default_uri.strip(), "framework.router.default_uri"
    parameters = _parameters(project_dir, app_env)
    scheme, host, base = (resolver(parameters.get(name)) for name in CONTEXT_PARAMETERS)
    if not isinstance(host, str) or not host.strip():
        return None
    scheme = scheme.strip() if isinstance(scheme, str) and scheme.strip() else "http"
    path = "/" + base.strip("/") if isinstance(base, str) and base.strip("/") else ""
    return f"{scheme}://{host.strip()}{path}", "router.request_context parameters"
