"""Public files over loopback and over 20 ms of latency: synco (serve --listen + receive) against rsync, curl.

N files of 20-200 KiB (default 2,000; ``--files 10000`` is the size of issue 4). Two cases:

- first sync into an empty folder;
- re-sync after 1% of the files changed and 1% were added (a new session is published for every run,
  as ``serve`` would be started again; publishing is not timed, its time is printed separately).

References, each doing the same work: ``rsync -a`` over ssh (a private sshd on 127.0.0.1 with throw-away
keys, as in the issue) and from a local rsync daemon over plain TCP, ``curl`` with one connection, and
``curl --parallel --parallel-max 16``; the curl runs read from the same built-in server as synco.

The latency variant of the issue (20 ms round trip) runs through a delaying TCP proxy (``--latency-ms``,
0 skips it): this kernel has no ``tc netem``, so network namespaces could not add the delay.

``--serve-helper`` and ``--proxy-helper`` are used internally: the first runs ``synco serve`` with a small
framework plugin for the generated project, the second is the delaying proxy.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from common import DATA_DIR, Measurement, have, measure, print_table

from synco_core import hookimpl
from synco_core.types import FileSet, Framework

MARKER = "bench-app.txt"


class BenchPlugin:
    """Detects the generated project: one public set ``files`` under ``web/files``, no database."""

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        if not (project_dir / MARKER).exists():
            return None
        return Framework(name="Bench", plugin="bench", project_dir=project_dir, web_root=project_dir / "web")

    @hookimpl
    def list_file_sets(self, framework: Framework, options: Any) -> list[FileSet] | None:
        if framework.plugin != "bench":
            return None
        return [FileSet(name="files", kind="public", root=framework.project_dir / "web" / "files",
                        url_prefix="files/", relative_base_path="web/files")]


def serve_helper(argv: list[str]) -> None:
    from synco_core.cli.main import cli
    from synco_core.plugins import build_plugin_manager, set_plugin_manager

    manager = build_plugin_manager(load_entrypoints=False)
    manager.register(BenchPlugin(), "bench")
    set_plugin_manager(manager)
    cli(["serve", *argv], prog_name="synco")


def generate(project: Path, files: int, seed: int = 7) -> list[Path]:
    rng = random.Random(seed)
    root = project / "web" / "files"
    if project.exists():
        shutil.rmtree(project)
    root.mkdir(parents=True)
    (project / MARKER).write_text("bench\n")
    paths = []
    for number in range(files):
        path = root / f"d{number % 50:02d}" / f"f{number:06d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(20, 200) * 1024))
        paths.append(path)
    return paths


def mutate(paths: list[Path], rng: random.Random, round_number: int) -> None:
    """Change 1% of the files and add 1% new ones."""
    count = max(1, len(paths) // 100)
    for path in rng.sample(paths, count):
        path.write_bytes(rng.randbytes(rng.randint(20, 200) * 1024))
    root = paths[0].parent.parent
    for number in range(count):
        path = root / "new" / f"r{round_number}-{number:05d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(20, 200) * 1024))
        paths.append(path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Serve:
    """A running ``synco serve --listen`` for the project; restart() publishes a fresh session."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None
        self.session = self.key = ""
        self.publish_seconds: list[float] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def restart(self) -> None:
        self.stop()
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-helper", "--listen", f"127.0.0.1:{self.port}", "--ttl", "120"],
            cwd=self.project, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            match = re.search(r"synco receive (\S+) (\S+)", line)
            if match:
                self.session, self.key = match.groups()
                break
        else:
            raise RuntimeError("serve did not print a receive command")
        self.publish_seconds.append(time.perf_counter() - started)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self.process = None


class RsyncDaemon:
    def __init__(self, root: Path, work: Path) -> None:
        self.port = free_port()
        config = work / "rsyncd.conf"
        config.write_text(f"use chroot = no\n[files]\n  path = {root}\n  read only = yes\n")
        self.process = subprocess.Popen(["rsync", "--daemon", "--no-detach", f"--port={self.port}",
                                         f"--config={config}", "--address=127.0.0.1"])
        time.sleep(0.5)

    @property
    def url(self) -> str:
        return f"rsync://127.0.0.1:{self.port}/files/"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


class SshServer:
    """A private sshd on 127.0.0.1 with throw-away keys, so rsync can run over ssh as in the issue."""

    def __init__(self, work: Path) -> None:
        base = work / "sshd"
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        for name in ("host", "client"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / name)], check=True)
        shutil.copy(base / "client.pub", base / "authorized_keys")
        self.port = free_port()
        config = base / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {base / 'host'}\nPidFile {base / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {base / 'authorized_keys'}\nStrictModes no\nPasswordAuthentication no\n"
            "PermitRootLogin yes\nUsePAM no\nLogLevel ERROR\n"
        )
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        self.process = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ssh = (f"ssh -p {self.port} -i {base / 'client'} -o BatchMode=yes -o StrictHostKeyChecking=no "
                    "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")
        self.user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            login = subprocess.run([*self.ssh.split(), f"{self.user}@127.0.0.1", "true"], capture_output=True)
            if login.returncode == 0:
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("sshd did not accept a login")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait()


async def delaying_proxy(listen_port: int, target_port: int, rtt_ms: float) -> None:
    """Forward 127.0.0.1:listen_port to target_port, delivering every chunk rtt/2 after it arrived.

    Chunks are queued with their due time, so the delay adds latency without capping throughput (data
    in flight keeps flowing), as a long link does. ``tc netem`` would be the real thing; this kernel has
    no netem module, and changing the shared loopback would slow everyone else's tests down too.
    """
    delay = rtt_ms / 2000

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(maxsize=256)
        loop = asyncio.get_running_loop()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not chunk:
                    writer.close()
                    return
                writer.write(chunk)
                await writer.drain()

        sender = asyncio.create_task(deliver())
        try:
            while chunk := await reader.read(256 * 1024):
                await queue.put((loop.time() + delay, chunk))
        except (ConnectionError, OSError):
            pass
        await queue.put((loop.time() + delay, b""))
        with contextlib.suppress(ConnectionError, OSError):
            await sender

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pump(client_reader, server_writer), pump(server_reader, client_writer),
                             return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port, backlog=256)
    async with server:
        await server.serve_forever()


def start_proxy(listen_port: int, target_port: int, rtt_ms: float) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, __file__, "--proxy-helper", str(listen_port), str(target_port),
                                str(rtt_ms)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", listen_port), timeout=0.5):
            return process
        time.sleep(0.05)
    process.terminate()
    raise RuntimeError("the delaying proxy did not start")


def curl_config(paths: list[Path], root: Path, base_url: str, out_dir: Path, config: Path) -> None:
    lines = []
    for path in paths:
        relative = path.relative_to(root).as_posix()
        lines.append(f'url = "{base_url}files/{relative}"\noutput = "{out_dir / relative}"\n')
    config.write_text("".join(lines))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-helper":
        serve_helper(sys.argv[2:])
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--proxy-helper":
        asyncio.run(delaying_proxy(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000, help="number of files (default 2000; issue: 10000)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=8, help="synco receive --jobs")
    parser.add_argument("--dir", type=Path, default=DATA_DIR / "transfer")
    parser.add_argument("--latency-ms", type=float, default=20.0,
                        help="round trip of the latency variant, through a delaying proxy (0 skips it)")
    args = parser.parse_args()
    for tool in ("rsync", "curl"):
        if not have(tool):
            print(f"{tool} is not installed", file=sys.stderr)
            return 1
    work = args.dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    trash = work / "trash"
    # Left over from an interrupted run; deleted before anything is timed (see discard()).
    shutil.rmtree(trash, ignore_errors=True)
    trash.mkdir()
    discarded = iter(range(1_000_000))

    def discard(path: Path) -> None:
        """Move a destination aside; the whole pile is deleted only after the last timed run.

        Deleting 10,000 files right before a first sync made that sync measure the file system instead of
        the tool: ext4 without a journal (as here) skips inodes freed in the last 1-6 minutes when it
        creates a file, reading the inode table to find them, so every create after a big delete scans
        past thousands of them. The same tool took 4 s or 11 s depending on what had been deleted before.
        """
        if path.exists():
            path.rename(trash / str(next(discarded)))

    project = work / "project"
    print(f"generating {args.files} files ...", file=sys.stderr)
    discard(project)
    paths = generate(project, args.files)
    os.sync()
    root = project / "web" / "files"
    total_mb = sum(p.stat().st_size for p in paths) / 1e6
    print(f"{args.files} files, {total_mb:.0f} MB", file=sys.stderr)
    # The console script may be a version-manager shim (pyenv) that costs more than the work; run the
    # entry point with this interpreter instead, as an installed script does.
    synco = [sys.executable, "-c", "from synco_core.cli.main import main; main()"]
    serve = Serve(project)
    rsync_daemon = RsyncDaemon(root, work)
    rsyncs = [(["rsync", "-a", rsync_daemon.url], "rsync -a (daemon, TCP)")]
    sshd: SshServer | None = None
    if have("ssh") and (shutil.which("sshd") or Path("/usr/sbin/sshd").exists()):
        try:
            sshd = SshServer(work)
            rsyncs.insert(0, (["rsync", "-a", "-e", sshd.ssh, f"{sshd.user}@127.0.0.1:{root}/"], "rsync -a (ssh)"))
        except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
            print(f"rsync over ssh left out: {exc}", file=sys.stderr)
    curl = ["curl", "--silent", "--no-progress-meter", "--fail", "--create-dirs"]

    def run_suite(title: str, base_url: str, rsync_variants: list[tuple[list[str], str]],
                  curl_single: bool) -> list[tuple[str, Measurement, Measurement]]:
        """First sync and re-sync of synco against each reference; every tool keeps its own destination."""
        tag = title.replace(" ", "-")
        dst_synco, dst_rsync, dst_curl = work / f"dst-synco-{tag}", work / f"dst-rsync-{tag}", work / f"dst-curl-{tag}"
        config = work / f"curl-{tag}.cfg"

        def clean(path: Path) -> None:
            discard(path)
            path.mkdir(parents=True)
            # The previous run's data still being written back would slow down whichever tool runs next.
            os.sync()

        def receive_argv() -> list[str]:
            return [*synco, "receive", serve.session, serve.key, "--base-url", base_url, "--target", str(dst_synco),
                    "--all", "--jobs", str(args.jobs)]

        rows: list[tuple[str, Measurement, Measurement]] = []
        serve.restart()
        # Run as a subprocess so the peak memory is that of receive alone.
        first_synco = measure(f"synco receive (first, {title})", receive_argv(), args.repeat,
                              setup=lambda: clean(dst_synco))
        first_rsyncs = [measure(f"{label} (first, {title})", [*argv, f"{dst_rsync}/"], args.repeat,
                                setup=lambda: clean(dst_rsync)) for argv, label in rsync_variants]
        curl_config(paths, root, base_url, dst_curl, config)
        rows += [(f"first sync, {title}", first_synco, reference) for reference in first_rsyncs]
        if curl_single:
            first_curl = measure(f"curl, 1 connection (first, {title})", [*curl, "-K", str(config)], args.repeat,
                                 setup=lambda: clean(dst_curl))
            rows.append((f"first sync, {title}", first_synco, first_curl))
        first_parallel = measure(f"curl --parallel 16 (first, {title})",
                                 [*curl, "--parallel", "--parallel-max", "16", "-K", str(config)], args.repeat,
                                 setup=lambda: clean(dst_curl))
        rows.append((f"first sync, {title}", first_synco, first_parallel))

        rng = random.Random(11)
        # Every rsync variant re-syncs its own copy, so each sees exactly the change of the round.
        rsync_dsts = [work / f"dst-rsync-{tag}-{number}" for number in range(len(rsync_variants))]
        for dst in rsync_dsts:
            discard(dst)
            shutil.copytree(dst_rsync, dst, symlinks=True, copy_function=shutil.copy2)
        resync_synco = Measurement(f"synco receive (re-sync, {title})")
        resync_rsyncs = [Measurement(f"{label} (re-sync, {title})") for _argv, label in rsync_variants]
        for round_number in range(args.repeat):
            mutate(paths, rng, round_number + (100 if "latency" in title else 0))
            os.sync()
            serve.restart()
            parts = [(resync_synco, measure(resync_synco.label, receive_argv(), 1))]
            for (argv, _label), dst, total in zip(rsync_variants, rsync_dsts, resync_rsyncs, strict=True):
                parts.append((total, measure(total.label, [*argv, f"{dst}/"], 1)))
            for total, part in parts:
                total.seconds += part.seconds
                total.peak_rss_mb = max(total.peak_rss_mb, part.peak_rss_mb)
        rows += [(f"re-sync 1%+1%, {title}", resync_synco, total) for total in resync_rsyncs]
        same = subprocess.run(["diff", "-r", "-q", str(root), str(dst_synco / "files")], capture_output=True)
        if same.returncode != 0:
            print("WARNING: synco's copy differs from the source:\n" + same.stdout.decode()[:2000], file=sys.stderr)
        for path in (dst_synco, dst_rsync, dst_curl, *rsync_dsts):
            discard(path)
        return rows

    rows: list[tuple[str, Measurement, Measurement]] = []
    proxies: list[subprocess.Popen[bytes]] = []
    try:
        rows += run_suite("loopback", serve.url, rsyncs, curl_single=True)
        if args.latency_ms:
            # The same over a proxy that holds every chunk back by half the round trip in each direction.
            http_proxy = free_port()
            proxies.append(start_proxy(http_proxy, serve.port, args.latency_ms))
            latency_rsyncs = []
            if sshd is not None:
                ssh_proxy = free_port()
                proxies.append(start_proxy(ssh_proxy, sshd.port, args.latency_ms))
                ssh = sshd.ssh.replace(f"-p {sshd.port}", f"-p {ssh_proxy}")
                latency_rsyncs.append((["rsync", "-a", "-e", ssh, f"{sshd.user}@127.0.0.1:{root}/"], "rsync -a (ssh)"))
            rows += run_suite(f"{args.latency_ms:g} ms RTT", f"http://127.0.0.1:{http_proxy}/", latency_rsyncs,
                              curl_single=args.files <= 2000)
    finally:
        serve.stop()
        rsync_daemon.stop()
        if sshd is not None:
            sshd.stop()
        for proxy in proxies:
            proxy.terminate()
            proxy.wait()
        # Deleted at exit: after the table is printed (deleting tens of thousands of files takes a while),
        # and after a failed run too.
        atexit.register(shutil.rmtree, trash, ignore_errors=True)
    print_table(f"transfer: {args.files} files, {total_mb:.0f} MB (receive --jobs {args.jobs})", rows)
    publish = sorted(serve.publish_seconds)
    print(f"publishing a session (serve start to ready, not timed above): median {publish[len(publish) // 2]:.2f} s")
    if not args.latency_ms:
        print("latency variant skipped (--latency-ms 0)")
    elif args.files > 2000:
        print("curl with one connection left out under latency: it costs a round trip per file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
