"""The summary table printed at the end of a scan."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from camaudit.cli.progress import SEV_STYLE
from camaudit.locale import catalogue


def print_summary(console: Console, doc: dict, lang: str) -> None:
    t = catalogue(lang)
    table = Table(title=f"{t['scan']} {doc['scan']['id'][:8]} — {t['status_' + doc['scan']['status']]}")
    for col in ("address", "kind", "vendor", "model", "firmware", "open_ports", "findings"):
        table.add_column(t[col])
    for d in doc["devices"]:
        ident = d["identity"]
        sev = {}
        for f in d["findings"]:
            sev[f["severity"]] = sev.get(f["severity"], 0) + 1
        cell = " ".join(f"[{SEV_STYLE[s]}]{t[s]} {n}[/]" for s, n in sev.items()) or "—"
        table.add_row(d["address"], t.get("kind_" + ident.get("kind", "unknown"), ""), ident.get("vendor") or "—",
                      ident.get("model") or "—", ident.get("firmware") or "—",
                      ",".join(map(str, d["open_ports"])), cell)
    console.print(table)
    s = doc["summary"]
    counts = ", ".join(f"{t[k]}: {v}" for k, v in s["findings"].items() if v) or t["no_findings"]
    console.print(f"{t['hosts_swept']}: {s['hosts_swept']} · {t['hosts_up']}: {s['hosts_up']} · "
                  f"{t['video_devices']}: {s['video_devices']} · {t['findings']}: {counts}")
