"""Unicast discovery answers: WS-Discovery ProbeMatches (UDP 3702, SOAP 1.2 / WS-Discovery
2005/04 as ONVIF uses it) and SSDP M-SEARCH responses (UDP 1900, UPnP 1.0).  Answers go back
to the sender only, and only when the sender is a loopback address."""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from xml.sax.saxutils import escape

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

WSD_NS = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
WSA_NS = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
SOAP_NS = "http://www.w3.org/2003/05/soap-envelope"
MAX_DATAGRAM = 8192


def _loopback(addr: tuple[str, int]) -> bool:
    try:
        return ipaddress.ip_address(addr[0]).is_loopback
    except ValueError:
        return False


class WsDiscovery(asyncio.DatagramProtocol):
    def __init__(self, endpoint_uuid: str, xaddrs: str, scopes: tuple[str, ...]) -> None:
        self.endpoint = f"urn:uuid:{endpoint_uuid}"
        self.xaddrs = xaddrs
        self.scopes = scopes
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is None or not _loopback(addr) or len(data) > MAX_DATAGRAM:
            return
        try:
            root = DET.fromstring(data, forbid_dtd=True)
        except (DefusedXmlException, SyntaxError, ValueError):
            return
        action = root.findtext(f"{{{SOAP_NS}}}Header/{{{WSA_NS}}}Action") or ""
        probe = root.find(f"{{{SOAP_NS}}}Body/{{{WSD_NS}}}Probe")
        if probe is None or not action.endswith("/Probe"):
            return
        wanted = (probe.findtext(f"{{{WSD_NS}}}Types") or "").split()
        if wanted and not any(w.split(":")[-1] in ("NetworkVideoTransmitter", "Device") for w in wanted):
            return
        msg_id = root.findtext(f"{{{SOAP_NS}}}Header/{{{WSA_NS}}}MessageID") or ""
        self.transport.sendto(self.matches(msg_id).encode(), addr)

    def matches(self, relates_to: str) -> str:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_NS}" xmlns:wsa="{WSA_NS}" xmlns:d="{WSD_NS}" '
            'xmlns:dn="http://www.onvif.org/ver10/network/wsdl" '
            'xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
            "<SOAP-ENV:Header>"
            f"<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID>"
            f"<wsa:RelatesTo>{escape(relates_to)}</wsa:RelatesTo>"
            "<wsa:To SOAP-ENV:mustUnderstand=\"true\">"
            "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>"
            "<wsa:Action SOAP-ENV:mustUnderstand=\"true\">"
            "http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>"
            "</SOAP-ENV:Header><SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>"
            f"<wsa:EndpointReference><wsa:Address>{self.endpoint}</wsa:Address></wsa:EndpointReference>"
            "<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>"
            f"<d:Scopes>{escape(' '.join(self.scopes))}</d:Scopes>"
            f"<d:XAddrs>{escape(self.xaddrs)}</d:XAddrs>"
            "<d:MetadataVersion>1</d:MetadataVersion>"
            "</d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>")


class Ssdp(asyncio.DatagramProtocol):
    """Answers M-SEARCH with one response per matching search target."""

    def __init__(self, device_uuid: str, location: str, server: str) -> None:
        self.uuid = device_uuid
        self.location = location
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is None or not _loopback(addr) or len(data) > MAX_DATAGRAM:
            return
        lines = data.decode("latin-1").split("\r\n")
        if not lines or not lines[0].upper().startswith("M-SEARCH * HTTP/1.1"):
            return
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:]) if k}
        if headers.get("man", "").strip('"') != "ssdp:discover":
            return
        st = headers.get("st", "")
        targets = {"upnp:rootdevice": f"uuid:{self.uuid}::upnp:rootdevice",
                   f"uuid:{self.uuid}": f"uuid:{self.uuid}",
                   "urn:schemas-upnp-org:device:Basic:1":
                       f"uuid:{self.uuid}::urn:schemas-upnp-org:device:Basic:1"}
        chosen = targets.items() if st == "ssdp:all" else [(st, targets[st])] if st in targets else []
        for target, usn in chosen:
            self.transport.sendto((
                "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\n"
                f"LOCATION: {self.location}\r\nSERVER: {self.server}\r\nST: {target}\r\n"
                f"USN: {usn}\r\n\r\n").encode(), addr)
