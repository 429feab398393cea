"""The summary table printed at the end of a scan."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from camaudit.cli.progress import SEV_STYLE
from camaudit.locale import catalogue


def print_summary(console: Console, doc: dict, lang: str) -> None:
    t = catalogue(lang)
    table = Table(title=f"{t['scan']} {doc['scan']['id'][:8]} — {t['status_' + doc['scan']['status']]}")
    table.add_column(t["address"], no_wrap=True)
    table.add_column(t["kind"])
    table.add_column(t["vendor"])
    table.add_column(t["model"])
    table.add_column(t["firmware"])
    table.add_column(t["open_ports"])
    sevs = [s for s in SEV_STYLE if s != "info"]
    legend = "/".join(f"[{SEV_STYLE[s]}]{t[s]}[/]" for s in sevs)
    table.add_column(t["findings"], no_wrap=True, justify="right")
    table.caption = f"{t['findings']}: {legend}"
    for d in doc["devices"]:
        ident = d["identity"]
        sev = {s: 0 for s in sevs}
        for f in d["findings"]:
            if f["severity"] in sev:
                sev[f["severity"]] += 1
        cell = "/".join(f"[{SEV_STYLE[s]}]{n}[/]" if n else "[dim]0[/]" for s, n in sev.items())
        table.add_row(d["address"], t.get("kindshort_" + ident.get("kind", "unknown"), ""), ident.get("vendor") or "—",
                      ident.get("model") or "—", ident.get("firmware") or "—",
                      ",".join(map(str, d["open_ports"])), cell)
    console.print(table)
    s = doc["summary"]
    counts = ", ".join(f"{t[k]}: {v}" for k, v in s["findings"].items() if v) or t["no_findings"]
    console.print(f"{t['hosts_swept']}: {s['hosts_swept']} · {t['hosts_up']}: {s['hosts_up']} · "
                  f"{t['video_devices']}: {s['video_devices']} · {t['findings']}: {counts}")
