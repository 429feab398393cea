"""Real NVD 2.0 records and KEV rows, abridged (fewer configurations, fewer references, the
Spanish descriptions dropped) but in the shape NVD and CISA publish them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

V31_CRITICAL = {"source": "nvd@nist.gov", "type": "Primary", "cvssData": {
    "version": "3.1", "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "baseScore": 9.8,
    "baseSeverity": "CRITICAL", "attackVector": "NETWORK", "attackComplexity": "LOW",
    "privilegesRequired": "NONE", "userInteraction": "NONE", "scope": "UNCHANGED",
    "confidentialityImpact": "HIGH", "integrityImpact": "HIGH", "availabilityImpact": "HIGH"},
    "exploitabilityScore": 3.9, "impactScore": 5.9}
V31_HIGH_PRH = {"source": "nvd@nist.gov", "type": "Primary", "cvssData": {
    "version": "3.1", "vectorString": "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", "baseScore": 7.2,
    "baseSeverity": "HIGH", "attackVector": "NETWORK", "attackComplexity": "LOW",
    "privilegesRequired": "HIGH", "userInteraction": "NONE", "scope": "UNCHANGED",
    "confidentialityImpact": "HIGH", "integrityImpact": "HIGH", "availabilityImpact": "HIGH"},
    "exploitabilityScore": 1.2, "impactScore": 5.9}


def pair(firmware: str, hardware: str, match_id: str, **bounds: str) -> dict[str, Any]:
    """One AND configuration as NVD writes camera firmware: vulnerable o: CPE + its h: CPE."""
    return {"operator": "AND", "nodes": [
        {"operator": "OR", "negate": False, "cpeMatch": [
            {"vulnerable": True, "criteria": firmware, **bounds, "matchCriteriaId": match_id}]},
        {"operator": "OR", "negate": False, "cpeMatch": [
            {"vulnerable": False, "criteria": hardware,
             "matchCriteriaId": "00000000-0000-0000-0000-" + match_id[-12:]}]}]}


CVE_2021_36260 = {
    "id": "CVE-2021-36260", "sourceIdentifier": "hsrc@hikvision.com",
    "published": "2021-09-22T13:15:07.690", "lastModified": "2025-10-21T20:18:39.667",
    "vulnStatus": "Modified", "cveTags": [],
    "descriptions": [{"lang": "en", "value": "A command injection vulnerability in the web server of some "
                      "Hikvision product. Due to the insufficient input validation, attacker can exploit "
                      "the vulnerability to launch a command injection attack by sending some messages "
                      "with malicious commands."}],
    "metrics": {"cvssMetricV31": [V31_CRITICAL], "cvssMetricV2": [{"source": "nvd@nist.gov", "type": "Primary",
                "cvssData": {"version": "2.0", "vectorString": "AV:N/AC:M/Au:N/C:C/I:C/A:C", "baseScore": 9.3}}]},
    "cisaExploitAdd": "2022-01-10", "cisaActionDue": "2022-01-24",
    "cisaRequiredAction": "Apply updates per vendor instructions.",
    "cisaVulnerabilityName": "Hikvision Improper Input Validation",
    "weaknesses": [{"source": "nvd@nist.gov", "type": "Primary", "description": [{"lang": "en", "value": "CWE-78"}]}],
    "configurations": [
        pair("cpe:2.3:o:hikvision:ds-2cd2026g2-iu\\/sl_firmware:-:*:*:*:*:*:*:*",
             "cpe:2.3:h:hikvision:ds-2cd2026g2-iu\\/sl:-:*:*:*:*:*:*:*", "149334E5-6B50-437F-A949-0FADC96BFC6B"),
        pair("cpe:2.3:o:hikvision:ds-2cd2066g2-i\\(u\\)_firmware:-:*:*:*:*:*:*:*",
             "cpe:2.3:h:hikvision:ds-2cd2066g2-i\\(u\\):-:*:*:*:*:*:*:*", "E5B1F3F2-B715-4C9B-86E3-8DA5AB0946A2"),
        pair("cpe:2.3:o:hikvision:ds-7608ni-q1_firmware:*:*:*:*:*:*:*:*",
             "cpe:2.3:h:hikvision:ds-7608ni-q1:-:*:*:*:*:*:*:*", "55E1BD95-A5E3-4939-A524-CE82290EA75B",
             versionStartIncluding="4.30.210", versionEndIncluding="4.31.000"),
    ],
    "references": [
        {"url": "http://packetstormsecurity.com/files/164603/Hikvision-Web-Server-Build-210702-Command-Injection.html",
         "source": "hsrc@hikvision.com", "tags": ["Exploit", "Third Party Advisory", "VDB Entry"]},
        {"url": "https://www.hikvision.com/en/support/cybersecurity/security-advisory/security-notification-command-injection-vulnerability-in-some-hikvision-products/",
         "source": "hsrc@hikvision.com", "tags": ["Vendor Advisory"]}],
}

CVE_2021_40407 = {
    "id": "CVE-2021-40407", "sourceIdentifier": "talos-cna@cisco.com",
    "published": "2022-01-28T20:15:11.607", "lastModified": "2025-10-21T20:18:46.377",
    "vulnStatus": "Modified", "cveTags": [],
    "descriptions": [{"lang": "en", "value": "An OS command injection vulnerability exists in the device network "
                      "settings functionality of reolink RLC-410W v3.0.0.136_20121102. At [1] or [2], based on "
                      "DDNS type, the ddns->domain variable, that has the value of the domain parameter provided "
                      "through the SetDdns API, is not validated properly. This would lead to an OS command "
                      "injection. An attacker can send an HTTP request to trigger this vulnerability."}],
    "metrics": {"cvssMetricV31": [V31_HIGH_PRH], "cvssMetricV30": [{"source": "talos-cna@cisco.com", "type": "Secondary",
                "cvssData": {"version": "3.0", "vectorString": "CVSS:3.0/AV:N/AC:L/PR:H/UI:N/S:C/C:H/I:H/A:H",
                             "baseScore": 9.1, "baseSeverity": "CRITICAL"}}]},
    "cisaExploitAdd": "2024-12-18", "cisaActionDue": "2025-01-08",
    "weaknesses": [{"source": "nvd@nist.gov", "type": "Primary", "description": [{"lang": "en", "value": "CWE-78"}]}],
    "configurations": [
        pair("cpe:2.3:o:reolink:rlc-410w_firmware:3.0.0.136_20121102:*:*:*:*:*:*:*",
             "cpe:2.3:h:reolink:rlc-410w:-:*:*:*:*:*:*:*", "2C79EEB2-5A28-48DE-95AB-197DAD087B06")],
    "references": [
        {"url": "https://talosintelligence.com/vulnerability_reports/TALOS-2021-1424",
         "source": "talos-cna@cisco.com", "tags": ["Exploit", "Third Party Advisory"]},
        {"url": "https://talosintelligence.com/vulnerability_reports/TALOS-2021-1424",
         "source": "af854a3a-2127-422b-91ae-364da2661108", "tags": ["Exploit", "Third Party Advisory"]}],
}

CVE_2019_11001 = {
    "id": "CVE-2019-11001", "sourceIdentifier": "cve@mitre.org",
    "published": "2019-04-08T17:29:00.590", "lastModified": "2025-10-21T20:17:24.230",
    "vulnStatus": "Modified", "cveTags": [],
    "descriptions": [{"lang": "en", "value": "On Reolink RLC-410W, C1 Pro, C2 Pro, RLC-422W, and RLC-511W devices "
                      "through 1.0.227, an authenticated admin can use the \"TestEmail\" functionality to inject "
                      "and run OS commands as root, as demonstrated by shell metacharacters in the addr1 field."}],
    "metrics": {"cvssMetricV31": [V31_HIGH_PRH]},
    "cisaExploitAdd": "2024-12-18", "cisaActionDue": "2025-01-08",
    "configurations": [
        pair("cpe:2.3:o:reolink:rlc-410w_firmware:*:*:*:*:*:*:*:*", "cpe:2.3:h:reolink:rlc-410w:-:*:*:*:*:*:*:*",
             "3E2B849F-7B64-4F91-AB7E-F30E6C985E82", versionEndIncluding="1.0.227"),
        pair("cpe:2.3:o:reolink:c1_pro_firmware:*:*:*:*:*:*:*:*", "cpe:2.3:h:reolink:c1_pro:-:*:*:*:*:*:*:*",
             "194BCD5A-FD4D-4033-9B01-0F4265FD457F", versionEndIncluding="1.0.227")],
    "references": [{"url": "https://github.com/mcw0/PoC/blob/master/Reolink-IPC-RCE.py",
                    "source": "cve@mitre.org", "tags": ["Exploit", "Third Party Advisory"]}],
}

CVE_2021_33044 = {
    "id": "CVE-2021-33044", "sourceIdentifier": "cybersecurity@dahuatech.com",
    "published": "2021-09-15T22:15:10.497", "lastModified": "2025-10-21T20:18:36.533",
    "vulnStatus": "Modified", "cveTags": [],
    "descriptions": [{"lang": "en", "value": "The identity authentication bypass vulnerability found in some Dahua "
                      "products during the login process. Attackers can bypass device identity authentication by "
                      "constructing malicious data packets."}],
    "metrics": {"cvssMetricV31": [V31_CRITICAL]},
    "cisaExploitAdd": "2024-08-21", "cisaActionDue": "2024-09-11",
    "configurations": [
        pair("cpe:2.3:o:dahuasecurity:ipc-hx3xxx_firmware:*:*:*:*:*:*:*:*",
             "cpe:2.3:h:dahuasecurity:ipc-hx3xxx:-:*:*:*:*:*:*:*", "E0D17050-41CA-4808-8ED3-F332FD00B551",
             versionEndExcluding="2.800.0000000.29.r.210630"),
        pair("cpe:2.3:o:dahuasecurity:sd22_firmware:*:*:*:*:*:*:*:*",
             "cpe:2.3:h:dahuasecurity:sd22:-:*:*:*:*:*:*:*", "17FADF4C-29F2-449A-B57E-59F2338D433C",
             versionEndExcluding="2.812.0000007.0.r.210706")],
    "references": [{"url": "https://www.dahuasecurity.com/support/cybersecurity/details/957",
                    "source": "cybersecurity@dahuatech.com", "tags": ["Vendor Advisory"]}],
}

# not a camera: must be left out
CVE_2024_45195 = {
    "id": "CVE-2024-45195", "sourceIdentifier": "security@apache.org",
    "published": "2024-09-04T09:15:05.003", "lastModified": "2025-02-04T20:15:49.993",
    "vulnStatus": "Modified", "cveTags": [],
    "descriptions": [{"lang": "en", "value": "Direct Request ('Forced Browsing') vulnerability in Apache OFBiz."}],
    "metrics": {"cvssMetricV31": [V31_CRITICAL]},
    "configurations": [{"nodes": [{"operator": "OR", "negate": False, "cpeMatch": [
        {"vulnerable": True, "criteria": "cpe:2.3:a:apache:ofbiz:*:*:*:*:*:*:*:*",
         "versionEndExcluding": "18.12.16", "matchCriteriaId": "E3E9B4F5-DB2E-4F41-A4B8-77A3D9B0A5E4"}]}]}],
    "references": [{"url": "https://ofbiz.apache.org/security.html", "source": "security@apache.org"}],
}

CVES = [CVE_2021_36260, CVE_2021_40407, CVE_2019_11001, CVE_2021_33044, CVE_2024_45195]


def feed(cves: list[dict[str, Any]], timestamp: str = "2025-11-20T03:00:01.0000000") -> dict[str, Any]:
    """An NVD CVE JSON 2.0 document (yearly file or API response)."""
    return {"resultsPerPage": len(cves), "startIndex": 0, "totalResults": len(cves), "format": "NVD_CVE",
            "version": "2.0", "timestamp": timestamp, "vulnerabilities": [{"cve": c} for c in cves]}


def write_feed(path: Path, cves: list[dict[str, Any]] | None = None, **kw: Any) -> Path:
    path.write_text(json.dumps(feed(CVES if cves is None else cves, **kw), indent=2), encoding="utf-8")
    return path


KEV_HEADER = ["cveID", "vendorProject", "product", "vulnerabilityName", "dateAdded", "shortDescription",
              "requiredAction", "dueDate", "knownRansomwareCampaignUse", "notes", "cwes"]
KEV_ROWS = [
    ["CVE-2021-40407", "Reolink", "RLC-410W IP Camera", "Reolink RLC-410W IP Camera OS Command Injection Vulnerability ",
     "2024-12-18", ("Reolink RLC-410W IP cameras contain an authenticated OS command injection vulnerability in the "
     "device network settings functionality."), ("The impacted product could be end-of-life (EoL) and/or end-of-service "
     "(EoS). Users should discontinue product utilization if a current mitigation is unavailable."), "2025-01-08",
     "Unknown", "https://reolink.com/product-eol/ ; https://nvd.nist.gov/vuln/detail/CVE-2021-40407", "CWE-78"],
    ["CVE-2021-36260", "Hikvision", "Various Products", "Hikvision Improper Input Validation", "2022-01-10",
     "Hikvision contains an improper input validation vulnerability in the web server of some products.",
     "Apply updates per vendor instructions.", "2022-01-24", "Unknown",
     "https://nvd.nist.gov/vuln/detail/CVE-2021-36260", "CWE-20"],
    ["CVE-2017-7921", "Hikvision", "Multiple Products", "Hikvision Improper Authentication", "2021-11-03",
     "Multiple Hikvision products contain improper authentication handling vulnerability.",
     "Apply updates per vendor instructions.", "2022-05-03", "Unknown",
     "https://nvd.nist.gov/vuln/detail/CVE-2017-7921", "CWE-287"],
    ["CVE-2024-45195", "Apache", "OFBiz", "Apache OFBiz Forced Browsing Vulnerability", "2025-02-04",
     ("Apache OFBiz contains a forced browsing vulnerability that allows a remote attacker to obtain unauthorized "
     "access."), ("Apply mitigations per vendor instructions or discontinue use of the product if mitigations are "
     "unavailable."), "2025-02-25", "Unknown", ("https://ofbiz.apache.org/security.html ; "
     "https://nvd.nist.gov/vuln/detail/CVE-2024-45195"), "CWE-425"],
]


def kev_csv(rows: list[list[str]] | None = None, header: list[str] | None = None) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(KEV_HEADER if header is None else header)
    w.writerows(KEV_ROWS if rows is None else rows)
    return buf.getvalue()


def write_kev(path: Path, rows: list[list[str]] | None = None, header: list[str] | None = None) -> Path:
    path.write_text(kev_csv(rows, header), encoding="utf-8")
    return path
