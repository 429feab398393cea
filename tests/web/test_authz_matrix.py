"""The authorisation matrix: every route (walked from FastAPI's route tree, API and pages) ×
every role (granted on D1) × own (D1) / child (A11) / sibling (D2) / parent (P) organisation.

Allowed (the route's permission is in the role's and the target lies in D1's subtree) expects a
2xx/3xx; anything else expects 404.  Every 2xx body is searched for the canaries of the
organisations outside D1's subtree; a refused write must leave the audit head unchanged and an
allowed API write must add an audit event; the chain verifies at the end.  Writes get fresh
objects (a deleted schedule, a decided finding) so no cell depends on another's order."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select

from camaudit.store import audit, users
from camaudit.store.access import PERMS, ROLE_PERMS, ROLES
from camaudit.store.platform_models import WebSession
from camaudit.web.app import create_app
from camaudit.web.routing import PUBLIC
from camaudit.web.settings import Settings
from platform_world import PASSWORD, World

TARGETS = {"own": "D1", "child": "A11", "sibling": "D2", "parent": "P"}
INSIDE = {"D1", "A11", "A12"}
OUTSIDE = ["P", "D2", "A21", "A22"]
ORG_PARAMS = {"org_id", "system_id", "device_id", "scan_id", "other_id", "finding_id", "schedule_id", "user_id",
              "grant_id"}
FIXED_PARAMS = {"by": "vendor", "fmt": "html", "path": None}
OWN_PARAMS = {"token_id"}  # the caller's own objects (not an organisation's): a fresh one per cell
CLAUSE = "qcvn11-2026-bca:recovery/overall"  # a clause judged by attestation (the page offers only those)
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def route_table(app) -> list[tuple[str, str, str | None]]:
    """(method, path, permission) for every route in the tree; fails on a route with neither a
    permission marker nor a place in PUBLIC, and on an OpenAPI path the walk did not see."""
    rows, missing = [], []
    for rc in iter_route_contexts(app.routes):
        path, methods = rc.path_format, rc.methods
        if path is None or path.startswith("/static"):
            continue
        dependant = getattr(rc, "dependant", None)
        perms: list[str] = []

        def walk(d: Any) -> None:
            for sub in d.dependencies:
                if hasattr(sub.call, "perm"):
                    perms.append(sub.call.perm)
                walk(sub)

        if dependant is not None:
            walk(dependant)
        for m in methods or ():
            if (m, path) in PUBLIC:
                continue
            if len(set(perms)) != 1:
                missing.append(f"{m} {path}: permission markers {perms}")
                continue
            rows.append((m, path, perms[0]))
    assert not missing, "routes without exactly one scoped_for permission:\n" + "\n".join(missing)
    seen = {p for _, p, _ in rows} | {p for _, p in PUBLIC}
    unseen = set(app.openapi()["paths"]) - seen
    assert not unseen, f"OpenAPI paths the route walk did not see: {unseen}"
    assert len(rows) > 40, rows  # the walk found the included routers (not a vacuous pass)
    return rows


def _login(client: TestClient, username: str) -> None:
    page = client.get("/login")
    tok = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert tok, "the login form carries a CSRF token"
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": tok.group(1)},
                    follow_redirects=False)
    assert r.status_code == 303 and "error" not in r.headers["location"], r.headers


def _body(w: World, method: str, path: str, target: str) -> dict[str, Any]:
    """json= / data= / files= / headers= for a write that is valid when allowed."""
    n = w.next()
    until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    api = path.startswith("/api/")
    if path == "/api/v1/orgs":
        return {"json": {"name": f"New {n}", "parent_id": w.org[target]}}
    if path.endswith("/systems") and method == "POST":
        fields = {"name": f"New system {n}", "ranges": [f"127.75.{100 + n % 100}.0/28"], "authorisation_doc": "QĐ"}
        if api:
            return {"json": fields}
        return {"data": {"name": fields["name"], "ranges": fields["ranges"][0], "authorisation": "QĐ"}}
    if method == "PATCH":
        return {"json": {"cameras": 7}}
    if path.endswith("/attestations"):
        return {"data": {"clause": CLAUSE, "verdict": "pass"},
                "files": {"evidence": ("evidence.pdf", b"%PDF-1.4 test", "application/pdf")}}
    if path.endswith("/scans") and method == "POST":
        if api:
            return {"json": {"targets": [w.subnet(target).replace("0/24", "7")]},
                    "headers": {"Idempotency-Key": f"matrix-{n}-key"}}
        return {"data": {"request_key": f"matrix-{n}"}}
    if path.endswith("/schedules"):
        return {"json": {"rrule": "FREQ=MONTHLY;BYDAY=1MO"}} if api else \
            {"data": {"preset": "custom", "rrule": "FREQ=MONTHLY;BYDAY=1MO"}}
    if path.endswith("/accept"):
        return {"json": {"reason": "compensating control", "until": until}} if api else \
            {"data": {"reason": "compensating control", "until": until}}
    if path.endswith(("/false-positive", "/reopen")):
        return {"json": {"reason": "checked by hand"}} if api else {"data": {"reason": "checked by hand"}}
    if path == "/api/v1/users":
        return {"json": {"username": f"newuser{n}", "password": PASSWORD}}
    if path.endswith("/grants"):
        return {"json": {"org_id": w.org[target], "role": "provincial_viewer"}}
    if path == "/api/v1/tokens":
        return {"json": {"scopes": ["org:read"]}}
    if path == "/tokens":
        return {"data": {"name": f"matrix {n}", "scopes": ["org:read"], "days": "30"}}
    if path.endswith(("/delete", "/revoke")):
        return {}
    if method == "DELETE":
        return {}
    raise AssertionError(f"no request body known for {method} {path}")


def _targets(method: str, path: str) -> list[str]:
    params = set(re.findall(r"{(\w+)}", path))
    if params & ORG_PARAMS or path in ("/api/v1/orgs", "/api/v1/findings") and (method == "POST" or "findings" in path) \
            or path.startswith("/api/v1/stats/") or (path.endswith("/grants") and method == "POST"):
        return list(TARGETS)
    return ["none"]


def _token_with_every_scope(plat, user_id: int) -> str:
    import secrets

    from camaudit.store.platform_models import ApiToken

    raw = "cam_" + secrets.token_urlsafe(32)
    with plat.system("matrix") as db, db.action("test.token"):
        db.session.add(ApiToken(user_id=user_id, name="matrix", token_hash=users._sha(raw), scopes=sorted(PERMS)))
    return raw


def test_authorisation_matrix(world: World, db_url: str) -> None:
    w = world
    app = create_app(Settings(db_url=db_url, inproc_worker=False))
    failures: list[str] = []
    with TestClient(app, base_url="https://testserver") as anon:
        routes = route_table(app)
        plat = app.state.platform
        tokens, pages = {}, {}
        for role in ROLES:
            uname = w.role_user[role]
            with plat.sessions() as s:
                from camaudit.store.platform_models import User
                uid = s.scalar(select(User.id).where(User.username == uname))
            # a token with every scope (as one minted before scopes were checked against the roles):
            # what it may do must still be exactly what its user's roles allow
            tokens[role] = _token_with_every_scope(plat, uid)
            c = TestClient(app, base_url="https://testserver")
            _login(c, uname)
            with plat.sessions() as s:
                csrf = s.scalars(select(WebSession.csrf_token).where(WebSession.user_id == uid)
                                 .order_by(WebSession.created_at.desc())).first()
            pages[role] = (c, csrf)

        def head() -> int:
            with plat.engine.connect() as conn:
                return audit.head_seq(conn)

        cells = 0
        for method, path, perm in routes:
            params = re.findall(r"{(\w+)}", path)
            unknown = [p for p in params if p not in ORG_PARAMS and p not in FIXED_PARAMS and p not in OWN_PARAMS]
            assert not unknown, f"{method} {path}: the matrix does not know path parameters {unknown}"
            for target_name in _targets(method, path):
                target = TARGETS.get(target_name, "D1")
                for role in ROLES:
                    cells += 1
                    values: dict[str, Any] = {}
                    for p in params:
                        if p in FIXED_PARAMS:
                            values[p] = FIXED_PARAMS[p]
                        elif p == "token_id":
                            values[p] = w.fresh_token(w.role_user[role])
                        elif method in UNSAFE and p in ("system_id", "finding_id", "schedule_id", "user_id",
                                                        "grant_id"):
                            values[p] = w.fresh(target, p, status="accepted" if path.endswith("/reopen") else "open")
                        elif p == "scan_id":
                            values[p] = w.scans[target][0]
                        elif p == "other_id":
                            values[p] = w.scans[target][1]
                        else:
                            values[p] = getattr(w, p.removesuffix("_id"))[target]
                    url = path.format(**values)
                    query = {}
                    if target_name != "none" and path in ("/api/v1/findings",) or path.startswith("/api/v1/stats/"):
                        query["org_id"] = w.org[target]
                    kw = _body(w, method, path, target) if method in UNSAFE else {}
                    headers = dict(kw.pop("headers", {}))
                    if path.startswith("/api/"):
                        client = anon
                        headers["Authorization"] = f"Bearer {tokens[role]}"
                    else:
                        client, csrf = pages[role]
                        if method in UNSAFE:
                            headers["X-CSRF-Token"] = csrf
                    before = head()
                    r = client.request(method, url, params=query, headers=headers, follow_redirects=False, **kw)
                    after = head()
                    allowed = perm in ROLE_PERMS[role] and (target_name == "none" or target in INSIDE)
                    where = f"{role:17} {target_name:7} {method:6} {url}"
                    if allowed and r.status_code >= 400:
                        failures.append(f"{where}: expected success, got {r.status_code} {r.text[:160]}")
                    elif not allowed and r.status_code != 404:
                        failures.append(f"{where}: expected 404, got {r.status_code} {r.text[:160]}")
                    if r.status_code < 300:
                        body = r.text
                        for k in OUTSIDE:
                            if f"CANARY-{k}" in body:
                                failures.append(f"{where}: response shows CANARY-{k}")
                    if not allowed and after != before:
                        failures.append(f"{where}: refused but the audit log grew {before} -> {after}")
                    if allowed and method in UNSAFE and path.startswith("/api/") and after == before:
                        failures.append(f"{where}: allowed write left no audit event")
        for c, _ in pages.values():
            c.close()
        v = plat.verify_audit()
        assert v.ok, v.problem
    assert cells > 800, cells
    assert not failures, f"{len(failures)} of {cells} cells wrong:\n" + "\n".join(failures[:80])


def test_forged_csrf_is_refused_even_for_an_administrator(world: World, db_url: str) -> None:
    app = create_app(Settings(db_url=db_url, inproc_worker=False))
    with TestClient(app, base_url="https://testserver") as c:
        _login(c, world.role_user["admin"])
        plat = app.state.platform
        own_token = world.fresh_token(world.role_user["admin"])
        with plat.engine.connect() as conn:
            before = audit.head_seq(conn)
        for token in (None, "forged-token-value"):
            data = {"name": "Forged", "ranges": "127.75.2.0/28", "authorisation": "QĐ"}
            if token:
                data["csrf_token"] = token
            r = c.post(f"/orgs/{world.org['D1']}/systems", data=data, follow_redirects=False)
            assert r.status_code == 403, r.text
            assert "token" in r.json()["detail"]
        r = c.post("/logout", data={"csrf_token": "nope"}, follow_redirects=False)
        assert r.status_code == 403
        unsafe_pages = [(m, p) for m, p, _ in route_table(app) if m in UNSAFE and not p.startswith("/api/")]
        assert len(unsafe_pages) >= 4, unsafe_pages
        ids = {"token_id": own_token, "org_id": world.org["D1"], "system_id": world.system["D1"], "finding_id": world.finding["D1"],
               "scan_id": world.scans["D1"][0], "schedule_id": world.schedule["D1"], "device_id": world.device["D1"],
               "user_id": world.user["D1"], "grant_id": world.grant["D1"]}
        for method, path in unsafe_pages:  # every unsafe page route, with a valid form but no token
            r = c.request(method, path.format(**{k: v for k, v in ids.items() if "{" + k + "}" in path}),
                          data={"reason": "x", "until": "2099-01-01", "name": "x"}, follow_redirects=False)
            assert r.status_code == 403, (method, path, r.status_code)
        with plat.engine.connect() as conn:
            assert audit.head_seq(conn) == before
