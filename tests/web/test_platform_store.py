"""The platform's store on SQLite and PostgreSQL: findings lifecycle, deadlines, delta, device
keys per system, the audit chain, scan leases and limits, schedules, aggregates, migration."""

from __future__ import annotations

import ast
import datetime as dt
import uuid
from pathlib import Path

import pytest
from platform_world import host
from sqlalchemy import create_engine, select, text, update

from camaudit.model import HostResult
from camaudit.store import admin, findings, lease, orgs, scans, schedules, stats, systems
from camaudit.store.access import Principal
from camaudit.store.audit import AuditError
from camaudit.store.lifecycle import apply_scan, deadline
from camaudit.store.models import Device, Scan
from camaudit.store.platform import Platform
from camaudit.store.platform_models import CameraSystem, Organisation, Schedule, TrackedFinding

UTC = dt.timezone.utc
SRC = Path(__file__).resolve().parents[2] / "src" / "camaudit"


@pytest.fixture
def plat(db_url):
    p = Platform(db_url)
    yield p
    p.close()


def _setup(p: Platform, level: int | None = 3) -> tuple[int, int]:
    made = admin.apply(p, {"organisations": [{"name": "Tỉnh", "children": [{"name": "Sở A"}, {"name": "Sở B"}]}],
                           "systems": [{"org": "Sở A", "name": "A", "ranges": ["127.75.20.0/24"],
                                        "authorisation_doc": "QĐ", "security_level": level},
                                       {"org": "Sở B", "name": "B", "ranges": ["127.75.20.0/24"],
                                        "authorisation_doc": "QĐ"}]})
    with p.sessions() as s:
        org = s.scalar(select(CameraSystem.org_id).where(CameraSystem.id == made["systems"]["A"]))
    return org, made["systems"]["A"]


def _scan(p: Platform, org: int, system: int, hosts: list[HostResult], when: dt.datetime) -> str:
    sid = p.store.create_scan(targets=["127.75.20.0/24"], options={}, operator="t", tool_version="t",
                              knowledge_version="k", hosts_total=len(hosts), org_id=org, system_id=system)
    for h in hosts:
        p.store.record_host(sid, h, h.address)
    with p.sessions() as s:
        s.execute(update(Scan).where(Scan.id == sid).values(status="finished", finished_at=when))
        s.commit()
    with p.system("test") as db, db.action("finding.apply_scan"):
        apply_scan(db.session, sid)
    return sid


def _tracked(p: Platform) -> TrackedFinding:
    with p.sessions() as s:
        rows = s.scalars(select(TrackedFinding)).all()
        assert len(rows) == 1, rows
        return rows[0]


def test_finding_lifecycle_open_fixed_reopened_accepted(plat):
    org, system = _setup(plat)
    t0 = dt.datetime(2026, 10, 1, 3, 0, tzinfo=UTC)
    a = "127.75.20.5"
    s1 = _scan(plat, org, system, [host(a)], t0)
    t = _tracked(plat)
    assert t.status == "open" and t.service == "http:80" and t.first_scan_id == s1
    assert t.due_at.replace(tzinfo=UTC) == t0 + dt.timedelta(days=4)  # critical 7 days, halved at level 3
    # a scan that did not run the check proves nothing
    quiet = HostResult(address=a, open_ports=[80])
    quiet.identity = host(a).identity
    quiet.checks_run = ["rtsp-anonymous"]
    _scan(plat, org, system, [quiet], t0 + dt.timedelta(days=1))
    assert _tracked(plat).status == "open"
    # the check re-ran and did not fire: fixed
    fixed = HostResult(address=a, open_ports=[80])
    fixed.identity = host(a).identity
    fixed.checks_run = ["default-credentials"]
    s3 = _scan(plat, org, system, [fixed], t0 + dt.timedelta(days=2))
    t = _tracked(plat)
    assert t.status == "fixed" and t.fixed_scan_id == s3
    # seen again: reopened, with a new deadline
    _scan(plat, org, system, [host(a)], t0 + dt.timedelta(days=3))
    t = _tracked(plat)
    assert t.status == "reopened" and t.reopened_count == 1
    assert t.due_at.replace(tzinfo=UTC) == t0 + dt.timedelta(days=7)
    assert t.first_seen.replace(tzinfo=UTC) == t0
    # accepted until a date: stays accepted while seen; open again once the date passed
    with plat.system("head") as db:
        until = dt.date.today() + dt.timedelta(days=30)
        f = findings.accept(db, t.id, reason="isolated VLAN", until=until)
        assert f["status"] == "accepted" and f["decided_by"] == "head" and f["reason"] == "isolated VLAN"
    _scan(plat, org, system, [host(a)], dt.datetime.now(UTC))
    assert _tracked(plat).status == "accepted"
    with plat.sessions() as s:
        s.execute(update(TrackedFinding).values(accepted_until=dt.datetime.now(UTC) - dt.timedelta(days=1)))
        s.commit()
    _scan(plat, org, system, [host(a)], dt.datetime.now(UTC))
    assert _tracked(plat).status == "open"
    with plat.system("head") as db:
        findings.false_positive(db, t.id, reason="a honeypot")
    _scan(plat, org, system, [host(a)], dt.datetime.now(UTC))
    assert _tracked(plat).status == "false_positive"
    assert plat.verify_audit().ok


def test_deadlines_overdue_and_delta(plat):
    org, system = _setup(plat, level=None)
    assert deadline("high", None, dt.datetime(2026, 1, 1, tzinfo=UTC)) == dt.datetime(2026, 1, 31, tzinfo=UTC)
    assert deadline("high", 4, dt.datetime(2026, 1, 1, tzinfo=UTC)) == dt.datetime(2026, 1, 16, tzinfo=UTC)
    assert deadline("info", 5, dt.datetime(2026, 1, 1, tzinfo=UTC)) is None
    old = dt.datetime.now(UTC) - dt.timedelta(days=40)
    s1 = _scan(plat, org, system, [host("127.75.20.5"), host("127.75.20.6")], old)
    gone = HostResult(address="127.75.20.6", open_ports=[80])
    gone.identity = host("127.75.20.6").identity
    gone.checks_run = ["default-credentials"]
    s2 = _scan(plat, org, system, [host("127.75.20.5"), gone, host("127.75.20.7", "rtsp-anonymous", 554)],
               dt.datetime.now(UTC))
    with plat.system("viewer", "finding:read") as db:
        late = findings.list(db, org_id=org, overdue=True)
        assert [f["address"] for f in late] == ["127.75.20.5"] and late[0]["overdue"]
        d = scans.delta(db, s1, s2)
    assert [f["address"] for f in d["fixed"]] == ["127.75.20.6"]
    assert [f["address"] for f in d["persisting"]] == ["127.75.20.5"]
    assert [(f["address"], f["check_id"]) for f in d["new_findings"]] == [("127.75.20.7", "rtsp-anonymous")]


def test_device_keys_are_per_system(plat):
    org, system = _setup(plat)
    with plat.sessions() as s:
        other = s.scalar(select(CameraSystem).where(CameraSystem.name == "B"))
        other_id, other_org = other.id, other.org_id
    _scan(plat, org, system, [host("127.75.20.5")], dt.datetime.now(UTC))
    _scan(plat, other_org, other_id, [host("127.75.20.5")], dt.datetime.now(UTC))
    with plat.sessions() as s:
        devices = s.scalars(select(Device).where(Device.address == "127.75.20.5")).all()
    assert sorted(d.system_id for d in devices) == sorted([system, other_id])
    assert {d.org_id for d in devices} == {org, other_org}


def test_audit_log_is_append_only_and_tampering_shows(plat, db_url):
    _setup(plat)
    v = plat.verify_audit()
    assert v.ok and v.events > 5
    for sql in ("UPDATE audit_events SET actor_name = 'mallory' WHERE seq = 2", "DELETE FROM audit_events WHERE seq = 3"):
        with pytest.raises(Exception, match="append-only"):
            with plat.engine.begin() as c:
                c.execute(text(sql))
    assert plat.verify_audit().ok
    # with the triggers dropped (a DBA with full rights), a change still shows
    with plat.engine.begin() as c:
        if db_url.startswith("sqlite"):
            c.execute(text("DROP TRIGGER audit_events_no_update"))
        else:
            c.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))
        c.execute(text("UPDATE audit_events SET actor_name = 'mallory' WHERE seq = 2"))
    v = plat.verify_audit()
    assert not v.ok and "event 2" in v.problem
    # an audited change without actor and action is refused, not silently unlogged
    with plat.sessions() as s:
        s.add(Organisation(name="sneaky", path="/999/"))
        with pytest.raises(AuditError):
            s.flush()


def test_lease_claim_renew_expiry_and_org_limit(plat):
    org, system = _setup(plat)
    with plat.sessions() as s:
        s.execute(update(Organisation).where(Organisation.id == org).values(max_running_scans=1))
        s.commit()
    with plat.system("t", "scan:run") as db:
        a = scans.request(db, system, request_key="a-key", targets=["127.75.20.1"])["id"]
        b = scans.request(db, system, request_key="b-key", targets=["127.75.20.2"])["id"]
    short = dt.timedelta(seconds=30)
    assert lease.claim(plat, a, "w1", lease=short)
    assert not lease.claim(plat, a, "w2", lease=short)  # held
    assert not lease.claim(plat, b, "w2", lease=short)  # the organisation runs its maximum
    assert lease.renew(plat, a, "w1", lease=short)
    later = dt.datetime.now(UTC) + dt.timedelta(minutes=5)
    assert lease.claimable(plat, now=later) == [b, a] or set(lease.claimable(plat, now=later)) == {a, b}
    assert lease.claim(plat, a, "w2", lease=short, now=later)  # w1 died: its lease expired
    assert not lease.renew(plat, a, "w1", lease=short)  # and w1 learns it lost the scan
    lease.release(plat, a, "w2", status="finished")
    assert lease.claim(plat, b, "w2", lease=short)
    with plat.sessions() as s:
        assert s.get(Scan, a).status == "finished" and s.get(Scan, a).lease_owner is None


def test_one_lease_for_the_command_line_and_the_workers(plat):
    """The workers' lease (store/lease.py) and `camaudit scan --resume`'s (Store.claim_scan) are
    one: the same columns, each refuses the other's live lease, and the organisation's limit
    counts a scan the command line runs."""
    import socket
    import subprocess

    from camaudit.store import Store
    from camaudit.store.db import ScanBusy, lease_owner

    org, system = _setup(plat)
    with plat.sessions() as s:
        s.execute(update(Organisation).where(Organisation.id == org).values(max_running_scans=1))
        s.commit()
    with plat.system("t", "scan:run") as db:
        a = scans.request(db, system, request_key="one-lease-a", targets=["127.75.20.1"])["id"]
        b = scans.request(db, system, request_key="one-lease-b", targets=["127.75.20.2"])["id"]
    worker = lease_owner()
    assert lease.claim(plat, a, worker)
    cli = Store(plat.url, migrate=False)  # another runner's store, as `camaudit scan --resume a`
    try:
        with pytest.raises(ScanBusy, match="already being run"):
            cli.claim_scan(a, lease_owner())
        lease.release(plat, a, worker, status="interrupted")
        me = lease_owner()
        cli.claim_scan(a, me)  # free now: the command line resumes it
        cli.set_status(a, "running")
        assert not lease.claim(plat, a, lease_owner())  # no worker takes it from the command line
        assert not lease.claim(plat, b, lease_owner())  # and it counts toward the organisation's limit
        with plat.sessions() as s:
            row = s.get(Scan, a)
            assert row.lease_owner == me and row.lease_expires is not None
        assert cli.release_scan(a, me)
        assert lease.claim(plat, b, worker)
        # a worker of this machine killed with -9 leaves a lease nobody renews: taken at once
        gone = subprocess.Popen(["true"])
        gone.wait()
        with plat.sessions() as s:
            s.execute(update(Scan).where(Scan.id == b).values(
                lease_owner=f"{socket.gethostname()[:120]}/{gone.pid}/dead",
                lease_expires=dt.datetime.now(UTC) + dt.timedelta(hours=1)))
            s.commit()
        assert lease.claim(plat, b, worker)
        with plat.sessions() as s:
            assert s.get(Scan, b).lease_owner == worker and s.get(Scan, b).attempts == 2
    finally:
        cli.close()


def test_schedules_in_ho_chi_minh_time_and_enqueue_once(plat):
    first_monday = schedules.next_after("FREQ=MONTHLY;BYDAY=1MO;BYHOUR=2;BYMINUTE=0;BYSECOND=0",
                                        dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 11, 28, tzinfo=UTC))
    assert first_monday == dt.datetime(2026, 12, 6, 19, 0, tzinfo=UTC)  # Monday 7 Dec, 02:00 +07:00
    quarter = schedules.next_after("FREQ=MONTHLY;INTERVAL=3", dt.datetime(2026, 1, 15, 1, 0, tzinfo=UTC),
                                   dt.datetime(2026, 5, 1, tzinfo=UTC))
    assert quarter == dt.datetime(2026, 7, 15, 1, 0, tzinfo=UTC)
    org, system = _setup(plat)
    with plat.system("t", "scan:run") as db:
        sch = schedules.create(db, system, rrule="FREQ=WEEKLY;BYDAY=MO")
    due = dt.datetime.now(UTC) - dt.timedelta(minutes=1)
    with plat.sessions() as s:
        s.execute(update(Schedule).values(next_run_at=due))
        s.commit()
    now = dt.datetime.now(UTC)
    first = schedules.enqueue_due(plat, now)
    with plat.sessions() as s:
        s.execute(update(Schedule).values(next_run_at=due))  # beat and the loop both saw it due
        s.commit()
    again = schedules.enqueue_due(plat, now)
    assert len(first) == 1 and again == []
    with plat.sessions() as s:
        scan = s.get(Scan, first[0])
        assert scan.status == "queued" and scan.request_key.startswith(f"schedule:{sch['id']}:")
        assert s.get(Schedule, sch["id"]).next_run_at.replace(tzinfo=UTC) > now


def test_aggregates_hide_small_counts(plat):
    org, system = _setup(plat)
    _scan(plat, org, system, [host(f"127.75.20.{i}") for i in range(1, 7)], dt.datetime.now(UTC))
    with plat.sessions() as s:
        s.execute(update(Device).where(Device.address == "127.75.20.6").values(vendor="Rare"))
        s.commit()
    with plat.system("police", "stats:read") as db:
        rows = stats.aggregate(db, "vendor")
    # the one "Rare" device is folded into "other", whose count (1) is itself hidden
    assert rows == [{"key": "Hikvision", "devices": 5, "failing": 5, "other": False},
                    {"key": None, "devices": None, "failing": None, "other": True}]
    for r in rows:
        assert set(r) == {"key", "devices", "failing", "other"}  # never an address or a credential
    with plat.system("t") as db:
        listed = systems.list(db, org)
        top = [r for r in orgs.overview(db, 1)]
    assert listed[0]["devices"] == 6 and listed[0]["open"] == 6 and listed[0]["clean_pct"] == 0.0
    assert listed[0]["compliance_pct"] is None  # not judged against the regulation (no worker ran it)
    assert listed[0]["last_assessment"] is not None
    assert [(r["compliance_pct"], r["clean_pct"]) for r in top] == [(None, None)]  # the local organisation: no device


def test_old_database_with_data_is_backfilled(tmp_path):
    from alembic import command
    from alembic.config import Config

    from camaudit.store.db import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "0002")
    eng = create_engine(url)
    with eng.begin() as c:
        c.execute(text("INSERT INTO devices (key, address, kind, confidence, first_seen, last_seen) "
                       "VALUES ('addr:10.0.0.5', '10.0.0.5', 'camera', 0.5, '2026-01-01', '2026-01-01')"))
        c.execute(text("INSERT INTO scans (id, status, operator, targets, options, tool_version, knowledge_version, "
                       "started_at, hosts_total, hosts_done, hosts_up) VALUES (:id, 'finished', 'x', '[]', '{}', "
                       "'', '', '2026-01-01', 1, 1, 1)"), {"id": str(uuid.uuid4())})
    eng.dispose()
    p = Platform(url)
    with p.sessions() as s:
        d = s.scalars(select(Device)).one()
        sc = s.scalars(select(Scan)).one()
        local = s.get(Organisation, 1)
    assert (d.org_id, d.system_id, sc.org_id, sc.system_id) == (1, 1, 1, 1) and local.name == "local"
    assert p.verify_audit().ok
    p.close()


def test_web_and_workers_contain_no_sql():
    offenders = []
    for folder in ("web", "workers"):
        for f in (SRC / folder).rglob("*.py"):
            tree = ast.parse(f.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                if any(n == "sqlalchemy" or n.startswith("sqlalchemy.") for n in names):
                    offenders.append(f"{f.relative_to(SRC)}:{node.lineno}")
    assert not offenders, offenders


def test_system_principal_and_scoping_refuse_statements_over_nothing_owned():
    from camaudit.store.access import scoped
    from camaudit.store.platform_models import User

    who = Principal(user_id=1, name="x")
    with pytest.raises(RuntimeError):
        scoped(select(User), who, "org:read")


def test_backstop_limits_plain_orm_reads_of_a_user_session(world):
    """Even a query that forgot scoped() (Session.get, a bare select) sees only the subtrees
    where the user holds a role."""
    from camaudit.store import users as users_svc
    from camaudit.store.platform_models import User

    p = world.platform
    with p.sessions() as s:
        uid = s.scalar(select(User.id).where(User.username == world.role_user["agency_operator"]))
    who = users_svc.principal(p, uid)
    with p.scoped(who, "system:read") as db:
        assert db.session.get(CameraSystem, world.system["D1"]) is not None
        assert db.session.get(CameraSystem, world.system["A11"]) is not None
        assert db.session.get(CameraSystem, world.system["D2"]) is None
        assert db.session.get(Organisation, world.org["P"]) is None
        seen = {d.org_id for d in db.session.scalars(select(Device))}
        assert seen == {world.org[k] for k in ("D1", "A11", "A12")}
        assert {o.id for o in db.session.scalars(select(Organisation))} == {world.org[k] for k in ("D1", "A11", "A12")}


def test_a_scan_marked_interrupted_by_a_worker_that_lost_it_stays_with_the_holder(plat):
    org, system = _setup(plat)
    with plat.system("t", "scan:run") as db:
        a = scans.request(db, system, request_key="lost-lease", targets=["127.75.20.1"])["id"]
    short = dt.timedelta(seconds=30)
    assert lease.claim(plat, a, "w1", lease=short)
    later = dt.datetime.now(UTC) + dt.timedelta(minutes=5)
    assert lease.claim(plat, a, "w2", lease=short, now=later)
    plat.store.set_status(a, "interrupted")  # w1's engine, cancelled, on its way out
    assert lease.renew(plat, a, "w2", lease=short)  # w2 keeps its lease ...
    assert not lease.claim(plat, a, "w3", lease=short)  # ... and nobody else can take the scan
    assert a not in lease.claimable(plat)


def test_overview_counts_follow_the_lifecycle_decisions_and_deadlines(plat):
    org, system = _setup(plat, level=None)
    now = dt.datetime.now(UTC)
    _scan(plat, org, system, [host("127.75.20.5"), host("127.75.20.6"), host("127.75.20.7", "rtsp-anonymous", 554)],
          now - dt.timedelta(days=3))

    def row() -> dict:
        with plat.system("v", "finding:read") as db:
            return next(r for r in orgs.overview(db, org))

    r = row()
    assert r["devices"] == 3 and r["open_by_severity"]["critical"] == 3 and r["overdue"] == 0
    assert r["clean_pct"] == 0.0 and r["compliance_pct"] is None  # no judgement ran (no worker)
    with plat.sessions() as s:
        tid = s.scalars(select(TrackedFinding.id).where(TrackedFinding.address == "127.75.20.5")).one()
    with plat.system("head") as db:
        findings.false_positive(db, tid, reason="lab device")
    r = row()
    assert r["open_by_severity"]["critical"] == 2 and r["clean_pct"] == round(100 / 3, 1)
    # a deadline passes: the summary knows it is stale and the overview counts the overdue finding
    with plat.sessions() as s:
        s.execute(update(TrackedFinding).where(TrackedFinding.address == "127.75.20.6")
                  .values(due_at=now + dt.timedelta(seconds=1)))
        s.commit()
        from camaudit.store.lifecycle import refresh_devices
        refresh_devices(s, None)
        s.commit()
    assert row()["overdue"] == 0
    import time
    time.sleep(1.5)
    assert row()["overdue"] == 1
    # rows written behind the lifecycle's back (a bulk load) are summarised on first read
    with plat.sessions() as s:
        s.execute(update(Device).values(summary_at=None, open_critical=0))
        s.commit()
    assert row()["open_by_severity"]["critical"] == 2


def test_migrations_build_exactly_the_models(plat):
    """The hand-written migration 0004 and the models agree (tables, columns, indexes,
    constraints), on SQLite and PostgreSQL."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from camaudit.store.models import Base

    with plat.engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c, opts={"compare_type": False}), Base.metadata)
    assert diff == [], diff
