"""Unicast SSDP M-SEARCH against a local UDP responder plus its description web server."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from camaudit.protocols import ssdp

ADDR = "127.0.0.15"
OTHER = "127.0.0.16"

DESCRIPTION = b"""<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
<specVersion><major>1</major><minor>0</minor></specVersion>
<URLBase>http://192.168.1.108:49152</URLBase>
<device>
<deviceType>urn:schemas-upnp-org:device:Basic:1</deviceType>
<friendlyName>IPC-HDW2431T-AS-S2</friendlyName>
<manufacturer>Dahua</manufacturer>
<manufacturerURL>http://www.dahuasecurity.com</manufacturerURL>
<modelDescription>IPC</modelDescription>
<modelName>IPC-HDW2431T-AS-S2</modelName>
<modelNumber>IPC-HDW2431T-AS-S2</modelNumber>
<serialNumber>6G0C5C1PAZ12345</serialNumber>
<UDN>uuid:f5e6a0b2-c3d4-11e9-8000-3cef8c000001</UDN>
<deviceList><device><friendlyName>embedded</friendlyName><manufacturer>X</manufacturer>
</device></deviceList>
</device>
</root>"""


class Responder(asyncio.DatagramProtocol):
    def __init__(self, answer: bytes | None) -> None:
        self.answer = answer
        self.received: list[bytes] = []

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data, addr) -> None:
        self.received.append(data)
        if self.answer is not None:
            self.transport.sendto(b"NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\n\r\n", addr)
            self.transport.sendto(self.answer, addr)


def reply(location: str) -> bytes:
    return ("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\n"
            f"LOCATION: {location}\r\n"
            "SERVER: Linux/3.10, UPnP/1.0, Portable SDK for UPnP devices/1.6.18\r\n"
            "ST: upnp:rootdevice\r\n"
            "USN: uuid:f5e6a0b2-c3d4-11e9-8000-3cef8c000001::upnp:rootdevice\r\n\r\n").encode()


@contextlib.asynccontextmanager
async def device(answer_for, body: bytes = DESCRIPTION):
    hits: list[str] = []

    async def desc(request):
        hits.append(request.host)
        return web.Response(body=body, content_type="text/xml")

    runners = []
    ports = {}
    for host in (ADDR, OTHER):
        app = web.Application()
        app.router.add_get("/upnpdevicedesc.xml", desc)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, 0).start()
        runners.append(runner)
        ports[host] = runner.addresses[0][1]
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: Responder(answer_for(ports)), local_addr=(ADDR, 0))
    try:
        yield transport.get_extra_info("sockname")[1], proto, hits
    finally:
        transport.close()
        for r in runners:
            await r.cleanup()


async def test_msearch_and_description():
    async with device(lambda p: reply(f"http://{ADDR}:{p[ADDR]}/upnpdevicedesc.xml")) as (
            port, proto, hits):
        obs = await ssdp.probe(ADDR, port=port, timeout=3)
    f = obs.fields
    assert obs.error is None and obs.transport == "udp"
    assert f["ssdp.st"] == "upnp:rootdevice"
    assert f["ssdp.server"].startswith("Linux/3.10, UPnP/1.0")
    assert f["ssdp.usn"].endswith("::upnp:rootdevice")
    assert f["upnp.manufacturer"] == "Dahua" and f["upnp.model"] == "IPC-HDW2431T-AS-S2"
    assert f["upnp.model_number"] == "IPC-HDW2431T-AS-S2"
    assert f["upnp.serial"] == "6G0C5C1PAZ12345"
    assert f["upnp.friendly_name"] == "IPC-HDW2431T-AS-S2"
    sent = proto.received[0].decode()
    assert sent.startswith("M-SEARCH * HTTP/1.1\r\n") and f"HOST: {ADDR}:{port}" in sent
    assert 'MAN: "ssdp:discover"' in sent and "MX:" not in sent
    assert len(hits) == 1 and hits[0].startswith(f"{ADDR}:")


async def test_location_on_another_host_is_not_fetched():
    async with device(lambda p: reply(f"http://{OTHER}:{p[OTHER]}/upnpdevicedesc.xml")) as (
            port, _, hits):
        obs = await ssdp.probe(ADDR, port=port, timeout=3)
    assert obs.fields["ssdp.location"].startswith(f"http://{OTHER}:")
    assert "upnp.manufacturer" not in obs.fields and hits == []


async def test_hostile_description_and_answers():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<root><device><friendlyName>&x;</friendlyName></device></root>")
    async with device(lambda p: reply(f"http://{ADDR}:{p[ADDR]}/upnpdevicedesc.xml"),
                      body=bomb) as (port, _, _hits):
        obs = await ssdp.probe(ADDR, port=port, timeout=3)
    assert obs.fields["upnp.error"] == "xml-attack" and "ssdp.usn" in obs.fields
    async with device(lambda p: b"\xff\xfe garbage") as (port, _, _hits):
        obs = await ssdp.probe(ADDR, port=port, timeout=0.5)
    assert obs.error == "malformed"
    async with device(lambda p: None) as (port, _, _hits):
        assert await ssdp.probe(ADDR, port=port, timeout=0.5) is None


async def test_never_multicast():
    obs = await ssdp.probe("239.255.255.250", timeout=0.2)
    assert obs.error == "refused-target"
