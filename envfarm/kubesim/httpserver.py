"""A small asyncio HTTP/1.1 server: keep-alive, Content-Length and chunked bodies, chunked streams.

kubesim needs full control of its connections (dropping a watch mid-stream, slow answers) and speed
for 10k-pod lists, so it speaks HTTP itself instead of going through a framework.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger(__name__)

MAX_HEADER = 64 * 1024
MAX_BODY = 64 * 1024 * 1024


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Response:
    """A whole response with a known length."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class ChunkWriter:
    """Writes one chunked response body; ``abort`` drops the connection like a network fault."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self.aborted = False

    async def write(self, data: bytes) -> None:
        if data and not self.aborted:
            self._writer.write(b"%x\r\n%b\r\n" % (len(data), data))
            await self._writer.drain()

    def abort(self) -> None:
        self.aborted = True
        self._writer.transport.abort()

    @property
    def closing(self) -> bool:
        return self.aborted or self._writer.transport.is_closing()


@dataclass
class StreamResponse:
    """A chunked response whose body ``run`` writes until it returns."""

    status: int
    run: Callable[[ChunkWriter], Awaitable[None]]
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Response | StreamResponse]]


class BadRequest(Exception):
    """The bytes on the wire are not an HTTP/1.1 request we can read."""


def parse_head(head: bytes) -> tuple[str, str, dict[str, str], dict[str, str]]:
    """Split a request head into method, path, query and lower-cased headers."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"bad request line {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    url = urlsplit(parts[1])
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    return parts[0].upper(), unquote(url.path), query, headers


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    """Read a chunked request body."""
    out = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return bytes(out)
        out += await reader.readexactly(size + 2)
        del out[-2:]
        if len(out) > MAX_BODY:
            raise BadRequest("request body too large")


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """Read one request, or None at a clean end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as exc:
        raise BadRequest("request head too large") from exc
    method, path, query, headers = parse_head(head[:-4])
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await read_chunked(reader)
    else:
        length = int(headers.get("content-length") or 0)
        if length > MAX_BODY:
            raise BadRequest("request body too large")
        body = await reader.readexactly(length) if length else b""
    return Request(method, path, query, headers, body)


def encode_head(status: int, content_type: str, headers: dict[str, str], length: int | None) -> bytes:
    """The status line and headers of a response (chunked when ``length`` is None)."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", f"Content-Type: {content_type}"]
    lines.append("Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}")
    lines.extend(f"{k}: {v}" for k, v in headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class HttpServer:
    """Serves ``handler`` on a loopback TCP port with HTTP/1.1 keep-alive."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port, limit=MAX_HEADER)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._conns):
                writer.transport.abort()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(writer)
        self._tasks.add(task)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, BadRequest, ValueError) as exc:
            log.debug("connection ended: %s", exc)
        except asyncio.CancelledError:
            log.debug("connection cancelled at shutdown")
        finally:
            self._tasks.discard(task)
            self._conns.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        request = await read_request(reader)
        if request is None:
            return False
        response = await self._handler(request)
        if isinstance(response, Response):
            head = encode_head(response.status, response.content_type, response.headers, len(response.body))
            writer.write(head + response.body)
            await writer.drain()
        else:
            writer.write(encode_head(response.status, response.content_type, response.headers, None))
            chunks = ChunkWriter(writer)
            await response.run(chunks)
            if chunks.closing:
                return False
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        return request.headers.get("connection", "").lower() != "close"
