"""Benchmark the platform on a synthetic province: 300 organisations, 50,000 devices, 1,000,000
tracked findings, bulk-loaded into SQLite and PostgreSQL, then p50/p95 of the main pages and API
calls, served in-process (Starlette's TestClient: the whole ASGI stack, no network).

    .venv/bin/python bench/platform.py                  # both databases, the full size
    .venv/bin/python bench/platform.py --db sqlite --scale 0.1 --repeat 10

The steering overview and an agency page must stay under 300 ms at p95 (exit 1 otherwise).
Results: bench/results/platform.json and bench/results/platform.md.  PostgreSQL: a database is
created and dropped on postgresql://postgres@127.0.0.1:5432 (started with pg_ctlcluster when it
is not running); without it that half is skipped with the reason.  Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import sys
from os.path import abspath, dirname

# This file is named like the standard library's ``platform`` module, which uvicorn, SQLAlchemy
# and others import: run as a script, its folder must not shadow it.
if sys.path and abspath(sys.path[0] or ".") == dirname(abspath(__file__)):
    sys.path.pop(0)

import argparse  # noqa: E402
import datetime as dt
import json
import os
import platform as host_platform
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BUDGET_MS = 300.0
BUDGETED = ("steering overview", "agency page (agency operator)", "agency page (steering drill-down)")

CHECKS = [("default-credentials", "critical"), ("weak-credentials", "high"), ("rtsp-anonymous", "high"),
          ("onvif-anonymous", "high"), ("cleartext-http", "medium"), ("cleartext-telnet", "high"),
          ("cleartext-ftp", "medium"), ("snmp-default-community", "high"), ("no-login-lockout", "medium"),
          ("tls-weak", "medium"), ("tls-cert-invalid", "medium"), ("login-error-oracle", "low"),
          ("unauthenticated-snapshot", "high"), ("unauthenticated-config", "medium"), ("upnp-exposed", "low"),
          ("vulnerable-firmware", "critical"), ("vulnerable-firmware", "high"), ("vulnerable-firmware", "medium"),
          ("ftp-anonymous", "high"), ("vulnerable-firmware", "low")]
SERVICES = ["http:80", "rtsp:554", "onvif:80", "https:443", "telnet:23", "ftp:21", "snmp:161", "http:8000"]
VENDORS = [("Hikvision", ["DS-2CD2032-I", "DS-2CD2143G0-I", "DS-7608NI-K2"], ["V5.4.1", "V5.5.0", "V5.7.3"]),
           ("Dahua", ["IPC-HFW1230S", "NVR4104HS"], ["2.420.0000", "2.800.0000"]),
           ("Axis", ["M3045-V", "P1375"], ["9.80.1", "10.12.0"]),
           ("Uniview", ["IPC322LB"], ["GIPC-B6202"]), ("Xiongmai", ["XM510"], ["V4.02.R11"]),
           ("KBVision", ["KX-2011N"], ["2.400.0"]), ("Vantech", ["VP-2224"], ["1.0.3"]),
           (None, [None], [None])]
STATUS_MIX = [("open", 55), ("fixed", 25), ("reopened", 5), ("accepted", 10), ("false_positive", 5)]


# -- the synthetic province ------------------------------------------------------------------------

def province(n_orgs: int, n_devices: int, n_findings: int, seed: int = 2026) -> dict[str, Any]:
    """Rows for every table, deterministic for a seed."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    base_id = 1000  # clear of the "local" organisation/system migration 0004 makes
    orgs: list[dict[str, Any]] = []
    root = {"id": base_id, "parent_id": None, "path": f"/{base_id}/", "name": "Tỉnh Bench", "kind": "province",
            "commune": ""}
    orgs.append(root)
    n_mid = max(2, n_orgs // 10)
    mids = []
    for i in range(n_mid):
        oid = base_id + 1 + i
        kind = "department" if i % 2 == 0 else "commune"
        o = {"id": oid, "parent_id": root["id"], "path": f"{root['path']}{oid}/",
             "name": f"{'Sở' if kind == 'department' else 'UBND xã'} Bench {i + 1:03d}", "kind": kind,
             "commune": f"Xã Bench {i + 1:03d}" if kind == "commune" else ""}
        orgs.append(o)
        mids.append(o)
    agencies = []
    for i in range(n_orgs - 1 - n_mid):
        oid = base_id + 1 + n_mid + i
        parent = mids[i % n_mid]
        o = {"id": oid, "parent_id": parent["id"], "path": f"{parent['path']}{oid}/",
             "name": f"Cơ quan Bench {i + 1:04d}", "kind": "agency",
             "commune": parent["commune"] or f"Phường Bench {i % 40 + 1:02d}"}
        orgs.append(o)
        agencies.append(o)
    systems, scans = [], []
    sid = base_id
    for a in agencies:
        for k in range(1 + (a["id"] % 3)):
            sid += 1
            systems.append({"id": sid, "org_id": a["id"], "name": f"Hệ thống camera {k + 1}",
                            "ranges": [f"10.{sid // 256 % 256}.{sid % 256}.0/24"],
                            "authorisation_doc": f"QĐ {sid}/QĐ-UBND", "cameras": 100, "purpose": "", "site": "",
                            "owner_unit": ""})
    for s in systems:
        judged = None
        for age in (rng.randint(1, 80), rng.randint(90, 200)):
            finished = now - dt.timedelta(days=age, minutes=rng.randint(0, 600))
            scans.append({"id": str(uuid.UUID(int=rng.getrandbits(128))), "org_id": s["org_id"], "system_id": s["id"],
                          "status": "finished", "operator": "bench", "targets": s["ranges"], "options": {},
                          "started_at": finished - dt.timedelta(minutes=20), "finished_at": finished,
                          "hosts_total": 256, "hosts_done": 256, "hosts_up": 100, "request_key": None,
                          "requested_by": "bench", "applied": True})
            judged = judged or scans[-1]["id"]
        # the judgement of the newest scan against the regulation in force (store/conformity.py)
        passed, considered = rng.randint(4, 28), 30
        s.update(compliance_scan_id=judged, compliance_passed=passed, compliance_considered=considered,
                 compliance={"catalogue": "qcvn11-2026-bca", "code": "QCVN 11:2026/BCA", "passed": passed,
                             "considered": considered, "pct": round(100 * passed / considered, 1),
                             "counts": {"pass": passed, "fail": 2, "attestation": considered - passed - 2},
                             "scan_id": judged})
    devices = []
    for i in range(n_devices):
        s = systems[i % len(systems)]
        vendor, models, firmwares = VENDORS[rng.randrange(len(VENDORS))]
        seen = now - dt.timedelta(days=rng.randint(0, 60))
        devices.append({"id": 1 + i, "org_id": s["org_id"], "system_id": s["id"], "key": f"addr:10.0.{i // 250}.{i % 250}",
                        "address": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", "vendor": vendor,
                        "model": rng.choice(models), "firmware": rng.choice(firmwares), "kind": "camera",
                        "confidence": 0.9, "first_seen": seen - dt.timedelta(days=100), "last_seen": seen})
    statuses = [s for s, w in STATUS_MIX for _ in range(w)]
    per_device = max(1, n_findings // n_devices)
    combos = list({(c, svc): (c, sev, svc) for c, sev in reversed(CHECKS) for svc in SERVICES}.values())
    days = [dt.timedelta(days=i) for i in range(200)]
    later = now + dt.timedelta(days=60)
    grace = {"critical": days[7], "high": days[30], "medium": days[90], "low": days[90]}

    def findings() -> Iterable[dict[str, Any]]:
        """Streamed: a million dictionaries at once would not fit a small machine."""
        frng = random.Random(seed + 1)
        fid = 0
        for d in devices:
            for c, sev, svc in frng.sample(combos, per_device):
                fid += 1
                if fid > n_findings:
                    return
                first = d["first_seen"] + days[frng.randint(0, 30)]
                status = statuses[frng.randrange(len(statuses))]
                yield {"id": fid, "org_id": d["org_id"], "system_id": d["system_id"], "device_id": d["id"],
                       "check_id": c, "service": svc, "address": d["address"], "severity": sev,
                       "status": status, "evidence": {}, "first_seen": first, "last_seen": d["last_seen"],
                       "first_scan_id": "", "last_scan_id": "", "reopened_count": int(status == "reopened"),
                       "due_at": first + grace[sev], "accepted_until": later if status == "accepted" else None,
                       "reason": "bench" if status in ("accepted", "false_positive") else "",
                       "decided_by": "", "fixed_at": d["last_seen"] if status == "fixed" else None}

    return {"organisations": orgs, "camera_systems": systems, "scans": scans, "devices": devices,
            "tracked_findings": findings, "n_findings": min(n_findings, per_device * n_devices),
            "agencies": agencies, "root": root}


def bulk_load(platform: Any, data: dict[str, Any]) -> dict[str, float]:
    """Insert every row (COPY on PostgreSQL, executemany on SQLite); the time per table."""
    from camaudit.store.models import Base

    times = {}
    is_pg = platform.engine.dialect.name == "postgresql"
    for name in ("organisations", "camera_systems", "scans", "devices", "tracked_findings"):
        table = Base.metadata.tables[name]
        rows = data[name]() if callable(data[name]) else data[name]
        t0 = time.perf_counter()
        cols = [c.name for c in table.columns]
        full = (_complete(table, r) for r in rows)
        with platform.engine.begin() as conn:
            if is_pg:
                raw = conn.connection.driver_connection
                with raw.cursor() as cur, cur.copy(f"COPY {name} ({', '.join(cols)}) FROM STDIN") as cp:
                    for r in full:
                        cp.write_row([json.dumps(r[c], ensure_ascii=False) if isinstance(r[c], (dict, list))
                                      else r[c] for c in cols])
            else:
                for chunk in _chunks(full, 20_000):
                    conn.execute(table.insert(), chunk)
        times[name] = time.perf_counter() - t0
    # the open-findings summary of each device, as the write path (lifecycle) keeps it
    from sqlalchemy.orm import Session

    from camaudit.store.lifecycle import refresh_devices

    t0 = time.perf_counter()
    with Session(platform.engine) as session:
        refresh_devices(session, None)
        session.commit()
    times["device summaries"] = time.perf_counter() - t0
    with platform.engine.begin() as conn:
        if is_pg:  # sequences past the explicit ids; fresh statistics for the planner
            for name in ("organisations", "camera_systems", "devices", "tracked_findings"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"))
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
    return times


def _complete(table: Any, row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for c in table.columns:
        if c.name in row:
            out[c.name] = row[c.name]
        elif c.default is not None and c.default.is_scalar:
            out[c.name] = c.default.arg
        elif c.default is not None and c.default.is_callable:
            out[c.name] = c.default.arg(None)
        else:
            out[c.name] = None
    return out


def _chunks(rows: Iterable[Any], n: int) -> Iterable[list[Any]]:
    chunk: list[Any] = []
    for r in rows:
        chunk.append(r)
        if len(chunk) >= n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- measuring -------------------------------------------------------------------------------------

PASSWORD = "bench-Passw0rd-" + uuid.uuid4().hex[:8]


def people(platform: Any, data: dict[str, Any]) -> dict[str, str]:
    from camaudit.store.admin import apply

    agency = data["agencies"][0]["name"]
    root = data["root"]["name"]
    users = {"steering": ("steering_officer", root), "agency": ("agency_operator", agency),
             "police": ("police_viewer", root)}
    apply(platform, {"users": [{"username": f"bench-{k}", "password": PASSWORD, "display_name": k,
                                "grants": [{"role": role, "org": org}]} for k, (role, org) in users.items()]},
          actor="bench")
    return {k: f"bench-{k}" for k in users}


def login(client: Any, username: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    r = client.post("/login", data={"username": username, "password": PASSWORD,
                                    "csrf_token": token.group(1) if token else "", "next": "/"},
                    follow_redirects=False)
    if r.status_code not in (302, 303) or "error" in r.headers.get("location", ""):
        raise SystemExit(f"bench: {username} could not log in ({r.status_code} {r.headers.get('location')})")


def api_token(platform: Any, username: str) -> str | None:
    from camaudit.store import users
    from camaudit.store.platform_models import User

    with platform.system("bench") as db:
        uid = db.session.scalar(select(User.id).where(User.username == username))
    who = users.principal(platform, uid)
    try:
        with platform.scoped(who, "org:read") as db:
            made = users.create_token(db, name="bench", scopes=sorted(who.perms), days=1)
    except Exception as exc:  # noqa: BLE001 - the API half is skipped with the reason
        print(f"bench: no API token ({exc}); API calls skipped", file=sys.stderr)
        return None
    return str(made.get("token") or made.get("raw") or "") or None


def timed(client: Any, path: str, repeat: int, headers: dict[str, str] | None = None) -> dict[str, Any]:
    times, status, size = [], None, 0
    for i in range(repeat + 2):
        t0 = time.perf_counter()
        r = client.get(path, headers=headers or {})
        elapsed = (time.perf_counter() - t0) * 1000
        status, size = r.status_code, len(r.content)
        if i >= 2:  # two warm-up calls (templates compiled, caches filled)
            times.append(elapsed)
    times.sort()
    return {"path": path, "status": status, "bytes": size, "n": len(times),
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))], 1),
            "max_ms": round(times[-1], 1)}


def measure(platform: Any, url: str, data: dict[str, Any], repeat: int) -> dict[str, Any]:
    from starlette.testclient import TestClient

    from camaudit.web.app import create_app
    from camaudit.web.settings import Settings

    names = people(platform, data)
    app = create_app(Settings(db_url=url, secure_cookies=False, inproc_worker=False))
    agency = data["agencies"][0]
    system = next(s for s in data["camera_systems"] if s["org_id"] == agency["id"])
    with platform.system("bench", "finding:read") as db:
        from camaudit.store.platform_models import TrackedFinding

        finding = db.session.scalar(select(func.min(TrackedFinding.id)).where(TrackedFinding.org_id == agency["id"]))
        device = db.session.scalar(select(func.min(TrackedFinding.device_id)).where(TrackedFinding.system_id == system["id"]))
    out: dict[str, Any] = {}
    with TestClient(app, base_url="http://127.0.0.1") as steering, TestClient(app, base_url="http://127.0.0.1") as op, \
            TestClient(app, base_url="http://127.0.0.1") as police:
        login(steering, names["steering"])
        login(op, names["agency"])
        login(police, names["police"])
        cases = [
            ("steering overview", steering, "/overview"),
            ("steering overview, filtered", steering, "/overview?q=Bench+00&overdue=1"),
            ("agency page (steering drill-down)", steering, f"/orgs/{agency['id']}"),
            ("agency page (agency operator)", op, f"/orgs/{agency['id']}"),
            ("camera system page", op, f"/systems/{system['id']}"),
            ("finding page", op, f"/findings/{finding}"),
            ("scan delta page", op, f"/systems/{system['id']}/delta"),
            ("schedules page", op, f"/systems/{system['id']}/schedules"),
            ("device page", op, f"/devices/{device}"),
            ("API tokens page", op, "/tokens"),
            ("aggregates by vendor (police)", police, "/stats?by=vendor"),
            ("aggregates by commune (police)", police, "/stats?by=commune"),
        ]
        for label, client, path in cases:
            out[label] = timed(client, path, repeat)
            print(f"  {label:40s} p50 {out[label]['p50_ms']:8.1f} ms  p95 {out[label]['p95_ms']:8.1f} ms"
                  f"  ({out[label]['status']})", flush=True)
        token = api_token(platform, names["steering"])
        if token:
            paths = sorted(app.openapi().get("paths", {}))
            wanted = []
            for p, ops in app.openapi().get("paths", {}).items():
                if "get" not in ops:
                    continue
                filled = (p.replace("{org_id}", str(agency["id"])).replace("{system_id}", str(system["id"]))
                          .replace("{finding_id}", str(finding)))
                if "{" not in filled:
                    wanted.append(filled)
            for p in wanted:
                label = f"API GET {p}"
                out[label] = timed(steering, p, repeat, {"Authorization": f"Bearer {token}"})
                print(f"  {label:40s} p50 {out[label]['p50_ms']:8.1f} ms  p95 {out[label]['p95_ms']:8.1f} ms"
                      f"  ({out[label]['status']})", flush=True)
            if not paths:
                print("bench: the app publishes no API path", file=sys.stderr)
    return out


# -- databases -------------------------------------------------------------------------------------

def _pg_up() -> bool:
    try:
        with create_engine(PG_ADMIN).connect():
            return True
    except Exception:  # noqa: BLE001
        return False


def postgres_url() -> tuple[str | None, str]:
    if not _pg_up() and shutil.which("pg_ctlcluster") and os.path.isdir("/etc/postgresql"):
        for version in os.listdir("/etc/postgresql"):
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                           capture_output=True, timeout=60)
    if not _pg_up():
        return None, "PostgreSQL is not reachable on 127.0.0.1:5432"
    name = f"camaudit_bench_{uuid.uuid4().hex[:8]}"
    with create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT").connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", name


def drop_postgres(name: str) -> None:
    with create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT").connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def run_one(kind: str, args: argparse.Namespace, data: dict[str, Any]) -> dict[str, Any]:
    from camaudit.store.platform import Platform

    tmp = None
    pg_name = None
    if kind == "sqlite":
        tmp = tempfile.mkdtemp(prefix="camaudit-bench-")
        url = f"sqlite:///{tmp}/platform.sqlite"
    else:
        url_or_none, pg_name = postgres_url()
        if url_or_none is None:
            return {"skipped": pg_name}
        url = url_or_none
    print(f"{kind}: loading {len(data['organisations'])} organisations, {len(data['devices'])} devices, "
          f"{data['n_findings']} findings", flush=True)
    platform = Platform(url)
    try:
        t0 = time.perf_counter()
        load = bulk_load(platform, data)
        load_s = time.perf_counter() - t0
        print(f"{kind}: loaded in {load_s:.1f} s; measuring ({args.repeat} calls each)", flush=True)
        return {"load_seconds": round(load_s, 1), "load_by_table": {k: round(v, 1) for k, v in load.items()},
                "calls": measure(platform, url, data, args.repeat)}
    finally:
        platform.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        if pg_name and kind == "postgresql":
            drop_postgres(pg_name)


def report(result: dict[str, Any]) -> str:
    lines = ["# Platform benchmark", "",
             f"{result['when']} · {result['host']} · {result['size']['organisations']} organisations, "
             f"{result['size']['devices']:,} devices, {result['size']['findings']:,} tracked findings · "
             f"{result['repeat']} calls per row after 2 warm-up calls, in-process (Starlette TestClient)", "",
             f"Budget: the steering overview and an agency page under {BUDGET_MS:.0f} ms at p95.", ""]
    for kind, r in result["databases"].items():
        lines += [f"## {kind}", ""]
        if "skipped" in r:
            lines += [f"skipped: {r['skipped']}", ""]
            continue
        lines += [f"bulk load {r['load_seconds']} s ({', '.join(f'{k} {v} s' for k, v in r['load_by_table'].items())})",
                  "", "| call | path | status | p50 ms | p95 ms | max ms | bytes |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for label, c in r["calls"].items():
            flag = " **over budget**" if label in BUDGETED and c["p95_ms"] > BUDGET_MS else ""
            lines.append(f"| {label}{flag} | `{c['path']}` | {c['status']} | {c['p50_ms']} | {c['p95_ms']} | "
                         f"{c['max_ms']} | {c['bytes']:,} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (devices, findings)")
    ap.add_argument("--orgs", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    n_dev, n_find = int(50_000 * args.scale), int(1_000_000 * args.scale)
    t0 = time.perf_counter()
    data = province(args.orgs, n_dev, n_find)
    print(f"synthetic province built in {time.perf_counter() - t0:.1f} s", flush=True)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    result = {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "host": f"{host_platform.node()} ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})",
              "size": {"organisations": len(data["organisations"]), "systems": len(data["camera_systems"]),
                       "devices": len(data["devices"]), "findings": data["n_findings"]},
              "repeat": args.repeat, "budget_ms": BUDGET_MS, "databases": {}}
    for kind in kinds:
        result["databases"][kind] = run_one(kind, args, data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "platform.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md = report(result)
    (out / "platform.md").write_text(md, encoding="utf-8")
    print(md)
    print(f"written: {out / 'platform.json'}, {out / 'platform.md'}")
    over = [(k, label) for k, r in result["databases"].items() for label, c in r.get("calls", {}).items()
            if label in BUDGETED and c["p95_ms"] > BUDGET_MS]
    if over:
        print(f"over the {BUDGET_MS:.0f} ms budget at p95: {over}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
