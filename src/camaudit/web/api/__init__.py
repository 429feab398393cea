"""The REST API, /api/v1: everything the pages do, as JSON, described by the OpenAPI document.
Authenticate with ``Authorization: Bearer <token>`` (``POST /api/v1/tokens`` or
``camaudit admin token``); a session cookie is accepted only on GET."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, UploadFile
from fastapi import Form as F
from pydantic import BaseModel, Field

from camaudit.store import attestations, findings, orgs, scans, schedules, stats, systems, users
from camaudit.store.access import ROLE_PERMS, Scoped
from camaudit.store.audit import verify
from camaudit.web.deps import platform, scoped_for

router = APIRouter(prefix="/api/v1", tags=["api"])


# One alias per permission: `db: Db_system_read` = a Scoped handle for that permission.
Db_attestation_write = Annotated[Scoped, Depends(scoped_for("attestation:write"))]
Db_audit_read = Annotated[Scoped, Depends(scoped_for("audit:read"))]
Db_finding_decide = Annotated[Scoped, Depends(scoped_for("finding:decide"))]
Db_finding_read = Annotated[Scoped, Depends(scoped_for("finding:read"))]
Db_org_read = Annotated[Scoped, Depends(scoped_for("org:read"))]
Db_org_write = Annotated[Scoped, Depends(scoped_for("org:write"))]
Db_scan_read = Annotated[Scoped, Depends(scoped_for("scan:read"))]
Db_scan_run = Annotated[Scoped, Depends(scoped_for("scan:run"))]
Db_stats_read = Annotated[Scoped, Depends(scoped_for("stats:read"))]
Db_system_read = Annotated[Scoped, Depends(scoped_for("system:read"))]
Db_system_write = Annotated[Scoped, Depends(scoped_for("system:write"))]
Db_user_admin = Annotated[Scoped, Depends(scoped_for("user:admin"))]


class OrgIn(BaseModel):
    name: str = Field(max_length=300)
    parent_id: int
    kind: str = Field("", max_length=60)
    commune: str = Field("", max_length=200)
    max_running_scans: int = Field(2, ge=1, le=100)
    max_rate: float = Field(500.0, gt=0, le=100000)


class SystemIn(BaseModel):
    name: str = Field(max_length=300)
    ranges: list[str] = Field(max_length=256)
    authorisation_doc: str = Field(max_length=500)
    purpose: str = Field("", max_length=4000)
    site: str = Field("", max_length=500)
    owner_unit: str = Field("", max_length=300)
    cameras: int = Field(0, ge=0, le=1_000_000)
    security_level: int | None = Field(None, ge=1, le=5)


class SystemPatch(BaseModel):
    name: str | None = Field(None, max_length=300)
    ranges: list[str] | None = Field(None, max_length=256)
    authorisation_doc: str | None = Field(None, max_length=500)
    purpose: str | None = Field(None, max_length=4000)
    site: str | None = Field(None, max_length=500)
    owner_unit: str | None = Field(None, max_length=300)
    cameras: int | None = Field(None, ge=0, le=1_000_000)
    security_level: int | None = Field(None, ge=1, le=5)


class ScanIn(BaseModel):
    targets: list[str] | None = Field(None, max_length=256, description="default: the system's ranges")
    options: dict[str, Any] = Field(default_factory=dict)


class ScheduleIn(BaseModel):
    rrule: str = Field(max_length=500, examples=["FREQ=MONTHLY;BYDAY=1MO;BYHOUR=2"])
    dtstart: dt.datetime | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class AcceptIn(BaseModel):
    reason: str = Field(max_length=4000)
    until: dt.date


class ReasonIn(BaseModel):
    reason: str = Field(max_length=4000)


class UserIn(BaseModel):
    username: str = Field(max_length=150)
    password: str | None = Field(None, max_length=1024)
    display_name: str = Field("", max_length=300)


class GrantIn(BaseModel):
    org_id: int
    role: str = Field(max_length=40)


class TokenIn(BaseModel):
    name: str = Field("", max_length=200)
    scopes: list[str] = Field(max_length=20)
    days: int | None = Field(365, ge=1, le=3650)


@router.get("/me")
def me(db: Db_org_read) -> dict[str, Any]:
    w = db.who
    return {"id": w.user_id, "username": w.name, "display_name": w.display_name,
            "roles": [{"role": r, "org_id": o, "org_name": n} for r, o, n in w.roles], "permissions": sorted(w.perms)}


@router.get("/roles")
def roles(db: Db_org_read) -> dict[str, list[str]]:
    return {r: sorted(p) for r, p in ROLE_PERMS.items()}


@router.get("/orgs")
def list_orgs(db: Db_org_read) -> list[dict[str, Any]]:
    return orgs.visible(db)


@router.post("/orgs", status_code=201)
def create_org(body: OrgIn, db: Db_org_write) -> dict[str, Any]:
    return orgs.create(db, **body.model_dump())


@router.get("/orgs/{org_id}")
def get_org(org_id: int, db: Db_org_read) -> dict[str, Any]:
    return orgs.get(db, org_id)


@router.get("/orgs/{org_id}/children")
def org_children(org_id: int, db: Db_org_read) -> list[dict[str, Any]]:
    return orgs.children(db, org_id)


@router.get("/orgs/{org_id}/overview")
def org_overview(org_id: int, db: Db_finding_read, q: Annotated[str | None, Query(max_length=200)] = None,
                 overdue: bool = False) -> list[dict[str, Any]]:
    return orgs.overview(db, org_id, q=q, only_overdue=overdue)


@router.get("/orgs/{org_id}/systems")
def org_systems(org_id: int, db: Db_system_read) -> list[dict[str, Any]]:
    return systems.list(db, org_id)


@router.post("/orgs/{org_id}/systems", status_code=201)
def create_system(org_id: int, body: SystemIn, db: Db_system_write) -> dict[str, Any]:
    return systems.create(db, org_id, **body.model_dump())


@router.get("/systems/{system_id}")
def get_system(system_id: int, db: Db_system_read) -> dict[str, Any]:
    return systems.get(db, system_id)


@router.patch("/systems/{system_id}")
def update_system(system_id: int, body: SystemPatch, db: Db_system_write) -> dict[str, Any]:
    return systems.update(db, system_id, **body.model_dump(exclude_unset=True))


@router.get("/systems/{system_id}/devices")
def system_devices(system_id: int, db: Db_system_read) -> list[dict[str, Any]]:
    return systems.devices(db, system_id)


@router.get("/devices/{device_id}")
def get_device(device_id: int, db: Db_system_read) -> dict[str, Any]:
    return systems.device(db, device_id)


@router.get("/devices/{device_id}/history")
def device_history(device_id: int, db: Db_system_read,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """What each scan saw of the device, newest first, with what changed since the scan before."""
    return systems.device_history(db, device_id, limit)


@router.get("/devices/{device_id}/attestations")
def device_attestations(device_id: int, db: Db_system_read) -> list[dict[str, Any]]:
    """The attestations recorded on the device, newest first."""
    return attestations.list_for_device(db, device_id)


@router.get("/devices/{device_id}/attestable-clauses")
def attestable_clauses(device_id: int, db: Db_system_read) -> list[dict[str, Any]]:
    """The clauses an attestation on this device may settle, by regulation."""
    d = systems.device(db, device_id)
    return attestations.clause_groups(attestations.device_days(d.get("last_seen")))


@router.post("/devices/{device_id}/attestations", status_code=201)
async def add_attestation(device_id: int, request: Request, db: Db_attestation_write,
                          clause: Annotated[str, F(max_length=200)], verdict: Annotated[str, F(max_length=8)],
                          evidence: UploadFile, note: Annotated[str, F(max_length=4000)] = "") -> dict[str, Any]:
    """Evidence for a clause the network cannot test; the file's SHA-256 and size are kept."""
    digest, size = hashlib.sha256(), 0
    while chunk := await evidence.read(1 << 16):
        digest.update(chunk)
        size += len(chunk)
    return attestations.add(db, device_id, clause=clause, verdict=verdict, note=note,
                            evidence_name=evidence.filename or "", evidence_sha256=digest.hexdigest(),
                            evidence_size=size, store=platform(request).store)


@router.get("/systems/{system_id}/scans")
def system_scans(system_id: int, db: Db_scan_read, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    return scans.list(db, system_id=system_id, limit=limit)


@router.post("/systems/{system_id}/scans", status_code=202)
def request_scan(system_id: int, body: ScanIn, request: Request, db: Db_scan_run,
                 idempotency_key: Annotated[str, Header(min_length=8, max_length=150)]) -> dict[str, Any]:
    """Queue a scan; targets outside the system's authorised ranges are refused before anything
    is queued.  The same Idempotency-Key returns the same scan."""
    from camaudit.workers.dispatch import hand_over

    r = scans.request(db, system_id, request_key=f"api:{db.who.user_id}:{idempotency_key}", targets=body.targets,
                      options=body.options)
    if r["created"]:
        hand_over(platform(request), r["id"])
    return r


@router.get("/scans/{scan_id}")
def get_scan(scan_id: str, db: Db_scan_read) -> dict[str, Any]:
    return scans.get(db, scan_id)


@router.get("/scans/{scan_id}/report")
def scan_report(scan_id: str, request: Request, db: Db_scan_read) -> dict[str, Any]:
    return scans.report_document(db, scan_id, platform(request).store)


@router.get("/scans/{scan_id}/delta/{other_id}")
def scan_delta(scan_id: str, other_id: str, db: Db_scan_read) -> dict[str, Any]:
    return scans.delta(db, scan_id, other_id)


@router.get("/systems/{system_id}/schedules")
def system_schedules(system_id: int, db: Db_scan_read) -> list[dict[str, Any]]:
    return schedules.list(db, system_id)


@router.post("/systems/{system_id}/schedules", status_code=201)
def create_schedule(system_id: int, body: ScheduleIn, db: Db_scan_run) -> dict[str, Any]:
    return schedules.create(db, system_id, rrule=body.rrule, dtstart=body.dtstart, options=body.options)


@router.delete("/schedules/{schedule_id}", status_code=204)
def delete_schedule(schedule_id: int, db: Db_scan_run) -> None:
    schedules.delete(db, schedule_id)


@router.get("/findings")
def list_findings(db: Db_finding_read, org_id: int | None = None, system_id: int | None = None,
                  status: Annotated[str | None, Query(max_length=20)] = "open", overdue: bool = False,
                  limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> list[dict[str, Any]]:
    return findings.list(db, org_id=org_id, system_id=system_id, status=None if status == "all" else status,
                         overdue=overdue, limit=limit)


@router.get("/findings/{finding_id}")
def get_finding(finding_id: int, db: Db_finding_read) -> dict[str, Any]:
    return findings.get(db, finding_id)


@router.post("/findings/{finding_id}/accept")
def accept_finding(finding_id: int, body: AcceptIn, db: Db_finding_decide) -> dict[str, Any]:
    return findings.accept(db, finding_id, reason=body.reason, until=body.until)


@router.post("/findings/{finding_id}/false-positive")
def false_positive(finding_id: int, body: ReasonIn, db: Db_finding_decide) -> dict[str, Any]:
    return findings.false_positive(db, finding_id, reason=body.reason)


@router.post("/findings/{finding_id}/reopen")
def reopen_finding(finding_id: int, body: ReasonIn, db: Db_finding_decide) -> dict[str, Any]:
    return findings.reopen(db, finding_id, reason=body.reason)


@router.get("/stats/{by}")
def aggregate(by: str, db: Db_stats_read, org_id: int | None = None) -> list[dict[str, Any]]:
    """Devices by vendor, model, firmware or commune; groups under 5 devices are hidden."""
    return stats.aggregate(db, by, org_id=org_id)


@router.get("/users")
def list_users(db: Db_user_admin) -> list[dict[str, Any]]:
    return users.list_users(db)


@router.post("/users", status_code=201)
def create_user(body: UserIn, db: Db_user_admin) -> dict[str, Any]:
    return users.create_user(db, username=body.username, password=body.password, display_name=body.display_name)


@router.post("/users/{user_id}/grants", status_code=201)
def add_grant(user_id: int, body: GrantIn, db: Db_user_admin) -> dict[str, Any]:
    return users.grant(db, user_id=user_id, org_id=body.org_id, role=body.role)


@router.delete("/grants/{grant_id}", status_code=204)
def remove_grant(grant_id: int, db: Db_user_admin) -> None:
    users.revoke_grant(db, grant_id)


@router.post("/tokens", status_code=201)
def create_token(body: TokenIn, db: Db_org_read) -> dict[str, Any]:
    """An API token for the caller, limited to the given permission scopes (shown once)."""
    return users.create_token(db, name=body.name, scopes=body.scopes, days=body.days)


@router.get("/tokens")
def list_tokens(db: Db_org_read) -> list[dict[str, Any]]:
    """The caller's own API tokens (never the secret), newest first."""
    return users.list_tokens(db)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: int, db: Db_org_read) -> None:
    """Revoke one of the caller's own tokens (another user's: 404)."""
    users.revoke_token(db, token_id)


@router.get("/audit/verify")
def audit_verify(request: Request, db: Db_audit_read) -> dict[str, Any]:
    with platform(request).engine.connect() as c:
        v = verify(c)
    return {"ok": v.ok, "events": v.events, "head": v.head, "problem": v.problem}
