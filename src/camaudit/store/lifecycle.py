"""Findings with a life across scans, keyed by (device, check, service).

- a finding seen for the first time is ``open`` with a deadline by severity and by the
  system's security level;
- it becomes ``fixed`` only when a later scan re-ran that check on that device and the check
  did not fire (a scan that did not run the check proves nothing);
- a fixed finding seen again is ``reopened`` (counted) with a new deadline;
- ``accepted`` (until a date, with a reason and who) and ``false_positive`` (with a reason) are
  people's decisions (store/findings.py); an acceptance whose date has passed is open again."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from sqlalchemy import select

from camaudit.store.models import FindingRow, Scan, ScanHost, utcnow
from camaudit.store.platform_models import CameraSystem, TrackedFinding

# Days to fix, by severity (None: no deadline).  A system at security level 3 or above (Decree
# 85/2016: damage to national security or to public order) gets half the time.
DEADLINE_DAYS: dict[str, int | None] = {"critical": 7, "high": 30, "medium": 90, "low": 180, "info": None}
STRICT_LEVEL = 3
OPEN = ("open", "reopened")


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    return t.replace(tzinfo=dt.timezone.utc) if t is not None and t.tzinfo is None else t


def deadline(severity: str, level: int | None, since: dt.datetime) -> dt.datetime | None:
    days = DEADLINE_DAYS.get(severity)
    if days is None:
        return None
    if level is not None and level >= STRICT_LEVEL:
        days = math.ceil(days / 2)
    return since + dt.timedelta(days=days)


def service_of(f: FindingRow) -> str:
    return f"{f.protocol or 'tcp'}:{f.port}" if f.port else ""


def apply_scan(session: Any, scan_id: str) -> dict[str, int]:
    """Fold one finished scan into the tracked findings (caller's transaction; audited as
    ``finding.apply_scan`` by the caller).  Idempotent: a scan already applied changes nothing."""
    scan = session.get(Scan, scan_id)
    if scan is None or scan.applied:
        return {}
    system = session.get(CameraSystem, scan.system_id)
    level = system.security_level if system is not None else None
    now = _aware(scan.finished_at) or utcnow()
    hosts = session.scalars(select(ScanHost).where(ScanHost.scan_id == scan_id, ScanHost.up.is_(True),
                                                   ScanHost.device_id.is_not(None))).all()
    ran: dict[int, set[str]] = {h.device_id: set(h.checks_run) for h in hosts}
    rows = session.scalars(select(FindingRow).where(FindingRow.scan_id == scan_id,
                                                    FindingRow.device_id.is_not(None))).all()
    seen: dict[tuple[int, str, str], FindingRow] = {}
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
    for f in rows:
        k = (f.device_id, f.check_id, service_of(f))
        if k not in seen or order.get(f.severity, 9) < order.get(seen[k].severity, 9):
            seen[k] = f
    counts = {"new": 0, "reopened": 0, "fixed": 0, "still": 0}
    existing = {(t.device_id, t.check_id, t.service): t for t in session.scalars(
        select(TrackedFinding).where(TrackedFinding.device_id.in_(list(ran) or [-1]))).all()}
    for k, f in seen.items():
        t = existing.get(k)
        if t is None:
            t = TrackedFinding(org_id=scan.org_id, system_id=scan.system_id, device_id=k[0], check_id=k[1],
                               service=k[2], address=f.address, severity=f.severity, status="open",
                               evidence=f.evidence, first_seen=now, last_seen=now, first_scan_id=scan.id,
                               last_scan_id=scan.id, reopened_count=0, reason="", decided_by="",
                               due_at=deadline(f.severity, level, now))
            session.add(t)
            counts["new"] += 1
            continue
        t.last_seen, t.last_scan_id, t.address, t.evidence = now, scan.id, f.address, f.evidence
        if t.severity != f.severity:
            t.severity = f.severity
        if t.status == "fixed":
            t.status, t.fixed_at, t.fixed_scan_id = "reopened", None, None
            t.reopened_count += 1
            t.due_at = deadline(f.severity, level, now)
            counts["reopened"] += 1
        elif t.status == "accepted" and (t.accepted_until is None or _aware(t.accepted_until) < now):  # type: ignore[operator]
            t.status = "open"
            counts["still"] += 1
        else:
            counts["still"] += 1
    for k, t in existing.items():
        if k in seen or t.status not in (*OPEN, "accepted"):
            continue
        if t.check_id in ran.get(t.device_id, set()):
            t.status, t.fixed_at, t.fixed_scan_id = "fixed", now, scan.id
            counts["fixed"] += 1
    scan.applied = True
    return counts
