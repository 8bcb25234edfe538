"""A crafted-session server: sessions with valid age encryption and hostile content, over real HTTP.

A compromised server (or anyone who holds the session key, or who can replay files encrypted with a
reused passphrase) can put anything into a session: any meta JSON, any index, any tar, artifacts far
bigger than they claim, redirects, URLs of other hosts, the meta of another session. The security tests
build such sessions here and serve them from a real HTTP server on 127.0.0.1, so the receiver under test
sees exactly what it would see from a real hostile server; only the content is crafted.

Pieces:

- :class:`CraftedSession` writes a session folder: :meth:`CraftedSession.artifact` encrypts any bytes
  (optionally through zstd, or as a ready-made zstd frame such as a compression bomb) with a real X25519
  key or scrypt passphrase; :meth:`CraftedSession.ready` writes a meta from file-set dictionaries in the
  wire format, whose every field a test can override; :meth:`CraftedSession.write_meta` writes any JSON.
- :func:`tar_bytes` with :func:`file`, :func:`directory`, :func:`symlink`, :func:`hardlink`,
  :func:`device` and :func:`fifo` builds any tar, members in any order, with any names and link targets.
- :func:`zstd_frame` builds a zstd frame from raw bytes and run-length blocks without compressing anything:
  ``zstd_frame(rle(4 << 30))`` is a 128 KiB frame that expands to 4 GiB.
- :class:`CraftedServer` serves a web root plus per-path :class:`Reply` overrides (any status, headers,
  endless or oversized bodies, redirects), records every request with its headers and counts the body
  bytes it managed to send, so a test can prove that the receiver stopped reading early.

The fixtures in this folder's ``conftest.py`` (``crafted``, ``crafted_server``) give a test a session and
servers that are stopped afterwards. Typical use::

    def test_something(crafted, crafted_server, tmp_path):
        dump = crafted.dump_set(b"SELECT 1;\\n", format="x/../../escape")
        crafted.ready(dump)
        server = crafted_server(crafted.web_root)
        result = run_receive(crafted, server.url, tmp_path / "target")
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote

import zstandard

from synco_core import age

#: The session id of a crafted session unless a test names another (the folder name, as Go synco prints it).
SESSION_ID = "synco-c0ffee00c0ffee00c0ffee00"
#: A work factor that keeps scrypt sessions fast in tests; the reader treats every factor the same way.
TEST_WORK_FACTOR = 10
PASSPHRASE = "crafted-passphrase-0123456789"


# ------------------------------------------------------------------------------------------- zstd


@dataclass(frozen=True)
class Rle:
    """``count`` copies of ``byte``, stored as zstd RLE blocks of four bytes each per 128 KiB."""

    count: int
    byte: int = 0x20


def rle(count: int, byte: bytes = b" ") -> Rle:
    return Rle(count, byte[0])


#: The largest block a frame with a 128 KiB window may hold (zstd's own block size limit).
_BLOCK_MAX = 128 * 1024


def zstd_frame(*parts: bytes | Rle) -> bytes:
    """A zstd frame holding ``parts`` (raw bytes as raw blocks, :class:`Rle` runs as RLE blocks).

    No content size is declared in the frame header, so a decoder cannot know the output size in advance:
    only a reader that counts what comes out can stop a bomb. Built by hand (RFC 8878 section 3.1.1), so a
    frame of gigabytes costs nothing to make.
    """
    # Magic number, then a frame header descriptor with no flags (no content size, no checksum, no
    # dictionary, not single-segment) and a window descriptor of 2^17 bytes (exponent 7, mantissa 0).
    out = bytearray(b"\x28\xb5\x2f\xfd" + bytes([0x00, 7 << 3]))
    blocks: list[tuple[int, bytes, int]] = []  # (type, content, size field)
    for part in parts:
        if isinstance(part, Rle):
            left = part.count
            while left > 0:
                size = min(left, _BLOCK_MAX)
                blocks.append((1, bytes([part.byte]), size))
                left -= size
        else:
            for start in range(0, len(part), _BLOCK_MAX):
                chunk = part[start:start + _BLOCK_MAX]
                blocks.append((0, chunk, len(chunk)))
    if not blocks:
        blocks.append((0, b"", 0))
    for number, (kind, content, size) in enumerate(blocks):
        last = 1 if number == len(blocks) - 1 else 0
        header = last | (kind << 1) | (size << 3)
        out += header.to_bytes(3, "little") + content
    return bytes(out)


# -------------------------------------------------------------------------------------------- tars


def file(name: str, data: bytes = b"", mode: int = 0o644, size: int | None = None) -> tuple[tarfile.TarInfo, bytes]:
    """A regular file member; ``size`` may claim another size than ``data`` has (for damaged tars)."""
    info = tarfile.TarInfo(name)
    info.size = len(data) if size is None else size
    info.mode = mode
    info.mtime = 1_700_000_000
    return info, data


def directory(name: str, mode: int = 0o755) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    return info, b""


def symlink(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info, b""


def hardlink(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    """A hard link member; tar link targets are relative to the archive's root, not to the link."""
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE
    info.linkname = target
    return info, b""


def device(name: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    return info, b""


def fifo(name: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.FIFOTYPE
    return info, b""


def tar_bytes(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    """A PAX tar of ``members``, in the order given, exactly as named (no normalising, no checks)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def tar_header(info: tarfile.TarInfo) -> bytes:
    """The header block(s) of one member, for tars whose data is written by hand (a bomb's zeros)."""
    return info.tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape")


# ------------------------------------------------------------------------------------------ session


@dataclass
class Artifact:
    """What :meth:`CraftedSession.artifact` wrote."""

    name: str
    #: Bytes before compression and encryption (-1 for a ready-made frame whose output was not counted).
    plain_size: int
    encrypted_size: int
    sha256: str
    compression: str | None


class CraftedSession:
    """A session folder under ``web_root`` written by hand, with valid age encryption.

    ``passphrase=None`` makes an X25519 session (the default of ``synco serve``); a passphrase makes an
    scrypt one (``serve --password``, Go synco) at ``work_factor``.
    """

    def __init__(self, web_root: Path, session_id: str = SESSION_ID, passphrase: str | None = None,
                 work_factor: int = TEST_WORK_FACTOR) -> None:
        self.web_root = web_root
        self.session_id = session_id
        self.folder = web_root / session_id
        self.folder.mkdir(parents=True, exist_ok=True)
        self.work_factor = work_factor
        if passphrase is None:
            identity = age.generate_identity()
            self.key = identity.to_string()
            self.recipients: list[Any] = [identity.recipient()]
        else:
            self.key = passphrase
            self.recipients = [age.ScryptRecipient(passphrase, work_factor=work_factor)]

    # -- bytes

    def encrypt(self, plain: bytes) -> bytes:
        return age.encrypt_bytes(plain, self.recipients)

    def artifact(self, name: str, plain: bytes | Iterable[bytes] = b"", *, compress: bool = False,
                 frame: bytes | None = None) -> Artifact:
        """Encrypt ``plain`` (zstd-compressed first with ``compress``), or the ready-made zstd ``frame``."""
        digest = hashlib.sha256()
        size = 0
        with (self.folder / name).open("wb") as raw, age.encrypt_writer(raw, self.recipients) as writer:
            if frame is not None:
                writer.write(frame)
                size = -1
            else:
                chunks = [plain] if isinstance(plain, bytes) else plain
                sink: Any = writer
                compressor = None
                if compress:
                    compressor = zstandard.ZstdCompressor(level=3).stream_writer(writer, closefd=False)
                    sink = compressor
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    sink.write(chunk)
                if compressor is not None:
                    compressor.close()
        return Artifact(name, size, (self.folder / name).stat().st_size, digest.hexdigest(),
                        "zstd" if compress or frame is not None else None)

    def raw(self, name: str, data: bytes) -> None:
        """A file as it is, unencrypted (an HTML page, garbage, a truncated artifact)."""
        (self.folder / name).write_bytes(data)

    # -- meta

    def write_meta(self, meta: dict[str, Any] | bytes, name: str = "meta.json.enc") -> None:
        """Encrypt any meta: a dictionary as JSON, or bytes as they are (not JSON at all, say)."""
        plain = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
        (self.folder / name).write_bytes(self.encrypt(plain))

    def meta_fields(self, **top: Any) -> dict[str, Any]:
        """The top-level fields this implementation writes, with ``top`` applied (None removes a field)."""
        now = int(time.time())
        data: dict[str, Any] = {"state": "Ready", "frameworkName": "Crafted", "generator": "synco-py crafted",
                                "sessionId": self.session_id, "createdAt": now, "expiresAt": now + 3600}
        data.update(top)
        return {k: v for k, v in data.items() if v is not None}

    def ready(self, *file_sets: dict[str, Any], **top: Any) -> dict[str, Any]:
        """Write a Ready meta listing ``file_sets``; returns the meta as written."""
        meta = self.meta_fields(**top)
        meta["fileSets"] = list(file_sets)
        self.write_meta(meta)
        return meta

    # -- file sets, in the wire format (every detail can be overridden or removed with None)

    @staticmethod
    def _details(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def dump_set(self, plain: bytes = b"SELECT 1;\n", *, name: str = "dbDump", type: str = "MysqlDump",
                 file_name: str = "dump.sql.zst.enc", compress: bool = True, frame: bytes | None = None,
                 **details: Any) -> dict[str, Any]:
        written = self.artifact(file_name, plain, compress=compress, frame=frame)
        key = {"MysqlDump": "mysqlDump", "PostgresDump": "postgresDump", "SqliteDump": "sqliteDump"}.get(type, type)
        info = self._details({
            "fileName": file_name, "sizeBytes": max(written.plain_size, 0), "compression": written.compression,
            "sha256": written.sha256 if frame is None else None, "encryptedSizeBytes": written.encrypted_size,
            "engine": "mysql", "format": "sql",
        }, details)
        return {"name": name, "type": type, key: info}

    def private_set(self, tar: bytes = b"", *, name: str = "files", relative_base_path: str = "files",
                    tar_uri: str | None = None, compress: bool = True, frame: bytes | None = None,
                    **details: Any) -> dict[str, Any]:
        uri = tar_uri or f"encrypted-resources-{name}"
        written = self.artifact(uri, tar, compress=compress, frame=frame)
        info = self._details({
            "tarUri": uri, "sizeBytes": max(written.plain_size, 0), "relativeBasePath": relative_base_path,
            "compression": written.compression, "sha256": written.sha256 if frame is None else None,
            "encryptedSizeBytes": written.encrypted_size,
        }, details)
        return {"name": name, "type": "PrivateEncryptedFiles", "privateEncryptedFiles": info}

    def public_set(self, index: dict[str, Any] | None = None, *, name: str = "public",
                   relative_base_path: str = "public", index_file_name: str | None = None, compress: bool = True,
                   frame: bytes | None = None, **details: Any) -> dict[str, Any]:
        """A public set; ``index`` maps paths to entries (``{"sizeBytes", "mTime", "publicUri"}``)."""
        index = index or {}
        file_name = index_file_name or f"Resources-{name}.index.json.enc"
        written = self.artifact(file_name, json.dumps(index).encode(), compress=compress, frame=frame)
        origins = sorted({uri.split("/", 3)[0] + "//" + uri.split("/", 3)[2] for uri in
                          (entry.get("publicUri", "") for entry in index.values() if isinstance(entry, dict))
                          if uri.startswith(("http://", "https://"))})
        info = self._details({
            "indexFileName": file_name,
            "sizeBytes": sum(e.get("sizeBytes", 0) for e in index.values() if isinstance(e, dict)),
            "compression": written.compression, "fileCount": len(index),
            "encryptedSizeBytes": written.encrypted_size,
            "indexSizeBytes": written.plain_size if frame is None else None,
            "relativeBasePath": relative_base_path, "urlOrigins": origins or None,
        }, details)
        return {"name": name, "type": "PublicFiles", "publicFiles": info}


# ------------------------------------------------------------------------------------------- server


@dataclass
class Reply:
    """What the server answers for one path instead of the file under the web root.

    ``body`` is bytes or a callable returning chunks (sent as they come, so an endless body is possible).
    ``length``: True sends the body's length as Content-Length (bytes bodies only), an integer sends that
    number whatever the body is, None sends none (the body then ends when the connection closes).
    """

    status: int = 200
    body: bytes | Callable[[], Iterable[bytes]] = b""
    headers: dict[str, str] = field(default_factory=dict)
    length: bool | int | None = True
    #: Answer this way only this many times, then serve the path normally again (None: always).
    times: int | None = None


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    #: The client's (address, port): requests on one kept-alive connection share it.
    client: tuple[str, int]


def endless(chunk: bytes = b"\0" * 65536, total: int | None = None) -> Callable[[], Iterator[bytes]]:
    """A body of ``total`` bytes (or without end) made of ``chunk``."""

    def chunks() -> Iterator[bytes]:
        sent = 0
        while total is None or sent < total:
            piece = chunk if total is None else chunk[: total - sent]
            sent += len(piece)
            yield piece

    return chunks


class CraftedServer:
    """A real HTTP/1.1 server on ``host`` (127.0.0.1) serving ``root`` with :class:`Reply` overrides.

    Files under ``root`` are served with Content-Length, keep-alive and ``Range: bytes=N-``, as a web
    server would; names starting with a dot are not served (as ``serve --listen`` and most web servers).
    """

    def __init__(self, root: Path | None = None, host: str = "127.0.0.1") -> None:
        self.root = root
        self.replies: dict[str, Reply] = {}
        self.requests: list[Request] = []
        #: Body bytes written per path (what really left the server, counted until the client hung up).
        self.sent: dict[str, int] = {}
        self.lock = threading.Lock()
        handler = type("CraftedHandler", (_Handler,), {"crafted": self})
        self._server = ThreadingHTTPServer((host, 0), handler)
        self._server.daemon_threads = True
        self.host = host
        self.port = int(self._server.server_address[1])
        name = f"[{host}]" if ":" in host else host
        self.origin = f"http://{name}:{self.port}"
        self.url = self.origin + "/"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def reply(self, path: str, reply: Reply) -> None:
        """Answer ``path`` (as requested, starting with ``/``) with ``reply``."""
        with self.lock:
            self.replies[path] = reply

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.reply(path, Reply(status=status, headers={"Location": location}))

    def requests_for(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> CraftedServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    crafted: CraftedServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        crafted = self.crafted
        path = self.path.split("?")[0]
        with crafted.lock:
            crafted.requests.append(Request("GET", path, {k: v for k, v in self.headers.items()},
                                            (str(self.client_address[0]), int(self.client_address[1]))))
            reply = crafted.replies.get(path)
            if reply is not None and reply.times is not None:
                reply.times -= 1
                if reply.times <= 0:
                    del crafted.replies[path]
        if reply is not None:
            self._send_reply(path, reply)
            return
        self._send_file(path)

    def _count(self, path: str, count: int) -> None:
        with self.crafted.lock:
            self.crafted.sent[path] = self.crafted.sent.get(path, 0) + count

    def _write(self, path: str, chunks: Iterable[bytes], length: int | None = None) -> None:
        written = 0
        try:
            for chunk in chunks:
                self.wfile.write(chunk)
                self._count(path, len(chunk))
                written += len(chunk)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
            return
        if length is not None and written < length:
            # A body cut short of its Content-Length: the connection ends, as when a server dies mid-file.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)

    def _send_reply(self, path: str, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        body = reply.body
        length: int | None = None
        if isinstance(reply.length, bool) and reply.length and isinstance(body, bytes):
            length = len(body)
        elif isinstance(reply.length, int) and not isinstance(reply.length, bool):
            length = reply.length
        if length is not None:
            self.send_header("Content-Length", str(length))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self._write(path, [body] if isinstance(body, bytes) else body(), length)

    def _send_file(self, path: str) -> None:
        # Opened first and measured through the handle, as a web server does: a file replaced meanwhile
        # (a session becoming ready) is sent whole in its one version, never one's length with the other's bytes.
        local = self._local(path)
        try:
            handle = local.open("rb") if local is not None else None
        except OSError:
            handle = None
        if handle is None:
            body = b"not found\n"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self._write(path, [body])
            return
        try:
            self._send_open_file(path, handle)
        finally:
            handle.close()

    def _send_open_file(self, path: str, handle: BinaryIO) -> None:
        size = os.fstat(handle.fileno()).st_size
        offset = 0
        ranged = self.headers.get("Range", "")
        if ranged.startswith("bytes=") and ranged.endswith("-") and ranged[6:-1].isdigit():
            offset = int(ranged[6:-1])
            if offset >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {offset}-{size - 1}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(size - offset))
        self.end_headers()

        def chunks() -> Iterator[bytes]:
            handle.seek(offset)
            while chunk := handle.read(65536):
                yield chunk

        self._write(path, chunks())

    def _local(self, path: str) -> Path | None:
        root = self.crafted.root
        if root is None:
            return None
        parts = [p for p in unquote(path).split("/") if p]
        if any(p.startswith(".") for p in parts):
            return None
        local = root.joinpath(*parts)
        return local if local.is_file() else None


# ------------------------------------------------------------------------------------------ running


def run_receive(session: CraftedSession, base_url: str, target: Path, *extra: str, key: str | None = None) -> Any:
    """``synco receive`` of ``session`` from ``base_url`` into ``target`` (every set), in this process."""
    from click.testing import CliRunner

    from synco_core.cli.main import cli

    return CliRunner().invoke(cli, ["receive", session.session_id, key or session.key, "--base-url", base_url,
                                    "--target", str(target), "--all", *extra])


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


def files_containing(root: Path, needle: bytes, skip: Path | None = None) -> list[Path]:
    """Every regular file under ``root`` (links not followed, ``skip`` left out) whose content has ``needle``."""
    found = []
    for folder, dirs, names in os.walk(root):
        if skip is not None and Path(folder) == skip:
            dirs.clear()
            continue
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                found.append(path)
    return found


def receive_argv(session: str, base_url: str, target: Path, *extra: str) -> list[str]:
    """``synco receive`` of ``session`` (key from ``SYNCO_KEY``) as a command line of this interpreter."""
    return [sys.executable, "-m", "synco_core", "receive", session, "--base-url", base_url, "--target", str(target),
            "--all", *extra]


def limited(memory: int | None = None, file_size: int | None = None) -> Callable[[], None]:
    """A ``preexec_fn`` that caps the child's address space and the size of any file it writes.

    With the file size capped the child gets an error (EFBIG) instead of SIGXFSZ when it writes past it,
    so an unbounded writer shows up as a failed write rather than as a killed process.
    """

    def apply() -> None:
        import resource
        import signal

        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if file_size is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    return apply


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a receive in a child process: few malloc arenas, so an address-space cap
    measures what the child holds rather than what glibc reserves per thread."""
    env = dict(os.environ)
    env.update({"MALLOC_ARENA_MAX": "2", "PYTHONUNBUFFERED": "1", **extra})
    return env


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)
