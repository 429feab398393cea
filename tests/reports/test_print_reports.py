"""PDF, XLSX, HTML, JSON from one hand-built report document (conftest.py): Vietnamese intact,
every clause shown, hostile device text inert, nothing fetched from the network."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import jsonschema
import pytest

from camaudit.reports import format_of, report_schema, write_report

from .conftest import make_doc

NEEDS = ("pdftotext", "pdftoppm")


def _need_poppler() -> None:
    missing = [t for t in NEEDS if shutil.which(t) is None]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"missing {missing} (Debian package poppler-utils)")
        pytest.skip(f"missing {missing} (Debian package poppler-utils)")


@pytest.fixture(scope="module")
def pdf(tmp_path_factory, kb) -> Path:
    """The Vietnamese PDF, rendered once for the module (WeasyPrint takes a few seconds)."""
    return write_report(make_doc(), tmp_path_factory.mktemp("pdf") / "bao-cao.pdf", lang="vi", kb=kb)


def _pages(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True,
                          timeout=60).stdout.decode("utf-8")
    return text.split("\f")[:-1]


def test_pdf_text_is_vietnamese_with_diacritics(pdf, doc):
    _need_poppler()
    pages = _pages(pdf)
    assert len(pages) > 3
    text = " ".join(" ".join(p.split()) for p in pages)
    for phrase in ("Nghiêm trọng", "Báo cáo đánh giá", "Khắc phục", "BÁO CÁO", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                   "Nguyễn Thị Hồng Nhung", "Hệ thống camera giám sát UBND phường Bến Nghé", "Kế hoạch khắc phục",
                   "So sánh với lượt quét trước", "Phụ lục", "QCVN 135:2024/BTTTT", "THỦ TRƯỞNG CƠ QUAN, ĐƠN VỊ"):
        assert phrase in text, phrase
    assert f"Trang 2 / {len(pages)}" in pages[1]  # running footer with the page count
    assert doc["scan"]["id"][:8] in pages[1]  # running header with the scan id
    assert "Trang" not in pages[0]  # the cover carries no running header or footer


def test_pdf_one_page_per_video_device_and_every_page_renders(pdf, doc, tmp_path):
    _need_poppler()
    pages = _pages(pdf)
    heads = [[ln for ln in p.splitlines() if ln.strip()][:4] for p in pages]
    for d in doc["devices"]:
        if d["identity"]["kind"] in ("camera", "nvr", "dvr"):
            assert any(ln.startswith(d["address"] + " ") for h in heads for ln in h), d["address"]
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(tmp_path / "p")], check=True, timeout=60)
    images = sorted(tmp_path.glob("p-*.png"))
    assert len(images) == len(pages)
    assert all(p.stat().st_size > 1000 for p in images)


def test_pdf_has_no_link_out_of_the_document(pdf):
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert b"/URI" not in data  # the hostile <img src=http://...> stayed text; only internal anchors


def test_url_fetcher_refuses_everything_but_files(tmp_path):
    """WeasyPrint given an HTML that points at a listening loopback server never connects."""
    from weasyprint import HTML

    from camaudit.reports.pdf import local_only_fetcher

    srv = socket.create_server(("127.0.0.1", 0))
    srv.setblocking(False)
    try:
        port = srv.getsockname()[1]
        with pytest.raises(ValueError, match="disallowed protocol"):
            local_only_fetcher().fetch(f"http://127.0.0.1:{port}/x.css")
        html = (f'<link rel="stylesheet" href="http://127.0.0.1:{port}/a.css">'
                f'<img src="https://127.0.0.1:{port}/b.png"><p style="background:url(ftp://127.0.0.1:{port}/c)">x</p>')
        assert HTML(string=html, url_fetcher=local_only_fetcher()).write_pdf().startswith(b"%PDF-")
        with pytest.raises(BlockingIOError):
            srv.accept()
        local = tmp_path / "s.css"
        local.write_text("p { color: red }")
        got = local_only_fetcher().fetch(local.as_uri())
        try:
            assert got.read() == b"p { color: red }"
        finally:
            got.close()
    finally:
        srv.close()


def test_xlsx_sheets_rows_and_defused_text(doc, kb, tmp_path):
    import openpyxl

    path = write_report(doc, tmp_path / "r.xlsx", lang="vi", kb=kb)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Summary", "Devices", "Findings", "Compliance", "Clauses", "Remediation", "Diff"]
    n_findings = sum(len(d["findings"]) for d in doc["devices"])
    comp = doc["compliance"]
    assert wb["Devices"].max_row == 1 + len(doc["devices"])
    assert wb["Findings"].max_row == 1 + n_findings
    assert wb["Compliance"].max_row == 1 + sum(len(d["verdicts"]) for d in comp["devices"])
    assert wb["Clauses"].max_row == 1 + len(comp["system"]["clauses"])
    assert wb["Diff"].max_row == 1 + sum(len(doc["diff"][k]) for k in ("new", "fixed", "persisting"))
    values = []
    for ws in wb:
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
        assert ws["A1"].font.bold
        for row in ws.iter_rows(values_only=True):
            values += [v for v in row if isinstance(v, str)]
    assert not [v for v in values if v[:1] in ("=", "+", "-", "@")]
    assert any(v.startswith("'=HYPERLINK") for v in values)  # the hostile model name, defused
    assert not [v for v in values if "\x00" in v or "\x1b" in v]
    assert "Nghiêm trọng" in values and "Nguyễn Thị Hồng Nhung" in values and "Không đạt" in values
    clause_col = [c.value for c in wb["Clauses"]["C"][1:]]
    assert clause_col == [c["clause"] for c in comp["system"]["clauses"]]
    assert wb["Findings"]["I2"].value == 80  # ports stay numbers


def test_json_validates_and_the_schema_is_strict(doc, kb, tmp_path):
    data = json.loads(write_report(doc, tmp_path / "r.json", lang="vi", kb=kb).read_text(encoding="utf-8"))
    schema = report_schema()
    jsonschema.validate(data, schema, format_checker=jsonschema.FormatChecker())
    assert data["compliance"]["devices"][0]["verdicts"][0]["title"]

    def broken(edit) -> None:
        bad = json.loads(json.dumps(data))
        edit(bad)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)

    broken(lambda d: d["compliance"]["devices"][0]["verdicts"][0].pop("status"))
    broken(lambda d: d["compliance"]["devices"][0]["verdicts"][1].pop("reason"))
    broken(lambda d: d["compliance"]["devices"][0]["verdicts"][0].update(status="passed"))
    broken(lambda d: d["compliance"]["devices"][0]["verdicts"][0].update(surprise=1))
    broken(lambda d: d["compliance"]["system"]["clauses"][0].pop("fail_devices"))
    broken(lambda d: d["compliance"]["system"]["score"].update(compliance=1.5))
    broken(lambda d: d["diff"].pop("fixed"))
    broken(lambda d: d["diff"]["new"][0].update(severity="severe"))


def test_schema_accepts_what_the_compliance_and_history_modules_produce(doc):
    verdicts = pytest.importorskip("camaudit.compliance.verdicts")
    history = pytest.importorskip("camaudit.history")
    base = make_doc()
    base["devices"][1]["findings"].pop()
    doc["compliance"] = verdicts.assess_document(doc, "all", [], "vi", system="Hệ thống camera phường")
    doc["diff"] = history.diff_documents(base, doc)
    jsonschema.validate(doc, report_schema(), format_checker=jsonschema.FormatChecker())


def test_html_has_every_section_and_stays_inert(doc, kb, tmp_path):
    html = write_report(doc, tmp_path / "r.html", lang="vi", kb=kb).read_text(encoding="utf-8")
    for clause in doc["compliance"]["system"]["clauses"]:
        assert clause["clause"] in html
    for phrase in ("Tóm tắt dành cho lãnh đạo", "Ba việc cần làm trước tiên", "Kế hoạch khắc phục",
                   "Bảng đánh giá theo từng yêu cầu", "So sánh với lượt quét trước", "Đã khắc phục",
                   "Phụ lục - Phương pháp, phạm vi và giới hạn",
                   "hết hiệu lực, được thay thế bởi QCVN 11:2026/BCA từ ngày 01/07/2026"):
        assert phrase in html, phrase
    assert html.count("<svg") == 3
    assert "<script" not in html and "<img" not in html and "<link" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # device text and CVE references are shown as text; no element of the report points outside it
    assert not re.search(r"<[a-z]+[^>]*\s(href|src|xlink:href)=(?!\"?#)", html)


def test_english_workbook_and_page(doc, kb, tmp_path):
    import openpyxl

    en = make_doc("en")
    html = write_report(en, tmp_path / "r.html", lang="en", kb=kb).read_text(encoding="utf-8")
    assert "Executive summary" in html and "Remediation plan" in html and "Change default and weak passwords now" in html
    wb = openpyxl.load_workbook(write_report(en, tmp_path / "r.xlsx", lang="en", kb=kb))
    assert wb["Findings"]["E2"].value == "Critical"


def test_document_without_compliance_or_diff(doc, kb, tmp_path):
    import openpyxl

    del doc["compliance"], doc["diff"]
    html = write_report(doc, tmp_path / "r.html", lang="vi", kb=kb).read_text(encoding="utf-8")
    assert "Báo cáo này không kèm đánh giá theo bộ tiêu chí." in html and 'id="diff"' not in html
    wb = openpyxl.load_workbook(write_report(doc, tmp_path / "r.xlsx", lang="vi", kb=kb))
    assert wb.sheetnames == ["Summary", "Devices", "Findings", "Remediation"]


def test_formats_and_atomic_write(doc, kb, tmp_path):
    assert format_of("a.PDF") == "pdf" and format_of("b.xlsx") == "xlsx"
    write_report(doc, tmp_path / "r.xlsx", lang="vi", kb=kb)
    assert [p.name for p in tmp_path.iterdir()] == ["r.xlsx"]  # no temporary file left behind


def test_acceptance_decision_is_shown_and_validated(doc, kb, tmp_path):
    doc["acceptance"] = {"target": "127.0.0.11", "profile": "qcvn135", "decision": "does_not_conform", "fail": 5,
                         "pending": 7, "compliance": 0.0, "basis": ["QCVN 135:2024/BTTTT"], "recommended": None}
    html = write_report(doc, tmp_path / "r.html", lang="vi", kb=kb).read_text(encoding="utf-8")
    assert "KẾT LUẬN: Thiết bị KHÔNG đáp ứng yêu cầu" in html
    jsonschema.validate(doc, report_schema())
    doc["acceptance"]["decision"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, report_schema())
