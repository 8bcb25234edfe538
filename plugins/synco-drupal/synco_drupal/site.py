"""Finding a Drupal installation: its root (the web root), its version and the site to transfer.

The Drupal root holds ``core/lib/Drupal.php`` and ``sites/``; it is the project directory, the folder
``composer.json`` puts it in (the scaffold's ``web-root``), or its ``web/`` or ``docroot/`` folder in the Composer
layouts (``drupal/recommended-project``). Each site is a folder of
``sites/`` with a ``settings.php``. With one site that is ``sites/default``; a multisite maps host names to
site folders in ``sites/sites.php`` (read without PHP). ``SYNCO_DRUPAL_SITE`` (a folder name or a host name
Drupal would match to one) picks one; otherwise ``default``, or the only configured site.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from synco_core import ConfigError, read_config_text, read_php_config

#: The environment variable that picks the site of a multisite.
SITE_VARIABLE = "SYNCO_DRUPAL_SITE"
_VERSION = re.compile(r"const\s+VERSION\s*=\s*'([^']+)'")


@dataclass
class DrupalSite:
    """One site of a Drupal installation."""

    #: The Drupal root (``DRUPAL_ROOT``, the web root).
    root: Path
    #: The site folder relative to the root (``sites/default``): Drupal's ``$site_path``.
    site_path: str
    version: str = ""
    #: Every configured site folder (multisite), by folder name.
    sites: list[str] = field(default_factory=list)
    #: ``sites/sites.php``: host name -> site folder.
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def site_dir(self) -> Path:
        return self.root / self.site_path

    @property
    def settings_file(self) -> Path:
        return self.site_dir / "settings.php"

    @property
    def major(self) -> int | None:
        head = self.version.split(".")[0]
        return int(head) if head.isdigit() else None

    def at_least(self, major: int, minor: int) -> bool:
        """True when the version is known to be ``major.minor`` or newer (unknown counts as newest)."""
        parts = [int(p) for p in re.findall(r"\d+", self.version)[:2]]
        if len(parts) < 2:
            return True
        return (parts[0], parts[1]) >= (major, minor)


def is_drupal(folder: Path) -> bool:
    return (folder / "core" / "lib" / "Drupal.php").is_file() and (folder / "sites").is_dir()


def composer_web_roots(project_dir: Path) -> list[Path]:
    """The Drupal root ``composer.json`` names: the scaffold's ``web-root``, then the folder the
    ``type:drupal-core`` installer path puts ``core/`` in. Only folders inside the project; a
    ``composer.json`` that cannot be read names none (Composer would refuse it too)."""
    path = project_dir / "composer.json"
    if not path.is_file():
        return []
    try:
        composer = json.loads(read_config_text(path, kind="Composer file"))
    except (OSError, ConfigError, ValueError):
        return []
    extra = composer.get("extra") if isinstance(composer, dict) else None
    if not isinstance(extra, dict):
        return []
    named: list[str] = []
    scaffold = extra.get("drupal-scaffold")
    locations = scaffold.get("locations") if isinstance(scaffold, dict) else None
    if isinstance(locations, dict) and isinstance(locations.get("web-root"), str):
        named.append(locations["web-root"])
    installers = extra.get("installer-paths")
    for target, types in installers.items() if isinstance(installers, dict) else ():
        if isinstance(types, list) and "type:drupal-core" in types and str(target).rstrip("/").endswith("/core"):
            named.append(str(target).rstrip("/").removesuffix("core"))
    roots = []
    for text in named:
        folder = Path(os.path.normpath(project_dir / text))
        if folder.is_relative_to(project_dir) and folder not in roots:
            roots.append(folder)
    return roots


def find_root(project_dir: Path) -> Path | None:
    for candidate in (project_dir, *composer_web_roots(project_dir), project_dir / "web", project_dir / "docroot"):
        if is_drupal(candidate):
            return candidate
    return None


def drupal_version(root: Path) -> str:
    try:
        found = _VERSION.search(read_config_text(root / "core" / "lib" / "Drupal.php", kind="Drupal source file",
                                                 errors="replace"))
    except OSError:
        return ""
    return found.group(1) if found else ""


def _aliases(root: Path) -> dict[str, str]:
    sites_php = root / "sites" / "sites.php"
    # Not is_file(): a device or a pipe is read (and refused or timed out) by read_php_config, not ignored.
    if not sites_php.exists() or sites_php.is_dir():
        return {}
    sites = read_php_config(sites_php, environ={}).variables.get("sites")
    if not isinstance(sites, dict):
        return {}
    return {str(host): str(folder) for host, folder in sites.items() if isinstance(folder, str)}


def site_for(wanted: str, aliases: Mapping[str, str], sites: list[str]) -> str | None:
    """The site folder ``SYNCO_DRUPAL_SITE`` names: a folder of ``sites``, or a host name (``host``,
    ``host:port``, ``host/path``, a URL) looked up as ``DrupalKernel::findSitePath()`` does, from the most
    specific name to the least: ``www.shop.example.com`` is served by ``sites.php``'s ``shop.example.com`` or a
    folder of that name, port 8080 of ``shop.local`` by ``8080.shop.local``, ``example.com/shop`` by
    ``example.com.shop``. None when nothing matches."""
    if wanted in sites:
        return wanted
    if aliases.get(wanted) in sites:
        return aliases[wanted]
    text = wanted.split("://", 1)[1] if "://" in wanted else wanted
    host, _, path = text.partition("/")
    # Drupal reads the host lower-cased (as HTTP has it), the port in front: shop.local:8080 -> 8080.shop.local.
    server = ".".join(reversed(host.lower().rstrip(".").split(":"))).split(".")
    # The script's path as Drupal splits it: "/shop/index.php" -> ["", "shop", "index.php"].
    uri = ["", *(part for part in path.split("/") if part), "index.php"]
    for i in range(len(uri) - 1, 0, -1):
        for j in range(len(server), 0, -1):
            folder = ".".join(server[-j:]) + ".".join(uri[:i])
            if aliases.get(folder) in sites:
                return aliases[folder]
            if folder in sites:
                return folder
    return None


def find_site(project_dir: Path, environ: Mapping[str, str] | None = None) -> DrupalSite | None:
    """The Drupal site ``synco`` works on in ``project_dir``, or None when it is not a Drupal project."""
    root = find_root(project_dir)
    if root is None:
        return None
    env = os.environ if environ is None else environ
    aliases = _aliases(root)
    sites = sorted(child.name for child in (root / "sites").iterdir()
                   if child.is_dir() and (child / "settings.php").is_file())
    wanted = env.get(SITE_VARIABLE, "").strip()
    if wanted:
        found = site_for(wanted, aliases, sites)
        if found is None:
            # Drupal would serve an unknown host from sites/default; a site named on purpose that matches
            # nothing is more likely a typo than a wish for the default site, so it is refused.
            raise ConfigError(f"{SITE_VARIABLE}={wanted}: no site folder sites/{aliases.get(wanted, wanted)} with "
                              f"a settings.php, and sites/sites.php maps no part of it "
                              f"(sites: {', '.join(sites) or 'none'})")
        folder = found
    elif "default" in sites or not sites:
        folder = "default"
    elif len(sites) == 1:
        folder = sites[0]
    else:
        raise ConfigError(f"this Drupal multisite has several sites ({', '.join(sites)}) and no sites/default: "
                          f"choose one with {SITE_VARIABLE}=<site folder or host name>")
    return DrupalSite(root=root, site_path=f"sites/{folder}", version=drupal_version(root), sites=sites,
                      aliases=aliases)
