"""Reports from the stored scan: HTML (self-contained), PDF, XLSX, JSON, CSV; Vietnamese or English.

Every renderer starts from the same *report document* (``Store.report_document``), localised
once by ``localise``: check titles, remediation and labels in the chosen language.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from camaudit.locale import LANGS, catalogue

FORMATS = ("html", "pdf", "xlsx", "json", "csv")
SEVERITIES = ("critical", "high", "medium", "low", "info")


class ReportError(ValueError):
    pass


def report_schema() -> dict[str, Any]:
    """The JSON Schema of the JSON report, as published with the package."""
    return json.loads((Path(__file__).parent / "schema" / "report.schema.json").read_text(encoding="utf-8"))


def format_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ReportError(f"{path}: unknown report format {suffix or '(none)'!r}; use one of: "
                          + ", ".join("." + f for f in FORMATS))
    return suffix


def check_text(kb: Any, check_id: str, lang: str) -> tuple[str, str]:
    """(title, remediation) of a check in ``lang`` from the knowledge base."""
    try:
        text = kb.checks.get(check_id)
    except (AttributeError, KeyError):
        return check_id, ""
    return getattr(text.title, lang), getattr(text.remediation, lang)


def localise(doc: dict[str, Any], lang: str, kb: Any = None) -> dict[str, Any]:
    if lang not in LANGS:
        raise ReportError(f"unknown language {lang!r}; use one of: {', '.join(LANGS)}")
    out = copy.deepcopy(doc)
    out["lang"] = lang
    from camaudit.reports.assessment import annotate

    annotate(out)  # what was tested and what was not, "not identified" devices included
    for dev in out["devices"]:
        for f in dev["findings"]:
            f["title"], f["remediation"] = check_text(kb, f["check_id"], lang)
    return out


def render(doc: dict[str, Any], fmt: str, lang: str, kb: Any = None) -> str | bytes:
    """The report in ``fmt``: text for html/json/csv, bytes for pdf/xlsx.  ``kb`` (optional)
    names fixed firmware releases in the remediation plan and check titles in the diff."""
    if fmt == "json":
        return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
    if fmt == "csv":
        return _csv(doc, lang)
    if fmt == "html":
        from camaudit.reports.html import render_html

        return render_html(doc, lang, kb)
    if fmt == "pdf":
        from camaudit.reports.pdf import render_pdf

        return render_pdf(doc, lang, kb)
    if fmt == "xlsx":
        from camaudit.reports.xlsx import render_xlsx

        return render_xlsx(doc, lang, kb)
    raise ReportError(f"unknown format {fmt!r}")


def write_report(doc: dict[str, Any], path: str | Path, *, lang: str = "vi", kb: Any = None) -> Path:
    """Render and write atomically (a crash never leaves half a report behind)."""
    path = Path(path)
    fmt = format_of(path)
    content = render(localise(doc, lang, kb), fmt, lang, kb)
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is an ordinary file
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ReportError(f"{path}: cannot write report: {exc.strerror or exc}") from None
    return path


CSV_COLUMNS = ("address", "vendor", "model", "firmware", "kind", "check_id", "severity", "port", "protocol",
               "title", "cves", "clauses", "evidence", "remediation")


def _cell(value: Any) -> str:
    """Text of a CSV cell, defused against spreadsheet formula injection (a device chooses
    its own banner: '=HYPERLINK(...)' must stay text)."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _csv(doc: dict[str, Any], lang: str) -> str:
    """One row per finding (a device without findings gets one row with its identity only)."""
    cat = catalogue(lang)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for dev in doc["devices"]:
        ident = dev["identity"]
        base = [dev["address"], ident.get("vendor") or "", ident.get("model") or "", ident.get("firmware") or "",
                cat.get(f"kind_{ident.get('kind', 'unknown')}", ident.get("kind", ""))]
        if not dev["findings"]:
            w.writerow([_cell(c) for c in base] + [""] * (len(CSV_COLUMNS) - len(base)))
        for f in dev["findings"]:
            w.writerow([_cell(c) for c in base + [f["check_id"], cat.get(f["severity"], f["severity"]), f["port"] or "",
                               f["protocol"] or "", f.get("title", ""), " ".join(f["cves"]),
                               " ".join(f["clauses"]), json.dumps(f["evidence"], ensure_ascii=False, sort_keys=True),
                               f.get("remediation", "")]])
    return buf.getvalue()
