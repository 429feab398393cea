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
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, func, select, update

from camaudit.store.models import Device, FindingRow, Scan, ScanHost, utcnow
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
    session.flush()
    refresh_devices(session, sorted(set(ran) | {k[0] for k in seen}))
    return counts


SUMMARY = {"critical": "open_critical", "high": "open_high", "medium": "open_medium", "low": "open_low",
           "info": "open_info"}


def refresh_devices(session: Any, device_ids: list[int] | None, now: dt.datetime | None = None) -> int:
    """Recompute the open-findings summary of these devices (None: every device) from the
    tracked findings, in the caller's transaction.  Returns the number of devices refreshed."""
    now = now or utcnow()
    stmt = (select(TrackedFinding.device_id, TrackedFinding.severity, func.count(),
                   func.sum(case((TrackedFinding.due_at < now, 1), else_=0)),
                   func.min(case((TrackedFinding.due_at >= now, TrackedFinding.due_at), else_=None)))
            .where(TrackedFinding.status.in_(OPEN)).group_by(TrackedFinding.device_id, TrackedFinding.severity))
    if device_ids is not None:
        if not device_ids:
            return 0
        stmt = stmt.where(TrackedFinding.device_id.in_(device_ids))
    rows: dict[int, dict[str, Any]] = {}
    for device_id, severity, n, late, nxt in session.execute(stmt).all():
        r = rows.setdefault(device_id, {c: 0 for c in SUMMARY.values()} | {"overdue": 0, "next_due_at": None})
        if severity in SUMMARY:
            r[SUMMARY[severity]] += n
        r["overdue"] += int(late or 0)
        nxt = _aware(nxt) if isinstance(nxt, dt.datetime) else (
            dt.datetime.fromisoformat(nxt) if isinstance(nxt, str) else None)
        if nxt is not None and (r["next_due_at"] is None or nxt < r["next_due_at"]):
            r["next_due_at"] = _aware(nxt)
    zero = {c: 0 for c in SUMMARY.values()} | {"overdue": 0, "next_due_at": None, "summary_at": now}
    reset = update(Device).values(**zero).execution_options(synchronize_session=False)
    if device_ids is not None:
        reset = reset.where(Device.id.in_(device_ids))
    session.execute(reset)
    if rows:
        table = cast(Table, Device.__table__)
        session.connection().execute(
            update(table).where(table.c.id == bindparam("b_id"))
            .values({k: bindparam(f"b_{k}") for k in (*SUMMARY.values(), "overdue", "next_due_at", "summary_at")}),
            [{"b_id": i, **{f"b_{k}": v for k, v in r.items()}, "b_summary_at": now} for i, r in rows.items()])
    return len(rows) if device_ids is None else len(device_ids)


def stale_condition(now: dt.datetime) -> Any:
    return (Device.summary_at.is_(None)) | (Device.next_due_at.is_not(None) & (Device.next_due_at <= now))
