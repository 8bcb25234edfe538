"""A throw-away nginx serving one folder on 127.0.0.1, for the benchmarks that need a real static web server.

The configuration is the plain one a site would use for uploads: ``sendfile``, kept-alive connections,
no access log. Everything nginx writes (pid, error log, temporary folders) stays in the work folder, and
the server listens on a free port of 127.0.0.1 (and, for the latency variant in a network namespace, on
the veth's address too). Debian's package is ``nginx``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Nginx:
    """``nginx -g 'daemon off;'`` with its own configuration; :meth:`stop` ends it."""

    def __init__(self, root: Path, work: Path, extra_address: str | None = None) -> None:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed (apt-get install nginx)")
        self.port = _free_port()
        base = work / "nginx"
        shutil.rmtree(base, ignore_errors=True)
        (base / "tmp").mkdir(parents=True)
        listens = f"    listen 127.0.0.1:{self.port};\n"
        if extra_address:
            listens += f"    listen {extra_address}:{self.port};\n"
        # Workers run as the invoking user: as root, nginx would otherwise switch to "nobody", who may not
        # read a benchmark folder under /root.
        user = "user root root;\n" if os.geteuid() == 0 else ""
        temp_paths = "".join(f"  {name}_temp_path {base / 'tmp' / name};\n"
                             for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        config = base / "nginx.conf"
        config.write_text(
            f"{user}worker_processes 2;\npid {base / 'nginx.pid'};\nerror_log {base / 'error.log'} warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  tcp_nodelay on;\n"
            "  keepalive_requests 100000;\n  keepalive_timeout 65;\n  default_type application/octet-stream;\n"
            f"{temp_paths}"
            f"  server {{\n{listens}    root {root};\n    location / {{ }}\n  }}\n}}\n"
        )
        self.process = subprocess.Popen([binary, "-c", str(config), "-p", str(base), "-g", "daemon off;"],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(f"nginx did not start: {error.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not start listening")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGQUIT is nginx's graceful stop; the workers finish what they send, then all exit.
            self.process.send_signal(3)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
