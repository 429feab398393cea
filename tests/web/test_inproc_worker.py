"""The embedded default: SQLite and the in-process worker.  A scan requested through the API
runs in the app's worker thread against fake devices on 127.75.8.x and finishes; its devices
join the system's inventory; the same request key does not run it twice."""

from __future__ import annotations

import socketserver
import threading
import time

from fastapi.testclient import TestClient
from platform_world import PASSWORD  # noqa: F401  (cheap password hashing for the tests)
from sqlalchemy import select

from camaudit.store import admin, users
from camaudit.store.platform import Platform
from camaudit.store.platform_models import User
from camaudit.web.app import create_app
from camaudit.web.settings import Settings

ADDRS = [f"127.75.8.{i}" for i in range(1, 5)]


class _Http(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(3)
        try:
            self.request.recv(4096)
            self.request.sendall(b"HTTP/1.0 200 OK\r\nServer: fake\r\nContent-Length: 2\r\n\r\nok")
        except OSError:
            pass


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def test_api_scan_runs_in_the_in_process_worker(tmp_path, monkeypatch):
    monkeypatch.delenv("CAMAUDIT_BROKER", raising=False)
    servers = [_Server((a, 8081), _Http) for a in ADDRS]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    url = f"sqlite:///{tmp_path / 'inproc.sqlite'}"
    p = Platform(url)
    made = admin.apply(p, {"organisations": [{"name": "Xã"}],
                           "users": [{"username": "op", "password": PASSWORD,
                                      "grants": [{"role": "agency_operator", "org": "Xã"}]}],
                           "systems": [{"org": "Xã", "name": "Cổng", "ranges": ["127.75.8.0/29"],
                                        "authorisation_doc": "QĐ"}]})
    with p.sessions() as s:
        uid = s.scalar(select(User.id).where(User.username == "op"))
    with p.scoped(users.principal(p, uid), "org:read") as db:
        token = users.create_token(db, name="t", scopes=["scan:run", "scan:read", "system:read"])["token"]
    app = create_app(Settings(db_url=url, tick_seconds=1))
    h = {"Authorization": f"Bearer {token}", "Idempotency-Key": "inproc-scan-1"}
    sys_id = made["systems"]["Cổng"]
    try:
        with TestClient(app, base_url="https://testserver") as c:
            r = c.post(f"/api/v1/systems/{sys_id}/scans", headers=h,
                       json={"targets": ["127.75.8.1-4"], "options": {"ports": [8081], "udp": False}})
            assert r.status_code == 202, r.text
            sid = r.json()["id"]
            deadline = time.monotonic() + 90
            scan = r.json()
            while time.monotonic() < deadline and scan["status"] in ("queued", "running"):
                time.sleep(0.5)
                scan = c.get(f"/api/v1/scans/{sid}", headers=h).json()
            assert scan["status"] == "finished", scan
            assert scan["hosts_total"] == scan["hosts_done"] == scan["hosts_up"] == 4
            again = c.post(f"/api/v1/systems/{sys_id}/scans", headers=h, json={})
            assert again.json()["id"] == sid and not again.json()["created"]
            devices = c.get(f"/api/v1/systems/{sys_id}/devices", headers=h).json()
            assert sorted(d["address"] for d in devices) == ADDRS
            report = c.get(f"/api/v1/scans/{sid}/report", headers=h).json()
            assert report["summary"]["hosts_up"] == 4
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()
    assert p.verify_audit().ok
