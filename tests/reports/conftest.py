"""A realistic report document built by hand after docs/CONTRACTS.md: five hosts (Hikvision,
Dahua, a hostile Xiongmai whose banner carries HTML and spreadsheet formulas, a clean NVR, a
router), the compliance part over every clause of the real QCVN 135 catalogue, and a diff."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from camaudit.compliance.catalogue import load_catalogue
from camaudit.knowledge import load_kb

HOSTILE = '=HYPERLINK("http://127.0.0.1:9/x","bấm vào đây")<script>alert(1)</script><img src=http://127.0.0.1:9/i>'
ALL_CHECKS = ["default-credentials", "weak-credentials", "rtsp-anonymous", "onvif-anonymous", "cleartext-http",
              "cleartext-telnet", "cleartext-ftp", "ftp-anonymous", "snmp-default-community", "no-login-lockout",
              "vulnerable-firmware"]


def finding(check_id: str, severity: str, port: int | None, protocol: str | None, evidence: dict[str, Any],
            cves: list[str] | None = None) -> dict[str, Any]:
    return {"check_id": check_id, "severity": severity, "port": port, "protocol": protocol, "evidence": evidence,
            "clauses": ["QCVN-135:unique-password"] if "credentials" in check_id else [], "cves": cves or [],
            "title": "", "remediation": ""}


def device(address: str, kind: str, vendor: str | None, model: str | None, firmware: str | None,
           ports: list[int], findings: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"address": address, "hostname": extra.get("hostname"), "device_key": extra.get("key"),
            "identity": {"vendor": vendor, "model": model, "firmware": firmware, "kind": kind, "confidence": 0.9,
                         "serial": extra.get("serial"), "mac": None, "evidence": [f"{(vendor or 'x').lower()}@http:80"]},
            "open_ports": ports, "udp_ports": extra.get("udp", []), "observations": extra.get("observations", []),
            "findings": findings, "errors": extra.get("errors", []), "checks_run": ALL_CHECKS}


def hosts() -> list[dict[str, Any]]:
    ssdp = {"address": "127.0.0.13", "port": 1900, "protocol": "ssdp", "transport": "udp",
            "fields": {"ssdp.server": HOSTILE}, "raw": "HTTP/1.1 200 OK", "error": None}
    return [
        device("127.0.0.11", "camera", "Hikvision", "DS-2CD2032-I", "V5.3.0 build 151016", [80, 554, 8000], [
            finding("default-credentials", "critical", 80, "http",
                    {"username": "admin", "password": "123***", "surface": "ISAPI"}),
            finding("vulnerable-firmware", "critical", None, None,
                    {"firmware": "V5.3.0 build 151016", "summary_vi": "Lỗi xác thực trong máy chủ web",
                     "summary_en": "Improper authentication", "references": ["https://nvd.nist.gov/"]},
                    cves=["CVE-2017-7921"]),
            finding("cleartext-http", "medium", 80, "http", {"status": "200"}),
        ], key="hikvision:DS-2CD2032-I:SN1", serial="DS-2CD2032-I20160101AAWR123"),
        device("127.0.0.12", "camera", "Dahua", "IPC-HFW4431R-Z", "V2.800.0000000.5.R, Build Date: 2020-11-02",
               [23, 80, 554, 37777], [
                   finding("vulnerable-firmware", "critical", None, None, {"cvss": 9.8}, cves=["CVE-2021-33044"]),
                   finding("weak-credentials", "high", 554, "rtsp", {"username": "admin", "password": "adm***"}),
                   finding("cleartext-telnet", "high", 23, "telnet", {"banner": "login:"}),
                   finding("no-login-lockout", "medium", 80, "http", {"attempts": 4}),
               ], key="dahua:IPC-HFW4431R-Z:SN2"),
        device("127.0.0.13", "dvr", "Xiongmai", HOSTILE, "V4.02.R11", [21, 23, 80, 554, 34567], [
            finding("default-credentials", "critical", 23, "telnet",
                    {"username": "root", "password": "xmh***", "banner": HOSTILE}),
            finding("vulnerable-firmware", "critical", None, None, {}, cves=["CVE-2017-16725"]),
            finding("rtsp-anonymous", "high", 554, "rtsp", {"route": "/user=admin_password=&channel=1"}),
            finding("ftp-anonymous", "high", 21, "ftp", {"banner": "+cmd|' /C calc'!A0"}),
            finding("cleartext-telnet", "high", 23, "telnet", {"banner": "\x1b[0mLinux\x00 login:"}),
            finding("snmp-default-community", "high", 161, "snmp", {"community": "public"}),
            finding("cleartext-ftp", "medium", 21, "ftp", {}),
        ], udp=[161, 1900], observations=[ssdp], errors=["http:8080 timeout"], hostname="@SUM(1+1)"),
        device("127.0.0.14", "nvr", "Hikvision", "DS-7608NI-K2", "V4.22.005 build 190517", [80, 443, 554, 8000], []),
        device("127.0.0.20", "other", "MikroTik", "RB750Gr3", "6.48", [22, 23, 80], [
            finding("cleartext-telnet", "high", 23, "telnet", {"banner": "MikroTik v6.48"}),
        ], hostname="router.phuong"),
    ]


def compliance(devs: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    """Verdicts over every clause of QCVN 135, by the status rules of docs/CONTRACTS.md."""
    cat = load_catalogue("qcvn135")
    reasons = {"vi": "Căn cứ: {}", "en": "Grounds: {}"}[lang]
    out_devices, per_clause = [], {c.id: [] for c in cat.clauses}
    for d in devs:
        if d["identity"]["kind"] not in ("camera", "nvr", "dvr"):
            continue
        verdicts = []
        for c in cat.clauses:
            hits = [f for f in d["findings"] if f["check_id"] in c.checks]
            if hits:
                status = "fail"
            elif c.judged_by.value != "remote":
                status = "attestation"
            else:
                status = "pass" if any(x in d["checks_run"] for x in c.checks) else "not_tested"
            per_clause[c.id].append(status)
            verdicts.append({
                "clause": c.id, "catalogue": "qcvn135", "group": c.group,
                "group_title": getattr(cat.group(c.group).title, lang), "number": c.number,
                "confirmed": c.confirmed, "title": getattr(c.title, lang), "text": getattr(c.text, lang),
                "judged_by": c.judged_by.value, "status": status, "reason": reasons.format(status),
                "binding": True, "role": "binding",
                "checks": list(c.checks),
                "findings": [{"check_id": f["check_id"], "port": f["port"], "protocol": f["protocol"],
                              "cves": f["cves"]} for f in hits],
                "attestation": None})
        out_devices.append({"address": d["address"], "device_key": d["device_key"] or f"addr:{d['address']}",
                            "vendor": d["identity"]["vendor"], "model": d["identity"]["model"],
                            "firmware": d["identity"]["firmware"], "verdicts": verdicts,
                            "score": score([v["status"] for v in verdicts]),
                            "scores": {"binding": score([v["status"] for v in verdicts])}})
    clauses = []
    for c in cat.clauses:
        states = per_clause[c.id]
        status = next((s for s in ("fail", "attestation", "not_tested", "pass") if s in states), "na")
        clauses.append({"clause": c.id, "catalogue": "qcvn135", "role": "binding", "binding": True,
                        "title": getattr(c.title, lang), "status": status,
                        "fail_devices": states.count("fail"), "attestation_devices": states.count("attestation")})
    # judged on request against QCVN 135 after it was superseded (--profile qcvn135, scan of 20/11/2026)
    return {"profile": "qcvn135", "as_of": "2026-11-20",
            "catalogues": [{"id": "qcvn135", "version": cat.version, "code": cat.document.code,
                            "title": getattr(cat.document.title, lang), "issuer": getattr(cat.document.issuer, lang),
                            "instrument": "Thông tư 21/2024/TT-BTTTT", "binding": True, "role": "binding",
                            "status": "superseded", "in_force_from": "2025-02-15", "superseded_on": "2026-07-01",
                            "supersedes": [],
                            "superseded_by": {"code": "QCVN 11:2026/BCA", "instrument": "Thông tư 48/2026/TT-BCA",
                                              "effective": "2026-07-01", "confirmed": True, "note": "x"}}],
            "statuses": ["pass", "fail", "attestation", "not_tested", "na"],
            "context": {"as_of": "2026-11-20", "legal_basis": ["Luật An ninh mạng số 116/2025/QH15"],
                        "authorities": [{"role": "network-security-authority", "title": "Cơ quan quản lý",
                                         "name": "Bộ Công an"}]},
            "devices": out_devices,
            "system": {"name": "Hệ thống camera giám sát UBND phường Bến Nghé", "devices": len(out_devices),
                       "score": score([c["status"] for c in clauses]),
                       "scores": {"binding": score([c["status"] for c in clauses])}, "clauses": clauses}}


def score(states: list[str]) -> dict[str, Any]:
    counts: dict[str, Any] = {s: states.count(s) for s in ("pass", "fail", "attestation", "not_tested", "na")}
    considered = len(states) - counts["na"]
    counts["compliance"] = round(counts["pass"] / considered, 4) if considered else 1.0
    return counts


def ref(address: str, key: str | None, check_id: str, severity: str, port: int | None, protocol: str | None,
        cves: list[str] | None = None) -> dict[str, Any]:
    return {"address": address, "device_key": key or f"addr:{address}", "check_id": check_id,
            "severity": severity, "port": port, "protocol": protocol, "cves": cves or []}


def make_doc(lang: str = "vi") -> dict[str, Any]:
    devs = hosts()
    counts = {s: 0 for s in ("critical", "high", "medium", "low", "info")}
    for d in devs:
        for f in d["findings"]:
            counts[f["severity"]] += 1
    return {
        "schema": "camaudit-report/1", "lang": lang,
        "scan": {"id": "5f0c2a7e9b1d4c3f8a6e2d1c0b9a8f7e", "status": "finished", "operator": "Nguyễn Thị Hồng Nhung",
                 "targets": ["127.0.0.0/27"], "options": {"ports": [21, 22, 23, 80, 443, 554], "udp": True,
                                                          "checks": None, "intrusive": []},
                 "started": "2026-11-20T08:30:00+07:00", "finished": "2026-11-20T08:41:12+07:00",
                 "tool_version": "0.1.0", "knowledge_version": "k-3f9a1c"},
        "summary": {"hosts_swept": 32, "hosts_total": 32, "hosts_up": 5, "devices": 5, "video_devices": 4,
                    "findings": counts},
        "devices": devs,
        "compliance": compliance(devs, lang),
        "diff": {"base_scan": "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "base_started": "2026-10-15T09:00:00+07:00",
                 "new": [ref("127.0.0.12", "dahua:IPC-HFW4431R-Z:SN2", "cleartext-telnet", "high", 23, "telnet")],
                 "fixed": [ref("127.0.0.11", "hikvision:DS-2CD2032-I:SN1", "rtsp-anonymous", "high", 554, "rtsp"),
                           ref("127.0.0.14", None, "default-credentials", "critical", 80, "http")],
                 "persisting": [ref("127.0.0.11", "hikvision:DS-2CD2032-I:SN1", "default-credentials", "critical",
                                    80, "http")]},
    }


@pytest.fixture(scope="session")
def kb():
    return load_kb()


@pytest.fixture
def doc() -> dict[str, Any]:
    return copy.deepcopy(_DOC)


_DOC = make_doc()
