"""The HTML report: one self-contained file (inline CSS and SVG, no script, no CDN)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from camaudit.locale import catalogue

SEV_COLOURS = {"critical": "#7b0d1e", "high": "#c0392b", "medium": "#d68910", "low": "#2e86c1", "info": "#7f8c8d"}
SEVERITIES = tuple(SEV_COLOURS)

_env = Environment(loader=PackageLoader("camaudit.reports", "templates"),
                   autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)


def severity_chart(counts: dict[str, int], labels: dict[str, str]) -> dict[str, Any]:
    """Bars of a horizontal chart, computed here so the page needs no script."""
    top = max([1, *counts.values()])
    bars = []
    for i, sev in enumerate(SEVERITIES):
        n = counts.get(sev, 0)
        bars.append({"label": labels.get(sev, sev), "n": n, "y": 8 + i * 28,
                     "width": round(300 * n / top, 1), "colour": SEV_COLOURS[sev]})
    return {"bars": bars, "height": 8 + len(SEVERITIES) * 28}


def render_html(doc: dict[str, Any], lang: str) -> str:
    cat = catalogue(lang)
    return _env.get_template("report.html.j2").render(
        doc=doc, t=cat, lang=lang, colours=SEV_COLOURS,
        chart=severity_chart(doc["summary"]["findings"], cat),
    )
