"""Benchmark camaudit against nmap on a lab of emulated cameras on loopback addresses.

One run: start a generated lab (default 250 devices on 127.21.0.0/16), then for each phase run
camaudit and nmap as child processes on the same hosts and ports, one at a time, and measure
wall time, CPU time and peak memory of each tool's process tree.  Phases:

  sweep  camaudit scan --discovery-only --no-udp   vs  nmap -sT -n -Pn --open
  full   camaudit scan (default checks)            vs  nmap -sT -sV -n -Pn --script rtsp-url-brute,http-default-accounts

The lab is restarted before each tool's full run so that lockouts one tool provokes cannot
change what the other finds.  Results go to bench/results/results-YYYYMMDD-HHMMSS.{json,md}
and bench/results/latest.md.  See bench/README.md for how to read them.

Traffic goes only to the lab's addresses: the network must lie inside 127.0.0.0/8, and both
tools get the lab's address list and nothing else (camaudit also with --allow NETWORK).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil
from defusedxml import ElementTree

from camaudit import __version__ as camaudit_version
from camaudit.engine.options import DEFAULT_PORTS
from camaudit.lab.fleet import Fleet, generate_fleet, ground_truth
from camaudit.lab.runner import Lab
from camaudit.model import redact

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SAMPLE_EVERY = 0.05  # seconds between two RSS samples of a tool's process tree
NMAP_SCRIPTS = ("rtsp-url-brute", "http-default-accounts")


# --------------------------------------------------------------------------- measuring one run

@dataclass
class Run:
    """One tool run as a child process: what it cost."""

    tool: str
    phase: str
    command: list[str]
    wall_s: float = 0.0
    exit_code: int | None = None
    timed_out: bool = False
    cpu_user_s: float = 0.0
    cpu_sys_s: float = 0.0
    peak_rss_tree_mib: float = 0.0  # max over 50 ms samples of the summed RSS of the process tree
    max_rss_mib: float = 0.0  # kernel's ru_maxrss of the child (largest single process)
    samples: int = 0
    lab_cpu_s: float | None = None  # CPU the lab spent answering during this run (not in cpu_s)
    loadavg: tuple[float, float] = (0.0, 0.0)  # 1-min load before and after: others using the machine
    stdout: str = ""  # path of the captured stdout
    stderr: str = ""  # path of the captured stderr

    @property
    def cpu_s(self) -> float:
        return self.cpu_user_s + self.cpu_sys_s


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def _stop_group(pid: int) -> None:
    """End the process group of a child we started (it leads its own session)."""
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def measure(tool: str, phase: str, command: list[str], *, workdir: Path, env: dict[str, str] | None = None,
            limit_s: float) -> Run:
    """Run ``command`` alone as a child process; time it and sample its memory until it exits."""
    run = Run(tool=tool, phase=phase, command=command)
    out_path = workdir / f"{phase}-{tool}-{int(time.time() * 1000)}.out"
    err_path = out_path.with_suffix(".err")
    run.stdout, run.stderr = str(out_path), str(err_path)
    peak = 0
    samples = 0
    done = threading.Event()

    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
        watched = psutil.Process(proc.pid)

        def sample() -> None:
            nonlocal peak, samples
            while not done.is_set():
                try:
                    peak = max(peak, _tree_rss(watched))
                    samples += 1
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
                done.wait(SAMPLE_EVERY)

        def watchdog() -> None:
            if not done.wait(limit_s):
                run.timed_out = True
                _stop_group(proc.pid)

        threads = [threading.Thread(target=sample, daemon=True), threading.Thread(target=watchdog, daemon=True)]
        for t in threads:
            t.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C or SIGTERM while the tool runs: take it down with us
            done.set()
            _stop_group(proc.pid)
            proc.wait()
            raise
        run.wall_s = time.perf_counter() - started
        done.set()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4, tell Popen
        for t in threads:
            t.join()
    _stop_group(proc.pid)  # a grandchild the tool left behind, if any
    run.exit_code = proc.returncode
    run.cpu_user_s, run.cpu_sys_s = usage.ru_utime, usage.ru_stime
    run.max_rss_mib = usage.ru_maxrss / 1024  # KiB on Linux
    run.peak_rss_tree_mib = max(peak / 2**20, run.max_rss_mib)
    run.samples = samples
    return run


# --------------------------------------------------------------------------- reading the tools' output

def read_camaudit(report_path: Path) -> dict[str, Any]:
    """Open ports, identities and findings from camaudit's JSON report."""
    doc = json.loads(report_path.read_text("utf-8"))
    ports: set[tuple[str, int]] = set()
    findings: list[dict[str, Any]] = []
    vendors: dict[str, str | None] = {}
    for dev in doc.get("devices", []):
        addr = dev["address"]
        ports.update((addr, int(p)) for p in dev.get("open_ports", []))
        vendors[addr] = (dev.get("identity") or {}).get("vendor")
        for f in dev.get("findings", []):
            findings.append({"check": f["check_id"], "address": addr, "port": f.get("port"),
                             "protocol": f.get("protocol"), "cves": list(f.get("cves") or []),
                             "severity": f.get("severity")})
    scan = doc.get("scan", {})
    engine_s = None
    if scan.get("started") and scan.get("finished"):
        engine_s = (datetime.fromisoformat(scan["finished"]) - datetime.fromisoformat(scan["started"])).total_seconds()
    return {"ports": ports, "findings": findings, "vendors": vendors, "engine_s": engine_s,
            "summary": doc.get("summary", {}), "errors": sum(len(d.get("errors", [])) for d in doc.get("devices", []))}


def _script_table(elem) -> Any:
    """An NSE structured output element (<table>/<elem>) as Python data."""
    keyed: dict[str, Any] = {}
    items: list[Any] = []
    for child in elem:
        value = _script_table(child) if child.tag == "table" else (child.text or "")
        if child.get("key") is not None:
            keyed[child.get("key")] = value
        else:
            items.append(value)
    return keyed if keyed else items


def read_nmap(xml_path: Path) -> dict[str, Any]:
    """Open ports, service names and script results from nmap's XML output."""
    root = ElementTree.parse(xml_path).getroot()
    ports: set[tuple[str, int]] = set()
    services: dict[tuple[str, int], dict[str, str]] = {}
    scripts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    timed_out: list[str] = []
    groups: dict[int, int] = {}  # host group start -> its end: nmap finishes a group's hosts together
    for host in root.iter("host"):
        if host.get("starttime") and host.get("endtime"):
            start = int(host.get("starttime"))
            groups[start] = max(groups.get(start, 0), int(host.get("endtime")))
        addr_el = host.find("address[@addrtype='ipv4']")
        if addr_el is None:
            continue
        addr = addr_el.get("addr")
        if host.get("timedout") == "true":
            timed_out.append(addr)
        for port in host.iter("port"):
            state = port.find("state")
            if state is None or state.get("state") != "open":
                continue
            key = (addr, int(port.get("portid")))
            ports.add(key)
            svc = port.find("service")
            if svc is not None:
                services[key] = {k: svc.get(k) for k in ("name", "product", "version", "extrainfo",
                                                         "devicetype", "method") if svc.get(k)}
                cpes = [c.text for c in svc.findall("cpe") if c.text]
                if cpes:
                    services[key]["cpe"] = " ".join(cpes)
            for sc in port.findall("script"):
                scripts[sc.get("id")].append({"address": addr, "port": key[1], "data": _script_table(sc),
                                              "output": sc.get("output", "")})
    run_stats = root.find("runstats/finished")
    sizes = Counter(int(h.get("starttime")) for h in root.iter("host") if h.get("starttime"))
    host_groups = [{"hosts": sizes[st], "seconds": end - st} for st, end in sorted(groups.items())]
    return {"ports": ports, "services": services, "scripts": dict(scripts), "host_timeouts": timed_out,
            "host_groups": host_groups,
            "elapsed_s": float(run_stats.get("elapsed")) if run_stats is not None else None}


def nmap_credentials(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """http-default-accounts hits: one row per credential, password redacted."""
    rows = []
    for e in entries:
        data = e["data"] if isinstance(e["data"], dict) else {}
        for name, fp in data.items():
            if not isinstance(fp, dict):
                continue
            for cred in fp.get("credentials") or []:
                if isinstance(cred, dict):
                    rows.append({"address": e["address"], "port": e["port"], "fingerprint": name,
                                 "path": fp.get("path"), "username": cred.get("username", ""),
                                 "password": redact(cred.get("password", ""))})
    return rows


def nmap_rtsp_routes(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """rtsp-url-brute: URLs served without a credential ('discovered') and the other answers."""
    discovered: dict[tuple[str, int], int] = {}
    other: Counter[str] = Counter()
    for e in entries:
        data = e["data"] if isinstance(e["data"], dict) else {}
        found = data.get("discovered") or []
        if found:
            discovered[(e["address"], e["port"])] = len(found)
        for status, urls in (data.get("other responses") or {}).items():
            other[status] += len(urls) if isinstance(urls, list) else 1
    return {"ports_with_anonymous_routes": discovered, "other_responses": dict(other)}


# --------------------------------------------------------------------------- comparing with the lab's truth

def _matches(expected: dict[str, Any], finding: dict[str, Any]) -> bool:
    if expected["check"] != finding["check"] or expected["address"] != finding["address"]:
        return False
    for key in ("port", "protocol"):
        if expected.get(key) is not None and expected[key] != finding.get(key):
            return False
    return set(expected.get("cves") or ()) <= set(finding.get("cves") or ())


def score_findings(truth: dict[str, Any], findings: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per check: expected, reported, expected ones reported (matched), reported ones not expected."""
    expected = [dict(e, address=d["address"]) for d in truth["devices"] for e in d["expected_findings"]]
    checks = sorted({e["check"] for e in expected} | {f["check"] for f in findings})
    table = {}
    for c in checks:
        exp = [e for e in expected if e["check"] == c]
        got = [f for f in findings if f["check"] == c]
        table[c] = {"expected": len(exp), "reported": len(got),
                    "matched": sum(any(_matches(e, f) for f in got) for e in exp),
                    "unexpected": sum(not any(_matches(e, f) for e in exp) for f in got)}
    return table


def truth_ports(truth: dict[str, Any], ports: Iterable[int]) -> set[tuple[str, int]]:
    wanted = set(ports)
    return {(d["address"], p) for d in truth["devices"] for p in d["tcp_ports"] if p in wanted}


def compare_ports(a: set[tuple[str, int]], b: set[tuple[str, int]], truth: set[tuple[str, int]]) -> dict[str, Any]:
    def fmt(s: set[tuple[str, int]]) -> list[str]:
        return [f"{h}:{p}" for h, p in sorted(s, key=lambda x: (ipaddress.ip_address(x[0]), x[1]))]

    return {"camaudit_open": len(a), "nmap_open": len(b), "lab_declared": len(truth), "both": len(a & b),
            "only_camaudit": fmt(a - b), "only_nmap": fmt(b - a),
            "camaudit_missed_declared": fmt(truth - a), "nmap_missed_declared": fmt(truth - b),
            "agree": a == b}


def coverage(truth: dict[str, Any], cam: dict[str, Any], nm: dict[str, Any]) -> list[dict[str, Any]]:
    """Like-for-like rows: the lab's facts each tool's comparable work can find."""
    def exp_keys(checks: set[str], protocols: set[str]) -> set[tuple[str, int]]:
        return {(d["address"], e["port"]) for d in truth["devices"] for e in d["expected_findings"]
                if e["check"] in checks and e.get("protocol") in protocols}

    def cam_keys(checks: set[str], protocols: set[str]) -> set[tuple[str, int]]:
        return {(f["address"], f["port"]) for f in cam["findings"]
                if f["check"] in checks and f.get("protocol") in protocols}

    rows = []
    web = {"http", "https"}
    want = exp_keys({"default-credentials", "weak-credentials"}, web)
    nm_creds = {(r["address"], r["port"]) for r in nmap_credentials(nm["scripts"].get("http-default-accounts", []))}
    rows.append({"fact": "default/weak web login accepted (host:port)", "lab": len(want),
                 "camaudit": len(want & cam_keys({"default-credentials", "weak-credentials"}, web)),
                 "nmap": len(want & nm_creds), "nmap_means": "http-default-accounts credential"})
    want = exp_keys({"rtsp-anonymous"}, {"rtsp"})
    nm_rtsp = set(nmap_rtsp_routes(nm["scripts"].get("rtsp-url-brute", []))["ports_with_anonymous_routes"])
    rows.append({"fact": "RTSP stream served with no credential (host:port)", "lab": len(want),
                 "camaudit": len(want & cam_keys({"rtsp-anonymous"}, {"rtsp"})),
                 "nmap": len(want & nm_rtsp), "nmap_means": "rtsp-url-brute 'discovered' URL"})
    vendors = {d["address"]: d["vendor"] for d in truth["devices"] if d.get("vendor") and not d.get("hostile")}
    svc_text: dict[str, str] = defaultdict(str)
    for (addr, _), svc in nm["services"].items():
        svc_text[addr] += " " + " ".join(svc.values()).lower()
    rows.append({"fact": "vendor identified (hosts)", "lab": len(vendors),
                 "camaudit": sum((cam["vendors"].get(a) or "").lower() == v.lower() for a, v in vendors.items()),
                 "nmap": sum(v.lower().split()[0] in svc_text.get(a, "") for a, v in vendors.items()),
                 "nmap_means": "vendor name in a -sV product/cpe string"})
    return rows


# --------------------------------------------------------------------------- the benchmark

@dataclass
class Bench:
    args: argparse.Namespace
    fleet: Fleet
    work: Path
    targets_file: Path
    ports: tuple[int, ...]
    lab: Lab | None = None
    lab_starts: list[float] = field(default_factory=list)

    # -- lab ------------------------------------------------------------------------------

    def lab_up(self) -> None:
        self.lab_down()
        state = Path(tempfile.mkdtemp(prefix="lab-", dir=self.work))
        started = time.perf_counter()
        self.lab = Lab(self.fleet, state)
        self.lab.start()
        self.lab_starts.append(time.perf_counter() - started)
        print(f"lab up: {len(self.fleet.devices)} devices on {self.args.network} "
              f"({self.lab_starts[-1]:.1f} s to start)", flush=True)

    def lab_down(self) -> None:
        if self.lab is not None:
            lab, self.lab = self.lab, None
            lab.stop()

    # -- commands -------------------------------------------------------------------------

    def camaudit_cmd(self, report: Path, *, discovery: bool) -> list[str]:
        cmd = [str(Path(sys.executable).with_name("camaudit")), "scan", f"@{self.targets_file}",
               "--allow", self.args.network, "-p", ",".join(map(str, self.ports)),
               "--quiet", "--report", str(report), "--fail-on", "none", "--lang", "en"]
        if discovery:
            cmd += ["--discovery-only", "--no-udp"]
        elif not self.args.full_udp:
            cmd.append("--no-udp")
        return cmd

    def nmap_cmd(self, *, full: bool) -> list[str]:
        cmd = ["nmap", "-sT", "-n", "-Pn", "-p", ",".join(map(str, self.ports))]
        if full:
            cmd += ["-sV", "--script", ",".join(NMAP_SCRIPTS), "--host-timeout", self.args.nmap_host_timeout]
        else:
            cmd.append("--open")
        cmd += [f"-{self.args.nmap_timing}", "-iL", str(self.targets_file), "-oX", "-"]
        return cmd

    def camaudit_env(self, tag: str) -> dict[str, str]:
        home = Path(tempfile.mkdtemp(prefix=f"camaudit-{tag}-", dir=self.work))
        return {**os.environ, "CAMAUDIT_DB": f"sqlite:///{home / 'bench.sqlite'}", "CAMAUDIT_HOME": str(home),
                "CAMAUDIT_OPERATOR": "bench"}

    def _lab_cpu(self) -> float | None:
        if self.lab is None or self.lab.proc is None:
            return None
        try:
            t = psutil.Process(self.lab.proc.pid).cpu_times()
        except psutil.NoSuchProcess:
            return None
        return t.user + t.system

    def _measure(self, tool: str, phase: str, command: list[str], env: dict[str, str] | None = None) -> Run:
        before, load = self._lab_cpu(), os.getloadavg()[0]
        run = measure(tool, phase, command, workdir=self.work, env=env, limit_s=self.args.tool_limit)
        after = self._lab_cpu()
        run.loadavg = (round(load, 2), round(os.getloadavg()[0], 2))
        if before is not None and after is not None:
            run.lab_cpu_s = round(after - before, 3)
        self._check(run)
        return run

    def run_camaudit(self, phase: str, tag: str) -> tuple[Run, dict[str, Any]]:
        report = self.work / f"{phase}-camaudit-{tag}.json"
        run = self._measure("camaudit", phase, self.camaudit_cmd(report, discovery=phase == "sweep"),
                            self.camaudit_env(tag))
        return run, read_camaudit(report)

    def run_nmap(self, phase: str) -> tuple[Run, dict[str, Any]]:
        run = self._measure("nmap", phase, self.nmap_cmd(full=phase == "full"))
        return run, read_nmap(Path(run.stdout))

    @staticmethod
    def _check(run: Run) -> None:
        print(f"  {run.phase:5} {run.tool:8} {run.wall_s:8.2f} s  exit {run.exit_code}  "
              f"peak {run.peak_rss_tree_mib:7.1f} MiB  cpu {run.cpu_s:7.2f} s  lab cpu {run.lab_cpu_s} s",
              flush=True)
        if run.timed_out or run.exit_code not in (0,):
            tail = Path(run.stderr).read_text("utf-8", "replace")[-2000:]
            raise RuntimeError(f"{run.tool} {run.phase} {'timed out' if run.timed_out else 'failed'} "
                               f"(exit {run.exit_code}):\n{' '.join(run.command)}\n{tail}")

    # -- phases ---------------------------------------------------------------------------

    def sweep(self, truth: dict[str, Any]) -> dict[str, Any]:
        runs: dict[str, list[Run]] = {"camaudit": [], "nmap": []}
        found: dict[str, list[dict[str, Any]]] = {"camaudit": [], "nmap": []}
        for i in range(self.args.sweep_repeat):
            # alternate who goes first so that neither always meets a warmer lab
            order = ("camaudit", "nmap") if i % 2 == 0 else ("nmap", "camaudit")
            for tool in order:
                run, got = self.run_camaudit("sweep", f"sweep{i}") if tool == "camaudit" else self.run_nmap("sweep")
                runs[tool].append(run)
                found[tool].append(got)
        cam, nm = found["camaudit"][0], found["nmap"][0]
        agreement = compare_ports(cam["ports"], nm["ports"], truth_ports(truth, self.ports))
        # every repeat must see the same ports as the first: a flaky sweep is a finding too
        agreement["stable"] = {t: all(g["ports"] == found[t][0]["ports"] for g in found[t]) for t in found}
        return {"runs": runs, "agreement": agreement,
                "camaudit_engine_s": [g["engine_s"] for g in found["camaudit"]],
                "nmap_elapsed_s": [g["elapsed_s"] for g in found["nmap"]]}

    def full(self, truth: dict[str, Any]) -> dict[str, Any]:
        self.lab_up()  # fresh lab: no lockout or session state left by the sweeps
        cam_run, cam = self.run_camaudit("full", "full")
        self.lab_up()  # fresh again: camaudit's login attempts must not lock nmap out, nor the reverse
        nm_run, nm = self.run_nmap("full")
        by_addr = {d.address: d for d in self.fleet.devices}
        nm["host_timeouts"] = [{"address": a, "device": by_addr[a].name, "hostile": by_addr[a].hostile}
                               if a in by_addr else {"address": a} for a in nm["host_timeouts"]]
        by_check = Counter(f["check"] for f in cam["findings"])
        by_sev = Counter(f["severity"] for f in cam["findings"])
        scripts = {}
        for sid in NMAP_SCRIPTS:
            entries = nm["scripts"].get(sid, [])
            scripts[sid] = {"ports_with_output": len(entries), "hosts_with_output": len({e["address"] for e in entries})}
        creds = nmap_credentials(nm["scripts"].get("http-default-accounts", []))
        scripts["http-default-accounts"]["credentials"] = len(creds)
        scripts["http-default-accounts"]["by_fingerprint"] = dict(Counter(r["fingerprint"] for r in creds))
        rtsp = nmap_rtsp_routes(nm["scripts"].get("rtsp-url-brute", []))
        scripts["rtsp-url-brute"]["ports_with_anonymous_routes"] = len(rtsp["ports_with_anonymous_routes"])
        scripts["rtsp-url-brute"]["anonymous_urls"] = sum(rtsp["ports_with_anonymous_routes"].values())
        scripts["rtsp-url-brute"]["other_responses"] = rtsp["other_responses"]
        return {
            "runs": {"camaudit": [cam_run], "nmap": [nm_run]},
            "camaudit": {"engine_s": cam["engine_s"], "summary": cam["summary"], "findings_total": len(cam["findings"]),
                         "findings_by_check": dict(sorted(by_check.items())), "findings_by_severity": dict(by_sev),
                         "device_errors": cam["errors"], "vs_lab": score_findings(truth, cam["findings"]),
                         "open_ports": len(cam["ports"])},
            "nmap": {"elapsed_s": nm["elapsed_s"], "open_ports": len(nm["ports"]), "host_timeouts": nm["host_timeouts"],
                     "host_groups": nm["host_groups"],
                     "services_named": len([s for s in nm["services"].values() if s.get("name")]),
                     "services_with_product": len([s for s in nm["services"].values() if s.get("product")]),
                     "service_names": dict(Counter(s.get("name", "?") for s in nm["services"].values()).most_common()),
                     "scripts": scripts, "credentials_found": creds},
            "coverage": coverage(truth, cam, nm),
        }


# --------------------------------------------------------------------------- figures and tables

def summarize(runs: list[Run], hosts: int) -> dict[str, Any]:
    wall = statistics.median(r.wall_s for r in runs)
    return {"wall_s": round(wall, 3), "wall_s_runs": [round(r.wall_s, 3) for r in runs],
            "hosts_per_s": round(hosts / wall, 2) if wall else None,
            "cpu_s": round(statistics.median(r.cpu_s for r in runs), 3),
            "lab_cpu_s": round(statistics.median(r.lab_cpu_s or 0.0 for r in runs), 3),
            "peak_rss_mib": round(max(r.peak_rss_tree_mib for r in runs), 1),
            "max_rss_mib": round(max(r.max_rss_mib for r in runs), 1),
            "command": runs[0].command, "exit_codes": [r.exit_code for r in runs]}


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 3) if known else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def render_md(doc: dict[str, Any]) -> str:
    lines = [f"# camaudit vs nmap — {doc['started']}", "",
             f"Lab: {doc['lab']['devices']} emulated devices on {doc['lab']['network']} (loopback), "
             f"{len(doc['ports'])} TCP ports each. Machine: {doc['machine']['cpus']} CPUs, "
             f"{doc['machine']['platform']}, nmap {doc['machine']['nmap']}, camaudit {doc['machine']['camaudit']} "
             f"({doc['machine']['git']}).", "",
             "| phase | tool | wall s (median) | own scan s | hosts/s | wall ratio camaudit/nmap | CPU s | lab CPU s "
             "| peak RSS MiB (tree) | RSS ratio | found |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for phase, res in doc["phases"].items():
        for tool in ("camaudit", "nmap"):
            s = res["tools"][tool]
            ratio = res["ratio_wall"] if tool == "camaudit" else 1.0
            rss_ratio = res["ratio_peak_rss"] if tool == "camaudit" else 1.0
            own = res["own_scan_s"][tool]
            lines.append(f"| {phase} | {tool} | {s['wall_s']:.2f} | {'' if own is None else f'{own:.2f}'} "
                         f"| {s['hosts_per_s']} | {ratio} | {s['cpu_s']:.2f} | {s['lab_cpu_s']:.2f} "
                         f"| {s['peak_rss_mib']} | {rss_ratio} | {res['found'][tool]} |")
    lines.append("")
    if "sweep" in doc["phases"]:
        ag = doc["phases"]["sweep"]["agreement"]
        lines += ["## Sweep: open ports", "",
                  f"camaudit {ag['camaudit_open']}, nmap {ag['nmap_open']}, declared by the lab {ag['lab_declared']}, "
                  f"found by both {ag['both']}: **{'same open ports' if ag['agree'] else 'DIFFERENT'}**; "
                  f"repeat runs stable: {ag['stable']}.", ""]
        for key in ("only_camaudit", "only_nmap", "camaudit_missed_declared", "nmap_missed_declared"):
            if ag[key]:
                lines.append(f"- {key.replace('_', ' ')} ({len(ag[key])}): {', '.join(ag[key][:20])}"
                             + (" …" if len(ag[key]) > 20 else ""))
        runs = doc["phases"]["sweep"]["tools"]
        lines += [f"- runs (s): camaudit {runs['camaudit']['wall_s_runs']}, nmap {runs['nmap']['wall_s_runs']}", ""]
    if "full" in doc["phases"]:
        full = doc["phases"]["full"]
        lines += ["## Full assessment: like for like", "",
                  "| fact in the lab | lab | camaudit | nmap | nmap's evidence |", "| --- | ---: | ---: | ---: | --- |"]
        for r in full["coverage"]:
            lines.append(f"| {r['fact']} | {r['lab']} | {r['camaudit']} | {r['nmap']} | {r['nmap_means']} |")
        lines += ["", "### camaudit findings by check (against the lab's ground truth)", "",
                  "| check | expected | reported | matched | not expected |", "| --- | ---: | ---: | ---: | ---: |"]
        for c, v in full["camaudit"]["vs_lab"].items():
            lines.append(f"| {c} | {v['expected']} | {v['reported']} | {v['matched']} | {v['unexpected']} |")
        nm = full["nmap"]
        lines += ["", "### nmap outputs", "",
                  f"- open ports {nm['open_ports']}, with a service name {nm['services_named']}, "
                  f"with a product {nm['services_with_product']}; host timeouts {len(nm['host_timeouts'])}"
                  + (" (" + ", ".join(f"{t['address']} {t.get('hostile') or ''}".strip()
                                      for t in nm["host_timeouts"]) + ")" if nm["host_timeouts"] else ""),
                  "- host groups (hosts: seconds): " + ", ".join(f"{g['hosts']}: {g['seconds']}" for g in nm["host_groups"])]
        for sid, v in nm["scripts"].items():
            lines.append(f"- {sid}: " + ", ".join(f"{k} {v[k]}" for k in v))
        lines.append("")
    lines += ["## Commands", ""]
    for phase, res in doc["phases"].items():
        for tool in ("camaudit", "nmap"):
            lines.append(f"- {phase} {tool}: `{' '.join(res['tools'][tool]['command'])}`")
    lines += ["", "Loopback has no latency: these figures measure CPU and scheduling, not network round trips. "
              "See bench/README.md for caveats.", ""]
    return "\n".join(lines)


def _tool_version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.split("\n")[0].strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def _on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def check_safety(fleet: Fleet, network: str) -> None:
    """Refuse to run unless every lab address is a loopback address inside ``network``."""
    net = ipaddress.ip_network(network)
    if net.version != 4 or not net.subnet_of(ipaddress.ip_network("127.0.0.0/8")):
        raise SystemExit(f"bench: {network} is not inside 127.0.0.0/8; refusing")
    for d in fleet.devices:
        if ipaddress.ip_address(d.address) not in net:
            raise SystemExit(f"bench: {d.address} outside {network}; refusing")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=250, help="emulated devices in the lab (default 250)")
    p.add_argument("--network", default="127.21.0.0/16", help="loopback network of the lab (inside 127.0.0.0/8)")
    p.add_argument("--ports", default=",".join(map(str, DEFAULT_PORTS)),
                   help="TCP ports both tools scan (default: camaudit's camera ports)")
    p.add_argument("--phases", default="sweep,full", help="comma list of: sweep, full")
    p.add_argument("--sweep-repeat", type=int, default=3, help="runs of each sweep (median reported)")
    p.add_argument("--full-udp", action=argparse.BooleanOptionalAction, default=True,
                   help="camaudit's full run includes its UDP probes (SNMP, SSDP, WS-Discovery), as by default")
    p.add_argument("--nmap-timing", default="T4", choices=[f"T{i}" for i in range(6)], help="nmap timing template")
    p.add_argument("--nmap-host-timeout", default="5m", help="nmap --host-timeout of the full phase")
    p.add_argument("--tool-limit", type=float, default=3600.0, help="seconds after which a tool run is killed")
    p.add_argument("--out", type=Path, default=RESULTS, help="where the results go")
    p.add_argument("--keep-raw", action="store_true", help="keep the tools' raw outputs next to the results")
    args = p.parse_args(argv)
    args.phase_list = [x.strip() for x in args.phases.split(",") if x.strip()]
    if not set(args.phase_list) <= {"sweep", "full"} or not args.phase_list:
        p.error("--phases: sweep and/or full")
    if args.count < 1 or args.sweep_repeat < 1:
        p.error("--count and --sweep-repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("nmap") is None:
        raise SystemExit("bench: nmap is not installed (apt-get install nmap)")
    ports = tuple(sorted({int(x) for x in args.ports.split(",")}))
    fleet = generate_fleet(args.count, network=args.network)
    check_safety(fleet, args.network)
    truth = ground_truth(fleet)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    # SIGTERM ends the run like Ctrl-C does: through the finally below.
    signal.signal(signal.SIGTERM, _on_sigterm)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))  # children inherit it

    work = Path(tempfile.mkdtemp(prefix="camaudit-bench-"))
    targets_file = work / "targets.txt"
    targets_file.write_text("".join(f"{d.address}\n" for d in fleet.devices), "utf-8")
    bench = Bench(args=args, fleet=fleet, work=work, targets_file=targets_file, ports=ports)
    phases: dict[str, Any] = {}
    try:
        bench.lab_up()
        if "sweep" in args.phase_list:
            print("sweep:", flush=True)
            phases["sweep"] = bench.sweep(truth)
        if "full" in args.phase_list:
            print("full:", flush=True)
            phases["full"] = bench.full(truth)
    finally:
        bench.lab_down()
        if args.keep_raw and phases:
            raw = args.out / f"raw-{stamp}"
            shutil.copytree(work, raw, ignore=shutil.ignore_patterns("lab-*", "camaudit-*", "*.sqlite*"))
            print(f"raw outputs: {raw}")
        shutil.rmtree(work, ignore_errors=True)

    n = len(fleet.devices)
    out_phases: dict[str, Any] = {}
    for name, res in phases.items():
        tools = {t: summarize(res["runs"][t], n) for t in ("camaudit", "nmap")}
        entry: dict[str, Any] = {"tools": tools,
                                 "ratio_wall": _ratio(tools["camaudit"]["wall_s"], tools["nmap"]["wall_s"]),
                                 "ratio_cpu": _ratio(tools["camaudit"]["cpu_s"], tools["nmap"]["cpu_s"]),
                                 "ratio_peak_rss": _ratio(tools["camaudit"]["peak_rss_mib"], tools["nmap"]["peak_rss_mib"]),
                                 "runs": {t: [asdict(r) | {"stdout": None, "stderr": None} for r in res["runs"][t]]
                                          for t in res["runs"]}}
        entry.update({k: v for k, v in res.items() if k != "runs"})
        if name == "sweep":
            entry["own_scan_s"] = {"camaudit": _median(res["camaudit_engine_s"]), "nmap": _median(res["nmap_elapsed_s"])}
            ag = res["agreement"]
            entry["found"] = {"camaudit": f"{ag['camaudit_open']} open ports", "nmap": f"{ag['nmap_open']} open ports"}
        else:
            entry["own_scan_s"] = {"camaudit": res["camaudit"]["engine_s"], "nmap": res["nmap"]["elapsed_s"]}
            c, m = res["camaudit"], res["nmap"]["scripts"]
            entry["found"] = {
                "camaudit": f"{c['findings_total']} findings: " + ", ".join(f"{k} {v}" for k, v in c["findings_by_check"].items()),
                "nmap": f"{res['nmap']['services_with_product']} services with product; http-default-accounts "
                        f"{m['http-default-accounts']['credentials']} credentials on "
                        f"{m['http-default-accounts']['ports_with_output']} ports; rtsp-url-brute output on "
                        f"{m['rtsp-url-brute']['ports_with_output']} ports "
                        f"({m['rtsp-url-brute']['ports_with_anonymous_routes']} with anonymous routes)"}
        out_phases[name] = entry

    git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    doc = {"schema": "camaudit-bench/1", "started": started,
           "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                       "nmap": _tool_version(["nmap", "--version"]).removeprefix("Nmap version ").split(" ")[0],
                       "camaudit": camaudit_version, "git": git or "?"},
           "lab": {"devices": n, "network": args.network, "fleet": fleet.fleet,
                   "families": dict(Counter(d.family for d in fleet.devices)),
                   "start_s": [round(s, 2) for s in bench.lab_starts]},
           "ports": list(ports),
           "options": {k: v for k, v in vars(args).items() if k not in ("out", "phase_list")},
           "phases": out_phases}
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / f"results-{stamp}.json"
    md_path = args.out / f"results-{stamp}.md"
    json_path.write_text(json.dumps(doc, indent=2, default=str) + "\n", "utf-8")
    md = render_md(doc)
    md_path.write_text(md, "utf-8")
    (args.out / "latest.md").write_text(md, "utf-8")
    print()
    print(md)
    print(f"written: {json_path}, {md_path}, {args.out / 'latest.md'}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench: interrupted; lab stopped", file=sys.stderr)
        sys.exit(130)
