"""synco on a laptop whose locale is not UTF-8 (ISO-8859-1, or C/POSIX with Python's UTF-8 mode off)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pull_support import SHIMS, latin1_locale, make_project, row_count, run_synco, tree_digest, write_plugin
from test_transfer_support import static_server

from synco_core import age, localenames
from synco_core.receive.workers import worker_command
from synco_core.serve.walkprocess import _command

LOCALES = ["latin1", "C-utf8-mode-off", "C"]


def _env(kind: str, tmp_path: Path) -> dict[str, str]:
    plugin_dir = write_plugin(tmp_path / "plugin")
    remote_tmp = tmp_path / "remote-tmp"
    remote_tmp.mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("LC_", "PYTHONUTF8", "PYTHONIOENCODING")) and key not in ("LANG", "LANGUAGE")}
    env.update({
        "PATH": f"{SHIMS}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": str(plugin_dir),
        "TMPDIR": str(remote_tmp),
        "SYNCO_SHIM_LOG": str(tmp_path / "shim.log"),
        "SYNCO_REMOTE_PYTHON": sys.executable,
    })
    if kind == "latin1":
        env.update(latin1_locale(tmp_path / "locales"))
    elif kind == "C-utf8-mode-off":
        env.update({"LC_ALL": "C", "PYTHONUTF8": "0"})
    else:
        env.update({"LC_ALL": "C"})
    return env


@pytest.mark.parametrize("kind", LOCALES)
def test_pull_non_latin_names_onto_a_laptop_without_a_utf8_locale(tmp_path: Path, kind: str) -> None:
    project = make_project(tmp_path / "app", public_files=2)
    uploads = project.root / "public" / "uploads"
    (uploads / "café ü.bin").write_bytes(b"cafe")
    (uploads / "日本 語").mkdir()
    (uploads / "日本 語" / "ファイル 🎉.txt").write_bytes(b"jp")
    (project.root / "storage" / "app" / "メモ.txt").write_bytes(b"memo")
    env = _env(kind, tmp_path)
    result = run_synco(["pull", f"docker://web-1{project.root}", "--target", "out"], env, tmp_path)
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = os.fsencode(tmp_path / "out")
    assert (tmp_path / "out" / "uploads" / "日本 語" / "ファイル 🎉.txt").read_bytes() == b"jp"
    # The same bytes as on the server (UTF-8), whatever the laptop's locale: the site's database names them so.
    assert os.path.exists(out + "/uploads/café ü.bin".encode())
    assert tree_digest(tmp_path / "out" / "uploads") == tree_digest(uploads)


@pytest.mark.parametrize("kind", LOCALES)
def test_pull_again_with_delete_into_a_folder_named_in_latin1(tmp_path: Path, kind: str) -> None:
    """A second pull (files already there, --delete of local files the server no longer has, both with
    non-Latin names) into a target folder whose name is ISO-8859-1 bytes, not UTF-8: nothing crashes, the
    folder keeps its own bytes, and what is printed about it is its bytes as they are."""
    project = make_project(tmp_path / "app", public_files=2)
    uploads = project.root / "public" / "uploads"
    (uploads / "日本 語").mkdir()
    (uploads / "日本 語" / "ファイル 🎉.txt").write_bytes(b"jp")
    (uploads / "古い.txt").write_bytes(b"old")
    env = _env(kind, tmp_path)
    target = b"out-caf\xe9"
    command = [sys.executable, "-c", "from synco_core.cli.main import main; main()",
               "pull", f"docker://web-1{project.root}".encode(), "--target", target]
    first = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, check=False)
    assert first.returncode == 0, first.stderr
    out = os.fsencode(tmp_path) + b"/" + target
    assert os.path.isfile(out + "/uploads/古い.txt".encode())
    (uploads / "古い.txt").unlink()
    (uploads / "新しい 🎉.txt").write_bytes(b"new")
    second = subprocess.run([*command, "--delete"], env=env, cwd=tmp_path, capture_output=True, check=False)
    assert second.returncode == 0, second.stderr
    assert b"Traceback" not in second.stderr
    assert not os.path.exists(out + "/uploads/古い.txt".encode())
    assert Path(os.fsdecode(out + "/uploads/新しい 🎉.txt".encode())).read_bytes() == b"new"
    assert not any(name.startswith(b"out-caf") and name != target for name in os.listdir(os.fsencode(tmp_path)))


@pytest.mark.parametrize(("kind", "expected"), [
    ("latin1", b"\\u65e5\\u672c \\U0001f389 caf\xe9 raw:\xe9\n"),
    ("C-utf8-mode-off", b"\\u65e5\\u672c \\U0001f389 caf\\xe9 raw:\xe9\n"),
    ("C", "日本 🎉 café raw:".encode() + b"\xe9\n"),
    ("latin1 PYTHONIOENCODING=ascii:strict", b"\\u65e5\\u672c \\U0001f389 caf\\xe9 raw:\xe9\n"),
])
def test_output_never_fails_on_a_name(tmp_path: Path, kind: str, expected: bytes) -> None:
    """What synco prints (progress, summary, errors) to a terminal or pipe: the locale's encoding, escapes
    for what it cannot show, and the raw bytes of a local name that is not UTF-8 as they are. Under C with
    Python's own UTF-8 mode (it is on there unless PYTHONUTF8=0), output stays UTF-8 as Python has it."""
    kind, _, setting = kind.partition(" ")
    env = _env(kind, tmp_path)
    if setting:
        env.update([setting.split("=", 1)])
    script = ("import os, sys; sys.argv = ['synco']; from synco_core.localenames import configure_output, "
              "reexec_in_utf8_mode; reexec_in_utf8_mode(); configure_output(); "
              "text = '\\u65e5\\u672c \\U0001f389 caf\\xe9'; name = os.fsdecode(b'raw:\\xe9'); "
              "print(text, name); print(text, name, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected
    assert result.stderr == expected


@pytest.mark.parametrize("kind", LOCALES)
def test_worker_processes_write_names_as_utf8_too(tmp_path: Path, kind: str) -> None:
    """The receive workers (files taken out of packs) and serve's walk worker run in UTF-8 mode as their
    parent does, whatever the locale their environment names: they write and walk the same names."""
    env = _env(kind, tmp_path)
    probe = "import sys; print(sys.flags.utf8_mode, sys.getfilesystemencoding())"
    for command in (worker_command(), _command()[0]):
        assert command[-2:-1] == ["-m"]
        result = subprocess.run([*command[:-2], "-c", probe], env=env, capture_output=True, text=True, check=False)
        assert result.stdout.split() == ["1", "utf-8"], (command, result.stderr)


@pytest.mark.parametrize("kind", LOCALES)
def test_pull_and_install_into_a_project_named_in_latin1(tmp_path: Path, kind: str) -> None:
    """pull --install: the server's non-Latin names land in the laptop's project, whose own folder is named
    in ISO-8859-1 bytes (not representable in UTF-8), with the server's bytes; the database is swapped in."""
    project = make_project(tmp_path / "app", public_files=2)
    uploads = project.root / "public" / "uploads"
    (uploads / "日本 語").mkdir()
    (uploads / "日本 語" / "ファイル 🎉.txt").write_bytes(b"jp")
    (uploads / "café ü.bin").write_bytes(b"cafe")
    laptop = make_project(Path(os.fsdecode(os.fsencode(tmp_path) + b"/laptop-caf\xe9")), public_files=0, rows=3)
    env = _env(kind, tmp_path)
    command = [sys.executable, "-c", "from synco_core.cli.main import main; main()",
               "pull", f"docker://web-1{project.root}", "--target", "out", "--install", "--yes"]
    result = subprocess.run(command, env=env, cwd=laptop.root, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    assert tree_digest(laptop.root / "public" / "uploads") == tree_digest(uploads)
    assert (laptop.root / "public" / "uploads" / "日本 語" / "ファイル 🎉.txt").read_bytes() == b"jp"
    assert row_count(laptop.root / "db.sqlite") == project.rows


def test_an_interpreter_that_cannot_be_run_again_is_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(path: str, argv: list[str]) -> None:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(localenames, "needs_utf8_mode", lambda: True)
    monkeypatch.setattr(localenames.os, "execv", refuse)
    localenames.reexec_in_utf8_mode()


@pytest.mark.parametrize("kind", LOCALES)
def test_serve_on_a_host_without_a_utf8_locale_then_receive_there(tmp_path: Path, kind: str) -> None:
    """synco serve run by hand where the locale is ISO-8859-1 (or C, UTF-8 mode off): its UTF-8 names are
    published with their own bytes (not read as latin-1 and sent as 'æ\\x97¥æ\\x9c¬'), its own name that is
    not UTF-8 is skipped with a warning as documented; receive there too gets the server's bytes."""
    project = make_project(tmp_path / "app", public_files=2)
    uploads = project.root / "public" / "uploads"
    (uploads / "日本 語").mkdir()
    (uploads / "日本 語" / "ファイル 🎉.txt").write_bytes(b"jp")
    (uploads / "café.txt").write_bytes(b"utf8")
    latin1_name = os.fsencode(uploads) + b"/latin-caf\xe9.txt"
    Path(os.fsdecode(latin1_name)).write_bytes(b"latin1")
    env = _env(kind, tmp_path)
    synco = [sys.executable, "-c", "from synco_core.cli.main import main; main()"]
    served = subprocess.run([*synco, "serve", "--keep"], env=env, cwd=project.root, capture_output=True, check=False)
    assert served.returncode == 0, served.stderr
    assert b"Traceback" not in served.stderr
    assert b"latin-caf" in served.stderr and b"not valid UTF-8" in served.stderr
    words = served.stdout.decode().split()
    session, key = words[words.index("receive") + 1], words[words.index("receive") + 2]
    with static_server(project.root / "public") as (url, _):
        received = subprocess.run([*synco, "receive", session, key, "--base-url", url, "--target", "out"],
                                  env=env, cwd=tmp_path, capture_output=True, check=False)
    assert received.returncode == 0, received.stderr
    expected = tree_digest(uploads)
    del expected["latin-caf\udce9.txt"]
    assert tree_digest(tmp_path / "out" / "uploads") == expected
    assert (tmp_path / "out" / "uploads" / "日本 語" / "ファイル 🎉.txt").read_bytes() == b"jp"


def test_a_passphrase_typed_in_latin1_is_the_same_passphrase(tmp_path: Path) -> None:
    """UTF-8 mode reads the command line and the environment as UTF-8, but a passphrase typed under
    ISO-8859-1 holds latin-1 bytes: 'passé' must still be 'passé' (serve on one laptop, receive anywhere)."""
    project = make_project(tmp_path / "app", public_files=1)
    env = _env("latin1", tmp_path)
    synco = [sys.executable, "-c", "from synco_core.cli.main import main; main()"]
    # Every artifact costs one scrypt derivation on each side; the passphrase's bytes, not its cost, are tested
    # (receive reads the work factor from each stanza).
    serve = [sys.executable, "-c", "import synco_core.serve.keys as keys; keys.SCRYPT_WORK_FACTOR = 10; "
             "from synco_core.cli.main import main; main()"]
    served = subprocess.run([*serve, "serve", "--keep", "--password", b"pass\xe9 \xfc"], env=env, cwd=project.root,
                            capture_output=True, check=False)
    assert served.returncode == 0, served.stderr
    words = served.stdout.decode("latin-1").split()
    session = next(word for word in words if word.startswith("synco-"))
    with static_server(project.root / "public") as (url, _):
        in_utf8 = subprocess.run([*synco, "receive", session, "passé ü", "--base-url", url, "--target", "a"],
                                 env=dict(os.environ), cwd=tmp_path, capture_output=True, check=False)
        assert in_utf8.returncode == 0, in_utf8.stderr
        latin1_env = {**{key.encode(): value.encode() for key, value in env.items()}, b"SYNCO_KEY": b"pass\xe9 \xfc"}
        in_latin1 = subprocess.run([*synco, "receive", session, "--base-url", url, "--target", "b"],
                                   env=latin1_env, cwd=tmp_path, capture_output=True, check=False)
        assert in_latin1.returncode == 0, in_latin1.stderr
    assert tree_digest(tmp_path / "a" / "uploads") == tree_digest(tmp_path / "b" / "uploads") != {}


def _in_a_terminal(command: list[str], env: dict[str, str], cwd: Path, typed: bytes, after: bytes) -> tuple[int, bytes]:
    """Run ``command`` with a pseudo-terminal as its controlling terminal and standard streams; ``typed``
    is written once ``after`` has been shown (a hidden prompt flushes what was typed before it)."""
    import fcntl
    import pty
    import termios

    master, slave = pty.openpty()

    def take_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(command, env=env, cwd=cwd, stdin=slave, stdout=slave, stderr=slave,
                               start_new_session=True, preexec_fn=take_terminal)
    os.close(slave)
    shown = b""
    try:
        while after not in shown:
            shown += os.read(master, 4096)
        os.write(master, typed)
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every end of the terminal is closed
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(master)
    return process.wait(timeout=60), shown


def test_a_passphrase_typed_at_the_hidden_prompt_under_latin1(tmp_path: Path) -> None:
    """decrypt's hidden prompt in an ISO-8859-1 terminal: 'passé ü' typed there is that passphrase (getpass
    in UTF-8 mode would read the terminal as UTF-8 and fail on its bytes)."""
    (tmp_path / "secret.age").write_bytes(age.encrypt_bytes(b"plain", [age.ScryptRecipient("passé ü", 10)]))
    env = _env("latin1", tmp_path)
    synco = [sys.executable, "-c", "from synco_core.cli.main import main; main()"]
    status, shown = _in_a_terminal([*synco, "decrypt", "secret.age", "-o", "plain.txt"], env, tmp_path,
                                   b"pass\xe9 \xfc\n", b"passphrase")
    assert status == 0, shown
    assert (tmp_path / "plain.txt").read_bytes() == b"plain"
    assert b"\xe9" not in shown, "hidden: not echoed"
