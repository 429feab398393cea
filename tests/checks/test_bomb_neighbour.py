"""A compression bomb next to a camera with its factory password (issue 7 item 2): both are
reported, the password is found, and the scanning process stays small (the bomb drove it to
4.3 GB before the HTTP client read raw bytes).  Devices on 127.72.1.0/24."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys

import brotli
import pytest
from aiohttp import web

from .fakes import FakeHikvision

GiB = 1 << 30


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def brotli_bomb(size: int) -> bytes:
    c = brotli.Compressor(quality=5)
    zeros = bytes(1 << 20)
    return b"".join([c.process(zeros) for _ in range(size >> 20)] + [c.finish()])


SCAN = r"""
import asyncio, json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # a failing client fails here, not the machine
from camaudit.engine.api import run_scan
from camaudit.engine.options import ScanOptions
from camaudit.scope import Scope
from camaudit.store import Store

open("/proc/self/clear_refs", "w").write("5")  # this process's peak only (Linux keeps the parent's)
db, ports = sys.argv[1], tuple(int(p) for p in sys.argv[2].split(","))
store = Store(db)
opts = ScanOptions(ports=ports, udp=False, timeout=4, connect_timeout=1, operator="bomb-test")
sid = asyncio.run(run_scan(["127.72.1.1-2"], opts, store, scope=Scope.parse(["127.72.1.0/24"])))
doc = store.report_document(sid)
hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")][0]
print(json.dumps({"rss_kb": int(hwm.split()[1]),
                  "devices": {d["address"]: {"findings": [f["check_id"] for f in d["findings"]],
                                             "errors": d["errors"]} for d in doc["devices"]}}))
"""


class _Hikvision(FakeHikvision):
    def __init__(self, host: str, port: int, users: dict[str, str]) -> None:
        super().__init__(users)
        self.host, self.want = host, port

    async def start(self) -> int:
        app = web.Application()
        app.router.add_get("/", self._root)
        app.router.add_get("/ISAPI/System/deviceInfo", self._protected)
        app.router.add_get("/ISAPI/Security/userCheck", self._protected)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, self.host, self.want).start()
        self.port = self.want
        return self.port


@pytest.mark.timeout(180)
async def test_a_bomb_next_to_an_admin_device_costs_neither_memory_nor_its_findings(tmp_path):
    """The bomb at 127.72.1.1 answers every path with 1 GiB of brotli; the Hikvision-like camera
    at 127.72.1.2 has its factory password."""
    br_bomb = brotli_bomb(GiB)
    bomb_port, cam_port = free_port("127.72.1.1"), free_port("127.72.1.2")

    async def bomb(_request):
        return web.Response(body=br_bomb, headers={"Content-Encoding": "br"}, content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", bomb)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.72.1.1", bomb_port).start()
    cam = _Hikvision("127.72.1.2", cam_port, {"admin": "12345"})
    await cam.start()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", SCAN, f"sqlite:///{tmp_path / 's.sqlite'}", f"{bomb_port},{cam_port}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=dict(os.environ, CAMAUDIT_HOME=str(tmp_path)))
        out, err = await asyncio.wait_for(proc.communicate(), 150)
    finally:
        await cam.stop()
        await runner.cleanup()
    assert proc.returncode == 0, err.decode()[-2000:]
    result = json.loads(out.decode().strip().splitlines()[-1])
    devices = result["devices"]
    assert set(devices) == {"127.72.1.1", "127.72.1.2"}, devices
    assert "default-credentials" in devices["127.72.1.2"]["findings"], devices
    assert cam.attempts["admin"] >= 1
    assert result["rss_kb"] < 300 * 1024, result["rss_kb"]
