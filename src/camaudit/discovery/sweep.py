"""TCP connect sweep: which of the camera ports answer on a host.

A full TCP connect (like ``nmap -sT``) needs no privileges and leaves the device as it was: we
close as soon as the handshake completes.  Concurrency is bounded globally (a semaphore shared
by every host of the scan) and per host; new connections can be rate limited globally; every
connect has a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Iterable

from aiolimiter import AsyncLimiter

from camaudit.scope import admit

_OPEN = "open"
_CLOSED = "closed"
_FILTERED = "filtered"


def rate_limiter(rate: float) -> AsyncLimiter | None:
    """``rate`` acquisitions per second (None: no limit).  Below one per second the bucket holds
    one acquisition per 1/rate seconds (aiolimiter cannot acquire more than its capacity)."""
    if not rate or rate <= 0:
        return None
    return AsyncLimiter(rate, 1.0) if rate >= 1 else AsyncLimiter(1, 1.0 / rate)


class Sweeper:
    def __init__(self, *, concurrency: int = 512, host_concurrency: int = 32,
                 rate: float = 0.0, host_rate: float = 0.0, timeout: float = 1.5) -> None:
        self._global = asyncio.Semaphore(max(1, concurrency))
        self.host_concurrency = max(1, host_concurrency)
        self._limiter = rate_limiter(rate)
        self.host_rate = host_rate
        self.timeout = timeout
        self.attempts = 0  # connects started, for statistics

    async def _connect(self, address: str, port: int) -> str:
        async with self._global:
            if self._limiter is not None:
                await self._limiter.acquire()
            self.attempts += 1
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            # RST on close: no TIME_WAIT pile-up when sweeping thousands of hosts, and the
            # device sees an aborted connection, as with nmap -sT.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout(self.timeout):  # no extra task per connect, unlike wait_for
                    await loop.sock_connect(sock, (address, port))
                return _OPEN
            except (asyncio.TimeoutError, TimeoutError):
                return _FILTERED
            except ConnectionRefusedError:
                return _CLOSED
            except OSError as exc:
                if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
                    return _FILTERED
                return _CLOSED
            finally:
                with contextlib.suppress(OSError):
                    sock.close()

    async def sweep(self, address: str, ports: Iterable[int]) -> list[int]:
        """Open TCP ports of ``address`` among ``ports``, sorted.  ScopeError, before any
        packet, when the scope guard does not admit ``address``."""
        address = admit(address)
        ports = list(ports)
        sem = asyncio.Semaphore(self.host_concurrency) if self.host_concurrency < len(ports) else None
        host_limiter = rate_limiter(self.host_rate)

        async def one(port: int) -> tuple[int, str]:
            async with sem if sem is not None else contextlib.nullcontext():
                if host_limiter is not None:
                    await host_limiter.acquire()
                return port, await self._connect(address, port)

        results = await asyncio.gather(*(one(p) for p in ports))
        return sorted(p for p, state in results if state == _OPEN)
