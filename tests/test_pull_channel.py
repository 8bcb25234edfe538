"""The argv of each channel, the remote shell script, the probe parser, and the channel subprocess's cleanup."""

from __future__ import annotations

import io
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synco_core.errors import ConfigError, TransferError
from synco_core.pull.bootstrap import LOADER, MODULE_MAIN, Launch, launch_script, negotiate
from synco_core.pull.channel import ChannelProcess, channel_argv, remote_script, run_channel, ssh_command
from synco_core.pull.frames import FramingError
from synco_core.pull.remote import Remote, parse_remote_url, remote_from_config
from synco_core.pull.tempdir import NO_TEMP_FOLDER, remote_temp_root
from synco_core.testing.services import require_tool


def _remote(url: str) -> Remote:
    return parse_remote_url(url, lambda: {"prod"})


def test_ssh_argv_quotes_the_script_once_more_for_the_login_shell() -> None:
    remote = _remote("ssh://deploy@example.com:2222/srv/my app")
    script = remote_script(remote.path, ["synco", "_channel"])
    argv = channel_argv(remote, script, env={})
    assert argv[:4] == ["ssh", "-T", "-o", "BatchMode=yes"]
    assert argv[4:6] == ["-p", "2222"]
    assert channel_argv(remote, script, env={}, batch=False)[:4] == ["ssh", "-T", "-p", "2222"]
    assert argv[6:8] == ["--", "deploy@example.com"]
    # The remote login shell sees one command that has sh run the script (see the login shell tests below).
    assert shlex.split(argv[8])[:2] == ["sh", "-c"]
    assert script == "cd '/srv/my app' && exec synco _channel"


#: A script with everything login shells treat differently: newlines, backslashes (two, and one before a
#: quote), quotes, "!", "$", and a multi-line Python program in single quotes, as the launch script has.
_AWKWARD_SCRIPT = """\
printf '%s\\n' 'back\\\\slash\\' "dq \\"x\\"" 'bang!' '$HOME' "it's"
python3 -c 'import sys
for word in sys.argv[1:]:
    print(word)' 'two
lines' 'trailing\\'
"""


@pytest.mark.parametrize("shell", ["sh", "dash", "bash", "zsh", "fish", "tcsh", "csh"])
def test_ssh_command_runs_the_script_unchanged_under_any_login_shell(shell: str) -> None:
    # ssh hands its command to the user's login shell with "-c". csh/tcsh used to fail on the script's
    # newlines ("Unmatched '"), and fish read backslashes inside single quotes as escapes.
    binary = require_tool(shell, {"dash": "dash", "csh": "tcsh"}.get(shell, shell))
    remote = _remote("ssh://deploy@example.com/srv/app")
    command = channel_argv(remote, _AWKWARD_SCRIPT, env={})[-1]
    expected = subprocess.run(["sh", "-c", _AWKWARD_SCRIPT], capture_output=True, text=True, check=True).stdout
    result = subprocess.run([binary, "-c", command], capture_output=True, text=True, env={**os.environ, "HOME": "/h"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected
    assert "back\\\\slash\\" in expected and "trailing\\" in expected and "bang!" in expected


def test_ssh_command_with_an_odd_application_path_under_fish_and_tcsh(tmp_path: Path) -> None:
    # The family of paths: a trailing backslash, two backslashes, a quote, "!", "$", spaces, unicode.
    shells = [path for path in (shutil.which("fish"), shutil.which("tcsh"), shutil.which("sh")) if path]
    for name in ("back\\\\sl\\", "tr\\", "q'uo\"te", "ex!cl", "dol$HOME`x`", "sp ace ü"):
        folder = tmp_path / name
        folder.mkdir()
        command = channel_argv(Remote(kind="ssh", host="h", path=str(folder)), remote_script(str(folder), ["pwd"]),
                               env={})[-1]
        for shell in shells:
            result = subprocess.run([shell, "-c", command], capture_output=True, text=True)
            assert (result.returncode, result.stdout) == (0, f"{folder}\n"), (shell, name, result.stderr)


def test_ssh_command_and_options_from_env_and_config() -> None:
    remote = _remote("ssh://host/app")
    remote.ssh_options = ("-i", "/keys/id")
    env = {"SYNCO_SSH_COMMAND": "ssh -F /dev/null", "SYNCO_SSH_OPTIONS": "-o 'ProxyJump=a b'"}
    argv = channel_argv(remote, "true", env=env)
    # The user's options first: ssh keeps the first value it reads, so a BatchMode=no of theirs wins.
    assert argv[:7] == ["sh", "-c", 'exec ssh -F /dev/null "$@"', "SYNCO_SSH_COMMAND", "-T", "-i", "/keys/id"]
    assert argv[7:11] == ["-o", "ProxyJump=a b", "-o", "BatchMode=yes"]
    # A plain program name runs as it is, as git runs GIT_SSH_COMMAND=ssh.
    assert channel_argv(remote, "true", env={"SYNCO_SSH_COMMAND": "/usr/bin/ssh"})[:2] == ["/usr/bin/ssh", "-T"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(st.characters(exclude_characters="\0", exclude_categories=("Cs",)), max_size=12),
                min_size=1, max_size=6))
def test_ssh_options_are_shell_words_never_expanded(words: list[str]) -> None:
    """``SYNCO_SSH_OPTIONS`` and a string ``ssh_options:`` are split as a shell splits words (quotes, backslashes)
    and nothing in them is expanded (``$HOME``, ``~``, a backtick, a ``#``): whatever words a shell's quoting
    (``shlex.join``) wrote come back to ssh as those words, in order."""
    quoted = shlex.join(words)
    remote = _remote("ssh://host/app")
    argv = channel_argv(remote, "true", env={"SYNCO_SSH_OPTIONS": quoted})
    assert argv[2:2 + len(words)] == words
    configured = remote_from_config("prod", {"url": "ssh://host/app", "ssh_options": quoted})
    assert list(configured.ssh_options) == words


@pytest.mark.parametrize("value", ["-o 'ProxyCommand=ssh -W %h:%p bastion", '-i "key', "-o x\\"])
def test_ssh_options_with_a_quote_left_open_are_one_line_naming_them(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^SYNCO_SSH_OPTIONS cannot be split into words: [^\n]+$"):
        channel_argv(_remote("ssh://host/app"), "true", env={"SYNCO_SSH_OPTIONS": value})


#: Records its arguments (NUL-separated) in $SYNCO_TEST_RECORD, and fails.
_RECORDING_SSH = """#!/bin/sh
printf '%s\\0' "$@" > "$SYNCO_TEST_RECORD"
exit 1
"""


@pytest.mark.parametrize("command", [
    'ssh-rec -F "$SYNCO_TEST_DIR/ssh config" -o User=$SYNCO_TEST_USER',
    "ssh-rec -i ~/.ssh/id 'two  words' \"dq $SYNCO_TEST_USER\" 'sq $SYNCO_TEST_USER' a\\ b",
    "SYNCO_TEST_ASSIGNED=x ssh-rec -o ~/k",
    "ssh-rec",
    "ssh-rec -o 'ProxyCommand=nc %h %p'",
    "ssh-rec -v 2>/dev/null",
    "ssh-rec -o Hosts=*",
])
def test_ssh_command_is_read_as_git_reads_git_ssh_command(tmp_path: Path, command: str) -> None:
    """SYNCO_SSH_COMMAND was split into words by synco (no $VAR, no ~); git runs GIT_SSH_COMMAND through sh."""
    git = require_tool("git", "git")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh-rec").write_text(_RECORDING_SSH)
    (bin_dir / "ssh-rec").chmod(0o755)
    record = tmp_path / "record"
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path / "home dir"),
           "SYNCO_TEST_RECORD": str(record), "SYNCO_TEST_DIR": str(tmp_path / "a dir"), "SYNCO_TEST_USER": "u v",
           "GIT_SSH_VARIANT": "simple"}

    def recorded() -> list[str]:
        words = record.read_bytes().split(b"\0")[:-1]
        record.unlink()
        # What comes after the user's words: git's host and command, and synco's two test words.
        return [word.decode() for word in words[:-2]]

    subprocess.run([git, "ls-remote", "ssh://host.invalid/repo"], env={**env, "GIT_SSH_COMMAND": command},
                   capture_output=True, check=False)
    by_git = recorded()
    subprocess.run([*ssh_command({"SYNCO_SSH_COMMAND": command}), "host", "cmd"], env=env, check=False)
    assert recorded() == by_git
    assert by_git[:1] != [] or command == "ssh-rec"


def test_bad_ssh_command_env_is_one_line() -> None:
    with pytest.raises(ConfigError, match="SYNCO_SSH_COMMAND"):
        channel_argv(_remote("ssh://host/app"), "true", env={"SYNCO_SSH_COMMAND": "ssh 'unclosed"})


def test_docker_argv() -> None:
    assert channel_argv(_remote("docker://web/app"), "S", env={}) == ["docker", "exec", "-i", "web", "sh", "-c", "S"]


def test_docker_compose_argv() -> None:
    remote = _remote("docker-compose://php/app")
    remote.compose_options = ("-f", "compose.prod.yml")
    assert channel_argv(remote, "S", env={}) == [
        "docker", "compose", "-f", "compose.prod.yml", "exec", "-T", "php", "sh", "-c", "S"]


def test_kubectl_argv() -> None:
    assert channel_argv(_remote("kubectl://prod/shop/web-0/php//app"), "S", env={}) == [
        "kubectl", "exec", "-i", "--context", "prod", "-n", "shop", "web-0", "-c", "php", "--", "sh", "-c", "S"]
    assert channel_argv(_remote("kubectl://shop/web-0/app"), "S", env={}) == [
        "kubectl", "exec", "-i", "-n", "shop", "web-0", "--", "sh", "-c", "S"]


@pytest.mark.parametrize(("path", "expected"), [
    ("", "exec a 'b c'"),
    ("/srv/app", "cd /srv/app && exec a 'b c'"),
    ("~", 'cd "$HOME" && exec a \'b c\''),
    ("~/my app", 'cd "$HOME"/\'my app\' && exec a \'b c\''),
    ("/tmp/$(touch x)", "cd '/tmp/$(touch x)' && exec a 'b c'"),
    ("~deploy", "cd ~deploy && exec a 'b c'"),
    ("~deploy/my app", "cd ~deploy/'my app' && exec a 'b c'"),
    ("~de$(x)/app", "cd '~de$(x)/app' && exec a 'b c'"),
])
def test_remote_script(path: str, expected: str) -> None:
    assert remote_script(path, ["a", "b c"]) == expected


def test_remote_script_runs_in_sh(tmp_path: Path) -> None:
    folder = tmp_path / "my $app"
    folder.mkdir()
    script = remote_script(str(folder), ["sh", "-c", "pwd; printf '%s\\n' \"$@\"", "x", "a b", "$HOME"])
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == [str(folder), "a b", "$HOME"]


@pytest.fixture
def remote_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The launch script runs locally with sh as the "channel"; its TMPDIR is a fresh folder."""
    remote_tmp = tmp_path / "remote-tmp"
    remote_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(remote_tmp))
    return remote_tmp


def _negotiate(remote: Remote, settings: dict[str, str], force_upload: bool = False) -> tuple[Launch, bytes]:
    """Run the launch script (after some login noise) and negotiate; returns the launch and the first frame type."""
    launch = launch_script(remote, settings, force_upload=force_upload)
    noisy = "echo 'Welcome to prod'; printf '\\000\\000SYNCO-nothing\\n'; " + launch.script
    with ChannelProcess(["sh", "-c", noisy], label="local") as channel:
        reader = io.BufferedReader(cast(io.RawIOBase, channel.stdout))
        negotiate(reader, channel.stdin, remote, launch, settings)
        first = reader.read(1)
    return launch, first


def test_launch_uses_a_configured_synco(remote_env: Path, tmp_path: Path) -> None:
    remote = Remote(kind="docker", host="x", path=str(tmp_path))
    synco = f"{sys.executable} -c {shlex.quote(MODULE_MAIN)}"
    launch, first = _negotiate(remote, {"SYNCO_REMOTE_SYNCO": synco})
    # A command of several words (a wrapper such as sudo -n -u www-data synco) is named whole, not as "synco
    # installed at /usr/bin/sudo".
    assert launch.how == f"synco run by {synco} (found {sys.executable})"
    assert first == b"H" and not launch.uploaded
    launch, first = _negotiate(remote, {"SYNCO_REMOTE_SYNCO": str(Path(sys.executable).parent / "synco")})
    assert launch.how == f"synco installed at {Path(sys.executable).parent / 'synco'}"


def test_launch_uses_the_synco_module_of_the_remote_python(remote_env: Path, tmp_path: Path) -> None:
    remote = Remote(kind="docker", host="x", path=str(tmp_path))
    launch, first = _negotiate(remote, {"SYNCO_REMOTE_SYNCO": "no-such-synco-here",
                                        "SYNCO_REMOTE_PYTHON": sys.executable})
    assert launch.how == f"the synco_core module of {sys.executable}"
    assert first == b"H"


def test_launch_uploads_the_zipapp_and_removes_it(remote_env: Path, tmp_path: Path) -> None:
    remote = Remote(kind="docker", host="x", path=str(tmp_path))
    launch, first = _negotiate(remote, {"SYNCO_REMOTE_PYTHON": f"{sys.executable} -S"}, force_upload=True)
    assert launch.uploaded and launch.how.startswith("uploaded zipapp")
    assert first == b"H"
    deadline = time.monotonic() + 5
    while list(remote_env.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert list(remote_env.iterdir()) == []


def test_launch_reports_a_missing_directory(remote_env: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"the directory .*/nope does not exist on docker://x"):
        _negotiate(Remote(kind="docker", host="x", path=str(tmp_path / "nope")), {})


def test_launch_reports_a_missing_python(remote_env: Path, tmp_path: Path) -> None:
    settings = {"SYNCO_REMOTE_SYNCO": "upload", "SYNCO_REMOTE_PYTHON": "/nonexistent/python3"}
    with pytest.raises(ConfigError, match="neither synco nor /nonexistent/python3 found on docker://x"):
        _negotiate(Remote(kind="docker", host="x", path=str(tmp_path)), settings)


def test_launch_reports_an_old_python(remote_env: Path, tmp_path: Path) -> None:
    fake = tmp_path / "python3.8"
    # Like an old interpreter: the version check fails, the version query answers 3.8.
    fake.write_text('#!/bin/sh\ncase "$2" in *exit*) exit 1;; esac\necho 3.8\n')
    fake.chmod(0o755)
    settings = {"SYNCO_REMOTE_SYNCO": "upload", "SYNCO_REMOTE_PYTHON": str(fake)}
    with pytest.raises(ConfigError, match=r"python3 >= 3\.10 missing on docker://x/\S* \(found 3\.8\)"):
        _negotiate(Remote(kind="docker", host="x", path=str(tmp_path)), settings)


_SUDO_REFUSES = ("echo 'sudo: a terminal is required to read the password; either use the -S option to read from "
                 "standard input or configure an askpass helper' >&2; echo 'sudo: a password is required' >&2; exit 1")
_PYENV_SHIM = ("printf 'pyenv: python3: command not found\\n\\nThe `python3'\\'' command exists in these Python "
               "versions:\\n  3.8.10\\n' >&2; exit 127")


@pytest.mark.parametrize(("body", "said"), [
    (_SUDO_REFUSES, "sudo: a terminal is required to read the password; either use the -S option to read from "
                    "standard input or configure an askpass helper"),
    (_PYENV_SHIM, "pyenv: python3: command not found"),
    # Status 139 is a python killed by SIGSEGV (the shell's "Segmentation fault" is its own report of that).
    ("echo 'Segmentation fault' >&2; exit 139", "it was killed (SIGSEGV: it crashed)"),
    # A line longer than a launch message may be is cut, not a framing error.
    ("printf 'x%.0s' $(seq 1 6000) >&2; exit 1", "x" * 300),
    ("exit 1", "it printed nothing"),
])
def test_launch_reports_an_interpreter_that_does_not_run_as_such(remote_env: Path, tmp_path: Path, body: str,
                                                                 said: str) -> None:
    """A wrapper refusing (sudo wanting a password), a pyenv shim without that version, a crashing binary: what
    it said, not "python3 >= 3.10 missing (found <its error>)" as if it were a version."""
    fake = tmp_path / "python3"
    fake.write_text(f"#!/bin/sh\n{body}\n")
    fake.chmod(0o755)
    settings = {"SYNCO_REMOTE_SYNCO": "upload", "SYNCO_REMOTE_PYTHON": f"{fake} -u"}
    with pytest.raises(ConfigError) as caught:
        _negotiate(Remote(kind="docker", host="x", path=str(tmp_path)), settings)
    assert str(caught.value) == f"cannot run {fake} -u on docker://x{tmp_path}: {said}"


@pytest.mark.parametrize(("body", "said"), [
    (_SUDO_REFUSES, "sudo: a terminal is required to read the password; either use the -S option to read from "
                    "standard input or configure an askpass helper"),
    (_PYENV_SHIM, "pyenv: python3: command not found"),
    ('case "$2" in *exit*) exit 1;; esac; echo 3.8', None),
])
def test_launch_reports_the_interpreter_on_a_host_with_nothing_but_sh(
        remote_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, said: str | None) -> None:
    """A minimal image (sh and python, no sed, no cut): the same lines."""
    bare = tmp_path / "bare-bin"
    bare.mkdir()
    (bare / "sh").symlink_to(shutil.which("sh") or "/bin/sh")
    fake = tmp_path / "python3"
    fake.write_text(f"#!/bin/sh\n{body}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bare))
    settings = {"SYNCO_REMOTE_SYNCO": "upload", "SYNCO_REMOTE_PYTHON": str(fake)}
    with pytest.raises(ConfigError) as caught:
        _negotiate(Remote(kind="docker", host="x", path=str(tmp_path)), settings)
    where = f"docker://x{tmp_path}"
    old = f"python3 >= 3.10 missing on {where} (found 3.8); install synco or a newer python there"
    assert str(caught.value) == (f"cannot run {fake} on {where}: {said}" if said else old)


def test_launch_reports_an_old_python_that_warns_first(remote_env: Path, tmp_path: Path) -> None:
    fake = tmp_path / "python3"
    # An old interpreter that also complains on stderr: its version is still what is said.
    fake.write_text('#!/bin/sh\necho "Could not find platform independent libraries <prefix>" >&2\n'
                    'case "$2" in *exit*) exit 1;; esac\necho 3.9\n')
    fake.chmod(0o755)
    settings = {"SYNCO_REMOTE_SYNCO": "upload", "SYNCO_REMOTE_PYTHON": str(fake)}
    with pytest.raises(ConfigError, match=r"python3 >= 3\.10 missing on docker://x/\S* \(found 3\.9\)"):
        _negotiate(Remote(kind="docker", host="x", path=str(tmp_path)), settings)


def test_a_login_that_prints_more_than_a_mebibyte_is_named(remote_env: Path, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """A login script printing without end (a log tailed in .bashrc): the line says where it comes from and
    --debug shows how it starts, rather than only a byte count."""
    remote = Remote(kind="ssh", host="prod", path=str(tmp_path))
    launch = launch_script(remote, {})
    noisy = "echo 'Welcome to prod'; yes 'tail -f /var/log/syslog' | head -c 1100000; " + launch.script
    with caplog.at_level("DEBUG"), ChannelProcess(["sh", "-c", noisy], label="local") as channel:
        reader = io.BufferedReader(cast(io.RawIOBase, channel.stdout))
        with pytest.raises(FramingError) as caught:
            negotiate(reader, channel.stdin, remote, launch, {})
    assert str(caught.value) == (
        f"no synco greeting in the first 1 MiB of output from ssh://prod{tmp_path}: the login prints that much "
        "before any command runs (.bashrc, .profile?); run the pull with --debug to see how it starts")
    assert any("Welcome to prod" in record.getMessage() for record in caplog.records)
    # After the launch script started, the remote command is what printed it.
    chatty = tmp_path / "chatty-synco"
    chatty.write_text("#!/bin/sh\nyes 'DEBUG: starting' | head -c 1100000\n")
    chatty.chmod(0o755)
    settings = {"SYNCO_REMOTE_SYNCO": str(chatty)}
    launch = launch_script(remote, settings)
    with ChannelProcess(["sh", "-c", launch.script], label="local") as channel:
        reader = io.BufferedReader(cast(io.RawIOBase, channel.stdout))
        with pytest.raises(FramingError, match=r": the remote command printed that much before synco started; run"):
            negotiate(reader, channel.stdin, remote, launch, settings)


def test_launch_ending_early_is_channel_closed(remote_env: Path) -> None:
    remote = Remote(kind="docker", host="x")
    launch = launch_script(remote, {})
    with ChannelProcess(["sh", "-c", "echo 'sh: synco: Permission denied'; exit 126"]) as channel, \
            pytest.raises(TransferError, match="ended before synco started: sh: synco: Permission denied"):
        negotiate(io.BufferedReader(cast(io.RawIOBase, channel.stdout)), channel.stdin, remote, launch, {})


def test_loader_reads_exactly_the_archive_then_leaves_stdin(tmp_path: Path) -> None:
    # A stand-in "archive" (a __main__.py zipped) that echoes what follows on stdin and its own argv.
    import zipfile

    archive = tmp_path / "app.pyz"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("__main__.py", "import sys, os\nprint(sys.argv[1:])\nprint(os.read(0, 100))\n")
    data = archive.read_bytes()
    remote_tmp = tmp_path / "rtmp"
    remote_tmp.mkdir()
    result = subprocess.run([sys.executable, "-c", LOADER, str(len(data)), "synco-pull-test.pyz", "a", "b"],
                            input=data + b"FRAMES", capture_output=True, env={**os.environ, "TMPDIR": str(remote_tmp)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines() == ["['a', 'b']", "b'FRAMES'"]
    assert list(remote_tmp.iterdir()) == []


def test_loader_cut_short(tmp_path: Path) -> None:
    remote_tmp = tmp_path / "rtmp"
    remote_tmp.mkdir()
    result = subprocess.run([sys.executable, "-c", LOADER, "1000", "synco-pull-test.pyz"], input=b"short",
                            capture_output=True, env={**os.environ, "TMPDIR": str(remote_tmp)})
    assert result.returncode == 4
    assert b"cut short" in result.stderr
    assert list(remote_tmp.iterdir()) == []


def _run_loader_where_only_cwd_is_writable(app: Path, tmpdir: str | None) -> subprocess.CompletedProcess[bytes]:
    """The loader as it runs when $TMPDIR, /tmp, /var/tmp and /usr/tmp are all unwritable: tempfile's last
    resort is the current directory (set here directly, since root may write anywhere)."""
    env = {k: v for k, v in os.environ.items() if k != "TMPDIR"} | ({"TMPDIR": tmpdir} if tmpdir else {})
    program = "import os, sys, tempfile; tempfile.tempdir = os.getcwd(); exec(sys.argv.pop(1))"
    return subprocess.run([sys.executable, "-c", program, LOADER, "1000", "synco-pull-test.pyz"], input=b"x" * 1000,
                          capture_output=True, cwd=app, env=env)


def test_loader_never_writes_into_the_application_directory(tmp_path: Path) -> None:
    # tempfile.gettempdir() falls back to the current directory, the application's (often the web root):
    # the loader wrote the zipapp there.
    app = tmp_path / "app"
    app.mkdir()
    for tmpdir in (None, str(tmp_path / "read-only-or-missing")):
        result = _run_loader_where_only_cwd_is_writable(app, tmpdir)
        assert result.returncode == 4
        assert result.stderr.decode().splitlines() == [f"Error: {NO_TEMP_FOLDER}"]
        assert list(app.iterdir()) == []
    # Named on purpose by $TMPDIR, the current directory is a temporary folder like any other.
    result = _run_loader_where_only_cwd_is_writable(app, str(app))
    assert b"NO_TEMP" not in result.stderr and b"no writable temporary folder" not in result.stderr


def test_remote_temp_root_refuses_the_application_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("TMPDIR", raising=False)
    with pytest.raises(ConfigError, match="no writable temporary folder on the remote host"):
        remote_temp_root()
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert remote_temp_root() == str(tmp_path)


def test_loader_with_a_full_temporary_folder_is_one_line(tmp_path: Path) -> None:
    # A full disk, as RLIMIT_FSIZE makes it (EFBIG; ENOSPC goes the same way): one line, nothing left behind.
    remote_tmp = tmp_path / "rtmp"
    remote_tmp.mkdir()
    program = ("import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000)); "
               "exec(sys.argv.pop(1))")
    result = subprocess.run([sys.executable, "-c", program, LOADER, "300000", "synco-pull-test.pyz"],
                            input=b"x" * 300_000, capture_output=True, env={**os.environ, "TMPDIR": str(remote_tmp)})
    assert result.returncode == 4
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: cannot write the synco zipapp (292 KiB) to {remote_tmp}")
    assert list(remote_tmp.iterdir()) == []


def test_channel_process_collects_stderr_and_exit_status() -> None:
    code, out, err = run_channel(["sh", "-c", "cat; echo oops >&2; exit 3"], input_file=__import__("io").BytesIO(b"hi"))
    assert (code, out, err) == (3, b"hi", "oops")


_SSH_NOTICES = [
    "Warning: Permanently added '[127.0.0.1]:2222' (ED25519) to the list of known hosts.",
    # OpenSSH 10 to a server without a post-quantum key exchange (still most of them).
    "** WARNING: connection is not using a post-quantum key exchange algorithm.",
    '** This session may be vulnerable to "store now, decrypt later" attacks.',
    "** The server may need to be upgraded. See https://openssh.com/pq.html",
]


@pytest.mark.parametrize("reason", ["", "bash: line 1: synco: Permission denied"])
def test_ssh_notices_are_never_the_reason_a_channel_ended(reason: str) -> None:
    """ssh's notices come first on stderr; a remote side that ends without a word (killed by the OOM killer)
    had the last of them, "The server may need to be upgraded", given as why the connection broke."""
    lines = [*_SSH_NOTICES, reason] if reason else _SSH_NOTICES
    script = "".join(f"echo {shlex.quote(line)} >&2; " for line in lines) + "exit 1"
    assert run_channel(["sh", "-c", script])[2] == reason


def test_channel_process_missing_binary() -> None:
    with pytest.raises(TransferError, match="'no-such-channel-tool' not found"), \
            ChannelProcess(["no-such-channel-tool"]):
        pass


def test_channel_process_terminates_a_remote_that_ignores_eof(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("synco_core.pull.channel.CLOSE_GRACE_SECONDS", 0.5)
    marker = tmp_path / "child.pid"
    # The "remote" ignores the end of its input and SIGTERM's default is kept: close() must end it.
    channel = ChannelProcess(["sh", "-c", f"echo $$ > {marker}; while :; do sleep 0.05; done"])
    with channel:
        deadline = time.monotonic() + 5
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    assert channel.proc.returncode is not None
    pid = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_channel_process_is_closed_on_interrupt(tmp_path: Path) -> None:
    channel = ChannelProcess(["sh", "-c", "cat >/dev/null; echo cleaned >&2"])
    with pytest.raises(KeyboardInterrupt), channel:
        raise KeyboardInterrupt
    # The remote side saw the end of its input and ran its cleanup before exiting.
    assert channel.proc.returncode == 0
    assert channel.stderr_tail() == "cleaned"


def test_channel_process_relays_a_limited_number_of_remote_warnings(caplog: pytest.LogCaptureFixture) -> None:
    # A remote side skipping thousands of files: the first warnings are shown, then one line saying there are
    # more; debug and info records, and other stderr lines, stay in the debug log.
    script = ("for i in $(seq 1 300); do echo \"WARNING synco_core.serve.public_set +${i}ms: skipping f$i\" >&2; done; "
              "echo 'INFO synco_core.x +1ms: chatter' >&2; echo 'DeprecationWarning: old' >&2")
    with caplog.at_level("DEBUG"), ChannelProcess(["sh", "-c", script], relay_warnings=True) as channel:
        assert channel.close() == 0
    shown = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert shown == [f"remote side warned: skipping f{i}" for i in range(1, 51)] + [
        "remote side warned more than 50 times; run the pull with --debug to see every warning"]
    debug = [record.getMessage() for record in caplog.records if record.levelname == "DEBUG"]
    assert "channel: WARNING synco_core.serve.public_set +300ms: skipping f300" in debug
    assert "channel: DeprecationWarning: old" in debug
    # Without relaying (short commands such as the cleanup), nothing is shown.
    caplog.clear()
    with caplog.at_level("DEBUG"), ChannelProcess(["sh", "-c", script]) as channel:
        channel.close()
    assert not [record for record in caplog.records if record.levelname == "WARNING"]


#: What ssh prints itself when its configuration asks for LogLevel VERBOSE or DEBUG (any number of lines).
_SSH_LOG_LINES = [
    'Authenticated to 127.0.0.1 ([127.0.0.1]:2222) using "publickey".',
    "Authenticated to 127.0.0.1 (via proxy) using \"publickey\".",
    *[f"debug1: channel 0: free: client-session, nchannels {n}" for n in range(30)],
    "debug3: channel 0: status: The following connections are open:",
    "The following connections are open:",
    "  #0 client-session (t4 [session] r0 i3/0 o3/0 e[write]/0 fd -1/-1/6 sock -1 cc -1 io 0x00/0x00)",
    "Transferred: sent 3488, received 3340 bytes, in 0.3 seconds",
    "Bytes per second: sent 11920.1, received 11414.3",
    "debug1: Exit status 3",
]


@pytest.mark.parametrize("reason", ["", "bash: line 1: synco: Permission denied"])
def test_ssh_log_lines_are_never_the_reason_a_channel_ended(reason: str) -> None:
    """LogLevel VERBOSE gave "Bytes per second: sent ..." as the reason, and DEBUG's lines pushed the remote
    side's own last line out of the lines kept."""
    lines = [_SSH_LOG_LINES[0], reason, *_SSH_LOG_LINES[1:]] if reason else _SSH_LOG_LINES
    script = "".join(f"echo {shlex.quote(line)} >&2; " for line in lines) + "exit 1"
    assert run_channel(["sh", "-c", script])[2] == reason


@pytest.mark.parametrize("shell", ["sh", "dash", "bash"])
def test_a_path_from_another_users_home_is_found_as_scp_finds_it(shell: str) -> None:
    """``ssh://host/~deploy/app`` (scp's and rsync's ``host:~deploy/app``) was quoted whole, a folder "~deploy"."""
    import pwd

    binary = require_tool(shell, {"dash": "dash"}.get(shell, shell))
    entry = pwd.getpwuid(os.getuid())
    home = Path(entry.pw_dir).resolve()
    cases = {f"~{entry.pw_name}": home, f"~{entry.pw_name}/..": home.parent, f"~{entry.pw_name}/.": home}
    for path, expected in cases.items():
        script = remote_script(path, ["pwd", "-P"])
        result = subprocess.run([binary, "-c", script], capture_output=True, text=True,
                                env={"PATH": os.environ["PATH"]})
        assert (result.returncode, result.stdout.strip()) == (0, str(expected)), (path, result.stderr)
    # A user nobody has is a directory that does not exist, not another one.
    result = subprocess.run([binary, "-c", remote_script("~synco_no_such_user_x/app", ["pwd"])], capture_output=True)
    assert result.returncode != 0 and result.stdout == b""


def test_terminal_prompts_lend_ssh_this_terminal_and_leave_nothing(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import pty

    from synco_core.pull.prompts import terminal_prompts

    main, side = pty.openpty()
    try:
        monkeypatch.setenv("TMPDIR", str(tmp_path))
        monkeypatch.setattr(tempfile, "tempdir", None)
        monkeypatch.setattr(sys, "stdin", open(side, closefd=False))  # noqa: SIM115 - closed with the pty below
        with terminal_prompts({}) as prompts:
            env = prompts.env
            assert env["SSH_ASKPASS_REQUIRE"] == "force"
            assert env["SYNCO_ASKPASS_TTY"] == os.ttyname(side)
            assert os.access(env["SSH_ASKPASS"], os.X_OK)
            assert Path(env["SSH_ASKPASS"]).parent == Path(env["SYNCO_ASKPASS_DIR"])
        assert list(tmp_path.iterdir()) == []
        # A desktop's own askpass is left to ask; ssh is only let ask.
        with terminal_prompts({"SSH_ASKPASS": "/usr/bin/ksshaskpass", "DISPLAY": ":0"}) as prompts:
            assert prompts.env == {"SSH_ASKPASS": "/usr/bin/ksshaskpass"}
        # No terminal: nothing, and ssh runs in batch mode.
        monkeypatch.setattr(sys, "stdin", open(os.devnull))  # noqa: SIM115 - pytest restores stdin
        with terminal_prompts({}) as prompts:
            assert prompts.env == {}
    finally:
        os.close(main)
        os.close(side)
