"""The hostile devices misbehave exactly as declared, and a bounded client survives them."""

from __future__ import annotations

import asyncio

import defusedxml.ElementTree as DET
import pytest
from defusedxml import DefusedXmlException

from .conftest import addr

pytestmark = pytest.mark.lab


async def test_oversized_headers_never_end(lab):
    reader, writer = await asyncio.open_connection(addr(201), 80)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    got = bytearray()
    while chunk := await asyncio.wait_for(reader.read(65536), 5):
        got += chunk
    writer.close()
    assert got.startswith(b"HTTP/1.1 200 OK\r\n")
    assert len(got) > 1024 * 1024 and b"\r\n\r\n" not in got


@pytest.mark.parametrize("port,start", [(80, b"H"), (554, b"R")])
async def test_drip_one_byte_per_second(lab, port, start):
    reader, writer = await asyncio.open_connection(addr(202), port)
    writer.write(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n" if port == 554 else b"GET / HTTP/1.1\r\n\r\n")
    got = bytearray()
    loop = asyncio.get_running_loop()
    end = loop.time() + 2.5
    try:
        while loop.time() < end:
            try:
                got += await asyncio.wait_for(reader.read(100), end - loop.time())
            except asyncio.TimeoutError:
                break
    finally:
        writer.close()
    assert got[:1] == start and 2 <= len(got) <= 4


async def test_xml_bomb_refused_by_defusedxml(lab):
    reader, writer = await asyncio.open_connection(addr(203), 80)
    writer.write(b"POST /onvif/device_service HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    data = await asyncio.wait_for(reader.read(1 << 20), 5)
    writer.close()
    body = data.partition(b"\r\n\r\n")[2]
    assert b"<!ENTITY lol9" in body and b'SYSTEM "file:///etc/passwd"' in body
    with pytest.raises(DefusedXmlException):
        DET.fromstring(body)


async def test_garbage_on_rtsp(lab):
    reader, writer = await asyncio.open_connection(addr(204), 554)
    writer.write(b"OPTIONS rtsp://x/ RTSP/1.0\r\nCSeq: 1\r\n\r\n")
    data = bytearray()
    while chunk := await asyncio.wait_for(reader.read(8192), 5):
        data += chunk
    writer.close()
    assert len(data) == 4096 and not data.startswith(b"RTSP/")


@pytest.mark.parametrize("port,req", [(80, b"GET / HTTP/1.1\r\n\r\n"), (554, b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")])
async def test_reset_mid_answer(lab, port, req):
    reader, writer = await asyncio.open_connection(addr(205), port)
    writer.write(req)
    got = bytearray()
    with pytest.raises(ConnectionResetError):
        while True:
            chunk = await asyncio.wait_for(reader.read(4096), 5)
            if not chunk:
                break
            got += chunk
    writer.close()
    assert got[:4] in (b"HTTP", b"RTSP") or got == b""
