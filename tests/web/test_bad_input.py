"""Bad input gets a clear error and changes nothing: an out-of-scope target, an unknown
organisation id, oversized uploads, a forged or missing token, a locked login."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from platform_world import PASSWORD, World
from sqlalchemy import func, select

from camaudit.store import audit, users
from camaudit.store.access import PERMS
from camaudit.store.models import AttestationRow, Scan
from camaudit.store.platform_models import LoginThrottle, User
from camaudit.web.app import create_app
from camaudit.web.settings import Settings, SettingsError


def _token(w: World, role: str = "admin", scopes: list[str] | None = None) -> str:
    p = w.platform
    with p.sessions() as s:
        uid = s.scalar(select(User.id).where(User.username == w.role_user[role]))
    with p.scoped(users.principal(p, uid), "org:read") as db:
        return users.create_token(db, name="t", scopes=scopes or list(PERMS))["token"]


def _state(w: World) -> tuple[int, int, int]:
    with w.platform.sessions() as s:
        scans = s.scalar(select(func.count()).select_from(Scan))
        atts = s.scalar(select(func.count()).select_from(AttestationRow))
        seq = audit.head_seq(s.connection())
    return scans, atts, seq


@pytest.fixture
def client(world, db_url):
    app = create_app(Settings(db_url=db_url, inproc_worker=False, max_upload=64 * 1024))
    with TestClient(app, base_url="https://testserver") as c:
        yield c


def test_out_of_scope_target_is_refused_before_queueing(world, client):
    h = {"Authorization": f"Bearer {_token(world)}", "Idempotency-Key": "out-of-scope-1"}
    before = _state(world)
    for targets in (["127.75.4.9"], ["127.75.2.0/23"], ["8.8.8.8"], ["/etc/passwd"], ["@/etc/hosts"],
                    ["camera.example.org"]):
        r = client.post(f"/api/v1/systems/{world.system['D1']}/scans", json={"targets": targets}, headers=h)
        assert r.status_code == 400, (targets, r.text)
        assert r.json()["detail"], r.text
    r = client.post(f"/api/v1/systems/{world.system['D1']}/scans", json={"targets": ["127.75.4.9"]}, headers=h)
    assert "outside the allowed scope" in r.json()["detail"] and "127.75.2.0/24" in r.json()["detail"]
    r = client.post(f"/api/v1/systems/{world.system['D1']}/scans", json={"options": {"ports": ["x"]}}, headers=h)
    assert r.status_code == 400 and "ports" in r.json()["detail"]
    r = client.post(f"/api/v1/systems/{world.system['D1']}/scans", json={}, headers={"Authorization": h["Authorization"]})
    assert r.status_code == 422  # no Idempotency-Key
    assert _state(world) == before


def test_idempotency_key_returns_the_same_scan(world, client):
    h = {"Authorization": f"Bearer {_token(world)}", "Idempotency-Key": "same-key-123"}
    a = client.post(f"/api/v1/systems/{world.system['D1']}/scans", json={}, headers=h)
    b = client.post(f"/api/v1/systems/{world.system['D1']}/scans", json={}, headers=h)
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] == b.json()["id"] and a.json()["created"] and not b.json()["created"]
    assert a.json()["status"] == "queued" and a.json()["hosts_total"] == 256
    # the organisation's rate (500/s) shared by the 2 scans it may run at once, applied when queued
    assert a.json()["options"]["rate"] == 250.0
    c = client.post(f"/api/v1/systems/{world.system['D1']}/scans", json={"options": {"rate": 10000}},
                    headers={**h, "Idempotency-Key": "other-key-456"})
    assert c.json()["options"]["rate"] == 250.0


def test_unknown_organisation_id_is_404_and_changes_nothing(world, client):
    h = {"Authorization": f"Bearer {_token(world)}"}
    before = _state(world)
    assert client.get("/api/v1/orgs/987654", headers=h).status_code == 404
    r = client.post("/api/v1/orgs/987654/systems", headers=h,
                    json={"name": "x", "ranges": ["127.75.2.0/28"], "authorisation_doc": "QĐ"})
    assert r.status_code == 404 and "organisation" in r.json()["detail"]
    assert client.post("/api/v1/orgs", headers=h, json={"name": "x", "parent_id": 987654}).status_code == 404
    assert client.get("/api/v1/orgs/not-a-number", headers=h).status_code == 422
    assert client.get("/api/v1/findings", params={"org_id": 987654}, headers=h).status_code == 404
    assert client.post("/api/v1/users/987654/grants", headers=h,
                       json={"org_id": world.org["D1"], "role": "agency_head"}).status_code == 404
    assert _state(world) == before


def test_oversized_uploads_are_refused_and_nothing_is_stored(world, client):
    h = {"Authorization": f"Bearer {_token(world)}"}
    url = f"/api/v1/devices/{world.device['D1']}/attestations"
    before = _state(world)
    big = b"x" * (64 * 1024 + 1)
    r = client.post(url, headers=h, data={"clause": "c", "verdict": "pass"},
                    files={"evidence": ("big.pdf", big, "application/pdf")})
    assert r.status_code == 413 and "larger" in r.json()["detail"]

    def chunks():  # no Content-Length: counted as it streams
        yield (b'--B0UND\r\nContent-Disposition: form-data; name="clause"\r\n\r\nc\r\n'
               b'--B0UND\r\nContent-Disposition: form-data; name="verdict"\r\n\r\npass\r\n'
               b'--B0UND\r\nContent-Disposition: form-data; name="evidence"; filename="e.pdf"\r\n'
               b"Content-Type: application/pdf\r\n\r\n")
        for _ in range(80):
            yield b"y" * 1024
        yield b"\r\n--B0UND--\r\n"

    r = client.post(url, headers={**h, "Content-Type": "multipart/form-data; boundary=B0UND"}, content=chunks())
    assert r.status_code == 413
    assert _state(world) == before
    small = client.post(url, headers=h, data={"clause": CLAUSE, "verdict": "pass"},
                        files={"evidence": ("ok.pdf", b"%PDF small", "application/pdf")})
    assert small.status_code == 201 and small.json()["evidence_size"] == 10
    bad = client.post(url, headers=h, data={"clause": "c", "verdict": "maybe"},
                      files={"evidence": ("ok.pdf", b"x", "application/pdf")})
    assert bad.status_code == 400 and "verdict" in bad.json()["detail"]
    # a clause the network decides, or one of no regulation the device is judged against: refused
    for clause in ("c", "QCVN-135:2.1", "qd724:authentication-management/default-lockout"):
        r = client.post(url, headers=h, data={"clause": clause, "verdict": "pass"},
                        files={"evidence": ("ok.pdf", b"x", "application/pdf")})
        assert r.status_code == 400 and "not a clause an attestation settles" in r.json()["detail"], (clause, r.text)


def test_bad_fields_get_clear_errors(world, client):
    h = {"Authorization": f"Bearer {_token(world)}"}
    before = _state(world)
    org = world.org["D1"]
    for ranges, word in ((["10.0.0.0/8"], "larger"), (["not-a-net"], "not an address range"),
                         (["224.0.0.0/24"], "never scanned"), ([], "at least one")):
        r = client.post(f"/api/v1/orgs/{org}/systems", headers=h,
                        json={"name": "n", "ranges": ranges, "authorisation_doc": "QĐ"})
        assert r.status_code == 400 and word in r.json()["detail"], r.text
    r = client.post(f"/api/v1/systems/{world.system['D1']}/schedules", headers=h, json={"rrule": "FREQ=SOMETIMES"})
    assert r.status_code == 400 and "recurrence" in r.json()["detail"]
    r = client.post(f"/api/v1/systems/{world.system['D1']}/schedules", headers=h, json={"rrule": "FREQ=MINUTELY"})
    assert r.status_code == 400 and "once an hour" in r.json()["detail"]
    r = client.post(f"/api/v1/findings/{world.finding['D1']}/accept", headers=h,
                    json={"reason": "x", "until": "2001-01-01"})
    assert r.status_code == 400 and "future" in r.json()["detail"]
    r = client.post(f"/api/v1/findings/{world.finding['D1']}/accept", headers=h, json={"reason": " ", "until":
                    (dt.date.today() + dt.timedelta(days=9)).isoformat()})
    assert r.status_code == 400 and "reason" in r.json()["detail"]
    r = client.post("/api/v1/users", headers=h, json={"username": "short", "password": "123"})
    assert r.status_code == 400 and "at least" in r.json()["detail"]
    r = client.post("/api/v1/users/1/grants", headers=h, json={"org_id": org, "role": "king"})
    assert r.status_code in (400, 404)
    r = client.post("/api/v1/tokens", headers=h, json={"scopes": ["root"]})
    assert r.status_code == 400 and "scope" in r.json()["detail"]
    assert _state(world) == before


def test_api_refuses_cookies_on_writes_and_tokens_keep_to_their_scopes(world, client):
    page = client.get("/login")
    import re

    tok = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"username": world.role_user["admin"], "password": PASSWORD, "csrf_token": tok},
                    follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/api/v1/me").status_code == 200  # a cookie reads
    r = client.post("/api/v1/tokens", json={"scopes": ["org:read"]})  # but never writes
    assert r.status_code == 401
    ro = _token(world, "admin", ["system:read"])
    h = {"Authorization": f"Bearer {ro}", "Idempotency-Key": "scoped-token-1"}
    assert client.get(f"/api/v1/systems/{world.system['D1']}", headers=h).status_code == 200
    assert client.post(f"/api/v1/systems/{world.system['D1']}/scans", json={}, headers=h).status_code == 404
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer cam_forged"}).status_code == 401
    # a token never mints a token that does more than itself, nor beyond its user's roles
    narrow = {"Authorization": f"Bearer {_token(world, 'admin', ['org:read', 'system:read'])}"}
    viewer = {"Authorization": f"Bearer {_token(world, 'provincial_viewer', ['org:read', 'finding:read'])}"}
    before = _state(world)
    r = client.post("/api/v1/tokens", json={"name": "wider", "scopes": ["org:read", "scan:run"]}, headers=narrow)
    assert r.status_code == 400 and "scan:run" in r.json()["detail"] and "beyond" in r.json()["detail"]
    r = client.post("/api/v1/tokens", json={"name": "w", "scopes": ["system:write"]}, headers=viewer)
    assert r.status_code == 400 and "system:write" in r.json()["detail"]
    assert _state(world) == before
    # the caller's own tokens: listed without their secret, revoked; another user's is not found
    made = client.post("/api/v1/tokens", json={"name": "short-lived", "scopes": ["org:read"]}, headers=narrow).json()
    listed = client.get("/api/v1/tokens", headers=narrow).json()
    assert made["id"] in [t["id"] for t in listed] and all("token" not in t for t in listed)
    other = world.fresh_token(world.role_user["agency_operator"])
    assert client.delete(f"/api/v1/tokens/{other}", headers=narrow).status_code == 404
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {made['token']}"}).status_code == 200
    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=narrow).status_code == 204
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {made['token']}"}).status_code == 401


def test_login_lockout_five_failures_in_30_seconds_lock_for_5_minutes(world):
    p = world.platform
    name = world.role_user["agency_head"]
    t0 = dt.datetime(2026, 11, 28, 1, 0, tzinfo=dt.timezone.utc)
    for i in range(4):
        with pytest.raises(users.LoginRefused) as e:
            users.authenticate(p, name, "wrong password", now=t0 + dt.timedelta(seconds=i))
        assert e.value.reason == "invalid"
    assert users.authenticate(p, name, PASSWORD, now=t0 + dt.timedelta(seconds=5))  # resets
    for i in range(5):
        with pytest.raises(users.LoginRefused):
            users.authenticate(p, name, "wrong password", now=t0 + dt.timedelta(seconds=10 + i))
    with pytest.raises(users.LoginRefused) as e:  # the right password, but locked
        users.authenticate(p, name, PASSWORD, now=t0 + dt.timedelta(seconds=20))
    assert e.value.reason == "locked"
    with pytest.raises(users.LoginRefused):
        users.authenticate(p, name, PASSWORD, now=t0 + dt.timedelta(seconds=14 + 299))
    assert users.authenticate(p, name, PASSWORD, now=t0 + dt.timedelta(seconds=14 + 301))
    # failures spread over more than 30 s never lock
    for i in range(8):
        with pytest.raises(users.LoginRefused) as e:
            users.authenticate(p, name, "wrong", now=t0 + dt.timedelta(minutes=20, seconds=8 * i))
        assert e.value.reason == "invalid"
    # unknown names lock the same way (no way to tell which names exist)
    for i in range(6):
        with pytest.raises(users.LoginRefused):
            users.authenticate(p, "nobody-here", "x", now=t0 + dt.timedelta(seconds=i))
    with p.sessions() as s:
        assert s.get(LoginThrottle, "nobody-here").locked_until is not None
    assert p.verify_audit().ok


def test_weak_secret_key_is_refused():
    for weak in ("changeme", "short", ""):
        with pytest.raises(SettingsError):
            Settings(secret_key=weak)


# -- the pages' forms: schedules, attestations, tokens, the delta ----------------------------------

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'
CLAUSE = "qcvn11-2026-bca:recovery/overall"  # judged by attestation only


def _page_login(client, username: str) -> str:
    import re

    tok = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": tok},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/tokens")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _counts(w: World) -> tuple[int, int, int, int]:
    from camaudit.store.platform_models import ApiToken, Schedule

    with w.platform.sessions() as s:
        return (s.scalar(select(func.count()).select_from(Schedule)),
                s.scalar(select(func.count()).select_from(AttestationRow)),
                s.scalar(select(func.count()).select_from(ApiToken)), audit.head_seq(s.connection()))


def test_page_forms_refuse_bad_input_and_change_nothing(world, client):
    csrf = _page_login(client, world.role_user["agency_head"])
    system, device = world.system["D1"], world.device["D1"]
    before = _counts(world)
    # a forged or missing CSRF token, on every new form
    for url, kw in ((f"/systems/{system}/schedules", {"data": {"preset": "weekly"}}),
                    (f"/schedules/{world.schedule['D1']}/delete", {"data": {}}),
                    (f"/devices/{device}/attestations",
                     {"data": {"clause": CLAUSE, "verdict": "pass"}, "files": {"evidence": ("e.pdf", b"%PDF", "x")}}),
                    ("/tokens", {"data": {"name": "t", "scopes": ["org:read"], "days": "30"}})):
        for token in (None, "forged"):
            data = dict(kw["data"], **({"csrf_token": token} if token else {}))
            r = client.post(url, data=data, files=kw.get("files"), follow_redirects=False)
            assert r.status_code == 403, (url, token, r.status_code)
    assert _counts(world) == before
    # invalid recurrence rules: a clear error, the typed rule kept (escaped), nothing stored
    client.cookies.set("lang", "en")
    for rule, word in (("FREQ=SOMETIMES", "refused"), ("FREQ=MINUTELY", "once an hour"), ("", "recurrence rule"),
                       (EVIL, "refused"), ("x" * 501, "500")):
        r = client.post(f"/systems/{system}/schedules", data={"preset": "custom", "rrule": rule, "csrf_token": csrf})
        assert r.status_code == 422 and word in r.text, (rule, r.status_code)
        assert "<script>alert" not in r.text
    r = client.post(f"/systems/{system}/schedules", data={"preset": "hourly!", "csrf_token": csrf})
    assert r.status_code == 422
    r = client.post(f"/systems/{system}/schedules", data={"preset": "custom", "rrule": EVIL, "csrf_token": csrf})
    assert "&lt;script&gt;alert" in r.text
    # attestations: a clause not offered, a wrong verdict, no file, an empty file
    url = f"/devices/{device}/attestations"
    for data, files in (({"clause": "QCVN-135:2.1", "verdict": "pass"}, {"evidence": ("e.pdf", b"%PDF", "x")}),
                        ({"clause": CLAUSE, "verdict": "maybe"}, {"evidence": ("e.pdf", b"%PDF", "x")}),
                        ({"clause": CLAUSE, "verdict": "pass"}, None),
                        ({"clause": CLAUSE, "verdict": "pass"}, {"evidence": ("e.pdf", b"", "x")}),
                        ({"clause": CLAUSE, "verdict": "pass", "note": "n" * 2001}, {"evidence": ("e.pdf", b"1", "x")})):
        r = client.post(url, data={**data, "csrf_token": csrf}, files=files)
        assert r.status_code == 422 and 'class="errors"' in r.text, (data, r.status_code)
    # an oversized evidence file: the upload limit of the API, a page saying so, nothing stored
    r = client.post(url, data={"clause": CLAUSE, "verdict": "pass", "csrf_token": csrf},
                    files={"evidence": ("big.pdf", b"x" * (64 * 1024 + 1), "application/pdf")})
    assert r.status_code == 413 and "text/html" in r.headers["content-type"] and "MiB" in r.text
    # tokens: a scope the user does not hold (agency head: no user:admin), an unknown one, no name
    for data in ({"name": "t", "scopes": ["user:admin"], "days": "30"}, {"name": "t", "scopes": ["root"], "days": "30"},
                 {"name": "t", "scopes": [], "days": "30"}, {"name": "", "scopes": ["org:read"], "days": "30"},
                 {"name": "t", "scopes": ["org:read"], "days": "100000"}):
        r = client.post("/tokens", data={**data, "csrf_token": csrf})
        assert r.status_code == 422 and 'class="errors"' in r.text, data
        assert "cam_" not in r.text
    # someone else's token, a schedule or device of another organisation, another system's scan: 404
    other = world.fresh_token(world.role_user["admin"])
    before = _counts(world)
    assert client.post(f"/tokens/{other}/revoke", data={"csrf_token": csrf}).status_code == 404
    assert client.post(f"/schedules/{world.schedule['D2']}/delete", data={"csrf_token": csrf}).status_code == 404
    assert client.post(f"/devices/{world.device['D2']}/attestations", data={"clause": CLAUSE, "verdict": "pass",
                       "csrf_token": csrf}, files={"evidence": ("e.pdf", b"1", "x")}).status_code == 404
    assert client.get(f"/systems/{system}/delta?base={world.scans['A11'][0]}").status_code == 404
    assert client.get(f"/systems/{system}/delta?scan={world.scans['D2'][0]}").status_code == 404
    assert _counts(world) == before


def test_page_flows_store_escape_and_count_attestations(world, client):
    csrf = _page_login(client, world.role_user["agency_head"])
    system, device = world.system["D1"], world.device["D1"]
    client.cookies.set("lang", "en")
    # the clause table of the system page: the clause waits for evidence...
    page = client.get(f"/systems/{system}")
    assert page.status_code == 200
    import re

    def row(html: str) -> str:
        m = re.search(r"<tr><td>Self-recovery after an incident</td><td>(.*?)</td>", html)
        assert m, "the clause is not in the clause table"
        return m.group(1)

    assert "Needs evidence" in row(page.text)
    before = _counts(world)
    r = client.post(f"/devices/{device}/attestations", follow_redirects=False,
                    data={"clause": CLAUSE, "verdict": "pass", "note": EVIL, "csrf_token": csrf},
                    files={"evidence": (f"{EVIL}.pdf", b"%PDF-1.4 evidence", "application/pdf")})
    assert r.status_code == 303, r.text
    after = _counts(world)
    assert after[1] == before[1] + 1 and after[3] > before[3]  # stored and audited
    page = client.get(f"/devices/{device}")
    assert "&lt;script&gt;alert" in page.text and "<script>alert" not in page.text
    assert "Self-recovery after an incident" in page.text and "Met (pass)" in page.text
    # ... and passes once attested (the cached assessment of the scan is not served stale)
    assert "Pass" in row(client.get(f"/systems/{system}").text)
    # a schedule from a preset, shown with its next runs in Vietnam's time, then deleted
    r = client.post(f"/systems/{system}/schedules", data={"preset": "quarterly", "csrf_token": csrf},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get(f"/systems/{system}/schedules")
    assert "Every quarter" in page.text and "02:00" in page.text
    ids = re.findall(r'action="/schedules/(\d+)/delete"', page.text)
    assert len(ids) == 2  # the world's and the new one
    r = client.post(f"/schedules/{ids[-1]}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert len(re.findall(r'action="/schedules/(\d+)/delete"', client.get(f"/systems/{system}/schedules").text)) == 1
    # the delta of the world's two scans: the same finding in both, nothing new, nothing fixed
    page = client.get(f"/systems/{system}/delta")
    assert page.status_code == 200
    assert re.search(r'data-testid="delta-persisting">\s*<caption>Still open \(1\)', page.text), page.text[:3000]
    assert re.search(r'data-testid="delta-new">\s*<caption>New findings \(0\)', page.text)
    # a token with a hostile name: shown once, escaped, listed, revoked
    r = client.post("/tokens", data={"name": EVIL, "scopes": ["org:read", "scan:read"], "days": "30",
                                     "csrf_token": csrf})
    assert r.status_code == 200 and "no-store" in r.headers["cache-control"]
    raw = re.search(r'value="(cam_[^"]+)"', r.text).group(1)
    assert "&lt;script&gt;alert" in r.text and "<script>alert" not in r.text
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    tid = re.search(r'action="/tokens/(\d+)/revoke"', r.text).group(1)
    assert raw not in client.get("/tokens").text  # shown once
    assert client.post(f"/tokens/{tid}/revoke", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    assert "Revoked" in client.get("/tokens").text
