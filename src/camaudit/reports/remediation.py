"""The remediation plan: what to do, in which order, on which devices, in plain words.

Built from the report document alone (findings, identities, observations); the knowledge base,
when given, names the fixed firmware release of each CVE.  Steps are ordered by the worst
severity they remove, then by how easy they are (a setting on the device before a firmware
update before a network change), so the first steps are the quick, important ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from camaudit.locale import catalogue

SEV_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
VIDEO_KINDS = ("camera", "nvr", "dvr")

# step key -> (check ids it resolves, ease: 1 a setting on the device, 2 firmware or a
# certificate to obtain, 3 a change to the network)
STEPS: dict[str, tuple[frozenset[str], int]] = {
    "passwords": (frozenset({"default-credentials", "weak-credentials"}), 1),
    "login_required": (frozenset({"rtsp-anonymous", "onvif-anonymous", "ftp-anonymous", "unauthenticated-snapshot",
                                  "unauthenticated-config"}), 1),
    "services": (frozenset({"cleartext-telnet", "cleartext-ftp", "snmp-default-community", "upnp-exposed",
                            "needless-service"}), 1),
    "lockout": (frozenset({"no-login-lockout"}), 1),
    "firmware": (frozenset({"vulnerable-firmware"}), 2),
    "https": (frozenset({"cleartext-http"}), 2),
}
ISOLATE_EASE = 3
SERVICE_NAMES = {"cleartext-telnet": "Telnet", "cleartext-ftp": "FTP", "snmp-default-community": "SNMP",
                 "upnp-exposed": "UPnP"}


@dataclass
class DeviceItem:
    """One device a step concerns, with what exactly to do on it."""

    address: str
    name: str
    details: list[str] = field(default_factory=list)


@dataclass
class Step:
    key: str
    severity: str
    ease: int
    title: str
    why: str
    how: str
    devices: list[DeviceItem] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "severity": self.severity, "ease": self.ease, "title": self.title,
                "why": self.why, "how": self.how, "checks": self.checks,
                "devices": [{"address": d.address, "name": d.name, "details": d.details} for d in self.devices]}


def device_name(dev: dict[str, Any], cat: dict[str, str]) -> str:
    ident = dev["identity"]
    name = " ".join(x for x in (ident.get("vendor"), ident.get("model")) if x)
    return name or cat.get(f"kind_{ident.get('kind', 'unknown')}", ident.get("kind", ""))


def _where(f: dict[str, Any]) -> str:
    if f.get("protocol") and f.get("port"):
        return f"{f['protocol']}:{f['port']}"
    return f.get("protocol") or (str(f["port"]) if f.get("port") else "")


def _upnp_answers(dev: dict[str, Any]) -> bool:
    """The device answered a unicast SSDP search (UPnP is on)."""
    return any(o.get("protocol") == "ssdp" and not o.get("error") and o.get("fields")
               for o in dev.get("observations", []))


def fixed_release(f: dict[str, Any], ident: dict[str, Any], kb: Any) -> tuple[str, str | None]:
    """('fixed', release) / ('after', last affected) / ('none', None) / ('unknown', None) for a
    vulnerable-firmware finding, from its evidence or the knowledge base."""
    ev = f.get("evidence") or {}
    if ev.get("fixed"):
        return "fixed", str(ev["fixed"])
    vulns = getattr(getattr(kb, "vulns", None), "vulns", ())
    cve = (f.get("cves") or [None])[0]
    vuln = next((v for v in vulns if v.id == cve), None)
    if vuln is None:
        return "unknown", None
    from camaudit.identify.firmware import normalise_firmware

    ranges = [r for r in vuln.affected if r.model_matches(ident.get("model"))] or list(vuln.affected)
    firmware = ident.get("firmware")
    held = [r for r in ranges if firmware and r.contains(vuln.vendor, firmware, normalise_firmware)]
    r = (held or ranges)[0]
    if r.all_versions:
        return "none", None
    if r.fixed:
        return "fixed", r.fixed
    return "after", r.last_affected


def _finding_detail(f: dict[str, Any], ident: dict[str, Any], cat: dict[str, str], kb: Any) -> str:
    cid = f["check_id"]
    ev = f.get("evidence") or {}
    if cid in ("default-credentials", "weak-credentials"):
        user = ev.get("username")
        return cat["plan_detail_account"].format(where=_where(f), user=user) if user else _where(f)
    if cid == "vulnerable-firmware":
        cve = ", ".join(f.get("cves") or []) or cid
        kind, release = fixed_release(f, ident, kb)
        return cat[f"plan_fw_{kind}"].format(cve=cve, release=release, firmware=ident.get("firmware") or "?")
    if cid in SERVICE_NAMES or (cid == "needless-service" and ev.get("service")):
        return f"{SERVICE_NAMES.get(cid) or ev['service']} ({_where(f)})"
    if cid == "rtsp-anonymous" and ev.get("route"):
        return f"RTSP {f.get('port')}: {ev['route']}"
    return _where(f) or cid


def build_plan(doc: dict[str, Any], lang: str, kb: Any = None) -> list[Step]:
    """The ordered steps of the plan; every finding of the document lands in one step."""
    cat = catalogue(lang)
    steps: dict[str, Step] = {}
    owner = {c: k for k, (checks, _) in STEPS.items() for c in checks}

    def step(key: str, ease: int, title: str, why: str, how: str) -> Step:
        if key not in steps:
            steps[key] = Step(key, "info", ease, title, why, how)
        return steps[key]

    def concern(s: Step, dev: dict[str, Any], detail: str, severity: str, check: str | None) -> None:
        if SEV_RANK.get(severity, 0) > SEV_RANK[s.severity]:
            s.severity = severity
        if check and check not in s.checks:
            s.checks.append(check)
        # devices are taken one after the other: this device's item, if any, is the last one
        item = s.devices[-1] if s.devices and s.devices[-1].address == dev["address"] else None
        if item is None:
            item = DeviceItem(dev["address"], device_name(dev, cat))
            s.devices.append(item)
        if detail and detail not in item.details:
            item.details.append(detail)

    for dev in doc["devices"]:
        for f in dev["findings"]:
            cid = f["check_id"]
            if cid in owner:
                key = owner[cid]
                s = step(key, STEPS[key][1], cat[f"plan_{key}_title"], cat[f"plan_{key}_why"], cat[f"plan_{key}_how"])
            else:  # a check this plan has no wording for: its own remediation text
                s = step(f"check:{cid}", 2, f.get("title") or cid, "", f.get("remediation") or "")
            concern(s, dev, _finding_detail(f, dev["identity"], cat, kb), f["severity"], cid)
        if _upnp_answers(dev) and not any(f["check_id"] == "upnp-exposed" for f in dev["findings"]):
            s = step("services", STEPS["services"][1], cat["plan_services_title"], cat["plan_services_why"],
                     cat["plan_services_how"])
            concern(s, dev, "UPnP (udp 1900)", "low", None)

    exposed = [d for d in doc["devices"] if d["identity"].get("kind") in VIDEO_KINDS and d["findings"]]
    if exposed:
        s = step("isolate", ISOLATE_EASE, cat["plan_isolate_title"], cat["plan_isolate_why"], cat["plan_isolate_how"])
        for dev in exposed:
            concern(s, dev, "", "medium", None)
    ordered = sorted(steps.values(), key=lambda s: (-SEV_RANK[s.severity], s.ease, s.key))
    if ordered:
        verify = Step("verify", "info", 1, cat["plan_verify_title"], cat["plan_verify_why"], cat["plan_verify_how"])
        ordered.append(verify)
    return ordered
