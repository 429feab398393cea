"""cleartext-http, cleartext-telnet, cleartext-ftp: administration reachable without encryption.
These judge what the probes already saw; they send nothing.

cleartext-http also covers "HTTPS is offered but HTTP does not redirect to it" (no separate
no-https-redirect check): both are the same fact, admin pages served over plain HTTP; the
evidence says whether the device offers HTTPS, which changes only the remedy."""

from __future__ import annotations

import re

from camaudit.checks.base import Check, CheckContext, CheckMeta, register
from camaudit.knowledge.checkmeta import clauses_for
from camaudit.model import Finding, HostResult, Observation, Severity

# Paths of camera administration APIs (Hikvision ISAPI, Dahua RPC2, Axis VAPIX, CGI, ONVIF).
_ADMIN_PATH = re.compile(r"^/(ISAPI|RPC2|axis-cgi|cgi-bin|onvif|SDK|doc/page/login)", re.I)
# What a login or administration page says in its title or body.
_LOGIN_TEXT = re.compile(
    r"log\s*in|sign\s*in|password|passwd|user\s*name|admin|web\s*service|netsurveillance|"
    r"network\s*(camera|video)|ip\s*camera|nvr|dvr|đăng nhập|mật khẩu", re.I)


def _redirects_to_https(obs: list[Observation]) -> bool:
    for o in obs:
        status = o.get("http.status") or ""
        if status.startswith("3") and (o.get("http.location") or "").lower().startswith("https://"):
            return True
    return False


def _catch_all(obs: list[Observation]) -> bool:
    """A server that answers every path it was asked with the same 200 (a catch-all, or a
    hostile device): that an administration path "answered" then says nothing."""
    answers = {(o.get("http.path") or "/"): (o.get("http.status"), o.get("http.body") or "")
               for o in obs}
    return len(answers) >= 3 and len(set(answers.values())) == 1 and \
        next(iter(answers.values()))[0] == "200"


def _admin_reason(o: Observation, catch_all: bool = False) -> str | None:
    status = o.get("http.status")
    path = o.get("http.path") or "/"
    if status == "401":
        return "asks for a password over plain HTTP"
    if status != "200":
        return None
    if _ADMIN_PATH.match(path) and not catch_all:
        return "administration API answers over plain HTTP"
    ctype = (o.get("http.content_type") or "").lower()
    if "xml" in ctype or "json" in ctype:  # a login page is HTML; words in data prove nothing
        return None
    text = f"{o.get('http.title') or ''} {o.get('http.body') or ''}"
    if _LOGIN_TEXT.search(text):
        return "login or administration page served over plain HTTP"
    return None


@register
class CleartextHttp(Check):
    meta = CheckMeta(id="cleartext-http", severity=Severity.MEDIUM,
                     clauses=clauses_for("cleartext-http"), phase="posture", safe=True)

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        findings = []
        https_ports = host.ports_for("https")
        for port in host.ports_for("http"):
            obs = [o for o in host.observations
                   if o.protocol == "http" and o.port == port and not o.error]
            if _redirects_to_https(obs):
                continue
            catch_all = _catch_all(obs)
            for o in obs:
                reason = _admin_reason(o, catch_all)
                if reason:
                    findings.append(self.finding(host, port=port, protocol="http", evidence={
                        "path": o.get("http.path") or "/", "status": o.get("http.status"),
                        "title": (o.get("http.title") or "")[:120], "reason": reason,
                        "redirect_to_https": False, "https_ports": https_ports}))
                    break
        return findings


class _OpenService(Check):
    """A plain-text service seen open: one finding per port, with what it said."""

    protocol = ""
    banner_field = ""

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        findings = []
        for port in host.ports_for(self.protocol):
            o = next(o for o in host.observations
                     if o.protocol == self.protocol and o.port == port and not o.error)
            findings.append(self.finding(host, port=port, protocol=self.protocol, evidence={
                "service": self.protocol, "banner": (o.get(self.banner_field) or "")[:160]}))
        return findings


@register
class CleartextTelnet(_OpenService):
    meta = CheckMeta(id="cleartext-telnet", severity=Severity.HIGH,
                     clauses=clauses_for("cleartext-telnet"), phase="posture", safe=True)
    protocol = "telnet"
    banner_field = "telnet.banner"


@register
class CleartextFtp(_OpenService):
    meta = CheckMeta(id="cleartext-ftp", severity=Severity.MEDIUM,
                     clauses=clauses_for("cleartext-ftp"), phase="posture", safe=True)
    protocol = "ftp"
    banner_field = "ftp.banner"
