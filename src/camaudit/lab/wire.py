"""HTTP/1.1 and RTSP/1.0 message framing for the emulators: bounded request reading, exact
control over the answer's status line and headers (real devices' quirks included)."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import urllib.parse
from dataclasses import dataclass, field
from typing import Awaitable, Callable

MAX_HEAD = 16 * 1024
MAX_BODY = 1024 * 1024
IDLE_TIMEOUT = 30.0
MAX_REQUESTS = 200  # per connection

REASONS = {
    200: "OK", 204: "No Content", 301: "Moved Permanently", 302: "Found", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    411: "Length Required", 413: "Request Entity Too Large", 451: "Parameter Not Understood",
    454: "Session Not Found", 455: "Method Not Valid in This State",
    461: "Unsupported Transport", 500: "Internal Server Error", 501: "Not Implemented",
    503: "Service Unavailable",
}


class BadRequest(Exception):
    pass


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes
    source: str  # the client's address
    local: tuple[str, int]
    tls: bool = False

    @property
    def path(self) -> str:
        return urllib.parse.urlsplit(self.target).path or "/"

    @property
    def query(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.target).query,
                                           keep_blank_values=True))

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = "text/html"
    close: bool = False


async def read_message(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes] | None:
    """Read one request: (start line, headers, body). None on a clean close."""
    head = bytearray()
    while True:
        line = await reader.readline()
        if not line:
            if head:
                raise BadRequest("closed mid-request")
            return None
        if not head and line in (b"\r\n", b"\n"):
            continue  # tolerate blank lines between requests (RFC 7230 3.5)
        head += line
        if len(head) > MAX_HEAD:
            raise BadRequest("header too large")
        if line in (b"\r\n", b"\n"):
            break
    lines = head.decode("latin-1").split("\n")
    start = lines[0].strip()
    headers: dict[str, str] = {}
    for raw in lines[1:]:
        raw = raw.rstrip("\r")
        if not raw or ":" not in raw:
            continue
        name, _, value = raw.partition(":")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    length = headers.get("content-length", "0")
    if not length.isdigit():
        raise BadRequest("bad Content-Length")
    n = int(length)
    if n > MAX_BODY:
        raise BadRequest("body too large")
    body = await reader.readexactly(n) if n else b""
    return start, headers, body


def http_date() -> str:
    return email.utils.formatdate(usegmt=True)


Handler = Callable[[Request], Awaitable[Response]]


async def serve_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler,
                     *, server: str | None, tls: bool = False,
                     extra_headers: tuple[tuple[str, str], ...] = ()) -> None:
    """One HTTP/1.1 connection: keep-alive, bounded, idle timeout."""
    peer = writer.get_extra_info("peername") or ("", 0)
    local = writer.get_extra_info("sockname") or ("", 0)
    try:
        for _ in range(MAX_REQUESTS):
            try:
                msg = await asyncio.wait_for(read_message(reader), IDLE_TIMEOUT)
            except BadRequest:
                writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                await writer.drain()
                return
            if msg is None:
                return
            start, headers, body = msg
            parts = start.split()
            if len(parts) != 3 or not parts[2].startswith("HTTP/"):
                writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                await writer.drain()
                return
            req = Request(parts[0].upper(), parts[1], parts[2], headers, body, peer[0],
                          (local[0], local[1]), tls)
            resp = await handler(req)
            keep = (req.version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
                    and not resp.close)
            out = [f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'Unknown')}"]
            if server:
                out.append(f"Server: {server}")
            out.append(f"Date: {http_date()}")
            out.extend(f"{k}: {v}" for k, v in extra_headers)
            out.extend(f"{k}: {v}" for k, v in resp.headers)
            if resp.content_type and (resp.body or resp.status == 200):
                out.append(f"Content-Type: {resp.content_type}")
            out.append(f"Content-Length: {len(resp.body)}")
            out.append("Connection: keep-alive" if keep else "Connection: close")
            payload = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")
            if req.method != "HEAD":
                payload += resp.body
            writer.write(payload)
            await writer.drain()
            if not keep:
                return
    except (ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError, BadRequest,
            ValueError):
        return
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
