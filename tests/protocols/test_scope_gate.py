"""Every client asks the scope guard before it connects (issue 7 item 1): the sweep, TCP, TLS,
HTTP (each request, whatever URL it carries), SNMP, SSDP and WS-Discovery; a redirect, an SSDP
LOCATION or a service address a device reports never reaches an address the scan may not touch.
Small fake devices on 127.0.0.x ephemeral ports count the connections they receive."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from camaudit.discovery.sweep import Sweeper
from camaudit.protocols import ftp, http, onvif, rtsp, snmp, ssdp, ssh, telnet, tls, wsd
from camaudit.scope import Scope, guarding, parse_targets

DEVICE = "127.0.0.31"
OTHER = "127.0.0.32"  # not a target of the scan


class Counting:
    """A web server that counts the requests (and TCP connections) it receives."""

    def __init__(self, host: str, handler=None) -> None:
        self.host = host
        self.requests: list[str] = []
        self.connections = 0
        self.handler = handler
        self.port = 0

    async def __aenter__(self) -> Counting:
        async def any_path(request: web.Request) -> web.StreamResponse:
            self.requests.append(request.path_qs)
            if self.handler is not None:
                return await self.handler(request)
            return web.Response(text="<html><title>cam</title></html>", content_type="text/html")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", any_path)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        server = site._server  # count raw connections too (a TLS or RTSP client sends no HTTP)
        assert server is not None
        factory = server._protocol_factory  # type: ignore[attr-defined]

        def counting_factory():
            self.connections += 1
            return factory()

        server._protocol_factory = counting_factory  # type: ignore[attr-defined]
        return self

    async def __aexit__(self, *exc) -> None:
        await self.runner.cleanup()


async def test_every_tcp_client_refuses_a_denied_address_in_any_spelling():
    async with Counting(DEVICE) as dev:
        scope = Scope.parse([], [f"{DEVICE}/32"])
        with guarding(scope, parse_targets(["127.0.0.0/24"])):
            for spelling in (DEVICE, f"::ffff:{DEVICE}", "0x7f.0.0.31"):
                p = dev.port
                results = [
                    await http.probe(spelling, p, timeout=2),
                    await onvif.probe(spelling, p, timeout=2),
                    await rtsp.probe(spelling, p, timeout=2),
                    [await tls.probe(spelling, p, timeout=2)],
                    [await ftp.probe(spelling, p, timeout=2)],
                    [await telnet.probe(spelling, p, timeout=2)],
                    [await ssh.probe(spelling, p, timeout=2)],
                ]
                for obs in results:
                    assert obs and all(o.error == "out-of-scope" for o in obs), obs
                login = await http.try_login(spelling, p, "admin", "admin", path="/", timeout=2)
                assert login.detail == "out-of-scope", login
                login = await ssh.try_login(spelling, p, "root", "root", timeout=2)  # asyncssh's own socket
                assert login.detail == "out-of-scope", login
        assert dev.connections == 0 and dev.requests == []


async def test_the_sweep_refuses_before_any_packet():
    async with Counting(DEVICE) as dev:
        with guarding(Scope.parse([], [f"{DEVICE}/32"]), parse_targets(["127.0.0.0/24"])):
            with contextlib.suppress(ValueError):
                await Sweeper(timeout=1).sweep(f"::ffff:{DEVICE}", [dev.port])
            try:
                await Sweeper(timeout=1).sweep(DEVICE, [dev.port])
                raised = False
            except ValueError as exc:
                raised = "denied" in str(exc)
        assert raised and dev.connections == 0
        assert await Sweeper(timeout=1).sweep(DEVICE, [dev.port]) == [dev.port]  # no guard: open


async def test_an_address_that_is_not_a_target_is_never_contacted():
    async with Counting(OTHER) as other:
        with guarding(Scope(), parse_targets([DEVICE])):
            obs = await http.probe(OTHER, other.port, timeout=2)
        assert obs[-1].error == "out-of-scope" and other.connections == 0


async def test_an_absolute_url_in_a_request_cannot_leave_the_device():
    """A path taken from what a device sent (a service address, a Location) that is in fact an
    absolute URL: httpx would send it to that host; the guarded transport refuses it."""
    async with Counting(DEVICE) as dev, Counting(OTHER) as other:
        with guarding(Scope(), parse_targets([DEVICE])):
            async with http.make_client(DEVICE, dev.port, tls=False, timeout=2) as client:
                r = await http.fetch(client, "GET", "/")
                assert r.status == 200
                try:
                    await http.fetch(client, "GET", f"http://{OTHER}:{other.port}/xaddr")
                    refused = False
                except ValueError as exc:
                    refused = "not one of the scan's targets" in str(exc)
        assert refused and other.connections == 0 and dev.requests == ["/"]


async def test_redirects_follow_the_same_address_only_whatever_its_spelling():
    async def redirect_to(target: str):
        async def handler(request: web.Request) -> web.StreamResponse:
            if request.path == "/":
                raise web.HTTPFound(target)
            return web.Response(text="<title>login</title>", content_type="text/html")
        return handler

    async with Counting(OTHER) as other:
        async with Counting(DEVICE) as dev:
            dev.handler = await redirect_to(f"http://{OTHER}:{other.port}/doc/page/login.asp")
            with guarding(Scope(), parse_targets([DEVICE])):
                obs = await http.probe(DEVICE, dev.port, timeout=2)
            assert obs[0].fields["http.location"].startswith(f"http://{OTHER}:")
            assert other.connections == 0
        async with Counting(DEVICE) as dev:
            dev.handler = await redirect_to(f"http://[::ffff:{DEVICE}]:{dev.port}/doc/page/login.asp")
            with guarding(Scope(), parse_targets([DEVICE])):
                obs = await http.probe(DEVICE, dev.port, timeout=2)
            assert dev.requests[:2] == ["/", "/doc/page/login.asp"]
            assert obs[1].fields["http.title"] == "login"


class _Responder(asyncio.DatagramProtocol):
    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.received = 0

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data, addr) -> None:
        self.received += 1
        self.transport.sendto(self.answer, addr)


@contextlib.asynccontextmanager
async def udp_device(host: str, answer: bytes):
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(lambda: _Responder(answer), local_addr=(host, 0))
    try:
        yield transport.get_extra_info("sockname")[1], proto
    finally:
        transport.close()


def _ssdp_reply(location: str) -> bytes:
    return (f"HTTP/1.1 200 OK\r\nLOCATION: {location}\r\nSERVER: Linux UPnP/1.0\r\n"
            "ST: upnp:rootdevice\r\nUSN: uuid:1::upnp:rootdevice\r\n\r\n").encode()


DESCRIPTION = (b'<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device>'
               b"<manufacturer>Dahua</manufacturer><modelName>IPC</modelName></device></root>")


async def test_ssdp_location_is_fetched_only_from_the_scanned_address():
    async def desc(_request):
        return web.Response(body=DESCRIPTION, content_type="text/xml")

    async with Counting(OTHER, desc) as other, Counting(DEVICE, desc) as dev:
        for location, fetched in [
            (f"http://{OTHER}:{other.port}/d.xml", False),
            (f"http://[::ffff:{OTHER}]:{other.port}/d.xml", False),
            (f"http://0x7f.0.0.32:{other.port}/d.xml", False),
            (f"http://[::ffff:{DEVICE}]:{dev.port}/d.xml", True),  # the device, spelled otherwise
        ]:
            async with udp_device(DEVICE, _ssdp_reply(location)) as (port, _):
                with guarding(Scope(), parse_targets([DEVICE])):
                    obs = await ssdp.probe(DEVICE, port=port, timeout=2)
            assert obs is not None and obs.fields["ssdp.location"] == location
            assert ("upnp.manufacturer" in obs.fields) is fetched, (location, obs.fields)
        assert other.connections == 0 and len(dev.requests) == 1


async def test_udp_probes_refuse_denied_addresses_in_any_spelling():
    async with udp_device(DEVICE, b"HTTP/1.1 200 OK\r\nST: x\r\n\r\n") as (port, proto):
        with guarding(Scope.parse([], [f"{DEVICE}/32"]), parse_targets(["127.0.0.0/24"])):
            for spelling in (DEVICE, f"::ffff:{DEVICE}"):
                s = await ssdp.probe(spelling, port=port, timeout=1)
                w = await wsd.probe(spelling, port=port, timeout=1)
                n = await snmp.probe(spelling, port=port, timeout=1)
                assert s is not None and s.error == "refused-target"
                assert w is not None and w.error == "refused-target"
                assert n is not None and n.error == "out-of-scope"
        assert proto.received == 0
    for multicast in ("::ffff:239.255.255.250", "0xef.0xff.0xff.0xfa"):  # no guard needed
        obs = await ssdp.probe(multicast, timeout=0.2)
        assert obs is not None and obs.error == "refused-target"
