"""Recurring scans: iCalendar recurrence rules (RFC 5545 RRULE, via dateutil) evaluated in
Asia/Ho_Chi_Minh, e.g. "FREQ=MONTHLY;INTERVAL=3" (every quarter) or "FREQ=MONTHLY;BYDAY=1MO"
(first Monday of the month).  ``enqueue_due`` queues each due occurrence once (request key
schedule:<id>:<time>), so beat, the in-process loop, or both at once cannot double a scan."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from sqlalchemy import select

from camaudit.store import scans
from camaudit.store.access import InputError, Principal, Scoped
from camaudit.store.models import utcnow
from camaudit.store.platform import Platform
from camaudit.store.platform_models import CameraSystem, Schedule

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
MIN_INTERVAL = dt.timedelta(hours=1)


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    return t.replace(tzinfo=dt.timezone.utc) if t is not None and t.tzinfo is None else t


def _rule(text: str, dtstart: dt.datetime) -> Any:
    text = (text or "").strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text or len(text) > 500 or "\n" in text or ":" in text:
        raise InputError("give one recurrence rule, e.g. FREQ=MONTHLY;BYDAY=1MO")
    try:
        return rrulestr(text, dtstart=dtstart.astimezone(TZ).replace(tzinfo=None), forceset=False)
    except (ValueError, TypeError) as exc:
        raise InputError(f"not a recurrence rule: {exc}") from None


def next_after(text: str, dtstart: dt.datetime, after: dt.datetime) -> dt.datetime | None:
    """The next occurrence strictly after ``after`` (rules are evaluated in local time)."""
    rule = _rule(text, dtstart)
    nxt = rule.after(after.astimezone(TZ).replace(tzinfo=None), inc=False)
    return nxt.replace(tzinfo=TZ).astimezone(dt.timezone.utc) if nxt is not None else None


def as_dict(s: Schedule) -> dict[str, Any]:
    nxt = _aware(s.next_run_at)
    return {"id": s.id, "org_id": s.org_id, "system_id": s.system_id, "rrule": s.rrule,
            "dtstart": _aware(s.dtstart).isoformat(), "enabled": s.enabled,  # type: ignore[union-attr]
            "next_run_at": nxt.isoformat() if nxt else None,
            "next_run_local": nxt.astimezone(TZ).isoformat() if nxt else None, "options": s.options,
            "created_by": s.created_by}


def create(db: Scoped, system_id: Any, *, rrule: str, dtstart: dt.datetime | None = None,
           options: dict[str, Any] | None = None) -> dict[str, Any]:
    system = db.get(CameraSystem, _int(system_id), "scan:run")
    start = _aware(dtstart) or utcnow().replace(microsecond=0)
    rule = _rule(rrule, start)
    first_two = [o for _, o in zip(range(2), rule)]
    if len(first_two) == 2 and first_two[1] - first_two[0] < MIN_INTERVAL:
        raise InputError("scans may recur at most once an hour")
    opts = scans.check_options(options)
    nxt = next_after(rrule, start, utcnow() - dt.timedelta(seconds=1))
    with db.action("schedule.create"):
        s = Schedule(org_id=system.org_id, system_id=system.id, rrule=rrule.strip().removeprefix("RRULE:"),
                     dtstart=start, next_run_at=nxt, options=opts, created_by=db.who.name)
        db.session.add(s)
        db.ensure_in_scope(s, "scan:run")
    return as_dict(s)


def list(db: Scoped, system_id: Any) -> builtins.list[dict[str, Any]]:  # noqa: A001
    db.get(CameraSystem, _int(system_id))
    return [as_dict(s) for s in db.scalars(select(Schedule).where(Schedule.system_id == _int(system_id))
                                           .order_by(Schedule.id))]


def get(db: Scoped, schedule_id: Any) -> dict[str, Any]:
    return as_dict(db.get(Schedule, _int(schedule_id)))


def upcoming(text: str, dtstart: dt.datetime | str, n: int = 3, after: dt.datetime | None = None
             ) -> builtins.list[dt.datetime]:
    """The next ``n`` occurrences of a rule after ``after`` (default now), in Asia/Ho_Chi_Minh."""
    start = dt.datetime.fromisoformat(dtstart) if isinstance(dtstart, str) else dtstart
    start = _aware(start) or utcnow()
    t = after or utcnow()
    out: builtins.list[dt.datetime] = []
    while len(out) < n and (nxt := next_after(text, start, t)) is not None:
        out.append(nxt.astimezone(TZ))
        t = nxt
    return out


def delete(db: Scoped, schedule_id: Any) -> None:
    s = db.get(Schedule, _int(schedule_id), "scan:run")
    with db.action("schedule.delete"):
        db.session.delete(s)


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return -1


def enqueue_due(platform: Platform, now: dt.datetime | None = None) -> builtins.list[str]:
    """Queue a scan for every schedule whose next run is due; returns the new scan ids."""
    now = now or utcnow()
    queued: builtins.list[str] = []
    with platform.system("scheduler", "scan:run") as db:
        due = db.scalars(select(Schedule).where(Schedule.enabled.is_(True), Schedule.next_run_at.is_not(None),
                                                Schedule.next_run_at <= now))
        plan = [(s.id, s.system_id, _aware(s.next_run_at), dict(s.options), s.rrule, _aware(s.dtstart),
                 s.created_by) for s in due]
    for sid, system_id, at, opts, rule, start, by in plan:
        assert at is not None and start is not None
        who = Principal.system(f"schedule {sid} ({by})")
        with platform.scoped(who, "scan:run") as db:
            try:
                r = scans.request(db, system_id, request_key=f"schedule:{sid}:{at.isoformat()}", options=opts)
                if r["created"]:
                    queued.append(r["id"])
            except (InputError, PermissionError) as exc:  # the system's ranges changed: skip, say why
                r = {"error": str(exc)}
            s = db.session.get(Schedule, sid)
            if s is not None:
                with db.action("schedule.enqueue"):
                    s.last_run_at = at
                    s.next_run_at = next_after(rule, start, max(now, at))
    return queued
