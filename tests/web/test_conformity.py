"""A camera system's compliance on the overviews is the clause-by-clause judgement of its newest
scan against the regulation in force (not a share of devices), and an attestation moves it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from camaudit.store import conformity, orgs, systems, users
from camaudit.store import attestations as attestations_svc
from camaudit.store.platform_models import User
from camaudit.workers.jobs import apply_findings


def _principal(world: Any, username: str) -> Any:
    with world.platform.system("t") as db:
        uid = db.session.scalar(select(User.id).where(User.username == username))
    return users.principal(world.platform, uid)


def test_systems_are_judged_on_their_newest_scan_and_attestations_move_the_judgement(world: Any) -> None:
    p = world.platform
    older, newer = world.scans["A11"]
    apply_findings(p, newer, actor="t")  # applied already: the findings do not change; the system is judged
    with p.system("t", "system:read") as db:
        judged = systems.get(db, world.system["A11"])
    c = judged["compliance"]
    assert c is not None and c["scan_id"] == newer
    # the regulation in force on the scan's day; the lab host logs in with a factory password
    assert c["catalogue"] and c["counts"].get("fail", 0) >= 1
    assert 0 < c["considered"] and c["passed"] < c["considered"]
    assert judged["compliance_pct"] == round(100.0 * c["passed"] / c["considered"], 1)

    # an older scan never overwrites the judgement of a newer one
    with p.system("t") as db:
        assert conformity.judge_scan(db.session, p.store, older) is None

    # the overview adds up the systems' clauses: A11 is judged, A12 is not (None, not 100 % or 0 %)
    who = _principal(world, world.role_user["steering_officer"])
    with p.scoped(who, "finding:read") as db:
        rows = {r["id"]: r for r in orgs.overview(db, world.org["D1"])}
    assert rows[world.org["A11"]]["compliance_pct"] == judged["compliance_pct"]
    assert rows[world.org["A11"]]["systems_judged"] == 1
    assert rows[world.org["A11"]]["clauses_failed"] == c["counts"]["fail"] >= 1
    assert rows[world.org["A12"]]["compliance_pct"] is None

    # an attestation of a clause that waits for one turns it into a pass, at once
    waiting = _clause_waiting_for_attestation(p, newer)
    assert waiting is not None, "the regulation in force has clauses only an attestation can settle"
    operator = _principal(world, world.role_user["agency_operator"])
    with p.scoped(operator, "attestation:write") as db:
        attestations_svc.add(db, world.device["A11"], clause=waiting, verdict="pass", note="policy published",
                             evidence_name="policy.pdf", evidence_sha256="0" * 64, evidence_size=10,
                             store=p.store)
    with p.system("t", "system:read") as db:
        after = systems.get(db, world.system["A11"])["compliance"]
    assert after["passed"] == c["passed"] + 1
    assert after["counts"].get("attestation", 0) == c["counts"].get("attestation", 0) - 1


def _clause_waiting_for_attestation(p: Any, scan_id: str) -> str | None:
    from camaudit.compliance.verdicts import assess_document

    a = assess_document(p.store.report_document(scan_id), conformity.PROFILE, [], "en")
    head = next(c for c in a["catalogues"] if c["role"] == "binding")
    return next((c["clause"] for c in a["system"]["clauses"]
                 if c["catalogue"] == head["id"] and c["status"] == "attestation"), None)


def test_the_tick_judges_systems_never_judged(world: Any) -> None:
    """A database from before judgements were kept: every system gets one from its newest scan."""
    from camaudit.workers.jobs import tick

    p = world.platform
    with p.system("t", "system:read") as db:
        assert all(systems.get(db, world.system[k])["compliance"] is None for k in world.system)
    tick(p, lambda scan_id: None)
    with p.system("t", "system:read") as db:
        judged = {k: systems.get(db, world.system[k])["compliance"] for k in world.system}
    assert all(j is not None and j["scan_id"] == world.scans[k][1] for k, j in judged.items()), judged


def test_the_agency_page_shows_the_judgement_the_overview_counts(world: Any, db_url: str) -> None:
    """One judgement shown everywhere: the agency page's clause counts and percentage are the
    system's stored judgement (the overview's number), not a second computation."""
    import re

    from fastapi.testclient import TestClient
    from platform_world import PASSWORD

    from camaudit.web.app import create_app
    from camaudit.web.settings import Settings

    from camaudit.store.platform_models import CameraSystem

    p = world.platform
    apply_findings(p, world.scans["A11"][1], actor="t")
    # the judgement as a worker of another day left it (a count no live computation of this
    # scan would give): the page must show this one
    with p.system("t") as db, db.action("test.judgement"):
        system = db.session.get(CameraSystem, world.system["A11"])
        c = {**system.compliance, "counts": {"pass": 7, "fail": 3, "attestation": 5, "na": 2}, "passed": 7,
             "considered": 15}
        system.compliance, system.compliance_passed, system.compliance_considered = c, 7, 15
    app = create_app(Settings(db_url=db_url, inproc_worker=False))
    with TestClient(app, base_url="https://testserver") as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = client.post("/login", data={"username": "member_A11", "password": PASSWORD, "csrf_token": token, "next": "/"},
                        follow_redirects=False)
        assert r.status_code == 303
        html = client.get(f"/orgs/{world.org['A11']}?lang=en").text
    section = html[html.index('id="h-compliance"'):html.index('id="h-findings"')]
    assert c["code"] in section
    pct = f"{round(100.0 * c['passed'] / c['considered'], 1):g}"
    assert pct in section, (pct, section)
    cells = dict(re.findall(r"<tr><td>([^<]+)</td><td class=\"num\">(\d+)</td></tr>", section))
    assert int(cells["Fail"]) == c["counts"].get("fail", 0) and int(cells["Pass"]) == c["counts"].get("pass", 0)
