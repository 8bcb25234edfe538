"""A remote's ``env:`` values never stand in a command line, and secret ones stay out of ``--debug``.

``env:`` sets variables for the remote synco (``APP_ENV``, and as often a ``DB_PASSWORD`` the application's
own configuration reads from its environment). Their values were written into the launch script, which is a
word of the channel's command line: ``ssh ... 'sh -c ...DB_PASSWORD=...'``, ``docker exec ... sh -c ...``, in
``ps`` and ``/proc/PID/cmdline`` of the laptop for the whole pull (and of the server while the script starts).
The script now asks for them (``launch env``) and reads them from the channel, one encoded line each. And names
such as ``DB_PASS``, ``MYSQL_PWD``, ``AUTH_CREDENTIALS`` or ``SENTRY_DSN`` held secrets that ``--debug`` printed:
only ``PASSWORD``, ``PASSWD``, ``SECRET``, ``TOKEN``, ``KEY`` and ``_URL`` counted.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from pull_support import make_project, remote_environment, run_synco

from synco_core.pull.bootstrap import env_input, launch_script
from synco_core.pull.remote import Remote

HOSTILE = "pr'od \"$HOME\" `id` ; $(id) \\ é\nsecond line\\0134 %b %s x"
SECRETS = {"DB_PASSWORD": "envsecret-one", "DB_PASS": "envsecret-two", "MYSQL_PWD": "envsecret-three",
           "AUTH_CREDENTIALS": "envsecret-four", "SENTRY_DSN": "envsecret-five", "APP_ENV": "prod"}


@pytest.mark.parametrize("value", ["prod", "", HOSTILE, "-n", "a=b", "trailing\n\n", " lead", "\t", "x" * 5000])
def test_env_values_travel_on_the_channel_and_arrive_as_written(tmp_path: Path, value: str) -> None:
    seen = tmp_path / "seen"
    fake = tmp_path / "remote-synco"
    fake.write_text(f"#!/bin/sh\nprintf '%s' \"$APP_ENV\" > '{seen}'\nprintf '%s' \"$OTHER\" > '{seen}.other'\n")
    fake.chmod(0o755)
    remote = Remote(kind="ssh", host="shop", path=str(tmp_path), env={"APP_ENV": value, "OTHER": "x"})
    launch = launch_script(remote, {"SYNCO_REMOTE_SYNCO": str(fake)})
    script = launch.script
    other = Remote(kind="ssh", host="shop", path=str(tmp_path), env={"APP_ENV": "other value", "OTHER": "y"})
    made = launch_script(other, {"SYNCO_REMOTE_SYNCO": str(fake)})
    # The script does not depend on the values: none of them is in the command line.
    assert script.replace(launch.upload_name, "") == made.script.replace(made.upload_name, "")
    ran = subprocess.run(["sh", "-c", script], input=env_input(remote), capture_output=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "APP_ENV": "dev", "HOME": str(tmp_path)})
    assert b"SYNCO-LAUNCH env" in ran.stdout
    assert seen.read_bytes() == value.encode()
    assert Path(f"{seen}.other").read_text() == "x"


def test_a_pull_puts_no_env_value_in_a_command_line_nor_a_secret_in_debug(tmp_path: Path) -> None:
    env = remote_environment(tmp_path)
    project = make_project(tmp_path / "app", public_files=1, rows=3)
    config = tmp_path / "here"
    config.mkdir()
    (config / ".synco.yml").write_text(json.dumps({"remotes": {"prod": {
        "type": "docker", "container": "web-1", "path": str(project.root), "env": SECRETS}}}))
    result = run_synco(["--debug", "pull", "prod", "--target", "out"], env, config)
    assert result.returncode == 0, result.stderr
    argv = Path(env["SYNCO_SHIM_LOG"]).read_text()
    for name, value in SECRETS.items():
        if name != "APP_ENV":
            assert value not in argv, f"{name} in the command line"
            assert value not in result.stdout + result.stderr, f"{name} in the --debug output"
