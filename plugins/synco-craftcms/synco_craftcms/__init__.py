"""synco-craftcms: a synco plugin for Craft CMS 3, 4 and 5 (MySQL/MariaDB or PostgreSQL, local asset volumes)."""
