"""vulnerable-firmware: the identified vendor/model/firmware against vulns.yaml ranges.
One finding per CVE; unknown firmware gives no finding."""

from __future__ import annotations

from camaudit.checks._support import knowledge, vendor_of
from camaudit.checks.base import Check, CheckContext, CheckMeta, register
from camaudit.knowledge.checkmeta import clauses_for
from camaudit.knowledge.vulns import AffectedRange
from camaudit.model import Finding, HostResult, Severity

_FIRMWARE_FIELDS = ("device.firmware", "onvif.firmware")


def _range_text(r: AffectedRange) -> str:
    if r.all_versions:
        return "all firmware versions (no fixed release published)"
    parts = []
    if r.introduced:
        parts.append(f"from {r.introduced}")
    parts.append(f"before {r.fixed}" if r.fixed else f"up to {r.last_affected}")
    return " ".join(parts) + (" (by build date)" if r.compare == "build" else "")


def _seen_in(host: HostResult, firmware: str) -> list[str]:
    """Where the firmware string came from: observations that carried it, else the identity's
    evidence lines."""
    seen = [f"{o.protocol}:{o.port}" for o in host.observations
            if any(o.fields.get(k) == firmware for k in _FIRMWARE_FIELDS)]
    return sorted(set(seen)) or list(host.identity.evidence[:4])


@register
class VulnerableFirmware(Check):
    meta = CheckMeta(id="vulnerable-firmware", severity=Severity.HIGH,
                     clauses=clauses_for("vulnerable-firmware"), phase="posture", safe=True)

    def applies(self, host: HostResult) -> bool:
        return super().applies(host) and bool(host.identity.vendor and host.identity.firmware)

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        ident = host.identity
        if not ident.firmware:
            return []
        findings = []
        for m in knowledge(ctx).vulns.match(vendor_of(host), ident.model, ident.firmware):
            v = m.vuln
            ev = {"vendor": ident.vendor, "model": ident.model, "firmware": ident.firmware,
                  "firmware_seen_in": _seen_in(host, ident.firmware),
                  "affected": _range_text(m.range), "cvss": v.cvss.score,
                  "cvss_vector": v.cvss.vector, "kev": v.kev, "confirmed": v.confirmed,
                  "summary_en": v.summary.en, "summary_vi": v.summary.vi,
                  "references": list(v.references)}
            if not v.confirmed:
                ev["note"] = v.note
            findings.append(self.finding(host, cves=[v.id], severity=v.cvss.severity,
                                         evidence=ev))
        return findings
