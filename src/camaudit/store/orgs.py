"""Organisations: a tree of any depth kept as materialised paths ("/1/4/9/")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select

from camaudit.store.access import InputError, NotFound, Scoped, in_ids
from camaudit.store.models import Device, Scan
from camaudit.store.platform_models import CameraSystem, Organisation

SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERE = ("critical", "high", "medium")


def clean_pct(devices: int, failing: int) -> float | None:
    """Share of devices with no open critical, high or medium finding; None without devices."""
    return round(100.0 * (devices - failing) / devices, 1) if devices else None


def compliance_pct(passed: Any, considered: Any) -> float | None:
    """Clauses of the regulation in force passed ÷ clauses that apply, over the systems' newest
    judgements (store/conformity.py); None when no system was judged."""
    return round(100.0 * int(passed or 0) / int(considered), 1) if considered else None


SUMMARY_COLUMNS = (Device.open_critical, Device.open_high, Device.open_medium, Device.open_low, Device.open_info)


def refresh_stale(db: Scoped, where: Any) -> int:
    """Bring stale device summaries up to date (after a bulk load, or when a deadline passed)
    and commit; the overviews then add up devices, not findings."""
    from camaudit.store.lifecycle import refresh_devices, stale_condition
    from camaudit.store.models import utcnow

    now = utcnow()
    # two index look-ups that find nothing in the common case, before the scoped query (on the
    # connection: they read no row's content, only whether any summary anywhere is due)
    conn = db.session.connection()
    if (conn.scalar(select(Device.id).where(Device.summary_at.is_(None)).limit(1)) is None
            and conn.scalar(select(Device.id).where(Device.next_due_at <= now).limit(1)) is None):
        return 0
    stale = db.scalars(select(Device.id).where(where, stale_condition(now)))
    for i in range(0, len(stale), 5000):
        refresh_devices(db.session, stale[i:i + 5000], now)
    if stale:
        db.session.commit()
    return len(stale)


def as_dict(o: Organisation) -> dict[str, Any]:
    return {"id": o.id, "name": o.name, "kind": o.kind, "parent_id": o.parent_id, "path": o.path,
            "depth": o.path.count("/") - 2, "commune": o.commune,
            "max_running_scans": o.max_running_scans, "max_rate": o.max_rate}


def create(db: Scoped, *, name: str, parent_id: int | None, kind: str = "", commune: str = "",
           max_running_scans: int = 2, max_rate: float = 500.0) -> dict[str, Any]:
    name = (name or "").strip()
    if not name or len(name) > 300:
        raise InputError("an organisation needs a name (at most 300 characters)")
    if max_running_scans < 1 or max_rate <= 0:
        raise InputError("limits must be positive")
    with db.action("org.create"):
        parent = db.org(parent_id) if parent_id is not None else None
        if parent is None and not db.who.everything:
            raise NotFound("no organisation None")
        org = Organisation(name=name, kind=kind.strip()[:60], commune=commune.strip()[:200], parent_id=parent_id,
                           path=f"/tmp-{id(name)}/", max_running_scans=max_running_scans, max_rate=max_rate)
        db.session.add(org)
        db.session.flush()
        org.path = f"{parent.path if parent else '/'}{org.id}/"
        db.ensure_in_scope(org)
    return as_dict(org)


def get(db: Scoped, org_id: Any) -> dict[str, Any]:
    return as_dict(db.org(org_id))


def children(db: Scoped, org_id: Any) -> list[dict[str, Any]]:
    db.org(org_id)
    rows = db.scalars(select(Organisation).where(Organisation.parent_id == int(org_id)).order_by(Organisation.name))
    return [as_dict(o) for o in rows]


def subtree(db: Scoped, root: Any) -> list[dict[str, Any]]:
    org = db.org(root)
    rows = db.scalars(select(Organisation).where(Organisation.path.startswith(org.path, autoescape=True))
                      .order_by(Organisation.path))
    return [as_dict(o) for o in rows]


def visible(db: Scoped) -> list[dict[str, Any]]:
    """Every organisation the caller may see (the tops of its grants and their subtrees)."""
    return [as_dict(o) for o in db.scalars(select(Organisation).order_by(Organisation.path))]


def overview(db: Scoped, root_id: Any, *, q: str | None = None, only_overdue: bool = False) -> list[dict[str, Any]]:
    """One row per organisation of the subtree: systems, devices, last assessment, open findings
    by severity, overdue, compliance.  Three grouped queries over organisations, systems, scans
    and the devices' finding summaries; never one query per organisation, never a pass over
    every finding."""
    root = db.org(root_id)
    under = Organisation.path.startswith(root.path, autoescape=True)
    orgs = db.scalars(select(Organisation).where(under).order_by(Organisation.path))
    ids = [o.id for o in orgs]
    if q:
        orgs = [o for o in orgs if q.lower() in o.name.lower()]
    by_system = {r[0]: r[1:] for r in db.rows(
        select(CameraSystem.org_id, func.count(), func.sum(CameraSystem.compliance_passed),
               func.sum(CameraSystem.compliance_considered), func.count(CameraSystem.compliance_scan_id),
               func.sum(CameraSystem.compliance_failed))
        .where(in_ids(CameraSystem.org_id, ids)).group_by(CameraSystem.org_id), "system:read")}
    last = dict(db.rows(select(Scan.org_id, func.max(Scan.finished_at))
                        .where(in_ids(Scan.org_id, ids), Scan.status == "finished").group_by(Scan.org_id), "scan:read"))
    refresh_stale(db, in_ids(Device.org_id, ids))
    summary = {r[0]: r[1:] for r in db.rows(
        select(Device.org_id, func.count(), *(func.sum(c) for c in SUMMARY_COLUMNS), func.sum(Device.overdue),
               func.count(case((Device.open_critical + Device.open_high + Device.open_medium > 0, 1))))
        .where(in_ids(Device.org_id, ids)).group_by(Device.org_id), "finding:read")}
    devices = {k: v[0] for k, v in summary.items()}
    overdue = {k: int(v[6] or 0) for k, v in summary.items()}
    severe = {k: int(v[7] or 0) for k, v in summary.items()}
    by_sev = {k: {sev: int(n or 0) for sev, n in zip(SEVERITIES, v[1:6])} for k, v in summary.items()}
    out = []
    for o in orgs:
        n_sys, passed, considered, judged, failed = by_system.get(o.id, (0, 0, 0, 0, 0))
        row = as_dict(o)
        row.update(systems=n_sys, devices=devices.get(o.id, 0), last_assessment=last.get(o.id),
                   open_by_severity=by_sev.get(o.id, {s: 0 for s in SEVERITIES}), overdue=overdue.get(o.id, 0),
                   clean_pct=clean_pct(devices.get(o.id, 0), severe.get(o.id, 0)),
                   compliance_pct=compliance_pct(passed, considered), clauses_passed=int(passed or 0),
                   clauses_considered=int(considered or 0), systems_judged=int(judged or 0),
                   clauses_failed=int(failed or 0))
        if only_overdue and not row["overdue"]:
            continue
        out.append(row)
    return out
