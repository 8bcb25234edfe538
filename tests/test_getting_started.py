"""docs/getting-started.md works as written, through pipes (no terminal), and prints what it shows.

"A first real transfer" is run on the Laravel example of the repository: its server half in one copy whose
``public/`` a real nginx serves (``APP_URL`` pointing there), its laptop half in another copy. The shell
blocks are taken from the page and run by ``bash`` as they stand (only the server's path and the receive
command serve really printed are put in); the ``text`` blocks are compared with what serve and receive
printed, with the session id, key, URL, sizes and times made alike.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from synco_core.testing.services import nginx

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "getting-started.md"
EXAMPLE = ROOT / "examples" / "laravel-app"


def section_blocks(heading: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block in the guide's section ``heading``, in order."""
    text = GUIDE.read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(heading)}$(?P<body>.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no section {heading!r} in {GUIDE.name}"
    return [(m["lang"], m["code"]) for m in re.finditer(r"^```(?P<lang>\w+)\n(?P<code>.*?)^```$", match["body"],
                                                         re.M | re.S)]


def alike(text: str) -> list[str]:
    """``text``'s lines with what differs from run to run replaced by placeholders, blank lines dropped."""
    text = re.sub(r"synco-[0-9a-f]{24}", "synco-<id>", text)
    text = re.sub(r"AGE-SECRET-KEY-1[0-9A-Z.]+", "AGE-SECRET-KEY-<key>", text)
    text = re.sub(r"https?://[^\s/]+/", "<url>", text)
    text = re.sub(r"\b\d+(\.\d+)? (B|KB|MB|GB)\b", "<size>", text)
    text = re.sub(r"\b\d+\.\d s\b", "<time> s", text)
    text = re.sub(r"\bends at \d{2}:\d{2}\b", "ends at <clock>", text)
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def wipe(laptop: Path) -> None:
    """The laptop's copy starts without data: an empty database and no uploads (as after a checkout)."""
    with sqlite3.connect(laptop / "database" / "database.sqlite") as conn:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
            if not table.startswith("sqlite_"):
                conn.execute(f'DELETE FROM "{table}"')
    conn.close()
    for folder in ("storage/app/public", "storage/app/private"):
        shutil.rmtree(laptop / folder)
        (laptop / folder).mkdir()


def test_first_real_transfer_as_written_through_pipes(tmp_path: Path) -> None:
    server_sh, serve_out, laptop_sh, receive_out = section_blocks("## A first real transfer")
    assert [server_sh[0], serve_out[0], laptop_sh[0], receive_out[0]] == ["sh", "text", "sh", "text"]
    shop, laptop = tmp_path / "shop", tmp_path / "laptop"
    shutil.copytree(EXAMPLE, shop, symlinks=True)
    shutil.copytree(EXAMPLE, laptop, symlinks=True)
    wipe(laptop)
    synco = Path(sys.executable).parent / "synco"
    assert synco.is_file(), f"no synco script beside {sys.executable}"
    env = {**os.environ, "PATH": f"{synco.parent}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "200"}
    with nginx(shop / "public", tmp_path / "nginx") as server:
        dotenv = shop / ".env"
        dotenv.write_text(re.sub(r"^APP_URL=.*$", f"APP_URL={server.url.rstrip('/')}", dotenv.read_text(), flags=re.M))
        # The server's half, as written (in the copy instead of /var/www/shop); serve stays until Ctrl-C.
        serving = subprocess.Popen(["bash", "-ec", server_sh[1].replace("/var/www/shop", str(shop))], env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, start_new_session=True)
        try:
            assert serving.stdout is not None
            printed: list[str] = []
            while not printed or not printed[-1].startswith("Press Ctrl-C"):
                line = serving.stdout.readline()
                assert line, f"serve ended early: {''.join(printed)}{serving.communicate()}"
                printed.append(line)
            ready = "".join(printed[next(i for i, line in enumerate(printed) if line.startswith("READY")):])
            # The note for an address that names the server itself is the one line a real site does not get.
            shown = [line for line in alike(ready) if not line.startswith("Note: <url> names this machine")]
            assert shown == alike(serve_out[1]), ready
            command = next(line.strip() for line in printed if line.strip().startswith("synco receive "))
            assert f"--base-url {server.url}" in command

            # The laptop's half, as written, with the command serve printed in place of the example one.
            sample = next(line for line in laptop_sh[1].splitlines() if line.startswith("synco receive "))
            laptop_block = laptop_sh[1].replace(sample, command)
            done = subprocess.run(["bash", "-ec", laptop_block], cwd=laptop, env=env, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=180)
            assert done.returncode == 0, done.stdout + done.stderr
            assert alike(done.stdout) == alike(receive_out[1]), done.stdout
        finally:
            os.killpg(serving.pid, signal.SIGINT)
            out, err = serving.communicate(timeout=30)
        assert serving.returncode == 0, out + err
        assert "Stopped by SIGINT; cleaning up." in out and not list((shop / "public").glob("synco-*"))
    with sqlite3.connect(laptop / "database" / "database.sqlite") as conn:
        emails = [row[0] for row in conn.execute("SELECT email FROM users ORDER BY id")]
    conn.close()
    assert emails and all(email.endswith("@example.invalid") for email in emails)
    public = {p.relative_to(shop / "storage/app/public").as_posix() for p in (shop / "storage/app/public").rglob("*")
              if p.is_file() and not p.name.startswith(".")}
    assert {p.relative_to(laptop / "storage/app/public").as_posix()
            for p in (laptop / "storage/app/public").rglob("*") if p.is_file()} >= public
