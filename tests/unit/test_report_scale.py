"""Issue 7, items 9 and 11: reports follow the fleet that answered, not the target list, and
the PDF of a large fleet stays bounded (summary PDF; full PDF drawn in parts)."""

import json
import tracemalloc

import pytest
from pypdf import PdfReader

from camaudit.knowledge import load_kb
from camaudit.model import DeviceKind, Finding, HostResult, Identity, Severity
from camaudit.reports import ReportError, write_report
from camaudit.reports.document import build
from camaudit.store import Store


def _fleet(store, devices, down=0, evidence=""):
    sid = store.create_scan(targets=["127.73.0.0/16"], options={}, operator="Trần Thị Bình", tool_version="0",
                            knowledge_version="k", hosts_total=devices + down)
    batch = []
    for i in range(devices):
        addr = f"127.73.{i // 250}.{i % 250 + 1}"
        h = HostResult(address=addr, open_ports=[80, 554])
        h.identity = Identity(vendor=("Hikvision", "Dahua")[i % 2], model=f"M{i}", firmware="V5.4.1",
                              kind=DeviceKind.CAMERA, confidence=0.9, serial=f"S{i}")
        if i % 3 == 0:
            h.findings.append(Finding("default-credentials", addr, Severity.CRITICAL, port=80, protocol="http",
                                      evidence={"username": "admin", "password": "1***", "banner": evidence}))
        h.findings.append(Finding("cleartext-http", addr, Severity.MEDIUM, port=80, protocol="http",
                                  evidence={"banner": evidence}))
        batch.append((h, addr, None))
    for j in range(down):
        batch.append((None, f"127.73.{100 + j // 256}.{j % 256}", None))
    for k in range(0, len(batch), 500):
        store.record_hosts(sid, batch[k:k + 500])
    store.set_status(sid, "finished")
    return sid


def test_report_document_loads_only_the_hosts_that_answered(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'big.sqlite'}")
    sid = _fleet(store, 2, down=30_000)
    tracemalloc.start()
    doc = store.report_document(sid)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert doc["summary"]["hosts_swept"] == 30_002 and len(doc["devices"]) == 2
    assert peak < 3_000_000, f"{peak / 1e6:.1f} MB to read 2 devices out of 30,002 addresses"
    store.close()


@pytest.mark.parametrize("ext", ["json", "csv", "html"])
def test_text_reports_are_written_piece_by_piece(ext, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'ev.sqlite'}")
    sid = _fleet(store, 300, evidence="x" * 20_000)
    doc = build(store, sid, profile=None, lang="en")
    kb = load_kb()
    write_report(doc, tmp_path / f"warm.{ext}", lang="en", kb=kb)  # imports and caches outside the measure
    tracemalloc.start()
    path = write_report(doc, tmp_path / f"r.{ext}", lang="en", kb=kb)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = path.stat().st_size
    assert size > 6_000_000
    # the whole text (or a copy of the document) held at once would cost more than the file
    assert peak < size / 2, f"{peak / 1e6:.1f} MB peak for a {size / 1e6:.1f} MB {ext} report"
    if ext == "json":
        assert len(json.loads(path.read_text(encoding="utf-8"))["devices"]) == 300
    store.close()


@pytest.fixture(scope="module")
def fleet_doc(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet")
    store = Store(f"sqlite:///{tmp / 'f.sqlite'}")
    sid = _fleet(store, 130)
    doc = build(store, sid, profile="qcvn135", lang="vi")
    store.close()
    return doc


def _text(path):
    return [p.extract_text() or "" for p in PdfReader(path).pages]


def test_summary_pdf_stays_small_and_points_to_the_details(fleet_doc, tmp_path):
    from camaudit.reports.pdf import SUMMARY_DEVICES

    path = write_report(fleet_doc, tmp_path / "fleet.summary.pdf", lang="vi", kb=load_kb())
    pages = _text(path)
    text = "\n".join(pages)
    assert len(pages) <= 20, len(pages)
    assert "130" in text and "XLSX" in text  # "the 100 devices most at risk out of 130; the rest in XLSX..."
    shown = {d["address"] for d in fleet_doc["devices"] if d["address"] in text}
    critical = {d["address"] for d in fleet_doc["devices"] if any(f["severity"] == "critical" for f in d["findings"])}
    assert critical <= shown  # the devices most at risk are the ones listed
    assert len(shown) <= SUMMARY_DEVICES + 10  # (plan lists name a few more at most)


def test_full_pdf_of_a_large_fleet_is_drawn_in_parts(fleet_doc, tmp_path, monkeypatch):
    import camaudit.reports.pdf as pdf

    small = {**fleet_doc, "devices": fleet_doc["devices"][:7]}
    monkeypatch.setattr(pdf, "CHUNK_DEVICES", 3)
    drawn = []
    real = pdf._html_to_pdf
    monkeypatch.setattr(pdf, "_html_to_pdf", lambda html, ident: drawn.append(len(html)) or real(html, ident))
    path = write_report(small, tmp_path / "parts.pdf", lang="en", kb=load_kb())
    assert len(drawn) == 1 + 3 + 1 + 1  # front, 3 chunks of devices, back, the page numbers
    pages = _text(path)
    n = len(pages)
    assert f"Page {n} / {n}" in pages[-1].replace("\n", " ")
    assert "Page 1 /" not in pages[0]  # no number on the cover
    assert f"Page 2 / {n}" in pages[1].replace("\n", " ")
    text = "\n".join(pages)
    for d in small["devices"]:
        assert text.count(d["address"]) >= 2  # in the inventory and in its own section


def test_full_pdf_beyond_the_cap_is_refused(fleet_doc, tmp_path, monkeypatch):
    import camaudit.reports.pdf as pdf

    monkeypatch.setattr(pdf, "FULL_PDF_MAX_DEVICES", 100)
    with pytest.raises(ReportError, match="summary"):
        write_report(fleet_doc, tmp_path / "too-big.pdf", lang="en")
    assert not (tmp_path / "too-big.pdf").exists()
