"""Celery with a real Redis (127.0.0.1:6379) and real `camaudit worker` processes.

- a scheduled scan runs: a due schedule, `camaudit worker --beat` queues it and runs it;
- a worker killed with SIGKILL mid-scan: the scan completes on the other worker, every target
  host recorded exactly once.
Scans target slow fake HTTP devices on 127.75.9.x (one thread server per address)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from camaudit.store import admin, audit, scans
from camaudit.store.models import Scan, ScanHost
from camaudit.store.platform import Platform
from camaudit.store.platform_models import AuditEvent, Schedule

REDIS = "redis://127.0.0.1:6379/11"
CAMAUDIT = str(Path(sys.executable).with_name("camaudit"))
N_HOSTS = 24
OPTIONS = {"ports": [8080], "host_parallelism": 2, "udp": False, "timeout": 3.0, "connect_timeout": 1.0}


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="module")
def redis():
    if not _redis_up() and shutil.which("redis-server"):
        subprocess.run(["redis-server", "--bind", "127.0.0.1", "--port", "6379", "--daemonize", "yes",
                        "--save", "", "--appendonly", "no"], capture_output=True, timeout=30)
        for _ in range(50):
            if _redis_up():
                break
            time.sleep(0.1)
    if not _redis_up():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not reachable on 127.0.0.1:6379 and could not be started")
        pytest.skip("Redis is not reachable on 127.0.0.1:6379 (apt-get install redis-server)")
    import redis as redis_lib

    r = redis_lib.Redis.from_url(REDIS)
    r.flushdb()
    yield REDIS
    r.flushdb()


class _Slow(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(5)
        try:
            self.request.recv(4096)
            time.sleep(0.25)
            self.request.sendall(b"HTTP/1.0 200 OK\r\nServer: fake-device\r\nContent-Length: 5\r\n\r\nhello")
        except OSError:
            pass


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


@pytest.fixture(scope="module")
def devices():
    servers = []
    for i in range(1, N_HOSTS + 1):
        srv = _Server((f"127.75.9.{i}", 8080), _Slow)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    yield [f"127.75.9.{i}" for i in range(1, N_HOSTS + 1)]
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _world(url: str) -> tuple[Platform, int]:
    p = Platform(url)
    made = admin.apply(p, {"organisations": [{"name": "Tỉnh Celery", "max_running_scans": 4}],
                           "systems": [{"org": "Tỉnh Celery", "name": "Fake cameras",
                                        "ranges": [f"127.75.9.1-127.75.9.{N_HOSTS}"],
                                        "authorisation_doc": "QĐ test"}]})
    return p, made["systems"]["Fake cameras"]


def _worker(name: str, env: dict[str, str], log: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([CAMAUDIT, "worker", "--name", f"{name}@%h", *extra], env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def _env(url: str, redis: str, **more: str) -> dict[str, str]:
    return {**os.environ, "CAMAUDIT_DB": url, "CAMAUDIT_BROKER": redis, "CAMAUDIT_LEASE_SECONDS": "4",
            "CAMAUDIT_VISIBILITY_TIMEOUT": "600", "CAMAUDIT_TICK_SECONDS": "2", **more}


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        p.wait(timeout=30)


def _scan(p: Platform, sid: str) -> Scan:
    with p.sessions() as s:
        scan = s.get(Scan, sid)
        assert scan is not None
        return scan


def test_scheduled_scan_runs_in_a_celery_worker_with_beat(redis, devices, tmp_path):
    url = f"sqlite:///{tmp_path / 'celery.sqlite'}"
    p, system_id = _world(url)
    with p.system("test", "scan:run") as db:
        from camaudit.store import schedules
        sch = schedules.create(db, system_id, rrule="FREQ=WEEKLY;BYDAY=MO", options=OPTIONS)
    with p.sessions() as s:  # make it due now (as if the Monday had come)
        import datetime as dt

        s.execute(update(Schedule).where(Schedule.id == sch["id"])
                  .values(next_run_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)))
        s.commit()
    env = _env(url, redis, CAMAUDIT_HOME=str(tmp_path))
    w = _worker("beat", env, tmp_path / "beat.log", "--beat")
    try:
        deadline = time.monotonic() + 150
        sid = None
        while time.monotonic() < deadline:
            with p.sessions() as s:
                sid = s.scalar(select(Scan.id).where(Scan.request_key.like(f"schedule:{sch['id']}:%")))
            if sid and _scan(p, sid).status == "finished":
                break
            time.sleep(1)
        assert sid, "beat queued no scan:\n" + (tmp_path / "beat.log").read_text(errors="replace")[-3000:]
        scan = _scan(p, sid)
        assert scan.status == "finished", (scan.status, (tmp_path / "beat.log").read_text(errors="replace")[-3000:])
        assert scan.hosts_done == N_HOSTS and scan.applied
        with p.sessions() as s:
            nxt = s.get(Schedule, sch["id"]).next_run_at
        assert nxt is not None and nxt.replace(tzinfo=None) > scan.started_at.replace(tzinfo=None)
    finally:
        _stop([w])
    assert p.verify_audit().ok


def test_worker_killed_mid_scan_the_scan_completes_on_another(redis, devices, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'celery.sqlite'}"
    p, system_id = _world(url)
    env = _env(url, redis)
    workers = {name: _worker(name, env, tmp_path / f"{name}.log") for name in ("w1", "w2")}
    monkeypatch.setenv("CAMAUDIT_BROKER", redis)
    from camaudit.workers import dispatch, jobs

    try:
        time.sleep(3)  # both workers consuming
        with p.system("test", "scan:run") as db:
            sid = scans.request(db, system_id, request_key=f"kill-{uuid.uuid4()}", options=OPTIONS)["id"]
        dispatch.submit(sid)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            scan = _scan(p, sid)
            if scan.lease_owner and scan.hosts_done >= 3:
                break
            time.sleep(0.2)
        scan = _scan(p, sid)
        assert scan.status == "running" and scan.hosts_done < N_HOSTS, (scan.status, scan.hosts_done)
        holder_pid = int(scan.lease_owner.split("/")[1])  # host/pid/random (store.db.lease_owner)
        victim = next(n for n, w in workers.items() if holder_pid == w.pid or
                      Path(f"/proc/{holder_pid}/stat").exists() and
                      int(Path(f"/proc/{holder_pid}/stat").read_text().split(")")[1].split()[1]) == w.pid)
        os.killpg(workers[victim].pid, signal.SIGKILL)  # the worker and its pool child, no goodbye
        workers[victim].wait(timeout=30)
        done_at_kill = _scan(p, sid).hosts_done
        assert done_at_kill < N_HOSTS
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # what beat does every minute, here every second
            jobs.tick(p, dispatch.submit)
            if _scan(p, sid).status == "finished":
                break
            time.sleep(1)
        scan = _scan(p, sid)
        logs = "\n".join((tmp_path / f"{n}.log").read_text(errors="replace")[-2000:] for n in workers)
        assert scan.status == "finished", (scan.status, scan.hosts_done, logs)
        with p.sessions() as s:
            rows = s.scalar(select(func.count()).select_from(ScanHost).where(ScanHost.scan_id == sid))
            distinct = s.scalar(select(func.count(func.distinct(ScanHost.address))).where(ScanHost.scan_id == sid))
            addrs = set(s.scalars(select(ScanHost.address).where(ScanHost.scan_id == sid)))
            claims = s.scalars(select(AuditEvent.after).where(AuditEvent.action == "scan.claim",
                                                              AuditEvent.object_id == sid).order_by(AuditEvent.seq)).all()
        assert rows == distinct == N_HOSTS == scan.hosts_done, (rows, distinct, scan.hosts_done)  # none lost or doubled
        assert addrs == set(devices)
        assert scan.hosts_up == N_HOSTS
        assert len(claims) >= 2 and claims[0]["worker"] != claims[-1]["worker"], claims
        assert str(holder_pid) in claims[0]["worker"]
        assert scan.applied
    finally:
        _stop(list(workers.values()))
    with p.engine.connect() as c:
        assert audit.verify(c).ok
