"""The demo province `camaudit demo` serves: seeded through the admin path, one user per role
who can log in with the printed password, the two lab systems, one schedule, a scan queued per
system; the province file itself is checked (every role used, systems inside the lab's network)."""

from __future__ import annotations

import io
import ipaddress
import re

from rich.console import Console
from starlette.testclient import TestClient

from camaudit.store.access import ROLES
from camaudit.store.platform import Platform
from camaudit.web import demo
from camaudit.web.app import create_app
from camaudit.web.settings import Settings


def test_demo_province_file_covers_every_role_and_the_lab():
    data = demo.province()
    roles = {g["role"] for u in data["users"] for g in u["grants"]}
    assert roles == set(ROLES), f"roles without a demo user: {set(ROLES) - roles}"
    assert len(data["systems"]) == 2 and len(data["schedules"]) == 1
    lab = ipaddress.ip_network("127.20.0.0/24")
    for s in data["systems"]:
        for r in s["ranges"]:
            first, _, last = r.partition("-")
            assert ipaddress.ip_address(first) in lab and ipaddress.ip_address(last or first) in lab
    moved = demo.province("127.75.201")
    assert all(r.startswith("127.75.201.") for s in moved["systems"] for r in s["ranges"])


def test_demo_seed_logs_in_every_user_and_queues_scans(tmp_path):
    url = demo.fresh_sqlite(tmp_path / "demo.sqlite")
    platform = Platform(url)
    data = demo.province("127.75.202")
    passwords = demo.draw_passwords(data)
    assert len(set(passwords.values())) == len(passwords)
    made = demo.seed(platform, data)
    assert len(made["systems"]) == 2 and len(made["schedules"]) == 1
    queued = demo.request_first_scans(platform, made)
    assert len(queued) == 2 and all(q["status"] == "queued" for q in queued)
    platform.close()
    out = io.StringIO()
    demo.print_accounts(Console(file=out, width=200), data, passwords, "http://127.0.0.1:8080")
    for user, password in passwords.items():
        assert user in out.getvalue() and password in out.getvalue()
    app = create_app(Settings(db_url=url, secure_cookies=False, inproc_worker=False))
    for user, password in passwords.items():
        with TestClient(app, base_url="http://127.0.0.1") as client:
            form = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token, "the login form carries no CSRF token"
            r = client.post("/login", data={"username": user, "password": password, "csrf_token": token.group(1)},
                            follow_redirects=False)
            assert r.status_code == 303 and "error" not in r.headers["location"], user
            home = client.get("/")
            assert home.status_code == 200, user
            assert home.headers["content-security-policy"].startswith("default-src 'self'")
    # a fresh run starts from an empty database
    again = demo.fresh_sqlite(tmp_path / "demo.sqlite")
    assert again == url and not (tmp_path / "demo.sqlite").exists()
