"""Pages for what the API already did: the delta between two scans, a system's schedules, a
device's attestations, the user's own API tokens.  Same rules as ``routes``: a scoped handle
per route, scoped services, plain view models, a template; out of scope is a 404."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, UploadFile
from fastapi.responses import Response

from camaudit.store import attestations as attestations_svc
from camaudit.store import scans as scans_svc
from camaudit.store import schedules as schedules_svc
from camaudit.store import systems as systems_svc
from camaudit.store import users as users_svc
from camaudit.store.access import PERMS, InputError, Scoped
from camaudit.web.i18n import current_lang
from camaudit.web.i18n import gettext as _
from camaudit.web.pages.handles import MAX_TEXT, AttestationWrite, OrgRead, ScanRead, SystemRead
from camaudit.web.pages.handles import ScanCreate as ScanRun
from camaudit.web.pages.handles import see_other as _see_other
from camaudit.web.pages.knowledge import check_text
from camaudit.web.pages.render import page

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}


# -- the delta between two scans of a system ----------------------------------------------------

def _scan_label(s: dict[str, Any]) -> str:
    from camaudit.web.i18n import fmt_datetime

    return f"{fmt_datetime(s.get('finished_at') or s.get('started_at'))} ({s['id'][:8]})"


def _delta_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rank = {s: i for i, s in enumerate(("critical", "high", "medium", "low", "info"))}
    out = []
    for f in sorted(items, key=lambda f: (rank.get(f.get("severity", ""), 9), f["address"], f["check_id"])):
        title, _remediation = check_text(f["check_id"])
        out.append({**f, "title": title})
    return out


@router.get("/systems/{system_id}/delta")
def delta_page(request: Request, system_id: int, db: ScanRead, scan: str = "", base: str = "") -> Response:
    system = systems_svc.get(db, system_id)
    finished = [s for s in scans_svc.list(db, system_id=system_id, limit=1000) if s["status"] == "finished"]
    finished.sort(key=lambda s: str(s.get("finished_at") or s.get("started_at") or ""), reverse=True)
    ids = [s["id"] for s in finished]
    if (scan and scan not in ids) or (base and base not in ids):
        raise HTTPException(404, "not found")  # another system's scan, one out of scope, or unfinished
    newer = scan or (ids[0] if ids else "")
    older = base
    if not older and newer:  # default: the finished scan before this one
        older = next(iter(ids[ids.index(newer) + 1:]), "")
    delta = None
    message = ""
    if not newer or not older:
        message = _("This system needs two finished scans to compare.")
    elif newer == older:
        message = _("Pick two different scans.")
    else:
        d = scans_svc.delta(db, older, newer)
        delta = {k: _delta_rows(d[k]) for k in ("new_findings", "fixed", "persisting", "not_retested")}
        delta["devices_appeared"] = d["devices_appeared"]
        delta["devices_disappeared"] = d["devices_disappeared"]
    choices = [{"id": s["id"], "label": _scan_label(s)} for s in finished]
    return page(request, "delta.html", principal=db.who, title=_("Compare two scans"), system=system,
                choices=choices, scan=newer, base=older, delta=delta, message=message,
                crumbs=[{"href": f"/systems/{system_id}", "label": system["name"]},
                        {"href": None, "label": _("Compare two scans")}])


# -- schedules --------------------------------------------------------------------------------------

def presets() -> list[dict[str, str]]:
    return [
        {"key": "quarterly", "label": _("Every quarter (the 1st of the month, 02:00)"),
         "rrule": "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1;BYHOUR=2;BYMINUTE=0;BYSECOND=0"},
        {"key": "first-monday", "label": _("First Monday of the month, 02:00"),
         "rrule": "FREQ=MONTHLY;BYDAY=1MO;BYHOUR=2;BYMINUTE=0;BYSECOND=0"},
        {"key": "weekly", "label": _("Weekly, Monday 02:00"),
         "rrule": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=2;BYMINUTE=0;BYSECOND=0"},
    ]


def _schedule_view(s: dict[str, Any]) -> dict[str, Any]:
    known = {p["rrule"]: p["label"] for p in presets()}
    try:
        runs = schedules_svc.upcoming(s["rrule"], s["dtstart"], 3)
    except InputError:
        runs = []
    return {**s, "words": known.get(s["rrule"], ""), "runs": runs}


def system_schedules(db: Scoped, system_id: int) -> list[dict[str, Any]]:
    return [_schedule_view(s) for s in schedules_svc.list(db, system_id)]


def _schedules_page(request: Request, db: Scoped, system_id: int, form: dict[str, str], error: str = "",
                    status: int = 200) -> Response:
    system = systems_svc.get(db, system_id)
    return page(request, "schedules.html", principal=db.who, title=_("Scheduled scans"), system=system,
                schedules=system_schedules(db, system_id), presets=presets(), form=form, error=error,
                can_write=db.who.has("scan:run"), status=status, tz="Asia/Ho_Chi_Minh",
                crumbs=[{"href": f"/systems/{system_id}", "label": system["name"]},
                        {"href": None, "label": _("Scheduled scans")}])


@router.get("/systems/{system_id}/schedules")
def schedules_page(request: Request, system_id: int, db: ScanRead) -> Response:
    return _schedules_page(request, db, system_id, {"preset": "first-monday", "rrule": ""})


@router.post("/systems/{system_id}/schedules")
def schedule_create(request: Request, system_id: int, db: ScanRun, preset: Annotated[str, Form()] = "",
                    rrule: Annotated[str, Form()] = "") -> Response:
    form = {"preset": preset, "rrule": rrule}
    chosen = next((p for p in presets() if p["key"] == preset), None)
    if chosen is not None:
        text = chosen["rrule"]
    elif preset == "custom":
        text = rrule.strip()
    else:
        return _schedules_page(request, db, system_id, form, _("Choose when the scans run."), 422)
    if not text or len(text) > 500:
        return _schedules_page(request, db, system_id, form,
                               _("Give a recurrence rule (at most 500 characters), e.g. FREQ=MONTHLY;BYDAY=1MO."), 422)
    try:
        schedules_svc.create(db, system_id, rrule=text)
    except InputError as exc:
        return _schedules_page(request, db, system_id, form,
                               _("The recurrence rule was refused: %(why)s", why=str(exc)), 422)
    return _see_other(f"/systems/{system_id}/schedules?done=schedule")


@router.post("/schedules/{schedule_id}/delete")
def schedule_delete(schedule_id: int, db: ScanRun) -> Response:
    s = schedules_svc.get(db, schedule_id)
    schedules_svc.delete(db, schedule_id)
    return _see_other(f"/systems/{s['system_id']}/schedules?done=schedule_deleted")


# -- a device and its attestations -------------------------------------------------------------------

VERDICTS = ("pass", "fail", "na")


def verdict_label(code: str) -> str:
    return {"pass": _("Met (pass)"), "fail": _("Not met (fail)"), "na": _("Does not apply")}.get(code, code)


def clause_choices(days: list[dt.date]) -> list[dict[str, Any]]:
    return attestations_svc.clause_groups(days, current_lang())


def _device_days(device: dict[str, Any]) -> list[dt.date]:
    return attestations_svc.device_days(device.get("last_seen"))


def _device_page(request: Request, db: Scoped, device_id: int, form: dict[str, str], errors: dict[str, str],
                 status: int = 200) -> Response:
    device = systems_svc.device(db, device_id)
    system = systems_svc.get(db, device["system_id"]) if device.get("system_id") else None
    choices = clause_choices(_device_days(device))
    titles = {c["id"]: f"{g['code']} — {c['title']}" for g in choices for c in g["clauses"]}
    atts = [{**a, "clause_title": titles.get(a["clause"], a["clause"]), "verdict_label": verdict_label(a["verdict"])}
            for a in attestations_svc.list_for_device(db, device_id)]
    name = " ".join(str(x) for x in (device.get("vendor"), device.get("model")) if x) or _("not identified")
    crumbs = ([{"href": f"/systems/{system['id']}", "label": system["name"]}] if system else []) + \
        [{"href": None, "label": f"{name} ({device['address']})"}]
    max_mib = request.app.state.settings.max_upload / (1024 * 1024)
    history = systems_svc.device_history(db, device_id, 50) if db.who.has("scan:read") else []
    return page(request, "device.html", principal=db.who, title=f"{name} ({device['address']})", device=device,
                system=system, attestations=atts, history=history, choices=choices, verdicts=[(v, verdict_label(v)) for v in VERDICTS],
                form=form, errors=errors, can_attest=db.who.has("attestation:write"), status=status,
                max_upload=request.app.state.settings.max_upload, max_mib=f"{max_mib:g}", crumbs=crumbs)


@router.get("/devices/{device_id}")
def device_page(request: Request, device_id: int, db: SystemRead) -> Response:
    return _device_page(request, db, device_id, {"clause": "", "verdict": "pass", "note": ""}, {})


@router.post("/devices/{device_id}/attestations")
async def attestation_add(request: Request, device_id: int, db: AttestationWrite,
                          clause: Annotated[str, Form()] = "", verdict: Annotated[str, Form()] = "",
                          note: Annotated[str, Form()] = "", evidence: UploadFile | None = None) -> Response:
    form = {"clause": clause, "verdict": verdict, "note": note}
    device = systems_svc.device(db, device_id)  # out of scope: 404 before anything else
    errors: dict[str, str] = {}
    offered = {c["id"] for g in clause_choices(_device_days(device)) for c in g["clauses"]}
    if clause not in offered:
        errors["clause"] = _("Choose the clause the evidence is for.")
    if verdict not in VERDICTS:
        errors["verdict"] = _("Choose a verdict.")
    if len(note) > MAX_TEXT:
        errors["note"] = _("Too long (at most %(n)s characters).", n=MAX_TEXT)
    digest, size, name = hashlib.sha256(), 0, ""
    if evidence is None or not evidence.filename:
        errors["evidence"] = _("Attach the evidence file.")
    else:
        name = evidence.filename[:500]
        while chunk := await evidence.read(1 << 16):
            digest.update(chunk)
            size += len(chunk)
        limit = request.app.state.settings.max_upload
        if size == 0:
            errors["evidence"] = _("The evidence file is empty.")
        elif size > limit:
            mib = f"{limit / 1048576:g}"
            errors["evidence"] = _("The evidence file is too large (at most %(n)s MiB).", n=mib)
    if errors:
        return _device_page(request, db, device_id, form, errors, 422)
    try:
        attestations_svc.add(db, device_id, clause=clause, verdict=verdict, note=note.strip(), evidence_name=name,
                             evidence_sha256=digest.hexdigest(), evidence_size=size,
                             store=request.app.state.platform.store)
    except InputError as exc:
        return _device_page(request, db, device_id, form, {"clause": str(exc)}, 422)
    return _see_other(f"/devices/{device_id}?done=attestation")


# -- the user's own API tokens -----------------------------------------------------------------------

TOKEN_DAYS = (30, 90, 365)


def scope_label(perm: str) -> str:
    return {"org:read": _("see organisations and their tree"),
            "org:write": _("create and rename organisations"),
            "system:read": _("see camera systems and their devices"),
            "system:write": _("register and change camera systems"),
            "scan:read": _("see scans, their reports and deltas"),
            "scan:run": _("start scans and schedule them"),
            "finding:read": _("see findings"),
            "finding:decide": _("accept a finding until a date, mark a false positive"),
            "attestation:write": _("record attestations with evidence"),
            "stats:read": _("aggregates by vendor, model, firmware, commune (small counts hidden)"),
            "user:admin": _("create users, grant roles"),
            "audit:read": _("read and verify the audit log")}.get(perm, PERMS.get(perm, perm))


def _tokens_page(request: Request, db: Scoped, form: dict[str, Any], errors: dict[str, str],
                 created: dict[str, Any] | None = None, status: int = 200) -> Response:
    held = sorted(db.who.perms)
    tokens = users_svc.list_tokens(db)
    resp = page(request, "tokens.html", principal=db.who, title=_("API tokens"), tokens=tokens,
                scopes=[(p, scope_label(p)) for p in held], form=form, errors=errors, created=created,
                days=TOKEN_DAYS, status=status)
    resp.headers.update(NO_STORE)
    return resp


EMPTY_TOKEN = {"name": "", "scopes": [], "days": "90"}


@router.get("/tokens")
def tokens_page(request: Request, db: OrgRead) -> Response:
    return _tokens_page(request, db, EMPTY_TOKEN, {})


@router.post("/tokens")
def token_create(request: Request, db: OrgRead, name: Annotated[str, Form()] = "",
                 scopes: Annotated[list[str] | None, Form()] = None, days: Annotated[str, Form()] = "90") -> Response:
    chosen = list(dict.fromkeys(scopes or []))
    form = {"name": name, "scopes": chosen, "days": days}
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = _("Give the token a name (what uses it).")
    elif len(name) > 200:
        errors["name"] = _("Too long (at most %(n)s characters).", n=200)
    held = db.who.perms
    if not chosen:
        errors["scopes"] = _("Choose at least one permission.")
    elif any(s not in held for s in chosen):
        errors["scopes"] = _("You can only give a token permissions you hold yourself.")
    if days not in {str(d) for d in TOKEN_DAYS}:
        errors["days"] = _("Choose how long the token is valid.")
    if errors:
        return _tokens_page(request, db, form, errors, status=422)
    created = users_svc.create_token(db, name=name.strip(), scopes=chosen, days=int(days))
    return _tokens_page(request, db, EMPTY_TOKEN, {}, created=created)


@router.post("/tokens/{token_id}/revoke")
def token_revoke(token_id: int, db: OrgRead) -> Response:
    users_svc.revoke_token(db, token_id)
    return _see_other("/tokens?done=token_revoked")
