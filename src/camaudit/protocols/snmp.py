"""SNMP v2c / v1 GET of the MIB-II system group, one community at a time.

Messages are built and parsed with pysnmp's protocol modules (pyasn1 BER) without the SNMP
engine: one connected UDP socket per try, so the kernel drops datagrams from any other source,
and nothing is shared between probes.  The engine costs ~130 ms to create and keeps global state;
a connected socket per try costs microseconds, which matters when sweeping thousands of hosts.

Each (version, community) try waits an equal share of ``timeout``; there are no retries (an agent
that does not know the community stays silent, RFC 3584 section 4.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

from pyasn1.codec.ber import decoder, encoder
from pyasn1.error import PyAsn1Error
from pysnmp.proto import api

from camaudit.identify.derive import enterprise_number
from camaudit.model import Observation
from camaudit.protocols._net import MAX_READ, ProbeError, classify, text
from camaudit.scope import admit

OIDS: dict[str, str] = {
    "1.3.6.1.2.1.1.1.0": "snmp.sysdescr",
    "1.3.6.1.2.1.1.2.0": "snmp.sysobjectid",
    "1.3.6.1.2.1.1.5.0": "snmp.sysname",
    "1.3.6.1.2.1.1.4.0": "snmp.syscontact",
}
VERSIONS: tuple[tuple[int, str], ...] = ((api.SNMP_VERSION_2C, "2c"), (api.SNMP_VERSION_1, "1"))
MAX_VALUE = 1024  # characters kept per value


class _Receiver(asyncio.DatagramProtocol):
    """Collects datagrams from a connected UDP socket into a queue (bounded)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | Exception] = asyncio.Queue(maxsize=16)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(data[:MAX_READ])

    def error_received(self, exc: Exception) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(exc)


def build_get(version: int, community: str, request_id: int) -> bytes:
    """BER-encode a GetRequest for the system OIDs."""
    mod = api.PROTOCOL_MODULES[version]
    pdu = mod.GetRequestPDU()
    mod.apiPDU.set_defaults(pdu)
    mod.apiPDU.set_request_id(pdu, request_id)
    mod.apiPDU.set_varbinds(pdu, [(oid, mod.Null("")) for oid in OIDS])
    msg = mod.Message()
    mod.apiMessage.set_defaults(msg)
    mod.apiMessage.set_community(msg, community)
    mod.apiMessage.set_pdu(msg, pdu)
    return encoder.encode(msg)


def _value_text(value) -> str | None:
    """Printable form of one varbind value; None for v2c exceptions (noSuchObject...)."""
    name = value.__class__.__name__
    if name in ("NoSuchObject", "NoSuchInstance", "EndOfMibView", "Null"):
        return None
    if name == "ObjectIdentifier" or name == "ObjectName":
        return str(value)
    if hasattr(value, "asOctets"):
        return text(bytes(value.asOctets()))[:MAX_VALUE].strip()
    return str(value)[:MAX_VALUE]


def parse_response(data: bytes, version: int, community: str, request_id: int) -> dict[str, str] | None:
    """Fields from a Response datagram; None if it is not the answer to our request.

    Raises ValueError on a datagram that does not decode as SNMP at all."""
    mod = api.PROTOCOL_MODULES[version]
    try:
        msg, _rest = decoder.decode(data, asn1Spec=mod.Message())
    except (PyAsn1Error, TypeError, ValueError) as exc:
        raise ValueError(f"undecodable SNMP datagram: {type(exc).__name__}") from None
    if int(mod.apiMessage.get_version(msg)) != version:
        return None
    pdu = mod.apiMessage.get_pdu(msg)
    if not pdu.isSameTypeWith(mod.GetResponsePDU()):
        return None
    if int(mod.apiPDU.get_request_id(pdu)) != request_id:
        return None
    fields = {"snmp.community": community,
              "snmp.version": "2c" if version == api.SNMP_VERSION_2C else "1"}
    status = int(mod.apiPDU.get_error_status(pdu))
    if status:
        fields["snmp.error_status"] = str(status)
    for oid, value in mod.apiPDU.get_varbinds(pdu):
        key = OIDS.get(str(oid))
        shown = _value_text(value) if key else None
        if key and shown is not None:
            fields[key] = shown
    pen = enterprise_number(fields.get("snmp.sysobjectid", ""))
    if pen:
        fields["snmp.enterprise"] = pen
    return fields


async def _try(address: str, port: int, version: int, community: str,
               wait: float) -> tuple[dict[str, str] | None, bytes]:
    """One GET; (fields, raw answer) or (None, b"") when nothing usable came back in ``wait``."""
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(_Receiver, remote_addr=(admit(address), port))
    garbage = False
    try:
        request_id = secrets.randbelow(2**31 - 1) + 1
        transport.sendto(build_get(version, community, request_id))
        async with asyncio.timeout(wait):
            while True:
                item = await proto.queue.get()
                if isinstance(item, Exception):
                    raise item  # ICMP port unreachable -> ConnectionRefusedError
                try:
                    fields = parse_response(item, version, community, request_id)
                except ValueError:
                    garbage = True
                    continue
                if fields is not None:
                    return fields, item
    except TimeoutError:
        if garbage:
            raise ProbeError("malformed", "undecodable SNMP answer") from None
        return None, b""
    finally:
        transport.close()


async def probe(address: str, *, port: int = 161,
                communities: tuple[str, ...] = ("public", "private"),
                timeout: float) -> Observation | None:
    """GET sysDescr/sysObjectID/sysName/sysContact with each community, v2c then v1.

    None when no agent answered; an Observation with ``error`` when one answered garbage."""
    tries = [(v, c) for v, _ in VERSIONS for c in communities]
    if not tries:
        return None
    share = timeout / len(tries)
    error: str | None = None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for version, community in tries:
        wait = min(share, deadline - loop.time())
        if wait <= 0:
            break
        try:
            fields, raw = await _try(address, port, version, community, wait)
        except Exception as exc:  # noqa: BLE001 - a device must never crash the scan
            kind = classify(exc)
            if kind == "refused":  # ICMP port unreachable: nobody listens
                return None
            error = kind
            continue
        if fields is not None:
            return Observation(address=address, port=port, protocol="snmp", transport="udp",
                               fields=fields, raw=raw.hex())
    if error:
        return Observation(address=address, port=port, protocol="snmp", transport="udp", error=error)
    return None
