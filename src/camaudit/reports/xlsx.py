"""The XLSX workbook: one sheet per view of the report document (Summary, Devices, Findings,
Compliance, Clauses, Remediation, Diff: fixed names, for tools that read them; the headers and
labels inside are in the report language), each with a styled, frozen header row and an autofilter.

Every text cell goes through the CSV writer's defusing (a device's banner '=HYPERLINK(...)'
stays text) and loses the control characters XML cannot carry."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from camaudit.locale import catalogue
from camaudit.reports import _cell
from camaudit.reports.compliance_view import headline_score
from camaudit.reports.html import SEV_COLOURS, SEVERITIES, STATUS_COLOURS, page_model
from camaudit.reports.remediation import device_name

MAX_CELL = 32767  # characters Excel keeps in one cell
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
HEADER_FONT = Font(bold=True, color="FFFFFF")
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")


def text(value: Any) -> Any:
    """A cell value: numbers stay numbers, text is defused and cleaned of illegal characters."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _cell("yes" if value else "no")
    if isinstance(value, (int, float)):
        return value
    s = ILLEGAL_CHARACTERS_RE.sub("\ufffd", str(value))
    return _cell(s[:MAX_CELL])


def _sheet(wb: Workbook, title: str, header: Sequence[str], rows: Iterable[Sequence[Any]],
           wrap: Sequence[int] = (), fills: dict[int, dict[str, str]] | None = None,
           formats: dict[int, str] | None = None) -> Worksheet:
    """A sheet with a header row; ``wrap`` = indexes of long-text columns, ``fills`` = column
    index -> {cell text: colour} (severity and status cells), ``formats`` = column index ->
    number format."""
    ws = wb.create_sheet(title[:31])
    ws.append([text(h) for h in header])
    for cell in ws[1]:
        cell.fill, cell.font, cell.alignment = HEADER_FILL, HEADER_FONT, WRAP
    widths = [len(str(h)) + 2 for h in header]
    for row in rows:
        values = [text(v) for v in row]
        ws.append(values)
        for i, v in enumerate(values):
            widths[i] = max(widths[i], min(len(str(v)), 200) + 2)
    for i, w in enumerate(widths):
        ws.column_dimensions[get_column_letter(i + 1)].width = min(max(w, 8), 60 if i in wrap else 40)
    for i in range(len(header)):
        for (cell,) in ws.iter_rows(min_row=2, min_col=i + 1, max_col=i + 1):
            cell.alignment = WRAP if i in wrap else TOP
            if formats and i in formats and isinstance(cell.value, (int, float)):
                cell.number_format = formats[i]
            colour = (fills or {}).get(i, {}).get(str(cell.value))
            if colour:
                cell.fill = PatternFill("solid", fgColor=colour.lstrip("#"))
                cell.font = Font(bold=True, color="1C2833" if colour == STATUS_COLOURS["na"] else "FFFFFF")
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{max(ws.max_row, 1)}"
    return ws


def render_xlsx(doc: dict[str, Any], lang: str, kb: Any = None) -> bytes:
    cat = catalogue(lang)
    m = page_model(doc, lang, kb)
    sev_label = {s: cat[s] for s in SEVERITIES}
    st_label = {s: cat[f"verdict_{s}"] for s in STATUS_COLOURS}
    sev_fill = {cat[s]: SEV_COLOURS[s] for s in SEVERITIES}
    st_fill = {cat[f"verdict_{s}"]: c for s, c in STATUS_COLOURS.items()}
    scan, summary, comp = doc["scan"], doc["summary"], doc.get("compliance")
    wb = Workbook()
    wb.remove(wb.active)

    rows: list[list[Any]] = [
        [cat["report_title"], ""], [cat["scan_id"], scan["id"]],
        [cat["system_name"], comp["system"]["name"] if comp else ", ".join(scan["targets"])],
        [cat["operator"], scan["operator"]], [cat["targets"], ", ".join(scan["targets"])],
        [cat["started"], scan["started"]], [cat["finished"], scan["finished"]],
        [cat["status"], cat.get(f"status_{scan['status']}", scan["status"])],
        [cat["tool_version"], scan["tool_version"]], [cat["knowledge_version"], scan["knowledge_version"]],
        [cat["hosts_swept"], summary["hosts_swept"]], [cat["hosts_up"], summary["hosts_up"]],
        [cat["video_devices"], summary["video_devices"]],
        *[[sev_label[s], summary["findings"].get(s, 0)] for s in SEVERITIES],
    ]
    if comp:
        rows.append([cat["profile"], "; ".join(f"{c['code']} ({c['version']})" for c in comp["catalogues"])])
        rows += [[label, line] for label, line in m["cover"]["regulations"]]
        rows.append([cat["cover_as_of"], comp.get("as_of")])
        rows += [[a["title"], a["name"]] for a in comp.get("context", {}).get("authorities", [])]
        rows.append([cat["compliance"], headline_score(comp["system"])["compliance"]])
    rows += [[cat["exec_summary"], line] for line in m["exec_lines"]]
    rows += [[f"{cat['exec_first']} {i}", s.title] for i, s in enumerate(m["first"], 1)]
    ws = _sheet(wb, "Summary", [cat["item"], cat["value"]], rows, wrap=(1,))
    if comp:
        ws.cell(row=len(rows) - len(m["exec_lines"]) - len(m["first"]) + 1, column=2).number_format = "0%"

    verdicts = m["verdicts"]
    _sheet(wb, "Devices",
           [cat["address"], "hostname", cat["kind"], cat["vendor"], cat["model"], cat["firmware"], cat["serial"],
            cat["mac"], cat["confidence"], cat["open_ports"], "UDP", *[sev_label[s] for s in SEVERITIES],
            cat["compliance"]],
           ([d["address"], d.get("hostname"), cat.get(f"kind_{d['identity'].get('kind')}", d["identity"].get("kind")),
             d["identity"].get("vendor"), d["identity"].get("model"), d["identity"].get("firmware"),
             d["identity"].get("serial"), d["identity"].get("mac"), d["identity"].get("confidence"),
             ", ".join(map(str, d["open_ports"])), ", ".join(map(str, d["udp_ports"])),
             *[sum(1 for f in d["findings"] if f["severity"] == s) for s in SEVERITIES],
             headline_score(verdicts[d["address"]])["compliance"] if d["address"] in verdicts else None]
            for d in doc["devices"]), formats={8: "0%", 16: "0%"})

    _sheet(wb, "Findings",
           [cat["address"], cat["vendor"], cat["model"], cat["firmware"], cat["severity"], cat["check"], cat["title"],
            cat["protocol"], cat["port"], cat["cves"], cat["clauses"], cat["evidence"], cat["remediation"]],
           ([d["address"], d["identity"].get("vendor"), d["identity"].get("model"), d["identity"].get("firmware"),
             sev_label.get(f["severity"], f["severity"]), f["check_id"], f.get("title", ""), f["protocol"], f["port"],
             " ".join(f["cves"]), " ".join(f["clauses"]), json.dumps(f["evidence"], ensure_ascii=False, sort_keys=True),
             f.get("remediation", "")]
            for d in doc["devices"] for f in d["findings"]),
           wrap=(6, 11, 12), fills={4: sev_fill})

    if comp:
        def role_label(role: str | None, catalogue_id: str) -> str:
            """Binding or recommended, in the report language (the last column of both sheets)."""
            return cat["role_" + (role or m["cover"]["role_of"].get(catalogue_id, "binding"))]

        _sheet(wb, "Compliance",
               [cat["address"], cat["vendor"], cat["model"], cat["catalogues"], "group", cat["clause_id"], "number",
                cat["clause"], "judged_by", cat["clause_status"], cat["reason"], cat["check"], "attested_by",
                "attested_at", cat["role"]],
               ([dv["address"], dv.get("vendor"), dv.get("model"), v["catalogue"], v.get("group_title"), v["clause"],
                 v.get("number"), v["title"], v["judged_by"], st_label.get(v["status"], v["status"]), v["reason"],
                 ", ".join(v["checks"]), (v.get("attestation") or {}).get("by"),
                 (v.get("attestation") or {}).get("at"), role_label(v.get("role"), v["catalogue"])]
                for dv in comp["devices"] for v in dv["verdicts"]),
               wrap=(7, 10), fills={9: st_fill})
        _sheet(wb, "Clauses",
               [cat["catalogues"], "group", cat["clause_id"], cat["clause"], cat["clause_status"], cat["fail_devices"],
                cat["attestation_devices"], cat["role"]],
               ([g["catalogue"], g["title"], c["clause"], c["title"], st_label.get(c["status"], c["status"]),
                 c["fail_devices"], c["attestation_devices"], role_label(c.get("role"), g["catalogue"])]
                for g in m["groups"] for c in g["clauses"]),
               wrap=(3,), fills={4: st_fill})

    plan_rows = []
    for i, s in enumerate(m["plan"], 1):
        head = [i, s.title, sev_label[s.severity], cat[f"ease_{s.ease}"], s.why, s.how]
        if not s.devices:
            plan_rows.append(head + [cat["plan_all_devices"], "", ""])
        plan_rows += [head + [d.address, d.name, "; ".join(d.details)] for d in s.devices]
    _sheet(wb, "Remediation",
           [cat["step"], cat["title"], cat["severity"], cat["ease"], cat["plan_why"], cat["plan_how"], cat["address"],
            cat["devices_concerned"], cat["details"]],
           plan_rows, wrap=(1, 4, 5, 8), fills={2: sev_fill})

    diff = doc.get("diff")
    if diff:
        names = {d["address"]: device_name(d, cat) for d in doc["devices"]}
        parts = [p for p in ("new", "fixed", "persisting", "not_rescanned") if p in diff]
        _sheet(wb, "Diff",
               [cat["change"], cat["address"], cat["devices_concerned"], cat["severity"], cat["check"], cat["title"],
                cat["protocol"], cat["port"], cat["cves"]],
               ([cat[f"diff_{p}"], r["address"], names.get(r["address"], ""), sev_label.get(r["severity"], r["severity"]),
                 r["check_id"], m["titles"].get(r["check_id"], r["check_id"]), r.get("protocol"), r.get("port"),
                 " ".join(r.get("cves", []))] for p in parts for r in diff[p]),
               wrap=(5,), fills={3: sev_fill})

    wb.properties.title = cat["report_title"]
    wb.properties.creator = f"camaudit {scan['tool_version']}"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
