"""WS-Discovery (SOAP-over-UDP, 2005/04 as ONVIF uses it), sent UNICAST to one target.

A Probe for ``dn:NetworkVideoTransmitter`` with a fresh MessageID goes to address:3702 only,
never to the 239.255.255.250 multicast group; the ProbeMatches that RelatesTo it is parsed
(Types, Scopes, XAddrs, endpoint).  ``unicast_exchange`` is the shared one-datagram-out,
answers-in helper (also used by SSDP); it refuses multicast and broadcast destinations.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Callable, TypeVar
from urllib.parse import unquote

from camaudit.model import Observation
from camaudit.protocols._net import MAX_READ, ProbeError
from camaudit.protocols.http import local, parse_xml
from camaudit.scope import admit

T = TypeVar("T")
PORT = 3702
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
PROBE_MATCHES = WSD + "/ProbeMatches"


def check_unicast(address: str) -> str:
    """The address, normalised, when the scope guard admits it (which refuses multicast,
    broadcast and 0.0.0.0/8 in every spelling); ScopeError (a ValueError) otherwise."""
    return admit(address)


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, accept: Callable[[bytes], T | None]) -> None:
        self.accept = accept
        self.done: asyncio.Future = asyncio.get_running_loop().create_future()
        self.bad: ProbeError | None = None

    def datagram_received(self, data: bytes, addr) -> None:
        if self.done.done():
            return
        try:
            result = self.accept(data[:MAX_READ])
        except ProbeError as exc:  # a hostile or broken datagram: remember it, keep listening
            self.bad = exc
            return
        if result is not None:
            self.done.set_result(result)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable and the like
        if not self.done.done():
            self.done.set_exception(exc)


async def unicast_exchange(address: str, port: int, payload: bytes,
                           accept: Callable[[bytes], T | None], *,
                           timeout: float) -> tuple[T | None, ProbeError | None]:
    """Send ``payload`` to address:port (unicast only) and wait for the first datagram that
    ``accept`` turns into a result.  Returns (result or None, the last bad datagram's error).

    The socket is connected to the target, so datagrams from anyone else are dropped by the
    kernel; SO_BROADCAST is never set."""
    address = check_unicast(address)
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: _Collector(accept), remote_addr=(address, port))
    try:
        transport.sendto(payload)
        with contextlib.suppress(TimeoutError, asyncio.TimeoutError, OSError):
            return await asyncio.wait_for(proto.done, timeout), proto.bad
        return None, proto.bad
    finally:
        transport.close()


def probe_message(message_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" '
        f'xmlns:w="{WSA}" xmlns:d="{WSD}" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
        f"<e:Header><w:MessageID>{message_id}</w:MessageID>"
        '<w:To e:mustUnderstand="true">urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>'
        f'<w:Action e:mustUnderstand="true">{WSD}/Probe</w:Action></e:Header>'
        "<e:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></e:Body>"
        "</e:Envelope>").encode("utf-8")


def parse_probe_matches(data: bytes, message_id: str) -> dict[str, str] | None:
    """wsd.* fields of a ProbeMatches answering ``message_id``; None for unrelated messages."""
    root = parse_xml(data)
    if local(root.tag) != "Envelope":
        raise ProbeError("malformed", "not a SOAP envelope")
    header = {local(el.tag): (el.text or "").strip() for el in root.iter()
              if local(el.tag) in ("RelatesTo", "Action")}
    if header.get("RelatesTo") != message_id:
        return None
    match = next((el for el in root.iter() if local(el.tag) == "ProbeMatch"), None)
    if match is None:
        return None
    values: dict[str, str] = {}
    for el in match.iter():
        name = local(el.tag)
        if name in ("Types", "Scopes", "XAddrs", "Address", "MetadataVersion") and el.text:
            values.setdefault(name, " ".join(el.text.split())[:2048])
    out = {"wsd.types": values.get("Types", ""), "wsd.scopes": values.get("Scopes", ""),
           "wsd.xaddrs": values.get("XAddrs", "")}
    if values.get("Address"):
        out["wsd.endpoint"] = values["Address"][:256]
    for scope in out["wsd.scopes"].split():
        prefix = "onvif://www.onvif.org/"
        if scope.startswith(prefix):
            kind, _, value = scope[len(prefix):].partition("/")
            if kind in ("name", "hardware", "type", "location", "mac", "model") and value:
                key = f"wsd.{kind}"
                text = unquote(value)[:256]
                out[key] = f"{out[key]},{text}" if key in out else text
    return out


async def probe(address: str, *, port: int = PORT, timeout: float) -> Observation | None:
    """Unicast WS-Discovery Probe; None when nothing answered (or the port is closed)."""
    message_id = f"uuid:{uuid.uuid4()}"
    try:
        fields, bad = await unicast_exchange(
            address, port, probe_message(message_id),
            lambda data: parse_probe_matches(data, message_id), timeout=timeout)
    except ValueError as exc:
        return Observation(address, port, "wsd", transport="udp", error="refused-target",
                           raw=str(exc)[:200])
    if fields is not None:
        return Observation(address, port, "wsd", transport="udp", fields=fields,
                           raw=fields["wsd.scopes"])
    if bad is not None:
        return Observation(address, port, "wsd", transport="udp", error=bad.kind,
                           raw=bad.detail[:200])
    return None
