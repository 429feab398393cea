"""The page routes.  Each one: a scoped handle (permission marker for the authorisation matrix),
a service call or two, a view model of plain values, a template."""

from __future__ import annotations

import datetime as dt
import secrets
import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from camaudit.reports.charts import Segment, bar_chart, stacked_chart
from camaudit.store import attestations as attestations_svc
from camaudit.store import findings as findings_svc
from camaudit.store import orgs as orgs_svc
from camaudit.store import scans as scans_svc
from camaudit.store import stats as stats_svc
from camaudit.store import systems as systems_svc
from camaudit.store.access import Scoped
from camaudit.web.i18n import current_lang, fmt_date
from camaudit.web.i18n import gettext as _
from camaudit.web.pages import labels
from camaudit.web.pages.handles import (
    MAX_TEXT,
    FindingDecide,
    FindingRead,
    OrgRead,
    Overview,
    ReportRead,
    ScanCreate,
    ScanRead,
    StatsRead,
    SystemCreate,
    SystemRead,
)
from camaudit.web.pages.handles import see_other as _see_other
from camaudit.web.pages.knowledge import check_text
from camaudit.web.pages.render import page
from camaudit.web.templating import SECURITY_HEADERS, svg

router = APIRouter(include_in_schema=False)

SEV_COLOURS = {"critical": "#7b0d1e", "high": "#b03a2e", "medium": "#8a5a00", "low": "#1f618d", "info": "#4d5b69"}
SEVERITIES = tuple(SEV_COLOURS)
K_ANON = 5  # counts below this are hidden from aggregate viewers
REPORT_TYPES = {"pdf": "application/pdf", "html": "text/html; charset=utf-8",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
PROFILE_IN_FORCE = "auto"  # the binding regulation in force on the scan's day, with the recommendations beside it
_ASSESSMENTS: dict[tuple[str, str, tuple[int, int]], dict[str, Any]] = {}  # (scan, language, attestations) -> part


def _principal(db: Scoped) -> Any:
    return db.who


OVERVIEW_ROLES = frozenset({"steering_officer", "provincial_viewer", "admin"})


def sees_overview(who: Any) -> bool:
    """The province overview is the start page of the steering body and provincial viewers."""
    return any(role in OVERVIEW_ROLES for role, _org, _name in who.roles) and who.has("finding:read")


# -- login and start ----------------------------------------------------------------------------

@router.get("/login")
def login_form(request: Request, next: str = "/", error: str | None = None) -> Response:
    message = {"1": _("Wrong user name or password."),
               "locked": _("Too many failed attempts: try again in 5 minutes.")}.get(error or "", "")
    if not next.startswith("/") or next.startswith("//"):
        next = "/"
    return page(request, "login.html", title=_("Log in"), error=message, next=next, username="",
                sso="/auth/oidc/login" if getattr(request.app.state, "oidc", None) is not None else None)


@router.get("/")
def home(request: Request, db: OrgRead) -> Response:
    who = _principal(db)
    if sees_overview(who):
        return _see_other("/overview")
    if who.has("system:read") and who.home_org_id is not None:
        return _see_other(f"/orgs/{who.home_org_id}")
    if who.has("stats:read"):
        return _see_other("/stats")
    return page(request, "error.html", principal=who, title=_("Nothing to show"),
                message=_("Your account holds no role that shows a page. Ask an administrator."))


# -- steering / provincial overview -------------------------------------------------------------

def _totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    systems = sum(r["systems"] for r in rows)
    passed = sum(int(r.get("clauses_passed") or 0) for r in rows)
    considered = sum(int(r.get("clauses_considered") or 0) for r in rows)
    return {"orgs": len(rows), "systems": systems, "devices": sum(r["devices"] for r in rows),
            "open": sum(sum(r["open_by_severity"].values()) for r in rows),
            "overdue": sum(r["overdue"] for r in rows),
            "judged": sum(int(r.get("systems_judged") or 0) for r in rows),
            "failed": sum(int(r.get("clauses_failed") or 0) for r in rows),
            "clean": _clean_share(rows),
            "compliance": (100.0 * passed / considered) if considered else None}


def _clean_share(rows: list[dict[str, Any]]) -> float | None:
    """Devices without an open finding of medium severity or above, over all devices."""
    devices = sum(int(r.get("devices") or 0) for r in rows)
    clean = sum(int(r.get("devices") or 0) * float(r["clean_pct"]) / 100 for r in rows if r.get("clean_pct") is not None)
    return 100.0 * clean / devices if devices else None


def _severity_chart(rows: list[dict[str, Any]], limit: int = 12) -> Any:
    ranked = sorted(rows, key=lambda r: tuple(-r["open_by_severity"].get(s, 0) for s in SEVERITIES))
    ranked = [r for r in ranked if sum(r["open_by_severity"].values())][:limit]
    if not ranked:
        return ""
    data = [(r["name"], [Segment(s, labels.severity_label(s), int(r["open_by_severity"].get(s, 0)), SEV_COLOURS[s])
                         for s in SEVERITIES]) for r in ranked]
    return svg(stacked_chart(data, title=_("Open findings by severity (most affected organisations)"), width=520))


def _compliance_chart(rows: list[dict[str, Any]], limit: int = 12) -> Any:
    scored = sorted((r for r in rows if r.get("compliance_pct") is not None),
                    key=lambda r: (r["compliance_pct"], -int(r.get("clauses_failed") or 0)))
    if not scored:
        return ""
    data = [(r["name"], round(r["compliance_pct"]),
             "#1e7a45" if r["compliance_pct"] >= 80 else "#8a5a00" if r["compliance_pct"] >= 50 else "#b03a2e")
            for r in scored[:limit]]
    return svg(bar_chart(data, title=_("Compliance % (lowest first)"), width=520))


@router.get("/overview")
def overview(request: Request, db: Overview, q: str = "", under: str = "", overdue: str = "") -> Response:
    who = _principal(db)
    under_id = _int_or_404(under) if under else None
    filtered = bool(under_id is not None or q or overdue)
    # the tops of the caller's grants (their subtrees are what it may see); the organisation list
    # is read only when a filter hides rows the filter menu still needs
    tops = [int(p.strip("/").split("/")[-1]) for p in who.paths(db.perm)] if not who.everything else []
    visible = orgs_svc.visible(db) if filtered or not tops else None
    rows: list[dict[str, Any]] = []
    roots = [under_id] if under_id is not None else tops or [r["id"] for r in _roots(visible or [])]
    for root in roots:
        rows += [_org_row(r) for r in orgs_svc.overview(db, root, q=q[:200] or None, only_overdue=bool(overdue))]
    parents = [o for o in (visible if visible is not None else rows) if o["depth"] < 3]
    title = _("Province overview")
    return page(request, "overview.html", principal=who, title=title, rows=rows, totals=_totals(rows),
                parents=parents, filters={"q": q[:200], "under": under_id, "overdue": bool(overdue)},
                chart_severity=_severity_chart(rows), chart_compliance=_compliance_chart(rows))


def _roots(visible: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tops of the caller's visible tree (where its grants start)."""
    ids = {o["id"] for o in visible}
    return [o for o in visible if o["parent_id"] not in ids]


def _org_row(r: dict[str, Any]) -> dict[str, Any]:
    sev = {s: int((r.get("open_by_severity") or {}).get(s, 0)) for s in SEVERITIES}
    return {**r, "open_by_severity": sev, "compliance_pct": r.get("compliance_pct"),
            "systems": r.get("systems", 0), "devices": r.get("devices", 0), "overdue": r.get("overdue", 0),
            "depth": r.get("depth", 0), "last_assessment": r.get("last_assessment")}


def _int_or_404(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise HTTPException(404) from None


# -- an agency ------------------------------------------------------------------------------------

def _finding_view(f: dict[str, Any]) -> dict[str, Any]:
    title, remediation = check_text(f["check_id"])
    device = " ".join(str(x) for x in (f.get("vendor"), f.get("model")) if x) or _("not identified")
    if f.get("address"):
        device = f"{device} ({f['address']})"
    service = "/".join(str(x) for x in (f.get("protocol"), f.get("port")) if x) or "—"
    return {**f, "title": title, "remediation": remediation, "device": device, "service": service}


def _next_steps(systems: list[dict[str, Any]], open_findings: list[dict[str, Any]]) -> list[str]:
    steps: list[str] = []
    for s in systems:
        if not s.get("last_assessment"):
            steps.append(_("Scan the system “%(name)s”: it has never been assessed.", name=s["name"]))
    overdue = [f for f in open_findings if f.get("overdue")]
    if overdue:
        steps.append(_("%(n)s findings are past their deadline: fix them first.", n=len(overdue)))
    by_check = Counter(f["check_id"] for f in open_findings)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    worst = {f["check_id"]: f["severity"] for f in sorted(open_findings, key=lambda f: -rank.get(f["severity"], 9))}
    for check_id, n in sorted(by_check.items(), key=lambda kv: (rank.get(worst[kv[0]], 9), -kv[1]))[:4]:
        title, remediation = check_text(check_id)
        steps.append(_("%(title)s (%(n)s devices): %(what)s", title=title, n=n, what=remediation or "—"))
    return steps


@router.get("/orgs/{org_id}")
def org_page(request: Request, org_id: int, db: SystemRead) -> Response:
    # the organisations in the caller's scope give this one (404 when outside), its children and
    # its ancestors in one call
    visible = orgs_svc.visible(db)
    org = next((o for o in visible if o["id"] == org_id), None)
    if org is None:
        raise HTTPException(404, "not found")
    children = sorted((o for o in visible if o["parent_id"] == org_id), key=lambda o: o["name"])
    open_findings = [_finding_view(f) for f in findings_svc.list(db, org_id=org_id, status="open", limit=200)]
    scans = scans_svc.list(db, org_id=org_id)
    systems = [_system_view(s, scans, open_findings) for s in systems_svc.list(db, org_id)]
    names = {s["id"]: s["name"] for s in systems}
    for sc in scans:
        sc.setdefault("system_name", names.get(sc.get("system_id"), ""))
    rows = [_org_row(r) for r in orgs_svc.overview(db, org_id)]
    # the judgements the systems carry (store/conformity.py): the numbers of the overview, not a
    # second computation that could disagree with them
    compliance = _judged_view([sv["compliance"] for sv in systems if sv["org_id"] == org_id and sv.get("compliance")])
    totals = _totals(rows)
    if compliance and totals.get("compliance") is None:
        totals["compliance"] = compliance["pct"]
    reports = [{"scan_id": s["id"], "system": s.get("system_name", ""), "finished_at": s.get("finished_at")}
               for s in scans if s["status"] == "finished"][:10]
    who = _principal(db)
    ancestors = [o for o in visible if org["path"].startswith(o["path"]) and o["id"] != org["id"]]
    return page(request, "org.html", principal=who, title=org["name"], org=org, children=children,
                systems=systems, findings=open_findings, totals=totals, reports=reports,
                next_steps=_next_steps(systems, open_findings), compliance=compliance,
                can_register=who.has("system:write"),
                crumbs=[{"href": f"/orgs/{a['id']}", "label": a["name"]} for a in ancestors]
                + [{"href": None, "label": org["name"]}])


def _system_view(s: dict[str, Any], scans: list[dict[str, Any]], open_findings: list[dict[str, Any]]
                 ) -> dict[str, Any]:
    finished = [sc.get("finished_at") for sc in scans if sc.get("system_id") == s["id"] and sc["status"] == "finished"]
    return {**s, "authorisation": s.get("authorisation_doc", s.get("authorisation", "")),
            "last_assessment": s.get("last_assessment") or max((f for f in finished if f), default=None),
            "open": s.get("open", sum(1 for f in open_findings if f.get("system_id") == s["id"])),
            "devices": s.get("devices", 0), "compliance_pct": s.get("compliance_pct"),
            "org_name": s.get("org_name", "")}


def _assessment(request: Request, db: Scoped, scan: dict[str, Any] | None) -> dict[str, Any] | None:
    """The compliance part of a finished scan's report (clause by clause, against the regulation in
    force, with the attestations recorded on its devices), computed once per scan, language and
    state of the organisation's attestations: a finished scan does not change, and a new
    attestation (from this process, another one or the API) changes the key.  The scan was read
    through the scoped services before, so the cache never serves an object out of scope."""
    if not scan or scan.get("status") != "finished":
        return None
    key = (str(scan["id"]), current_lang(), attestations_svc.fingerprint(db, scan.get("org_id")))
    if key not in _ASSESSMENTS:
        from camaudit.compliance.verdicts import assess_document

        doc = scans_svc.report_document(db, scan["id"], request.app.state.platform.store)
        if len(_ASSESSMENTS) > 512:
            _ASSESSMENTS.clear()
        _ASSESSMENTS[key] = assess_document(doc, PROFILE_IN_FORCE, _attestations(db, doc, scan.get("org_id")),
                                            current_lang())
    return _ASSESSMENTS[key]


def _attestations(db: Scoped, doc: dict[str, Any], org_id: Any) -> list[Any]:
    """The attestations the scan's organisation recorded on the devices of a report document."""
    return attestations_svc.for_subjects(db, [d.get("device_key") or f"addr:{d['address']}" for d in doc["devices"]],
                                         org_id=org_id)


def _state_rows(counts: Counter[str]) -> list[tuple[str, str, int]]:
    return [(k, labels.compliance_label(k), counts[k]) for k in ("pass", "fail", "attestation", "not_tested", "na")]


def _judged_view(judgements: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Clause counts by state over the systems' stored judgements (binding regulation only)."""
    if not judgements:
        return None
    counts: Counter[str] = Counter()
    for j in judgements:
        counts.update({k: int(v) for k, v in (j.get("counts") or {}).items()})
    passed = sum(int(j.get("passed") or 0) for j in judgements)
    considered = sum(int(j.get("considered") or 0) for j in judgements)
    codes = Counter(str(j.get("code") or j.get("catalogue") or "") for j in judgements)
    return {"catalogue": ", ".join(c for c, _n in codes.most_common() if c), "note": "",
            "pct": 100.0 * passed / considered if considered else None,
            "rows": _state_rows(counts),
            "clauses": []}


def _compliance_view(assessments: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not assessments:
        return None
    heads = assessments[0]["catalogues"]
    head = next((c for c in heads if c.get("role") == "binding"), heads[0])
    counts: Counter[str] = Counter()
    for a in assessments:  # the binding regulation's clauses: recommendations do not count here
        for c in a["system"]["clauses"]:
            if c.get("catalogue", head["id"]) == head["id"]:
                counts[c["status"]] += 1
    considered = sum(counts.values()) - counts["na"]
    sup = head.get("superseded_by") if head.get("status") == "superseded" else None
    note = (_("%(code)s is superseded by %(new)s from %(date)s; its official text is not in the catalogue yet.",
              code=head["code"], new=sup["code"], date=fmt_date(sup["effective"])) if sup else "")
    return {"catalogue": f"{head['code']}", "note": note,
            "pct": 100.0 * counts["pass"] / considered if considered else None,
            "rows": _state_rows(counts),
            "clauses": [c for a in assessments[:1] for c in a["system"]["clauses"]
                        if c.get("catalogue", head["id"]) == head["id"]]}


def _last_finished(scans: list[dict[str, Any]], system_id: Any) -> dict[str, Any] | None:
    done = [s for s in scans if s.get("system_id") == system_id and s["status"] == "finished"]
    return max(done, key=lambda s: str(s.get("finished_at") or ""), default=None)


# -- camera systems -------------------------------------------------------------------------------

EMPTY_FORM = {"name": "", "purpose": "", "site": "", "owner_unit": "", "ranges": "", "authorisation": "",
              "cameras": ""}


@router.get("/orgs/{org_id}/systems/new")
def system_form(request: Request, org_id: int, db: SystemCreate) -> Response:
    org = orgs_svc.get(db, org_id)
    return page(request, "system_new.html", principal=_principal(db), title=_("Register a camera system"),
                org=org, form=EMPTY_FORM, errors={})


@router.post("/orgs/{org_id}/systems")
def system_create(request: Request, org_id: int, db: SystemCreate,
                  name: Annotated[str, Form()] = "", purpose: Annotated[str, Form()] = "",
                  site: Annotated[str, Form()] = "", owner_unit: Annotated[str, Form()] = "",
                  ranges: Annotated[str, Form()] = "", authorisation: Annotated[str, Form()] = "",
                  cameras: Annotated[str, Form()] = "") -> Response:
    org = orgs_svc.get(db, org_id)
    form = {"name": name, "purpose": purpose, "site": site, "owner_unit": owner_unit, "ranges": ranges,
            "authorisation": authorisation, "cameras": cameras}
    errors: dict[str, str] = {}
    for key, value in form.items():
        if len(value) > MAX_TEXT:
            errors[key] = _("Too long (at most %(n)s characters).", n=MAX_TEXT)
    if not name.strip():
        errors["name"] = _("Give the system a name.")
    range_list = [r.strip() for r in ranges.replace(",", "\n").splitlines() if r.strip()]
    if not range_list:
        errors["ranges"] = _("Give at least one address range.")
    if not authorisation.strip():
        errors["authorisation"] = _("Name the document that authorises scanning these addresses.")
    n_cameras = 0
    if cameras.strip():
        try:
            n_cameras = int(cameras)
            if n_cameras < 0 or n_cameras > 1_000_000:
                raise ValueError
        except ValueError:
            errors["cameras"] = _("A whole number of cameras, 0 or more.")
    if not errors:
        try:
            sid = systems_svc.create(db, org_id, name=name.strip(), purpose=purpose.strip(), site=site.strip(),
                                     owner_unit=owner_unit.strip(), ranges=range_list,
                                     authorisation_doc=authorisation.strip(), cameras=n_cameras)
        except ValueError as exc:  # InputError: an invalid or refused range, a duplicate name...
            errors["ranges" if "range" in str(exc).lower() else "name"] = str(exc)
        else:
            system_id = sid["id"] if isinstance(sid, dict) else sid
            return _see_other(f"/systems/{system_id}?done=system")
    return page(request, "system_new.html", principal=_principal(db), title=_("Register a camera system"),
                org=org, form=form, errors=errors, status=422)


@router.get("/systems/{system_id}")
def system_page(request: Request, system_id: int, db: SystemRead) -> Response:
    raw = systems_svc.get(db, system_id)
    devices = systems_svc.devices(db, system_id)
    who = _principal(db)
    open_findings = [_finding_view(f) for f in findings_svc.list(db, system_id=system_id, status="open", limit=200)]
    scans = scans_svc.list(db, system_id=system_id)
    system = _system_view({**raw, "org_name": orgs_svc.get(db, raw["org_id"])["name"]}, scans, open_findings)
    assessment = _assessment(request, db, _last_finished(scans, raw["id"]))
    compliance = _compliance_view([assessment]) if assessment else None
    finished = sorted((s for s in scans if s["status"] == "finished"),
                      key=lambda s: str(s.get("finished_at") or s.get("started_at") or ""), reverse=True)
    previous = {a["id"]: b["id"] for a, b in zip(finished, finished[1:])}
    from camaudit.web.pages.extra import system_schedules

    plans = system_schedules(db, system_id) if who.has("scan:read") else None
    return page(request, "system.html", principal=who, title=system["name"], system=system, devices=devices,
                findings=open_findings, scans=scans, can_scan=who.has("scan:run"), show_ranges=True,
                compliance=compliance, previous=previous, schedules=plans,
                can_attest=who.has("attestation:write"),
                request_key=secrets.token_urlsafe(16),
                crumbs=[{"href": f"/orgs/{system['org_id']}", "label": system.get("org_name", "")},
                        {"href": None, "label": system["name"]}])


# -- scans ----------------------------------------------------------------------------------------

@router.post("/systems/{system_id}/scans")
def scan_start(request: Request, system_id: int, db: ScanCreate, request_key: Annotated[str, Form()] = "") -> Response:
    key = request_key[:64] or secrets.token_urlsafe(16)
    scan = scans_svc.request(db, system_id, request_key=key)
    if scan.get("created", True):
        from camaudit.workers.dispatch import hand_over

        hand_over(request.app.state.platform, scan["id"])
    return _see_other(f"/scans/{scan['id']}")


@router.get("/scans/{scan_id}")
def scan_page(request: Request, scan_id: str, db: ScanRead) -> Response:
    scan = scans_svc.get(db, scan_id)
    scan["system_name"] = systems_svc.get(db, scan["system_id"])["name"] if scan.get("system_id") else ""
    return page(request, "scan.html", principal=_principal(db), title=_("Scan"), scan=scan,
                crumbs=[{"href": f"/systems/{scan['system_id']}", "label": scan.get("system_name", "")},
                        {"href": None, "label": _("Scan")}])


@router.get("/scans/{scan_id}/progress")
def scan_progress(scan_id: str, db: ScanRead) -> Response:
    scan = scans_svc.get(db, scan_id)
    body = {"id": scan["id"], "status": scan["status"], "status_label": labels.scan_status_label(scan["status"]),
            "hosts_total": scan.get("hosts_total") or 0, "hosts_done": scan.get("hosts_done") or 0,
            "hosts_up": scan.get("hosts_up") or 0, "done": scan["status"] not in ("queued", "running")}
    return JSONResponse(body, headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})


@router.get("/scans/{scan_id}/report.{fmt}")
def scan_report(request: Request, scan_id: str, fmt: str, db: ReportRead) -> Response:
    if fmt not in REPORT_TYPES:
        raise HTTPException(404)
    from camaudit.compliance.verdicts import assess_document
    from camaudit.reports import write_report
    from camaudit.web.pages.knowledge import _kb

    scan = scans_svc.get(db, scan_id)
    if scan["status"] != "finished":
        raise HTTPException(409, _("The scan has not finished."))
    doc = scans_svc.report_document(db, scan_id, request.app.state.platform.store)
    lang = current_lang()
    if "compliance" not in doc:
        doc["compliance"] = assess_document(doc, PROFILE_IN_FORCE, _attestations(db, doc, scan.get("org_id")), lang,
                                            system=scan.get("system_name"))
    with tempfile.TemporaryDirectory(prefix="camaudit-web-") as tmp:
        path = write_report(doc, Path(tmp) / f"report.{fmt}", lang=lang, kb=_kb())
        data = path.read_bytes()
    day = str(scan.get("finished_at") or dt.date.today().isoformat())[:10].replace("-", "")
    name = f"camaudit-{scan_id[:8]}-{day}.{fmt}"
    return Response(data, media_type=REPORT_TYPES[fmt], headers={
        **SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"',
        # the HTML report carries its own inline style; it is a download, never rendered here
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"})


# -- findings -------------------------------------------------------------------------------------

def _finding_page(request: Request, db: Scoped, finding_id: int, errors: dict[str, str], status: int = 200
                  ) -> Response:
    f = _finding_view(findings_svc.get(db, finding_id))
    f["system_name"] = systems_svc.get(db, f["system_id"])["name"] if f.get("system_id") else ""
    who = _principal(db)
    until = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    return page(request, "finding.html", principal=who, title=f["title"], finding=f, errors=errors,
                can_decide=who.has("finding:decide"), default_until=until, status=status,
                crumbs=[{"href": f"/systems/{f['system_id']}", "label": f.get("system_name", "")},
                        {"href": None, "label": f["title"]}])


@router.get("/findings/{finding_id}")
def finding_page(request: Request, finding_id: int, db: FindingRead) -> Response:
    return _finding_page(request, db, finding_id, {})


@router.post("/findings/{finding_id}/accept")
def finding_accept(request: Request, finding_id: int, db: FindingDecide, reason: Annotated[str, Form()] = "",
                   until: Annotated[str, Form()] = "") -> Response:
    errors: dict[str, str] = {}
    if not reason.strip():
        errors["reason"] = _("Give the reason for accepting the risk.")
    elif len(reason) > MAX_TEXT:
        errors["reason"] = _("Too long (at most %(n)s characters).", n=MAX_TEXT)
    day = None
    try:
        day = dt.date.fromisoformat(until)
        if day <= dt.date.today():
            errors["until"] = _("The date must be in the future.")
    except ValueError:
        errors["until"] = _("A date, e.g. 2026-12-31.")
    if errors or day is None:
        return _finding_page(request, db, finding_id, errors, status=422)
    try:
        findings_svc.accept(db, finding_id, reason=reason.strip(), until=day)
    except ValueError as exc:
        return _finding_page(request, db, finding_id, {"reason": str(exc)}, status=422)
    return _see_other(f"/findings/{finding_id}?done=accepted")


@router.post("/findings/{finding_id}/false-positive")
def finding_false_positive(request: Request, finding_id: int, db: FindingDecide,
                           reason: Annotated[str, Form()] = "") -> Response:
    if not reason.strip() or len(reason) > MAX_TEXT:
        return _finding_page(request, db, finding_id, {"reason": _("Give the reason (at most %(n)s characters).",
                                                                   n=MAX_TEXT)}, status=422)
    try:
        findings_svc.false_positive(db, finding_id, reason=reason.strip())
    except ValueError as exc:
        return _finding_page(request, db, finding_id, {"reason": str(exc)}, status=422)
    return _see_other(f"/findings/{finding_id}?done=fp")


# -- aggregates (police, market surveillance) -----------------------------------------------------

DIMENSIONS = ("vendor", "model", "firmware", "commune")


@router.get("/stats")
def stats(request: Request, db: StatsRead, by: str = "vendor") -> Response:
    if by not in DIMENSIONS:
        by = "vendor"
    rows = []
    for r in stats_svc.aggregate(db, by):
        devices, failing = r.get("devices"), r.get("failing")
        # the service hides small counts; hide again here so a page can never show one (0 tells nothing)
        devices = devices if devices is not None and devices >= K_ANON else None
        failing = failing if failing is not None and (failing >= K_ANON or failing == 0) else None
        share = (100.0 * failing / devices) if devices and failing is not None else None
        key = r.get("key")
        if r.get("other") or str(key).startswith("(groups under"):
            key = _("Groups of fewer than %(k)s devices, together", k=K_ANON)
        elif key in (None, "", "(unknown)"):
            key = _("not identified")
        rows.append({"key": key, "devices": devices, "failing": failing, "share": share})
    shown = [r for r in rows if r["failing"]][:12]
    chart = svg(bar_chart([(str(r["key"]), int(r["failing"] or 0), "#b03a2e") for r in shown],
                          title=_("Devices failing at least one check"), width=520)) if shown else ""
    return page(request, "stats.html", principal=_principal(db), title=_("Camera statistics"), rows=rows, by=by,
                dimensions=[(d, labels.dimension_label(d)) for d in DIMENSIONS],
                dimension_label=labels.dimension_label(by), threshold=K_ANON, chart=chart)


from camaudit.web.pages import extra as _extra  # noqa: E402  (the pages for the API's other features)

router.include_router(_extra.router)
