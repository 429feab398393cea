"""SSDP (UPnP discovery) sent UNICAST to one target, never to 239.255.255.250.

A unicast M-SEARCH (UPnP Device Architecture 1.1, section 1.3.2: HOST is the target, no MX)
to address:1900; the first HTTP/1.1 200 answer gives SERVER/ST/USN/LOCATION.  The device
description at LOCATION is fetched only when its host is the scanned address, and parsed with
defusedxml (friendlyName, manufacturer, modelName, modelNumber, serialNumber).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from camaudit.model import Observation
from camaudit.protocols._net import ProbeError, text
from camaudit.protocols.http import error_kind, fetch, local, make_client, parse_xml, same_host
from camaudit.protocols.wsd import unicast_exchange

PORT = 1900
MAX_HEADERS = 64


def m_search(address: str, port: int) -> bytes:
    host = f"[{address}]" if ":" in address else address
    return (f"M-SEARCH * HTTP/1.1\r\nHOST: {host}:{port}\r\nMAN: \"ssdp:discover\"\r\n"
            "ST: ssdp:all\r\nUSER-AGENT: Linux/6 UPnP/1.1 camaudit/0.1\r\n\r\n").encode()


def parse_reply(data: bytes) -> dict[str, str] | None:
    """Headers of an M-SEARCH answer (upper-cased names); None for other SSDP messages."""
    head = text(data).split("\r\n\r\n", 1)[0]
    lines = head.split("\r\n")
    if not lines[0].startswith("HTTP/1."):
        if lines[0].startswith(("NOTIFY ", "M-SEARCH ")):
            return None  # not an answer
        raise ProbeError("malformed", "not an SSDP answer")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or parts[1] != "200":
        raise ProbeError("malformed", f"status line {lines[0][:60]!r}")
    if len(lines) - 1 > MAX_HEADERS:
        raise ProbeError("oversized", "too many headers")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().upper(), value.strip()[:512])
    return headers


_DESCRIPTION = {"friendlyName": "upnp.friendly_name", "manufacturer": "upnp.manufacturer",
                "modelName": "upnp.model", "modelNumber": "upnp.model_number",
                "serialNumber": "upnp.serial", "modelDescription": "upnp.model_description",
                "UDN": "upnp.udn"}


def parse_description(body: bytes) -> dict[str, str]:
    """upnp.* fields of the root device in a UPnP device description."""
    root = parse_xml(body)
    device = next((el for el in root if local(el.tag) == "device"), None)
    if local(root.tag) != "root" or device is None:
        raise ProbeError("malformed", "not a UPnP device description")
    out: dict[str, str] = {}
    for el in device:  # the root device only, not its embedded devices
        key = _DESCRIPTION.get(local(el.tag))
        if key and el.text and el.text.strip():
            out[key] = el.text.strip()[:256]
    return out


async def _description(address: str, location: str, timeout: float) -> dict[str, str]:
    parts = urlsplit(location)
    port = parts.port or (443 if parts.scheme == "https" else 80)  # ValueError: out of range
    if parts.scheme not in ("http", "https") or not same_host(parts.hostname, address):
        return {}  # another host is never fetched (and the client's guard would refuse it)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    async with asyncio.timeout(timeout), make_client(
            address, port, tls=parts.scheme == "https", timeout=timeout) as client:
        r = await fetch(client, "GET", path)
    if r.status != 200:
        raise ProbeError("status", f"description answered {r.status}")
    return parse_description(r.body)


async def probe(address: str, *, port: int = PORT, timeout: float) -> Observation | None:
    """Unicast M-SEARCH; None when nothing answered.  ``timeout`` bounds the whole exchange."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        headers, bad = await unicast_exchange(address, port, m_search(address, port),
                                              parse_reply, timeout=timeout)
    except ValueError as exc:
        return Observation(address, port, "ssdp", transport="udp", error="refused-target",
                           raw=str(exc)[:200])
    if headers is None:
        if bad is None:
            return None
        return Observation(address, port, "ssdp", transport="udp", error=bad.kind,
                           raw=bad.detail[:200])
    obs = Observation(address, port, "ssdp", transport="udp",
                      raw="\r\n".join(f"{k}: {v}" for k, v in headers.items()))
    for name in ("SERVER", "ST", "USN", "LOCATION"):
        if headers.get(name):
            obs.fields[f"ssdp.{name.lower()}"] = headers[name]
    location = headers.get("LOCATION", "")
    left = deadline - loop.time()
    if location and left > 0:
        try:
            obs.fields.update(await _description(address, location, left))
        except Exception as exc:  # noqa: BLE001 - the answer stands; note what went wrong
            kind = "timeout" if isinstance(exc, TimeoutError) else error_kind(exc)
            obs.fields["upnp.error"] = kind
    return obs
