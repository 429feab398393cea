"""Devices that misbehave on purpose, to prove the scanner's bounds and deadlines hold."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct

DRIP_LIMIT = 600  # bytes (and seconds) a drip connection lasts at most
OVERSIZE = 1024 * 1024

XML_BOMB = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE env:Envelope [\n'
    ' <!ENTITY lol "lol">\n'
    + "".join(f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
              for i in range(1, 10))
    + ' <!ENTITY xxe SYSTEM "file:///etc/passwd">\n'
    "]>\n"
    '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
    "<env:Body><tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>&lol9;&xxe;"
    "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse></env:Body></env:Envelope>"
)


async def _drain_request(reader: asyncio.StreamReader, timeout: float = 5.0) -> None:
    """Read what the client sent first (up to a blank line or 16 KiB), never longer than timeout."""
    with contextlib.suppress(asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError,
                             asyncio.LimitOverrunError, ConnectionError):
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()


async def oversized_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A status line, then 1 MiB of one header line that never ends."""
    try:
        await _drain_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nServer: Boa/0.94.14rc21\r\nX-Padding: ")
        chunk = b"A" * 65536
        for _ in range(OVERSIZE // len(chunk)):
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        await _close(writer)


def drip(answer: bytes):
    """A server that answers ``answer`` one byte per second."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _drain_request(reader)
            for b in (answer * 50)[:DRIP_LIMIT]:
                writer.write(bytes([b]))
                await writer.drain()
                await asyncio.sleep(1.0)
        except ConnectionError:
            pass
        finally:
            await _close(writer)

    return handler


DRIP_HTTP = b"HTTP/1.1 200 OK\r\nServer: thttpd/2.25b\r\nContent-Type: text/html\r\n\r\n<html>"
DRIP_RTSP = b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE\r\n\r\n"


async def xml_bomb(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Every request gets a SOAP answer carrying billion laughs and an external entity."""
    try:
        await _drain_request(reader)
        body = XML_BOMB.encode()
        writer.write(b"HTTP/1.1 200 OK\r\nServer: gSOAP/2.8\r\n"
                     b"Content-Type: application/soap+xml; charset=utf-8\r\n"
                     + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()
    except ConnectionError:
        pass
    finally:
        await _close(writer)


def garbage(seed: int):
    """Random bytes (deterministic per device) instead of an RTSP answer."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _drain_request(reader)
            rng = random.Random(seed)
            writer.write(bytes(rng.randrange(256) for _ in range(4096)))
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            await _close(writer)

    return handler


def reset(half: bytes):
    """Half an answer, then a TCP RST (SO_LINGER 0 close)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _drain_request(reader)
            writer.write(half[: len(half) // 2])
            await writer.drain()
            await asyncio.sleep(0.05)
        except ConnectionError:
            pass
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    return handler


RESET_HTTP = (b"HTTP/1.1 200 OK\r\nServer: Webs\r\nContent-Type: text/html\r\nContent-Length: 512\r\n\r\n"
              + b"<html><head><title>Web Client</title></head><body>" + b"x" * 400)
RESET_RTSP = b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: Rtsp Server/2.0\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY\r\n\r\n"
