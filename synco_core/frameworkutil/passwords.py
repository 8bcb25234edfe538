"""The password hash sanitising profiles put in place of real ones."""

from __future__ import annotations

#: bcrypt (cost 10) of the word "password", in PHP's ``$2y$`` form: ``password_verify`` (Laravel's and
#: Symfony's hashers) accepts it, so every account of a sanitised copy logs in locally with "password".
BCRYPT_PASSWORD = "$2y$10$92IXUNpkjO0rOQ5byMi.Ye4oKoEa3Ro9llC/.og/at2.uheWG/igi"
