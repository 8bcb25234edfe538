"""The control channels (ssh, docker, docker compose, kubectl) as argv, and a subprocess that never lingers.

Every channel runs the same POSIX shell script on the remote side (``cd <app> && exec <command>``), so
the rest of ``pull`` does not care which one it talks through. The ssh options a test or a user needs
(``-i key -p port -F /dev/null``) come from, in this order: ``SYNCO_SSH_COMMAND`` (the whole ssh command, run
through ``sh`` as git runs ``GIT_SSH_COMMAND``: :func:`ssh_command`), the remote's ``ssh_options`` in
``.synco.yml``, and ``SYNCO_SSH_OPTIONS`` (words split as a shell splits them, nothing expanded).

:class:`ChannelProcess` starts the channel in its own process group, so a Ctrl-C in the terminal reaches
synco (which then closes the channel politely: the remote side sees end-of-input and cleans up) rather
than killing ssh mid-frame. On leaving, whatever happened, stdin is closed, the process is given a few
seconds to finish its cleanup, then terminated, then killed.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import IO

from synco_core.childenv import child_environment
from synco_core.errors import ConfigError, TransferError
from synco_core.pull.frames import remote_text
from synco_core.pull.remote import Remote
from synco_core.redaction import printable, redact

log = logging.getLogger(__name__)

#: How long the remote side gets to clean up after its stdin closed, before it is terminated.
CLOSE_GRACE_SECONDS = 10.0
#: A log record of the remote synco below ERROR, in the CLI's format ("WARNING synco_core.x +218ms: ...").
_REMOTE_NOTICE = re.compile(r"(?:DEBUG|INFO|WARNING) [\w.]+ \+\d+ms: ")
#: How ssh's own notices start, printed before the remote command runs: the known hosts file, and OpenSSH 10's
#: three lines ("** WARNING: connection is not using a post-quantum key exchange algorithm." ...) to a server
#: without one. The last of them is never why a connection ended.
_SSH_NOTICES = ("Warning: Permanently added", "** ")
#: ssh's own log lines when its configuration (``LogLevel VERBOSE`` or ``DEBUG`` in ~/.ssh/config, ``-v``) asks for
#: them: "Authenticated to ...", then, after the remote command ended, "Transferred: ..." and "Bytes per second:
#: ...", and at DEBUG3 the list of open channels ("The following connections are open:", "  #0 client-session (t4
#: ..."). They were taken for why a channel ended ("Error: Bytes per second: sent 16177.6, ..."), hid that ssh
#: named no reason at all (the remote side killed by a signal), and at DEBUG pushed the remote side's own last
#: line out of the lines kept; so they are never kept.
_SSH_LOG = re.compile(r"debug\d: |Authenticated to .* using |Transferred: sent \d+, received \d+ bytes"
                      r"|Bytes per second: sent |The following connections are open:|  #\d+ .*\(t\d+ ")
#: The launch script's first line on stderr (synco_core.pull.bootstrap): the remote command has started.
STARTED_ON_STDERR = "SYNCO-LAUNCH started"
#: The first line of ssh's framed warnings ("@@@...@" above "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!",
#: "WARNING: UNPROTECTED PRIVATE KEY FILE!", "WARNING: POSSIBLE DNS SPOOFING DETECTED!").
_SSH_WARNING_RULE = re.compile(r"@{20,}")
#: The last line of such a warning: how to remove the offending key, or that ssh gave up or ignored a key.
_SSH_WARNING_END = re.compile(r'  ssh-keygen .* -R .*|Host key verification failed\.|Load key ".*": bad permissions')
#: What ssh says right after a changed host key's warning: that it stops, or what it turns off and goes on.
_SSH_WARNING_AFTER = re.compile(r"Host key for .* has changed and you have requested strict checking\.|"
                                r"Host key verification failed\.|.* is disabled (?:to avoid man-in-the-middle "
                                r"attacks|because the host key is not trusted)\.")
#: At most this many lines of one framed warning are shown (the longest, a changed host key, has 13).
_SSH_WARNING_LINES = 40
#: The pointer to their help that docker and kubectl print after an error ("See 'docker --help'", "See 'kubectl
#: exec -h' for help and examples", "Run 'docker compose exec --help' for more information"): not a reason.
_HELP_POINTER = re.compile(r"(?:See|Run) '[^']*(?:--help|-h)'(?:\.| for .*)?")
#: A warning record of the remote synco, in the same format; group 1 is its message.
_REMOTE_WARNING = re.compile(r"WARNING [\w.]+ \+\d+ms: (.*)")
#: How many of the remote side's warnings are shown; a flood of them (thousands of skipped files) ends with one
#: line saying the rest are in the --debug output.
REMOTE_WARNINGS_SHOWN = 50


def _env_words(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    value = env.get(name, "").strip()
    if not value:
        return ()
    try:
        return tuple(shlex.split(value))
    except ValueError as exc:
        raise ConfigError(f"{name} cannot be split into words: {exc}") from None


#: The variable holding the whole ssh command, as GIT_SSH_COMMAND does for git.
SSH_COMMAND_VARIABLE = "SYNCO_SSH_COMMAND"
#: The characters that make git run GIT_SSH_COMMAND through ``sh -c`` rather than as one program's name (git's
#: run-command.c, prepare_shell_cmd).
_SHELL_CHARACTERS = frozenset("|&;<>()$`\\\"' \t\n*?[#~=%")
#: A shell word that assigns a variable (``GIT_TRACE=1 ssh``): ``exec`` may not come before it.
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.DOTALL)
#: First words ``exec`` may not come before either: what starts a compound command.
_COMPOUND_STARTS = frozenset({"{", "!", "if", "for", "while", "until", "case"})


def _one_simple_command(value: str) -> bool:
    """Whether ``value`` is one simple command that runs a program (``exec`` may go in front): no ``;``, ``&&``,
    ``|``, redirection or parenthesis outside quotes, and it starts with neither an assignment nor a keyword."""
    lexer = shlex.shlex(value, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        return False
    if not tokens or _ASSIGNMENT.fullmatch(tokens[0]) or tokens[0] in _COMPOUND_STARTS:
        return False
    return not any(token and set(token) <= set("();<>|&") for token in tokens)


def ssh_command(env: Mapping[str, str]) -> list[str]:
    """The argv start that runs the ssh of ``SYNCO_SSH_COMMAND`` (``ssh`` without one), as git runs
    ``GIT_SSH_COMMAND``: through ``sh -c '<command> "$@"'``, so that ``$VAR``, ``~`` and quotes mean what they mean
    in a shell; a plain program name runs as it is.

    ``exec`` goes in front (of one simple command: :func:`_one_simple_command`), so that ssh itself is the
    channel's process: its exit status, and a signal that kills it, are ssh's, not sh's ``128+N``. The script's
    ``$0`` is the variable's name, which sh puts in front of its own errors (``SYNCO_SSH_COMMAND: 1: exec: sshx:
    not found``).
    """
    value = env.get(SSH_COMMAND_VARIABLE, "").strip()
    # Quotes that do not close are one line naming the variable, not a shell's syntax error.
    words = _env_words(env, SSH_COMMAND_VARIABLE)
    if not words:
        return ["ssh"]
    if not _SHELL_CHARACTERS.intersection(value):
        return [value]
    run = f"exec {value}" if _one_simple_command(value) else value
    return ["sh", "-c", f'{run} "$@"', SSH_COMMAND_VARIABLE]


#: ``~user`` or ``~user/rest``: a user name of the portable characters, which may stand unquoted in a shell word.
_TILDE_USER = re.compile(r"~([A-Za-z0-9_.][A-Za-z0-9_.-]*)(?:/(.*))?", re.DOTALL)


def cd_command(path: str) -> str:
    """``cd <path>`` for a POSIX shell ("" when no path is given); ``~/...`` goes through ``$HOME``, ``~user/...``
    through the shell's tilde expansion, as scp and rsync read ``host:~user/path``."""
    if not path:
        return ""
    if path == "~" or path.startswith("~/"):
        # A quoted "~" would not expand; $HOME does, and the rest of the path stays quoted.
        rest = path[2:]
        return 'cd "$HOME"' + ("/" + shlex.quote(rest) if rest else "")
    other = _TILDE_USER.fullmatch(path)
    if other is not None:
        # The tilde prefix must stay unquoted to expand (the name's characters need no quotes); the rest is quoted.
        # Quoted whole, "~deploy/app" was taken for a folder named "~deploy" in the login directory.
        name, rest = other.group(1), other.group(2)
        return f"cd ~{name}" + ("/" + shlex.quote(rest) if rest else "")
    if path.startswith("-"):
        # cd reads a leading "-" as its option ("cd -P" is the home folder, "cd -" the previous one).
        path = "./" + path
    return f"cd {shlex.quote(path)}"


def remote_script(path: str, command: Sequence[str]) -> str:
    """The POSIX shell script run remotely: change to ``path`` (when given), then exec ``command``.

    Every word of ``command`` is quoted: configured commands (``/opt/venv/bin/synco``) are split into
    words by the caller first, so no word is ever interpreted by the remote shell.
    """
    words = " ".join(shlex.quote(word) for word in command)
    cd = cd_command(path)
    return f"{cd} && exec {words}" if cd else f"exec {words}"


#: Runs its first argument, decoded by ``printf %b``, as a POSIX shell script (see :func:`login_shell_command`).
_DECODE_AND_RUN = 'eval "$(printf %b "$1")"'
#: What :func:`login_shell_command` spells with ``printf %b`` escapes instead of the character itself.
_LOGIN_SHELL_ESCAPES = {"\\": "\\0134", "\n": "\\n", "!": "\\0041"}


def login_shell_command(script: str) -> str:
    """The one command line that makes any remote login shell run ``script`` with ``sh``.

    ``ssh host CMD`` hands CMD to the user's login shell, and login shells disagree about quotes: csh and
    tcsh refuse a newline inside single quotes ("Unmatched '"), fish reads ``\\`` and ``\'`` inside them
    as escapes, csh may expand ``!``. So the script travels as one single-quoted word with none of these:
    backslashes, newlines and ``!`` are written as ``printf %b`` escapes (a backslash followed by ``0`` or
    ``n`` only, which no shell changes inside single quotes), and ``sh`` turns them back and runs the result.
    """
    encoded = "".join(_LOGIN_SHELL_ESCAPES.get(char, char) for char in script)
    return shlex.join(["sh", "-c", _DECODE_AND_RUN, "sh", encoded])


def ssh_base(remote: Remote, env: Mapping[str, str] | None = None, batch: bool = True) -> list[str]:
    """The ssh command with its options, before the destination.

    ``batch``: ssh may not ask anything (``BatchMode``), since nobody could answer; it comes after the user's own
    options, and ssh keeps the first value it reads, so a ``BatchMode`` of theirs wins.
    """
    env = os.environ if env is None else env
    argv = [*ssh_command(env), "-T", *remote.ssh_options, *_env_words(env, "SYNCO_SSH_OPTIONS")]
    if batch:
        argv += ["-o", "BatchMode=yes"]
    if remote.port:
        argv += ["-p", str(remote.port)]
    return argv


def channel_argv(remote: Remote, script: str, env: Mapping[str, str] | None = None,
                 connect_timeout: float = 0, batch: bool = True) -> list[str]:
    """The argv that runs ``script`` (a POSIX shell script) on ``remote`` with stdin/stdout attached.

    ``connect_timeout`` (seconds, 0 for none) becomes ssh's ``ConnectTimeout``; it comes after the user's
    own options, and ssh keeps the first value it reads, so a ``ConnectTimeout`` of theirs wins. ``batch``: see
    :func:`ssh_base` (false when ssh may ask on the terminal, :func:`synco_core.pull.prompts.terminal_prompts`).
    """
    if remote.kind == "ssh":
        destination = f"{remote.user}@{remote.host}" if remote.user else remote.host
        limit = ["-o", f"ConnectTimeout={math.ceil(connect_timeout)}"] if connect_timeout > 0 else []
        # ssh joins the remaining words with spaces and hands them to the remote login shell, whichever it
        # is (bash, dash, zsh, fish, tcsh): login_shell_command spells the script so that all of them pass it
        # to sh unchanged.
        return [*ssh_base(remote, env, batch), *limit, "--", destination, login_shell_command(script)]
    if remote.kind == "docker":
        return ["docker", "exec", "-i", remote.host, "sh", "-c", script]
    if remote.kind == "docker-compose":
        return ["docker", "compose", *remote.compose_options, "exec", "-T", remote.host, "sh", "-c", script]
    if remote.kind == "kubectl":
        argv = ["kubectl", "exec", "-i"]
        if remote.context:
            argv += ["--context", remote.context]
        argv += ["-n", remote.namespace or "default", remote.host]
        if remote.container:
            argv += ["-c", remote.container]
        return [*argv, "--", "sh", "-c", script]
    if remote.kind == "command":
        # A tool that hands one command line to a remote shell (platform ssh, lando ssh -c, ddev exec) gets
        # the script spelt as for ssh, which any login shell passes to sh unchanged; one that runs the words
        # it is given, as docker exec does, gets them.
        if remote.runs == "argv":
            return [*remote.command, "sh", "-c", script]
        return [*remote.command, login_shell_command(script)]
    raise ConfigError(f"unsupported remote kind {remote.kind!r}")


def _show_on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class ChannelProcess:
    """A running channel: binary ``stdin``/``stdout`` pipes, stderr collected, always cleaned up.

    Use as a context manager. Stderr is read by a thread (so a chatty remote never blocks on a full
    pipe), forwarded to the debug log, and its last lines are kept for error messages.
    """

    def __init__(self, argv: Sequence[str], *, label: str = "channel", stderr_lines: int = 20,
                 relay_warnings: bool = False, show: Callable[[str], None] | None = None,
                 env: Mapping[str, str] | None = None, marks_start: bool = False) -> None:
        self.argv = list(argv)
        #: The command says on stderr when the remote command started (:data:`STARTED_ON_STDERR`, pull's launch
        #: script): interrupted before that, there is nothing remote to wait for (see :meth:`__exit__`).
        self.marks_start = marks_start
        self.label = label
        #: Variables added to the child's environment (:func:`synco_core.pull.prompts.terminal_prompts`).
        self.extra_env = dict(env or {})
        #: Show the remote synco's warnings as this process's own, and ssh's framed warnings (a changed host key)
        #: as ssh printed them (see :meth:`_read_stderr`).
        self.relay_warnings = relay_warnings
        self.warnings_relayed = 0
        #: Where ssh's framed warnings go, line by line (standard error by default).
        self._show = show or _show_on_stderr
        #: Whether ssh warned that the host key it knows for the host has changed (possibly an attacker's).
        self.host_key_changed = False
        self._ssh_warning = 0
        self._after_ssh_warning = False
        self._tail: collections.deque[str] = collections.deque(maxlen=stderr_lines)
        #: How many lines were ever put in the tail, and how many of them came before the remote command started.
        self._lines = 0
        self._before_start = 0
        #: Whether the remote command has started (the launch script said so on stderr).
        self.command_started = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_thread: threading.Thread | None = None
        self._closed = False

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise RuntimeError("channel not started")
        return self._proc

    @property
    def stdin(self) -> IO[bytes]:
        assert self.proc.stdin is not None
        return self.proc.stdin

    @property
    def stdout(self) -> IO[bytes]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    def start(self) -> ChannelProcess:
        log.debug("starting %s: %s", self.label, redact(shlex.join(self.argv)))
        try:
            self._proc = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                bufsize=0, start_new_session=True, env={**child_environment(), **self.extra_env},
            )
        except FileNotFoundError:
            raise TransferError(f"cannot start {self.label}: {self.argv[0]!r} not found on PATH") from None
        except OSError as exc:
            raise TransferError(f"cannot start {self.label}: {exc.strerror or exc}") from None
        self._stderr_thread = threading.Thread(target=self._read_stderr, name=f"{self.label}-stderr", daemon=True)
        self._stderr_thread.start()
        return self

    def _read_stderr(self) -> None:
        stream = self.proc.stderr
        assert stream is not None
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            if line == STARTED_ON_STDERR:
                # The remote command has started: what ssh and the login printed so far (a Banner, a motd, an rc
                # file's words) is never why it ends later.
                self._before_start = self._lines
                self.command_started = True
            elif line and self.relay_warnings and self._relay_ssh_warning(line):
                self._keep(line)
            elif line and _SSH_LOG.match(line):
                log.debug("%s: %s", self.label, redact(line))
            elif line:
                self._keep(line)
                warning = _REMOTE_WARNING.match(line) if self.relay_warnings else None
                if warning is not None and self.warnings_relayed < REMOTE_WARNINGS_SHOWN:
                    # What serve would print on its terminal (a file skipped, what a dump leaves out, a plugin
                    # that failed): without it a pull that left something behind looks complete.
                    self.warnings_relayed += 1
                    log.warning("remote side warned: %s", remote_text(redact(warning.group(1)), 2000))
                    continue
                if warning is not None and self.warnings_relayed == REMOTE_WARNINGS_SHOWN:
                    self.warnings_relayed += 1
                    log.warning("remote side warned more than %d times; run the pull with --debug to see every "
                                "warning", REMOTE_WARNINGS_SHOWN)
                log.debug("%s: %s", self.label, redact(line))

    def _relay_ssh_warning(self, line: str) -> bool:
        """Show ``line`` as it is when it belongs to one of ssh's framed warnings; say whether it did.

        rsync and git leave ssh's stderr on the terminal, so a changed host key's warning ("IT IS POSSIBLE THAT
        SOMEONE IS DOING SOMETHING NASTY!", the fingerprint, the ``ssh-keygen -R`` to run) reaches the user as ssh
        wrote it. Pull reads ssh's stderr itself, and kept only its last line ("Host key verification failed."), or,
        under ``StrictHostKeyChecking no`` where ssh goes on, nothing at all.
        """
        if _SSH_WARNING_RULE.fullmatch(line):
            self._ssh_warning = _SSH_WARNING_LINES
        elif self._ssh_warning:
            if "REMOTE HOST IDENTIFICATION HAS CHANGED" in line:
                self.host_key_changed = True
            if _SSH_WARNING_END.fullmatch(line):
                self._ssh_warning = 1
                self._after_ssh_warning = True
        elif not (self._after_ssh_warning and _SSH_WARNING_AFTER.fullmatch(line)):
            self._after_ssh_warning = False
            return False
        self._ssh_warning = max(self._ssh_warning - 1, 0)
        self._show(printable(line))
        return True

    def _keep(self, line: str) -> None:
        self._tail.append(line)
        self._lines += 1

    def stderr_tail(self) -> str:
        """The last stderr line worth showing: ssh's own notices (known hosts, post-quantum), the remote synco's debug,
        info and warning records (a warning printed before the remote side was killed is not why the
        connection broke), and docker's and kubectl's pointers to their help are skipped."""
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2)
        # A python that dies while starting (a wrong PYTHONHOME) or crashes ends with its C stack ("<no Python
        # frame>", "File ..., line 12"): its "Fatal Python error" line is the one that says why.
        # Only the lines since the remote command started, once it has: "Authorized access only." of an sshd
        # Banner was given as why a remote side killed by a signal ended.
        lines = list(self._tail)[max(0, len(self._tail) - (self._lines - self._before_start)):]
        fatal = [line for line in lines if line.startswith("Fatal Python error: ")]
        if fatal:
            return remote_text(redact(fatal[-1]))
        for line in reversed(lines):
            if (not line.startswith(_SSH_NOTICES) and not _REMOTE_NOTICE.match(line)
                    and not _HELP_POINTER.fullmatch(line)):
                # The remote side's own stderr comes through here: no escape sequences onto the terminal.
                return remote_text(redact(line))
        return ""

    def close(self, grace: float = CLOSE_GRACE_SECONDS) -> int:
        """Close stdin, wait up to ``grace`` seconds, then terminate and kill; return the exit status."""
        proc = self._proc
        if proc is None:
            return 0
        if self._closed:
            return proc.wait()
        self._closed = True
        with contextlib.suppress(OSError, ValueError):
            self.stdin.close()
        # Whatever the remote still sends is read and dropped: a channel blocked on a full stdout pipe
        # could not notice its input ended, and would never exit.
        drain = threading.Thread(target=self._drain_stdout, name=f"{self.label}-drain", daemon=True)
        drain.start()
        try:
            code = proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            log.debug("%s did not exit after its input closed; terminating it", self.label)
            self._signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                code = proc.wait()
        # The drain thread must be done before the pipe is closed: a closed descriptor number is soon reused
        # (by the next channel's stdout), and a late read on it would steal that channel's bytes.
        drain.join(timeout=5)
        if drain.is_alive():
            log.debug("%s: a left-over process still holds the output pipe open; leaving it to the drain", self.label)
        else:
            with contextlib.suppress(OSError, ValueError):
                self.stdout.close()
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2)
        return code

    def _drain_stdout(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            while self.stdout.read(65536):
                pass

    def kill(self) -> None:
        """End the channel at once (from another thread: a read blocked on it then sees the end)."""
        if self._proc is not None:
            self._signal(signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        # The channel runs in its own process group (start_new_session), so the whole group is signalled:
        # a docker or kubectl shim that forks a shell goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signum)

    def __enter__(self) -> ChannelProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # After an interruption the remote side still deserves its chance to clean up, but not forever. Before the
        # remote command started there is nothing remote to clean up, and ssh may be waiting on a question at the
        # terminal (Ctrl-C there), which closing its input does not end: it ends at once.
        if exc_type is None:
            grace = CLOSE_GRACE_SECONDS
        else:
            grace = 0.0 if self.marks_start and not self.command_started else min(CLOSE_GRACE_SECONDS, 5.0)
        self.close(grace)


def run_channel(argv: Sequence[str], *, input_file: IO[bytes] | None = None, label: str = "channel",
                timeout: float = 120.0) -> tuple[int, bytes, str]:
    """Run a short channel command to completion; return (exit status, stdout, last stderr line).

    ``input_file`` is copied to the command's stdin in 64 KiB chunks, so memory stays
    flat. Stdout is expected to be small (a short command's output) and is read whole.
    """
    with ChannelProcess(argv, label=label) as channel:
        out_chunks: list[bytes] = []

        def read_out() -> None:
            for chunk in iter(lambda: channel.stdout.read(65536), b""):
                out_chunks.append(chunk)

        reader = threading.Thread(target=read_out, name=f"{label}-stdout", daemon=True)
        reader.start()
        try:
            if input_file is not None:
                for chunk in iter(lambda: input_file.read(65536), b""):
                    channel.stdin.write(chunk)
        except BrokenPipeError:
            # The remote side stopped reading; its exit status and stderr say why.
            pass
        with contextlib.suppress(OSError):
            channel.stdin.close()
        try:
            code = channel.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TransferError(f"{label} did not finish within {timeout:.0f}s") from None
        reader.join(timeout=5)
        return code, b"".join(out_chunks), channel.stderr_tail()
