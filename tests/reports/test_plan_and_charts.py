"""The remediation plan's order and coverage, and the SVG charts."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from camaudit.reports.charts import Segment, bar_chart, stacked_chart
from camaudit.reports.remediation import build_plan

SVG = "{http://www.w3.org/2000/svg}"


def test_plan_order_severity_then_ease(doc, kb):
    plan = build_plan(doc, "vi", kb)
    keys = [s.key for s in plan]
    assert keys[:2] == ["passwords", "firmware"]  # both critical; a setting before a firmware update
    assert keys[-1] == "verify" and keys[-2] == "isolate"
    ranks = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
    body = plan[:-1]
    assert [ranks[s.severity] for s in body] == sorted((ranks[s.severity] for s in body), reverse=True)
    assert plan[0].title == "Đổi ngay mật khẩu mặc định và mật khẩu yếu"


def test_every_finding_lands_in_a_step_with_its_device(doc, kb):
    plan = build_plan(doc, "vi", kb)
    for d in doc["devices"]:
        for f in d["findings"]:
            assert any(f["check_id"] in s.checks and d["address"] in [x.address for x in s.devices] for s in plan), \
                (d["address"], f["check_id"])


def test_firmware_step_names_the_fixed_release(doc, kb):
    step = next(s for s in build_plan(doc, "vi", kb) if s.key == "firmware")
    details = {d.address: " ".join(d.details) for d in step.devices}
    assert "V2.800.0000000.0.R, Build Date: 2021-07-01" in details["127.0.0.12"]  # Dahua: fixed release
    assert "mới hơn V5.4.0 build 160530" in details["127.0.0.11"]  # Hikvision: last affected build
    assert "chưa có bản sửa lỗi" in details["127.0.0.13"]  # Xiongmai: no fix published
    no_kb = next(s for s in build_plan(doc, "vi") if s.key == "firmware")
    assert all("phiên bản mới nhất" in " ".join(d.details) for d in no_kb.devices)


def test_services_isolation_and_unknown_checks(doc, kb):
    doc["devices"][0]["findings"].append({"check_id": "tls-weak", "severity": "low", "port": 443, "protocol": "tls",
                                          "evidence": {}, "clauses": [], "cves": [], "title": "TLS yếu",
                                          "remediation": "Tắt TLS 1.0"})
    plan = {s.key: s for s in build_plan(doc, "vi", kb)}
    services = {d.address: d.details for d in plan["services"].devices}
    assert "UPnP (udp 1900)" in services["127.0.0.13"]
    assert "Telnet (telnet:23)" in services["127.0.0.20"]  # a router's Telnet is still to be turned off
    assert {d.address for d in plan["isolate"].devices} == {"127.0.0.11", "127.0.0.12", "127.0.0.13"}
    assert plan["check:tls-weak"].how == "Tắt TLS 1.0" and plan["check:tls-weak"].severity == "low"


def test_clean_scan_has_an_empty_plan(doc):
    for d in doc["devices"]:
        d["findings"], d["observations"] = [], []
    assert build_plan(doc, "en") == []


def test_bar_chart_is_well_formed_proportional_and_escaped():
    svg = bar_chart([("<script>x</script>", 10, "#7b0d1e"), ("B & C", 5, "#c0392b"), ("zero", 0, "#000")],
                    title='Findings "by" vendor')
    assert svg == bar_chart([("<script>x</script>", 10, "#7b0d1e"), ("B & C", 5, "#c0392b"), ("zero", 0, "#000")],
                            title='Findings "by" vendor')  # deterministic
    root = ET.fromstring(str(svg))
    texts = [t.text for t in root.iter(SVG + "text")]
    assert "<script>x</script>" in texts and "B & C" in texts  # escaped in markup, intact as text
    widths = [float(r.get("width")) for r in root.iter(SVG + "rect")]
    assert widths[0] == 2 * widths[1] and widths[2] == 0


def test_stacked_chart_segments_and_legend():
    rows = [("Hikvision", [Segment("critical", "Nghiêm trọng", 2, "#7b0d1e"), Segment("high", "Cao", 0, "#c0392b")]),
            ("Dahua", [Segment("critical", "Nghiêm trọng", 1, "#7b0d1e"), Segment("high", "Cao", 3, "#c0392b")])]
    root = ET.fromstring(str(stacked_chart(rows, title="t")))
    bars = [r for r in root.iter(SVG + "rect") if r.find(SVG + "title") is not None]
    assert len(bars) == 3  # zero segments are not drawn
    legend = [t.text for t in root.iter(SVG + "text")]
    assert "Nghiêm trọng" in legend and "Cao" in legend
    full = ET.fromstring(str(stacked_chart(rows, title="t", normalise=True)))
    spans = {}
    for r in full.iter(SVG + "rect"):
        if r.find(SVG + "title") is not None:
            spans[r.get("y")] = spans.get(r.get("y"), 0) + float(r.get("width"))
    assert len(spans) == 2 and max(spans.values()) - min(spans.values()) < 0.5  # shares: every bar full width


def test_newer_exposure_checks_join_the_services_step(doc, kb):
    dvr = doc["devices"][2]
    dvr["findings"] += [
        {"check_id": "upnp-exposed", "severity": "low", "port": 1900, "protocol": "ssdp", "evidence": {},
         "clauses": [], "cves": [], "title": "", "remediation": ""},
        {"check_id": "needless-service", "severity": "medium", "port": 9527, "protocol": "tcp",
         "evidence": {"service": "debug console"}, "clauses": [], "cves": [], "title": "", "remediation": ""}]
    services = next(s for s in build_plan(doc, "vi", kb) if s.key == "services")
    details = next(d.details for d in services.devices if d.address == dvr["address"])
    assert "UPnP (ssdp:1900)" in details and "UPnP (udp 1900)" not in details  # the finding, not the observation
    assert "debug console (tcp:9527)" in details
