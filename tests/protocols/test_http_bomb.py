"""A compression bomb costs neither memory, nor the event loop, nor a neighbour its findings
(issue 7 item 2).  The HTTP client reads raw bytes under the 64 KiB cap and undoes a
Content-Encoding (br, gzip, deflate, nested) within the same cap; what it cannot decode within
bounds (zstd, deeper nesting) stays raw.  The scan with a bomb next to a camera is in
tests/checks/test_bomb_neighbour.py."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib

import brotli
import pytest
from aiohttp import web

from camaudit.protocols import http
from camaudit.protocols._net import MAX_READ

HOST = "127.0.0.33"
GiB = 1 << 30


def brotli_bomb(size: int) -> bytes:
    c = brotli.Compressor(quality=5)
    zeros = bytes(1 << 20)
    return b"".join([c.process(zeros) for _ in range(size >> 20)] + [c.finish()])


@pytest.fixture(scope="module")
def br_bomb() -> bytes:
    bomb = brotli_bomb(GiB)  # 1 GiB of zeros in about 1.6 KB
    assert len(bomb) < 4096
    return bomb


def _gzip_bomb(size: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    return b"".join([c.compress(zeros) for _ in range(size >> 20)] + [c.flush()])


def test_decode_is_bounded_for_every_coding(br_bomb):
    gz = _gzip_bomb(64 << 20)  # 64 MiB in 64 KB: one raw read's worth
    nested = gzip.compress(gzip.compress(bytes(200 << 20)))  # gzip of gzip: 200 MiB in ~1 KB
    cases = {"br": br_bomb, "gzip": gz, "x-gzip": gz, "gzip, gzip": nested,
             "deflate": zlib.compress(bytes(8 << 20)),
             "raw-deflate": zlib.compressobj(9, zlib.DEFLATED, -15).compress(bytes(8 << 20))}
    for coding, raw in cases.items():
        t = time.perf_counter()
        body, cut, left = http.decode_body(coding.replace("raw-", ""), raw)
        assert len(body) == MAX_READ and cut and left == "", coding
        assert time.perf_counter() - t < 0.5, coding
    body, cut, left = http.decode_body("gzip", gzip.compress(b"<title>ok</title>"))
    assert (body, cut, left) == (b"<title>ok</title>", False, "")
    # what cannot be decoded within bounds is kept as sent, and said so
    assert http.decode_body("zstd", b"\x28\xb5\x2f\xfd junk") == (b"\x28\xb5\x2f\xfd junk", False, "zstd")
    assert http.decode_body("gzip", b"not gzip")[2] == "gzip"
    deep = "gzip, " * 5 + "gzip"
    assert http.decode_body(deep, b"x") == (b"x", False, ", ".join(["gzip"] * 6))


async def test_probe_of_a_bomb_reads_at_most_the_cap(br_bomb):
    async def bomb(_request):
        return web.Response(body=br_bomb, headers={"Content-Encoding": "br", "Server": "bomb"},
                            content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", bomb)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, 0).start()
    port = runner.addresses[0][1]
    loop = asyncio.get_running_loop()
    lag: list[float] = []

    async def heartbeat():  # the event loop must stay responsive while the bomb is read
        while True:
            t = loop.time()
            await asyncio.sleep(0.01)
            lag.append(loop.time() - t - 0.01)

    beat = asyncio.ensure_future(heartbeat())
    try:
        obs = await http.probe(HOST, port, timeout=5)
    finally:
        beat.cancel()
        await runner.cleanup()
    assert obs and not obs[0].error and obs[0].fields["http.server"] == "bomb"
    assert len(obs[0].fields["http.body"]) <= http.BODY_KEEP
    assert max(lag, default=0) < 0.25, max(lag)
