"""The inventory keeps history: what each scan saw of a device (address, identity, open ports,
findings), newest first, with what changed since the scan before; in the API and on the
device's page, for those who may see scans."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from platform_world import PASSWORD, host
from sqlalchemy import select

from camaudit.store import systems, users
from camaudit.store.lifecycle import apply_scan
from camaudit.store.platform_models import User
from camaudit.web.app import create_app
from camaudit.web.settings import Settings


def _upgrade(world: Any, key: str) -> str:
    """A third scan of the organisation's device: new firmware, one more open port, no finding."""
    p = world.platform
    addr = world.subnet(key).replace(".0/24", ".5")
    sid = p.store.create_scan(targets=[world.subnet(key)], options={}, operator="t", tool_version="t",
                              knowledge_version="k", hosts_total=1, org_id=world.org[key], system_id=world.system[key])
    h = host(addr)
    h.hostname = f"cam-CANARY-{key}"
    h.identity.firmware = "V5.7.3"
    h.open_ports = [80, 554]
    h.findings = []
    p.store.record_host(sid, h, addr)
    p.store.set_status(sid, "finished")
    with p.system("t") as db, db.action("finding.apply_scan"):
        apply_scan(db.session, sid)
    return sid


def test_history_lists_each_scan_and_marks_what_changed(world: Any, db_url: str) -> None:
    p = world.platform
    newest = _upgrade(world, "A11")
    with p.system("t", "system:read") as db:
        hist = systems.device_history(db, world.device["A11"])
    assert [h["scan_id"] for h in hist][0] == newest and len(hist) == 3
    assert hist[0]["firmware"] == "V5.7.3" and hist[1]["firmware"] == "V5.4.1"
    assert set(hist[0]["changed"]) == {"firmware", "open_ports"}
    assert hist[1]["changed"] == [] and hist[2]["changed"] == []
    assert hist[0]["findings"] == 0 and hist[1]["findings"] == 1

    app = create_app(Settings(db_url=db_url, inproc_worker=False))
    with TestClient(app, base_url="https://testserver") as client:
        with p.sessions() as s:
            uid = s.scalar(select(User.id).where(User.username == world.role_user["agency_operator"]))
        with p.scoped(users.principal(p, uid), "org:read") as db:
            token = users.create_token(db, name="t", scopes=["org:read", "system:read"])["token"]
        auth = {"Authorization": f"Bearer {token}"}
        api = client.get(f"/api/v1/devices/{world.device['A11']}/history", headers=auth)
        assert api.status_code == 200 and api.json() == hist
        # another organisation's device (D2's subtree): not found, whether it exists or not
        assert client.get(f"/api/v1/devices/{world.device['A21']}/history", headers=auth).status_code == 404
        assert client.get("/api/v1/devices/999999/history", headers=auth).status_code == 404

        tok = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        r = client.post("/login", data={"username": world.role_user["agency_operator"], "password": PASSWORD,
                                        "csrf_token": tok}, follow_redirects=False)
        assert r.status_code == 303
        html = client.get(f"/devices/{world.device['A11']}?lang=en").text
    table = html[html.index('data-testid="history"'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr>") == 1 + 3  # the header and a row per scan
    assert "V5.7.3" in table and table.count("changed</span>") == 2
