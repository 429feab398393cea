"""no-login-lockout against the lab, counted on the LAB side (attempts.json): never more
attempts than the check's login budget, and not one more after the first lockout sign."""

from __future__ import annotations

import pytest

from camaudit.checks.base import CheckContext, LoginBudget
from camaudit.checks.lockout import PROBE_USER, NoLoginLockout
from camaudit.knowledge import load_kb
from camaudit.model import DeviceKind, HostResult, Identity
from camaudit.protocols import http

from .conftest import addr

pytestmark = pytest.mark.lab
BUDGET = NoLoginLockout.meta.login_budget


def _count(lab, last: int, service: str) -> dict:
    entry = lab.attempts().get(addr(last), {}).get(service, {})
    return {k: entry.get(k, 0) for k in ("attempts", "failure", "locked")} | {
        "users": dict(entry.get("users", {}))}


async def _host(last: int, port: int, tls: bool, vendor: str) -> HostResult:
    obs = await http.probe(addr(last), port, tls=tls, timeout=3)
    return HostResult(addr(last), open_ports=[port], observations=obs,
                      identity=Identity(vendor=vendor, kind=DeviceKind.CAMERA))


async def _run(host: HostResult) -> tuple[list, LoginBudget]:
    budget = LoginBudget()
    ctx = CheckContext(timeout=3.0, kb=load_kb(), budget=budget)
    return await NoLoginLockout().run(host, ctx), budget


async def test_lockout_check_stops_at_the_secure_cameras_lock(lab):
    """axis-cam-secure: 5 failures within 30 s lock the source address."""
    before = _count(lab, 71, "https")
    host = await _host(71, 443, True, "Axis")
    findings, budget = await _run(host)
    after = _count(lab, 71, "https")
    sent = after["attempts"] - before["attempts"]
    locked = after["locked"] - before["locked"]
    assert findings == []
    assert budget.is_locked(addr(71), 443, "https")
    assert 1 <= sent <= BUDGET
    assert locked <= 1  # the first refusal ends it: nothing is sent after a lockout sign
    if before["locked"] == 0:  # not locked by an earlier test: the lab's threshold, then the sign
        # (the Axis lock answers 403 before any credential is sent, so the sign costs no attempt)
        assert after["failure"] - before["failure"] == 5 and sent == 5 + locked
    assert set(after["users"]) - set(before["users"]) <= {PROBE_USER}


async def test_lockout_check_spends_exactly_its_budget_without_a_lock(lab):
    """hik-cam-default: no lockout at all."""
    before = _count(lab, 11, "http")
    host = await _host(11, 80, False, "Hikvision")
    findings, budget = await _run(host)
    after = _count(lab, 11, "http")
    assert after["attempts"] - before["attempts"] == BUDGET
    assert after["failure"] - before["failure"] == BUDGET and after["locked"] == before["locked"]
    assert after["users"].get(PROBE_USER, 0) - before["users"].get(PROBE_USER, 0) == BUDGET
    [f] = findings
    assert f.evidence["attempts"] == BUDGET and budget.total(addr(11)) == BUDGET
