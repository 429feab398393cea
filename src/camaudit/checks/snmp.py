"""snmp-default-community: SNMP answered one of the factory communities."""

from __future__ import annotations

from camaudit.checks.base import Check, CheckContext, CheckMeta, register
from camaudit.knowledge.checkmeta import clauses_for
from camaudit.model import Finding, HostResult, Severity

# The factory communities of SNMPv1/v2c agents.  They are shown in evidence on purpose: they
# are public knowledge, not the device's secret.  Any other community that answered is a
# configured secret and is neither judged here nor shown.
DEFAULT_COMMUNITIES = ("public", "private")


@register
class SnmpDefaultCommunity(Check):
    meta = CheckMeta(id="snmp-default-community", severity=Severity.HIGH,
                     clauses=clauses_for("snmp-default-community"), phase="posture", safe=True)

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        findings = []
        for o in host.observations_for("snmp"):
            community = o.get("snmp.community")
            if o.error or community not in DEFAULT_COMMUNITIES:
                continue
            findings.append(self.finding(host, port=o.port, protocol="snmp", evidence={
                "community": community,
                "why_shown": "factory default community, publicly known: not a secret",
                "write_access_default": community == "private",
                "sysdescr": (o.get("snmp.sysdescr") or "")[:160]}))
        return findings
