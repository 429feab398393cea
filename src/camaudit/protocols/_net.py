"""Bounded, deadline-guarded socket helpers shared by the protocol clients."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass

from camaudit.scope import ScopeError, admit

MAX_READ = 64 * 1024  # bytes read from any one answer, at most
MAX_LINE = 8 * 1024  # bytes in one header line / banner line


class ProbeError(Exception):
    """A device answered in a way we could not use. ``kind`` is a short machine word."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


def classify(exc: BaseException) -> str:
    """Map an exception raised while talking to a device to a short error word."""
    if isinstance(exc, ProbeError):
        return exc.kind
    if isinstance(exc, ScopeError):
        return "out-of-scope"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError)):
        return "reset"
    if isinstance(exc, (asyncio.LimitOverrunError,)):
        return "oversized"
    if isinstance(exc, (UnicodeDecodeError, ValueError)):
        return "malformed"
    if isinstance(exc, OSError):
        return "oserror"
    return "error"


@dataclass
class Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_some(self, limit: int = MAX_READ) -> bytes:
        return await self.reader.read(limit)

    async def read_until(self, sep: bytes, limit: int = MAX_READ) -> bytes:
        """Read up to and including ``sep``; ProbeError('oversized') past ``limit`` bytes."""
        buf = bytearray()
        while sep not in buf:
            if len(buf) > limit:
                raise ProbeError("oversized", f"no {sep!r} within {limit} bytes")
            chunk = await self.reader.read(4096)
            if not chunk:
                if buf:
                    raise ProbeError("reset", "connection closed mid-answer")
                raise ProbeError("reset", "connection closed before any answer")
            buf += chunk
        return bytes(buf)

    async def read_exactly(self, n: int) -> bytes:
        if n > MAX_READ:
            raise ProbeError("oversized", f"declared length {n} > {MAX_READ}")
        return await self.reader.readexactly(n)


async def connect(address: str, port: int, *, timeout: float, ssl=None,
                  server_hostname: str | None = None) -> Conn:
    """A TCP (or TLS) connection to ``address`` once the scope guard admits it."""
    address = admit(address)
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(address, port, ssl=ssl, limit=MAX_LINE * 2,
                                server_hostname=server_hostname if ssl else None),
        timeout,
    )
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return Conn(reader, writer)


def text(data: bytes) -> str:
    """Decode what a device sent for display: never raises, strips NULs."""
    return data.decode("utf-8", errors="replace").replace("\x00", "")
