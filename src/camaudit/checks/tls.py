"""tls-weak and tls-cert-invalid: judge what the TLS probe saw on each HTTPS port (negotiated
version and cipher, accepted versions, the certificate's key, signature and dates).  They send
nothing.  A self-signed certificate alone is normal for a camera on a LAN: noted, not judged."""

from __future__ import annotations

import datetime as dt
import re

from camaudit.checks.base import Check, CheckContext, CheckMeta, register
from camaudit.knowledge.checkmeta import clauses_for
from camaudit.model import Finding, HostResult, Observation, Severity

OLD_VERSIONS = ("SSLv3", "TLSv1", "TLSv1.1")
MIN_RSA_BITS = 2048
MIN_DSA_BITS = 2048
WEAK_SIGNATURE = {"md5", "sha1"}
# OpenSSL cipher names: RC4, 3DES, NULL, EXPORT, anonymous DH/ECDH, DES, MD5 MACs.
_WEAK_CIPHER = re.compile(r"(^|-)(RC4|DES-CBC3|3DES|DES|NULL|EXP|EXPORT|ADH|AECDH|MD5)(-|$)")


def _tls_observations(host: HostResult) -> list[Observation]:
    seen: dict[int, Observation] = {}
    for o in host.observations_for("tls"):
        if not o.error and o.port not in seen:
            seen[o.port] = o
    return [seen[p] for p in sorted(seen)]


def _cert_summary(o: Observation) -> dict[str, str]:
    keys = ("subject_cn", "issuer_cn", "self_signed", "not_before", "not_after", "key",
            "signature_hash")
    return {k: o.fields[f"tls.{k}"] for k in keys if o.fields.get(f"tls.{k}")}


def weak_key(key: str) -> str | None:
    """Why the certificate's public key is too short (``tls.key`` like 'RSA-1024'), or None."""
    kind, _, bits = key.partition("-")
    if kind in ("RSA", "DSA") and bits.isdigit():
        floor = MIN_RSA_BITS if kind == "RSA" else MIN_DSA_BITS
        if int(bits) < floor:
            return f"{kind} key of {bits} bits (under {floor})"
    return None


def weak_cipher(cipher: str, version: str) -> str | None:
    if _WEAK_CIPHER.search(cipher.upper()):
        return f"weak cipher suite {cipher}"
    if version in OLD_VERSIONS and cipher.upper().endswith("-SHA"):  # CBC suites with SHA-1
        return f"CBC cipher suite {cipher} with SHA-1 under {version}"
    return None


@register
class TlsWeak(Check):
    meta = CheckMeta(id="tls-weak", severity=Severity.MEDIUM, clauses=clauses_for("tls-weak"),
                     phase="posture")

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        findings = []
        for o in _tls_observations(host):
            version = o.get("tls.version") or ""
            cipher = o.get("tls.cipher") or ""
            accepted = [v for v in (o.get("tls.versions") or "").split(",") if v]
            untested = [v for v in (o.get("tls.untested") or "").split(",") if v]
            reasons = []
            old = [v for v in accepted if v in OLD_VERSIONS]
            if version in OLD_VERSIONS and version not in old:
                old.insert(0, version)
            if old:
                reasons.append("accepts " + ", ".join(old))
            for why in (weak_cipher(cipher, version), weak_key(o.get("tls.key") or "")):
                if why:
                    reasons.append(why)
            if not reasons:
                continue
            ev: dict[str, object] = {"reasons": reasons, "negotiated_version": version,
                                     "negotiated_cipher": cipher, "accepted_versions": accepted,
                                     "key": o.get("tls.key") or ""}
            if untested:
                ev["not_tested"] = untested
                ev["not_tested_note"] = ("the local OpenSSL cannot offer these versions, so "
                                         "whether the device accepts them is unknown")
            findings.append(self.finding(host, port=o.port, protocol="tls", evidence=ev))
        return findings


@register
class TlsCertInvalid(Check):
    meta = CheckMeta(id="tls-cert-invalid", severity=Severity.MEDIUM,
                     clauses=clauses_for("tls-cert-invalid"), phase="posture")

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        now = dt.datetime.now(dt.UTC)
        findings = []
        for o in _tls_observations(host):
            reasons = []
            before: dt.datetime | None
            after: dt.datetime | None
            try:
                before = dt.datetime.fromisoformat(o.get("tls.not_before") or "")
                after = dt.datetime.fromisoformat(o.get("tls.not_after") or "")
            except ValueError:
                before = after = None
            if after is not None and after < now:
                reasons.append(f"expired on {after.date().isoformat()}")
            if before is not None and before > now:
                reasons.append(f"not valid before {before.date().isoformat()}")
            sig = (o.get("tls.signature_hash") or "").lower()
            if sig in WEAK_SIGNATURE:
                reasons.append(f"signed with {sig.upper()}")
            if not reasons:
                continue
            ev: dict[str, object] = {"reasons": reasons, "certificate": _cert_summary(o)}
            if o.get("tls.self_signed") == "true":
                ev["self_signed_note"] = ("self-signed: usual for a camera on a LAN, not judged "
                                          "by itself")
            findings.append(self.finding(host, port=o.port, protocol="tls", evidence=ev))
        return findings
