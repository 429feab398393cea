"""The HTML report (one self-contained file: inline CSS and SVG, no script, no CDN) and the
page model it shares with the PDF: summary, charts, inventory, devices, clauses, plan, diff."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from camaudit.locale import catalogue
from camaudit.reports.charts import Segment, bar_chart, stacked_chart
from camaudit.reports.compliance_view import compliance_exec_lines, cover_model, headline_score, regulation_line
from camaudit.reports.remediation import VIDEO_KINDS, build_plan, device_name

SEV_COLOURS = {"critical": "#7b0d1e", "high": "#c0392b", "medium": "#d68910", "low": "#2e86c1", "info": "#7f8c8d"}
SEVERITIES = tuple(SEV_COLOURS)
STATUS_COLOURS = {"pass": "#1e8449", "fail": "#c0392b", "attestation": "#d68910", "not_tested": "#95a5a6",
                  "na": "#c8cdd2"}
STATUSES = tuple(STATUS_COLOURS)

_env = Environment(loader=PackageLoader("camaudit.reports", "templates"),
                   autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)


def _evidence_items(evidence: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    """(key, text) lines of a finding's evidence; the summary in the other language is left out."""
    other = "summary_en" if lang == "vi" else "summary_vi"
    out = []
    for k in sorted(evidence):
        if k == other:
            continue
        v = evidence[k]
        if isinstance(v, (list, tuple)):
            text = ", ".join(str(x) for x in v)
        elif isinstance(v, dict):
            text = json.dumps(v, ensure_ascii=False, sort_keys=True)
        else:
            text = str(v)
        out.append((k, text))
    return out


def _css_string(text: str) -> Markup:
    """A CSS string literal for generated content: quotes, backslashes, line breaks and '<'
    escaped, so no text can end the string or the style element."""
    out = "".join(f"\\{ord(ch):x} " if ch in '"\\<>\n\r' or ord(ch) < 32 else ch for ch in str(text))
    return Markup(f'"{out}"')


_env.filters["evidence_items"] = _evidence_items
_env.filters["css_string"] = _css_string
_env.filters["headline"] = headline_score


def day(iso: str | None) -> dt.date | None:
    if not iso:
        return None
    try:
        return dt.datetime.fromisoformat(iso).date()
    except ValueError:
        return None


def _fmt_day(iso: str | None, lang: str) -> str:
    d = day(iso)
    if d is None:
        return "—"
    return d.strftime("%d/%m/%Y") if lang == "vi" else d.isoformat()


def severity_rows(counts: dict[str, int], cat: dict[str, str]) -> list[tuple[str, int, str]]:
    return [(cat.get(s, s), counts.get(s, 0), SEV_COLOURS[s]) for s in SEVERITIES]


def vendor_rows(doc: dict[str, Any], cat: dict[str, str]) -> list[tuple[str, list[Segment]]]:
    """Findings per vendor, split by severity; vendors with the most findings first."""
    per: dict[str, Counter[str]] = {}
    for dev in doc["devices"]:
        vendor = dev["identity"].get("vendor") or cat["unknown_vendor"]
        c = per.setdefault(vendor, Counter())
        for f in dev["findings"]:
            c[f["severity"]] += 1
    ranked = sorted(per.items(), key=lambda kv: (-sum(kv[1].values()), kv[0].lower()))
    return [(vendor, [Segment(s, cat.get(s, s), c[s], SEV_COLOURS[s]) for s in SEVERITIES])
            for vendor, c in ranked if sum(c.values())]


def clause_groups(compliance: dict[str, Any]) -> list[dict[str, Any]]:
    """The system clauses grouped by catalogue and requirement group, in catalogue order."""
    meta: dict[tuple[str, str], dict[str, Any]] = {}
    for d in compliance.get("devices", []):
        for v in d["verdicts"]:
            meta.setdefault((v["catalogue"], v["clause"]), v)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for c in compliance["system"]["clauses"]:
        v = meta.get((c["catalogue"], c["clause"]), {})
        gid = v.get("group") or c["catalogue"]
        g = groups.setdefault((c["catalogue"], gid), {"catalogue": c["catalogue"], "id": gid,
                                                      "title": v.get("group_title") or gid, "clauses": []})
        g["clauses"].append({**c, "number": v.get("number"), "confirmed": v.get("confirmed", True)})
    return list(groups.values())


def compliance_rows(groups: list[dict[str, Any]], compliance: dict[str, Any],
                    cat: dict[str, str]) -> list[tuple[str, list[Segment]]]:
    codes = {c["id"]: c["code"] for c in compliance["catalogues"]}
    many = len(compliance["catalogues"]) > 1
    rows = []
    for g in groups:
        n = Counter(c["status"] for c in g["clauses"])
        label = (codes.get(g["catalogue"], g["catalogue"]).split(":")[0] + " · " if many else "") + g["title"]
        rows.append((label, [Segment(s, cat[f"verdict_{s}"], n[s], STATUS_COLOURS[s]) for s in STATUSES]))
    return rows


def page_model(doc: dict[str, Any], lang: str, kb: Any = None) -> dict[str, Any]:
    """Everything the HTML and PDF templates show, computed once from the report document."""
    cat = catalogue(lang)
    counts = {s: doc["summary"]["findings"].get(s, 0) for s in SEVERITIES}
    video = [d for d in doc["devices"] if d["identity"].get("kind") in VIDEO_KINDS]
    video_critical = sum(1 for d in video if any(f["severity"] == "critical" for f in d["findings"]))
    plan = build_plan(doc, lang, kb)
    comp: dict[str, Any] = doc.get("compliance") or {}
    groups = clause_groups(comp) if comp else []
    charts = {
        "severity": bar_chart(severity_rows(counts, cat), title=cat["findings_by_severity"]),
        "vendor": stacked_chart(vendor_rows(doc, cat), title=cat["findings_by_vendor"])
        if any(d["findings"] for d in doc["devices"]) else None,
        "compliance": stacked_chart(compliance_rows(groups, comp, cat), title=cat["compliance_by_group"],
                                    width=640, label_limit=46, normalise=True) if groups else None,
    }
    exec_lines = [cat["exec_scope"].format(swept=doc["summary"]["hosts_swept"], up=doc["summary"]["hosts_up"],
                                           video=len(video), targets=", ".join(doc["scan"]["targets"]))]
    total = sum(counts.values())
    if video:
        exec_lines.append(cat["exec_critical"].format(n=video_critical, video=len(video)) if video_critical
                          else cat["exec_no_critical"])
    exec_lines.append(cat["exec_findings"].format(total=total, **counts) if total else cat["exec_clean"])
    if comp:
        exec_lines += compliance_exec_lines(comp, cat)
    if doc["scan"]["status"] != "finished":
        exec_lines.append(cat["exec_incomplete"].format(status=cat.get(f"status_{doc['scan']['status']}",
                                                                       doc["scan"]["status"])))
    titles = {f["check_id"]: f.get("title") or f["check_id"] for d in doc["devices"] for f in d["findings"]}
    if kb is not None:
        from camaudit.reports import check_text

        for ref in (r for part in ("new", "fixed", "persisting", "not_rescanned")
                    for r in (doc.get("diff") or {}).get(part, [])):
            titles.setdefault(ref["check_id"], check_text(kb, ref["check_id"], lang)[0])
    return {
        "doc": doc, "t": cat, "lang": lang, "colours": SEV_COLOURS, "status_colours": STATUS_COLOURS,
        "severities": SEVERITIES, "statuses": STATUSES, "charts": charts, "plan": plan, "first": plan[:3],
        "exec_lines": exec_lines, "video": video, "others": [d for d in doc["devices"] if d not in video],
        "verdicts": {d["address"]: d for d in comp["devices"]} if comp else {},
        "groups": groups, "titles": titles, "device_name": lambda d: device_name(d, cat),
        "started": _fmt_day(doc["scan"]["started"], lang), "finished": _fmt_day(doc["scan"]["finished"], lang),
        "report_day": day(doc["scan"]["finished"] or doc["scan"]["started"]),
        "fmt_day": lambda iso: _fmt_day(iso, lang),
        "cover": cover_model(doc, lang, cat),
        "regulation_line": lambda c: regulation_line(c, cat, lang),
    }


def render_html(doc: dict[str, Any], lang: str, kb: Any = None) -> str:
    return _env.get_template("report.html.j2").render(**page_model(doc, lang, kb))


def render_print_html(doc: dict[str, Any], lang: str, kb: Any = None) -> str:
    """The same sections laid out for print (A4, cover, running header, page numbers)."""
    return _env.get_template("report_print.html.j2").render(**page_model(doc, lang, kb))


def stream_html(doc: dict[str, Any], lang: str, kb: Any = None) -> Iterator[str]:
    """The HTML report piece by piece (section after section, device after device)."""
    return _env.get_template("report.html.j2").generate(**page_model(doc, lang, kb))
