"""A device nobody could name is in every report and compliance table as "not identified", with
what was tested and what was not; it is never shown as clean.  A device identified as another
kind of device is listed as not judged, not dropped."""

from __future__ import annotations

import csv
import json

import jsonschema
import pytest
from markupsafe import escape
from openpyxl import load_workbook

from camaudit.knowledge import load_kb
from camaudit.model import DeviceKind, HostResult, Identity, Observation
from camaudit.reports import report_schema, write_report
from camaudit.reports.assessment import TEXT
from camaudit.reports.document import build
from camaudit.store import Store

UNNAMED, ROUTER, CAMERA = "127.77.0.10", "127.77.0.20", "127.77.0.30"
ALL_CHECKS = ["rtsp-anonymous", "onvif-anonymous", "ftp-anonymous", "default-credentials",
              "weak-credentials", "cleartext-http", "unauthenticated-snapshot", "no-login-lockout"]


@pytest.fixture
def doc(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.sqlite'}")
    options = {"all_hosts": False, "video_only": False, "checks": None, "intrusive": []}
    sid = store.create_scan(targets=["127.77.0.0/24"], options=options, operator="t", tool_version="0",
                            knowledge_version="k1", hosts_total=256)
    unnamed = HostResult(UNNAMED, open_ports=[554], identity=Identity(kind=DeviceKind.UNKNOWN),
                         observations=[Observation(UNNAMED, 554, "rtsp", fields={"rtsp.status": "404"})],
                         checks_run=list(ALL_CHECKS))
    router = HostResult(ROUTER, open_ports=[443], identity=Identity(vendor="MikroTik", kind=DeviceKind.OTHER),
                        checks_run=["tls-weak", "tls-cert-invalid"])
    camera = HostResult(CAMERA, open_ports=[80], identity=Identity(vendor="Axis", kind=DeviceKind.CAMERA),
                        checks_run=list(ALL_CHECKS))
    for h in (unnamed, router, camera):
        store.record_host(store_id := sid, h, h.address)
    store.set_status(store_id, "finished")
    return build(store, sid, profile="qcvn135", lang="en")


def test_json_says_what_was_tested_and_what_was_not(doc, tmp_path):
    data = json.loads(write_report(doc, tmp_path / "r.json", lang="en", kb=load_kb()).read_text())
    jsonschema.validate(data, report_schema())
    by = {d["address"]: d["assessment"] for d in data["devices"]}
    assert set(by) == {UNNAMED, ROUTER, CAMERA}
    a = by[UNNAMED]
    assert a["state"] == "not_identified" and a["policy"] == "default"
    assert a["checks_run"] == ALL_CHECKS
    assert {"check": "vulnerable-firmware", "why": "firmware_unknown"} in a["not_run"]
    assert a["limits"] == ["generic_credentials", "generic_routes", "firmware"]
    r = by[ROUTER]
    assert r["state"] == "other" and {"check": "default-credentials", "why": "other_kind"} in r["not_run"]
    assert by[CAMERA]["state"] == "identified" and by[CAMERA]["limits"] == []


def test_compliance_keeps_the_unnamed_device_and_lists_the_router(doc):
    comp = doc["compliance"]
    devices = {d["address"]: d for d in comp["devices"]}
    assert set(devices) == {UNNAMED, CAMERA}
    assert devices[UNNAMED]["identified"] is False and devices[CAMERA]["identified"] is True
    assert comp["not_judged"] == [{"address": ROUTER, "reason": "other_kind"}]


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_html_never_calls_the_unnamed_device_clean(doc, tmp_path, lang):
    html = write_report(doc, tmp_path / "r.html", lang=lang, kb=load_kb()).read_text(encoding="utf-8")
    t = {k: str(escape(v)) for k, v in TEXT[lang].items()}
    assert t["unidentified_hosts"] in html and t["state_not_identified"] in html
    assert t["no_findings_unidentified"] in html and t["limit_generic_credentials"] in html
    assert str(escape(TEXT[lang]["exec_unidentified"].format(n=1))) in html
    assert t["state_other"] in html  # the router says why it got fewer checks
    exec_part = html.split('id="charts"')[0]
    clean = {"en": "Nothing was found within the scope tested.", "vi": None}[lang]
    if clean:
        assert clean not in exec_part


def test_csv_and_xlsx_name_the_state(doc, tmp_path):
    rows = list(csv.DictReader(write_report(doc, tmp_path / "r.csv", lang="en", kb=load_kb()).open()))
    assert {r["address"]: r["kind"] for r in rows}[UNNAMED] == "Not identified"
    wb = load_workbook(write_report(doc, tmp_path / "r.xlsx", lang="vi", kb=load_kb()))
    kinds = {row[0]: row[2] for row in wb["Devices"].iter_rows(min_row=2, values_only=True)}
    assert kinds[UNNAMED] == "Chưa nhận dạng"
