"""Unicast WS-Discovery against a local UDP responder answering like an ONVIF camera."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

import pytest

from camaudit.protocols import wsd

ADDR = "127.0.0.13"


def probe_matches(relates_to: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><env:Envelope '
        'xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:wsadis="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
        'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:dn="http://www.onvif.org/ver10/network/wsdl" '
        'xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><env:Header>'
        "<wsa:MessageID>urn:uuid:b8a0f2c2-1dd1-11b2-8000-4419b67a2cd9</wsa:MessageID>"
        f"<wsa:RelatesTo>{relates_to}</wsa:RelatesTo>"
        '<wsa:To env:mustUnderstand="true">'
        "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>"
        '<wsa:Action env:mustUnderstand="true">'
        "http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>"
        '<wsadis:AppSequence InstanceId="1578565" MessageNumber="12"/></env:Header><env:Body>'
        "<wsadis:ProbeMatches><wsadis:ProbeMatch><wsa:EndpointReference><wsa:Address>"
        "urn:uuid:b8a0f2c2-1dd1-11b2-8000-4419b67a2cd9</wsa:Address></wsa:EndpointReference>"
        "<wsadis:Types>dn:NetworkVideoTransmitter tds:Device</wsadis:Types>"
        "<wsadis:Scopes>onvif://www.onvif.org/type/video_encoder "
        "onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/type/ptz "
        "onvif://www.onvif.org/hardware/DS-2CD2142FWD-I "
        "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2142FWD-I "
        "onvif://www.onvif.org/location/city/hangzhou</wsadis:Scopes>"
        "<wsadis:XAddrs>http://192.168.1.64/onvif/device_service</wsadis:XAddrs>"
        "<wsadis:MetadataVersion>10</wsadis:MetadataVersion></wsadis:ProbeMatch>"
        "</wsadis:ProbeMatches></env:Body></env:Envelope>").encode()


class Responder(asyncio.DatagramProtocol):
    def __init__(self, answers) -> None:
        self.answers = answers  # callable(message_id) -> list[bytes]
        self.received: list[bytes] = []

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data, addr) -> None:
        self.received.append(data)
        m = re.search(rb"<w:MessageID>([^<]+)</w:MessageID>", data)
        for answer in self.answers(m.group(1).decode() if m else ""):
            self.transport.sendto(answer, addr)


@contextlib.asynccontextmanager
async def responder(answers):
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(lambda: Responder(answers),
                                                           local_addr=(ADDR, 0))
    try:
        yield transport.get_extra_info("sockname")[1], proto
    finally:
        transport.close()


async def test_probe_match_parsed_and_unrelated_ignored():
    def answers(mid):
        return [b"\x00garbage", probe_matches("uuid:someone-else"), probe_matches(mid)]

    async with responder(answers) as (port, proto):
        obs = await wsd.probe(ADDR, port=port, timeout=2)
    assert obs is not None and obs.error is None and obs.transport == "udp"
    f = obs.fields
    assert f["wsd.types"] == "dn:NetworkVideoTransmitter tds:Device"
    assert f["wsd.xaddrs"] == "http://192.168.1.64/onvif/device_service"
    assert f["wsd.hardware"] == "DS-2CD2142FWD-I"
    assert f["wsd.name"] == "HIKVISION DS-2CD2142FWD-I"
    assert f["wsd.type"] == "video_encoder,ptz"
    assert "onvif://www.onvif.org/Profile/Streaming" in f["wsd.scopes"]
    sent = proto.received[0].decode()
    assert "<d:Types>dn:NetworkVideoTransmitter</d:Types>" in sent
    assert re.search(r"<w:MessageID>uuid:[0-9a-f-]{36}</w:MessageID>", sent)


async def test_each_probe_has_a_fresh_message_id():
    async with responder(lambda mid: []) as (port, proto):
        await wsd.probe(ADDR, port=port, timeout=0.3)
        await wsd.probe(ADDR, port=port, timeout=0.3)
    ids = [re.search(rb"<w:MessageID>([^<]+)<", d).group(1) for d in proto.received]
    assert len(set(ids)) == 2


async def test_silent_closed_and_hostile():
    async with responder(lambda mid: []) as (port, _):
        t0 = time.monotonic()
        assert await wsd.probe(ADDR, port=port, timeout=0.5) is None
        assert time.monotonic() - t0 < 1.5
    bomb = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            b"<l>&b;</l>")
    async with responder(lambda mid: [bomb]) as (port, _):
        obs = await wsd.probe(ADDR, port=port, timeout=0.5)
    assert obs.error == "xml-attack"
    # nothing listens: ICMP port unreachable ends it early, no observation
    t0 = time.monotonic()
    assert await wsd.probe("127.0.0.14", port=9, timeout=2) is None
    assert time.monotonic() - t0 < 1.5


@pytest.mark.parametrize("target", ["239.255.255.250", "255.255.255.255", "0.0.0.0",
                                    "ff02::c", "not-an-ip"])
async def test_never_multicast_or_broadcast(target):
    obs = await wsd.probe(target, timeout=0.2)
    assert obs.error == "refused-target"
