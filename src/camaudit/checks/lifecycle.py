"""clock-unsynchronised (the device clock that ONVIF GetSystemDateAndTime reported, against
ours) and end-of-support-firmware (the identified firmware line or model against the vendor
end-of-support statements of eol.yaml).  Both judge what was already seen; they send nothing."""

from __future__ import annotations

import datetime as dt

from camaudit.checks._support import vendor_of
from camaudit.checks.base import Check, CheckContext, CheckMeta, register
from camaudit.knowledge import exposure
from camaudit.knowledge.checkmeta import clauses_for
from camaudit.model import Finding, HostResult, Severity

MAX_DRIFT = dt.timedelta(minutes=5)


def _drift_text(seconds: float) -> str:
    sign = "ahead of" if seconds > 0 else "behind"
    s = int(abs(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(
        minutes) + [f"{secs} s"] * bool(secs and not days)
    return f"{' '.join(parts) or '0 s'} {sign} the scanner's clock (UTC)"


@register
class ClockUnsynchronised(Check):
    meta = CheckMeta(id="clock-unsynchronised", severity=Severity.LOW,
                     clauses=clauses_for("clock-unsynchronised"), phase="posture", safe=True)

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        now = dt.datetime.now(dt.UTC)
        seen: set[int] = set()
        findings = []
        for o in host.observations_for("onvif"):
            when = o.get("onvif.utc_time")
            if o.error or not when or o.port in seen:
                continue
            seen.add(o.port)
            try:
                device = dt.datetime.fromisoformat(when)
            except ValueError:
                continue
            if device.tzinfo is None:
                device = device.replace(tzinfo=dt.UTC)
            drift = device - now
            if abs(drift) <= MAX_DRIFT:
                continue
            findings.append(self.finding(host, port=o.port, protocol="onvif", evidence={
                "device_utc": device.isoformat(), "scanner_utc": now.isoformat(timespec="seconds"),
                "drift_seconds": round(drift.total_seconds()),
                "drift": _drift_text(drift.total_seconds()),
                "threshold_seconds": int(MAX_DRIFT.total_seconds()),
                "source": "ONVIF GetSystemDateAndTime (asked without a credential)"}))
        return findings


@register
class EndOfSupportFirmware(Check):
    meta = CheckMeta(id="end-of-support-firmware", severity=Severity.MEDIUM,
                     clauses=clauses_for("end-of-support-firmware"), phase="posture", safe=True)
    source = staticmethod(exposure.eol)  # the statements file (tests give their own)

    def applies(self, host: HostResult) -> bool:
        return super().applies(host) and bool(host.identity.vendor and
                                              (host.identity.firmware or host.identity.model))

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        ident = host.identity
        findings = []
        for entry in self.source().match(vendor_of(host), ident.model, ident.firmware):
            if not entry.confirmed:
                continue  # an unconfirmed statement never makes a finding
            findings.append(self.finding(host, evidence={
                "vendor": ident.vendor, "model": ident.model, "firmware": ident.firmware,
                "entry": entry.id, "statement": entry.statement, "ended": entry.ended,
                "sources": list(entry.sources)}))
        return findings
