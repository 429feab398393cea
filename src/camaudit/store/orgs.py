"""Organisations: a tree of any depth kept as materialised paths ("/1/4/9/")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select

from camaudit.store.access import InputError, NotFound, Scoped
from camaudit.store.models import Device, Scan
from camaudit.store.platform_models import CameraSystem, Organisation, TrackedFinding

SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERE = ("critical", "high", "medium")


def compliance_pct(devices: int, failing: int) -> float | None:
    """Share of devices with no open critical, high or medium finding; None without devices."""
    return round(100.0 * (devices - failing) / devices, 1) if devices else None


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
    by severity, overdue.  Grouped queries (one per measure), not one per organisation."""
    from camaudit.store.access import Principal  # noqa: F401  (typing only)
    from camaudit.store.models import utcnow

    root = db.org(root_id)
    under = Organisation.path.startswith(root.path, autoescape=True)
    orgs = db.scalars(select(Organisation).where(under).order_by(Organisation.path))
    if q:
        orgs = [o for o in orgs if q.lower() in o.name.lower()]
    ids = select(Organisation.id).where(under)
    systems = dict(db.rows(select(CameraSystem.org_id, func.count()).where(CameraSystem.org_id.in_(ids))
                           .group_by(CameraSystem.org_id), "system:read"))
    devices = dict(db.rows(select(Device.org_id, func.count()).where(Device.org_id.in_(ids))
                           .group_by(Device.org_id), "system:read"))
    last = dict(db.rows(select(Scan.org_id, func.max(Scan.finished_at))
                        .where(Scan.org_id.in_(ids), Scan.status == "finished").group_by(Scan.org_id), "scan:read"))
    open_ = db.rows(select(TrackedFinding.org_id, TrackedFinding.severity, func.count())
                    .where(TrackedFinding.org_id.in_(ids), TrackedFinding.status.in_(("open", "reopened")))
                    .group_by(TrackedFinding.org_id, TrackedFinding.severity), "finding:read")
    now = utcnow()
    overdue = dict(db.rows(select(TrackedFinding.org_id, func.count())
                           .where(TrackedFinding.org_id.in_(ids), TrackedFinding.status.in_(("open", "reopened")),
                                  and_(TrackedFinding.due_at.is_not(None), TrackedFinding.due_at < now))
                           .group_by(TrackedFinding.org_id), "finding:read"))
    severe = dict(db.rows(select(TrackedFinding.org_id, func.count(func.distinct(TrackedFinding.device_id)))
                          .where(TrackedFinding.org_id.in_(ids), TrackedFinding.status.in_(("open", "reopened")),
                                 TrackedFinding.severity.in_(SEVERE))
                          .group_by(TrackedFinding.org_id), "finding:read"))
    by_sev: dict[int, dict[str, int]] = {}
    for org_id, sev, n in open_:
        by_sev.setdefault(org_id, {s: 0 for s in SEVERITIES})[sev] = n
    out = []
    for o in orgs:
        row = as_dict(o)
        row.update(systems=systems.get(o.id, 0), devices=devices.get(o.id, 0), last_assessment=last.get(o.id),
                   open_by_severity=by_sev.get(o.id, {s: 0 for s in SEVERITIES}), overdue=overdue.get(o.id, 0),
                   compliance_pct=compliance_pct(devices.get(o.id, 0), severe.get(o.id, 0)))
        if only_overdue and not row["overdue"]:
            continue
        out.append(row)
    return out
