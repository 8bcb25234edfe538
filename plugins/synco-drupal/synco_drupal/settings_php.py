"""``settings.php`` run by the PHP CLI, for what synco's reader cannot evaluate without PHP.

A site's settings may be written with forms the reader steps over rather than guess (a reference such as
``$db = &$databases['default']['default']``, a loop, a function of the site's own, a class's static method):
without Drush, the PHP CLI then runs ``settings.php`` as ``Drupal\\Core\\Site\\Settings::initialize()`` does:
inside a function whose locals are ``$app_root``, ``$site_path``, ``$settings``, ``$config``, ``$databases``
and ``$class_loader``, from the Drupal root, with ``DRUPAL_ROOT`` defined, and prints ``$databases`` and
``$settings`` as JSON after a marker (whatever the files print first is ignored). Nothing of Drupal itself is
loaded, so a settings file that needs it fails here, and the reader's one-line refusal stands.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from synco_core import ConfigError, run_command
from synco_drupal.site import DrupalSite

log = logging.getLogger(__name__)

#: Printed before the JSON, so output of the settings files themselves cannot be taken for it.
MARKER = "SYNCO-DRUPAL-SETTINGS:"
#: settings.php is a few includes; a slow disk or a secrets manager's pipe takes a while.
PHP_TIMEOUT = 30.0

#: Runs settings.php in the scope Drupal gives it; its arguments are the Drupal root and the site path.
CODE = r"""
$synco_root = $argv[1];
$synco_site = $argv[2];
chdir($synco_root);
if (!defined('DRUPAL_ROOT')) {
    define('DRUPAL_ROOT', $synco_root);
}
$synco_read = static function (string $app_root, string $site_path): array {
    $settings = [];
    $config = [];
    $databases = [];
    $class_loader = null;
    require $app_root . '/' . $site_path . '/settings.php';
    return ['databases' => $databases, 'settings' => $settings];
};
$synco_found = $synco_read($synco_root, $synco_site);
echo "\n", 'SYNCO-DRUPAL-SETTINGS:', json_encode($synco_found, JSON_PARTIAL_OUTPUT_ON_ERROR | JSON_UNESCAPED_SLASHES
    | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE), "\n";
"""


def settings_with_php(php: str, site: DrupalSite, environ: Mapping[str, str]) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """``($databases, $settings)`` as ``settings.php`` leaves them when PHP runs it; a ConfigError (one line,
    never the files' output, which may quote a password) when PHP fails or prints no answer."""
    result = run_command([php, "-d", "display_errors=stderr", "-r", CODE, "--", str(site.root), site.site_path],
                         cwd=site.root, timeout=PHP_TIMEOUT, env=dict(environ), check=False)
    if result.returncode != 0:
        raise ConfigError(f"php could not run {site.settings_file} (exit status {result.returncode})")
    _, marker, answer = result.stdout.rpartition(MARKER)
    try:
        found = json.loads(answer) if marker else None
    except ValueError:
        found = None
    if not isinstance(found, dict):
        raise ConfigError(f"php ran {site.settings_file} but printed no settings")
    databases, settings = found.get("databases"), found.get("settings")
    # json_encode writes an empty PHP array as a list.
    return (databases if isinstance(databases, dict) else {}), (settings if isinstance(settings, dict) else {})
