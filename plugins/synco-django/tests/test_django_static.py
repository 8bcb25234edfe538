"""Reading settings modules without running them: the forms settings use, what stays unknown, and the
property that whatever the reader works out equals what Python computes when it runs the module."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synco_django.databases import database_config
from synco_django.static import DatabaseUrl, is_known, is_unknown, read_settings

from synco_core import ConfigError


def read(tmp_path: Path, text: str, environ: dict[str, str] | None = None, module: str = "site.settings",
         files: dict[str, str] | None = None) -> dict[str, Any]:
    root = tmp_path / "project"
    for name, content in {module.replace(".", "/") + ".py": text, **(files or {})}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    for package in {p for name in (files or {}) | {module.replace(".", "/") + ".py": ""}
                    for p in Path(name).parents if p != Path(".")}:
        (root / package / "__init__.py").touch()
    path = root / (module.replace(".", "/") + ".py")
    return read_settings(root, module, path, root, environ or {})


def test_startproject_forms(tmp_path: Path) -> None:
    names = read(tmp_path, """
import os
from pathlib import Path
BASE_DIR = Path(__file__).resolve().parent.parent
OLD_BASE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
MEDIA_ROOT = os.path.join(OLD_BASE, "media")
STATIC_ROOT = f"{BASE_DIR}/static"
STATIC_URL = "static/"
""")
    root = tmp_path / "project"
    assert names["BASE_DIR"] == root
    assert names["DATABASES"]["default"]["NAME"] == root / "db.sqlite3"
    assert names["MEDIA_ROOT"] == f"{root}/media"
    assert names["STATIC_ROOT"] == f"{root}/static"


def test_environment_forms(tmp_path: Path) -> None:
    env = {"DB_NAME": "shop", "DB_PORT": "6432", "DEBUG": "off", "DATABASE_URL": "postgres://u:p@h/d",
           "MEDIA": "/srv/media"}
    names = read(tmp_path, """
import os
import environ
import dj_database_url
from decouple import config
from os import getenv
env = environ.Env(DEBUG=(bool, True), CACHE=(str, "locmem"))
DEBUG = env("DEBUG")
CACHE = env("CACHE")
NAME = os.environ.get("DB_NAME", "fallback")
MISSING = os.environ.get("NOPE", "fallback")
REQUIRED = os.environ["DB_NAME"]
PORT = int(os.getenv("DB_PORT", "5432"))
TIMEOUT = config("TIMEOUT", default=30, cast=int)
OVERRIDE = getenv("NOPE") or "from or"
URL_DB = dj_database_url.config(conn_max_age=600)
ENV_DB = env.db()
ENV_DB_DEFAULT = env.db("OTHER_URL", default="sqlite:////tmp/x.db")
MEDIA_ROOT = env.path("MEDIA")
CHOICE = "a" if DEBUG else "b"
""", env)
    assert (names["DEBUG"], names["CACHE"], names["NAME"], names["MISSING"], names["REQUIRED"]) == (
        False, "locmem", "shop", "fallback", "shop")
    assert (names["PORT"], names["TIMEOUT"], names["OVERRIDE"], names["CHOICE"]) == (6432, 30, "from or", "b")
    assert names["URL_DB"] == DatabaseUrl("postgres://u:p@h/d") == names["ENV_DB"]
    assert names["ENV_DB_DEFAULT"] == DatabaseUrl("sqlite:////tmp/x.db")
    assert names["MEDIA_ROOT"] == Path("/srv/media")


def test_split_settings_and_later_changes(tmp_path: Path) -> None:
    names = read(tmp_path, """
from .base import *
DATABASES["default"]["HOST"] = "db.production"
DATABASES["default"]["NAME"] += "_prod"
MEDIA_ROOT = BASE_DIR / "prod-media"
try:
    from .local import *
except ImportError:
    LOCAL = False
""", module="site.settings.production", files={
        "site/settings/base.py": 'from pathlib import Path\nBASE_DIR = Path("/srv/app")\n'
                                 'DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "app"}}\n'
                                 'MEDIA_ROOT = BASE_DIR / "media"\n',
        "site/settings/local.py": 'MEDIA_URL = "/m/"\n'})
    assert names["DATABASES"]["default"]["HOST"] == "db.production"
    assert names["DATABASES"]["default"]["NAME"] == "app_prod"
    assert names["MEDIA_ROOT"] == Path("/srv/app/prod-media")
    assert names["MEDIA_URL"] == "/m/"
    assert is_unknown(names["LOCAL"])


def test_what_stays_unknown(tmp_path: Path) -> None:
    names = read(tmp_path, """
import os
from somewhere import helper
A = helper()
B = os.environ["NOT_SET"]
for name in ["x"]:
    C = name
if os.environ.get("NOT_SET"):
    D = 1
else:
    D = 2
if helper():
    E = 1
DATABASES = {"default": {"NAME": A, "ENGINE": "django.db.backends.mysql"}}
def F():
    return 1
""")
    assert is_unknown(names["A"]) and is_unknown(names["B"]) and is_unknown(names["C"])
    assert names["D"] == 2, "an if whose test is known runs its branch"
    assert is_unknown(names["E"]) and is_unknown(names["F"])
    assert not is_known(names["DATABASES"]) and names["DATABASES"]["default"]["ENGINE"] == "django.db.backends.mysql"


def test_hostile_files_do_no_harm(tmp_path: Path) -> None:
    """Nothing is run: a settings module that would write a file, loop forever or import itself is only read."""
    marker = tmp_path / "ran"
    names = read(tmp_path, f"""
open({str(marker)!r}, "w").write("ran")
__import__("os").system("touch {marker}")
from site.settings import *
while True:
    pass
X = 1
""")
    assert not marker.exists()
    assert names["X"] == 1
    syntax = read(tmp_path / "other", "X = (\n")
    assert "X" not in syntax


def test_a_huge_file_is_refused(tmp_path: Path) -> None:
    # Not silently left out: a settings module over 1 MiB is a one-line error naming it.
    with pytest.raises(ConfigError, match=r"settings\.py is too large to be a Django settings module"):
        read(tmp_path, "X = 1\n" + "#" * (2 * 1024 * 1024))


# ----------------------------------------------------------------------------------------------- property

NAMES = [f"V{i}" for i in range(6)]
ENV_KEYS = ["K1", "K2", "K3"]
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)


@st.composite
def expression(draw: st.DrawFn, defined: list[tuple[str, str]], depth: int = 0) -> tuple[str, str]:
    """``(Python source, kind)`` of an expression of a kind the reader understands, using earlier names."""
    choices = ["str", "int", "env", "name", "fstring", "join", "path", "list", "dict", "or", "ifexp", "add"]
    if depth > 2:
        choices = ["str", "int", "env", "name"]
    choice = draw(st.sampled_from(choices))
    strings = [name for name, kind in defined if kind == "str"]
    if choice == "str" or (choice in ("name", "fstring", "join", "add") and not strings):
        return repr(draw(_text)), "str"
    if choice == "int":
        return repr(draw(st.integers(-10**6, 10**6))), "int"
    if choice == "env":
        key = draw(st.sampled_from(ENV_KEYS))
        default = draw(_text)
        form = draw(st.sampled_from(["os.environ.get({k!r}, {d!r})", "os.getenv({k!r}, {d!r})"]))
        return form.format(k=key, d=default), "str"
    if choice == "name":
        name, kind = draw(st.sampled_from(defined)) if defined else (repr(""), "str")
        return name, kind
    if choice == "fstring":
        return f"f'<{{{draw(st.sampled_from(strings))}}}>'", "str"
    if choice == "join":
        return f"os.path.join({draw(st.sampled_from(strings))}, {draw(_text)!r})", "str"
    if choice == "add":
        return f"{draw(st.sampled_from(strings))} + {draw(_text)!r}", "str"
    if choice == "path":
        return f"Path('/srv') / {draw(_text.filter(lambda t: '/' not in t and t not in ('', '.')))!r}", "path"
    if choice == "list":
        items = draw(st.lists(expression(defined, depth + 1), max_size=3))
        return "[" + ", ".join(code for code, _ in items) + "]", "list"
    if choice == "dict":
        items = draw(st.lists(expression(defined, depth + 1), max_size=3))
        return "{" + ", ".join(f"{i!r}: {code}" for i, (code, _) in enumerate(items)) + "}", "dict"
    if choice == "or":
        first, second = draw(expression(defined, depth + 1)), draw(expression(defined, depth + 1))
        return f"({first[0]}) or ({second[0]})", "any"
    first, second = draw(expression(defined, depth + 1)), draw(expression(defined, depth + 1))
    test = draw(st.sampled_from(ENV_KEYS))
    return f"({first[0]}) if os.environ.get({test!r}) else ({second[0]})", "any"


@st.composite
def module(draw: st.DrawFn) -> str:
    """Assignments, augmented assignments of strings, and changes of dict items, in any order."""
    defined: list[tuple[str, str]] = []
    lines = ["import os", "from pathlib import Path"]
    for _ in range(draw(st.integers(1, 8))):
        strings = [n for n, k in defined if k == "str"]
        dicts = [n for n, k in defined if k == "dict"]
        statement = draw(st.sampled_from(["assign", "assign", "augment", "item"]))
        if statement == "augment" and strings:
            lines.append(f"{draw(st.sampled_from(strings))} += {draw(_text)!r}")
            continue
        if statement == "item" and dicts:
            target = draw(st.sampled_from(dicts))
            # Not the dict itself (or what may hold it): a dict holding itself compares by recursion.
            code, _ = draw(expression([(n, k) for n, k in defined if k in ("str", "int", "path")]))
            lines.append(f"{target}[{draw(_text)!r}] = {code}")
            continue
        name = draw(st.sampled_from(NAMES))
        code, kind = draw(expression(defined))
        lines.append(f"{name} = {code}")
        defined = [(n, k) for n, k in defined if n != name] + ([(name, kind)] if kind != "any" else [])
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=module(), environ=st.dictionaries(st.sampled_from(ENV_KEYS), _text.filter(lambda t: "\x00" not in t),
                                              max_size=3))
def test_what_the_reader_works_out_is_what_python_computes(tmp_path: Path, text: str, environ: dict[str, str]) -> None:
    names = read(tmp_path, text, environ)
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(environ)
        executed: dict[str, Any] = {"__file__": "x", "__name__": "site.settings"}
        exec(compile(text, "settings.py", "exec"), executed)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    for name in NAMES:
        if name in executed:
            assert names[name] == executed[name], (name, text, environ)


@pytest.mark.parametrize("source", ["X = 1 +", "X = ((1)", "\x00"])
def test_unparsable_module(tmp_path: Path, source: str) -> None:
    assert "X" not in read(tmp_path, source)


#: Settings modules that change DATABASES in place after reading it (the Heroku template's
#: ``DATABASES['default'].update(db_from_env)``, a NAME given over dj-database-url's), with the
#: environment, and the database Django then uses: (engine, name, host, user, options) or None when the
#: reader must say it does not know (never the database as it was before the change).
IN_PLACE = [
    ("""
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3", "OPTIONS": {"timeout": 20}}}
db_from_env = dj_database_url.config(conn_max_age=500)
DATABASES['default'].update(db_from_env)
""", {"DATABASE_URL": "postgres://a:b@h/real"}, ("postgresql", "real", "h", "a", {})),
    ("""
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "x", "OPTIONS": {"sslmode": "require"}}}
DATABASES["default"].update(dj_database_url.config())
""", {"DATABASE_URL": "postgres://a:b@h/real"}, ("postgresql", "real", "h", "a", {"sslmode": "require"})),
    ("""
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "x", "OPTIONS": {"sslmode": "require"}}}
DATABASES["default"].update(dj_database_url.config())
""", {"DATABASE_URL": "postgres://a:b@h/real?sslmode=disable"}, ("postgresql", "real", "h", "a",
                                                                  {"sslmode": "disable"})),
    ("""
DATABASES = {"default": dj_database_url.config(default="postgres://u:p@localhost/fallback")}
DATABASES["default"]["NAME"] = os.environ.get("DB_NAME", DATABASES["default"]["NAME"])
""", {"DATABASE_URL": "postgres://a:b@h/real", "DB_NAME": "other"}, ("postgresql", "other", "h", "a", {})),
    ("""
DATABASES = {"default": dj_database_url.config(default="postgres://u:p@localhost/fallback")}
DATABASES["default"]["NAME"] = os.environ.get("DB_NAME", DATABASES["default"]["NAME"])
""", {}, ("postgresql", "fallback", "localhost", "u", {})),
    ("""
DATABASES = {"default": dj_database_url.parse("mysql://u:p@db/app")}
DATABASES["default"].update({"HOST": "/run/mysqld/mysqld.sock", "USER": os.environ["DB_USER"]})
DATABASES["default"]["OPTIONS"] = {"charset": "utf8mb4"}
""", {"DB_USER": "deploy"}, ("mysql", "app", None, "deploy", {"charset": "utf8mb4"})),
    ("""
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
DATABASES["default"].update(ENGINE="django.db.backends.postgresql", NAME=os.environ["DB_NAME"], HOST="db")
""", {"DB_NAME": "real"}, ("postgresql", "real", "db", None, {})),
    ("""
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
DATABASES.setdefault("default", {}).update({"ENGINE": "django.db.backends.mysql", "NAME": "real"})
""", {}, None),
    ("""
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
DATABASES.setdefault("replica", {"ENGINE": "django.db.backends.mysql", "NAME": "copy"})
DATABASES["default"].setdefault("NAME", "ignored")
""", {}, ("sqlite", "{project}/db.sqlite3", None, None, {})),
    ("""
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
DATABASES["default"].update(dj_database_url.config())
""", {}, None),
    ("""
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
DATABASES["default"].update(get_database_settings())
""", {}, None),
    ("""
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
DATABASES.pop("default")
""", {}, None),
    # A dict display merging a URL's settings (a replica of the default database): the URL, keys around it.
    ("""
DATABASES = {"default": {**dj_database_url.config(), "TEST": {"MIRROR": "x"}, "HOST": "replica.internal"}}
""", {"DATABASE_URL": "postgres://a:b@h/real"}, ("postgresql", "real", "replica.internal", "a", {})),
    ("""
DATABASES = {"default": {"OPTIONS": {"sslmode": "require"}, "NAME": "kept?", **dj_database_url.parse(os.environ["U"])}}
""", {"U": "postgres://a:b@h/real"}, ("postgresql", "real", "h", "a", {"sslmode": "require"})),
    ("""
PRIMARY = dj_database_url.config()
DATABASES = {"default": {**PRIMARY, **{"USER": "reader"}}}
PRIMARY["USER"] = "changed later, not the copy"
""", {"DATABASE_URL": "mysql://a:b@h/real"}, ("mysql", "real", "h", "reader", {})),
    ("""
BASE = {"ENGINE": "django.db.backends.postgresql", "NAME": "app", "HOST": "primary"}
DATABASES = {"default": {**BASE, "HOST": "replica"}}
""", {}, ("postgresql", "app", "replica", None, {})),
    ("""
DATABASES = {"default": {**make_database(), "HOST": "replica"}}
""", {}, None),
]


@pytest.mark.parametrize(("text", "environ", "expected"), IN_PLACE)
def test_databases_changed_in_place(tmp_path: Path, text: str, environ: dict[str, str],
                                    expected: tuple[str, str, str | None, str | None, dict[str, str]] | None) -> None:
    names = read(tmp_path, "import os\nimport dj_database_url\n" + text, environ)
    databases = names["DATABASES"]
    if expected is None:
        assert not is_known(databases)
        return
    assert is_known(databases)
    config = database_config("default", databases["default"], tmp_path, "settings")
    engine, name, *rest = expected
    name = name.format(project=tmp_path)
    assert (config.engine, config.name, config.host, config.user, config.options) == (engine, name, *rest)
    if config.engine == "mysql" and config.host is None:
        assert config.socket == "/run/mysqld/mysqld.sock"


def test_lists_changed_in_place(tmp_path: Path) -> None:
    names = read(tmp_path, """
MIDDLEWARE = ["a", "b"]
MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
MIDDLEWARE.append("c")
MIDDLEWARE.extend(["d"])
INSTALLED_APPS = ["x"]
INSTALLED_APPS.remove("x")
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site.settings")
BASE = os.environ.get("NOPE", "kept")
""")
    assert names["MIDDLEWARE"] == ["a", "whitenoise.middleware.WhiteNoiseMiddleware", "b", "c", "d"]
    assert is_unknown(names["INSTALLED_APPS"])
    assert names["BASE"] == "kept"


#: Settings that load a dotenv file of their own choosing, the environment as the project's .env and the
#: real environment give it, and the DATABASE_URL the settings then see.
DOTENV_LOADS = [
    ("import environ\nenv = environ.Env()\nenviron.Env.read_env(BASE_DIR / '.env.production')\n", {},
     "from_file"),
    ("import environ\nimport os\nenv = environ.Env()\nenv.read_env(os.path.join(BASE_DIR, '.env.production'))\n",
     {}, "from_file"),
    ("from dotenv import load_dotenv\nload_dotenv(BASE_DIR / '.env.production')\nimport environ\nenv = environ.Env()\n",
     {}, "from_file"),
    ("import dotenv\ndotenv.load_dotenv(dotenv_path=str(BASE_DIR / '.env.production'))\n"
     "import environ\nenv = environ.Env()\n", {}, "from_file"),
    ("import environ\nenv = environ.Env()\nenviron.Env.read_env(BASE_DIR / '.env.production')\n",
     {"DATABASE_URL": "postgres://u:p@h/real"}, "real"),
    ("import environ\nenv = environ.Env()\nenviron.Env.read_env(BASE_DIR / '.env.production', overwrite=True)\n",
     {"DATABASE_URL": "postgres://u:p@h/real"}, "from_file"),
    ("import environ\nenv = environ.Env()\nenviron.Env.read_env(BASE_DIR / '.env.missing')\n", {}, "dotenv"),
    ("import environ\nenv = environ.Env()\nenviron.Env.read_env()\n", {}, "dotenv"),
]


@pytest.mark.parametrize(("loader", "real", "expected"), DOTENV_LOADS)
def test_dotenv_file_the_settings_load(tmp_path: Path, loader: str, real: dict[str, str], expected: str) -> None:
    """A settings module that reads .env.production itself sees its variables, not the project's .env (read
    from the start as the usual one); the real environment still wins unless told otherwise."""
    root = tmp_path / "project"
    (root / "site").mkdir(parents=True)
    (root / "site" / "__init__.py").touch()
    (root / ".env.production").write_text("DATABASE_URL=postgres://u:p@h/from_file\n")
    text = ("from pathlib import Path\nBASE_DIR = Path(__file__).resolve().parent.parent\n" + loader
            + "DATABASES = {'default': env.db('DATABASE_URL')}\n")
    (root / "site" / "settings.py").write_text(text)
    environ = {"DATABASE_URL": "postgres://u:p@h/dotenv", **real}
    names = read_settings(root, "site.settings", root / "site" / "settings.py", root, environ, real=real)
    assert names["DATABASES"]["default"] == DatabaseUrl(f"postgres://u:p@h/{expected}")


_SQLITE_SETTINGS = ("from pathlib import Path\nBASE_DIR = Path(__file__).resolve().parent.parent\n"
                    "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3',\n"
                    "                         'NAME': BASE_DIR / 'db.sqlite3'}}\n"
                    "MEDIA_ROOT = BASE_DIR / 'media'\n")


@pytest.mark.parametrize("statement", [
    "import django_heroku\ndjango_heroku.settings(locals())",
    "import django_on_heroku\ndjango_on_heroku.settings(locals(), staticfiles=False)",
    "from . import local_settings\nglobals().update(vars(local_settings))",
    "globals()['DATABASES'] = {}",
    "exec(open(os.path.join(BASE_DIR, 'local_settings.py')).read())",
    "configure(vars())",
    "if os.environ.get('UNKNOWABLE') in some_list:\n    apply(locals())",
    "try:\n    from .local import *\nexcept ImportError:\n    apply(globals())",
    "for key in ('A', 'B'):\n    globals()[key] = 1",
])
def test_code_given_the_namespace_leaves_the_settings_unknown(tmp_path: Path, statement: str) -> None:
    """django-heroku's settings(locals()) replaces DATABASES with DATABASE_URL's database: the reader stepped
    over the call and named the sqlite file written above it, so the wrong database was dumped. Any code handed
    the module's namespace (locals(), globals(), vars(), exec) may set any setting: what was read before it
    is unknown from there on, and names assigned after it are read again."""
    names = read(tmp_path, "import os\n" + _SQLITE_SETTINGS + statement + "\nSTATIC_ROOT = '/srv/static'\n")
    assert is_unknown(names["DATABASES"]) and is_unknown(names["MEDIA_ROOT"])
    assert names["STATIC_ROOT"] == "/srv/static"


def test_reading_the_namespace_in_a_function_body_that_never_runs_changes_nothing(tmp_path: Path) -> None:
    names = read(tmp_path, _SQLITE_SETTINGS + "def debug_names():\n    return sorted(globals())\n")
    assert is_known(names["DATABASES"])
