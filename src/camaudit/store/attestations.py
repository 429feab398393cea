"""Attestations recorded through the platform (the file's hash and size, not the file)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select

from camaudit.compliance.verdicts import VIETNAM, Attestation
from camaudit.store.access import InputError, Scoped
from camaudit.store.models import AttestationRow, Device

VERDICTS = ("pass", "fail", "na")


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return -1


def clause_groups(days: Iterable[dt.date], lang: str = "en") -> list[dict[str, Any]]:
    """The clauses an attestation may speak to: those the network cannot decide alone (judged
    by attestation, or mixed), in the catalogues judged against on the given days (profile
    ``auto``: the binding regulation in force then, and the recommendations beside it)."""
    from camaudit.compliance.verdicts import resolve_profile

    groups: dict[str, dict[str, Any]] = {}
    for day in days:
        for cat, role in resolve_profile("auto", day):
            if cat.catalogue in groups:
                continue
            items = [{"id": c.id, "title": getattr(c.title, lang)} for c in cat.clauses
                     if c.judged_by.value in ("attestation", "mixed")]
            if items:
                groups[cat.catalogue] = {"code": cat.document.code, "role": role, "clauses": items}
    return list(groups.values())


def device_days(last_seen: dt.datetime | str | None) -> list[dt.date]:
    """Today and the day the device was last seen (its last scan was judged on that day)."""
    days = [dt.datetime.now(VIETNAM).date()]
    if isinstance(last_seen, str):
        try:
            last_seen = dt.datetime.fromisoformat(last_seen)
        except ValueError:
            last_seen = None
    if isinstance(last_seen, dt.datetime):
        seen = last_seen if last_seen.tzinfo else last_seen.replace(tzinfo=dt.timezone.utc)
        days.append(seen.astimezone(VIETNAM).date())
    return days


def add(db: Scoped, device_id: Any, *, clause: str, verdict: str, note: str, evidence_name: str,
        evidence_sha256: str, evidence_size: int, store: Any = None) -> dict[str, Any]:
    """Record an attestation; with the platform's ``store``, the device's system is judged again
    in the same transaction (its compliance on the overviews follows at once)."""
    device = db.get(Device, _int(device_id))
    if verdict not in VERDICTS:
        raise InputError(f"a verdict is one of {', '.join(VERDICTS)}")
    clause = clause.strip()
    if not clause:
        raise InputError("name the clause")
    offered = {c["id"] for g in clause_groups(device_days(device.last_seen)) for c in g["clauses"]}
    if clause not in offered:
        raise InputError(f"{clause[:80]!r} is not a clause an attestation settles in the regulations this device "
                         f"is judged against; clauses: {', '.join(sorted(offered))}")
    from camaudit.store import audit

    with db.action("attestation.add"):
        row = AttestationRow(org_id=device.org_id, subject=device.key, clause=clause, verdict=verdict,
                             by=db.who.name, evidence_name=evidence_name[:500], evidence_sha256=evidence_sha256,
                             evidence_size=evidence_size, note=note)
        db.session.add(row)
        db.session.flush()
        audit.record(db.session, "attestation.add", "attestations", row.id, device.org_id,
                     after={"device_id": device.id, "clause": clause, "verdict": verdict,
                            "evidence_sha256": evidence_sha256, "evidence_size": evidence_size})
        if store is not None:
            from camaudit.store.conformity import rejudge_device

            rejudge_device(db.session, store, device.id)
    return {"id": row.id, "device_id": device.id, "clause": clause, "verdict": verdict,
            "evidence_sha256": evidence_sha256, "evidence_size": evidence_size}


def _as_dict(r: AttestationRow) -> dict[str, Any]:
    at = r.at if r.at is None or r.at.tzinfo else r.at.replace(tzinfo=dt.timezone.utc)
    return {"id": r.id, "subject": r.subject, "clause": r.clause, "verdict": r.verdict, "by": r.by,
            "at": at.isoformat(timespec="seconds") if at else None, "evidence_name": r.evidence_name,
            "evidence_sha256": r.evidence_sha256, "evidence_size": r.evidence_size, "note": r.note}


def list_for_device(db: Scoped, device_id: Any) -> list[dict[str, Any]]:
    """The attestations recorded on a device in scope, newest first."""
    device = db.get(Device, _int(device_id))
    rows = db.scalars(select(AttestationRow).where(AttestationRow.subject == device.key)
                      .order_by(AttestationRow.at.desc(), AttestationRow.id.desc()))
    return [_as_dict(r) for r in rows]


def _attestation(r: AttestationRow) -> Attestation:
    return Attestation(subject=r.subject, clause=r.clause, verdict=r.verdict, by=r.by, at=_as_dict(r)["at"] or "",
                       evidence_name=r.evidence_name, evidence_sha256=r.evidence_sha256, note=r.note)


def of_org(session: Any, org_id: int) -> list[Attestation]:
    """Every attestation one organisation recorded, oldest first (a later one for the same
    clause wins in ``assess_document``); for the system's own judgements (store/conformity.py).
    Device keys are unique per system, not across organisations: attestations are always taken
    from the organisation that owns the devices."""
    rows = session.scalars(select(AttestationRow).where(AttestationRow.org_id == org_id)
                           .order_by(AttestationRow.at, AttestationRow.id)).all()
    return [_attestation(r) for r in rows]


def for_subjects(db: Scoped, subjects: Iterable[str], org_id: Any = None) -> list[Attestation]:
    """The attestations in scope on these device keys (of the organisation ``org_id``, when
    given: two agencies' devices may share a key such as "addr:10.0.0.5"), oldest first (a later
    one for the same clause wins in ``assess_document``), as the compliance layer takes them."""
    keys = sorted({s for s in subjects if s})
    out: list[Attestation] = []
    for i in range(0, len(keys), 500):
        stmt = select(AttestationRow).where(AttestationRow.subject.in_(keys[i:i + 500]))
        if org_id is not None:
            stmt = stmt.where(AttestationRow.org_id == int(org_id))
        out += [_attestation(r) for r in db.scalars(stmt.order_by(AttestationRow.at, AttestationRow.id))]
    out.sort(key=lambda a: a.at)
    return out


def fingerprint(db: Scoped, org_id: Any) -> tuple[int, int]:
    """(count, highest id) of the attestations in scope of one organisation: changes whenever one
    is added, so a cached assessment keyed on it is never stale (in any process)."""
    row = db.rows(select(func.count(AttestationRow.id), func.max(AttestationRow.id))
                  .where(AttestationRow.org_id == _int(org_id)))
    n, top = row[0] if row else (0, None)
    return int(n or 0), int(top or 0)
