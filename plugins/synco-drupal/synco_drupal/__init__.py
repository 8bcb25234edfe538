"""synco-drupal: Drupal 9 to 11 sites for synco.

The hook implementations live in :mod:`synco_drupal.plugin`, registered under the ``synco`` entry-point group
as ``drupal``. :mod:`.site` finds the Drupal root and the site (multisite ``sites/sites.php`` included);
:mod:`.settings` reads ``settings.php`` (Drush first when it is there, synco's PHP configuration reader
otherwise); :mod:`.database` turns the ``$databases`` entry into a connection; :mod:`.files` lists the public
and private files; :mod:`.profile` holds the smart transfer and the sanitising profile.
"""

from __future__ import annotations

__version__ = "0.1.0"
