"""Aggregates for regulators (police, market surveillance): devices by vendor, model,
firmware or commune and how many have open findings.  Counts below 5 are hidden here, in the
service, so every interface is safe; no address, credential or stream URL ever leaves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, literal, select

from camaudit.store.access import InputError, Scoped
from camaudit.store.models import Device
from camaudit.store.orgs import SUMMARY_COLUMNS, refresh_stale
from camaudit.store.platform_models import Organisation

MIN_COUNT = 5
BY = {"vendor": Device.vendor, "model": Device.model, "firmware": Device.firmware, "commune": Organisation.commune}


def aggregate(db: Scoped, by: str, *, org_id: Any = None) -> list[dict[str, Any]]:
    if by not in BY:
        raise InputError(f"aggregate by one of {', '.join(BY)}")
    col = BY[by]
    refresh_stale(db, Device.id.is_not(None))
    open_total = sum(SUMMARY_COLUMNS, start=literal(0))
    stmt = (select(col, func.count(Device.id), func.count(case((open_total > 0, 1))))
            .select_from(Device).join(Organisation, Organisation.id == Device.org_id).group_by(col))
    if org_id is not None:
        org = db.org(org_id)
        stmt = stmt.where(Organisation.path.startswith(org.path, autoescape=True))
    out, hidden = [], 0
    for key, n, bad in db.rows(stmt, "stats:read"):
        if n < MIN_COUNT:
            hidden += n
            continue
        out.append({"key": key or "(unknown)", "devices": n, "failing": bad if bad >= MIN_COUNT or bad == 0 else None,
                    "other": False})
    out.sort(key=lambda r: (-r["devices"], str(r["key"])))
    if hidden:  # the small groups together; their total too when it is itself small
        out.append({"key": None, "devices": hidden if hidden >= MIN_COUNT else None, "failing": None, "other": True})
    return out
