"""Which probe talks to which open port, and how authenticated facts are read back.

The port decides the first protocol tried (as nmap's service probes rank by port); when that
protocol gets no usable answer the port is tried as HTTP, since cameras put their web server on
odd ports.  Nothing here does I/O: it names functions of ``camaudit.protocols``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from camaudit.model import Observation

ProbeFn = Callable[..., Awaitable[Any]]

PORT_PROTOCOL: dict[int, str] = {
    21: "ftp", 22: "ssh", 23: "telnet", 2323: "telnet",
    443: "https", 8443: "https", 7443: "https",
    554: "rtsp", 8554: "rtsp", 10554: "rtsp",
    8000: "hiksdk", 37777: "dvrip", 34567: "xmeye",
}
HTTP_FALLBACK = {"hiksdk", "dvrip", "xmeye", "rtsp", "telnet", "ftp", "ssh"}  # tried as HTTP when silent
MAX_ONVIF_PORTS = 3


def primary_protocol(port: int) -> str:
    return PORT_PROTOCOL.get(port, "http")


@functools.cache
def _protocols():
    from camaudit.protocols import ftp, http, onvif, rtsp, ssh, telnet, tls, vendorports

    return {
        "ftp": ftp, "http": http, "onvif": onvif, "rtsp": rtsp, "ssh": ssh, "telnet": telnet,
        "tls": tls, "vendorports": vendorports,
    }


def as_list(result: Observation | list[Observation] | None) -> list[Observation]:
    if result is None:
        return []
    if isinstance(result, Observation):
        return [result]
    return list(result)


def probes_for(protocol: str, address: str, port: int, timeout: float) -> list[Awaitable[Any]]:
    """The coroutines that probe ``port`` as ``protocol``."""
    p = _protocols()
    if protocol == "http":
        return [p["http"].probe(address, port, tls=False, timeout=timeout)]
    if protocol == "https":
        return [_tls_with_versions(address, port, timeout),
                p["http"].probe(address, port, tls=True, timeout=timeout)]
    if protocol == "rtsp":
        return [p["rtsp"].probe(address, port, timeout=timeout)]
    if protocol in ("ftp", "ssh", "telnet"):
        return [p[protocol].probe(address, port, timeout=timeout)]
    if protocol == "hiksdk":
        return [p["vendorports"].probe_hiksdk(address, port, timeout=timeout)]
    if protocol == "dvrip":
        return [p["vendorports"].probe_dvrip(address, port, timeout=timeout)]
    if protocol == "xmeye":
        return [p["vendorports"].probe_xmeye(address, port, timeout=timeout)]
    raise ValueError(f"no probe for protocol {protocol!r}")


async def _tls_with_versions(address: str, port: int, timeout: float) -> Observation:
    """The certificate and negotiated session, plus which protocol versions the server accepts
    (tls.versions) and which the local OpenSSL could not test (tls.untested)."""
    tls = _protocols()["tls"]
    obs = await tls.probe(address, port, timeout=timeout)
    if not obs.error:
        versions = await tls.supported_versions(address, port, timeout=timeout)
        obs.fields["tls.versions"] = ",".join(versions)
        untested = tls.untestable_versions()
        if untested:
            obs.fields["tls.untested"] = ",".join(untested)
    return obs


def onvif_probe(address: str, port: int, tls: bool, timeout: float) -> Awaitable[Any]:
    return _protocols()["onvif"].probe(address, port, tls=tls, timeout=timeout)


def answered(observations: list[Observation]) -> bool:
    """Did the service say anything we could use?"""
    return any(not o.error for o in observations)


def http_ports(observations: list[Observation]) -> list[tuple[int, bool]]:
    """(port, tls) of the web servers that answered with an HTTP status."""
    seen: dict[int, bool] = {}
    for o in observations:
        if o.protocol in ("http", "https") and not o.error and o.fields.get("http.status"):
            seen.setdefault(o.port, o.protocol == "https")
    return sorted(seen.items())


def enrich_calls(vendor: str | None, credential, address: str, timeout: float) -> list[Awaitable[dict]]:
    """Authenticated device-information reads that a found credential allows."""
    p = _protocols()
    c = credential
    tls = c.protocol == "https"
    calls: list[Awaitable[dict]] = []
    from camaudit.checks._support import firmware_family

    v = firmware_family(vendor) or ""
    if c.protocol in ("http", "https"):
        if v == "hikvision":
            calls.append(p["http"].hikvision_info(address, c.port, c.username, c.password, tls=tls, timeout=timeout))
        elif v == "dahua":
            calls.append(p["http"].dahua_info(address, c.port, c.username, c.password, tls=tls, timeout=timeout))
        elif v == "axis":
            calls.append(p["http"].axis_info(address, c.port, c.username, c.password, tls=tls, timeout=timeout))
        elif v == "uniview":
            calls.append(p["http"].uniview_info(address, c.port, c.username, c.password, tls=tls, timeout=timeout))
    elif c.protocol == "onvif":
        calls.append(p["onvif"].device_info(address, c.port, c.username, c.password, tls=tls, timeout=timeout))
    elif c.protocol == "xmeye":
        calls.append(p["vendorports"].xmeye_info(address, c.port, c.username, c.password, timeout=timeout))
    return calls
