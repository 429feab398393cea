"""Reports from the stored scan: HTML (self-contained), PDF, XLSX, JSON, CSV; Vietnamese or English.

Every renderer starts from the same *report document* (``Store.report_document``), localised
once by ``localise``: check titles, remediation and labels in the chosen language.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import unicodedata
from pathlib import Path
from typing import IO, Any

from camaudit.locale import LANGS, catalogue

FORMATS = ("html", "pdf", "xlsx", "json", "csv")
SEVERITIES = ("critical", "high", "medium", "low", "info")


class ReportError(ValueError):
    pass


def report_schema() -> dict[str, Any]:
    """The JSON Schema of the JSON report, as published with the package."""
    return json.loads((Path(__file__).parent / "schema" / "report.schema.json").read_text(encoding="utf-8"))


def format_of(path: str | Path) -> str:
    """The format of a report path, from its extension; ``x.summary.pdf`` is the summary PDF."""
    name = Path(path).name.lower()
    if name.endswith(".summary.pdf"):
        return "summary.pdf"
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ReportError(f"{path}: unknown report format {suffix or '(none)'!r}; use one of: "
                          + ", ".join("." + f for f in FORMATS) + ", .summary.pdf")
    return suffix


def check_report_path(path: str | Path) -> Path:
    """Refuse, before a scan sends a packet, a report that could not be written: an unknown
    format, a folder in the way, a parent that is not a folder or is not writable.  The nearest
    existing folder is probed by creating (and removing) a file in it: permissions, a read-only
    or full file system, root's privileges, all answer the same way as the real write will."""
    path = Path(path)
    format_of(path)
    if path.is_dir():
        raise ReportError(f"{path}: is a folder, not a report file")
    parent = path.parent
    while not parent.exists():
        if parent.is_symlink():  # a dangling link: mkdir would fail later
            break
        parent = parent.parent
    if not parent.is_dir():
        raise ReportError(f"{path}: cannot write report: {parent} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=".camaudit-probe.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ReportError(f"{path}: cannot write report: {exc.strerror or exc}") from None
    return path


def check_text(kb: Any, check_id: str, lang: str) -> tuple[str, str]:
    """(title, remediation) of a check in ``lang`` from the knowledge base."""
    try:
        text = kb.checks.get(check_id)
    except (AttributeError, KeyError):
        return check_id, ""
    return getattr(text.title, lang), getattr(text.remediation, lang)


def localise(doc: dict[str, Any], lang: str, kb: Any = None) -> dict[str, Any]:
    """A copy of ``doc`` with check titles and remediation in ``lang``.  Only the containers on
    the way to the findings are copied (evidence, observations... are shared, never changed):
    the document of a large fleet is not held twice."""
    if lang not in LANGS:
        raise ReportError(f"unknown language {lang!r}; use one of: {', '.join(LANGS)}")
    out = dict(doc)
    out["lang"] = lang
    texts: dict[str, tuple[str, str]] = {}
    devices = []
    for dev in doc["devices"]:
        findings = []
        for f in dev["findings"]:
            if f["check_id"] not in texts:
                texts[f["check_id"]] = check_text(kb, f["check_id"], lang)
            title, remediation = texts[f["check_id"]]
            findings.append({**f, "title": title, "remediation": remediation})
        devices.append({**dev, "findings": findings})
    out["devices"] = devices
    return out


def render(doc: dict[str, Any], fmt: str, lang: str, kb: Any = None) -> str | bytes:
    """The report in ``fmt``: text for html/json/csv, bytes for pdf/xlsx.  ``kb`` (optional)
    names fixed firmware releases in the remediation plan and check titles in the diff."""
    if fmt in ("json", "csv", "html"):
        buf = io.StringIO()
        render_to(doc, fmt, lang, kb, buf)
        return buf.getvalue()
    if fmt == "pdf":
        from camaudit.reports.pdf import render_pdf

        return render_pdf(doc, lang, kb)
    if fmt == "summary.pdf":
        from camaudit.reports.pdf import render_summary_pdf

        return render_summary_pdf(doc, lang, kb)
    if fmt == "xlsx":
        from camaudit.reports.xlsx import render_xlsx

        return render_xlsx(doc, lang, kb)
    raise ReportError(f"unknown format {fmt!r}")


def render_to(doc: dict[str, Any], fmt: str, lang: str, kb: Any, out: IO[str]) -> None:
    """Write a text report piece by piece to ``out`` (JSON, CSV, HTML): the text of the whole
    report is never held in memory at once."""
    if fmt == "json":
        for chunk in json.JSONEncoder(ensure_ascii=False, indent=2).iterencode(doc):
            out.write(chunk)
        out.write("\n")
    elif fmt == "csv":
        _csv(doc, lang, out)
    elif fmt == "html":
        from camaudit.reports.html import stream_html

        for chunk in stream_html(doc, lang, kb):
            out.write(chunk)
    else:
        raise ReportError(f"unknown format {fmt!r}")


def _private_dirs(folder: Path) -> None:
    """Create ``folder`` and its missing parents 0700 (reports name devices and weaknesses)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700)


def write_report(doc: dict[str, Any], path: str | Path, *, lang: str = "vi", kb: Any = None) -> Path:
    """Render and write atomically: into a private temporary file (0600: a report names
    devices and their weaknesses), flushed to the disk, then renamed over ``path`` and the
    folder flushed: a crash or a power cut never leaves half a report, nor an empty one."""
    path = Path(path)
    fmt = format_of(path)
    doc = localise(doc, lang, kb)
    try:
        _private_dirs(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # 0600
        try:
            if fmt in ("json", "csv", "html"):
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                    render_to(doc, fmt, lang, kb, fh)
                    fh.flush()
                    os.fsync(fh.fileno())
            else:
                content = render(doc, fmt, lang, kb)
                with os.fdopen(fd, "wb") as bfh:
                    bfh.write(content if isinstance(content, bytes) else content.encode("utf-8"))
                    bfh.flush()
                    os.fsync(bfh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
    except OSError as exc:
        raise ReportError(f"{path}: cannot write report: {exc.strerror or exc}") from None
    return path


def _fsync_dir(folder: Path) -> None:
    try:
        dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the rename is done
    finally:
        os.close(dfd)


CSV_COLUMNS = ("address", "vendor", "model", "firmware", "kind", "check_id", "severity", "port", "protocol",
               "title", "cves", "clauses", "evidence", "remediation")


# Characters a spreadsheet skips before it reads a formula: spaces of every kind, line breaks,
# the byte order mark and the zero-width characters (Unicode categories Zs, Zl, Zp, Cc, Cf).
_FORMULA_START = ("=", "+", "-", "@")
_LEADING_TRIGGERS = ("\t", "\r", "\n")


def _ignorable(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in ("Zs", "Zl", "Zp", "Cc", "Cf")


def _cell(value: Any) -> str:
    """Text of a CSV or XLSX cell, defused against spreadsheet formula injection (a device
    chooses its own banner: '=HYPERLINK(...)' must stay text, and so must ' =...', '\\n=...',
    '\\ufeff=...' or '\\u200b=...')."""
    text = "" if value is None else str(value)
    if text[:1] in _LEADING_TRIGGERS:
        return "'" + text
    i = 0
    while i < len(text) and _ignorable(text[i]):
        i += 1
    if text[i:i + 1] in _FORMULA_START:
        return "'" + text
    return text


def _csv(doc: dict[str, Any], lang: str, out: IO[str]) -> None:
    """One row per finding (a device without findings gets one row with its identity only)."""
    cat = catalogue(lang)
    w = csv.writer(out)
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
