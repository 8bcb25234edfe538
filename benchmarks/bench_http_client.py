"""HTTP clients for receive's public files: the standard library (synco's transport) against httpx.

Issue 16 asks receive to use httpx (HTTP/2 where offered) unless a measurement shows the goals cannot be
met with it. This measures the transport alone, on the two shapes of public set the goals name, from a
real nginx on 127.0.0.1 (bodies read and dropped: no file system in the numbers):

- ``small``: 20,000 files of 200-500 bytes (issue 16's case, at the size of ``--case small-files --size small``);
- ``large``: 1,000 files of 20-200 KiB (the shape of issue 4's 10,000-file case, a tenth of it).

Clients, each with 8 threads over the file list (as ``receive --jobs 8``):

- ``synco pipelined``: ``HttpTransport.open_many``, batches of 64 (what receive does for unpacked files);
- ``synco one by one``: ``HttpTransport.open`` per file, keep-alive connections per thread;
- ``httpx HTTP/1.1``: one shared ``httpx.Client``, ``client.stream`` per file;
- ``httpx HTTP/2``: the same with ``http2=True, http1=False`` against nginx's ``http2`` listener (cleartext
  with prior knowledge; needs the ``h2`` package, left out with a note without it).

Printed per client and case: wall seconds and CPU seconds of this process (the client's own cost, which
is what the receiver pays per file), best of ``--repeat``.

    python3 benchmarks/bench_http_client.py [--repeat 3] [--dir /tmp/bench-http]
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from synco_core.receive.http_transport import HttpTransport
from synco_core.testing.services import nginx_binary

JOBS = 8
BATCH = 64
CASES = {"small": (20_000, 200, 500), "large": (1_000, 20 * 1024, 200 * 1024)}


def generate(root: Path, files: int, low: int, high: int) -> list[str]:
    rng = random.Random(4)
    paths = []
    for number in range(files):
        relative = f"d{number // 300:04d}/f{number:06d}.bin"
        path = root / relative
        if number % 300 == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(low, high)))
        paths.append(relative)
    return paths


def start_nginx(root: Path, work: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    """nginx with an HTTP/1.1 and a cleartext HTTP/2 listener; (process, h1 port, h2 port)."""
    import socket

    ports = []
    for _ in range(2):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
    base = work / "nginx"
    shutil.rmtree(base, ignore_errors=True)
    (base / "tmp").mkdir(parents=True)
    temps = "".join(f"  {name}_temp_path {base / 'tmp' / name};\n"
                    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    config = base / "nginx.conf"
    config.write_text(
        ("user root root;\n" if os.geteuid() == 0 else "") + "worker_processes 2;\n"
        f"pid {base / 'nginx.pid'};\nerror_log {base / 'error.log'} warn;\nevents {{ worker_connections 1024; }}\n"
        "http {\n  access_log off;\n  sendfile on;\n  keepalive_requests 100000;\n  http2_max_concurrent_streams 128;\n"
        f"{temps}  server {{\n    listen 127.0.0.1:{ports[0]};\n    root {root};\n  }}\n"
        # "listen ... http2" (not "http2 on"): nginx before 1.25.1 knows only this form.
        f"  server {{\n    listen 127.0.0.1:{ports[1]} http2;\n    root {root};\n  }}\n}}\n")
    binary = nginx_binary()
    assert binary is not None, "nginx is not installed"
    process = subprocess.Popen([binary, "-c", str(config), "-p", str(base), "-g", "daemon off;"],
                               stderr=subprocess.PIPE)
    time.sleep(0.5)
    if process.poll() is not None:
        raise SystemExit(f"nginx did not start: {process.stderr.read().decode() if process.stderr else ''}")
    return process, ports[0], ports[1]


def threaded(work: Callable[[list[str]], None], paths: list[str], chunk: int) -> None:
    lock = threading.Lock()
    pending = iter(range(0, len(paths), chunk))

    def loop() -> None:
        while True:
            with lock:
                start = next(pending, None)
            if start is None:
                return
            work(paths[start:start + chunk])

    threads = [threading.Thread(target=loop) for _ in range(JOBS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def synco_pipelined(url: str, paths: list[str]) -> None:
    transport = HttpTransport(url)

    def work(batch: list[str]) -> None:
        for _position, response in transport.open_many(batch):
            assert response is not None
            for _chunk in response.iter_bytes():
                pass

    threaded(work, paths, BATCH)
    transport.close()


def synco_single(url: str, paths: list[str]) -> None:
    transport = HttpTransport(url)

    def work(batch: list[str]) -> None:
        for path in batch:
            with transport.open(path) as response:
                for _chunk in response.iter_bytes():
                    pass

    threaded(work, paths, BATCH)
    transport.close()


def httpx_client(url: str, paths: list[str], http2: bool) -> None:
    import httpx

    limits = httpx.Limits(max_connections=JOBS, max_keepalive_connections=JOBS)
    with httpx.Client(base_url=url, http1=not http2, http2=http2, limits=limits, timeout=30) as client:

        def work(batch: list[str]) -> None:
            for path in batch:
                with client.stream("GET", path) as response:
                    assert response.status_code == 200
                    for _chunk in response.iter_raw(64 * 1024):
                        pass

        threaded(work, paths, BATCH)


def measure(run: Callable[[], None], repeat: int) -> tuple[float, float]:
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/synco-bench-http"))
    # run.py hands every script the same options: those meant for others (--size ...) are not an error.
    args, _others = parser.parse_known_args()
    try:
        import h2  # noqa: F401
        have_h2 = True
    except ImportError:
        have_h2 = False
    rows = []
    for case, (files, low, high) in CASES.items():
        root = args.dir / case
        shutil.rmtree(root, ignore_errors=True)
        paths = generate(root, files, low, high)
        process, h1, h2_port = start_nginx(root, args.dir / f"{case}-work")
        try:
            h1_url, h2_url = f"http://127.0.0.1:{h1}/", f"http://127.0.0.1:{h2_port}/"
            clients: dict[str, Callable[[], None]] = {
                "synco pipelined": functools.partial(synco_pipelined, h1_url, paths),
                "synco one by one": functools.partial(synco_single, h1_url, paths),
                "httpx HTTP/1.1": functools.partial(httpx_client, h1_url, paths, False),
            }
            if have_h2:
                clients["httpx HTTP/2"] = functools.partial(httpx_client, h2_url, paths, True)
            for name, run in clients.items():
                wall, cpu = measure(run, args.repeat)
                rows.append((case, files, name, wall, cpu))
                print(f"  {case}: {name}: {wall:.2f} s, {cpu:.2f} s CPU", file=sys.stderr)
        finally:
            process.terminate()
            process.wait()
    print(f"\n{'case':<8}{'files':>8}  {'client':<18}{'wall s':>8}{'CPU s':>8}{'CPU us/file':>13}")
    for case, files, name, wall, cpu in rows:
        print(f"{case:<8}{files:>8}  {name:<18}{wall:>8.2f}{cpu:>8.2f}{cpu / files * 1e6:>13.0f}")
    if not have_h2:
        print("(httpx HTTP/2 left out: the h2 package is not installed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
