"""Tracked findings: listed with deadlines and overdue, accepted or marked false positive."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any

from sqlalchemy import select

from camaudit.store.access import InputError, Scoped, in_ids
from camaudit.store.lifecycle import OPEN, _aware
from camaudit.store.models import Device, utcnow
from camaudit.store.platform_models import TrackedFinding

STATUSES = ("open", "reopened", "fixed", "accepted", "false_positive")
MAX_ACCEPT = dt.timedelta(days=3 * 366)


def _iso(t: dt.datetime | None) -> str | None:
    t = _aware(t)
    return t.isoformat(timespec="seconds") if t else None


def as_dict(t: TrackedFinding, d: Device | None, now: dt.datetime) -> dict[str, Any]:
    due = _aware(t.due_at)
    return {"id": t.id, "org_id": t.org_id, "system_id": t.system_id, "device_id": t.device_id,
            "check_id": t.check_id, "service": t.service, "severity": t.severity, "status": t.status,
            "address": t.address, "vendor": d.vendor if d else None, "model": d.model if d else None,
            "port": int(t.service.rsplit(":", 1)[1]) if ":" in t.service else None,
            "protocol": t.service.rsplit(":", 1)[0] if ":" in t.service else None,
            "first_seen": _iso(t.first_seen), "last_seen": _iso(t.last_seen), "due": _iso(due),
            "overdue": bool(due is not None and t.status in OPEN and due < now),
            "accepted_until": _iso(t.accepted_until), "reason": t.reason, "decided_by": t.decided_by,
            "reopened_count": t.reopened_count, "evidence": t.evidence}


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return -1


def list(db: Scoped, *, org_id: Any = None, system_id: Any = None, status: str | None = "open",  # noqa: A001
         overdue: bool = False, limit: int = 200) -> builtins.list[dict[str, Any]]:
    """``status`` "open" means open or reopened; None means every status."""
    stmt = select(TrackedFinding, Device).join(Device, Device.id == TrackedFinding.device_id)
    if org_id is not None:
        org = db.org(org_id)
        from camaudit.store.platform_models import Organisation

        under = db.scalars(select(Organisation.id).where(Organisation.path.startswith(org.path, autoescape=True)))
        stmt = stmt.where(in_ids(TrackedFinding.org_id, under))
    if system_id is not None:
        stmt = stmt.where(TrackedFinding.system_id == _int(system_id))
    if status == "open":
        stmt = stmt.where(TrackedFinding.status.in_(OPEN))
    elif status is not None:
        if status not in STATUSES:
            raise InputError(f"unknown status {status!r}; statuses: {', '.join(STATUSES)}")
        stmt = stmt.where(TrackedFinding.status == status)
    now = utcnow()
    if overdue:
        stmt = stmt.where(TrackedFinding.status.in_(OPEN), TrackedFinding.due_at < now)
    stmt = stmt.order_by(TrackedFinding.due_at, TrackedFinding.id).limit(max(1, min(limit, 5000)))
    return [as_dict(t, d, now) for t, d in db.rows(stmt)]


def get(db: Scoped, finding_id: Any) -> dict[str, Any]:
    t = db.get(TrackedFinding, _int(finding_id))
    return as_dict(t, db.session.get(Device, t.device_id), utcnow())


def _refresh(db: Scoped, device_id: int) -> None:
    from camaudit.store.lifecycle import refresh_devices

    db.session.flush()
    refresh_devices(db.session, [device_id])


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InputError("give a reason")
    if len(reason) > 4000:
        raise InputError("a reason is at most 4000 characters")
    return reason


def accept(db: Scoped, finding_id: Any, *, reason: str, until: dt.date | dt.datetime | str) -> dict[str, Any]:
    """Accept the risk until a date (at most three years), with a reason; recorded with who."""
    t = db.get(TrackedFinding, _int(finding_id), "finding:decide")
    reason = _reason(reason)
    if isinstance(until, str):
        try:
            until = dt.date.fromisoformat(until.strip()[:10])
        except ValueError:
            raise InputError("give the date as YYYY-MM-DD") from None
    if not isinstance(until, dt.datetime):  # the end of that day in Viet Nam
        until = dt.datetime.combine(until, dt.time(23, 59, 59), tzinfo=dt.timezone(dt.timedelta(hours=7)))
    end = _aware(until)
    now = utcnow()
    assert end is not None
    if end <= now or end > now + MAX_ACCEPT:
        raise InputError("the acceptance must end in the future, within three years")
    if t.status not in (*OPEN, "accepted"):
        raise InputError(f"a {t.status.replace('_', ' ')} finding cannot be accepted")
    with db.action("finding.accept"):
        t.status, t.accepted_until, t.reason = "accepted", end, reason
        t.decided_by, t.decided_at = db.who.name, now
        _refresh(db, t.device_id)
    return get(db, t.id)


def false_positive(db: Scoped, finding_id: Any, *, reason: str) -> dict[str, Any]:
    t = db.get(TrackedFinding, _int(finding_id), "finding:decide")
    reason = _reason(reason)
    with db.action("finding.false_positive"):
        t.status, t.reason, t.accepted_until = "false_positive", reason, None
        t.decided_by, t.decided_at = db.who.name, utcnow()
        _refresh(db, t.device_id)
    return get(db, t.id)


def reopen(db: Scoped, finding_id: Any, *, reason: str) -> dict[str, Any]:
    """Undo an acceptance or a false-positive decision."""
    t = db.get(TrackedFinding, _int(finding_id), "finding:decide")
    reason = _reason(reason)
    if t.status not in ("accepted", "false_positive"):
        raise InputError("only an accepted or false-positive finding can be reopened by hand")
    with db.action("finding.reopen"):
        t.status, t.reason, t.accepted_until = "open", reason, None
        t.decided_by, t.decided_at = db.who.name, utcnow()
        _refresh(db, t.device_id)
    return get(db, t.id)
