"""Start the remote side of ``pull`` in one channel invocation: the remote's own synco, or an uploaded zipapp.

The channel runs :func:`launch_script`, a short POSIX shell script that

1. changes to the application directory (or reports that it is missing);
2. execs the remote ``synco _channel`` when there is one (``synco`` on PATH, or the remote python can
   ``import synco_core``);
3. otherwise checks the remote python (``python3``, or ``python`` where there is no ``python3``, unless one
   is configured; present, 3.10 or newer), reports its bytecode magic number (``launch bytecode <hex>``)
   and asks for the zipapp: the client sends its size on one line, then the archive (with pycs when that
   magic number is the client's own, see :mod:`synco_core.pull.zipapp`); a few lines of Python
   (:data:`LOADER`) read exactly that many bytes from stdin into ``$TMPDIR/synco-upload-<random>.pyz``
   (mode 0600), run it, and remove it in a ``finally``; it holds a ``flock`` on the archive while it runs,
   so that what SIGKILL leaves is known dead and removed by a later run (:mod:`synco_core.scratch`). The
   rest of stdin is then the framed protocol.

The script talks to the client with lines starting with :data:`LAUNCH_MARK` (NUL bytes first, so no
login-script output is mistaken for one) until the channel's own greeting appears. Everything happens in
one ssh connection: one handshake, one login. A remote synco that speaks another channel protocol is
detected from its greeting; :func:`synco_core.pull.run.pull` then starts again with the upload forced.
If the remote process is killed outright, :func:`remove_upload` deletes the archive through a second,
short invocation.

Settings, from the most specific: ``SYNCO_REMOTE_SYNCO`` / ``SYNCO_REMOTE_PYTHON`` in the environment,
then ``synco:`` / ``python:`` of the remote in ``.synco.yml``. ``synco: upload`` always uploads.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import secrets
import shlex
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from synco_core.errors import ConfigError
from synco_core.limits import (
    LIMIT_SIGNALS,
    REMOTE_MEMORY_LIMIT,
    REMOTE_PROCESS_LIMIT,
    SHARED_OBJECT_NOT_MAPPED,
    shell_fork_failed,
)
from synco_core.pull.channel import (
    SSH_COMMAND_VARIABLE,
    STARTED_ON_STDERR,
    cd_command,
    channel_argv,
    remote_script,
    run_channel,
)
from synco_core.pull.frames import MAGIC, MAX_PREAMBLE, ChannelClosed, FramingError
from synco_core.pull.greeting import GreetingWatch, probe_command
from synco_core.pull.remote import Remote
from synco_core.pull.tempdir import NO_TEMP_FOLDER, SHARED_TEMP_FOLDER
from synco_core.pull.zipapp import EXIT_OLD_PYTHON, MIN_PYTHON, open_archive
from synco_core.scratch import UPLOAD_PREFIX

log = logging.getLogger(__name__)

#: What ``python3 -c`` runs to start a module-installed synco (no ``synco`` script on PATH).
MODULE_MAIN = "import sys; sys.argv[0] = 'synco'; from synco_core.cli.main import main; main()"
#: Starts every message of the launch script; the channel greeting (:data:`MAGIC`) shares the NUL prefix.
LAUNCH_MARK = b"\x00\x00SYNCO-LAUNCH "
_SHARED_PREFIX = b"\x00\x00SYNCO-"

#: Reads the archive (size in argv[1]) from stdin into argv[2], runs it with the remaining arguments, and
#: removes it whatever happens. os.read on fd 0 takes exactly the archive's bytes, no buffering ahead, so
#: the framed stream that follows is left for the channel server. A temporary folder that is full or
#: unwritable is one "Error: ..." line (the client shows the remote's last stderr line), never a traceback,
#: and the current directory (the application's) is refused as temporary folder, as
#: synco_core.pull.tempdir explains; so is none at all (gettempdir's FileNotFoundError when even that one is
#: read-only).
LOADER = """\
import fcntl, os, sys, tempfile
def fail(message):
    sys.stderr.write("Error: " + message + "\\n"); sys.exit(4)
size = int(sys.argv[1])
try:
    folder = tempfile.gettempdir()
except FileNotFoundError:
    fail(NO_TEMP_FOLDER)
path = os.path.join(folder, sys.argv[2])
here = os.path.realpath(os.getcwd())
if os.path.realpath(folder) == here and os.path.realpath(os.environ.get("TMPDIR") or "/") != here:
    fail(NO_TEMP_FOLDER)
def own_group(group):
    import grp, pwd
    try:
        name, entry = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(group)
    except (KeyError, OSError):
        return False
    return group == os.getgid() and entry.gr_name == name and set(entry.gr_mem) <= {name}
places = []
for place in (os.path.abspath(folder), os.path.realpath(folder)):
    while place not in places:
        places.append(place); place = os.path.dirname(place)
for place in places:
    info = os.stat(place)
    if info.st_uid not in (0, os.getuid()) or not info.st_mode & 0o1000 and (
            info.st_mode & 0o002 or info.st_mode & 0o020 and not own_group(info.st_gid)):
        fail(SHARED_TEMP_FOLDER % place)
try:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
except OSError as exc:
    fail("cannot write the synco zipapp to %s on the remote host: %s" % (folder, exc.strerror))
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    pass
try:
    while size > 0:
        chunk = os.read(0, min(size, 1 << 20))
        if not chunk:
            fail("the upload of the synco zipapp was cut short")
        size -= len(chunk)
        while chunk:
            try:
                chunk = chunk[os.write(fd, chunk):]
            except OSError as exc:
                fail("cannot write the synco zipapp (%d KiB) to %s on the remote host: %s; make room there or "
                     "set TMPDIR" % (int(sys.argv[1]) // 1024, folder, exc.strerror))
    import runpy
    sys.argv = [path] + sys.argv[3:]; sys.path.insert(0, path)
    runpy.run_path(path, run_name="__main__")
finally:
    os.unlink(path)
    os.close(fd)
""".replace("NO_TEMP_FOLDER", repr(NO_TEMP_FOLDER)).replace("SHARED_TEMP_FOLDER", repr(SHARED_TEMP_FOLDER))



@dataclass
class Launch:
    """One start of the remote side: the script to run and the archive name it may upload to."""

    script: str
    upload_name: str
    #: Filled in by :func:`negotiate`: how the remote side was started, for the user.
    how: str = ""
    uploaded: bool = False
    #: The script ran on the remote side (its first line arrived): the channel's tool had logged in.
    started: bool = False
    #: The remote interpreter's bytecode magic number (hex) as the script reported it before the upload.
    bytecode: str | None = None
    #: Whether an upload may carry bytecode (:func:`remote_bytecode`), read when the script is made.
    bytecode_wanted: bool = False


def _setting(remote: Remote, env: Mapping[str, str], env_name: str, attribute: str) -> str | None:
    value = env.get(env_name, "").strip()
    if value:
        return value
    configured = getattr(remote, attribute)
    return str(configured) if configured else None


def remote_python(remote: Remote, env: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    return shlex.split(_setting(remote, env, "SYNCO_REMOTE_PYTHON", "python") or "python3")


def remote_synco(remote: Remote, env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    return _setting(remote, env, "SYNCO_REMOTE_SYNCO", "synco")


#: The environment's word for :attr:`Remote.bytecode`, over ``.synco.yml``'s.
BYTECODE_VARIABLE = "SYNCO_REMOTE_BYTECODE"


def remote_bytecode(remote: Remote, env: Mapping[str, str] | None = None) -> bool:
    """Whether an upload may carry bytecode (``SYNCO_REMOTE_BYTECODE`` or ``bytecode:``; off by default).

    Off unless asked: the archive with pycs is 3.5 MB larger, which on an upload link under about 55 Mbit/s
    takes longer to send than the half CPU-second the remote python saves by not compiling synco
    (docs/performance.md); a host slow to compile, or one under a CPU-time limit, is worth it.
    """
    env = os.environ if env is None else env
    value = env.get(BYTECODE_VARIABLE, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    if value:
        raise ConfigError(f"{BYTECODE_VARIABLE} should be 1 or 0 (found {value[:40]!r})")
    return bool(remote.bytecode)


def launch_script(remote: Remote, env: Mapping[str, str] | None = None, *, debug: bool = False,
                  force_upload: bool = False) -> Launch:
    """The POSIX shell script that starts ``synco _channel`` remotely (see the module docstring)."""
    env = os.environ if env is None else env
    python_words = remote_python(remote, env)
    python = " ".join(shlex.quote(word) for word in python_words)
    python_command = shlex.quote(python_words[0])
    # "started" first: the client's greeting timer tells a login still in progress (perhaps waiting for a
    # person) from a remote command that runs but does not greet (synco_core.pull.greeting).
    lines = ["launch() { printf '\\000\\000SYNCO-LAUNCH %s\\n' \"$*\"; }", "launch started",
             # The same on stderr, where it marks, in order, the end of what ssh and the login printed (an sshd
             # Banner, an rc file's words), which is never why the remote command ended (ChannelProcess).
             f"printf '%s\\n' {shlex.quote(STARTED_ON_STDERR)} >&2",
             # A terminal (ssh -tt, docker exec -t) would change the bytes both ways; one in raw mode changes
             # none of the launch lines, so only the remote side can tell (see negotiate).
             "if [ -t 0 ] || [ -t 1 ]; then launch terminal; exit 0; fi",
             # Names on the wire are UTF-8, and a host whose locale is another (ISO-8859-1) had its python
             # decode them with it: 'café' became 'cafÃ©'. UTF-8 mode decodes them as UTF-8 whatever the
             # locale, and other bytes as surrogate escapes, which serve skips with a warning.
             "PYTHONUTF8=1; export PYTHONUTF8",
             # An account's rc files may set these for its interactive pythons. PYTHONINSPECT makes every
             # python end in its interactive prompt instead of exiting: the version check below would read
             # the channel as commands (and say the python is too old), synco would wait at the prompt
             # after the pull and report "SystemExit: 0". PYTHONSTARTUP only matters to that prompt.
             "unset PYTHONINSPECT PYTHONSTARTUP"]
    # The application's environment on the server (remotes' env:), which the login lacks; set before the cd
    # and every way of starting synco below, so the remote side's plugins read the settings the site runs with.
    # The values are asked for and read from the channel, one line each (env_input): written into the script they
    # stood in the channel tool's command line, which ps shows every user for the whole pull. printf %b turns the
    # line back into the value; the x it prints after keeps trailing newlines that $(...) would drop.
    if remote.env:
        lines.append("launch env")
    lines += [f'IFS= read -r v || exit 0; {name}="$(printf \'%bx\' "$v")"; {name}="${{{name}%x}}"; export {name}'
              for name in remote.env]
    if _setting(remote, env, "SYNCO_REMOTE_PYTHON", "python") is None:
        # Unconfigured, "python3" is the interpreter; a host (or image) that only has "python" gets that
        # one instead, and the version check below still applies to it.
        lines.append("if command -v python3 >/dev/null 2>&1 || ! command -v python >/dev/null 2>&1; "
                     "then py=python3; else py=python; fi")
        python = python_command = '"$py"'
    configured = remote_synco(remote, env)
    upload_only = force_upload or configured == "upload"
    debug_flag = " --debug" if debug else ""
    # synco-upload-*: what a later run may remove once its loader is dead (older synco-pull-* loaders lock
    # nothing, and are left alone).
    name = f"{UPLOAD_PREFIX}{secrets.token_hex(8)}.pyz"
    cd = cd_command(remote.path)
    if cd:
        lines.append(f"{cd} 2>/dev/null || {{ launch dir-missing; exit 0; }}")
    if not upload_only:
        synco_words = shlex.split(configured or "synco")
        first = shlex.quote(synco_words[0])
        synco = " ".join(shlex.quote(word) for word in synco_words)
        lines.append(f'if command -v {first} >/dev/null 2>&1; then launch installed "$(command -v {first})"; '
                     f"exec {synco}{debug_flag} _channel; fi")
        check = shlex.quote("import synco_core.pull.frames")
        lines.append(f"if {python} -c {check} >/dev/null 2>&1; then launch module {python}; "
                     f"exec {python} -c {shlex.quote(MODULE_MAIN)}{debug_flag} _channel; fi")
    version = shlex.quote("import sys; print('%d.%d' % sys.version_info[:2])")
    # Its status is the version check; on stdout, the interpreter's bytecode magic number (hex), which the
    # client compares with its own to choose the archive with pycs (see negotiate). Anything but hex digits
    # there (an account's sitecustomize printing) is no magic.
    new_enough = shlex.quote(f"import sys\nif sys.version_info < {MIN_PYTHON!r}: sys.exit(1)\n"
                             "try:\n    from importlib.util import MAGIC_NUMBER\n    print(MAGIC_NUMBER.hex())\n"
                             "except Exception:\n    pass")
    lines += [
        f"command -v {python_command} >/dev/null 2>&1 || {{ launch no-python; exit 0; }}",
        # The version as printed on stdout; when the interpreter does not even run that (sudo wanting a password,
        # a pyenv shim without it), the first line it said instead, cut to fit in one launch message. Plain sh
        # takes the first line: a minimal image may have no sed; cut shortens it where there is one.
        # A python that cannot even start (a PYTHONHOME from the account's rc files pointing elsewhere) prints
        # its whole path configuration first: its "Fatal Python error" line is the one that says why, and the
        # PYTHONHOME that caused it is named, since nothing else on the laptop would show it. A python killed by a
        # signal (a CPU time limit) is said by its status: what was captured is at most the shell's "Killed".
        # The version check's own status says so first: under `ulimit -t 0` the kernel kills every process at
        # its first clock tick, so a second python may print its version after all ("python3 >= 3.10 missing,
        # found 3.11"), and the subshells that tidy the text may be killed too, leaving it empty ("it printed
        # nothing"). The first line is therefore cut by parameter expansion with a literal newline, and cut's
        # output replaces the text only when cut ran to the end.
        f"m=\"$({python} -c {new_enough} 2>/dev/null)\" || {{ s=$?; h=; if [ \"$s\" -gt 128 ]; then "
        "v=\"killed by signal $((s - 128))\"; else s=0; "
        f"v=\"$({python} -c {version} 2>/dev/null)\" || "
        f"{{ v=\"$({python} -c {version} 2>&1)\" || s=$?; [ \"$s\" -le 128 ] || "
        "v=\"killed by signal $((s - 128))\"; case \"$v\" in *'Fatal Python error: '*) "
        "v=\"Fatal Python error: ${v#*'Fatal Python error: '}\";; esac; "
        "[ -z \"${PYTHONHOME:-}\" ] || h=\" (PYTHONHOME=$PYTHONHOME is set there)\"; }; fi; "
        "v=\"${v%%\"\n\"*}\"; "
        "if command -v cut >/dev/null 2>&1; then w=\"$(printf '%s\\n' \"$v\" | cut -c1-300)\" && "
        "[ -n \"$w\" ] && v=\"$w\"; fi; "
        "launch old-python \"$v$h\"; exit 0; }",
        "case \"$m\" in *[!0-9a-f]*) ;; ?*) launch bytecode \"$m\";; esac",
        f"launch upload {python}",
        # read takes one line and no byte more from a pipe, so the archive that follows is left for python.
        "IFS= read -r size || exit 0",
        f'exec {python} -c {shlex.quote(LOADER)} "$size" {name}{debug_flag} _channel',
    ]
    return Launch(script="\n".join(lines), upload_name=name, bytecode_wanted=remote_bytecode(remote, env))


#: The bytes :func:`env_input` writes as they are; every other one is a ``printf %b`` octal escape.
_PLAIN_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.,:/=+-@")


def env_input(remote: Remote) -> bytes:
    """The values of ``remote.env`` as the launch script reads them after ``launch env``: one line each, in order,
    every byte but letters, digits and a few signs written as ``\\0NNN`` (so no newline, backslash or
    ``%`` reaches ``printf %b`` as itself)."""
    lines = []
    for value in remote.env.values():
        encoded = value.encode("utf-8", "surrogateescape")
        lines.append("".join(chr(byte) if byte in _PLAIN_BYTES else f"\\0{byte:03o}" for byte in encoded) + "\n")
    return "".join(lines).encode("ascii")


def _read_line(reader: IO[bytes], limit: int = 4096) -> bytes:
    line = bytearray()
    while not line.endswith(b"\n"):
        byte = reader.read(1)
        if not byte:
            raise ChannelClosed("the remote side ended while starting synco")
        line += byte
        if len(line) > limit:
            raise FramingError("an overlong message from the remote launch script")
    return bytes(line[:-1])


class EndedBeforeStart(ChannelClosed):
    """The channel ended before the launch script said anything; ``output``: the last of what came instead."""

    def __init__(self, output: str) -> None:
        super().__init__("the remote side ended before synco started" + (f": {output}" if output else ""))
        self.output = output


def other_command_ran(remote: Remote, code: int, output: str) -> str:
    """The line for an ssh that logged in (its status is the remote command's, not its own 255) where the launch
    script never started: something else ran in its place, as it would for rsync or scp."""
    said = f"it said: {output}" if output else f"it ended with status {code}"
    return (f"ssh logged in to {remote.describe()}, but synco's command did not run there ({said}): the server runs "
            "its own in its place (ForceCommand in sshd_config, command=\"...\" on the key in authorized_keys, a "
            "nologin shell), or a login file (.bashrc, .profile) ended the shell; pull needs an account that runs the "
            "command it is given, as rsync and scp do")


def negotiate(reader: IO[bytes], writer: IO[bytes], remote: Remote, launch: Launch,
              env: Mapping[str, str] | None = None, zipapp: Callable[[bool], Path] | None = None,
              watch: GreetingWatch | None = None) -> None:
    """Follow the launch script until the channel greeting: answer an upload request, turn problems into errors.

    ``zipapp(bytecode)`` gives the archive to upload: with this interpreter's pycs when the remote one reported
    the same bytecode magic number, else the plain one (:func:`synco_core.pull.zipapp.build_zipapp`).

    Returns with ``reader`` positioned right after :data:`MAGIC`, as :meth:`ChannelClient.handshake` expects
    when called with ``skip_magic=False``. ``watch`` hears of every step, so silence is timed.
    """
    env = os.environ if env is None else env
    seen = bytearray()
    noise = 0
    started = False
    while True:
        byte = reader.read(1)
        if not byte:
            tail = bytes(seen[-300:]).decode("utf-8", "replace").strip()
            raise EndedBeforeStart(tail)
        if not noise and watch is not None:
            # Output on the channel comes from the remote command (ssh's prompts never go there): logged in.
            watch.command_running()
        seen += byte
        noise += 1
        if noise > MAX_PREAMBLE:
            log.debug("remote output before synco started: %r", bytes(seen[:500]))
            where = remote.describe()
            # Before the launch script's first line, only the login (rc files, a motd) can have printed it.
            printer = ("the remote command printed that much before synco started" if started else
                       "the login prints that much before any command runs (.bashrc, .profile?)")
            raise FramingError(f"no synco greeting in the first {MAX_PREAMBLE >> 20} MiB of output from {where}: "
                               f"{printer}; run the pull with --debug to see how it starts")
        if seen.endswith(MAGIC):
            if seen[: -len(MAGIC)].strip():
                log.debug("remote output before synco started: %r", bytes(seen[-500:]))
            return
        if not seen.endswith(LAUNCH_MARK):
            continue
        message = _read_line(reader).decode("utf-8", "replace")
        del seen[-len(LAUNCH_MARK):]
        started = True
        if watch is not None:
            watch.progress()
        word, _, argument = message.partition(" ")
        if word == "terminal" or message.endswith("\r"):
            # A line end turned into CR LF: a terminal's, which would also echo and interpret what is sent
            # (^C in the zipapp), so nothing is uploaded and nothing waits for a greeting that cannot come.
            raise ConfigError(
                f"the channel to {remote.describe()} is a terminal (-tt in the ssh options, docker or kubectl exec "
                "-t), which would change the bytes synco sends; run it without one"
            )
        # "module" and "upload" name the interpreter the script chose (python3, or python on a host without it).
        python = argument.strip() if word in ("module", "upload") and argument.strip() else " ".join(
            remote_python(remote, env))
        if word == "started":
            launch.started = True
            continue
        if word == "installed":
            configured = remote_synco(remote, env)
            if configured and len(shlex.split(configured)) > 1:
                # A wrapper in front (sudo -n -u www-data synco): its first word is what was found.
                launch.how = f"synco run by {configured} (found {argument})"
            else:
                launch.how = f"synco installed at {argument}"
        elif word == "module":
            launch.how = f"the synco_core module of {python}"
        elif word == "dir-missing":
            raise ConfigError(f"the directory {remote.path or '~'} does not exist on {remote.describe()}")
        elif word == "no-python":
            if _setting(remote, env, "SYNCO_REMOTE_PYTHON", "python") is None:
                python = "python3 (nor python)"
            raise ConfigError(
                f"neither synco nor {python} found on {remote.describe()}; install python3 >= "
                f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]} there (or set python: in the remote's .synco.yml)"
            )
        elif word == "old-python":
            found = argument.strip()
            signalled = re.fullmatch(r"killed by signal (\d+)", found)
            if signalled:
                # A CPU time limit (ulimit -t) kills every python there before it prints anything.
                found = f"it was killed ({remote_signal(128 + int(signalled[1])) or found})"
            if not re.fullmatch(r"\d+\.\d+", found):
                # Not a version: the interpreter did not run, and what it said instead is the reason.
                raise ConfigError(f"cannot run {python} on {remote.describe()}: {found or 'it printed nothing'}")
            raise ConfigError(
                f"python3 >= {MIN_PYTHON[0]}.{MIN_PYTHON[1]} missing on {remote.describe()} (found {found}); "
                "install synco or a newer python there"
            )
        elif word == "bytecode":
            launch.bytecode = argument.strip()
        elif word == "env":
            try:
                writer.write(env_input(remote))
                writer.flush()
            except (BrokenPipeError, ConnectionResetError):
                log.debug("the remote side stopped reading the environment")
        elif word == "upload":
            if watch is not None:
                # The remote side reads now, and building the zipapp or a slow link may take long: only
                # silence after the upload counts.
                watch.pause()
            if zipapp is None:
                from synco_core.pull.zipapp import build_zipapp

                zipapp = lambda bytecode: build_zipapp(bytecode=bytecode)  # noqa: E731
            bytecode = launch.bytecode == importlib.util.MAGIC_NUMBER.hex() and launch.bytecode_wanted
            archive = zipapp(bytecode)
            # The size is the opened file's: what is sent is what open_archive judged, never what the path
            # names a moment later.
            source = open_archive(archive)
            size = os.fstat(source.fileno()).st_size
            compiled = ", with bytecode" if bytecode else ""
            launch.how = f"uploaded zipapp ({size // 1024} KiB{compiled}) run by {python}"
            launch.uploaded = True
            try:
                writer.write(f"{size}\n".encode())
                while chunk := source.read(256 << 10):
                    writer.write(chunk)
                writer.flush()
            except (BrokenPipeError, ConnectionResetError):
                # The remote side stopped reading; its exit status and stderr say why.
                log.debug("the remote side stopped reading the upload")
            finally:
                source.close()
                if watch is not None:
                    watch.resume()
        else:
            log.debug("unknown launch message %r", message)


#: What the signals that end a process on a hosting account usually mean there. A process killed outright
#: says nothing on stderr, and kubectl's "command terminated with exit code 137" says no more.
_SIGNAL_CAUSES = {
    signal.SIGKILL: "SIGKILL: out of memory, the hard end of a CPU time limit (ulimit -t), or killed by hand",
    **{signum: f"{signum.name}: {meaning}" for signum, meaning in LIMIT_SIGNALS.items()},
    signal.SIGSEGV: "SIGSEGV: it crashed",
    signal.SIGBUS: "SIGBUS: it crashed",
    signal.SIGABRT: "SIGABRT: it aborted",
    signal.SIGTERM: "SIGTERM: stopped from outside",
    signal.SIGHUP: "SIGHUP: its session ended",
}


#: The last line of a python (or a shell) there that ran out of memory: MemoryError, or ENOMEM in its words.
_OUT_OF_MEMORY = re.compile(r"\bMemoryError\b|\[Errno 12\]|Cannot allocate memory")
#: What an ssh status 255 with nothing on stderr means: ssh ends so when the remote command dies of a signal.
SSH_UNNAMED_SIGNAL = ("killed by a signal (ssh names none: out of memory, a resource limit such as ulimit -t, a crash, "
                      "or killed by hand)")


def remote_signal(code: int) -> str | None:
    """The signal that killed the remote command, when ``code`` is the 128 + number that docker exec, kubectl
    exec and a remote shell end with then (ssh says 255 for a command killed in place: unknown here)."""
    if not 128 < code <= 128 + 64:
        return None
    try:
        number = signal.Signals(code - 128)
    except ValueError:
        return None
    return _SIGNAL_CAUSES.get(number, number.name)


#: ssh's last line when the host key could not be verified: unknown (and no one to ask), or changed.
HOST_KEY_FAILED = "Host key verification failed."
#: ssh's last line when the server accepted none of the keys it offered (none could be read without a passphrase).
PUBLICKEY_REFUSED = "Permission denied (publickey)."
#: ssh's refusal of a command line for a host whose configuration sets RemoteCommand (rsync gets the same).
REMOTE_COMMAND_CONFLICT = "Cannot execute command-line and remote command."


def explain_exit(code: int, stderr_tail: str, remote: Remote, *, started: bool = False,
                 host_key_changed: bool = False, instead: str | None = None) -> str:
    """A one-line reason for a remote side that ended without speaking the protocol.

    ``started``: the launch script said its first line, so ssh had logged in and its 255 is not "cannot reach".
    ``host_key_changed``: ssh warned that the host's key is not the one it knows (the warning was shown as it is).
    ``instead``: the channel ended before the launch script's first line, and this is what came on it instead.
    """
    reason = stderr_tail.removeprefix("Error: ")
    if shell_fork_failed(reason):
        # The remote shell could not even fork for the launch script: nothing of synco ran to name the limit.
        return f"cannot start a process on {remote.describe()}: {REMOTE_PROCESS_LIMIT} ({reason})"
    if _OUT_OF_MEMORY.search(reason):
        # A python that ran out before synco's own error handling was imported: its traceback's last line.
        return f"out of memory on {remote.describe()}: {REMOTE_MEMORY_LIMIT} ({reason})"
    if SHARED_OBJECT_NOT_MAPPED in reason:
        # The same before synco could look at the limit, for an extension module: the loader's words say ENOMEM
        # and a noexec folder alike.
        return (f"cannot load a library on {remote.describe()}: {REMOTE_MEMORY_LIMIT}, or the library's folder is "
                f"mounted noexec ({reason})")
    if code == 127 and not started and reason.startswith(f"{SSH_COMMAND_VARIABLE}: "):
        # The local sh that runs SYNCO_SSH_COMMAND (its $0) did not find the command: nothing reached the remote.
        return f"cannot run the ssh command of {SSH_COMMAND_VARIABLE} on this computer: {reason}"
    if remote.kind == "ssh" and instead is not None and not started and 0 <= code != 255:
        # ssh's status is the remote command's: it logged in, yet the launch script never said its first line.
        return other_command_ran(remote, code, instead or reason)
    if code < 0:
        # The local ssh/docker/kubectl process itself died of a signal (Popen's negative status): its last
        # stderr line, if any, is the remote side's and says nothing about that.
        return f"the {remote.tool} connection to {remote.describe()} was cut (its process got signal {-code})"
    killed = remote_signal(code)
    if killed is not None:
        return f"the remote side on {remote.describe()} was killed ({killed})"
    if code == EXIT_OLD_PYTHON:
        return reason or f"the python on {remote.describe()} is too old"
    if code == 127:
        return f"command not found on {remote.describe()}: {reason}"
    if remote.kind == "ssh" and code == 255:
        # 255 is ssh's own status for "could not connect or log in", and its last stderr line says why; but it
        # is also what ssh ends with when the remote command was killed by a signal, and then it says nothing.
        if not reason:
            return f"the remote side on {remote.describe()} was {SSH_UNNAMED_SIGNAL}"
        if started:
            return f"the ssh connection to {remote.describe()} ended: {reason}"
        if reason == HOST_KEY_FAILED and host_key_changed:
            return (f"cannot reach {remote.describe()}: {reason} The host key ssh knows for it has changed: see "
                    "ssh's warning above before you trust the new key")
        if reason == HOST_KEY_FAILED:
            # ssh's only word when it does not know the host yet and may not ask (no terminal, BatchMode), or when
            # StrictHostKeyChecking refuses a new host or the person answered no.
            return (f"cannot reach {remote.describe()}: {reason} ssh does not know this host's key and was not "
                    f"told to trust it: run the pull in a terminal, where ssh asks, or check the key and accept it "
                    f"once with `{probe_command(remote)}`")
        if reason == REMOTE_COMMAND_CONFLICT:
            return (f"cannot reach {remote.describe()}: {reason} The ssh configuration of this host sets "
                    "RemoteCommand, and synco gives its own: add -o RemoteCommand=none to the ssh options "
                    "(SYNCO_SSH_OPTIONS, or ssh_options: in .synco.yml)")
        if reason.endswith(PUBLICKEY_REFUSED):
            return (f"cannot reach {remote.describe()}: {reason} A key with a passphrase is offered only from "
                    "ssh-agent (ssh-add), or when the pull runs in a terminal, where ssh asks for the passphrase")
        return f"cannot reach {remote.describe()}: {reason}"
    return reason or f"the remote side on {remote.describe()} exited with status {code}"


def remove_upload(remote: Remote, launch: Launch, env: Mapping[str, str] | None = None) -> None:
    """Best effort: delete an uploaded archive that the remote process could not remove itself."""
    if not launch.uploaded:
        return
    # Every folder the loader's tempfile.gettempdir() may have chosen (an unwritable $TMPDIR falls back to
    # /tmp): the name is random, so removing it wherever it is found can only remove the upload.
    name = shlex.quote(launch.upload_name)
    script = f'for d in "$TMPDIR" /tmp /var/tmp /usr/tmp; do [ -n "$d" ] && rm -f "$d"/{name}; done; exit 0'
    argv = channel_argv(remote, remote_script("", ["sh", "-c", script]), env)
    try:
        run_channel(argv, label="cleanup", timeout=30)
    except Exception as exc:  # the pull's own outcome matters more than this last tidy-up
        log.debug("could not remove the uploaded zipapp: %s", exc)
