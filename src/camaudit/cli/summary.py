"""The summary table printed at the end of a scan."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from camaudit.cli.listing import cell
from camaudit.cli.progress import SEV_STYLE
from camaudit.locale import catalogue


def print_summary(console: Console, doc: dict, lang: str) -> None:
    t = catalogue(lang)
    """Device strings are Text cells: never read as Rich markup (a Manufacturer of '[/bold]')."""
    table = Table(title=f"{t['scan']} {doc['scan']['id'][:8]} — {t['status_' + doc['scan']['status']]}")
    table.add_column(t["address"], no_wrap=True)
    table.add_column(t["kind"])
    table.add_column(t["vendor"])
    table.add_column(t["model"])
    table.add_column(t["firmware"])
    table.add_column(t["open_ports"])
    sevs = [s for s in SEV_STYLE if s != "info"]
    legend = Text(f"{t['findings']}: ")
    for i, s in enumerate(sevs):
        legend.append(("/" if i else "") + t[s], style=SEV_STYLE[s])
    table.add_column(t["findings"], no_wrap=True, justify="right")
    table.caption = legend
    for d in doc["devices"]:
        ident = d["identity"]
        sev = {s: 0 for s in sevs}
        for f in d["findings"]:
            if f["severity"] in sev:
                sev[f["severity"]] += 1
        counts = Text()
        for i, (s, n) in enumerate(sev.items()):
            counts.append(("/" if i else "") + str(n), style=SEV_STYLE[s] if n else "dim")
        table.add_row(cell(d["address"]), cell(t.get("kindshort_" + ident.get("kind", "unknown"), "")),
                      cell(ident.get("vendor") or "—"), cell(ident.get("model") or "—"),
                      cell(ident.get("firmware") or "—"), cell(",".join(map(str, d["open_ports"]))), counts)
    console.print(table)
    s = doc["summary"]
    totals = ", ".join(f"{t[k]}: {v}" for k, v in s["findings"].items() if v) or t["no_findings"]
    console.print(f"{t['hosts_swept']}: {s['hosts_swept']} · {t['hosts_up']}: {s['hosts_up']} · "
                  f"{t['video_devices']}: {s['video_devices']} · {t['findings']}: {totals}")
