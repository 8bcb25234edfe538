"""synco-wordpress: WordPress sites for synco, with their URLs rewritten for the local copy while it loads.

The hook implementations live in :mod:`synco_wordpress.plugin`, registered under the ``synco`` entry-point
group as ``wordpress``. ``wp-config.php`` is read by WP-CLI when it is there and by synco's PHP configuration
reader otherwise (:mod:`.config`); the uploads are a public file set (:mod:`.files`); :mod:`.profile` holds the
smart transfer and the sanitising profile; :mod:`.urls`, :mod:`.searchreplace` and :mod:`.serialized` replace
production's URLs with the local site's, PHP-serialized data included.
"""

from __future__ import annotations

__version__ = "0.1.0"
