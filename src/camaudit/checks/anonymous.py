"""rtsp-anonymous, onvif-anonymous, ftp-anonymous: what a device serves with no credential."""

from __future__ import annotations

from camaudit.checks._support import knowledge, proto, vendor_of
from camaudit.checks.base import Check, CheckContext, CheckMeta, register
from camaudit.knowledge.checkmeta import clauses_for
from camaudit.model import AuthOutcome, Finding, HostResult, Observation, Severity

RTSP_ROUTES = 8  # DESCRIBEs per RTSP port, at most
RTSP_STOP_AFTER_401 = 3  # a device that asked a credential on this many routes in a row asks on all
MAX_SDP = 16 * 1024
ANONYMOUS_FTP_PASSWORD = "camaudit@example.invalid"  # RFC 1635: an e-mail-like string


def video_media(sdp: str) -> list[str]:
    """The m=video lines of an SDP (RFC 8866), at most 4."""
    lines = [ln.strip() for ln in sdp[:MAX_SDP].splitlines()]
    return [ln[:120] for ln in lines if ln.startswith("m=video")][:4]


@register
class RtspAnonymous(Check):
    meta = CheckMeta(id="rtsp-anonymous", severity=Severity.HIGH,
                     clauses=clauses_for("rtsp-anonymous"), phase="access")

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        ports = host.ports_for("rtsp")
        if not ports:
            return []
        rtsp = proto("rtsp")
        routes = knowledge(ctx).routes.for_vendor(vendor_of(host), RTSP_ROUTES)
        findings = []
        for port in ports:
            asked = 0
            for n, route in enumerate(routes, 1):
                async with ctx.slot():
                    result, sdp = await rtsp.describe(host.address, port, route,
                                                      timeout=ctx.timeout)
                media = video_media(sdp or "")
                if result.outcome in (AuthOutcome.SUCCESS, AuthOutcome.NO_AUTH) and media:
                    findings.append(self.finding(host, port=port, protocol="rtsp", evidence={
                        "route": route, "url": f"rtsp://{host.address}:{port}{route}",
                        "media": media, "describes_sent": n}))
                    break
                asked = asked + 1 if result.status == 401 else 0
                if asked >= RTSP_STOP_AFTER_401:
                    break
        return findings


@register
class OnvifAnonymous(Check):
    meta = CheckMeta(id="onvif-anonymous", severity=Severity.HIGH,
                     clauses=clauses_for("onvif-anonymous"), phase="access")

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        findings = []
        https_ports = set(host.ports_for("https"))
        by_port: dict[int, Observation] = {}
        for o in host.observations_for("onvif"):
            if not o.error:
                by_port.setdefault(o.port, o)
                if o.get("onvif.auth_required") == "false":
                    by_port[o.port] = o
        for port, o in sorted(by_port.items()):
            if o.get("onvif.auth_required") == "false":
                ev = {"operation": "GetDeviceInformation", "answered_without_credential": True}
                ev.update({k.split(".", 1)[1]: o.fields[k] for k in
                           ("onvif.manufacturer", "onvif.model", "onvif.firmware")
                           if o.fields.get(k)})
                findings.append(self.finding(host, port=port, protocol="onvif", evidence=ev))
                continue
            async with ctx.slot():
                result, uri = await proto("onvif").get_stream_uri(
                    host.address, port, tls=port in https_ports, timeout=ctx.timeout)
            if result.outcome in (AuthOutcome.SUCCESS, AuthOutcome.NO_AUTH) and uri:
                findings.append(self.finding(host, port=port, protocol="onvif", evidence={
                    "operation": "GetStreamUri", "answered_without_credential": True,
                    "stream_uri": uri[:256]}))
        return findings


@register
class FtpAnonymous(Check):
    meta = CheckMeta(id="ftp-anonymous", severity=Severity.HIGH,
                     clauses=clauses_for("ftp-anonymous"), login_budget=1, phase="access")

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        findings = []
        for port in host.ports_for("ftp"):
            if not await ctx.budget.take(host.address, port, "ftp", "anonymous",
                                         self.meta.login_budget):
                continue
            async with ctx.slot():
                result = await proto("ftp").try_login(host.address, port, "anonymous",
                                                      ANONYMOUS_FTP_PASSWORD, timeout=ctx.timeout)
            if result.outcome == AuthOutcome.LOCKED:
                ctx.budget.mark_locked(host.address, port, "ftp")
            elif result.outcome == AuthOutcome.SUCCESS:
                findings.append(self.finding(host, port=port, protocol="ftp", evidence={
                    "username": "anonymous", "reply": result.detail[:120]}))
        return findings
