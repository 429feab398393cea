"""Each camera system's standing against the regulation in force, clause by clause, kept on the
system so that overviews add up systems, not devices or findings.

A system is judged on its newest finished scan (the same judgement as its reports: profile
``auto``, i.e. the binding regulation in force on the scan's day, with the attestations its
organisation recorded) when that scan's findings are applied, and judged again when an
attestation changes what a clause needs.  The percentage counts the binding regulation's clauses
only: passed ÷ (all − not applicable); a clause that needs an attestation nobody recorded, or
that could not be tested, is not a pass."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from camaudit.store.attestations import of_org
from camaudit.store.models import Device, Scan, utcnow
from camaudit.store.platform_models import CameraSystem

PROFILE = "auto"  # the binding regulation in force on the scan's day, recommendations beside it


def summary(assessment: dict[str, Any]) -> dict[str, Any]:
    """The binding catalogue's clause counts of one assessment (``assess_document``'s output)."""
    heads = assessment["catalogues"]
    head = next((c for c in heads if c.get("role") == "binding"), heads[0] if heads else None)
    if head is None:
        return {"catalogue": None, "code": None, "counts": {}, "passed": 0, "considered": 0, "pct": None}
    counts: dict[str, int] = {}
    for c in assessment["system"]["clauses"]:
        if c.get("catalogue") == head["id"]:
            counts[c["status"]] = counts.get(c["status"], 0) + 1
    considered = sum(counts.values()) - counts.get("na", 0)
    passed = counts.get("pass", 0)
    return {"catalogue": head["id"], "code": head["code"], "as_of": assessment.get("as_of"), "counts": counts,
            "passed": passed, "considered": considered,
            "pct": round(100.0 * passed / considered, 1) if considered else None}


def judge_scan(session: Any, store: Any, scan_id: str) -> dict[str, Any] | None:
    """Judge the scan's system on this scan (finished, or its findings just applied: the worker
    judges before it marks the scan finished) unless a finished scan of the system started
    later; in the caller's transaction.  Returns the summary stored, or None."""
    from camaudit.compliance.verdicts import assess_document

    scan = session.get(Scan, scan_id)
    if scan is None or scan.system_id is None or not (scan.status == "finished" or scan.applied):
        return None
    system = session.get(CameraSystem, scan.system_id)
    if system is None:
        return None
    newer = session.scalar(select(Scan.id).where(Scan.system_id == system.id, Scan.status == "finished",
                                                 Scan.id != scan.id, Scan.started_at > scan.started_at).limit(1))
    if newer is not None:
        return None
    assessment = assess_document(store.report_document(scan.id), PROFILE, of_org(session, system.org_id),
                                 "en", system=system.name)
    s = summary(assessment)
    system.compliance = {**s, "scan_id": scan.id, "judged_at": utcnow().isoformat(timespec="seconds")}
    system.compliance_passed, system.compliance_considered = s["passed"], s["considered"]
    system.compliance_failed = int(s["counts"].get("fail", 0))
    system.compliance_scan_id = scan.id
    session.flush()
    return s


def rejudge_device(session: Any, store: Any, device_id: int) -> dict[str, Any] | None:
    """After an attestation on a device: judge its system again on the scan it was judged on."""
    device = session.get(Device, device_id)
    if device is None or device.system_id is None:
        return None
    system = session.get(CameraSystem, device.system_id)
    if system is None or not system.compliance_scan_id:
        return None
    return judge_scan(session, store, system.compliance_scan_id)


def judge_missing(platform: Any, limit: int = 20) -> int:
    """Judge systems that have a finished scan but no judgement yet (databases from before
    judgements were kept, or a worker that died between the scan and the judgement); a few per
    call, so the scheduler's tick stays short.  Returns how many were judged."""
    done = 0
    with platform.system("conformity") as db:
        newest = (select(Scan.system_id, Scan.id, Scan.started_at)
                  .where(Scan.status == "finished", Scan.system_id.is_not(None)).subquery())
        rows = db.session.execute(
            select(CameraSystem.id, newest.c.id).join(newest, newest.c.system_id == CameraSystem.id)
            .where(CameraSystem.compliance_scan_id.is_(None)).order_by(CameraSystem.id, newest.c.started_at.desc())
        ).all()
    seen: set[int] = set()
    for system_id, scan_id in rows:
        if system_id in seen or done >= limit:
            continue
        seen.add(system_id)
        with platform.system("conformity") as db, db.action("system.judge"):
            if judge_scan(db.session, platform.store, scan_id) is not None:
                done += 1
    return done
