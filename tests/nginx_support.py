"""A real nginx for the end-to-end tests: started on 127.0.0.1 and a free port, stopped by the test.

It serves a web root with the server block Laravel's deployment guide recommends (``try_files`` to
``index.php``, and ``location ~ /\\.(?!well-known).* { deny all; }``, which answers 403 for every
dotfile), minus PHP-FPM: a request that would reach ``index.php`` gets the 404 an application answers
for an unknown path. nginx runs in the foreground as a single process with its configuration, logs and
temporary folders in the test's own folder, and its access log records each request's ``Range`` header,
status and body bytes, so a test can see resumed downloads.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from synco_core.testing.services import unavailable

NGINX = "/usr/sbin/nginx"

CONFIG = """
{user}
daemon off;
master_process off;
worker_processes 1;
pid {state}/nginx.pid;
error_log {state}/error.log warn;

events {{
    worker_connections 256;
}}

http {{
    types {{
        text/html html;
        image/png png;
        image/jpeg jpg;
        application/octet-stream bin enc;
    }}
    default_type application/octet-stream;
    log_format synco '$request_method|$request_uri|$status|$body_bytes_sent|$http_range';
    access_log {state}/access.log synco;
    client_body_temp_path {state}/body;
    proxy_temp_path {state}/proxy;
    fastcgi_temp_path {state}/fastcgi;
    uwsgi_temp_path {state}/uwsgi;
    scgi_temp_path {state}/scgi;
    sendfile on;
    keepalive_requests 1000;

    server {{
        listen 127.0.0.1:{port};
        server_name _;
        root {root};
        {limit_rate}

        add_header X-Frame-Options "SAMEORIGIN";
        add_header X-Content-Type-Options "nosniff";
        index index.php;
        charset utf-8;

        location / {{
            try_files $uri $uri/ /index.php?$query_string;
        }}

        location = /favicon.ico {{ access_log off; log_not_found off; }}
        location = /robots.txt  {{ access_log off; log_not_found off; }}

        error_page 404 /index.php;

        # No PHP-FPM here: the application's answer to an unknown path is a 404.
        location ~ ^/index\\.php(/|$) {{
            return 404;
        }}

        location ~ /\\.(?!well-known).* {{
            deny all;
        }}
    }}
}}
"""


@dataclass
class Nginx:
    """A running nginx: its base URL and its access log."""

    url: str
    port: int
    state: Path

    def requests(self) -> list[tuple[str, str, int, int, str]]:
        """The access log so far: (method, path as requested, status, body bytes, Range header or "")."""
        entries = []
        log = self.state / "access.log"
        for line in log.read_text().splitlines() if log.exists() else []:
            method, path, status, size, asked = line.split("|", 4)
            entries.append((method, path, int(status), int(size), "" if asked == "-" else asked))
        return entries


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def nginx(root: Path, state: Path, limit_rate: str | None = None) -> Iterator[Nginx]:
    """nginx serving ``root`` (a Laravel ``public/`` folder) until the block ends; its files go to ``state``.

    ``limit_rate`` (``2m``: 2 MB/s per connection) slows downloads down, for tests that interrupt them.
    """
    if not os.access(NGINX, os.X_OK):
        unavailable(f"nginx is not installed ({NGINX}; Debian package nginx)")
    state.mkdir(parents=True, exist_ok=True)
    for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (state / folder).mkdir(exist_ok=True)
    for attempt in range(5):
        port = _free_port()
        config = state / "nginx.conf"
        config.write_text(CONFIG.format(
            # As root, nginx would switch to an unprivileged user who cannot read the test's folders.
            user="user root;" if os.geteuid() == 0 else "",
            state=state, port=port, root=root, limit_rate=f"limit_rate {limit_rate};" if limit_rate else "",
        ))
        process = subprocess.Popen([NGINX, "-c", str(config), "-p", str(state), "-e", str(state / "error.log")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        if process.poll() is None:
            break
        error = (process.stderr.read() if process.stderr else "") + (state / "error.log").read_text()
        if "Address already in use" not in error or attempt == 4:
            raise AssertionError(f"nginx did not start: {error}")
    try:
        yield Nginx(f"http://127.0.0.1:{port}/", port, state)
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()

