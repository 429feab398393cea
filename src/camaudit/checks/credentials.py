"""default-credentials and weak-credentials: log in with the vendor's defaults (on a device whose
vendor is not known: the factory defaults most common on cameras and DVRs, ``unidentified`` in
credentials.yaml), then a short list of common weak passwords, on every login surface the host
showed, within the login budget: at most ``ACCOUNT_LIMIT`` (4) attempts per account and
service for both checks together, and a few pairs per service."""

from __future__ import annotations

from camaudit.checks import _rtsp
from camaudit.checks._support import (
    knowledge,
    login_surfaces,
    spend,
    vendor_of,
)
from camaudit.checks.base import ACCOUNT_LIMIT, Check, CheckContext, CheckMeta, register
from camaudit.knowledge.checkmeta import clauses_for
from camaudit.model import Credential, Finding, HostResult, Severity, redact

VENDOR_DEFAULTS_PER_SERVICE = 4  # pairs per service when the vendor's defaults are known
UNIDENTIFIED_PER_SERVICE = 6  # pairs per service from the list of the most common defaults
GENERIC_PER_SERVICE = 2


def defaults_for(creds, vendor: str | None, service: str):
    """The factory defaults tried on one service: the vendor's, or the most common ones."""
    limit = VENDOR_DEFAULTS_PER_SERVICE if vendor in creds.vendors else UNIDENTIFIED_PER_SERVICE
    return creds.vendor_defaults(vendor, service, limit, per_account=ACCOUNT_LIMIT)


async def _with_stream(host: HostResult, ctx: CheckContext, cred: Credential,
                       ev: dict[str, object]) -> dict[str, object]:
    """For an RTSP credential: the stream's URL (credential redacted) and what its SDP offers."""
    if cred.protocol != "rtsp":
        return ev
    found = await _rtsp.stream_with(host, cred, ctx)
    d = await _rtsp.discover(host, cred.port, ctx)
    ev.update(d.evidence())
    if found["route"]:
        ev["route"] = found["route"]
        ev["url"] = _rtsp.stream_url(host.address, cred.port, found["route"], cred.username, cred.password)
        ev.update(_rtsp.stream_evidence(found["sdp"]))
    else:
        ev["url"] = None
        ev["route_note"] = "credential accepted, but no route of the dictionary served a stream"
    ev["describes_with_credential"] = found["describes_with_credential"]
    return ev


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
                     clauses=clauses_for("default-credentials"), login_budget=ACCOUNT_LIMIT,
                     phase="access")

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        creds = knowledge(ctx).credentials
        vendor = vendor_of(host)
        findings = []
        for surface in await login_surfaces(host, ctx):
            entries = defaults_for(creds, vendor, surface.protocol)
            found = await spend(host, ctx, surface,
                                [(e.username, e.password, True) for e in entries],
                                self.meta.login_budget)
            if found:
                listed = f"credentials.yaml vendors.{vendor}" if vendor in creds.vendors else \
                    "credentials.yaml unidentified (most common factory defaults on cameras and DVRs)"
                ev = await _with_stream(host, ctx, found, _evidence(found, surface.label, listed))
                findings.append(self.finding(host, port=found.port, protocol=found.protocol,
                                             evidence=ev))
        return findings


@register
class WeakCredentials(Check):
    """Runs after default-credentials (registry order).  ``login_budget`` is the cap per
    account per service for both checks together: what the defaults left of ACCOUNT_LIMIT."""

    meta = CheckMeta(id="weak-credentials", severity=Severity.HIGH,
                     clauses=clauses_for("weak-credentials"), login_budget=ACCOUNT_LIMIT,
                     phase="access")

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        creds = knowledge(ctx).credentials
        vendor = vendor_of(host)
        findings = []
        for surface in await login_surfaces(host, ctx):
            tried = {(e.username, e.password) for e in defaults_for(creds, vendor, surface.protocol)}
            entries = [e for e in creds.generic_weak(surface.protocol, GENERIC_PER_SERVICE + len(tried))
                       if (e.username, e.password) not in tried][:GENERIC_PER_SERVICE]
            found = await spend(host, ctx, surface,
                                [(e.username, e.password, False) for e in entries],
                                self.meta.login_budget)
            if found:
                ev = await _with_stream(host, ctx, found,
                                        _evidence(found, surface.label, "credentials.yaml generic"))
                findings.append(self.finding(host, port=found.port, protocol=found.protocol,
                                             evidence=ev))
        return findings
