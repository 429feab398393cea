"""default-credentials and weak-credentials: log in with the vendor's defaults, then a short
list of common weak passwords, on every login surface the host showed, within a small budget
per account per service."""

from __future__ import annotations

from camaudit.checks._support import knowledge, login_surfaces, spend, vendor_of
from camaudit.checks.base import Check, CheckContext, CheckMeta, register
from camaudit.knowledge.checkmeta import clauses_for
from camaudit.model import Credential, Finding, HostResult, Severity, redact

VENDOR_DEFAULTS_PER_SERVICE = 4
GENERIC_PER_SERVICE = 2


def _evidence(cred: Credential, label: str, listed_under: str) -> dict[str, object]:
    """Protocol, port, user and the redacted password (the list's sources name the passwords
    in clear, so only the list entry is cited)."""
    ev: dict[str, object] = {"protocol": cred.protocol, "port": cred.port, "surface": label,
                             "username": cred.username, "password": redact(cred.password)}
    if cred.path:
        ev["path"] = cred.path
    ev["listed_under"] = listed_under
    return ev


@register
class DefaultCredentials(Check):
    meta = CheckMeta(id="default-credentials", severity=Severity.CRITICAL,
                     clauses=clauses_for("default-credentials"), login_budget=4, phase="access")

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        creds = knowledge(ctx).credentials
        vendor = vendor_of(host)
        findings = []
        for surface in await login_surfaces(host, ctx):
            entries = creds.vendor_defaults(vendor, surface.protocol, VENDOR_DEFAULTS_PER_SERVICE)
            found = await spend(host, ctx, surface,
                                [(e.username, e.password, True) for e in entries],
                                self.meta.login_budget)
            if found:
                listed = f"credentials.yaml vendors.{vendor}" if vendor in creds.vendors else \
                    "credentials.yaml vendors (most common across vendors)"
                findings.append(self.finding(host, port=found.port, protocol=found.protocol,
                                             evidence=_evidence(found, surface.label, listed)))
        return findings


@register
class WeakCredentials(Check):
    """Runs after default-credentials (registry order).  ``login_budget`` is the cap per
    account per service for both checks together: 4 vendor defaults + 2 generic."""

    meta = CheckMeta(id="weak-credentials", severity=Severity.HIGH,
                     clauses=clauses_for("weak-credentials"), login_budget=6, phase="access")

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        creds = knowledge(ctx).credentials
        vendor = vendor_of(host)
        findings = []
        for surface in await login_surfaces(host, ctx):
            tried = {(e.username, e.password) for e in
                     creds.vendor_defaults(vendor, surface.protocol, VENDOR_DEFAULTS_PER_SERVICE)}
            entries = [e for e in creds.generic_weak(surface.protocol, GENERIC_PER_SERVICE + len(tried))
                       if (e.username, e.password) not in tried][:GENERIC_PER_SERVICE]
            found = await spend(host, ctx, surface,
                                [(e.username, e.password, False) for e in entries],
                                self.meta.login_budget)
            if found:
                findings.append(self.finding(host, port=found.port, protocol=found.protocol,
                                             evidence=_evidence(found, surface.label,
                                                               "credentials.yaml generic")))
        return findings
