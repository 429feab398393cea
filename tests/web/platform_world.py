"""Platform tests: a migrated database (SQLite or PostgreSQL) with a small province in it.

World: P → D1, D2; D1 → A11, A12; D2 → A21, A22.  Every organisation has a camera system
(127.75.<i>.0/24), a device, two finished scans with a finding, a tracked finding, a schedule
and a user; every name carries a canary "CANARY-<org>" so a leak shows in any response."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from camaudit.model import DeviceKind, Finding, HostResult, Identity, Severity
from camaudit.store import admin, schedules, users
from camaudit.store.access import ROLES
from camaudit.store.lifecycle import apply_scan
from camaudit.store.platform import Platform
from camaudit.store.platform_models import CameraSystem, Organisation, TrackedFinding
from pgtest import create_db, drop_db

ORGS = ["P", "D1", "D2", "A11", "A12", "A21", "A22"]
TREE = {"P": None, "D1": "P", "D2": "P", "A11": "D1", "A12": "D1", "A21": "D2", "A22": "D2"}
PASSWORD = "correct horse battery"

# Argon2 with the recommended cost takes ~0.5 s a hash on a busy test machine; the tests make
# dozens of users, so they hash with a cheap Argon2 (the production hasher is unchanged).
from pwdlib import PasswordHash  # noqa: E402
from pwdlib.hashers.argon2 import Argon2Hasher  # noqa: E402

users.HASHER = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),))
users._DUMMY = users.HASHER.hash("dummy")


@pytest.fixture(params=["sqlite", "postgresql"], name="db_url")
def db_url_fixture(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'platform.sqlite'}"
        return
    url = create_db("camaudit_web")
    yield url
    drop_db(url)


def host(addr: str, check: str = "default-credentials", port: int = 80) -> HostResult:
    h = HostResult(address=addr, open_ports=[port])
    h.identity = Identity(vendor="Hikvision", model="DS-2CD2032-I", firmware="V5.4.1", kind=DeviceKind.CAMERA,
                          confidence=0.9)
    h.checks_run = [check, "rtsp-anonymous"]
    h.findings.append(Finding(check, addr, Severity.CRITICAL, port=port, protocol="http",
                              evidence={"username": "admin"}, clauses=["ETSI-EN-303-645:5.1-1"]))
    return h


@dataclass
class World:
    platform: Platform
    org: dict[str, int] = field(default_factory=dict)
    system: dict[str, int] = field(default_factory=dict)
    device: dict[str, int] = field(default_factory=dict)
    scans: dict[str, list[str]] = field(default_factory=dict)
    finding: dict[str, int] = field(default_factory=dict)
    schedule: dict[str, int] = field(default_factory=dict)
    user: dict[str, int] = field(default_factory=dict)
    grant: dict[str, int] = field(default_factory=dict)
    role_user: dict[str, str] = field(default_factory=dict)  # role -> username (granted on D1)
    n: int = 0

    def subnet(self, key: str) -> str:
        return f"127.75.{ORGS.index(key) + 1}.0/24"

    def next(self) -> int:
        self.n += 1
        return self.n

    def fresh_token(self, username: str) -> int:
        """A new API token of ``username`` (its own object: only it may revoke it)."""
        from camaudit.store.platform_models import User

        p = self.platform
        with p.sessions() as s:
            uid = s.scalar(select(User.id).where(User.username == username))
        with p.scoped(users.principal(p, uid), "org:read") as db:
            return users.create_token(db, name=f"fresh {self.next()}", scopes=["org:read"])["id"]

    # fresh objects for a write that may consume them (delete, decide)
    def fresh(self, key: str, kind: str, **kw: Any) -> Any:
        p, oid = self.platform, self.org[key]
        n = self.next()
        if kind == "system_id":
            from camaudit.store import systems
            with p.system("seed", "system:write") as db:
                return systems.create(db, oid, name=f"Fresh {n} CANARY-{key}", ranges=[self.subnet(key)],
                                      authorisation_doc="QĐ")["id"]
        if kind == "schedule_id":
            with p.system("seed", "scan:run") as db:
                return schedules.create(db, self.system[key], rrule="FREQ=MONTHLY;BYDAY=1MO")["id"]
        if kind == "finding_id":
            with p.system("seed") as db, db.action("test.seed"):
                t = TrackedFinding(org_id=oid, system_id=self.system[key], device_id=self.device[key],
                                   check_id=f"fresh-{n}", service="http:80", address="127.75.0.1",
                                   severity="high", status=kw.get("status", "open"), evidence={},
                                   first_scan_id="", last_scan_id="", reopened_count=0, reason="", decided_by="")
                db.session.add(t)
                db.session.flush()
                return t.id
        if kind in ("user_id", "grant_id"):
            with p.system("seed", "user:admin") as db:
                u = users.create_user(db, username=f"fresh{n}", password=PASSWORD)
                g = users.grant(db, user_id=u["id"], org_id=oid, role="agency_operator")
            return u["id"] if kind == "user_id" else g["id"]
        raise KeyError(kind)


def build_world(url: str) -> World:
    p = Platform(url)
    w = World(p)

    def tree(key: str) -> dict[str, Any]:
        return {"name": f"Org {key} CANARY-{key}", "commune": f"Xã {key}",
                "children": [tree(k) for k, parent in TREE.items() if parent == key]}

    made = admin.apply(p, {"organisations": [tree("P")]})
    for k in ORGS:
        w.org[k] = made["organisations"][f"Org {k} CANARY-{k}"]
    data: dict[str, Any] = {"users": [], "systems": []}
    for k in ORGS:
        data["systems"].append({"org": f"Org {k} CANARY-{k}", "name": f"Sys {k} CANARY-{k}",
                                "ranges": [w.subnet(k)], "authorisation_doc": f"QĐ {k}", "cameras": 3})
        data["users"].append({"username": f"member_{k}", "password": PASSWORD,
                              "grants": [{"role": "agency_operator", "org": f"Org {k} CANARY-{k}"}]})
    for role in ROLES:
        data["users"].append({"username": f"r_{role}", "password": PASSWORD, "display_name": f"Role {role}",
                              "grants": [{"role": role, "org": "Org D1 CANARY-D1"}]})
        w.role_user[role] = f"r_{role}"
    made = admin.apply(p, data)
    for k in ORGS:
        w.system[k] = made["systems"][f"Sys {k} CANARY-{k}"]
        w.user[k] = made["users"][f"member_{k}"]
    with p.sessions() as s:
        from camaudit.store.platform_models import RoleGrant
        for k in ORGS:
            w.grant[k] = s.scalar(select(RoleGrant.id).where(RoleGrant.user_id == w.user[k]))
    for k in ORGS:
        addr = w.subnet(k).replace(".0/24", ".5")
        w.scans[k] = []
        for _ in range(2):
            sid = p.store.create_scan(targets=[w.subnet(k)], options={}, operator="seed", tool_version="t",
                                      knowledge_version="k", hosts_total=1, org_id=w.org[k], system_id=w.system[k])
            h = host(addr)
            h.hostname = f"cam-CANARY-{k}"
            p.store.record_host(sid, h, addr)
            p.store.set_status(sid, "finished")
            with p.system("seed") as db, db.action("finding.apply_scan"):
                apply_scan(db.session, sid)
            w.scans[k].append(sid)
        with p.sessions() as s:
            from camaudit.store.models import Device
            w.device[k] = s.scalar(select(Device.id).where(Device.system_id == w.system[k]))
            w.finding[k] = s.scalar(select(TrackedFinding.id).where(TrackedFinding.system_id == w.system[k]))
        w.schedule[k] = w.fresh(k, "schedule_id")
    with p.sessions() as s:
        assert s.scalar(select(Organisation.id).where(Organisation.id == w.org["A22"])) is not None
        assert len(s.scalars(select(CameraSystem.id)).all()) == len(ORGS) + 1  # + the local system
    return w


@pytest.fixture(name="world")
def world_fixture(db_url):
    w = build_world(db_url)
    yield w
    verdict = w.platform.verify_audit()  # after every test: the audit chain still verifies
    w.platform.close()
    assert verdict.ok, verdict.problem
