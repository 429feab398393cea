"""The PDF reports: the print layout of the HTML report (A4, cover, signature block, running
header, page numbers) drawn by WeasyPrint.

Two kinds (the file name chooses): ``x.pdf``, the full report, every device in detail; and
``x.summary.pdf``, what an agency's management reads whatever the fleet: executive summary,
charts, clause table, remediation plan and a table of the devices most at risk (at most
``SUMMARY_DEVICES``; the complete list and the details are in XLSX, HTML, JSON).

Memory: WeasyPrint lays out a whole document at once (a 1,000-device report is over a thousand
pages, gigabytes).  The full PDF of a fleet larger than ``CHUNK_DEVICES`` is therefore drawn in
parts: the front matter, the device details ``CHUNK_DEVICES`` at a time, the back matter; each
part is written to a temporary file and dropped, then pypdf joins them and stamps "page X of Y"
(drawn by WeasyPrint on blank pages of the same size) on every page but the cover.  A fleet of
more than ``FULL_PDF_MAX_DEVICES`` is refused with a pointer to the summary PDF and XLSX.

Fonts come from the system through fontconfig (Debian's fonts-noto-core / fonts-dejavu-core
carry every Vietnamese letter); nothing is fetched: the URL fetcher refuses every URL that is
not a local file, and the document itself refers to none.
"""

from __future__ import annotations

import gc
import io
import logging
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from camaudit.reports.html import SEVERITIES, VIDEO_KINDS, page_model
from camaudit.reports.html import _env as env
from camaudit.reports.remediation import DeviceItem

SUMMARY_DEVICES = 100  # devices in the summary's table, most at risk first
SUMMARY_PLAN_DEVICES = 10  # devices named under each step of the summary's plan
CHUNK_DEVICES = 50  # devices laid out at once in the full PDF
FULL_PDF_MAX_DEVICES = 20_000  # beyond: the summary PDF plus XLSX/HTML/JSON


def local_only_fetcher() -> Any:
    """A WeasyPrint URL fetcher that refuses http, https, ftp, data… : only file URLs pass."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols=("file",), allow_redirects=False, timeout=1)


def _html_to_pdf(html: str, identifier: bytes) -> bytes:
    from weasyprint import HTML

    # WeasyPrint logs every CSS property it ignores at WARNING; a report run is not the place
    log = logging.getLogger("weasyprint")
    if log.level < logging.ERROR:
        log.setLevel(logging.ERROR)
    return HTML(string=html, base_url=None, url_fetcher=local_only_fetcher()).write_pdf(pdf_identifier=identifier)


def _identifier(doc: dict[str, Any]) -> bytes:
    return doc["scan"]["id"].encode("ascii", "replace")


def _risk(dev: dict[str, Any]) -> tuple:
    counts = [sum(1 for f in dev["findings"] if f["severity"] == s) for s in SEVERITIES]
    return tuple(-n for n in counts) + (dev["identity"].get("kind") not in VIDEO_KINDS,)


def summary_model(doc: dict[str, Any], lang: str, kb: Any = None) -> dict[str, Any]:
    """The page model of the summary: figures, charts, clauses and plan from the whole fleet;
    the device table and the plan's device lists cut to a fixed size."""
    m = page_model(doc, lang, kb)
    t = m["t"]
    total = len(doc["devices"])
    if total > SUMMARY_DEVICES:
        top = sorted(doc["devices"], key=_risk)[:SUMMARY_DEVICES]
        shown = {d["address"] for d in top}
        m["doc"] = {**doc, "devices": [d for d in doc["devices"] if d["address"] in shown]}
        m["exec_lines"] = [*m["exec_lines"], t["summary_devices_note"].format(shown=SUMMARY_DEVICES, total=total)]
    plan = []
    for step in m["plan"]:
        if len(step.devices) > SUMMARY_PLAN_DEVICES:
            rest = len(step.devices) - SUMMARY_PLAN_DEVICES
            step = replace(step, devices=[*step.devices[:SUMMARY_PLAN_DEVICES],
                                          DeviceItem("…", t["summary_more_devices"].format(n=rest))])
        plan.append(step)
    m["plan"] = plan
    m["video"] = [d for d in m["doc"]["devices"] if d["identity"].get("kind") in VIDEO_KINDS]
    m["others"] = [d for d in m["doc"]["devices"] if d["identity"].get("kind") not in VIDEO_KINDS]
    m["part"] = "summary"
    return m


def render_summary_pdf(doc: dict[str, Any], lang: str, kb: Any = None) -> bytes:
    html = env.get_template("report_print.html.j2").render(**summary_model(doc, lang, kb))
    return _html_to_pdf(html, _identifier(doc))


def render_pdf(doc: dict[str, Any], lang: str, kb: Any = None) -> bytes:
    n = len(doc["devices"])
    if n > FULL_PDF_MAX_DEVICES:
        from camaudit.reports import ReportError

        raise ReportError(f"a full PDF of {n} devices would run to tens of thousands of pages; write the summary "
                          f"(x.summary.pdf) and the device details as XLSX, HTML or JSON")
    m = page_model(doc, lang, kb)
    template = env.get_template("report_print.html.j2")
    if n <= CHUNK_DEVICES:
        return _html_to_pdf(template.render(**m, part="whole"), _identifier(doc))
    return _render_in_parts(m, doc, template)


def _render_in_parts(m: dict[str, Any], doc: dict[str, Any], template: Any) -> bytes:
    """Front, device chunks, back: each laid out alone.  The inventory's links to the device
    sections cross parts and are dropped by WeasyPrint (its complaint about each is silenced)."""
    from pypdf import PdfReader, PdfWriter

    logging.getLogger("weasyprint").setLevel(logging.CRITICAL)

    devices = [*m["video"], *m["others"]]
    with tempfile.TemporaryDirectory(prefix="camaudit-pdf-") as tmp:
        parts: list[Path] = []

        def draw(**extra: Any) -> None:
            path = Path(tmp) / f"part-{len(parts):05d}.pdf"
            path.write_bytes(_html_to_pdf(template.render(**{**m, **extra}), _identifier(doc)))
            parts.append(path)
            gc.collect()  # the layout of this part is garbage now: give it back before the next

        draw(part="front")
        for i in range(0, len(devices), CHUNK_DEVICES):
            draw(part="devices", chunk=devices[i:i + CHUNK_DEVICES], chunk_first=i == 0)
        draw(part="back")

        writer = PdfWriter()
        for path in parts:
            writer.append(PdfReader(path))
        total = len(writer.pages)
        numbers = PdfReader(io.BytesIO(_html_to_pdf(env.get_template("page_numbers.html.j2").render(
            t=m["t"], doc=doc, started=m["started"], pages=total), _identifier(doc))))
        for i, page in enumerate(writer.pages):
            if i:  # the cover carries no header or number
                page.merge_page(numbers.pages[i])
        writer.add_metadata({"/Title": m["t"]["report_title"], "/Creator": f"camaudit {doc['scan']['tool_version']}"})
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()
