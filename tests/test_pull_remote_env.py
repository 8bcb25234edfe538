"""A remote's ``env:``: the environment the application runs with on the server (APP_ENV that php-fpm's pool
sets, RAILS_ENV, FLOW_CONTEXT, CRAFT_ENVIRONMENT), which a login shell lacks, given to the remote synco, so
its framework plugin reads the settings the site runs with."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from synco_core.errors import ConfigError
from synco_core.pull.bootstrap import env_input, launch_script
from synco_core.pull.remote import Remote, remote_from_config
from synco_core.redaction import redact

HOSTILE = "pr'od \"$HOME\" `id` ; $(id) \\ é\nsecond line"


def no_contexts() -> set[str]:
    return set()


def test_env_of_a_remote_is_read() -> None:
    remote = remote_from_config("production", {"url": "ssh://deploy@shop/var/www", "env": {
        "APP_ENV": "prod", "SYNCO_DRUPAL_SITE": "shop.example.com", "PORT_NUMBER": 8080}}, no_contexts)
    assert remote.env == {"APP_ENV": "prod", "SYNCO_DRUPAL_SITE": "shop.example.com", "PORT_NUMBER": "8080"}
    assert remote_from_config("p", {"url": "ssh://shop/app"}, no_contexts).env == {}


@pytest.mark.parametrize(("env", "message"), [
    ("APP_ENV=prod", "env should be a mapping"),
    (["APP_ENV=prod"], "env should be a mapping"),
    ({"APP-ENV": "prod"}, "'APP-ENV' is not a variable name"),
    ({"1APP": "prod"}, "'1APP' is not a variable name"),
    ({"A B": "prod"}, "is not a variable name"),
    ({"APP_ENV; rm -rf ~": "prod"}, "is not a variable name"),
    ({5: "prod"}, "'5' is not a variable name"),
    ({"APP_ENV": True}, "env.APP_ENV should be a string"),
    ({"APP_ENV": None}, "env.APP_ENV should be a string"),
    ({"APP_ENV": ["prod"]}, "env.APP_ENV should be a string"),
    ({"APP_ENV": "pr\0od"}, "env.APP_ENV holds a NUL"),
])
def test_bad_env_is_one_line(env: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        remote_from_config("production", {"url": "ssh://shop/app", "env": env}, no_contexts)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("remote 'production'")


@pytest.mark.parametrize("value", ["prod", "", HOSTILE, "-n", "a=b"])
def test_the_remote_synco_runs_with_env_whatever_it_holds(tmp_path: Path, value: str) -> None:
    """The launch script (run by sh, as the login shell passes it) exports each variable, its value as written
    (read from the channel after it asks for them), to whichever synco it starts, over a value the login already
    had."""
    seen = tmp_path / "seen"
    fake = tmp_path / "remote-synco"
    fake.write_text(f"#!/bin/sh\nprintf '%s' \"$APP_ENV\" > '{seen}'\nprintf '%s' \"$OTHER\" > '{seen}.other'\n")
    fake.chmod(0o755)
    remote = Remote(kind="ssh", host="shop", path=str(tmp_path), env={"APP_ENV": value, "OTHER": "x"})
    script = launch_script(remote, {"SYNCO_REMOTE_SYNCO": str(fake)}).script
    subprocess.run(["sh", "-c", script], input=env_input(remote), capture_output=True, check=True,
                   env={"PATH": "/usr/bin:/bin", "APP_ENV": "dev", "HOME": str(tmp_path)})
    assert seen.read_text() == value
    assert Path(f"{seen}.other").read_text() == "x"


def test_no_env_changes_nothing(tmp_path: Path) -> None:
    remote = Remote(kind="ssh", host="shop", path=str(tmp_path))
    assert "export" not in launch_script(remote, {}).script.replace("export PYTHONUTF8", "")


def test_secret_values_stay_out_of_debug(tmp_path: Path) -> None:
    """A password or a URL with credentials given in env: is redacted where --debug prints the ssh command."""
    remote_from_config("p", {"url": "ssh://shop/app", "env": {
        "DB_PASSWORD": "remote-env-pw-1", "DATABASE_URL": "mysql://u:remote-env-pw-2@db/shop"}}, no_contexts)
    assert "remote-env-pw-1" not in redact("ssh shop DB_PASSWORD=remote-env-pw-1")
    assert "remote-env-pw-2" not in redact("DATABASE_URL=mysql://u:remote-env-pw-2@db/shop")
