"""The main job on the built-in example, no database server needed: serve -> receive -> install.

Copies ``examples/laravel-app`` twice into a temporary folder, one as "the server" and one as "the
laptop" (whose database and uploads are wiped first), then runs, printing each step:

1. ``synco detect`` on the server copy;
2. ``synco serve --listen 127.0.0.1:<port>`` there (publishes an encrypted session);
3. ``synco receive SESSION KEY --base-url ...`` in the laptop copy (downloads, decrypts, verifies);
4. ``synco install --yes`` in the laptop copy (database replaced atomically, files put in place);
5. ``synco receive`` again: nothing changed, so nothing but the meta and the indexes is downloaded;
6. stops serve, which removes the session it published.

Run it with ``nox -s demo``, or ``python examples/demo.py`` where synco and its plugins are installed.
``--keep-dir`` leaves the temporary folder for a look around.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent / "laravel-app"
SYNCO = [sys.executable, "-m", "synco_core"]


def step(title: str) -> None:
    print(f"\n\033[1m==> {title}\033[0m", flush=True)


def run(args: list[str], cwd: Path) -> None:
    shown = " ".join(a if not a.startswith("AGE-SECRET-KEY-") else a[:22] + "..." for a in args)
    print(f"$ synco {shown}", flush=True)
    subprocess.run([*SYNCO, *args], cwd=cwd, check=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wipe_laptop(laptop: Path) -> None:
    """The laptop starts with an empty database and no uploads, as after a fresh checkout."""
    db = laptop / "database" / "database.sqlite"
    conn = sqlite3.connect(db)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    for table in tables:
        if not table.startswith("sqlite_"):
            conn.execute(f'DELETE FROM "{table}"')
    conn.commit()
    conn.close()
    for folder in ("storage/app/public", "storage/app/private"):
        shutil.rmtree(laptop / folder, ignore_errors=True)
        (laptop / folder).mkdir(parents=True)


def show_users(db: Path) -> None:
    conn = sqlite3.connect(db)
    for row in conn.execute("SELECT id, name, email FROM users ORDER BY id LIMIT 3"):
        print(f"    user {row[0]}: {row[1]} <{row[2]}>")
    print(f"    sessions rows: {conn.execute('SELECT COUNT(*) FROM sessions').fetchone()[0]}")
    conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-dir", action="store_true", help="leave the temporary folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="synco-demo-"))
    server_dir, laptop = work / "server", work / "laptop"
    shutil.copytree(EXAMPLE, server_dir, symlinks=True)
    shutil.copytree(EXAMPLE, laptop, symlinks=True)
    wipe_laptop(laptop)
    serve: subprocess.Popen[str] | None = None
    try:
        step("What synco sees in the server copy")
        run(["detect", "."], cwd=server_dir)

        step("Server: publish an encrypted session (synco serve)")
        port = free_port()
        serve = subprocess.Popen(
            [*SYNCO, "serve", "--listen", f"127.0.0.1:{port}", "--ttl", "10"],
            cwd=server_dir, stdout=subprocess.PIPE, text=True,
        )
        assert serve.stdout is not None
        command = None
        deadline = time.monotonic() + 60
        while command is None and time.monotonic() < deadline:
            line = serve.stdout.readline()
            if not line:
                break
            match = re.search(r"synco receive (\S+) (\S+) --base-url (\S+)", line)
            if match:
                command = match.groups()
        if command is None:
            print("serve did not print a receive command", file=sys.stderr)
            return 1
        session, key, base_url = command
        print(f"    session {session} at {base_url} (key printed by serve, kept out of this log)")

        step("Laptop: download, decrypt and verify (synco receive)")
        print("    before:")
        show_users(laptop / "database" / "database.sqlite")
        run(["receive", session, key, "--base-url", base_url, "--all", "--target", "dump"], cwd=laptop)

        step("Laptop: install into the local instance (synco install)")
        run(["install", "dump", "--yes"], cwd=laptop)
        print("    after (sanitised at the source: no real e-mail address left the server):")
        show_users(laptop / "database" / "database.sqlite")
        files = sorted(str(p.relative_to(laptop)) for p in (laptop / "storage/app").rglob("*") if p.is_file())
        print("    files: " + ", ".join(f for f in files if ".synco-previous" not in f))

        step("Laptop: receive again (only what changed is downloaded: nothing)")
        run(["receive", session, key, "--base-url", base_url, "--all", "--target", "dump"], cwd=laptop)

        step("Server: stop serve; it removes what it published")
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
        left = list((server_dir / "public").glob("synco-*"))
        print(f"    session folders left in the web root: {len(left)}")
        print("\nDone: the laptop copy now holds the server's content." + (f" ({work})" if args.keep_dir else ""))
        return 0 if not left else 1
    finally:
        if serve is not None and serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                serve.kill()
        if not args.keep_dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
