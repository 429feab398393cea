"""What a device gives away without any credential, and services it does not need:
upnp-exposed, needless-service (judge what the sweep and probes saw), unauthenticated-config
(Hikvision ISAPI deviceInfo and Xiongmai SystemInfo as the probes saw them; one GET of Dahua's
magicBox) and unauthenticated-snapshot (a few GETs of known still-image paths).  No request
carries a credential, so none counts as a login attempt."""

from __future__ import annotations

import asyncio
import re

from camaudit.checks._support import proto, vendor_of
from camaudit.checks.base import Check, CheckContext, CheckMeta, register
from camaudit.knowledge import exposure
from camaudit.knowledge.checkmeta import clauses_for
from camaudit.model import Finding, HostResult, Severity

JPEG_MAGIC = b"\xff\xd8\xff"
SNAPSHOT_PATHS = 4  # GETs per web port, at most (vendor paths first)
SNAPSHOT_PORTS = 2  # web ports tried, at most
SNAPSHOT_READ = 4096  # bytes read of each answer: the magic is in the first three
DAHUA_INFO = "/cgi-bin/magicBox.cgi?action=getSystemInfo"
_DAHUA_KEYS = re.compile(r"^(deviceType|serialNumber|processor|hardwareVersion)=([^\r\n]{0,80})", re.MULTILINE)
_UPNP_FIELDS = ("ssdp.server", "ssdp.location", "ssdp.usn", "upnp.manufacturer", "upnp.model",
                "upnp.model_number", "upnp.serial", "upnp.friendly_name")


def _web_ports(host: HostResult) -> list[tuple[int, bool]]:
    return ([(p, False) for p in host.ports_for("http")]
            + [(p, True) for p in host.ports_for("https")])


@register
class UpnpExposed(Check):
    meta = CheckMeta(id="upnp-exposed", severity=Severity.LOW,
                     clauses=clauses_for("upnp-exposed"), phase="posture", safe=True)

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        findings = []
        for o in host.observations_for("ssdp"):
            if o.error:
                continue
            ev = {k.replace(".", "_"): o.fields[k][:160] for k in _UPNP_FIELDS if o.fields.get(k)}
            ev["answered"] = "unicast M-SEARCH (ssdp:all)"
            findings.append(self.finding(host, port=o.port, protocol="ssdp", evidence=ev))
            break
        return findings


@register
class NeedlessService(Check):
    meta = CheckMeta(id="needless-service", severity=Severity.MEDIUM,
                     clauses=clauses_for("needless-service"), phase="posture", safe=True)

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        open_ports = set(host.open_ports)
        findings = []
        for entry in exposure.needless_ports().for_vendor(vendor_of(host)):
            if entry.port not in open_ports:
                continue
            findings.append(self.finding(host, port=entry.port, protocol=entry.transport, evidence={
                "service": entry.service, "why_needless": entry.why,
                "sources": list(entry.sources), "seen": "TCP port open (connect sweep)"}))
        return findings


def _hik_device_info(host: HostResult) -> list[tuple[int, str, dict[str, str]]]:
    """(port, protocol, facts) where ISAPI deviceInfo answered the probe's GET (no credential)."""
    http = proto("http")
    out = []
    for o in host.observations:
        if (o.protocol in ("http", "https") and not o.error
                and o.get("http.path") == http.HIK_DEVICE_INFO and o.get("http.status") == "200"
                and "<DeviceInfo" in (o.get("http.body") or "")):
            try:
                facts = http.parse_hik_device_info((o.get("http.body") or "").encode())
            except Exception:  # noqa: BLE001 - a cut or odd body: the 200 itself is the fact
                facts = {}
            out.append((o.port, o.protocol, {k.split(".", 1)[1]: v for k, v in facts.items()}))
    return out


@register
class UnauthenticatedConfig(Check):
    meta = CheckMeta(id="unauthenticated-config", severity=Severity.MEDIUM,
                     clauses=clauses_for("unauthenticated-config"), phase="posture", safe=True)

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        findings = []
        done: set[tuple[int, str]] = set()
        for port, protocol, facts in _hik_device_info(host):
            if (port, protocol) not in done:
                done.add((port, protocol))
                findings.append(self.finding(host, port=port, protocol=protocol, evidence={
                    "request": "GET /ISAPI/System/deviceInfo", "status": 200, "read": facts}))
        for o in host.observations_for("xmeye"):
            if not o.error and o.get("xmeye.unauthenticated_info") == "true":
                read = {k.split(".", 1)[1]: o.fields[k] for k in
                        ("xmeye.hardware", "xmeye.software", "xmeye.serial") if o.fields.get(k)}
                findings.append(self.finding(host, port=o.port, protocol="xmeye", evidence={
                    "request": "SystemInfo (message 1020) with session 0, before any login",
                    "ret": o.get("xmeye.ret"), "read": read}))
                break
        if vendor_of(host) == "dahua":
            findings += await self._dahua(host, ctx)
        return findings

    async def _dahua(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        http = proto("http")
        for port, tls in _web_ports(host)[:SNAPSHOT_PORTS]:
            try:
                async with ctx.slot(), asyncio.timeout(ctx.timeout), http.make_client(
                        host.address, port, tls=tls, timeout=ctx.timeout) as client:
                    r = await http.fetch(client, "GET", DAHUA_INFO, limit=SNAPSHOT_READ)
            except Exception:  # noqa: BLE001 - no answer: nothing learnt
                continue
            read = dict(_DAHUA_KEYS.findall(r.text()))
            if r.status == 200 and read:
                return [self.finding(host, port=port, protocol="https" if tls else "http",
                                     evidence={"request": f"GET {DAHUA_INFO}", "status": 200,
                                               "read": read})]
        return []


@register
class UnauthenticatedSnapshot(Check):
    meta = CheckMeta(id="unauthenticated-snapshot", severity=Severity.HIGH,
                     clauses=clauses_for("unauthenticated-snapshot"), phase="posture", safe=True)

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        http = proto("http")
        paths = exposure.snapshot_paths().for_vendor(vendor_of(host), SNAPSHOT_PATHS)
        findings = []
        for port, tls in _web_ports(host)[:SNAPSHOT_PORTS]:
            tried = 0
            try:
                async with asyncio.timeout(ctx.timeout * 2), http.make_client(
                        host.address, port, tls=tls, timeout=ctx.timeout) as client:
                    for path in paths:
                        tried += 1
                        async with ctx.slot():
                            r = await http.fetch(client, "GET", path, limit=SNAPSHOT_READ)
                        if r.status == 200 and r.body.startswith(JPEG_MAGIC):
                            findings.append(self.finding(
                                host, port=port, protocol="https" if tls else "http", evidence={
                                    "path": path, "status": 200,
                                    "content_type": r.headers.get("content-type", "")[:80],
                                    "jpeg_magic": JPEG_MAGIC.hex(), "requests_sent": tried}))
                            break
            except Exception:  # noqa: BLE001 - a port that stops answering: go on to the next
                continue
        return findings
