"""Memory benchmarks (issue 7, items 9 and 11): what a scan and its reports cost as the target
list and the fleet grow.

  sweep  camaudit scan of 1,000,000 addresses (127.128.0.0 onwards, inside 127.128.0.0/12) on
         one or two ports, nothing listening there except a few devices this script plants;
         end to end: start-up, sweep, checkpoints, the planted devices' checks, and the
         JSON, CSV, HTML and XLSX reports.  Pass: peak RSS under 300 MB.
  pdf    the summary PDF (``x.summary.pdf``) and the full PDF (``x.pdf``) of a stored scan of
         1,000 synthetic devices (``camaudit report``): time and peak RSS of each.

Each run is a child process measured by bench/run.py's ``measure`` (wall time, CPU, peak RSS of
the process tree sampled every 50 ms, never below the kernel's ru_maxrss).  Results: printed, and
written to bench/results/memory-WHAT-YYYYMMDD-HHMMSS.{json,md} and bench/results/memory-WHAT-latest.md
(WHAT: sweep, pdf, or sweep-pdf).

Run it under the shared lock: ``flock /tmp/camaudit-heavy.lock .venv/bin/python bench/memory.py``.
Traffic goes only to 127.128.0.0/12 (refused by the scanner's --allow anywhere else).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
import socketserver
import sys
import tempfile
import threading
from dataclasses import asdict
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import RESULTS, Run, measure  # noqa: E402  (bench/run.py: the same measuring as the nmap bench)

from camaudit import __version__ as camaudit_version  # noqa: E402

NETWORK = ipaddress.ip_network("127.128.0.0/12")
LIMIT_MIB = 300.0  # issue 7: a 1,000,000-address sweep stays under 300 MB end to end
PLANTED = ("127.128.0.10", "127.131.7.20", "127.136.200.3", "127.143.66.1")
CAMAUDIT = [sys.executable, "-m", "camaudit.cli.main"]


# --------------------------------------------------------------------------- planted devices

class _Camera(BaseHTTPRequestHandler):
    """A camera's web server, just enough to be identified and checked: a Hikvision banner and
    a login page behind Basic authentication."""

    server_version = "App-webs/"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        body = b"<html><head><title>Hikvision</title></head><body>login</body></html>"
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="DS-2CD2032-I"')
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args: Any) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the sweep resets connections on purpose (SO_LINGER 0): not worth a traceback


def plant(port: int) -> list[_Server]:
    servers = []
    for address in PLANTED:
        srv = _Server((address, port), _Camera)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    return servers


# --------------------------------------------------------------------------- the sweep

def bench_sweep(count: int, ports: str, workdir: Path, limit_s: float) -> dict[str, Any]:
    first = NETWORK.network_address
    last = first + count - 1
    if last not in NETWORK:
        raise SystemExit(f"{count} addresses do not fit in {NETWORK}")
    servers = plant(int(ports.split(",")[0]))
    try:
        reports = [workdir / f"sweep.{ext}" for ext in ("json", "csv", "html", "xlsx")]
        cmd = [*CAMAUDIT, "scan", f"{first}-{last}", "--allow", str(NETWORK), "-p", ports, "--no-udp", "--quiet",
               "--hosts", "256", "--fail-on", "none", "--lang", "en", "--db", f"sqlite:///{workdir / 'sweep.sqlite'}"]
        for r in reports:
            cmd += ["--report", str(r)]
        env = dict(os.environ, CAMAUDIT_HOME=str(workdir))
        run = measure("camaudit", "sweep", cmd, workdir=workdir, env=env, limit_s=limit_s)
    finally:
        for srv in servers:
            srv.shutdown()
            srv.server_close()
    found: dict[str, Any] = {}
    if reports[0].exists():
        doc = json.loads(reports[0].read_text(encoding="utf-8"))
        found = {"hosts_swept": doc["summary"]["hosts_swept"], "hosts_up": doc["summary"]["hosts_up"],
                 "devices": [d["address"] for d in doc["devices"]],
                 "findings": sum(len(d["findings"]) for d in doc["devices"])}
    return {"addresses": count, "ports": ports, "planted": list(PLANTED), "run": asdict(run), "found": found,
            "report_bytes": {r.suffix.lstrip("."): r.stat().st_size for r in reports if r.exists()},
            "limit_mib": LIMIT_MIB, "pass": run.exit_code == 0 and run.peak_rss_tree_mib < LIMIT_MIB
            and sorted(found.get("devices", [])) == sorted(PLANTED)}


# --------------------------------------------------------------------------- the PDFs

def synthetic_store(url: str, devices: int) -> str:
    """A stored scan of ``devices`` cameras with the findings of a typical neglected fleet."""
    from camaudit.model import Credential, DeviceKind, Finding, HostResult, Identity, Observation, Severity
    from camaudit.store import Store

    vendors = [("Hikvision", "DS-2CD2032-I", "V5.4.1 build 160525"), ("Dahua", "IPC-HFW1230S", "2.622.0000000.31"),
               ("Xiongmai", "IPG-53H20PL-S", "V4.02.R11"), ("Uniview", "IPC322LR3", "GIPC-B6202.5.1")]
    store = Store(url)
    sid = store.create_scan(targets=["127.128.0.0/16"], options={"organisation": "Sở Thông tin và Truyền thông"},
                            operator="bench", tool_version=camaudit_version, knowledge_version="bench",
                            hosts_total=devices)
    batch = []
    for i in range(devices):
        addr = str(NETWORK.network_address + 1 + i)
        vendor, model, fw = vendors[i % len(vendors)]
        h = HostResult(address=addr, open_ports=[80, 554, 8000])
        h.identity = Identity(vendor=vendor, model=model, firmware=fw, kind=DeviceKind.CAMERA, confidence=0.9,
                              serial=f"SN{i:06d}")
        h.observations.append(Observation(address=addr, port=80, protocol="http", fields={"http.server": "App-webs/"}))
        h.credentials.append(Credential("http", 80, "admin", "12345", is_vendor_default=True))
        if i % 3 == 0:
            h.findings.append(Finding("default-credentials", addr, Severity.CRITICAL, port=80, protocol="http",
                                      evidence={"username": "admin", "password": "1***"}))
        h.findings.append(Finding("cleartext-http", addr, Severity.MEDIUM, port=80, protocol="http"))
        if i % 4 == 1:
            h.findings.append(Finding("rtsp-anonymous", addr, Severity.HIGH, port=554, protocol="rtsp",
                                      evidence={"route": "/Streaming/Channels/101"}))
        batch.append((h, addr, None))
        if len(batch) == 200:
            store.record_hosts(sid, batch)
            batch = []
    if batch:
        store.record_hosts(sid, batch)
    store.set_status(sid, "finished")
    store.close()
    return sid


def bench_pdf(devices: int, workdir: Path, limit_s: float) -> dict[str, Any]:
    url = f"sqlite:///{workdir / 'fleet.sqlite'}"
    sid = synthetic_store(url, devices)
    out: dict[str, Any] = {"devices": devices}
    env = dict(os.environ, CAMAUDIT_HOME=str(workdir))
    for kind, name in (("summary", "fleet.summary.pdf"), ("full", "fleet.pdf")):
        path = workdir / name
        run = measure("camaudit", f"pdf-{kind}", [*CAMAUDIT, "report", sid, "-r", str(path), "--lang", "vi",
                                                   "--db", url], workdir=workdir, env=env, limit_s=limit_s)
        pages = None
        if path.exists():
            from pypdf import PdfReader

            pages = len(PdfReader(path).pages)
        out[kind] = {"run": asdict(run), "bytes": path.stat().st_size if path.exists() else None, "pages": pages}
    return out


# --------------------------------------------------------------------------- results

def render_md(doc: dict[str, Any]) -> str:
    lines = [f"# camaudit memory — {doc['started']}", "",
             f"Machine: {doc['machine']}, camaudit {doc['camaudit']}. Loopback only. Peak RSS: the largest sum of "
             "the resident memory of camaudit's process tree, sampled every 50 ms (never below ru_maxrss).", ""]
    s = doc.get("sweep")
    if s:
        r = s["run"]
        lines += ["## Sweep of the target list (issue 7, item 9)", "",
                  "| addresses | ports | wall s | CPU s | peak RSS MiB | limit MiB | exit | hosts up | planted found | pass |",
                  "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
                  f"| {s['addresses']:,} | {s['ports']} | {r['wall_s']:.1f} | {r['cpu_user_s'] + r['cpu_sys_s']:.1f} "
                  f"| {r['peak_rss_tree_mib']:.1f} | {s['limit_mib']:.0f} | {r['exit_code']} "
                  f"| {s['found'].get('hosts_up')} | {len(s['found'].get('devices', []))}/{len(s['planted'])} "
                  f"| {'yes' if s['pass'] else 'NO'} |", "",
                  f"Reports (JSON, CSV, HTML, XLSX) bytes: {s['report_bytes']}.", "",
                  f"Command: `{' '.join(r['command'])}`", ""]
    p = doc.get("pdf")
    if p:
        lines += [f"## PDF of {p['devices']:,} devices (issue 7, item 11)", "",
                  "| PDF | wall s | CPU s | peak RSS MiB | pages | bytes | exit |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for kind in ("summary", "full"):
            r = p[kind]["run"]
            lines.append(f"| {kind} | {r['wall_s']:.1f} | {r['cpu_user_s'] + r['cpu_sys_s']:.1f} "
                         f"| {r['peak_rss_tree_mib']:.1f} | {p[kind]['pages']} | {p[kind]['bytes']:,} "
                         f"| {r['exit_code']} |")
        lines += ["", "Commands: " + "; ".join(f"`{' '.join(p[k]['run']['command'])}`" for k in ("summary", "full")),
                  ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", nargs="*", choices=["sweep", "pdf"], default=["sweep", "pdf"])
    ap.add_argument("--addresses", type=int, default=1_000_000)
    ap.add_argument("--ports", default="80,554")
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--limit-s", type=float, default=3600.0, help="Stop a run that takes longer (s).")
    ap.add_argument("--no-save", action="store_true", help="Print only; write nothing to bench/results.")
    args = ap.parse_args(argv)
    doc: dict[str, Any] = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           "machine": f"{os.cpu_count()} CPUs, {platform.platform()}", "camaudit": camaudit_version}
    with tempfile.TemporaryDirectory(prefix="camaudit-memory-") as tmp:
        workdir = Path(tmp)
        if "sweep" in args.what:
            doc["sweep"] = bench_sweep(args.addresses, args.ports, workdir, args.limit_s)
        if "pdf" in args.what:
            doc["pdf"] = bench_pdf(args.devices, workdir, args.limit_s)
        errors = {name: Path(run["run"]["stderr"]).read_text(errors="replace")[-2000:]
                  for name, run in [("sweep", doc.get("sweep"))] if run and run["run"]["exit_code"] not in (0, None)}
        doc["errors"] = errors
    md = render_md(doc)
    print(md)
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        what = "-".join(args.what)
        (RESULTS / f"memory-{what}-{stamp}.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        (RESULTS / f"memory-{what}-{stamp}.md").write_text(md + "\n")
        (RESULTS / f"memory-{what}-latest.md").write_text(md + "\n")
    sweep_ok = doc.get("sweep", {}).get("pass", True)
    return 0 if sweep_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["Run", "bench_pdf", "bench_sweep", "main"]
