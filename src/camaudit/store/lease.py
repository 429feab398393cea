"""Scan leases: a worker claims a queued (or abandoned) scan with one conditional UPDATE, keeps
the lease alive while it runs, and releases it.  A worker that dies stops renewing; once the
lease expires another worker's claim succeeds and the engine resumes the scan (hosts already
recorded are skipped; UNIQUE(scan_id, address) refuses a host recorded twice)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import aliased

from camaudit.store import audit
from camaudit.store.models import Scan, utcnow
from camaudit.store.platform import Platform
from camaudit.store.platform_models import Organisation

LEASE = dt.timedelta(seconds=60)
MAX_ATTEMPTS = 5  # claims of one scan before it is left for a person to look at


def claim(platform: Platform, scan_id: str, worker: str, *, lease: dt.timedelta = LEASE,
          now: dt.datetime | None = None) -> bool:
    """True if this worker now holds the scan.  Refused when another holds a live lease, when
    the scan is finished, or when its organisation already runs its maximum of scans."""
    now = now or utcnow()
    other = aliased(Scan)
    running = (select(func.count()).select_from(other)
               .where(other.org_id == Scan.org_id, other.status == "running", other.lease_until >= now,
                      other.id != scan_id).scalar_subquery())
    limit = select(Organisation.max_running_scans).where(Organisation.id == Scan.org_id).scalar_subquery()
    stmt = (update(Scan)
            .where(Scan.id == scan_id,
                   or_(Scan.status.in_(("queued", "interrupted")),
                       and_(Scan.status == "running", Scan.lease_until.is_not(None))),
                   or_(Scan.lease_until.is_(None), Scan.lease_until < now),  # nobody holds a live lease
                   Scan.attempts < MAX_ATTEMPTS, running < limit)
            .values(status="running", lease_owner=worker, lease_until=now + lease, attempts=Scan.attempts + 1)
            .execution_options(synchronize_session=False))
    with platform.sessions() as s:
        if s.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
            s.rollback()
            return False
        s.info["audit_actor"] = (None, worker)
        org_id = s.scalar(select(Scan.org_id).where(Scan.id == scan_id))
        audit.record(s, "scan.claim", "scans", scan_id, org_id, after={"worker": worker})
        s.commit()
    return True


def renew(platform: Platform, scan_id: str, worker: str, *, lease: dt.timedelta = LEASE) -> bool:
    """False when the lease was lost (expired and taken): the caller must stop."""
    with platform.sessions() as s:
        # not conditional on the status: a worker that lost its lease may have marked the scan
        # interrupted on its way out; the holder goes on
        n = s.execute(update(Scan).where(Scan.id == scan_id, Scan.lease_owner == worker)
                      .values(lease_until=utcnow() + lease).execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        s.commit()
    return bool(n == 1)


def release(platform: Platform, scan_id: str, worker: str, *, status: str | None = None, error: str = "") -> None:
    values: dict[str, object] = {"lease_owner": None, "lease_until": None}
    if status:
        values["status"] = status
        if status in ("finished", "failed"):
            values["finished_at"] = utcnow()
    if error:
        values["error"] = error[:2000]
    with platform.sessions() as s:
        n = s.execute(update(Scan).where(Scan.id == scan_id, Scan.lease_owner == worker).values(**values)
                      .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        if n and status in ("finished", "failed"):
            s.info["audit_actor"] = (None, worker)
            org_id = s.scalar(select(Scan.org_id).where(Scan.id == scan_id))
            audit.record(s, f"scan.{'finish' if status == 'finished' else 'fail'}", "scans", scan_id, org_id,
                         after={"status": status, "error": error[:2000]})
        s.commit()


def claimable(platform: Platform, *, now: dt.datetime | None = None, limit: int = 100) -> list[str]:
    """Platform scans waiting for a worker: queued, or running with an expired lease."""
    now = now or utcnow()
    with platform.sessions() as s:
        return list(s.scalars(select(Scan.id).where(
            Scan.request_key.is_not(None), Scan.attempts < MAX_ATTEMPTS,
            or_(Scan.status.in_(("queued", "interrupted")),
                and_(Scan.status == "running", Scan.lease_until.is_not(None))),
            or_(Scan.lease_until.is_(None), Scan.lease_until < now))
            .order_by(Scan.started_at).limit(limit)))


def unapplied(platform: Platform) -> list[str]:
    """Finished platform scans whose findings lifecycle was not applied (a worker died between)."""
    with platform.sessions() as s:
        return list(s.scalars(select(Scan.id).where(Scan.request_key.is_not(None), Scan.status == "finished",
                                                    Scan.applied.is_(False))))
