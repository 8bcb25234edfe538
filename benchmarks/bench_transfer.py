"""Public files over loopback and over 20 ms of latency: synco (serve --listen + receive) against rsync, curl.

N files of 20-200 KiB (default 2,000; ``--files 10000`` is the size of issue 4). Two cases:

- first sync into an empty folder;
- re-sync after 1% of the files changed and 1% were added (a new session is published for every run,
  as ``serve`` would be started again; publishing is not timed, its time is printed separately).

References, each doing the same work: ``rsync -a`` over ssh (a private sshd on 127.0.0.1 with throw-away
keys, as in the issue) and from a local rsync daemon over plain TCP, ``curl`` with one connection,
``wget -i`` (one keep-alive connection; left out with a note where wget is not installed) and
``curl --parallel --parallel-max 16``; curl and wget read from the same built-in server as synco.

The latency variant of the issue (``--latency-ms``, default 20 ms round trip, 0 skips it) runs the clients
(receive, rsync, curl, wget) in a network namespace of their own, joined to the servers' by a veth pair,
when ``ip netns`` works (root). The delay comes from ``tc netem`` on the veth where the kernel has it;
otherwise (as on the machine this was written on: no netem module) a delaying TCP proxy on the servers'
end of the veth adds it. Without namespaces everything stays on 127.0.0.1, through the same proxy.

``--case small-files`` is issue 16's case: many files of 200-500 bytes in one public set (``--size small``
20,000, ``medium`` 100,000, ``full`` 300,000), generated deterministically, served by a real nginx on
127.0.0.1 (``synco serve --keep`` writes the session into nginx's root). synco's time is that of the serve
that indexes the set plus the receive for a first sync and for a re-sync after 1 % of the files changed
(a new session), and the receive alone for a re-sync with nothing changed (the same session); the
reference is ``rsync -a`` over ssh, which scans the source itself each time. Both copies are compared
with the source after every round. Loopback and the latency variant, as above.

``--case serve-hash`` measures what content hashes cost serve on the ``--files`` set (issue 14: a re-serve
of unchanged files, with the hash cache, at most 1.2 times a serve that hashes nothing).

``--case memory`` generates ``--size`` many small files (``small`` 50,000, ``full`` 1,000,000) and reports
the peak memory of ``synco serve`` and of a first ``synco receive`` through nginx (issue 16's goal at a
million files: serve under 100 MB, receive under 150 MB).

``--serve-helper`` and ``--proxy-helper`` are used internally: the first runs ``synco serve`` with a small
framework plugin for the generated project, the second is the delaying proxy.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).parent))
from common import (
    DATA_DIR,
    Case,
    Measurement,
    have,
    machine_cpu_seconds,
    measure,
    measure_interleaved,
    print_table,
    run_capture,
    run_command,
)

from synco_core import hookimpl
from synco_core.values import FileSet, Framework

if TYPE_CHECKING:
    import asyncio

# asyncio and synco_core.testing (which imports pytest) are imported where they are used: the serve helper
# is timed as `synco serve`, and importing them cost it a quarter of a second it does not have.

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


#: Set (to anything) in the environment of a ``--serve-helper``: serve lists files above the pack threshold
#: without hashing them, the reference of ``--case serve-hash``.
NO_HASH_ENV = "SYNCO_BENCH_NO_HASH"


def serve_helper(argv: list[str]) -> None:
    from synco_core.cli.main import cli
    from synco_core.plugins import build_plugin_manager, set_plugin_manager

    manager = build_plugin_manager(load_entrypoints=False)
    manager.register(BenchPlugin(), "bench")
    set_plugin_manager(manager)
    if os.environ.get(NO_HASH_ENV):
        from synco_core.serve import runner

        build = runner.build_session

        def without_hashes(framework: Any, folder: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
            options.hash_large = False
            return build(framework, folder, options, *args, **kwargs)

        runner.build_session = without_hashes  # type: ignore[assignment]
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
        #: The address serve listens on (the veth's, for the netem variant).
        self.host = "127.0.0.1"
        self.process: subprocess.Popen[str] | None = None
        self.session = self.key = ""
        self.publish_seconds: list[float] = []

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def restart(self) -> None:
        self.stop()
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-helper", "--listen", f"{self.host}:{self.port}", "--ttl", "120"],
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

    def __init__(self, work: Path, extra_address: str | None = None) -> None:
        base = work / "sshd"
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        for name in ("host", "client"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / name)], check=True)
        shutil.copy(base / "client.pub", base / "authorized_keys")
        self.port = free_port()
        config = base / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\n"
            + (f"ListenAddress {extra_address}\n" if extra_address else "")
            + f"HostKey {base / 'host'}\nPidFile {base / 'sshd.pid'}\n"
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


class ClientNamespace:
    """A network namespace for the clients, joined to this one by a veth pair; needs root and ``ip``.

    The servers stay in this namespace; the clients reach them at :attr:`server_ip` over the veth. With
    ``tc netem`` both ends of the veth delay by half the round trip (:attr:`netem` True); without it the
    delaying proxy listens on :attr:`server_ip` instead. Raises ``OSError`` or ``CalledProcessError`` when
    any step fails, after undoing the others.
    """

    def __init__(self, rtt_ms: float) -> None:
        tag = os.getpid()
        self.name = f"synco-bench-{tag}"
        # Interface names are at most 15 characters.
        self.outer, self.inner = f"sbA{tag}", f"sbB{tag}"
        subnet = f"10.213.{tag % 250}"
        self.server_ip, self.client_ip = f"{subnet}.1", f"{subnet}.2"
        self.netem = False
        try:
            for argv in (["ip", "netns", "add", self.name],
                         ["ip", "link", "add", self.outer, "type", "veth", "peer", "name", self.inner],
                         ["ip", "link", "set", self.inner, "netns", self.name],
                         ["ip", "addr", "add", f"{self.server_ip}/30", "dev", self.outer],
                         ["ip", "link", "set", self.outer, "up"],
                         self.wrap(["ip", "addr", "add", f"{self.client_ip}/30", "dev", self.inner]),
                         self.wrap(["ip", "link", "set", self.inner, "up"]),
                         self.wrap(["ip", "link", "set", "lo", "up"])):
                subprocess.run(argv, check=True, capture_output=True)
            self._check_reachable()
            delay = f"{rtt_ms / 2:g}ms"
            self.netem = all(subprocess.run(argv, capture_output=True).returncode == 0 for argv in (
                ["tc", "qdisc", "add", "dev", self.outer, "root", "netem", "delay", delay],
                self.wrap(["tc", "qdisc", "add", "dev", self.inner, "root", "netem", "delay", delay]),
            ))
        except BaseException:
            self.close()
            raise

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` run in the clients' namespace (``ip netns exec`` execs it: same process, same memory)."""
        return ["ip", "netns", "exec", self.name, *argv]

    def _check_reachable(self) -> None:
        with socket.create_server((self.server_ip, 0)) as listener:
            port = listener.getsockname()[1]
            probe = f"import socket; socket.create_connection(({self.server_ip!r}, {port}), timeout=5).close()"
            subprocess.run(self.wrap([sys.executable, "-c", probe]), check=True, capture_output=True, timeout=20)

    def close(self) -> None:
        # Deleting the namespace deletes its end of the veth, and with it the pair.
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True)
        subprocess.run(["ip", "link", "delete", self.outer], capture_output=True)


def client_namespace(rtt_ms: float) -> ClientNamespace | None:
    """The clients' namespace where it can be made; None (with a note) where not."""
    if os.geteuid() != 0 or not have("ip"):
        print("latency variant on 127.0.0.1: network namespaces need root and iproute2", file=sys.stderr)
        return None
    try:
        return ClientNamespace(rtt_ms)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        print(f"latency variant on 127.0.0.1: no network namespace ({exc} {detail.decode(errors='replace').strip()})",
              file=sys.stderr)
        return None


async def delaying_proxy(listen_port: int, target_port: int, rtt_ms: float, listen_host: str = "127.0.0.1") -> None:
    """Forward listen_host:listen_port to 127.0.0.1:target_port, delivering every chunk rtt/2 after it arrived.

    Chunks are queued with their due time, so the delay adds latency without capping throughput (data
    in flight keeps flowing), as a long link does. ``tc netem`` would be the real thing; this kernel has
    no netem module, and changing the shared loopback would slow everyone else's tests down too.
    """
    import asyncio

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

    server = await asyncio.start_server(handle, listen_host, listen_port, backlog=256)
    async with server:
        await server.serve_forever()


def start_proxy(listen_port: int, target_port: int, rtt_ms: float,
                listen_host: str = "127.0.0.1") -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, __file__, "--proxy-helper", str(listen_port), str(target_port),
                                str(rtt_ms), listen_host])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((listen_host, listen_port), timeout=0.5):
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


def wget_list(paths: list[Path], root: Path, base_url: str, urls: Path) -> None:
    """The URL list of ``wget -i`` (one per line; ``-x -nH`` turn them into ``files/...`` under ``-P``)."""
    urls.write_text("".join(f"{base_url}files/{path.relative_to(root).as_posix()}\n" for path in paths))


#: ``--case small-files``: files per size (the issue's case is ``full``).
SMALL_FILES = {"small": 20_000, "medium": 100_000, "full": 300_000}
#: ``--case memory``: files per size (the issue's goal is stated at ``full``).
MEMORY_FILES = {"small": 50_000, "medium": 200_000, "full": 1_000_000}
#: Files per folder of the generated small-files tree (uploads are spread over dated folders).
FILES_PER_FOLDER = 300


def small_file_path(root: Path, number: int) -> Path:
    return root / f"a{number // 30_000:03d}" / f"b{number // FILES_PER_FOLDER % 100:02d}" / f"img-{number:07d}.jpg"


def generate_small(project: Path, files: int, seed: int = 5) -> Path:
    """``files`` files of 200-500 random bytes under ``project/web/files``; kept when already there.

    A stamp names what was generated; a round that changes files removes it, so the next run starts over.
    Writing a million files takes minutes, so the tree is reused between runs when it is unchanged.
    """
    root = project / "web" / "files"
    stamp = project / "generated.txt"
    wanted = f"small {files} {seed}\n"
    if stamp.exists() and stamp.read_text() == wanted:
        return root
    if project.exists():
        shutil.rmtree(project)
    root.mkdir(parents=True)
    (project / MARKER).write_text("bench\n")
    rng = random.Random(seed)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for number in range(files):
        path = small_file_path(root, number)
        if number % FILES_PER_FOLDER == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, 0o644)
        os.write(fd, rng.randbytes(rng.randint(200, 500)))
        os.close(fd)
    stamp.write_text(wanted)
    return root


def mutate_small(project: Path, root: Path, files: int, rng: random.Random) -> dict[Path, bytes]:
    """Give 1 % of the small files new content (and a new size, most of the time); returns their old
    contents, for :func:`restore_small`.

    The tree is put back after the round instead of generated again at the next run: generating deletes
    and creates hundreds of thousands of files, and a first sync right after that measured the file
    system's slow minutes (see ``discard``), not the tools.
    """
    originals: dict[Path, bytes] = {}
    for number in rng.sample(range(files), max(1, files // 100)):
        path = small_file_path(root, number)
        originals[path] = path.read_bytes()
        path.write_bytes(rng.randbytes(rng.randint(200, 500)))
    return originals


def restore_small(originals: dict[Path, bytes]) -> None:
    """Put back what :func:`mutate_small` changed (the contents; mtimes are new, as after any edit)."""
    for path, content in originals.items():
        path.write_bytes(content)


def same_tree(source: Path, copy: Path) -> bool:
    """True when ``copy`` holds exactly the files of ``source`` (``diff -r``: names and contents)."""
    return subprocess.run(["diff", "-r", "-q", str(source), str(copy)], capture_output=True).returncode == 0


class KeptSession:
    """``synco serve --keep`` runs: each publishes a new session into nginx's root and exits when it is ready."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.session = self.key = ""

    def publish(self) -> tuple[float, float]:
        """Remove the previous session, publish a new one; (seconds, peak MB) of the serve process."""
        self.remove()
        seconds, peak, output = run_capture([sys.executable, __file__, "--serve-helper", "--keep", "--ttl", "600"],
                                            cwd=self.project)
        match = re.search(r"synco receive (\S+) (\S+)", output)
        if match is None:
            raise RuntimeError(f"serve did not print a receive command:\n{output}")
        self.session, self.key = match.groups()
        return seconds, peak

    def remove(self) -> None:
        web = self.project / "web"
        for folder in web.glob("synco-*"):
            shutil.rmtree(folder, ignore_errors=True)


def add(total: Measurement, seconds: float, peak: float) -> None:
    total.seconds.append(seconds)
    total.peak_rss_mb = max(total.peak_rss_mb, peak)


def small_files_suite(title: str, work: Path, project: Path, root: Path, files: int, repeat: int, jobs: int,
                      base_url: str, rsync_argv: list[str] | None, client: Callable[[list[str]], list[str]],
                      discard: Callable[[Path], None], synco: list[str]) -> list[tuple[str, Measurement, Measurement]]:
    """First sync, re-sync with nothing changed, re-sync after 1 % changed: synco and rsync in turns."""
    tag = title.replace(" ", "-").replace(",", "")
    dst_synco, dst_rsync = work / f"small-synco-{tag}", work / f"small-rsync-{tag}"
    published = KeptSession(project)
    cases = ("first sync", "re-sync, nothing changed", "re-sync, 1 % changed")
    totals = {case: Measurement(f"synco serve + receive ({case}, {title})") for case in cases}
    totals[cases[1]].label = f"synco receive, same session ({cases[1]}, {title})"
    serves = {case: Measurement(f"serve ({case})") for case in cases}
    receives = {case: Measurement(f"receive ({case})") for case in cases}
    references = {case: Measurement(f"rsync -a over ssh ({case}, {title})") for case in cases}
    rng = random.Random(23)

    def clean(path: Path) -> None:
        discard(path)
        path.mkdir(parents=True)
        os.sync()

    def synco_round(case: str, publish: bool) -> None:
        cpu = machine_cpu_seconds()
        serve_seconds, serve_peak = published.publish() if publish else (0.0, 0.0)
        os.sync()
        receive_seconds, receive_peak = run_command(client(
            [*synco, "receive", published.session, published.key, "--base-url", base_url, "--target",
             str(dst_synco), "--all", "--jobs", str(jobs)]))
        add(serves[case], serve_seconds, serve_peak)
        add(receives[case], receive_seconds, receive_peak)
        add(totals[case], serve_seconds + receive_seconds, max(serve_peak, receive_peak))
        cpu = machine_cpu_seconds() - cpu
        totals[case].cpu_seconds.append(cpu)
        print(f"  synco {case}, {title}: serve {serve_seconds:.2f} s ({serve_peak:.0f} MB) + receive "
              f"{receive_seconds:.2f} s ({receive_peak:.0f} MB); machine CPU {cpu:.2f} s", file=sys.stderr)

    def rsync_round(case: str) -> None:
        if rsync_argv is None:
            return
        cpu = machine_cpu_seconds()
        seconds, peak = run_command(client([*rsync_argv, f"{dst_rsync}/"]))
        cpu = machine_cpu_seconds() - cpu
        add(references[case], seconds, peak)
        references[case].cpu_seconds.append(cpu)
        print(f"  rsync {case}, {title}: {seconds:.2f} s ({peak:.0f} MB); machine CPU {cpu:.2f} s",
              file=sys.stderr)

    def check(case: str) -> None:
        for name, dst in (("synco", dst_synco / "files"), ("rsync", dst_rsync)):
            if (name == "synco" or rsync_argv is not None) and not same_tree(root, dst):
                print(f"WARNING: {name}'s copy differs from the source after {case}, {title}", file=sys.stderr)

    for _round in range(repeat):
        clean(dst_synco)
        synco_round(cases[0], publish=True)
        clean(dst_rsync)
        rsync_round(cases[0])
        check(cases[0])
        synco_round(cases[1], publish=False)
        rsync_round(cases[1])
        originals = mutate_small(project, root, files, rng)
        try:
            os.sync()
            synco_round(cases[2], publish=True)
            rsync_round(cases[2])
            check(cases[2])
        finally:
            restore_small(originals)
    published.remove()
    for path in (dst_synco, dst_rsync):
        discard(path)
    for case in cases:
        print(f"  {title}, {case}: serve median {serves[case].median:.2f} s (peak {serves[case].peak_rss_mb:.0f} MB), "
              f"receive median {receives[case].median:.2f} s (peak {receives[case].peak_rss_mb:.0f} MB); "
              f"machine CPU median: synco {statistics.median(totals[case].cpu_seconds):.2f} s, "
              f"rsync {statistics.median(references[case].cpu_seconds or [float('nan')]):.2f} s")
    return [(f"{case}, {title}", totals[case], references[case]) for case in cases]


def small_files_main(args: argparse.Namespace, work: Path, discard: Callable[[Path], None]) -> int:
    """``--case small-files``: many small files through nginx against ``rsync -a`` over ssh."""
    files = SMALL_FILES[args.size]
    project = work / "small-project"
    print(f"generating {files} small files ...", file=sys.stderr)
    root = generate_small(project, files)
    os.sync()
    total_mb = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6
    synco = [sys.executable, "-c", "from synco_core.cli.main import main; main()"]
    netns = client_namespace(args.latency_ms) if args.latency_ms and not args.no_netns else None
    if netns is not None:
        atexit.register(netns.close)
    from synco_core.testing.services import Nginx

    nginx = Nginx(project / "web", work, netns.server_ip if netns is not None and netns.netem else None)
    sshd = SshServer(work, netns.server_ip if netns is not None and netns.netem else None)
    rows: list[tuple[str, Measurement, Measurement]] = []
    proxies: list[subprocess.Popen[bytes]] = []
    try:
        rsync = ["rsync", "-a", "-e", sshd.ssh, f"{sshd.user}@127.0.0.1:{root}/"]
        rows += small_files_suite("loopback", work, project, root, files, args.repeat, args.jobs, nginx.url,
                                  rsync, list, discard, synco)
        if args.latency_ms:
            title = f"{args.latency_ms:g} ms RTT"
            client: Callable[[list[str]], list[str]] = list
            host = "127.0.0.1"
            if netns is not None:
                client, host = netns.wrap, netns.server_ip
                title += ", netns"
            if netns is not None and netns.netem:
                http_port, ssh_port = nginx.port, sshd.port
            else:
                http_port, ssh_port = free_port(), free_port()
                proxies.append(start_proxy(http_port, nginx.port, args.latency_ms, host))
                proxies.append(start_proxy(ssh_port, sshd.port, args.latency_ms, host))
            ssh = sshd.ssh.replace(f"-p {sshd.port}", f"-p {ssh_port}")
            rsync = ["rsync", "-a", "-e", ssh, f"{sshd.user}@{host}:{root}/"]
            rows += small_files_suite(title, work, project, root, files, args.repeat, args.jobs,
                                      f"http://{host}:{http_port}/", rsync, client, discard, synco)
    finally:
        nginx.stop()
        sshd.stop()
        for proxy in proxies:
            proxy.terminate()
            proxy.wait()
        if netns is not None:
            netns.close()
    print_table(f"small files: {files} files of 200-500 bytes, {total_mb:.0f} MB, nginx (receive --jobs {args.jobs}); "
                "synco = serve + receive, except the re-sync with nothing changed (receive alone)", rows)
    return 0


def memory_main(args: argparse.Namespace, work: Path, discard: Callable[[Path], None]) -> int:
    """``--case memory``: peak memory of serve and of a first receive at many files (nginx on loopback)."""
    files = MEMORY_FILES[args.size]
    project = work / "memory-project"
    print(f"generating {files} small files (reused by later runs) ...", file=sys.stderr)
    root = generate_small(project, files)
    os.sync()
    synco = [sys.executable, "-c", "from synco_core.cli.main import main; main()"]
    from synco_core.testing.services import Nginx

    nginx = Nginx(project / "web", work)
    published = KeptSession(project)
    serve = Measurement("synco serve --keep")
    receive = Measurement("synco receive (first sync)")
    resync = Measurement("synco receive (re-sync, nothing changed)")
    dst = work / "memory-dst"
    try:
        for _round in range(args.repeat):
            add(serve, *published.publish())
            discard(dst)
            os.sync()
            argv = [*synco, "receive", published.session, published.key, "--base-url", nginx.url, "--target",
                    str(dst), "--all", "--jobs", str(args.jobs)]
            add(receive, *run_command(argv))
            add(resync, *run_command(argv))
            print(f"  serve {serve.seconds[-1]:.1f} s, receive {receive.seconds[-1]:.1f} s, "
                  f"re-sync {resync.seconds[-1]:.1f} s", file=sys.stderr)
        if not same_tree(root, dst / "files"):
            print("WARNING: synco's copy differs from the source", file=sys.stderr)
    finally:
        published.remove()
        nginx.stop()
        discard(dst)
    print(f"\nmemory: {files} files of 200-500 bytes (nginx on loopback, receive --jobs {args.jobs})")
    print(f"{'process':<44} {'median s':>9} {'peak MB':>8}  goal")
    for measurement, goal in ((serve, "< 100 MB at 1,000,000 files"), (receive, "< 150 MB at 1,000,000 files"),
                              (resync, "< 150 MB at 1,000,000 files")):
        print(f"{measurement.label:<44} {measurement.median:>9.2f} {measurement.peak_rss_mb:>8.0f}  {goal}")
    return 0


def serve_hash_main(args: argparse.Namespace, work: Path, discard: Callable[[Path], None]) -> int:
    """``--case serve-hash``: what content hashes cost serve, on the ``--files`` set of 20-200 KiB files.

    Three serves of the same set (``serve --keep``, whole processes, in turns): without hashing the files
    above the pack threshold (the reference), a first serve hashing every file (an empty hash cache), and a
    re-serve of the unchanged set (the cache of the previous run). Issue 14's goal: the re-serve costs at
    most 1.2 times the serve without hashes.
    """
    project = work / "hash-project"
    print(f"generating {args.files} files ...", file=sys.stderr)
    discard(project)
    generate(project, args.files)
    # Old enough that the cache trusts them (files changed within two seconds of a serve are re-hashed).
    time.sleep(2.5)
    os.sync()
    web = project / "web"
    caches = work / "hash-caches"
    warm = caches / "warm"
    counter = iter(range(1_000_000))

    def remove_sessions() -> None:
        for folder in web.glob("synco-*"):
            shutil.rmtree(folder)

    def cold_setup() -> None:
        remove_sessions()
        cold_env["SYNCO_CACHE_DIR"] = str(caches / f"cold-{next(counter)}")

    argv = [sys.executable, __file__, "--serve-helper", "--keep", "--ttl", "60"]
    base_env = dict(os.environ)
    cold_env = dict(base_env)
    no_hash = Case("serve, no content hashes", argv, setup=remove_sessions, env={**base_env, NO_HASH_ENV: "1"},
                   cwd=project)
    first = Case("serve, hashing every file (empty cache)", argv, setup=cold_setup, env=cold_env, cwd=project)
    again = Case("re-serve, unchanged files (warm cache)", argv, setup=remove_sessions,
                 env={**base_env, "SYNCO_CACHE_DIR": str(warm)}, cwd=project)
    # The warm cache is filled once, untimed.
    again.run_once(Measurement("filling the cache"))
    results = measure_interleaved([no_hash, first, again], args.repeat)
    remove_sessions()
    shutil.rmtree(caches, ignore_errors=True)
    total_mb = sum(path.stat().st_size for path in (web / "files").rglob("*") if path.is_file()) / 1e6
    print_table(f"serve-hash: {args.files} files, {total_mb:.0f} MB (serve --keep, whole processes, in turns)",
                [("first serve (hashes everything)", results[1], results[0]),
                 ("re-serve, unchanged (goal: ratio <= 1.2)", results[2], results[0])])
    # CPU time does not wait for the disk or other work on the machine: the steadier comparison here.
    reference_cpu = statistics.median(results[0].cpu_seconds)
    for label, result in (("first serve", results[1]), ("re-serve", results[2])):
        cpu = statistics.median(result.cpu_seconds)
        print(f"CPU (user + system), median: {label} {cpu:.2f} s, without hashes {reference_cpu:.2f} s, "
              f"ratio {cpu / reference_cpu:.2f}")
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-helper":
        serve_helper(sys.argv[2:])
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--proxy-helper":
        import asyncio

        asyncio.run(delaying_proxy(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), *sys.argv[5:6]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000, help="number of files (default 2000; issue: 10000)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=8, help="synco receive --jobs")
    parser.add_argument("--dir", type=Path, default=DATA_DIR / "transfer")
    parser.add_argument("--latency-ms", type=float, default=20.0,
                        help="round trip of the latency variant (0 skips it)")
    parser.add_argument("--no-netns", action="store_true",
                        help="latency variant on 127.0.0.1 through the proxy, even where namespaces work")
    parser.add_argument("--case", choices=("files", "small-files", "memory", "serve-hash"), default="files",
                        help="files: --files files of 20-200 KiB (default); small-files: many files of "
                             "200-500 bytes through nginx; memory: peak memory of serve and receive; "
                             "serve-hash: what content hashes cost serve, with and without the hash cache")
    parser.add_argument("--size", choices=("small", "medium", "full"), default="small",
                        help="number of files of the small-files and memory cases (full: the issue's)")
    args = parser.parse_args()
    needed = {"files": ("rsync", "curl"), "small-files": ("rsync", "ssh")}.get(args.case, ())
    for tool in needed:
        if not have(tool):
            print(f"{tool} is not installed", file=sys.stderr)
            return 1
    from synco_core.testing.services import nginx_binary

    if args.case in ("small-files", "memory") and nginx_binary() is None:
        print("nginx is not installed (apt-get install nginx)", file=sys.stderr)
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

    if args.case != "files":
        cases = {"small-files": small_files_main, "memory": memory_main, "serve-hash": serve_hash_main}
        try:
            return cases[args.case](args, work, discard)
        finally:
            atexit.register(shutil.rmtree, trash, ignore_errors=True)
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
    wget = have("wget")
    if not wget:
        print("wget is not installed (apt-get install wget): its row is left out", file=sys.stderr)
    netns = client_namespace(args.latency_ms) if args.latency_ms and not args.no_netns else None
    if netns is not None:
        atexit.register(netns.close)
        print(f"latency variant: clients in namespace {netns.name}, delay by "
              + ("tc netem on the veth" if netns.netem else "the delaying proxy (no tc netem here)"), file=sys.stderr)
    serve = Serve(project)
    rsync_daemon = RsyncDaemon(root, work)
    rsyncs = [(["rsync", "-a", rsync_daemon.url], "rsync -a (daemon, TCP)")]
    sshd: SshServer | None = None
    if have("ssh") and (shutil.which("sshd") or Path("/usr/sbin/sshd").exists()):
        try:
            sshd = SshServer(work, netns.server_ip if netns is not None and netns.netem else None)
            rsyncs.insert(0, (["rsync", "-a", "-e", sshd.ssh, f"{sshd.user}@127.0.0.1:{root}/"], "rsync -a (ssh)"))
        except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
            print(f"rsync over ssh left out: {exc}", file=sys.stderr)
    curl = ["curl", "--silent", "--no-progress-meter", "--fail", "--create-dirs"]

    def run_suite(title: str, base_url: str, rsync_variants: list[tuple[list[str], str]],
                  curl_single: bool, client: Callable[[list[str]], list[str]] = list,
                  ) -> list[tuple[str, Measurement, Measurement]]:
        """First sync and re-sync of synco against each reference; every tool keeps its own destination.

        ``client`` wraps every client command line (into the clients' network namespace).
        """
        tag = title.replace(" ", "-")
        dst_synco, dst_rsync, dst_curl = work / f"dst-synco-{tag}", work / f"dst-rsync-{tag}", work / f"dst-curl-{tag}"
        dst_wget = work / f"dst-wget-{tag}"
        config, urls = work / f"curl-{tag}.cfg", work / f"wget-{tag}.txt"

        def clean(path: Path) -> None:
            discard(path)
            path.mkdir(parents=True)
            # The previous run's data still being written back would slow down whichever tool runs next.
            os.sync()

        def receive_argv() -> list[str]:
            return client([*synco, "receive", serve.session, serve.key, "--base-url", base_url, "--target",
                           str(dst_synco), "--all", "--jobs", str(args.jobs)])

        rows: list[tuple[str, Measurement, Measurement]] = []
        serve.restart()
        # Run as a subprocess so the peak memory is that of receive alone.
        first_synco = measure(f"synco receive (first, {title})", receive_argv(), args.repeat,
                              setup=lambda: clean(dst_synco))
        first_rsyncs = [measure(f"{label} (first, {title})", client([*argv, f"{dst_rsync}/"]), args.repeat,
                                setup=lambda: clean(dst_rsync)) for argv, label in rsync_variants]
        curl_config(paths, root, base_url, dst_curl, config)
        rows += [(f"first sync, {title}", first_synco, reference) for reference in first_rsyncs]
        if curl_single:
            first_curl = measure(f"curl, 1 connection (first, {title})", client([*curl, "-K", str(config)]),
                                 args.repeat, setup=lambda: clean(dst_curl))
            rows.append((f"first sync, {title}", first_synco, first_curl))
            if wget:
                wget_list(paths, root, base_url, urls)
                first_wget = measure(f"wget -i, 1 connection (first, {title})",
                                     client(["wget", "-q", "-x", "-nH", "-P", str(dst_wget), "-i", str(urls)]),
                                     args.repeat, setup=lambda: clean(dst_wget))
                rows.append((f"first sync, {title}", first_synco, first_wget))
                same = subprocess.run(["diff", "-r", "-q", str(root), str(dst_wget / "files")], capture_output=True)
                if same.returncode != 0:
                    print("WARNING: wget's copy differs from the source:\n" + same.stdout.decode()[:500],
                          file=sys.stderr)
        first_parallel = measure(f"curl --parallel 16 (first, {title})",
                                 client([*curl, "--parallel", "--parallel-max", "16", "-K", str(config)]),
                                 args.repeat, setup=lambda: clean(dst_curl))
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
                parts.append((total, measure(total.label, client([*argv, f"{dst}/"]), 1)))
            for total, part in parts:
                total.seconds += part.seconds
                total.peak_rss_mb = max(total.peak_rss_mb, part.peak_rss_mb)
        rows += [(f"re-sync 1%+1%, {title}", resync_synco, total) for total in resync_rsyncs]
        same = subprocess.run(["diff", "-r", "-q", str(root), str(dst_synco / "files")], capture_output=True)
        if same.returncode != 0:
            print("WARNING: synco's copy differs from the source:\n" + same.stdout.decode()[:2000], file=sys.stderr)
        for path in (dst_synco, dst_rsync, dst_curl, dst_wget, *rsync_dsts):
            discard(path)
        return rows

    rows: list[tuple[str, Measurement, Measurement]] = []
    proxies: list[subprocess.Popen[bytes]] = []
    try:
        rows += run_suite("loopback", serve.url, rsyncs, curl_single=True)
        if args.latency_ms:
            title = f"{args.latency_ms:g} ms RTT"
            client: Callable[[list[str]], list[str]] = list
            host = "127.0.0.1"
            if netns is not None:
                client, host = netns.wrap, netns.server_ip
                title += ", netns"
            latency_rsyncs = []
            if netns is not None and netns.netem:
                # The veth delays every packet: the clients talk to serve and sshd directly.
                serve.host = netns.server_ip
                http_port = serve.port
                ssh_port = sshd.port if sshd is not None else 0
            else:
                # A proxy that holds every chunk back by half the round trip in each direction.
                http_port = free_port()
                proxies.append(start_proxy(http_port, serve.port, args.latency_ms, host))
                if sshd is not None:
                    ssh_port = free_port()
                    proxies.append(start_proxy(ssh_port, sshd.port, args.latency_ms, host))
            if sshd is not None:
                ssh = sshd.ssh.replace(f"-p {sshd.port}", f"-p {ssh_port}")
                latency_rsyncs.append((["rsync", "-a", "-e", ssh, f"{sshd.user}@{host}:{root}/"], "rsync -a (ssh)"))
            rows += run_suite(title, f"http://{host}:{http_port}/", latency_rsyncs,
                              curl_single=args.files <= 2000, client=client)
    finally:
        serve.stop()
        rsync_daemon.stop()
        if sshd is not None:
            sshd.stop()
        for proxy in proxies:
            proxy.terminate()
            proxy.wait()
        if netns is not None:
            netns.close()
        # Deleted at exit: after the table is printed (deleting tens of thousands of files takes a while),
        # and after a failed run too.
        atexit.register(shutil.rmtree, trash, ignore_errors=True)
    print_table(f"transfer: {args.files} files, {total_mb:.0f} MB (receive --jobs {args.jobs})", rows)
    publish = sorted(serve.publish_seconds)
    print(f"publishing a session (serve start to ready, not timed above): median {publish[len(publish) // 2]:.2f} s")
    if not args.latency_ms:
        print("latency variant skipped (--latency-ms 0)")
    elif args.files > 2000:
        print("curl and wget with one connection left out under latency: they cost a round trip per file")
    if not wget:
        print("wget -i left out: wget is not installed (apt-get install wget)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
