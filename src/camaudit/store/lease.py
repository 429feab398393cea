"""Scan leases on the platform: the store's one lease (``Store.claim_scan`` / ``renew_scan`` /
``release_scan``: scans.lease_owner and lease_expires, the same the command line's ``--resume``
takes), with the platform's conditions added to the claim.  A worker claims a queued (or
abandoned) scan with one conditional UPDATE, keeps the lease alive while it runs, and releases
it.  A worker that dies stops renewing; once the lease expires (at once when the dead process
was on this machine) another worker's claim succeeds and the engine resumes the scan (hosts
already recorded are skipped; UNIQUE(scan_id, address) refuses a host recorded twice)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import aliased

from camaudit.store import audit
from camaudit.store.db import ScanBusy, lease_live
from camaudit.store.models import Scan, utcnow
from camaudit.store.platform import Platform
from camaudit.store.platform_models import Organisation

LEASE = dt.timedelta(seconds=60)
# A waiting scan handed to the broker is not handed again before this: while every worker is busy
# its message waits in the queue, and one more per tick would pile up there.  After it, a message
# a broker lost (restarted without persistence) is replaced.
RESEND = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 5  # claims of one scan before it is left for a person to look at


def _waiting() -> ColumnElement[bool]:
    """Queued or interrupted, or running under a lease (which lease_free then finds expired)."""
    return or_(Scan.status.in_(("queued", "interrupted")),
               and_(Scan.status == "running", Scan.lease_expires.is_not(None)))


def claim(platform: Platform, scan_id: str, worker: str, *, lease: dt.timedelta = LEASE,
          now: dt.datetime | None = None) -> bool:
    """True if this worker now holds the scan.  Refused when another holds a live lease, when
    the scan is finished, or when its organisation already runs its maximum of scans."""
    try:
        claim_or_raise(platform, scan_id, worker, lease=lease, now=now)
    except ScanBusy:
        return False
    return True


def claim_or_raise(platform: Platform, scan_id: str, worker: str, *, lease: dt.timedelta = LEASE,
                   now: dt.datetime | None = None) -> None:
    """``claim``, saying why a refused claim was refused (ScanBusy; NotFound for no such scan)."""
    now = now or utcnow()
    other = aliased(Scan)
    running = (select(func.count()).select_from(other)
               .where(other.org_id == Scan.org_id, other.status == "running", lease_live(now, other),
                      other.id != scan_id).scalar_subquery())
    limit = select(Organisation.max_running_scans).where(Organisation.id == Scan.org_id).scalar_subquery()
    try:
        platform.store.claim_scan(scan_id, worker, lease.total_seconds(), now=now,
                                  only_if=[_waiting(), Scan.attempts < MAX_ATTEMPTS, running < limit],
                                  also={"status": "running", "attempts": Scan.attempts + 1, "dispatched_at": None})
    except ScanBusy as exc:
        raise ScanBusy(_why(platform, scan_id, now) or str(exc)) from None
    with platform.sessions() as s:
        s.info["audit_actor"] = (None, worker)
        org_id = s.scalar(select(Scan.org_id).where(Scan.id == scan_id))
        audit.record(s, "scan.claim", "scans", scan_id, org_id, after={"worker": worker})
        s.commit()


def _why(platform: Platform, scan_id: str, now: dt.datetime) -> str | None:
    """Which of the claim's conditions refused it, in words (None: the store's own message)."""
    with platform.sessions() as s:
        scan = s.get(Scan, scan_id)
        if scan is None:
            return None
        short = scan_id[:8]
        if scan.lease_owner is not None and scan.lease_expires is not None \
                and _aware(scan.lease_expires) >= now:
            return None  # held by a live runner: the store names it
        if scan.status in ("finished", "failed"):
            return f"scan {short} is {scan.status}: there is nothing to resume"
        if scan.attempts >= MAX_ATTEMPTS:
            return (f"scan {short} was started {scan.attempts} times without finishing; it is left for a "
                    "person to look at (request a new scan)")
        org = s.get(Organisation, scan.org_id)
        running = s.scalar(select(func.count()).select_from(Scan).where(
            Scan.org_id == scan.org_id, Scan.status == "running", lease_live(now), Scan.id != scan_id))
        if org is not None and (running or 0) >= org.max_running_scans:
            return (f"scan {short} must wait: its organisation {org.name!r} already runs {running} scan(s), "
                    f"its maximum ({org.max_running_scans}); it runs when one of them ends")
    return None


def _aware(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.timezone.utc) if t.tzinfo is None else t


def renew(platform: Platform, scan_id: str, worker: str, *, lease: dt.timedelta = LEASE) -> bool:
    """False when the lease was lost (expired and taken): the caller must stop.  Not conditional
    on the status: a worker that lost its lease may have marked the scan interrupted on its way
    out; the holder goes on."""
    try:
        platform.store.renew_scan(scan_id, worker, lease.total_seconds())
    except ScanBusy:
        return False
    return True


def release(platform: Platform, scan_id: str, worker: str, *, status: str | None = None, error: str = "") -> None:
    """Give the lease back, with the scan's final status in the same UPDATE (only if ``worker``
    still held it: a worker that lost its lease changes nothing)."""
    values: dict[str, object] = {}
    if status:
        values["status"] = status
        if status in ("finished", "failed"):
            values["finished_at"] = utcnow()
    if error:
        values["error"] = error[:2000]
    released = platform.store.release_scan(scan_id, worker, also=values)
    if released and status in ("finished", "failed"):
        with platform.sessions() as s:
            s.info["audit_actor"] = (None, worker)
            org_id = s.scalar(select(Scan.org_id).where(Scan.id == scan_id))
            audit.record(s, f"scan.{'finish' if status == 'finished' else 'fail'}", "scans", scan_id, org_id,
                         after={"status": status, "error": error[:2000]})
            s.commit()


def claimable(platform: Platform, *, now: dt.datetime | None = None, limit: int = 100) -> list[str]:
    """Platform scans waiting for a worker: queued, or running with an expired lease."""
    now = now or utcnow()
    with platform.sessions() as s:
        return list(s.scalars(select(Scan.id).where(*_claimable(now)).order_by(Scan.started_at).limit(limit)))


def _claimable(now: dt.datetime) -> list[ColumnElement[bool]]:
    return [Scan.request_key.is_not(None), Scan.attempts < MAX_ATTEMPTS, _waiting(),
            or_(Scan.lease_owner.is_(None), Scan.lease_expires < now)]


def ready(platform: Platform, *, now: dt.datetime | None = None, org_id: int | None = None,
          limit: int = 100, resend_after: dt.timedelta | None = None) -> list[str]:
    """The waiting scans a worker could claim now, oldest first: of each organisation, as many
    as it has free slots (``max_running_scans`` minus its scans running under a live lease).  A
    scan refused because its organisation was at its limit is among them once a slot frees.
    With ``resend_after``, a scan handed to a worker less than that long ago still takes its slot
    but is not listed (its message is on its way)."""
    now = now or utcnow()
    recent = None if resend_after is None else now - resend_after
    with platform.sessions() as s:
        rows = s.execute(select(Scan.id, Scan.org_id, Scan.dispatched_at).where(
            *_claimable(now), *([Scan.org_id == org_id] if org_id is not None else []))
            .order_by(Scan.started_at, Scan.id)).all()
        orgs = {o for _, o, _d in rows}
        if not orgs:
            return []
        running = dict(s.execute(select(Scan.org_id, func.count()).where(
            Scan.org_id.in_(orgs), Scan.status == "running", lease_live(now)).group_by(Scan.org_id)).all())
        free = {o: n - running.get(o, 0) for o, n in s.execute(
            select(Organisation.id, Organisation.max_running_scans).where(Organisation.id.in_(orgs))).all()}
    out: list[str] = []
    for sid, org, sent in rows:
        if free.get(org, 0) > 0 and len(out) < limit:
            free[org] -= 1
            if recent is None or sent is None or _aware(sent) < recent:
                out.append(sid)
    return out


def mark_dispatched(platform: Platform, scan_ids: list[str], now: dt.datetime | None = None) -> None:
    """Remember that these scans were handed to a worker (``ready(resend_after=...)`` skips them)."""
    if not scan_ids:
        return
    now = now or utcnow()
    with platform.sessions() as s:  # not a scan a worker claimed meanwhile (its claim cleared the mark)
        s.execute(update(Scan).where(Scan.id.in_(scan_ids), or_(Scan.lease_owner.is_(None), Scan.lease_expires < now))
                  .values(dispatched_at=now).execution_options(synchronize_session=False))
        s.commit()


def unapplied(platform: Platform) -> list[str]:
    """Finished platform scans whose findings lifecycle was not applied (a worker died between)."""
    with platform.sessions() as s:
        return list(s.scalars(select(Scan.id).where(Scan.request_key.is_not(None), Scan.status == "finished",
                                                    Scan.applied.is_(False))))
