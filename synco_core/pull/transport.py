"""Receive's transport over a channel: a session and public files read through :class:`ChannelClient`."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from synco_core.errors import TransferError
from synco_core.pull.client import BatchFile, ChannelClient, Response


@dataclass
class ChannelResponse:
    """One open read, in the shape of :class:`synco_core.receive.transport.Response`."""

    status: int
    offset: int
    total_size: int | None
    chunks: Iterator[bytes]

    def iter_bytes(self) -> Iterator[bytes]:
        yield from self.chunks


class _Collect:
    """A write-only sink the age writer encrypts into; its content is taken out after every write."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: Any) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


class ChannelTransport:
    """A :class:`~synco_core.receive.transport.Transport` reading a session through a channel.

    Paths under ``<session folder>/`` are the session's artifacts; any other relative path is a public
    file (a URL path under the web root); absolute ``http(s)://`` URLs (files on S3 or a CDN) are fetched
    directly from this machine over HTTP, as receive would.

    When the remote host could not encrypt (no ``cryptography`` there), the session arrives as plaintext
    through the already encrypted channel. So that the receive code stays one code path, this transport
    then wraps what it hands on in age encryption to ``rewrap`` (a local recipient whose identity only
    this process knows): the meta file (its ``encryptedSizeBytes`` removed, since the local re-encryption
    has its own sizes), the indexes, and the artifacts as streams. Plaintext sizes and SHA-256 sums are
    still verified by receive against the meta.
    """

    #: Files per :meth:`open_many` call, and readers (see ``receive_public_files``): a channel is one
    #: ordered stream, so two readers keep it busy (one reads while the other's files are on their way)
    #: and more would only wait for their turn.
    pipeline_files = 2048
    pipeline_readers = 2

    def __init__(self, client: ChannelClient, session_folder: str, *, description: str,
                 channel_compression: str | None = None, rewrap: Sequence[Any] | None = None,
                 meta_limit: int = 512 << 20) -> None:
        self.client = client
        self.session_folder = session_folder.strip("/")
        self.description = description
        self.channel_compression = channel_compression
        self.rewrap = list(rewrap) if rewrap else None
        self._meta_limit = meta_limit
        self._small_documents: set[str] = {"meta.json.enc"}
        self._http: dict[str, Any] = {}
        self._http_lock = threading.Lock()

    @contextlib.contextmanager
    def open(self, path: str, offset: int = 0, length: int | None = None) -> Iterator[ChannelResponse]:
        from synco_core.receive.transport import ForbiddenError, NotFoundError, RangeNotSatisfiableError

        if path.startswith(("http://", "https://")):
            with self._http_transport(path).open(path, offset, length) as response:
                yield response
            return
        prefix = self.session_folder + "/"
        if path.startswith(prefix):
            space, name, compress = "session", path[len(prefix):], self.channel_compression
        else:
            space, name, compress = "public", path, None
        rewrap = self.rewrap is not None and space == "session"
        with self.client.get(space, name, 0 if rewrap else offset, compress,
                             None if rewrap else length) as response:
            if response.status == "missing":
                raise NotFoundError(f"not found on the remote side: {path}")
            if response.status == "range":
                raise RangeNotSatisfiableError(f"range not satisfiable: {path}")
            if response.status == "refused":
                # As a web server's 403: asking again will not get it.
                raise ForbiddenError(f"the remote side refused {path}: {response.message or response.status}")
            if not response.ok:
                raise TransferError(f"the remote side refused {path}: {response.message or response.status}")
            if not rewrap:
                yield ChannelResponse(status=206 if response.offset else 200, offset=response.offset,
                                      total_size=response.size, chunks=response.iter_chunks())
            elif name in self._small_documents or name.endswith(".index.json.enc"):
                data = self._encrypt_document(name, response)
                yield ChannelResponse(status=200, offset=0, total_size=len(data), chunks=iter([data]))
            else:
                # The re-encrypted stream always starts at 0 (a fresh file key), which receive handles like
                # a server ignoring a Range request: it restarts its part file.
                yield ChannelResponse(status=200, offset=0, total_size=None,
                                      chunks=self._encrypt_stream(response.iter_chunks()))

    def open_many(self, paths: Sequence[str]) -> Iterator[tuple[int, ChannelResponse | None]]:
        """Pipelined public-file reads, in the shape of :meth:`HttpTransport.open_many`.

        One thread keeps a window of requests in flight and reads the answers in order, so thousands of
        small files cost no thread hand-off each. ``None`` stands for an answer that is not a plain ``ok``
        (missing, refused): the caller asks again with :meth:`open`, which turns it into the right error.
        """
        prefix = self.session_folder + "/"
        if any(path.startswith((prefix, "http://", "https://")) for path in paths):
            raise TransferError("open_many reads public files of the application only")
        answers: Iterator[tuple[int, Response | BatchFile]]
        if self.client.batches:
            answers = self.client.get_batch("public", paths)
        else:
            answers = ((position, response) for position, (_request, response)
                       in enumerate(self.client.get_many([("public", path, 0) for path in paths])))
        for position, response in answers:
            if not response.ok:
                yield position, None
                continue
            yield position, ChannelResponse(status=200, offset=0, total_size=response.size,
                                            chunks=response.iter_chunks())

    def _encrypt_document(self, name: str, response: Response) -> bytes:
        from synco_core import age

        data = bytearray()
        for chunk in response.iter_chunks():
            data += chunk
            if len(data) > self._meta_limit:
                raise TransferError(f"{name} is larger than {self._meta_limit} bytes; refusing to hold it in memory")
        plain = bytes(data)
        if name == "meta.json.enc":
            plain = self._strip_encrypted_sizes(plain)
        assert self.rewrap is not None
        return age.encrypt_bytes(plain, self.rewrap)

    def _strip_encrypted_sizes(self, plain: bytes) -> bytes:
        from synco_core.wire import Meta

        meta = Meta.from_bytes(plain)
        for file_set in meta.file_sets:
            for detail in (file_set.dump, file_set.public, file_set.private):
                if detail is not None:
                    detail.encrypted_size_bytes = None
            if file_set.public is not None:
                self._small_documents.add(file_set.public.index_file_name)
        return meta.to_bytes()

    def _encrypt_stream(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        from synco_core import age

        assert self.rewrap is not None
        sink = _Collect()
        writer = age.encrypt_writer(sink, self.rewrap)  # type: ignore[arg-type]
        yield sink.take()
        for chunk in chunks:
            writer.write(chunk)
            if sink.buffer:
                yield sink.take()
        writer.close()
        yield sink.take()

    def _http_transport(self, url: str) -> Any:
        from urllib.parse import urlsplit

        from synco_core.receive.http_transport import HttpTransport

        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}/"
        with self._http_lock:
            if origin not in self._http:
                self._http[origin] = HttpTransport(origin)
            return self._http[origin]

    def close(self) -> None:
        with self._http_lock:
            for transport in self._http.values():
                transport.close()
            self._http.clear()
