"""SNMP v1/v2c agent for the MIB-II system group (RFC 1213 / RFC 3418): GET, GETNEXT and
GETBULK, encoded in real BER with pysnmp's message classes.  Wrong community: silence."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import Any

from pyasn1.codec.ber import decoder, encoder
from pyasn1.error import PyAsn1Error
from pysnmp.proto import api

from camaudit.lab.auth import Gate

SYSTEM = (1, 3, 6, 1, 2, 1, 1)
MAX_DATAGRAM = 4096


class SnmpAgent(asyncio.DatagramProtocol):
    def __init__(self, gate: Gate, community: str, sysdescr: str, sysobjectid: str,
                 sysname: str, syscontact: str = "", syslocation: str = "") -> None:
        self.gate = gate
        self.community = community
        self.started = time.monotonic()
        self.values: dict[tuple[int, ...], tuple[str, Any]] = {
            SYSTEM + (1, 0): ("str", sysdescr),
            SYSTEM + (2, 0): ("oid", sysobjectid),
            SYSTEM + (3, 0): ("ticks", None),
            SYSTEM + (4, 0): ("str", syscontact),
            SYSTEM + (5, 0): ("str", sysname),
            SYSTEM + (6, 0): ("str", syslocation),
            SYSTEM + (7, 0): ("int", 72),
        }
        self.order = sorted(self.values)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def _value(self, mod, oid: tuple[int, ...]):
        kind, v = self.values[oid]
        if kind == "str":
            return mod.OctetString(v)
        if kind == "oid":
            return mod.ObjectIdentifier(v)
        if kind == "ticks":
            return mod.TimeTicks(int((time.monotonic() - self.started) * 100) % 2**32)
        return mod.Integer(v)

    def _next(self, oid: tuple[int, ...]) -> tuple[int, ...] | None:
        return next((o for o in self.order if o > oid), None)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is None or len(data) > MAX_DATAGRAM:
            return
        try:
            if not ipaddress.ip_address(addr[0]).is_loopback:
                return
            reply = self.answer(data, addr[0])
        except (PyAsn1Error, ValueError, KeyError, TypeError):
            return
        if reply:
            self.transport.sendto(reply, addr)

    def answer(self, data: bytes, source: str) -> bytes | None:
        version = int(api.decodeMessageVersion(data))
        if version not in api.PROTOCOL_MODULES:
            return None
        mod = api.PROTOCOL_MODULES[version]
        msg, _ = decoder.decode(data, asn1Spec=mod.Message())
        community = str(mod.apiMessage.get_community(msg))
        pdu = mod.apiMessage.get_pdu(msg)
        ok = community == self.community
        self.gate.recorder.record(self.gate.address, "snmp", community, "success" if ok else "failure")
        if not ok:
            return None
        v2 = version == api.SNMP_VERSION_2C
        resp_msg = mod.apiMessage.get_response(msg)
        resp = mod.apiMessage.get_pdu(resp_msg)
        mod.apiPDU.set_error_status(resp, 0)
        mod.apiPDU.set_error_index(resp, 0)
        asked = [tuple(o) for o, _ in mod.apiPDU.get_varbinds(pdu)]
        out = []
        error = 0
        if pdu.isSameTypeWith(mod.GetRequestPDU()):
            for i, oid in enumerate(asked):
                if oid in self.values:
                    out.append((oid, self._value(mod, oid)))
                elif v2:
                    out.append((oid, mod.NoSuchObject("") if oid[:len(SYSTEM)] != SYSTEM else mod.NoSuchInstance("")))
                else:
                    error = error or i + 1
                    out.append((oid, mod.Null("")))
        elif pdu.isSameTypeWith(mod.GetNextRequestPDU()):
            for i, oid in enumerate(asked):
                nxt = self._next(oid)
                if nxt is not None:
                    out.append((nxt, self._value(mod, nxt)))
                elif v2:
                    out.append((oid, mod.EndOfMibView("")))
                else:
                    error = error or i + 1
                    out.append((oid, mod.Null("")))
        elif v2 and pdu.isSameTypeWith(mod.GetBulkRequestPDU()):
            non_rep = int(mod.apiBulkPDU.get_non_repeaters(pdu))
            max_rep = min(int(mod.apiBulkPDU.get_max_repetitions(pdu)), 20)
            for oid in asked[:non_rep]:
                nxt = self._next(oid)
                out.append((nxt, self._value(mod, nxt)) if nxt else (oid, mod.EndOfMibView("")))
            for oid in asked[non_rep:]:
                cur = oid
                for _ in range(max_rep):
                    nxt = self._next(cur)
                    if nxt is None:
                        out.append((cur, mod.EndOfMibView("")))
                        break
                    out.append((nxt, self._value(mod, nxt)))
                    cur = nxt
        else:
            return None  # SET and traps: read-only agent stays silent, like a 'ro' community
        if error:
            mod.apiPDU.set_error_status(resp, 2)  # noSuchName (SNMPv1)
            mod.apiPDU.set_error_index(resp, error)
            out = [(o, mod.Null("")) for o in asked]
        mod.apiPDU.set_varbinds(resp, out)
        return encoder.encode(resp_msg)
