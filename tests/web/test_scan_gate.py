"""What binds a platform scan when it runs, whoever runs it: its camera system's authorised
ranges and its organisation's share of the rate (workers/jobs.bind), under the platform's lease
(store/lease.py).  A worker's execution and `camaudit scan --resume ID` go the same way; the
tick and a scan's end hand a waiting scan over once its organisation has a slot free.

Addresses: 127.75.11.x; a listener on 127.75.11.2 counts connections where it must get none;
elsewhere nothing listens (port 9: refused at once)."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from camaudit import scope as scope_mod
from camaudit.cli.main import main as cli
from camaudit.discovery.sweep import Sweeper, rate_limiter
from camaudit.engine import api as engine_api
from camaudit.store import admin, lease, scans, systems
from camaudit.store.models import Scan, ScanHost
from camaudit.store.platform import Platform
from camaudit.store.platform_models import Organisation
from camaudit.workers import jobs
from camaudit.workers.inproc import InProcessWorker

UTC = dt.timezone.utc
OPTIONS = {"ports": [9], "udp": False, "timeout": 1.0, "connect_timeout": 0.5}
ELSEWHERE = "another-host.example/4242/live"  # a live runner of another machine: never taken over as dead


@pytest.fixture
def plat(tmp_path):
    p = Platform(f"sqlite:///{tmp_path / 'gate.sqlite'}")
    yield p
    p.close()


def _world(p: Platform, *, max_running: int = 2, max_rate: float = 100.0,
           ranges: str = "127.75.11.0/29") -> int:
    made = admin.apply(p, {"organisations": [{"name": "Sở Cổng", "max_running_scans": max_running,
                                              "max_rate": max_rate}],
                           "systems": [{"org": "Sở Cổng", "name": "Cổng", "ranges": [ranges],
                                        "authorisation_doc": "QĐ 12/2026"}]})
    return made["systems"]["Cổng"]


def _request(p: Platform, system: int, key: str, targets: list[str], **options: Any) -> str:
    with p.system("t", "scan:run") as db:
        return scans.request(db, system, request_key=key, targets=targets, options={**OPTIONS, **options})["id"]


def _row(p: Platform, sid: str) -> Scan:
    with p.sessions() as s:
        row = s.get(Scan, sid)
        assert row is not None
        return row


class Seen:
    """What the engine received: each Scanner's options and the guard active when it ran."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.runs: list[dict[str, Any]] = []
        seen = self
        base = engine_api.Scanner

        class Recording(base):  # type: ignore[misc, valid-type]
            async def run(self, targets, **kw):  # type: ignore[no-untyped-def]
                guard = scope_mod._ACTIVE.get()
                limiter = self.sweeper._limiter
                seen.runs.append({"rate": self.options.rate,
                                  "limiter": (limiter.max_rate, limiter.time_period) if limiter else None,
                                  "allowed": [str(n) for n in guard.scope.allowed] if guard else None})
                return await super().run(targets, **kw)

        monkeypatch.setattr(engine_api, "Scanner", Recording)


class Listener:
    """Counts the TCP connections made to one address (the scan must make none)."""

    def __init__(self, address: str, port: int) -> None:
        self.sock = socket.create_server((address, port))
        self.sock.settimeout(0.2)
        self.accepted = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def _fresh_thread(fn: Any, *args: Any, **kw: Any) -> Any:
    """Run ``fn`` in a thread of its own, as a worker or a command line does: the browser tests
    (pytest-playwright) leave an event loop running in this thread for the rest of the session."""
    out: list[Any] = []
    errors: list[BaseException] = []

    def body() -> None:
        try:
            out.append(fn(*args, **kw))
        except BaseException as exc:  # noqa: BLE001  (re-raised in the test's thread)
            errors.append(exc)

    t = threading.Thread(target=body)
    t.start()
    t.join(120)
    if errors:
        raise errors[0]
    assert out, "did not end within 120 s"
    return out[0]


def _resume(p: Platform, sid: str, *extra: str):
    args = ["scan", "--resume", sid, "--db", p.url, "-q", "--fail-on", "none", *extra]
    return _fresh_thread(CliRunner().invoke, cli, args)


def _execute(p: Platform, sid: str) -> str:
    return _fresh_thread(jobs.execute_scan, p, sid)


# -- 1. `camaudit scan --resume` of a platform scan ------------------------------------------

def test_cli_resume_refuses_a_target_the_systems_ranges_no_longer_cover(plat, monkeypatch):
    system = _world(plat)
    sid = _request(plat, system, "gate-narrowed", ["127.75.11.1-127.75.11.2"], ports=[8099])
    plat.store.set_status(sid, "interrupted")  # a worker stopped; nobody runs it now
    with plat.system("admin", "system:write") as db:
        systems.update(db, system, ranges=["127.75.11.1/32"])  # the authorisation narrowed since
    listener = Listener("127.75.11.2", 8099)
    seen = Seen(monkeypatch)
    try:
        r = _resume(plat, sid)
    finally:
        listener.close()
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert "127.75.11.1-127.75.11.2" in text and "127.75.11.1/32" in text and "Cổng" in text, text
    assert listener.accepted == 0 and seen.runs == []  # refused before any packet
    row = _row(plat, sid)
    assert (row.status, row.lease_owner, row.attempts, row.hosts_done) == ("interrupted", None, 0, 0)
    with plat.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ScanHost).where(ScanHost.scan_id == sid)) == 0


def test_a_worker_refuses_it_the_same_way_and_says_why_on_the_scan(plat, monkeypatch):
    system = _world(plat)
    sid = _request(plat, system, "gate-narrowed-worker", ["127.75.11.1-127.75.11.2"])
    with plat.system("admin", "system:write") as db:
        systems.update(db, system, ranges=["127.75.11.1/32"])
    seen = Seen(monkeypatch)
    assert _execute(plat, sid) == "failed"
    row = _row(plat, sid)
    assert seen.runs == [] and row.status == "failed" and row.lease_owner is None
    assert "127.75.11.1/32" in row.error and "127.75.11.1-127.75.11.2" in row.error


def test_cli_resume_runs_under_the_systems_ranges_and_the_organisations_rate(plat, monkeypatch):
    system = _world(plat, max_running=4, max_rate=100.0)
    sid = _request(plat, system, "gate-resume-ok", ["127.75.11.3-127.75.11.4"])
    plat.store.set_status(sid, "interrupted")
    seen = Seen(monkeypatch)
    r = _resume(plat, sid)
    assert r.exit_code == 0, r.output
    assert seen.runs == [{"rate": 25.0, "limiter": (25.0, 1.0), "allowed": ["127.75.11.0/29"]}]
    row = _row(plat, sid)
    assert (row.status, row.hosts_done, row.lease_owner, row.attempts, row.applied) == ("finished", 2, None, 1, True)


def test_cli_resume_of_a_platform_scan_takes_no_allow_or_deny(plat, monkeypatch):
    system = _world(plat)
    sid = _request(plat, system, "gate-allow", ["127.75.11.3"])
    plat.store.set_status(sid, "interrupted")
    seen = Seen(monkeypatch)
    r = _resume(plat, sid, "--allow", "127.0.0.0/8")
    assert r.exit_code == 2 and "authorised ranges" in r.output and seen.runs == []
    assert _row(plat, sid).status == "interrupted"


def test_cli_resume_respects_the_lease_and_the_organisations_limit(plat, monkeypatch):
    system = _world(plat, max_running=1)
    a = _request(plat, system, "gate-lease-a", ["127.75.11.3"])
    b = _request(plat, system, "gate-lease-b", ["127.75.11.4"])
    assert lease.claim(plat, a, ELSEWHERE)  # a live worker runs a
    seen = Seen(monkeypatch)
    r = _resume(plat, a)  # not twice
    assert r.exit_code == 3 and "already being run by another-host.example" in " ".join(r.output.split()), r.output
    r = _resume(plat, b)  # nor a second scan beyond the organisation's limit
    assert r.exit_code == 3 and "maximum (1)" in " ".join(r.output.split()), r.output
    assert seen.runs == []
    assert (_row(plat, a).lease_owner, _row(plat, b).status, _row(plat, b).lease_owner) == (ELSEWHERE, "queued", None)
    lease.release(plat, a, ELSEWHERE, status="finished")
    r = _resume(plat, b)  # a slot is free: the command line runs it
    assert r.exit_code == 0, r.output
    assert _row(plat, b).status == "finished" and len(seen.runs) == 1


# -- 2. the organisation's rate, shared by the scans it may run at once -------------------------

def test_each_scan_runs_at_its_share_of_the_organisations_rate(plat, monkeypatch):
    system = _world(plat, max_running=3, max_rate=90.0)
    seen = Seen(monkeypatch)
    unlimited = _request(plat, system, "gate-rate-0", ["127.75.11.3"], rate=0)  # 0: "no limit" asked
    greedy = _request(plat, system, "gate-rate-big", ["127.75.11.3"], rate=5000)
    modest = _request(plat, system, "gate-rate-small", ["127.75.11.3"], rate=10)
    for sid in (unlimited, greedy, modest):
        assert _execute(plat, sid) == "finished"
    assert [run["rate"] for run in seen.runs] == [30.0, 30.0, 10.0]
    assert [run["limiter"] for run in seen.runs] == [(30.0, 1.0), (30.0, 1.0), (10.0, 1.0)]
    # the limits of the moment it runs hold, not those of when it was requested
    later = _request(plat, system, "gate-rate-later", ["127.75.11.3"])
    with plat.sessions() as s:
        s.execute(update(Organisation).where(Organisation.name == "Sở Cổng").values(max_running_scans=6))
        s.commit()
    assert _execute(plat, later) == "finished"
    assert seen.runs[-1]["rate"] == 15.0


def test_a_share_below_one_connection_a_second_is_spaced_not_refused():
    limiter = rate_limiter(0.5)
    assert limiter is not None and (limiter.max_rate, limiter.time_period) == (1, 2.0)
    assert rate_limiter(0) is None and rate_limiter(40).max_rate == 40  # type: ignore[union-attr]

    async def sweep() -> list[int]:
        with scope_mod.guarding(scope_mod.Scope(), scope_mod.parse_targets(["127.75.11.5"], resolve=False)):
            return await Sweeper(rate=0.5, host_rate=0.25).sweep("127.75.11.5", [9])

    import asyncio

    assert _fresh_thread(asyncio.run, sweep()) == []  # aiolimiter alone raises ValueError below a capacity of 1


# -- 3. the tick and a scan's end: a waiting scan is handed over once a slot frees ----------------

def test_tick_submits_a_scan_refused_at_the_limit_once_a_slot_frees(plat):
    system = _world(plat, max_running=1)
    a = _request(plat, system, "gate-tick-a", ["127.75.11.3"])
    b = _request(plat, system, "gate-tick-b", ["127.75.11.4"])
    assert lease.claim(plat, a, ELSEWHERE)
    submitted: list[str] = []
    assert jobs.tick(plat, submitted.append)["submitted"] == [] and submitted == []  # full: b waits
    assert _execute(plat, b) == "skipped"  # (as a worker handed b would find)
    lease.release(plat, a, ELSEWHERE, status="finished")
    assert jobs.tick(plat, submitted.append)["submitted"] == [b] and submitted == [b]
    assert _execute(plat, b) == "finished"
    # a worker that died: its lease expires, and the tick hands the scan over again
    c = _request(plat, system, "gate-tick-c", ["127.75.11.5"])
    assert lease.claim(plat, c, ELSEWHERE, lease=dt.timedelta(seconds=30))
    assert jobs.tick(plat, submitted.append)["submitted"] == []
    later = dt.datetime.now(UTC) + dt.timedelta(minutes=5)
    assert jobs.tick(plat, submitted.append, now=later)["submitted"] == [c]


def test_a_scan_that_ends_hands_its_slot_to_the_next_without_waiting_for_a_tick(plat):
    system = _world(plat, max_running=1)
    worker = InProcessWorker(plat, interval=3600)  # one tick at start, then none during the test
    worker.start()
    try:
        time.sleep(0.5)
        a = _request(plat, system, "gate-next-a", ["127.75.11.3"])
        b = _request(plat, system, "gate-next-b", ["127.75.11.4"])
        worker.submit(a)
        worker.submit(a)  # twice: queued once
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _row(plat, b).status != "finished":
            time.sleep(0.2)
    finally:
        worker.close(timeout=30)
    assert (_row(plat, a).status, _row(plat, b).status) == ("finished", "finished")
    assert (_row(plat, a).attempts, _row(plat, b).attempts) == (1, 1)


def test_a_waiting_scan_is_not_handed_to_the_broker_again_every_tick(plat):
    """Every worker busy: the scan's message waits in the broker's queue; the tick must not add
    one per minute.  After RESEND (a broker that lost it) it is sent again; a scan whose worker
    died is sent again as soon as its lease lapses (the claim forgot the dispatch)."""
    system = _world(plat, max_running=1)
    sid = _request(plat, system, "resend-1", ["127.75.11.1"])
    sent: list[str] = []
    t0 = dt.datetime.now(UTC)
    assert jobs.tick(plat, sent.append, now=t0)["submitted"] == [sid]
    assert jobs.tick(plat, sent.append, now=t0 + dt.timedelta(minutes=1))["submitted"] == []
    assert jobs.tick(plat, sent.append, now=t0 + lease.RESEND - dt.timedelta(seconds=1))["submitted"] == []
    assert jobs.tick(plat, sent.append, now=t0 + lease.RESEND + dt.timedelta(seconds=1))["submitted"] == [sid]
    assert sent == [sid, sid]
    # the in-process worker's tick (its queue drops duplicates itself; a restart empties it)
    assert jobs.tick(plat, sent.append, now=t0 + lease.RESEND + dt.timedelta(minutes=1), resend_after=None)[
        "submitted"] == [sid]
    # a worker claims it and dies: once the lease lapses the scan goes out again at once
    later = t0 + lease.RESEND + dt.timedelta(minutes=2)
    assert lease.claim(plat, sid, ELSEWHERE, lease=dt.timedelta(seconds=30), now=later)
    assert _row(plat, sid).dispatched_at is None
    assert jobs.tick(plat, sent.append, now=later + dt.timedelta(seconds=10))["submitted"] == []  # live lease
    assert jobs.tick(plat, sent.append, now=later + dt.timedelta(minutes=1))["submitted"] == [sid]
