import csv
import json

import pytest

from camaudit.knowledge import load_kb
from camaudit.model import DeviceKind, Finding, HostResult, Identity, Severity
from camaudit.reports import ReportError, write_report
from camaudit.store import Store


@pytest.fixture
def doc(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.sqlite'}")
    sid = store.create_scan(targets=["127.20.0.0/24"], options={}, operator="Nguyễn Văn An", tool_version="0.1.0",
                            knowledge_version="k1", hosts_total=256)
    h = HostResult(address="127.20.0.11", open_ports=[80, 554])
    h.identity = Identity(vendor="Hikvision", model="DS-2CD2032-I", firmware="V5.4.1 build 160525",
                          kind=DeviceKind.CAMERA, confidence=0.95)
    h.findings.append(Finding("default-credentials", h.address, Severity.CRITICAL, port=80, protocol="http",
                              evidence={"username": "admin", "password": "123***", "banner": "=HYPERLINK(\"x\")"}))
    h.findings.append(Finding("cleartext-http", h.address, Severity.MEDIUM, port=80, protocol="http"))
    h.errors.append("http:8080 timeout")
    store.record_host(sid, h, h.address)
    store.set_status(sid, "finished")
    return store.report_document(sid)


def test_html_is_self_contained_and_vietnamese(doc, tmp_path):
    kb = load_kb()
    path = write_report(doc, tmp_path / "r.html", lang="vi", kb=kb)
    html = path.read_text(encoding="utf-8")
    assert "Báo cáo đánh giá an toàn thông tin camera giám sát" in html
    assert "Nghiêm trọng" in html and "Nguyễn Văn An" in html
    assert kb.checks.get("default-credentials").title.vi in html
    assert kb.checks.get("default-credentials").remediation.vi in html
    assert "<svg" in html and "http:8080 timeout" in html
    for external in ("<script", "http://", "https://", "<link"):
        assert external not in html.replace("http://www.w3.org/2000/svg", ""), external
    assert "&#34;x&#34;" in html or "&quot;x&quot;" in html  # device text is escaped


def test_english_report(doc, tmp_path):
    html = write_report(doc, tmp_path / "r.html", lang="en", kb=load_kb()).read_text(encoding="utf-8")
    assert "Surveillance camera security assessment report" in html and "Critical" in html


def test_json_report_has_titles_and_remediation(doc, tmp_path):
    data = json.loads(write_report(doc, tmp_path / "r.json", lang="en", kb=load_kb()).read_text(encoding="utf-8"))
    assert data["schema"] == "camaudit-report/1"
    f = data["devices"][0]["findings"][0]
    assert f["check_id"] == "default-credentials" and f["title"] and f["remediation"]
    assert data["summary"]["findings"]["critical"] == 1


def test_csv_defuses_formulas(doc, tmp_path):
    rows = list(csv.DictReader(write_report(doc, tmp_path / "r.csv", lang="vi", kb=load_kb()).open(encoding="utf-8")))
    assert len(rows) == 2 and rows[0]["check_id"] == "default-credentials"
    assert rows[0]["severity"] == "Nghiêm trọng"
    assert '=HYPERLINK' in rows[0]["evidence"] and not rows[0]["evidence"].startswith("=")


def test_unknown_format_and_unwritable_path(doc, tmp_path):
    with pytest.raises(ReportError, match="unknown report format"):
        write_report(doc, tmp_path / "r.txt")
    (tmp_path / "blocker").write_text("a file, not a folder")
    with pytest.raises(ReportError, match="cannot write report"):
        write_report(doc, tmp_path / "blocker" / "r.html")


def test_catalogues_have_the_same_keys():
    from camaudit.locale import catalogue

    assert set(catalogue("vi")) == set(catalogue("en"))


def test_json_report_validates_against_the_published_schema(doc, tmp_path):
    import jsonschema

    from camaudit.reports import report_schema

    data = json.loads(write_report(doc, tmp_path / "r.json", lang="vi", kb=load_kb()).read_text(encoding="utf-8"))
    jsonschema.validate(data, report_schema(), format_checker=jsonschema.FormatChecker())
    data["devices"][0]["findings"][0]["severity"] = "catastrophic"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, report_schema())
