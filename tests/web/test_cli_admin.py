"""camaudit admin: a province from YAML, users and grants, tokens, audit verify; bad input
exits 2 and changes nothing."""

from __future__ import annotations

from click.testing import CliRunner
from platform_world import PASSWORD  # noqa: F401  (cheap hashing)
from sqlalchemy import func, select, text

from camaudit.cli.main import main
from camaudit.store.platform import Platform
from camaudit.store.platform_models import Organisation, RoleGrant, User

YAML = """
organisations:
  - key: tinh
    name: "UBND tỉnh Thử"
    children:
      - {key: so, name: "Sở Thông tin và Truyền thông", commune: "Phường Một"}
users:
  - {username: canbo, name: "Nguyễn Văn A", role: agency_operator, org: so, password: "mật khẩu đủ dài"}
systems:
  - org: so
    name: "Camera cổng"
    ranges: ["127.75.30.1-127.75.30.20"]
    authorisation: "Quyết định 1/QĐ"
    schedule: "FREQ=MONTHLY;BYDAY=1MO"
"""


def _counts(url: str) -> tuple[int, int]:
    p = Platform(url)
    with p.sessions() as s:
        n = (s.scalar(select(func.count()).select_from(Organisation)), s.scalar(select(func.count()).select_from(User)))
    p.close()
    return n


def test_admin_apply_user_grant_token_and_audit_verify(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    f = tmp_path / "province.yaml"
    f.write_text(YAML, encoding="utf-8")
    run = CliRunner().invoke
    r = run(main, ["admin", "--db", url, "apply", str(f)])
    assert r.exit_code == 0, r.output
    assert "organisations 2, users 1, systems 1, schedules 1" in r.output
    assert run(main, ["admin", "--db", url, "apply", str(f)]).exit_code == 0  # idempotent
    assert _counts(url) == (3, 1)  # local + 2
    r = run(main, ["admin", "--db", url, "user", "lanhdao", "--password", "một mật khẩu khác", "--grant",
                   "provincial_viewer@2"])
    assert r.exit_code == 0, r.output
    r = run(main, ["admin", "--db", url, "token", "lanhdao", "--scope", "finding:read"])
    assert r.exit_code == 0 and r.output.startswith("cam_")
    r = run(main, ["admin", "--db", url, "audit", "verify"])
    assert r.exit_code == 0 and "intact" in r.output
    p = Platform(url)
    with p.sessions() as s:
        assert s.scalar(select(func.count()).select_from(RoleGrant)) == 2
    with p.engine.begin() as c:  # tamper (the trigger dropped first, as a DBA could)
        c.execute(text("DROP TRIGGER audit_events_no_update"))
        c.execute(text("UPDATE audit_events SET after = '{}' WHERE seq = 3"))
    p.close()
    r = run(main, ["admin", "--db", url, "audit", "verify"])
    assert r.exit_code == 1 and "BROKEN" in r.output and "event 3" in r.output


def test_admin_bad_input_exits_2_and_changes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    run = CliRunner().invoke
    before = _counts(url)
    bad = tmp_path / "bad.yaml"
    for content in ("organisations: [ {name: 'x'", "- just\n- a list\n", "users: [{username: u, password: short}]",
                    "systems: [{org: nowhere, name: s, ranges: [127.75.30.0/28], authorisation: QĐ}]",
                    # valid organisations, then a bad user: all or nothing
                    "organisations: [{name: Tỉnh}]\nusers: [{username: u, password: short, role: admin, org: Tỉnh}]",
                    "organisations: [{name: Tỉnh}]\nusers: [7]"):
        bad.write_text(content, encoding="utf-8")
        r = run(main, ["admin", "--db", url, "apply", str(bad)])
        assert r.exit_code == 2, (content, r.output)
        assert r.output.startswith("error:")
    assert _counts(url) == before
    r = run(main, ["admin", "--db", url, "grant", "nobody", "admin", "1"])
    assert r.exit_code == 2 and "no user" in r.output
    r = run(main, ["admin", "--db", url, "org", "Con", "--parent", "999"])
    assert r.exit_code == 2 and "organisation" in r.output
    assert _counts(url) == before
