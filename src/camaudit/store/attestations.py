"""Attestations recorded through the platform (the file's hash and size, not the file)."""

from __future__ import annotations

from typing import Any

from camaudit.store.access import InputError, Scoped
from camaudit.store.models import AttestationRow, Device

VERDICTS = ("pass", "fail", "na")


def add(db: Scoped, device_id: Any, *, clause: str, verdict: str, note: str, evidence_name: str,
        evidence_sha256: str, evidence_size: int, store: Any = None) -> dict[str, Any]:
    """Record an attestation; with the platform's ``store``, the device's system is judged again
    in the same transaction (its compliance on the overviews follows at once)."""
    try:
        did = int(device_id)
    except (TypeError, ValueError):
        did = -1
    device = db.get(Device, did)
    if verdict not in VERDICTS:
        raise InputError(f"a verdict is one of {', '.join(VERDICTS)}")
    clause = clause.strip()
    if not clause:
        raise InputError("name the clause")
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
